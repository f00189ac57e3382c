//! The review queue: faces the engine was unsure about, for the teacher to accept or reject.

use super::db::{OptionalExtension as _, params};

use super::{RecordOutcome, Result, Store, StoreError};
use crate::core::attendance::arrival_status;
use crate::core::rollcall::{MarkEvidence, ReviewEvent};
use crate::core::{Candidate, ModelId, ReviewId, SessionId, StudentId};

/// One queued face.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct ReviewRow {
    /// Database id.
    pub id: ReviewId,
    /// The session.
    pub session: SessionId,
    /// The most likely student.
    pub candidate: Option<StudentId>,
    /// Their name.
    pub candidate_name: Option<String>,
    /// Their distance.
    pub score: Option<f32>,
    /// Gap to the runner-up.
    pub margin: Option<f32>,
    /// The runner-up.
    pub runner_up: Option<StudentId>,
    /// The runner-up's name.
    pub runner_up_name: Option<String>,
    /// The runner-up's distance.
    pub runner_up_score: Option<f32>,
    /// Why the engine was unsure.
    pub reason: String,
    /// Time of the frame.
    pub frame_ms: i64,
    /// Whether a face crop is stored.
    pub has_crop: bool,
    /// "pending", "accepted" or "rejected".
    pub state: String,
}

const SELECT: &str =
    "SELECT q.id, q.session_id, q.candidate_student_id, c.display_name, q.score, q.margin,
        q.runner_up_student_id, r.display_name, q.runner_up_score, q.reason, q.frame_ms,
        q.face_crop IS NOT NULL, q.state
     FROM review_queue q LEFT JOIN students c ON c.id = q.candidate_student_id
     LEFT JOIN students r ON r.id = q.runner_up_student_id";

fn row(r: &super::db::Row) -> super::db::DbResult<ReviewRow> {
    let f = |i: usize| -> super::db::DbResult<Option<f32>> {
        Ok(r.get::<_, Option<f64>>(i)?.map(|v| v as f32))
    };
    Ok(ReviewRow {
        id: ReviewId(r.get(0)?),
        session: SessionId(r.get(1)?),
        candidate: r.get::<_, Option<i64>>(2)?.map(StudentId),
        candidate_name: r.get(3)?,
        score: f(4)?,
        margin: f(5)?,
        runner_up: r.get::<_, Option<i64>>(6)?.map(StudentId),
        runner_up_name: r.get(7)?,
        runner_up_score: f(8)?,
        reason: r.get(9)?,
        frame_ms: r.get(10)?,
        has_crop: r.get(11)?,
        state: r.get(12)?,
    })
}

fn finite(v: f32) -> Option<f64> {
    v.is_finite().then_some(f64::from(v))
}

impl Store {
    /// Queues a doubtful face.
    pub fn add_review(
        &self,
        session: SessionId,
        event: &ReviewEvent,
        model: Option<&ModelId>,
        crop: Option<&[u8]>,
    ) -> Result<ReviewId> {
        let id = self.db().query_row(
            "INSERT INTO review_queue (session_id, candidate_student_id, score, margin, runner_up_student_id,
               runner_up_score, model_id, reason, frame_ms, face_crop, created_ms)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11) RETURNING id",
            params![
                session.0,
                event.candidate.student.0,
                finite(event.candidate.distance),
                finite(event.margin),
                event.runner_up.map(|c| c.student.0),
                event.runner_up.and_then(|c| finite(c.distance)),
                model.map(ModelId::as_str),
                event.reason.as_str(),
                event.frame_ms,
                crop,
                self.now_ms(),
            ],
            |r| r.get(0),
        )?;
        Ok(ReviewId(id))
    }

    /// Pending reviews, of one session or all, oldest first.
    pub fn pending_reviews(&self, session: Option<SessionId>) -> Result<Vec<ReviewRow>> {
        Ok(self.db().query_map(&format!(
            "{SELECT} WHERE q.state = 'pending' AND (CAST(?1 AS BIGINT) IS NULL OR q.session_id = ?1) ORDER BY q.id"
        ), [session.map(|s| s.0)], row)?)
    }

    /// One review by id.
    pub fn review(&self, id: ReviewId) -> Result<ReviewRow> {
        self.db()
            .query_row(&format!("{SELECT} WHERE q.id = ?1"), [id.0], row)
            .optional()?
            .ok_or_else(|| StoreError::NotFound {
                what: "review",
                key: id.to_string(),
            })
    }

    /// The stored face crop of a review (PNG).
    pub fn review_crop(&self, id: ReviewId) -> Result<Option<Vec<u8>>> {
        Ok(self
            .db()
            .query_row(
                "SELECT face_crop FROM review_queue WHERE id = ?1",
                [id.0],
                |r| r.get(0),
            )
            .optional()?
            .flatten())
    }

    /// Accepts a review: the face is `student` (the candidate when `None`), who is marked with
    /// source "review" unless already marked. The face crop is deleted. Logged.
    pub fn accept_review(&self, id: ReviewId, student: Option<StudentId>) -> Result<RecordOutcome> {
        let r = self.review(id)?;
        if r.state != "pending" {
            return Err(StoreError::Invalid(format!(
                "review #{id} is already {}",
                r.state
            )));
        }
        let Some(student) = student.or(r.candidate) else {
            return Err(StoreError::Invalid(format!(
                "review #{id} has no candidate: name the student"
            )));
        };
        let session = self.session(r.session)?;
        let status = arrival_status(session.started_ms, r.frame_ms, session.late_after_minutes);
        let model = self
            .db()
            .query_row(
                "SELECT model_id FROM review_queue WHERE id = ?1",
                [id.0],
                |row| row.get::<_, Option<String>>(0),
            )?
            .map(ModelId);
        let is_candidate = Some(student) == r.candidate;
        let evidence = is_candidate.then(|| MarkEvidence {
            distance: r.score.unwrap_or(f32::NAN),
            margin: r.margin.unwrap_or(f32::NAN),
            runner_up: r.runner_up.zip(r.runner_up_score).map(|(s, d)| Candidate {
                student: s,
                distance: d,
            }),
        });
        // A stopped session still accepts reviews: the teacher decides after class.
        let now = self.now_ms();
        self.in_transaction(|tx| {
            let inserted = tx.execute(
                "INSERT INTO marks (session_id, student_id, status, source, marked_ms, last_seen_ms, score, margin,
                   runner_up_student_id, runner_up_score, model_id, frame_ms)
                 VALUES (?1, ?2, ?3, 'review', ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?5)
                 ON CONFLICT (session_id, student_id) DO NOTHING",
                params![
                    r.session.0,
                    student.0,
                    status.as_str(),
                    now,
                    r.frame_ms,
                    evidence.and_then(|e| finite(e.distance)),
                    evidence.and_then(|e| finite(e.margin)),
                    evidence.and_then(|e| e.runner_up).map(|c| c.student.0),
                    evidence.and_then(|e| e.runner_up).and_then(|c| finite(c.distance)),
                    model.as_ref().map(ModelId::as_str),
                ],
            )?;
            tx.execute(
                // The crop goes either way (the README's promise): the mark keeps the figures.
                "UPDATE review_queue SET state = 'accepted', resolved_ms = ?2, face_crop = NULL WHERE id = ?1",
                params![id.0, now],
            )?;
            tx.execute(
                "INSERT INTO audit_log (at_ms, actor, action, session_id, student_id, details)
                 VALUES (?1, ?5, 'review_accepted', ?2, ?3, ?4)",
                params![now, r.session.0, student.0, format!("review #{id} ({})", r.reason), self.actor()],
            )?;
            Ok(if inserted == 1 { RecordOutcome::Marked } else { RecordOutcome::AlreadyMarked(status) })
        })
    }

    /// Rejects a review: nobody is marked. The face crop is deleted. Logged.
    pub fn reject_review(&self, id: ReviewId) -> Result<()> {
        let r = self.review(id)?;
        if r.state != "pending" {
            return Err(StoreError::Invalid(format!(
                "review #{id} is already {}",
                r.state
            )));
        }
        let now = self.now_ms();
        self.in_transaction(|tx| {
            tx.execute(
                "UPDATE review_queue SET state = 'rejected', resolved_ms = ?2, face_crop = NULL WHERE id = ?1",
                params![id.0, now],
            )?;
            tx.execute(
                "INSERT INTO audit_log (at_ms, actor, action, session_id, student_id, details)
                 VALUES (?1, ?5, 'review_rejected', ?2, ?3, ?4)",
                params![now, r.session.0, r.candidate.map(|s| s.0), format!("review #{id} ({})", r.reason), self.actor()],
            )?;
            Ok(())
        })
    }
}
