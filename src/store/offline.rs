//! A classroom that keeps working when the school network drops.
//!
//! The classroom's machine keeps a copy of the rosters it uses in a local SQLite file of the
//! usual schema (the *offline copy*): the class, its students with their photos, embeddings and
//! consent, the encoders and the recognition settings, all with the server's own ids, so that a
//! lesson can start from it when the server cannot be reached. A refresh replaces the class's
//! copy with what the server holds now, so a student forgotten or removed on the server is
//! forgotten here at the next refresh too, and the retention purge runs on the copy as on any
//! rollcall file.
//!
//! Sessions, marks, reviews and audit entries made on the copy are the changes waiting for the
//! server. [`Store::send_waiting_changes`] sends them with [`Store::import_from`] in one server
//! transaction (matched by class and start time, student and session, so sending twice never
//! doubles a mark), then deletes them from the copy.

use super::db::{OptionalExtension as _, params};
use super::{Result, Store, StoreError};
use crate::core::ClassId;

/// What is waiting in an offline copy for the server.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Waiting {
    /// Sessions taken offline.
    pub sessions: usize,
    /// Their marks.
    pub marks: usize,
    /// Their faces waiting for review.
    pub reviews: usize,
}

impl Waiting {
    /// Marks, reviews and sessions together: the "N changes waiting" of the window.
    #[must_use]
    pub fn total(&self) -> usize {
        self.sessions + self.marks + self.reviews
    }
}

impl Store {
    /// Replaces this offline copy's roster of `class` (given by its id on the server) with the
    /// server's: the class row, its members with their photos, embeddings and consent, every
    /// encoder and the settings. Sessions and marks waiting here are kept.
    #[allow(clippy::too_many_lines)] // read everything from the server, then write the copy in one transaction
    pub fn refresh_offline_copy(&self, server: &Store, class: ClassId) -> Result<()> {
        let src = server.db();
        let class_row = server.class(class)?;
        let encoders = src.query_map(
            "SELECT id, name, path, metric, dim, default_threshold, default_margin, is_active,
               created_ms FROM encoders",
            [],
            |r| Ok(r.values()),
        )?;
        let settings = src.query_map("SELECT key, value FROM settings", [], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
        })?;
        let (threshold, late, created): (Option<f64>, i64, i64) = src.query_row(
            "SELECT threshold_override, late_after_minutes, created_ms FROM classes WHERE id = ?1",
            [class.0],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )?;
        let students = src.query_map(
            "SELECT s.id, s.display_name, s.external_id, s.created_ms, s.removed_ms, m.joined_ms
             FROM class_members m JOIN students s ON s.id = m.student_id WHERE m.class_id = ?1",
            [class.0],
            |r| Ok(r.values()),
        )?;
        let enrollments = src.query_map(
            "SELECT e.student_id, e.photo, e.photo_format, e.face_crop, e.quality_json, e.enrolled_ms
             FROM enrollments e JOIN class_members m ON m.student_id = e.student_id
             WHERE m.class_id = ?1",
            [class.0],
            |r| Ok(r.values()),
        )?;
        let embeddings = src.query_map(
            "SELECT b.student_id, b.model_id, b.vector, b.created_ms
             FROM embeddings b JOIN class_members m ON m.student_id = b.student_id
             WHERE m.class_id = ?1",
            [class.0],
            |r| Ok(r.values()),
        )?;
        let consents = src.query_map(
            "SELECT k.id, k.student_id, k.given_by, k.purpose, k.given_ms, k.withdrawn_ms
             FROM consents k JOIN class_members m ON m.student_id = k.student_id
             WHERE m.class_id = ?1",
            [class.0],
            |r| Ok(r.values()),
        )?;
        self.in_transaction(|tx| {
            tx.execute("UPDATE encoders SET is_active = 0", [])?;
            for e in &encoders {
                tx.execute(
                    "INSERT INTO encoders (id, name, path, metric, dim, default_threshold,
                       default_margin, is_active, created_ms)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
                     ON CONFLICT (id) DO UPDATE SET name = excluded.name, path = excluded.path,
                       default_threshold = excluded.default_threshold,
                       default_margin = excluded.default_margin, is_active = excluded.is_active",
                    params![
                        e[0].clone(),
                        e[1].clone(),
                        e[2].clone(),
                        e[3].clone(),
                        e[4].clone(),
                        e[5].clone(),
                        e[6].clone(),
                        e[7].clone(),
                        e[8].clone()
                    ],
                )?;
            }
            for (k, v) in &settings {
                tx.execute(
                    "INSERT INTO settings (key, value) VALUES (?1, ?2)
                     ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                    params![k, v],
                )?;
            }
            tx.execute(
                "INSERT INTO classes (id, name, threshold_override, late_after_minutes, created_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (id) DO UPDATE SET name = excluded.name,
                   threshold_override = excluded.threshold_override,
                   late_after_minutes = excluded.late_after_minutes",
                params![class.0, class_row.name, threshold, late, created],
            )?;
            // The class's members as the server has them now: biometrics of the old members
            // go, then everything is written again.
            tx.execute(
                "DELETE FROM enrollments WHERE student_id IN
                   (SELECT student_id FROM class_members WHERE class_id = ?1)",
                [class.0],
            )?;
            tx.execute(
                "DELETE FROM embeddings WHERE student_id IN
                   (SELECT student_id FROM class_members WHERE class_id = ?1)",
                [class.0],
            )?;
            tx.execute(
                "DELETE FROM consents WHERE student_id IN
                   (SELECT student_id FROM class_members WHERE class_id = ?1)",
                [class.0],
            )?;
            tx.execute("DELETE FROM class_members WHERE class_id = ?1", [class.0])?;
            for s in &students {
                tx.execute(
                    "INSERT INTO students (id, display_name, external_id, created_ms, removed_ms)
                     VALUES (?1, ?2, ?3, ?4, ?5)
                     ON CONFLICT (id) DO UPDATE SET display_name = excluded.display_name,
                       external_id = excluded.external_id, removed_ms = excluded.removed_ms",
                    params![s[0].clone(), s[1].clone(), s[2].clone(), s[3].clone(), s[4].clone()],
                )?;
                tx.execute(
                    "INSERT INTO class_members (class_id, student_id, joined_ms) VALUES (?1, ?2, ?3)",
                    params![class.0, s[0].clone(), s[5].clone()],
                )?;
            }
            for e in &enrollments {
                tx.execute(
                    "INSERT INTO enrollments (student_id, photo, photo_format, face_crop,
                       quality_json, enrolled_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                     ON CONFLICT DO NOTHING",
                    params![e[0].clone(), e[1].clone(), e[2].clone(), e[3].clone(), e[4].clone(), e[5].clone()],
                )?;
            }
            for b in &embeddings {
                tx.execute(
                    "INSERT INTO embeddings (student_id, model_id, vector, created_ms)
                     VALUES (?1, ?2, ?3, ?4) ON CONFLICT DO NOTHING",
                    params![b[0].clone(), b[1].clone(), b[2].clone(), b[3].clone()],
                )?;
            }
            for k in &consents {
                tx.execute(
                    "INSERT INTO consents (id, student_id, given_by, purpose, given_ms, withdrawn_ms)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT DO NOTHING",
                    params![k[0].clone(), k[1].clone(), k[2].clone(), k[3].clone(), k[4].clone(), k[5].clone()],
                )?;
            }
            Ok(())
        })
    }

    /// Carries the server's open `session` over into this offline copy, with the server's id,
    /// so that a lesson whose server went away goes on writing here.
    pub fn mirror_session(&self, session: &super::SessionRow) -> Result<()> {
        let taken = self
            .db()
            .query_row(
                "SELECT class_id, started_ms FROM sessions WHERE id = ?1",
                [session.id.0],
                |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?)),
            )
            .optional()?;
        match taken {
            Some((class, started))
                if class == session.class_id.0 && started == session.started_ms =>
            {
                Ok(())
            }
            Some(_) => Err(StoreError::Invalid(format!(
                "cannot carry session #{} on offline: this machine still holds another lesson \
                 with that number for the server; run `rollcall sync` once the server is back",
                session.id
            ))),
            None => {
                self.db().execute(
                    "INSERT INTO sessions (id, class_id, started_ms, ended_ms, model_id, threshold,
                       margin, late_after_minutes) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                    params![
                        session.id.0,
                        session.class_id.0,
                        session.started_ms,
                        session.ended_ms,
                        session.model_id.as_ref().map(|m| m.as_str().to_owned()),
                        session.threshold.map(f64::from),
                        session.margin.map(f64::from),
                        session.late_after_minutes
                    ],
                )?;
                Ok(())
            }
        }
    }

    /// What this offline copy holds for the server.
    pub fn waiting_changes(&self) -> Result<Waiting> {
        let count = |sql: &str| -> Result<usize> {
            Ok(self.db().query_row(sql, [], |r| r.get::<_, i64>(0))?.max(0) as usize)
        };
        Ok(Waiting {
            sessions: count("SELECT count(*) FROM sessions")?,
            marks: count("SELECT count(*) FROM marks")?,
            reviews: count("SELECT count(*) FROM review_queue")?,
        })
    }

    /// Sends the sessions, marks, reviews and audit entries of this offline copy to `server`
    /// in one server transaction, then deletes them here. Safe to repeat: a change the server
    /// already has is matched, not doubled. Returns what was waiting.
    pub fn send_waiting_changes(&self, server: &Store) -> Result<Waiting> {
        let waiting = self.waiting_changes()?;
        if waiting.total() == 0 {
            return Ok(waiting);
        }
        // The copy's write lock is taken first and held until the sent rows are deleted, so a
        // lesson writing to the copy meanwhile (another window or process on this machine)
        // waits instead of adding a mark that would be deleted unsent. Should the server's
        // commit succeed and this one fail, sending again matches what is there.
        self.in_transaction(|copy| {
            copy.execute("UPDATE settings SET value = value WHERE 0 = 1", [])?;
            let waiting = self.waiting_changes()?;
            server.import_from(self, "this classroom's offline copy")?;
            copy.execute("DELETE FROM sessions", [])?;
            copy.execute("DELETE FROM audit_log", [])?;
            Ok(waiting)
        })
    }
}
