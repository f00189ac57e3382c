//! Deterministic weight initialisation: a candle `VarBuilder` backend that creates each
//! variable from a small seeded generator keyed by (seed, variable name), so a model's
//! initial weights depend only on the seed, never on thread timing or creation order.

use candle_core::{DType, Device, Result, Shape, Tensor, Var};
use candle_nn::{Init, VarMap};

/// SplitMix64: a tiny, well-mixed 64-bit generator (Steele et al. 2014). Used for weights,
/// shuffles and augmentation (the seed tutorial's pair draws use a Python-compatible
/// Mersenne Twister in the train layer instead).
#[derive(Clone, Debug)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    /// A generator from a seed.
    #[must_use]
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A uniform float in `[0, 1)`.
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// A uniform integer in `0..n` (`n > 0`), without modulo bias worth noticing for n ≪ 2⁶⁴.
    pub fn below(&mut self, n: usize) -> usize {
        ((u128::from(self.next_u64()) * n as u128) >> 64) as usize
    }

    /// A standard normal sample (Box–Muller).
    pub fn normal(&mut self) -> f64 {
        let u1 = self.next_f64().max(1e-300);
        let u2 = self.next_f64();
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }

    /// Shuffles a slice in place (Fisher–Yates).
    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            items.swap(i, self.below(i + 1));
        }
    }
}

/// FNV-1a of a name, to key a variable's generator.
fn name_hash(name: &str) -> u64 {
    name.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// A `VarBuilder` backend over a [`VarMap`] that initialises missing variables from the seed.
pub struct SeededInit {
    varmap: VarMap,
    seed: u64,
}

impl SeededInit {
    /// Wraps `varmap`; new variables are drawn with `seed`.
    #[must_use]
    pub fn new(varmap: VarMap, seed: u64) -> Self {
        Self { varmap, seed }
    }

    fn draw(&self, shape: &Shape, name: &str, init: Init, dev: &Device) -> Result<Tensor> {
        let n = shape.elem_count();
        let mut rng = SplitMix64::new(self.seed ^ name_hash(name));
        let values: Vec<f32> = match init {
            Init::Const(v) => vec![v as f32; n],
            Init::Uniform { lo, up } => (0..n)
                .map(|_| (lo + (up - lo) * rng.next_f64()) as f32)
                .collect(),
            Init::Randn { mean, stdev } => (0..n)
                .map(|_| (mean + stdev * rng.normal()) as f32)
                .collect(),
            Init::Kaiming { .. } => {
                candle_core::bail!("{name}: give an explicit Uniform or Randn init")
            }
        };
        Tensor::from_vec(values, shape.clone(), dev)
    }
}

impl candle_nn::var_builder::SimpleBackend for SeededInit {
    fn get(&self, s: Shape, name: &str, h: Init, dtype: DType, dev: &Device) -> Result<Tensor> {
        let mut data = self
            .varmap
            .data()
            .lock()
            .map_err(|_| candle_core::Error::Msg("var map lock poisoned".into()))?;
        if let Some(var) = data.get(name) {
            if var.shape() != &s {
                candle_core::bail!("{name}: shape {:?} but {s:?} was asked for", var.shape())
            }
            return Ok(var.as_tensor().clone());
        }
        let var = Var::from_tensor(&self.draw(&s, name, h, dev)?.to_dtype(dtype)?)?;
        let tensor = var.as_tensor().clone();
        data.insert(name.to_owned(), var);
        Ok(tensor)
    }

    fn get_unchecked(&self, name: &str, _dtype: DType, _dev: &Device) -> Result<Tensor> {
        let data = self
            .varmap
            .data()
            .lock()
            .map_err(|_| candle_core::Error::Msg("var map lock poisoned".into()))?;
        data.get(name)
            .map(|v| v.as_tensor().clone())
            .ok_or_else(|| {
                candle_core::Error::CannotFindTensor {
                    path: name.to_owned(),
                }
                .bt()
            })
    }

    fn contains_tensor(&self, name: &str) -> bool {
        self.varmap
            .data()
            .lock()
            .is_ok_and(|d| d.contains_key(name))
    }
}

/// A `VarBuilder` that creates missing variables in `varmap`, seeded by `seed`.
#[must_use]
pub fn seeded_var_builder(varmap: &VarMap, seed: u64) -> candle_nn::VarBuilder<'static> {
    candle_nn::VarBuilder::from_backend(
        Box::new(SeededInit::new(varmap.clone(), seed)),
        DType::F32,
        Device::Cpu,
    )
}

/// Glorot (Xavier) uniform bounds, Keras' default for Conv2D and Dense weights.
#[must_use]
pub fn glorot(fan_in: usize, fan_out: usize) -> Init {
    let limit = (6.0 / (fan_in + fan_out) as f64).sqrt();
    Init::Uniform {
        lo: -limit,
        up: limit,
    }
}

/// He (Kaiming) normal init for ReLU layers: `N(0, 2 / fan_in)`.
#[must_use]
pub fn he_normal(fan_in: usize) -> Init {
    Init::Randn {
        mean: 0.0,
        stdev: (2.0 / fan_in as f64).sqrt(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_weights_and_names_are_independent() {
        let a = VarMap::new();
        let b = VarMap::new();
        let va = seeded_var_builder(&a, 7);
        let vb = seeded_var_builder(&b, 7);
        // Created in opposite orders: still identical.
        let a1 = va.get_with_hints((3, 4), "x", glorot(4, 3)).unwrap();
        let a2 = va.get_with_hints(5, "y", he_normal(5)).unwrap();
        let b2 = vb.get_with_hints(5, "y", he_normal(5)).unwrap();
        let b1 = vb.get_with_hints((3, 4), "x", glorot(4, 3)).unwrap();
        assert_eq!(a1.to_vec2::<f32>().unwrap(), b1.to_vec2::<f32>().unwrap());
        assert_eq!(a2.to_vec1::<f32>().unwrap(), b2.to_vec1::<f32>().unwrap());
        let c = seeded_var_builder(&VarMap::new(), 8)
            .get_with_hints((3, 4), "x", glorot(4, 3))
            .unwrap();
        assert_ne!(a1.to_vec2::<f32>().unwrap(), c.to_vec2::<f32>().unwrap());
        let limit = (6.0f32 / 7.0).sqrt();
        assert!(
            a1.flatten_all()
                .unwrap()
                .to_vec1::<f32>()
                .unwrap()
                .iter()
                .all(|v| v.abs() <= limit)
        );
        assert_eq!(a.all_vars().len(), 2);
    }

    #[test]
    fn splitmix_is_reproducible() {
        // First outputs of SplitMix64 seeded with 0 (the reference values of Vigna's C code).
        let mut r = SplitMix64::new(0);
        assert_eq!(r.next_u64(), 0xE220_A839_7B1D_CDAF);
        assert_eq!(r.next_u64(), 0x6E78_9E6A_A1B9_65F4);
        let mut v: Vec<u32> = (0..10).collect();
        SplitMix64::new(3).shuffle(&mut v);
        let mut sorted = v.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, (0..10).collect::<Vec<_>>());
    }
}
