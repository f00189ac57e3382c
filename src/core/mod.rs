//! Pure domain logic: identifiers, embeddings, matching, roll-call rules, metrics and
//! calibration. Nothing here does I/O or names egui, candle, rusqlite or nokhwa, so every
//! decision the app makes is tested in milliseconds.

pub mod attendance;
pub mod calibration;
pub mod decision;
pub mod embedding;
pub mod gallery;
pub mod geometry;
pub mod ids;
pub mod metrics;
pub mod quality;
pub mod rng;
pub mod rollcall;
pub mod tracker;

pub use attendance::{MarkSource, Status};
pub use embedding::{Embedding, EmbeddingError, Metric, ModelId};
pub use gallery::{Candidate, Gallery, Ranking};
pub use geometry::{BBox, Point};
pub use ids::{ClassId, ReviewId, SessionId, StudentId};
