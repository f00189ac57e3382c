//! The element-wise parts of a convolution block, in plain loops over rows: bias and `PReLU`,
//! and max pooling with PyTorch's `ceil_mode=True` done as a max (or min) across each row then
//! down each column.

/// The output length of a ceil-mode pooling of `n` cells (every window starts inside because
/// the stride never exceeds the kernel).
pub(super) fn pooled_len(n: usize, kernel: usize, stride: usize) -> usize {
    (n - kernel).div_ceil(stride) + 1
}

/// `PReLU` with slope `alpha` as PyTorch computes it (`v > 0 ? v : a * v`), written without a
/// branch (`max(v, 0) + a * min(v, 0)`, the same value) because the signs are random and a
/// branch would be mispredicted half the time; no slope is the identity.
pub(super) fn prelu(v: f32, alpha: Option<f32>) -> f32 {
    match alpha {
        Some(a) => v.max(0.0) + a * v.min(0.0),
        None => v,
    }
}

/// Bias, then `PReLU`, on one row.
pub(super) fn activate(src: &[f32], dst: &mut [f32], bias: f32, alpha: Option<f32>) {
    match alpha {
        Some(a) => {
            for (d, &v) in dst.iter_mut().zip(src) {
                *d = prelu(v + bias, Some(a));
            }
        }
        None => {
            for (d, &v) in dst.iter_mut().zip(src) {
                *d = v + bias;
            }
        }
    }
}

/// `pick` (max or min) over each pooling window of one row; a last window past the end takes
/// what is inside. Generic over `pick` so it is inlined: these loops run once per activation.
pub(super) fn pool_row(
    src: &[f32],
    dst: &mut [f32],
    (kernel, stride): (usize, usize),
    pick: impl Fn(f32, f32) -> f32,
) {
    match (kernel, stride) {
        (2, 2) => {
            let pairs = src.chunks_exact(2);
            if let (Some(d), [last]) = (dst.get_mut(pairs.len()), pairs.remainder()) {
                *d = *last;
            }
            for (d, p) in dst.iter_mut().zip(pairs) {
                *d = pick(p[0], p[1]);
            }
        }
        (3, 2) => {
            // Window i is [2i, 2i + 3): the previous window's last value and the next pair.
            let Some((&first, rest)) = src.split_first() else {
                return;
            };
            let pairs = rest.chunks_exact(2);
            let (full, tail) = (pairs.len(), pairs.remainder());
            let mut prev = first;
            for (d, p) in dst.iter_mut().zip(pairs) {
                *d = pick(pick(prev, p[0]), p[1]);
                prev = p[1];
            }
            if let (Some(d), [last]) = (dst.get_mut(full), tail) {
                *d = pick(prev, *last);
            }
        }
        _ => {
            for (i, d) in dst.iter_mut().enumerate() {
                let start = i * stride;
                let window = &src[start..(start + kernel).min(src.len())];
                *d = window[1..].iter().fold(window[0], |m, &v| pick(m, v));
            }
        }
    }
}

/// `pick` (max or min) of each column over consecutive rows of `dst.len()` values.
pub(super) fn pool_column(rows: &[f32], dst: &mut [f32], pick: impl Fn(f32, f32) -> f32) {
    let pw = dst.len();
    dst.copy_from_slice(&rows[..pw]);
    for row in rows.chunks_exact(pw).skip(1) {
        for (d, &v) in dst.iter_mut().zip(row) {
            *d = pick(*d, v);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pooling_rows_keeps_the_partial_last_window() {
        let src = [1.0, 5.0, 2.0, 4.0, 3.0];
        let mut two = [0.0; 3];
        pool_row(&src, &mut two, (2, 2), f32::max);
        assert_eq!(two, [5.0, 4.0, 3.0]);
        pool_row(&src, &mut two, (2, 2), f32::min);
        assert_eq!(two, [1.0, 2.0, 3.0]);
        let mut three = [0.0; 2];
        assert_eq!(pooled_len(5, 3, 2), 2);
        pool_row(&src, &mut three, (3, 2), f32::max);
        assert_eq!(three, [5.0, 4.0]);
        pool_row(&src[..4], &mut three, (3, 2), f32::min);
        assert_eq!(three, [1.0, 2.0]);
        // The 3 x 3 / 2 path against plain windows, on odd and even lengths.
        let long: Vec<f32> = (0..23).map(|i| ((i * 7) % 11) as f32).collect();
        for len in [3, 4, 9, 10, 22, 23] {
            let mut fast = vec![0.0; pooled_len(len, 3, 2)];
            pool_row(&long[..len], &mut fast, (3, 2), f32::max);
            let plain: Vec<f32> = (0..fast.len())
                .map(|i| {
                    long[2 * i..(2 * i + 3).min(len)]
                        .iter()
                        .copied()
                        .fold(f32::MIN, f32::max)
                })
                .collect();
            assert_eq!(fast, plain, "length {len}");
        }
        // R-Net's pools: 22 -> 11 and 9 -> 4; P-Net's on an odd side: 287 -> 144.
        assert_eq!(pooled_len(22, 3, 2), 11);
        assert_eq!(pooled_len(9, 3, 2), 4);
        assert_eq!(pooled_len(287, 2, 2), 144);
    }
}
