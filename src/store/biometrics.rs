//! What consent and enrollment share: deleting a student's biometric data (photo, face crop,
//! embeddings, and the face crops kept as evidence or for review), inside a transaction.

use super::db::{Db, DbResult};
use crate::core::StudentId;

/// Deletes every biometric trace of `student` inside the transaction `tx`; attendance stays.
pub(crate) fn delete_biometrics(tx: &Db, student: StudentId) -> DbResult<()> {
    tx.execute("DELETE FROM enrollments WHERE student_id = ?1", [student.0])?;
    tx.execute("DELETE FROM embeddings WHERE student_id = ?1", [student.0])?;
    tx.execute(
        "UPDATE marks SET evidence_crop = NULL WHERE student_id = ?1",
        [student.0],
    )?;
    tx.execute(
        "UPDATE review_queue SET face_crop = NULL WHERE candidate_student_id = ?1",
        [student.0],
    )?;
    Ok(())
}
