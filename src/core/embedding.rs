//! Embeddings (face or digit vectors tagged with the model that made them) and the metrics
//! that compare them. Every metric is turned into a distance: smaller means more alike.

use std::fmt;
use std::str::FromStr;

/// Identifies the encoder (architecture + weights) that produced an embedding. Embeddings
/// from different model ids are never compared.
#[derive(
    Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
pub struct ModelId(pub String);

impl ModelId {
    /// Wraps a model id string.
    #[must_use]
    pub fn new(id: impl Into<String>) -> Self {
        Self(id.into())
    }

    /// The id as text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ModelId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// How two embeddings are compared.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Metric {
    /// Euclidean (L2) distance, as dlib and the seed tutorial use.
    Euclidean,
    /// Cosine distance, `1 - cos(a, b)`, in `[0, 2]`.
    Cosine,
}

impl Metric {
    /// The lowercase name stored in the database and in model cards.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Euclidean => "euclidean",
            Self::Cosine => "cosine",
        }
    }

    /// The distance between `a` and `b` (smaller = more alike). Vectors of different length
    /// are compared over their common prefix; callers check dimensions first.
    #[must_use]
    pub fn distance(self, a: &[f32], b: &[f32]) -> f32 {
        match self {
            Self::Euclidean => squared_l2(a, b).sqrt(),
            Self::Cosine => {
                let (na, nb) = (dot(a, a).sqrt(), dot(b, b).sqrt());
                if na == 0.0 || nb == 0.0 {
                    return 1.0;
                }
                1.0 - dot(a, b) / (na * nb)
            }
        }
    }
}

impl fmt::Display for Metric {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Metric {
    type Err = EmbeddingError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "euclidean" | "l2" => Ok(Self::Euclidean),
            "cosine" => Ok(Self::Cosine),
            _ => Err(EmbeddingError::UnknownMetric(s.to_owned())),
        }
    }
}

/// Dot product, written so the compiler vectorises it (see [`sum_of_terms`]).
#[must_use]
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    sum_of_terms(a, b, |x, y| x * y)
}

/// Squared Euclidean distance, vectorised like [`dot`].
#[must_use]
pub fn squared_l2(a: &[f32], b: &[f32]) -> f32 {
    sum_of_terms(a, b, |x, y| (x - y) * (x - y))
}

/// Σ term(aᵢ, bᵢ) with eight independent accumulators, so the compiler vectorises the loop.
#[inline]
fn sum_of_terms(a: &[f32], b: &[f32], term: impl Fn(f32, f32) -> f32) -> f32 {
    let mut acc = [0.0f32; 8];
    let chunks_a = a.chunks_exact(8);
    let chunks_b = b.chunks_exact(8);
    let (rest_a, rest_b) = (chunks_a.remainder(), chunks_b.remainder());
    for (ca, cb) in chunks_a.zip(chunks_b) {
        for i in 0..8 {
            acc[i] += term(ca[i], cb[i]);
        }
    }
    let tail: f32 = rest_a.iter().zip(rest_b).map(|(&x, &y)| term(x, y)).sum();
    acc.iter().sum::<f32>() + tail
}

/// Errors from decoding or comparing embeddings.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum EmbeddingError {
    /// A stored vector whose byte length is not a multiple of four.
    #[error("embedding blob has {0} bytes, which is not a whole number of f32 values")]
    BadBlobLength(usize),
    /// A vector that contains NaN or infinity.
    #[error("embedding contains a value that is not finite")]
    NotFinite,
    /// A metric name that is not known.
    #[error("unknown metric {0:?} (expected euclidean or cosine)")]
    UnknownMetric(String),
    /// Two vectors of different length.
    #[error("embedding has {got} values but the model makes {expected}")]
    WrongDimension {
        /// The model's dimension.
        expected: usize,
        /// The vector's length.
        got: usize,
    },
}

/// A vector tagged with the model that produced it.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Embedding {
    /// The encoder that made this vector.
    pub model_id: ModelId,
    /// The values.
    pub values: Vec<f32>,
}

impl Embedding {
    /// Creates an embedding, refusing NaN or infinite values.
    pub fn new(model_id: ModelId, values: Vec<f32>) -> Result<Self, EmbeddingError> {
        if values.iter().any(|v| !v.is_finite()) {
            return Err(EmbeddingError::NotFinite);
        }
        Ok(Self { model_id, values })
    }

    /// The vector as little-endian f32 bytes, the database format.
    #[must_use]
    pub fn to_le_bytes(&self) -> Vec<u8> {
        self.values.iter().flat_map(|v| v.to_le_bytes()).collect()
    }

    /// Decodes little-endian f32 bytes written by [`Embedding::to_le_bytes`].
    pub fn from_le_bytes(model_id: ModelId, bytes: &[u8]) -> Result<Self, EmbeddingError> {
        if !bytes.len().is_multiple_of(4) {
            return Err(EmbeddingError::BadBlobLength(bytes.len()));
        }
        let values = bytes
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        Self::new(model_id, values)
    }

    /// The number of values.
    #[must_use]
    pub fn dim(&self) -> usize {
        self.values.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_round_trip_exactly() {
        let e = Embedding::new(ModelId::new("m"), vec![0.0, -1.5, 3.25e-7, f32::MAX]).unwrap();
        let bytes = e.to_le_bytes();
        assert_eq!(bytes.len(), 16);
        assert_eq!(&bytes[4..8], &(-1.5f32).to_le_bytes());
        assert_eq!(
            Embedding::from_le_bytes(ModelId::new("m"), &bytes).unwrap(),
            e
        );
    }

    #[test]
    fn bad_blobs_are_errors() {
        assert_eq!(
            Embedding::from_le_bytes(ModelId::new("m"), &[0, 0, 0]),
            Err(EmbeddingError::BadBlobLength(3))
        );
        let nan = f32::NAN.to_le_bytes();
        assert_eq!(
            Embedding::from_le_bytes(ModelId::new("m"), &nan),
            Err(EmbeddingError::NotFinite)
        );
    }

    #[test]
    fn distances_match_hand_computed_values() {
        // 3-4-5 triangle, and a length that exercises both the 8-wide body and the tail.
        assert!((Metric::Euclidean.distance(&[0.0, 0.0], &[3.0, 4.0]) - 5.0).abs() < 1e-6);
        let a: Vec<f32> = (0..11).map(|i| i as f32).collect();
        let b: Vec<f32> = (0..11).map(|i| i as f32 + 1.0).collect();
        assert!((squared_l2(&a, &b) - 11.0).abs() < 1e-5);
        assert!((dot(&a, &a) - 385.0).abs() < 1e-3);
        // Cosine: orthogonal = 1, same direction = 0, opposite = 2, zero vector = 1.
        assert!((Metric::Cosine.distance(&[1.0, 0.0], &[0.0, 2.0]) - 1.0).abs() < 1e-6);
        assert!(Metric::Cosine.distance(&[1.0, 1.0], &[2.0, 2.0]).abs() < 1e-6);
        assert!((Metric::Cosine.distance(&[1.0, 0.0], &[-1.0, 0.0]) - 2.0).abs() < 1e-6);
        assert!((Metric::Cosine.distance(&[0.0, 0.0], &[1.0, 0.0]) - 1.0).abs() < 1e-6);
    }

    #[test]
    fn metric_names_parse() {
        assert_eq!("euclidean".parse::<Metric>().unwrap(), Metric::Euclidean);
        assert_eq!("Cosine".parse::<Metric>().unwrap(), Metric::Cosine);
        assert!("manhattan".parse::<Metric>().is_err());
    }
}
