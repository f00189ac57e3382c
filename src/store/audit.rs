//! The audit log: every manual change to attendance or biometric data.

use super::db::params;

use super::{Result, Store};
use crate::core::{SessionId, StudentId};

/// One audit-log entry.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct AuditEntry {
    /// When, in Unix milliseconds.
    pub at_ms: i64,
    /// Who ("teacher", "engine", "retention").
    pub actor: String,
    /// What, as a stable name (`mark_set`, `student_forgotten`, ...).
    pub action: String,
    /// The session concerned.
    pub session: Option<SessionId>,
    /// The student concerned.
    pub student: Option<StudentId>,
    /// Details for a human.
    pub details: String,
}

impl Store {
    /// Appends an entry to the audit log.
    pub fn log_audit(
        &self,
        actor: &str,
        action: &str,
        session: Option<SessionId>,
        student: Option<StudentId>,
        details: &str,
    ) -> Result<()> {
        self.db().execute(
            "INSERT INTO audit_log (at_ms, actor, action, session_id, student_id, details)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![
                self.now_ms(),
                actor,
                action,
                session.map(|s| s.0),
                student.map(|s| s.0),
                details
            ],
        )?;
        Ok(())
    }

    /// The most recent `limit` entries, newest first.
    pub fn audit_entries(&self, limit: usize) -> Result<Vec<AuditEntry>> {
        Ok(self.db().query_map(
            "SELECT at_ms, actor, action, session_id, student_id, details FROM audit_log
             ORDER BY id DESC LIMIT ?1",
            [limit as i64],
            |r| {
                Ok(AuditEntry {
                    at_ms: r.get(0)?,
                    actor: r.get(1)?,
                    action: r.get(2)?,
                    session: r.get::<_, Option<i64>>(3)?.map(SessionId),
                    student: r.get::<_, Option<i64>>(4)?.map(StudentId),
                    details: r.get(5)?,
                })
            },
        )?)
    }
}
