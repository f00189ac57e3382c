//! Biometric consent records: who gave consent for a student, when, and for what. Without a
//! consent in force, a student's face is never stored or matched.

use super::db::params;

use super::classes::clean_name;
use super::{Result, Store, StoreError};
use crate::core::StudentId;

/// One consent record.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct ConsentRow {
    /// Database id.
    pub id: i64,
    /// The student.
    pub student: StudentId,
    /// Who gave it (for example "Mary Lovelace (mother)").
    pub given_by: String,
    /// What it covers.
    pub purpose: String,
    /// When it was given.
    pub given_ms: i64,
    /// When it was withdrawn, if it was.
    pub withdrawn_ms: Option<i64>,
}

/// The purpose recorded when none is given.
pub const DEFAULT_PURPOSE: &str = "face recognition for class attendance";

/// Inserts a consent record and its audit entry inside a transaction.
pub(crate) fn insert_consent(
    tx: &super::db::Db,
    student: StudentId,
    given_by: &str,
    purpose: &str,
    now: i64,
    actor: &str,
) -> super::db::DbResult<()> {
    tx.execute(
        "INSERT INTO consents (student_id, given_by, purpose, given_ms) VALUES (?1, ?2, ?3, ?4)",
        params![student.0, given_by, purpose, now],
    )?;
    tx.execute(
        "INSERT INTO audit_log (at_ms, actor, action, student_id, details)
         VALUES (?1, ?4, 'consent_given', ?2, ?3)",
        params![
            now,
            student.0,
            format!("by {given_by:?} for {purpose:?}"),
            actor
        ],
    )?;
    Ok(())
}

impl Store {
    /// Records consent for `student` given by `given_by` (logged).
    pub fn give_consent(
        &self,
        student: StudentId,
        given_by: &str,
        purpose: Option<&str>,
    ) -> Result<()> {
        let given_by = clean_name(given_by, "name of the person giving consent")?;
        let purpose = purpose.map_or(Ok(DEFAULT_PURPOSE.to_owned()), |p| {
            clean_name(p, "consent purpose")
        })?;
        self.student(student)?;
        let now = self.now_ms();
        self.in_transaction(|tx| {
            Ok(insert_consent(
                tx,
                student,
                &given_by,
                &purpose,
                now,
                self.actor(),
            )?)
        })
    }

    /// Whether a consent is in force for `student`.
    pub fn has_consent(&self, student: StudentId) -> Result<bool> {
        Ok(self.db().query_row(
            "SELECT EXISTS (SELECT 1 FROM consents WHERE student_id = ?1 AND withdrawn_ms IS NULL)",
            [student.0],
            |r| r.get(0),
        )?)
    }

    /// The consent history of `student`, oldest first.
    pub fn consents(&self, student: StudentId) -> Result<Vec<ConsentRow>> {
        Ok(self.db().query_map(
            "SELECT id, student_id, given_by, purpose, given_ms, withdrawn_ms FROM consents
             WHERE student_id = ?1 ORDER BY given_ms, id",
            [student.0],
            |r| {
                Ok(ConsentRow {
                    id: r.get(0)?,
                    student: StudentId(r.get(1)?),
                    given_by: r.get(2)?,
                    purpose: r.get(3)?,
                    given_ms: r.get(4)?,
                    withdrawn_ms: r.get(5)?,
                })
            },
        )?)
    }

    /// Withdraws every consent in force for `student` and deletes their biometric data at once
    /// (logged). Attendance history stays.
    pub fn withdraw_consent(&self, student: StudentId) -> Result<()> {
        if !self.has_consent(student)? {
            return Err(StoreError::Invalid(format!(
                "student #{student} has no consent in force"
            )));
        }
        let now = self.now_ms();
        self.in_transaction(|tx| {
            tx.execute(
                "UPDATE consents SET withdrawn_ms = ?2 WHERE student_id = ?1 AND withdrawn_ms IS NULL",
                params![student.0, now],
            )?;
            super::biometrics::delete_biometrics(tx, student)?;
            tx.execute(
                "INSERT INTO audit_log (at_ms, actor, action, student_id, details)
                 VALUES (?1, ?3, 'consent_withdrawn', ?2, 'biometric data deleted')",
                params![now, student.0, self.actor()],
            )?;
            Ok(())
        })
    }
}
