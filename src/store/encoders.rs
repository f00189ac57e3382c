//! The registry of face encoders: which models exist, their metric and default threshold, and
//! which one attendance uses.

use super::db::{OptionalExtension as _, params};

use super::{Result, Store, StoreError};
use crate::core::{Metric, ModelId};

/// A registered encoder.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct EncoderRow {
    /// Model id that tags every embedding it makes.
    pub id: ModelId,
    /// Human-readable name.
    pub name: String,
    /// Model folder, or `builtin:<name>` for a bundled model.
    pub path: String,
    /// How its embeddings are compared.
    pub metric: Metric,
    /// Embedding size.
    pub dim: usize,
    /// The model card's recommended distance threshold.
    pub default_threshold: f32,
    /// The recommended margin between best and second-best match.
    pub default_margin: f32,
    /// Whether attendance uses this encoder.
    pub is_active: bool,
}

const SELECT: &str = "SELECT id, name, path, metric, dim, default_threshold, default_margin, is_active FROM encoders";

fn row(r: &super::db::Row) -> super::db::DbResult<EncoderRow> {
    let metric: String = r.get(3)?;
    Ok(EncoderRow {
        id: ModelId(r.get(0)?),
        name: r.get(1)?,
        path: r.get(2)?,
        metric: metric.parse().unwrap_or(Metric::Euclidean),
        dim: r.get::<_, i64>(4)?.max(0) as usize,
        default_threshold: r.get::<_, f64>(5)? as f32,
        default_margin: r.get::<_, f64>(6)? as f32,
        is_active: r.get(7)?,
    })
}

impl Store {
    /// Registers an encoder, or updates its description if the id is known. The active flag
    /// is left as it was.
    pub fn register_encoder(&self, e: &EncoderRow) -> Result<()> {
        if !(e.default_threshold.is_finite() && e.default_threshold > 0.0) || e.dim == 0 {
            return Err(StoreError::Invalid(format!(
                "encoder {} has an invalid threshold or dimension",
                e.id
            )));
        }
        self.db().execute(
            "INSERT INTO encoders (id, name, path, metric, dim, default_threshold, default_margin, created_ms)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
             ON CONFLICT (id) DO UPDATE SET name = excluded.name, path = excluded.path,
               metric = excluded.metric, dim = excluded.dim,
               default_threshold = excluded.default_threshold, default_margin = excluded.default_margin",
            params![
                e.id.as_str(),
                e.name,
                e.path,
                e.metric.as_str(),
                e.dim as i64,
                f64::from(e.default_threshold),
                f64::from(e.default_margin.max(0.0)),
                self.now_ms()
            ],
        )?;
        Ok(())
    }

    /// All registered encoders, active first.
    pub fn list_encoders(&self) -> Result<Vec<EncoderRow>> {
        Ok(self.db().query_map(
            &format!("{SELECT} ORDER BY is_active DESC, created_ms, id"),
            [],
            row,
        )?)
    }

    /// One encoder by id.
    pub fn encoder(&self, id: &ModelId) -> Result<EncoderRow> {
        self.db()
            .query_row(&format!("{SELECT} WHERE id = ?1"), [id.as_str()], row)
            .optional()?
            .ok_or_else(|| StoreError::NotFound {
                what: "encoder",
                key: id.to_string(),
            })
    }

    /// The encoder attendance uses, if one is set.
    pub fn active_encoder(&self) -> Result<Option<EncoderRow>> {
        Ok(self
            .db()
            .query_row(&format!("{SELECT} WHERE is_active = 1"), [], row)
            .optional()?)
    }

    /// Makes `id` the encoder attendance uses (logged).
    pub fn set_active_encoder(&self, id: &ModelId) -> Result<()> {
        self.encoder(id)?;
        let now = self.now_ms();
        let actor = self.actor();
        self.in_transaction(|tx| {
            tx.execute("UPDATE encoders SET is_active = 0 WHERE is_active = 1", [])?;
            tx.execute("UPDATE encoders SET is_active = 1 WHERE id = ?1", [id.as_str()])?;
            tx.execute(
                "INSERT INTO audit_log (at_ms, actor, action, details) VALUES (?1, ?3, 'encoder_activated', ?2)",
                params![now, id.as_str(), actor],
            )?;
            Ok(())
        })
    }
}
