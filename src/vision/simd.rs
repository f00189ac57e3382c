//! Run-time choice of vector width for the vision layer's own loops. The crate is compiled for
//! baseline x86-64 (SSE2), so that it runs on every school laptop; the kernels that matter are
//! compiled again for AVX-512 and AVX2 and picked here once the CPU has been asked what it has.

/// The vector width the CPU offers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Wide {
    /// AVX-512 (foundation).
    Avx512,
    /// AVX2.
    Avx2,
    /// Whatever the crate was compiled for.
    Baseline,
}

/// The widest vectors this CPU has, asked once (the answer is cached by the standard
/// library's feature detection).
#[must_use]
pub fn wide_vectors() -> Wide {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f") {
            return Wide::Avx512;
        }
        if std::arch::is_x86_feature_detected!("avx2") {
            return Wide::Avx2;
        }
    }
    Wide::Baseline
}

/// A piece of work to compile once per vector width: its `run` is marked
/// `#[inline(always)]`, so it is built into each of [`widest`]'s copies whatever its size (a
/// closure would be inlined only while it stays small).
pub trait Kernel {
    /// What the work gives back.
    type Output;
    /// Does the work.
    fn run(self) -> Self::Output;
}

/// Runs `kernel` compiled for the widest vectors the CPU has, so that its loops vectorise 16
/// or 8 floats at a time rather than 4. Multiply and add stay separate operations (no fused
/// multiply-add is enabled), so every width gives the same bits.
#[inline]
pub fn widest<K: Kernel>(kernel: K) -> K::Output {
    at_most(Wide::Avx512, kernel)
}

/// Runs `kernel` compiled for `wide`, or for the widest vectors below it when the CPU lacks
/// them: tests use it to check every width against the others.
#[inline]
pub fn at_most<K: Kernel>(wide: Wide, kernel: K) -> K::Output {
    let rank = |w: Wide| match w {
        Wide::Avx512 => 2,
        Wide::Avx2 => 1,
        Wide::Baseline => 0,
    };
    let have = wide_vectors();
    let chosen = if rank(wide) < rank(have) { wide } else { have };
    #[cfg(target_arch = "x86_64")]
    {
        // SAFETY: `chosen` is never wider than what `wide_vectors` found at run time, so this
        // CPU has the features each function is compiled for; the functions only run the
        // kernel.
        #[allow(unsafe_code)]
        match chosen {
            Wide::Avx512 => return unsafe { on_avx512(kernel) },
            Wide::Avx2 => return unsafe { on_avx2(kernel) },
            Wide::Baseline => {}
        }
    }
    let _ = chosen;
    kernel.run()
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
fn on_avx512<K: Kernel>(kernel: K) -> K::Output {
    kernel.run()
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn on_avx2<K: Kernel>(kernel: K) -> K::Output {
    kernel.run()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Sums `1/(i+1)` in 16 lanes, the kind of loop that vectorises differently per width.
    struct HarmonicSum(usize);

    impl Kernel for HarmonicSum {
        type Output = f32;
        #[allow(clippy::inline_always)]
        #[inline(always)]
        fn run(self) -> f32 {
            let mut lanes = [0f32; 16];
            for i in 0..self.0 {
                lanes[i % 16] += 1.0 / (i as f32 + 1.0);
            }
            lanes.iter().sum()
        }
    }

    #[test]
    fn every_width_gives_the_same_bits() {
        let want = HarmonicSum(10_000).run();
        for wide in [Wide::Baseline, Wide::Avx2, Wide::Avx512] {
            assert_eq!(at_most(wide, HarmonicSum(10_000)).to_bits(), want.to_bits());
        }
        assert_eq!(widest(HarmonicSum(10_000)).to_bits(), want.to_bits());
    }
}
