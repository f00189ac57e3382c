//! Attendance marks: at most one per student per session. Automatic marks keep the first
//! sighting; manual changes override the status and are written to the audit log.

use super::db::{OptionalExtension as _, params};

use super::{Result, Store, StoreError};
use crate::core::calibration::{RecordedKind, RecordedMatch};
use crate::core::rollcall::MarkEvidence;
use crate::core::{MarkSource, ModelId, SessionId, Status, StudentId};

/// A mark with its evidence.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct MarkRow {
    /// The session.
    pub session: SessionId,
    /// The student.
    pub student: StudentId,
    /// The student's name.
    pub student_name: String,
    /// The student's school number.
    pub external_id: Option<String>,
    /// Present, late, absent or excused.
    pub status: Status,
    /// Automatic, manual or from the review queue.
    pub source: MarkSource,
    /// When the mark was made.
    pub marked_ms: i64,
    /// When the student was last seen by the camera.
    pub last_seen_ms: Option<i64>,
    /// Distance of the match.
    pub score: Option<f32>,
    /// Distance gap to the runner-up.
    pub margin: Option<f32>,
    /// The runner-up student.
    pub runner_up: Option<StudentId>,
    /// The runner-up's name.
    pub runner_up_name: Option<String>,
    /// The runner-up's distance.
    pub runner_up_score: Option<f32>,
    /// The encoder that made the match.
    pub model_id: Option<String>,
    /// Time of the frame that confirmed the match.
    pub frame_ms: Option<i64>,
    /// Whether a face crop is kept as evidence.
    pub has_evidence_crop: bool,
}

/// What happened to an automatic mark.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RecordOutcome {
    /// A new mark was written.
    Marked,
    /// The student already had a mark; only the last-seen time was updated.
    AlreadyMarked(Status),
}

/// What an automatic or review mark stores.
#[derive(Clone, Debug)]
pub struct AutoMark<'a> {
    /// The session.
    pub session: SessionId,
    /// The student.
    pub student: StudentId,
    /// Present or late.
    pub status: Status,
    /// Auto or review.
    pub source: MarkSource,
    /// Time of the confirming frame.
    pub frame_ms: i64,
    /// Distances behind the decision.
    pub evidence: Option<MarkEvidence>,
    /// The encoder.
    pub model_id: Option<&'a ModelId>,
    /// The face crop (PNG), only when the teacher opted in.
    pub evidence_crop: Option<&'a [u8]>,
}

const SELECT: &str =
    "SELECT k.session_id, k.student_id, s.display_name, s.external_id, k.status, k.source,
        k.marked_ms, k.last_seen_ms, k.score, k.margin, k.runner_up_student_id, r.display_name,
        k.runner_up_score, k.model_id, k.frame_ms, k.evidence_crop IS NOT NULL
     FROM marks k JOIN students s ON s.id = k.student_id
     LEFT JOIN students r ON r.id = k.runner_up_student_id";

pub(crate) fn row(r: &super::db::Row) -> super::db::DbResult<MarkRow> {
    let status: String = r.get(4)?;
    let source: String = r.get(5)?;
    let f = |i: usize| -> super::db::DbResult<Option<f32>> {
        Ok(r.get::<_, Option<f64>>(i)?.map(|v| v as f32))
    };
    Ok(MarkRow {
        session: SessionId(r.get(0)?),
        student: StudentId(r.get(1)?),
        student_name: r.get(2)?,
        external_id: r.get(3)?,
        status: status.parse().unwrap_or(Status::Present),
        source: source.parse().unwrap_or(MarkSource::Manual),
        marked_ms: r.get(6)?,
        last_seen_ms: r.get(7)?,
        score: f(8)?,
        margin: f(9)?,
        runner_up: r.get::<_, Option<i64>>(10)?.map(StudentId),
        runner_up_name: r.get(11)?,
        runner_up_score: f(12)?,
        model_id: r.get(13)?,
        frame_ms: r.get(14)?,
        has_evidence_crop: r.get(15)?,
    })
}

fn finite(v: f32) -> Option<f64> {
    v.is_finite().then_some(f64::from(v))
}

impl Store {
    /// Writes an automatic (or review-accepted) mark. The first mark of a student in a session
    /// is kept; later sightings only move the last-seen time.
    pub fn record_auto_mark(&self, m: &AutoMark<'_>) -> Result<RecordOutcome> {
        let session = self.session(m.session)?;
        if session.ended_ms.is_some() {
            return Err(StoreError::Invalid(format!(
                "session #{} is stopped; no new marks",
                m.session
            )));
        }
        let ev = m.evidence;
        self.in_transaction(|tx| {
            let inserted = tx.execute(
                "INSERT INTO marks (session_id, student_id, status, source, marked_ms, last_seen_ms, score, margin,
                   runner_up_student_id, runner_up_score, model_id, frame_ms, evidence_crop)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?5, ?6, ?7, ?8, ?9, ?10, ?5, ?11)
                 ON CONFLICT (session_id, student_id) DO NOTHING",
                params![
                    m.session.0,
                    m.student.0,
                    m.status.as_str(),
                    m.source.as_str(),
                    m.frame_ms,
                    ev.and_then(|e| finite(e.distance)),
                    ev.and_then(|e| finite(e.margin)),
                    ev.and_then(|e| e.runner_up).map(|c| c.student.0),
                    ev.and_then(|e| e.runner_up).and_then(|c| finite(c.distance)),
                    m.model_id.map(ModelId::as_str),
                    m.evidence_crop,
                ],
            )?;
            if inserted == 1 {
                return Ok(RecordOutcome::Marked);
            }
            tx.execute(
                "UPDATE marks SET last_seen_ms = ?3
                 WHERE session_id = ?1 AND student_id = ?2
                   AND (last_seen_ms IS NULL OR last_seen_ms < ?3)",
                params![m.session.0, m.student.0, m.frame_ms],
            )?;
            let status: String = tx.query_row(
                "SELECT status FROM marks WHERE session_id = ?1 AND student_id = ?2",
                params![m.session.0, m.student.0],
                |r| r.get(0),
            )?;
            Ok(RecordOutcome::AlreadyMarked(status.parse().unwrap_or(Status::Present)))
        })
    }

    /// Moves the last-seen time of a marked student forward.
    pub fn touch_last_seen(
        &self,
        session: SessionId,
        student: StudentId,
        seen_ms: i64,
    ) -> Result<()> {
        self.db().execute(
            "UPDATE marks SET last_seen_ms = ?3
             WHERE session_id = ?1 AND student_id = ?2
               AND (last_seen_ms IS NULL OR last_seen_ms < ?3)",
            params![session.0, student.0, seen_ms],
        )?;
        Ok(())
    }

    /// Sets a student's status by hand (present, late, absent, excused), replacing any earlier
    /// mark's status, and writes the change to the audit log. Works on stopped sessions too.
    pub fn set_mark(
        &self,
        session: SessionId,
        student: StudentId,
        status: Status,
        actor: &str,
        note: &str,
    ) -> Result<()> {
        let s = self.session(session)?;
        let st = self.student(student)?;
        if !st.classes.contains(&s.class_name) && self.mark(session, student)?.is_none() {
            return Err(StoreError::Invalid(format!(
                "{} is not in class {}",
                st.display_name, s.class_name
            )));
        }
        let old = self.mark(session, student)?;
        let now = self.now_ms();
        self.in_transaction(|tx| {
            tx.execute(
                "INSERT INTO marks (session_id, student_id, status, source, marked_ms)
                 VALUES (?1, ?2, ?3, 'manual', ?4)
                 ON CONFLICT (session_id, student_id) DO UPDATE SET status = excluded.status, source = 'manual'",
                params![session.0, student.0, status.as_str(), now],
            )?;
            let was = old.as_ref().map_or_else(|| "unmarked".to_owned(), |m| format!("{} ({})", m.status, m.source));
            let details = if note.trim().is_empty() {
                format!("{was} -> {status}")
            } else {
                format!("{was} -> {status}; {}", note.trim())
            };
            tx.execute(
                "INSERT INTO audit_log (at_ms, actor, action, session_id, student_id, details)
                 VALUES (?1, ?2, 'mark_set', ?3, ?4, ?5)",
                params![now, actor, session.0, student.0, details],
            )?;
            Ok(())
        })
    }

    /// The mark of a student in a session.
    pub fn mark(&self, session: SessionId, student: StudentId) -> Result<Option<MarkRow>> {
        Ok(self
            .db()
            .query_row(
                &format!("{SELECT} WHERE k.session_id = ?1 AND k.student_id = ?2"),
                params![session.0, student.0],
                row,
            )
            .optional()?)
    }

    /// All marks of a session, by student name.
    pub fn marks(&self, session: SessionId) -> Result<Vec<MarkRow>> {
        Ok(self.db().query_map(
            &format!("{SELECT} WHERE k.session_id = ?1 ORDER BY lower(s.display_name), s.id"),
            [session.0],
            row,
        )?)
    }

    /// Distances of confirmed automatic marks of a class's sessions: the genuine distribution
    /// for calibration.
    pub fn genuine_distances(
        &self,
        class: crate::core::ClassId,
        model: &ModelId,
    ) -> Result<Vec<f32>> {
        let rows = self.db().query_map(
            "SELECT k.score FROM marks k JOIN sessions x ON x.id = k.session_id
             WHERE x.class_id = ?1 AND k.model_id = ?2 AND k.source IN ('auto', 'review')
               AND k.score IS NOT NULL AND k.status IN ('present', 'late')",
            params![class.0, model.as_str()],
            |r| r.get::<_, f64>(0),
        )?;
        Ok(rows.into_iter().map(|v| v as f32).collect())
    }

    /// The matches the engine recorded in a class's sessions with `model` (automatic marks
    /// and reviewed faces with a candidate), for the what-if preview of other settings. Only
    /// `session` when given.
    pub fn recorded_matches(
        &self,
        class: crate::core::ClassId,
        model: &ModelId,
        session: Option<SessionId>,
    ) -> Result<Vec<RecordedMatch>> {
        // Whether the student ended the session present or late, by any source.
        const PRESENT: &str = "EXISTS (SELECT 1 FROM marks p WHERE p.session_id = x.id
             AND p.student_id = {student} AND p.status IN ('present', 'late'))";
        let sql = format!(
            "SELECT k.session_id, k.student_id, k.score, k.margin, NULL, {}
               FROM marks k JOIN sessions x ON x.id = k.session_id
              WHERE x.class_id = ?1 AND k.model_id = ?2 AND k.source = 'auto'
                AND k.score IS NOT NULL AND (CAST(?3 AS BIGINT) IS NULL OR x.id = ?3)
             UNION ALL
             SELECT q.session_id, q.candidate_student_id, q.score, q.margin, q.state, {}
               FROM review_queue q JOIN sessions x ON x.id = q.session_id
              WHERE x.class_id = ?1 AND q.model_id = ?2 AND q.candidate_student_id IS NOT NULL
                AND q.score IS NOT NULL AND (CAST(?3 AS BIGINT) IS NULL OR x.id = ?3)",
            PRESENT.replace("{student}", "k.student_id"),
            PRESENT.replace("{student}", "q.candidate_student_id"),
        );
        Ok(self.db().query_map(
            &sql,
            params![class.0, model.as_str(), session.map(|s| s.0)],
            |r| {
                let state: Option<String> = r.get(4)?;
                Ok(RecordedMatch {
                    session: SessionId(r.get(0)?),
                    student: StudentId(r.get(1)?),
                    distance: r.get::<_, f64>(2)? as f32,
                    margin: r.get::<_, Option<f64>>(3)?.map(|v| v as f32),
                    kind: match state {
                        None => RecordedKind::AutoMark,
                        Some(s) => RecordedKind::Review {
                            decided: s != "pending",
                        },
                    },
                    present_in_the_end: r.get(5)?,
                })
            },
        )?)
    }
}
