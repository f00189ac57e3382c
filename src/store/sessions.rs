//! Sessions: one meeting of a class, with the encoder and thresholds in force.

use super::db::{OptionalExtension as _, params};

use super::{Result, Store, StoreError};
use crate::core::{ClassId, ModelId, SessionId};

/// A session as listed.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct SessionRow {
    /// Database id.
    pub id: SessionId,
    /// The class.
    pub class_id: ClassId,
    /// The class's name.
    pub class_name: String,
    /// Start time.
    pub started_ms: i64,
    /// End time (`None` while open).
    pub ended_ms: Option<i64>,
    /// Encoder used for automatic marks.
    pub model_id: Option<ModelId>,
    /// Distance threshold in force.
    pub threshold: Option<f32>,
    /// Margin in force.
    pub margin: Option<f32>,
    /// Minutes after the start after which arrivals are late.
    pub late_after_minutes: u32,
    /// Students with a mark.
    pub mark_count: usize,
}

/// The recognition settings recorded with a new session.
#[derive(Clone, Debug, PartialEq)]
pub struct SessionSettings {
    /// The encoder.
    pub model_id: ModelId,
    /// Distance threshold.
    pub threshold: f32,
    /// Margin.
    pub margin: f32,
}

const SELECT: &str =
    "SELECT x.id, x.class_id, c.name, x.started_ms, x.ended_ms, x.model_id, x.threshold,
        x.margin, x.late_after_minutes, (SELECT count(*) FROM marks k WHERE k.session_id = x.id)
     FROM sessions x JOIN classes c ON c.id = x.class_id";

fn row(r: &super::db::Row) -> super::db::DbResult<SessionRow> {
    Ok(SessionRow {
        id: SessionId(r.get(0)?),
        class_id: ClassId(r.get(1)?),
        class_name: r.get(2)?,
        started_ms: r.get(3)?,
        ended_ms: r.get(4)?,
        model_id: r.get::<_, Option<String>>(5)?.map(ModelId),
        threshold: r.get::<_, Option<f64>>(6)?.map(|v| v as f32),
        margin: r.get::<_, Option<f64>>(7)?.map(|v| v as f32),
        late_after_minutes: r.get::<_, i64>(8)?.clamp(0, i64::from(u32::MAX)) as u32,
        mark_count: r.get::<_, i64>(9)?.max(0) as usize,
    })
}

impl Store {
    /// Session `id`, which must belong to `class`.
    pub fn session_in_class(&self, id: SessionId, class: &super::ClassRow) -> Result<SessionRow> {
        let s = self.session(id)?;
        if s.class_id != class.id {
            return Err(StoreError::Invalid(format!(
                "session #{id} belongs to class {}, not {}",
                s.class_name, class.name
            )));
        }
        Ok(s)
    }

    /// The recognition settings for `class` with `encoder`: the class's threshold override or the
    /// encoder's default threshold, and the margin from the settings or the encoder's default.
    /// The live engine, new sessions, calibration and the look-alike warnings all use these.
    pub fn operating_point(
        &self,
        class: &super::ClassRow,
        encoder: &super::EncoderRow,
    ) -> Result<SessionSettings> {
        Ok(SessionSettings {
            model_id: encoder.id.clone(),
            threshold: class
                .threshold_override
                .unwrap_or(encoder.default_threshold),
            margin: self
                .settings()?
                .min_margin
                .unwrap_or(encoder.default_margin),
        })
    }

    /// Starts a session of `class` now. A class has at most one open session.
    pub fn start_session(
        &self,
        class: ClassId,
        settings: Option<&SessionSettings>,
    ) -> Result<SessionId> {
        let c = self.class(class)?;
        if let Some(open) = self.open_session(class)? {
            return Err(StoreError::Invalid(format!(
                "class {} already has an open session (#{}); stop it first",
                c.name, open.id
            )));
        }
        let id = self.db().query_row(
            "INSERT INTO sessions (class_id, started_ms, model_id, threshold, margin, late_after_minutes)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6) RETURNING id",
            params![
                class.0,
                self.now_ms(),
                settings.map(|s| s.model_id.as_str().to_owned()),
                settings.map(|s| f64::from(s.threshold)),
                settings.map(|s| f64::from(s.margin)),
                c.late_after_minutes
            ],
            |r| r.get(0),
        )?;
        Ok(SessionId(id))
    }

    /// Records the encoder settings of a session (when the first automatic marking starts).
    pub fn set_session_settings(
        &self,
        session: SessionId,
        settings: &SessionSettings,
    ) -> Result<()> {
        self.db().execute(
            "UPDATE sessions SET model_id = ?2, threshold = ?3, margin = ?4 WHERE id = ?1",
            params![
                session.0,
                settings.model_id.as_str(),
                f64::from(settings.threshold),
                f64::from(settings.margin)
            ],
        )?;
        Ok(())
    }

    /// Stops an open session now.
    pub fn stop_session(&self, session: SessionId) -> Result<SessionRow> {
        let s = self.session(session)?;
        if s.ended_ms.is_some() {
            return Err(StoreError::Invalid(format!(
                "session #{session} is already stopped"
            )));
        }
        let end = self.now_ms().max(s.started_ms);
        self.db().execute(
            "UPDATE sessions SET ended_ms = ?2 WHERE id = ?1",
            params![session.0, end],
        )?;
        self.session(session)
    }

    /// The open session of `class`, if any.
    pub fn open_session(&self, class: ClassId) -> Result<Option<SessionRow>> {
        Ok(self
            .db()
            .query_row(
                &format!("{SELECT} WHERE x.class_id = ?1 AND x.ended_ms IS NULL"),
                [class.0],
                row,
            )
            .optional()?)
    }

    /// A session by id.
    pub fn session(&self, id: SessionId) -> Result<SessionRow> {
        self.db()
            .query_row(&format!("{SELECT} WHERE x.id = ?1"), [id.0], row)
            .optional()?
            .ok_or_else(|| StoreError::NotFound {
                what: "session",
                key: id.to_string(),
            })
    }

    /// Sessions, newest first, of one class or all, started within `[from_ms, to_ms)`.
    pub fn list_sessions(
        &self,
        class: Option<ClassId>,
        from_ms: Option<i64>,
        to_ms: Option<i64>,
    ) -> Result<Vec<SessionRow>> {
        Ok(self.db().query_map(
            &format!(
            "{SELECT} WHERE (CAST(?1 AS BIGINT) IS NULL OR x.class_id = ?1) AND (CAST(?2 AS BIGINT) IS NULL OR x.started_ms >= ?2)
               AND (CAST(?3 AS BIGINT) IS NULL OR x.started_ms < ?3)
             ORDER BY x.started_ms DESC, x.id DESC"
        ),
            params![class.map(|c| c.0), from_ms, to_ms],
            row,
        )?)
    }
}
