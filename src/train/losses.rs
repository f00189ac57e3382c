//! The training losses, on candle tensors: contrastive (the seed's formula), triplet (with
//! the seed tutorial's typo fixed: `max(0, ‖a−p‖² − ‖a−n‖² + m)`, FaceNet's form; the plain
//! distance form that the PyTorch anchor uses is an option), and a classification-style
//! additive-margin softmax (CosFace: normalised embeddings and class weights, logits
//! `s·(cos θ − m·[true class])`, cross-entropy).

use candle_core::{D, DType, Result, Tensor};

/// Keras' `epsilon()`, the floor under a squared distance before its square root.
pub const DISTANCE_EPS: f64 = 1e-7;

/// A loss and its parameters.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum LossConfig {
    /// `mean(y·d² + (1−y)·max(margin − d, 0)²)`, y = 1 for a same pair.
    Contrastive {
        /// The margin `m`.
        margin: f32,
    },
    /// `mean(max(0, d(a,p) − d(a,n) + margin))`, squared distances unless `squared` is false.
    Triplet {
        /// The margin `m`.
        margin: f32,
        /// Use squared distances (FaceNet), else plain distances.
        squared: bool,
    },
    /// Additive-margin softmax over the training classes.
    CosFace {
        /// The scale `s`.
        scale: f32,
        /// The margin `m` subtracted from the true class's cosine.
        margin: f32,
    },
}

impl LossConfig {
    /// The loss's short name.
    #[must_use]
    pub fn name(&self) -> &'static str {
        match self {
            Self::Contrastive { .. } => "contrastive",
            Self::Triplet { .. } => "triplet",
            Self::CosFace { .. } => "cosface",
        }
    }
}

/// Row-wise Euclidean distances `sqrt(max(Σ(a−b)², ε))` of `[N, D]` tensors: `[N]`.
pub fn pair_distance(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    squared_distance(a, b)?.maximum(DISTANCE_EPS)?.sqrt()
}

/// Row-wise squared Euclidean distances of `[N, D]` tensors: `[N]`.
pub fn squared_distance(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    (a - b)?.sqr()?.sum(D::Minus1)
}

/// The contrastive loss of distances `d` `[N]` and labels `same` `[N]` (1.0 or 0.0).
pub fn contrastive(d: &Tensor, same: &Tensor, margin: f32) -> Result<Tensor> {
    let pos = (same * d.sqr()?)?;
    let neg = ((1.0 - same)? * (f64::from(margin) - d)?.relu()?.sqr()?)?;
    (pos + neg)?.mean_all()
}

/// The triplet loss of anchor, positive and negative embeddings `[N, D]`.
pub fn triplet(a: &Tensor, p: &Tensor, n: &Tensor, margin: f32, squared: bool) -> Result<Tensor> {
    let (dap, dan) = if squared {
        (squared_distance(a, p)?, squared_distance(a, n)?)
    } else {
        (pair_distance(a, p)?, pair_distance(a, n)?)
    };
    ((dap - dan)? + f64::from(margin))?.relu()?.mean_all()
}

/// The additive-margin softmax loss of embeddings `[N, D]` with class `labels` `[N]` (u32)
/// against class weights `[C, D]`.
pub fn cosface(
    emb: &Tensor,
    labels: &Tensor,
    weights: &Tensor,
    scale: f32,
    margin: f32,
) -> Result<Tensor> {
    let normalize = |x: &Tensor| -> Result<Tensor> {
        x.broadcast_div(&(x.sqr()?.sum_keepdim(1)? + 1e-12)?.sqrt()?)
    };
    let cos = normalize(emb)?.matmul(&normalize(weights)?.t()?)?; // [N, C]
    let classes = weights.dim(0)?;
    let one_hot = labels
        .unsqueeze(1)?
        .broadcast_as((labels.dim(0)?, classes))?
        .eq(&Tensor::arange(0u32, classes as u32, labels.device())?
            .unsqueeze(0)?
            .broadcast_as((labels.dim(0)?, classes))?)?
        .to_dtype(DType::F32)?;
    let logits = ((cos - (one_hot * f64::from(margin))?)? * f64::from(scale))?;
    candle_nn::loss::cross_entropy(&logits, labels)
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    fn t(v: &[&[f32]]) -> Tensor {
        let rows: Vec<Vec<f32>> = v.iter().map(|r| r.to_vec()).collect();
        Tensor::new(rows, &Device::Cpu).unwrap()
    }

    fn scalar(x: &Tensor) -> f64 {
        f64::from(x.to_scalar::<f32>().unwrap())
    }

    // Reference values computed once in pure Python (math module only) by
    // `python3 tools/reference/losses.py`: contrastive = mean(y*d^2 + (1-y)*max(m-d, 0)^2) with
    // d = sqrt(max(sum sq, 1e-7)); triplet = mean(max(0, dap - dan + m)), squared or plain;
    // cosface = mean(logsumexp(lg) - lg[label]), lg_j = s*(cos(e, W_j) - m*[j == label]).
    #[test]
    fn contrastive_matches_the_reference() {
        let a = t(&[&[0.0, 0.0], &[1.0, 1.0], &[0.5, -0.5], &[2.0, 0.0]]);
        let b = t(&[&[0.3, 0.4], &[1.0, 1.5], &[0.5, -0.5], &[0.0, 1.0]]);
        let y = Tensor::new(&[1f32, 0., 1., 0.], &Device::Cpu).unwrap();
        let d = pair_distance(&a, &b).unwrap();
        assert!((scalar(&contrastive(&d, &y, 1.0).unwrap()) - 0.125_000_025).abs() < 1e-7);
        assert!((scalar(&contrastive(&d, &y, 2.0).unwrap()) - 0.625_000_025).abs() < 1e-6);
    }

    #[test]
    fn triplet_matches_the_reference() {
        let a = t(&[&[0.0, 0.0], &[1.0, 1.0], &[0.0, 1.0]]);
        let p = t(&[&[1.0, 0.0], &[1.0, 2.0], &[0.0, 1.5]]);
        let n = t(&[&[0.0, 2.0], &[0.5, 0.5], &[3.0, 1.0]]);
        let cases = [
            (0.2, true, 0.233_333_333_333_333_3),
            (0.2, false, 0.164_297_739_604_484_16),
            (1.0, true, 0.5),
            (1.0, false, 0.430_964_406_271_150_85),
        ];
        for (m, sq, want) in cases {
            let got = scalar(&triplet(&a, &p, &n, m, sq).unwrap());
            assert!(
                (got - want).abs() < 1e-6,
                "m={m} squared={sq}: {got} vs {want}"
            );
        }
    }

    #[test]
    fn cosface_matches_the_reference() {
        let e = t(&[&[1.0, 2.0, 0.0], &[0.0, -1.0, 1.0]]);
        let w = t(&[
            &[1.0, 0.0, 0.0],
            &[0.0, 1.0, 0.0],
            &[0.0, 0.0, 1.0],
            &[1.0, 1.0, 1.0],
        ]);
        let labels = Tensor::new(&[1u32, 3], &Device::Cpu).unwrap();
        let got = scalar(&cosface(&e, &labels, &w, 10.0, 0.2).unwrap());
        assert!((got - 5.135_197_385_251_959).abs() < 1e-5, "{got}");
        let got = scalar(&cosface(&e, &labels, &w, 30.0, 0.35).unwrap());
        assert!((got - 19.309_672_086_200_568).abs() < 1e-4, "{got}");
    }
}
