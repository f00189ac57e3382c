//! Enrollment photos, their face crops and quality figures, and the embeddings made from them.

use super::db::{OptionalExtension as _, params};

use super::{Result, Store, StoreError};
use crate::core::{ClassId, Embedding, Gallery, Metric, ModelId, StudentId};

/// A stored enrollment.
#[derive(Clone, Debug, PartialEq)]
pub struct EnrollmentRow {
    /// The student.
    pub student: StudentId,
    /// The original photo file's bytes.
    pub photo: Vec<u8>,
    /// Its format ("jpeg", "png", ...).
    pub photo_format: String,
    /// The aligned face chip as PNG, when a face was found.
    pub face_crop: Option<Vec<u8>>,
    /// Quality figures and warnings as JSON.
    pub quality_json: Option<String>,
    /// When it was stored.
    pub enrolled_ms: i64,
}

/// A photo that still needs an embedding from some model.
#[derive(Clone, Debug, PartialEq)]
pub struct ReembedItem {
    /// The student.
    pub student: StudentId,
    /// The original photo's bytes.
    pub photo: Vec<u8>,
}

/// What a new enrollment stores.
#[derive(Clone, Debug, Default)]
pub struct NewEnrollment<'a> {
    /// The original photo file's bytes.
    pub photo: &'a [u8],
    /// Its format.
    pub photo_format: &'a str,
    /// The aligned face chip as PNG.
    pub face_crop: Option<&'a [u8]>,
    /// Quality figures and warnings as JSON.
    pub quality_json: Option<&'a str>,
    /// The embedding made from it by the active encoder.
    pub embedding: Option<&'a Embedding>,
}

/// Writes (or replaces) an enrollment and its embedding inside a transaction.
pub(super) fn write_enrollment(
    tx: &super::db::Db,
    student: StudentId,
    new: &NewEnrollment<'_>,
    now: i64,
) -> super::db::DbResult<()> {
    tx.execute(
        "INSERT INTO enrollments (student_id, photo, photo_format, face_crop, quality_json, enrolled_ms)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)
         ON CONFLICT (student_id) DO UPDATE SET photo = excluded.photo,
           photo_format = excluded.photo_format, face_crop = excluded.face_crop,
           quality_json = excluded.quality_json, enrolled_ms = excluded.enrolled_ms",
        params![student.0, new.photo, new.photo_format, new.face_crop, new.quality_json, now],
    )?;
    tx.execute("DELETE FROM embeddings WHERE student_id = ?1", [student.0])?;
    if let Some(e) = new.embedding {
        tx.execute(
            "INSERT INTO embeddings (student_id, model_id, vector, created_ms) VALUES (?1, ?2, ?3, ?4)",
            params![student.0, e.model_id.as_str(), e.to_le_bytes(), now],
        )?;
    }
    Ok(())
}

impl Store {
    /// Stores the enrollment photo of `student` (replacing any earlier one and all its
    /// embeddings) in one transaction. Refused without a consent in force.
    pub fn enroll(&self, student: StudentId, new: &NewEnrollment<'_>) -> Result<()> {
        let row = self.student(student)?;
        if !self.has_consent(student)? {
            return Err(StoreError::Invalid(format!(
                "{} has no biometric consent on record, so no photo is stored. Record who gave \
                 consent first (rollcall consent give --student {} --by \"NAME\"), or mark this \
                 student by hand",
                row.display_name, student
            )));
        }
        if let Some(e) = new.embedding {
            self.encoder(&e.model_id)?;
        }
        let now = self.now_ms();
        self.in_transaction(|tx| Ok(write_enrollment(tx, student, new, now)?))
    }

    /// Adds a student with their consent record and enrollment photo in one transaction:
    /// either all of it is stored or nothing is.
    pub fn add_enrolled_student(
        &self,
        name: &str,
        external_id: Option<&str>,
        classes: &[ClassId],
        consent_by: &str,
        new: &NewEnrollment<'_>,
    ) -> Result<StudentId> {
        let name = super::classes::clean_name(name, "student name")?;
        let external_id = external_id
            .map(|e| super::classes::clean_name(e, "student id"))
            .transpose()?;
        let consent_by =
            super::classes::clean_name(consent_by, "name of the person giving consent")?;
        if let Some(e) = new.embedding {
            self.encoder(&e.model_id)?;
        }
        let now = self.now_ms();
        self.in_transaction(|tx| {
            let id =
                super::students::insert_student(tx, &name, external_id.as_deref(), classes, now)?;
            super::consent::insert_consent(
                tx,
                id,
                &consent_by,
                super::consent::DEFAULT_PURPOSE,
                now,
                self.actor(),
            )?;
            write_enrollment(tx, id, new, now)?;
            Ok(id)
        })
    }

    /// The enrollment of `student`, if any.
    pub fn enrollment(&self, student: StudentId) -> Result<Option<EnrollmentRow>> {
        Ok(self
            .db()
            .query_row(
                "SELECT student_id, photo, photo_format, face_crop, quality_json, enrolled_ms
                 FROM enrollments WHERE student_id = ?1",
                [student.0],
                |r| {
                    Ok(EnrollmentRow {
                        student: StudentId(r.get(0)?),
                        photo: r.get(1)?,
                        photo_format: r.get(2)?,
                        face_crop: r.get(3)?,
                        quality_json: r.get(4)?,
                        enrolled_ms: r.get(5)?,
                    })
                },
            )
            .optional()?)
    }

    /// Stores (or replaces) the embedding of a student's enrollment photo for one model.
    pub fn put_embedding(&self, student: StudentId, embedding: &Embedding) -> Result<()> {
        self.db().execute(
            "INSERT INTO embeddings (student_id, model_id, vector, created_ms)
             SELECT ?1, ?2, ?3, ?4 WHERE EXISTS (SELECT 1 FROM enrollments WHERE student_id = ?1)
             ON CONFLICT (student_id, model_id) DO UPDATE SET vector = excluded.vector,
               created_ms = excluded.created_ms",
            params![
                student.0,
                embedding.model_id.as_str(),
                embedding.to_le_bytes(),
                self.now_ms()
            ],
        )?;
        Ok(())
    }

    /// The embedding of a student for one model.
    pub fn embedding(&self, student: StudentId, model: &ModelId) -> Result<Option<Embedding>> {
        let blob: Option<Vec<u8>> = self
            .db()
            .query_row(
                "SELECT vector FROM embeddings WHERE student_id = ?1 AND model_id = ?2",
                params![student.0, model.as_str()],
                |r| r.get(0),
            )
            .optional()?;
        Ok(blob
            .map(|b| Embedding::from_le_bytes(model.clone(), &b))
            .transpose()?)
    }

    /// Enrolled photos that have no embedding from `model` yet: the work list of re-embedding,
    /// which therefore resumes where it stopped after a crash.
    pub fn pending_reembed(&self, model: &ModelId) -> Result<Vec<ReembedItem>> {
        Ok(self.db().query_map(
            "SELECT e.student_id, e.photo FROM enrollments e JOIN students s ON s.id = e.student_id
             WHERE s.removed_ms IS NULL AND NOT EXISTS
               (SELECT 1 FROM embeddings b WHERE b.student_id = e.student_id AND b.model_id = ?1)
             ORDER BY e.student_id",
            [model.as_str()],
            |r| {
                Ok(ReembedItem {
                    student: StudentId(r.get(0)?),
                    photo: r.get(1)?,
                })
            },
        )?)
    }

    /// The gallery of a class for one model: every current, consenting member with an embedding
    /// from that model. Returns the gallery and how many members lack an embedding.
    pub fn class_gallery(
        &self,
        class: ClassId,
        model: &ModelId,
        metric: Metric,
        dim: usize,
    ) -> Result<(Gallery, usize)> {
        let mut gallery = Gallery::new(model.clone(), metric, dim);
        let rows = self.db().query_map(
            "SELECT s.id, b.vector FROM class_members m
               JOIN students s ON s.id = m.student_id AND s.removed_ms IS NULL
               LEFT JOIN embeddings b ON b.student_id = s.id AND b.model_id = ?2
             WHERE m.class_id = ?1
               AND EXISTS (SELECT 1 FROM consents k WHERE k.student_id = s.id AND k.withdrawn_ms IS NULL)
             ORDER BY s.id",
            params![class.0, model.as_str()],
            |r| Ok((StudentId(r.get(0)?), r.get::<_, Option<Vec<u8>>>(1)?)),
        )?;
        let mut missing = 0;
        for (student, blob) in rows {
            let Some(blob) = blob else {
                missing += 1;
                continue;
            };
            let embedding = Embedding::from_le_bytes(model.clone(), &blob)?;
            if let Err(err) = gallery.insert(student, &embedding) {
                log::warn!("skipping the embedding of student #{student}: {err}");
                missing += 1;
            }
        }
        Ok((gallery, missing))
    }

    /// Deletes the photo, face crop, embeddings and evidence crops of `student` at once; the
    /// student and their attendance history stay (logged).
    pub fn forget_biometrics(&self, student: StudentId, actor: &str) -> Result<()> {
        let s = self.student(student)?;
        let now = self.now_ms();
        self.in_transaction(|tx| {
            super::biometrics::delete_biometrics(tx, student)?;
            tx.execute(
                "INSERT INTO audit_log (at_ms, actor, action, student_id, details)
                 VALUES (?1, ?2, 'student_forgotten', ?3, ?4)",
                params![
                    now,
                    actor,
                    student.0,
                    format!("biometric data of {:?} deleted", s.display_name)
                ],
            )?;
            Ok(())
        })
    }

    /// Deletes the biometric data of every enrollment older than `max_age_days` (the retention
    /// period) and returns how many students were purged (logged per student).
    pub fn purge_expired_biometrics(&self, max_age_days: u32) -> Result<usize> {
        let now = self.now_ms();
        let cutoff = now - i64::from(max_age_days) * 86_400_000;
        self.in_transaction(|tx| {
            let students: Vec<i64> = tx.query_map(
                "SELECT student_id FROM enrollments WHERE enrolled_ms < ?1",
                [cutoff],
                |r| r.get(0),
            )?;
            for &s in &students {
                super::biometrics::delete_biometrics(tx, StudentId(s))?;
                tx.execute(
                    "INSERT INTO audit_log (at_ms, actor, action, student_id, details)
                     VALUES (?1, 'retention', 'biometrics_expired', ?2, ?3)",
                    params![now, s, format!("older than {max_age_days} days")],
                )?;
            }
            tx.execute(
                "UPDATE marks SET evidence_crop = NULL WHERE marked_ms < ?1",
                [cutoff],
            )?;
            tx.execute(
                "UPDATE review_queue SET face_crop = NULL WHERE created_ms < ?1",
                [cutoff],
            )?;
            Ok(students.len())
        })
    }
}
