//! The enrolled embeddings of one class for one encoder, and 1:N matching against them.

use super::embedding::{Embedding, EmbeddingError, Metric, ModelId, dot, squared_l2};
use super::ids::StudentId;

/// One enrolled student and their distance to a probe.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Candidate {
    /// The enrolled student.
    pub student: StudentId,
    /// Distance to the probe under the gallery's metric (smaller = more alike).
    pub distance: f32,
}

/// The best matches for one probe face.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Ranking {
    /// The closest enrolled students, closest first (at most three).
    pub top: Vec<Candidate>,
}

impl Ranking {
    /// The closest student.
    #[must_use]
    pub fn best(&self) -> Option<Candidate> {
        self.top.first().copied()
    }

    /// The second closest student, if the gallery has two or more.
    #[must_use]
    pub fn runner_up(&self) -> Option<Candidate> {
        self.top.get(1).copied()
    }

    /// How much closer the best student is than the runner-up (infinite with one student).
    #[must_use]
    pub fn margin(&self) -> f32 {
        match (self.best(), self.runner_up()) {
            (Some(b), Some(r)) => r.distance - b.distance,
            _ => f32::INFINITY,
        }
    }
}

/// Errors from building or querying a gallery.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum GalleryError {
    /// An embedding from another encoder; comparing it would be meaningless.
    #[error("embedding from model {got} cannot be compared with a gallery of model {expected}")]
    ModelMismatch {
        /// The gallery's model.
        expected: ModelId,
        /// The embedding's model.
        got: ModelId,
    },
    /// A vector of the wrong size or with bad values.
    #[error(transparent)]
    Embedding(#[from] EmbeddingError),
}

/// Enrolled embeddings stored contiguously for fast scanning.
#[derive(Clone, Debug)]
pub struct Gallery {
    model_id: ModelId,
    metric: Metric,
    dim: usize,
    ids: Vec<StudentId>,
    // Row-major [len, dim]; rows are unit length under the cosine metric.
    rows: Vec<f32>,
}

impl Gallery {
    /// An empty gallery for embeddings of `model_id` with `dim` values.
    #[must_use]
    pub fn new(model_id: ModelId, metric: Metric, dim: usize) -> Self {
        Self {
            model_id,
            metric,
            dim,
            ids: Vec::new(),
            rows: Vec::new(),
        }
    }

    /// The model whose embeddings this gallery holds.
    #[must_use]
    pub fn model_id(&self) -> &ModelId {
        &self.model_id
    }

    /// The metric used for comparisons.
    #[must_use]
    pub fn metric(&self) -> Metric {
        self.metric
    }

    /// The number of enrolled students.
    #[must_use]
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// Whether nobody is enrolled.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// The enrolled students, in insertion order.
    #[must_use]
    pub fn students(&self) -> &[StudentId] {
        &self.ids
    }

    /// Adds (or replaces) the embedding of `student`.
    pub fn insert(
        &mut self,
        student: StudentId,
        embedding: &Embedding,
    ) -> Result<(), GalleryError> {
        self.check(embedding)?;
        let row = self.prepare(&embedding.values);
        if let Some(i) = self.ids.iter().position(|s| *s == student) {
            self.rows[i * self.dim..(i + 1) * self.dim].copy_from_slice(&row);
        } else {
            self.ids.push(student);
            self.rows.extend_from_slice(&row);
        }
        Ok(())
    }
    /// Ranks the enrolled students by distance to `probe` (the closest three). `None` when the
    /// gallery is empty.
    pub fn rank(&self, probe: &Embedding) -> Result<Option<Ranking>, GalleryError> {
        let top = self.rank_top(probe, 3)?;
        Ok((!top.is_empty()).then_some(Ranking { top }))
    }

    /// The `k` enrolled students closest to `probe`, closest first.
    pub fn rank_top(&self, probe: &Embedding, k: usize) -> Result<Vec<Candidate>, GalleryError> {
        self.check(probe)?;
        let probe = self.prepare(&probe.values);
        let mut top: Vec<Candidate> = Vec::with_capacity(k + 1);
        for (i, row) in self.rows.chunks_exact(self.dim).enumerate() {
            let distance = self.row_distance(&probe, row);
            if top.len() < k || top.last().is_some_and(|last| distance < last.distance) {
                let at = top.partition_point(|c| c.distance <= distance);
                top.insert(
                    at,
                    Candidate {
                        student: self.ids[i],
                        distance,
                    },
                );
                top.truncate(k);
            }
        }
        Ok(top)
    }

    /// Every pair of enrolled students with their distance: the impostor distribution used
    /// by calibration and the look-alike report.
    #[must_use]
    pub fn pairwise_distances(&self) -> Vec<(StudentId, StudentId, f32)> {
        let rows: Vec<&[f32]> = self.rows.chunks_exact(self.dim).collect();
        let mut out = Vec::with_capacity(rows.len() * rows.len().saturating_sub(1) / 2);
        for i in 0..rows.len() {
            for j in i + 1..rows.len() {
                out.push((
                    self.ids[i],
                    self.ids[j],
                    self.row_distance(rows[i], rows[j]),
                ));
            }
        }
        out
    }

    fn check(&self, embedding: &Embedding) -> Result<(), GalleryError> {
        if embedding.model_id != self.model_id {
            return Err(GalleryError::ModelMismatch {
                expected: self.model_id.clone(),
                got: embedding.model_id.clone(),
            });
        }
        if embedding.dim() != self.dim {
            return Err(EmbeddingError::WrongDimension {
                expected: self.dim,
                got: embedding.dim(),
            }
            .into());
        }
        Ok(())
    }

    fn prepare(&self, values: &[f32]) -> Vec<f32> {
        match self.metric {
            Metric::Euclidean => values.to_vec(),
            Metric::Cosine => {
                let norm = dot(values, values).sqrt();
                if norm > 0.0 {
                    values.iter().map(|v| v / norm).collect()
                } else {
                    values.to_vec()
                }
            }
        }
    }

    fn row_distance(&self, a: &[f32], b: &[f32]) -> f32 {
        match self.metric {
            Metric::Euclidean => squared_l2(a, b).sqrt(),
            Metric::Cosine => 1.0 - dot(a, b),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn emb(values: &[f32]) -> Embedding {
        Embedding::new(ModelId::new("m"), values.to_vec()).unwrap()
    }

    #[test]
    fn ranks_nearest_first_with_margin() {
        let mut g = Gallery::new(ModelId::new("m"), Metric::Euclidean, 2);
        g.insert(StudentId(1), &emb(&[0.0, 0.0])).unwrap();
        g.insert(StudentId(2), &emb(&[1.0, 0.0])).unwrap();
        g.insert(StudentId(3), &emb(&[0.0, 3.0])).unwrap();
        g.insert(StudentId(4), &emb(&[10.0, 10.0])).unwrap();
        let r = g.rank(&emb(&[0.2, 0.0])).unwrap().unwrap();
        assert_eq!(r.best().unwrap().student, StudentId(1));
        assert_eq!(r.runner_up().unwrap().student, StudentId(2));
        assert_eq!(r.top.len(), 3);
        assert!((r.margin() - 0.6).abs() < 1e-6);
    }

    #[test]
    fn replacing_an_embedding_keeps_one_row() {
        let mut g = Gallery::new(ModelId::new("m"), Metric::Euclidean, 2);
        g.insert(StudentId(1), &emb(&[0.0, 0.0])).unwrap();
        g.insert(StudentId(1), &emb(&[5.0, 5.0])).unwrap();
        assert_eq!(g.len(), 1);
        let r = g.rank(&emb(&[5.0, 5.0])).unwrap().unwrap();
        assert!(r.best().unwrap().distance < 1e-6);
        assert_eq!(r.margin(), f32::INFINITY);
    }

    #[test]
    fn other_models_and_sizes_are_refused() {
        let mut g = Gallery::new(ModelId::new("m"), Metric::Cosine, 2);
        let other = Embedding::new(ModelId::new("other"), vec![1.0, 0.0]).unwrap();
        assert!(matches!(
            g.insert(StudentId(1), &other),
            Err(GalleryError::ModelMismatch { .. })
        ));
        assert!(matches!(
            g.rank(&other),
            Err(GalleryError::ModelMismatch { .. })
        ));
        assert!(g.insert(StudentId(1), &emb(&[1.0, 0.0, 0.0])).is_err());
        assert_eq!(g.rank(&emb(&[1.0, 0.0])).unwrap(), None);
    }

    #[test]
    fn cosine_gallery_ignores_vector_length() {
        let mut g = Gallery::new(ModelId::new("m"), Metric::Cosine, 2);
        g.insert(StudentId(1), &emb(&[10.0, 0.0])).unwrap();
        g.insert(StudentId(2), &emb(&[0.0, 0.1])).unwrap();
        let r = g.rank(&emb(&[0.5, 0.01])).unwrap().unwrap();
        assert_eq!(r.best().unwrap().student, StudentId(1));
        let pairs = g.pairwise_distances();
        assert_eq!(pairs.len(), 1);
        assert!((pairs[0].2 - 1.0).abs() < 1e-6);
    }
}
