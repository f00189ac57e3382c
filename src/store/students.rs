//! Students and class membership.

use super::db::{OptionalExtension as _, params};

use super::classes::clean_name;
use super::{Result, Store, StoreError, duplicate_or};
use crate::core::{ClassId, StudentId};

/// A student as listed.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct StudentRow {
    /// Database id.
    pub id: StudentId,
    /// Name shown to the teacher.
    pub display_name: String,
    /// Optional school number.
    pub external_id: Option<String>,
    /// Names of the classes the student belongs to.
    pub classes: Vec<String>,
    /// Whether an enrollment photo is stored.
    pub has_photo: bool,
    /// Model ids the student's photo has been embedded with.
    pub embedded_with: Vec<String>,
    /// Whether a biometric consent is in force.
    pub has_consent: bool,
    /// Quality warnings recorded at enrollment.
    pub quality_warnings: Vec<String>,
    /// The key of the school's information system (OneRoster `sourcedId`), when imported.
    pub sourced_id: Option<String>,
}

// Lists are joined with the unit separator U+001F (a literal in the SQL, so that both engines
// read the same text); string_agg with ORDER BY is in SQLite since 3.44 and in PostgreSQL.
const SELECT: &str = "SELECT s.id, s.display_name, s.external_id,
        (SELECT string_agg(c.name, '\u{1f}' ORDER BY c.name) FROM class_members m
           JOIN classes c ON c.id = m.class_id WHERE m.student_id = s.id),
        EXISTS (SELECT 1 FROM enrollments e WHERE e.student_id = s.id),
        (SELECT string_agg(b.model_id, '\u{1f}' ORDER BY b.model_id) FROM embeddings b
          WHERE b.student_id = s.id),
        EXISTS (SELECT 1 FROM consents k WHERE k.student_id = s.id AND k.withdrawn_ms IS NULL),
        (SELECT quality_json FROM enrollments e WHERE e.student_id = s.id),
        s.sourced_id
     FROM students s";

fn split(v: Option<String>) -> Vec<String> {
    v.map(|s| s.split('\u{1f}').map(str::to_owned).collect())
        .unwrap_or_default()
}

fn row(r: &super::db::Row) -> super::db::DbResult<StudentRow> {
    let quality: Option<String> = r.get(7)?;
    let quality_warnings = quality
        .and_then(|q| serde_json::from_str::<serde_json::Value>(&q).ok())
        .and_then(|v| v.get("warnings").cloned())
        .and_then(|w| serde_json::from_value::<Vec<String>>(w).ok())
        .unwrap_or_default();
    Ok(StudentRow {
        id: StudentId(r.get(0)?),
        display_name: r.get(1)?,
        external_id: r.get(2)?,
        classes: split(r.get(3)?),
        has_photo: r.get(4)?,
        embedded_with: split(r.get(5)?),
        has_consent: r.get(6)?,
        quality_warnings,
        sourced_id: r.get(8)?,
    })
}

/// Inserts a student and their class memberships inside a transaction.
pub(crate) fn insert_student(
    tx: &super::db::Db,
    name: &str,
    external_id: Option<&str>,
    classes: &[ClassId],
    now: i64,
) -> Result<StudentId> {
    let id = tx
        .query_row(
            "INSERT INTO students (display_name, external_id, created_ms) VALUES (?1, ?2, ?3)
             RETURNING id",
            params![name, external_id, now],
            |r| r.get(0),
        )
        .map_err(|err| duplicate_or(err, "student id", external_id.unwrap_or("")))?;
    let id = StudentId(id);
    for class in classes {
        tx.execute(
            "INSERT INTO class_members (class_id, student_id, joined_ms) VALUES (?1, ?2, ?3)",
            params![class.0, id.0, now],
        )?;
    }
    Ok(id)
}

impl Store {
    /// Adds a student, optionally with a school number, as a member of `classes`.
    pub fn add_student(
        &self,
        name: &str,
        external_id: Option<&str>,
        classes: &[ClassId],
    ) -> Result<StudentId> {
        let name = clean_name(name, "student name")?;
        let external_id = external_id
            .map(|e| clean_name(e, "student id"))
            .transpose()?;
        let now = self.now_ms();
        self.in_transaction(|tx| insert_student(tx, &name, external_id.as_deref(), classes, now))
    }

    /// Adds an existing student to a class (no error if already a member).
    pub fn add_to_class(&self, student: StudentId, class: ClassId) -> Result<()> {
        self.db().execute(
            "INSERT INTO class_members (class_id, student_id, joined_ms) VALUES (?1, ?2, ?3)
             ON CONFLICT DO NOTHING",
            params![class.0, student.0, self.now_ms()],
        )?;
        Ok(())
    }

    /// Current (not removed) students, of one class or of all, by name.
    pub fn list_students(&self, class: Option<ClassId>) -> Result<Vec<StudentRow>> {
        let sql = match class {
            Some(_) => format!(
                "{SELECT} WHERE s.removed_ms IS NULL AND EXISTS (SELECT 1 FROM class_members m
                   WHERE m.student_id = s.id AND m.class_id = ?1)
                 ORDER BY lower(s.display_name), s.id"
            ),
            None => {
                format!("{SELECT} WHERE s.removed_ms IS NULL ORDER BY lower(s.display_name), s.id")
            }
        };
        Ok(match class {
            Some(c) => self.db().query_map(&sql, [c.0], row)?,
            None => self.db().query_map(&sql, [], row)?,
        })
    }

    /// A student by id (removed students included).
    pub fn student(&self, id: StudentId) -> Result<StudentRow> {
        self.db()
            .query_row(&format!("{SELECT} WHERE s.id = ?1"), [id.0], row)
            .optional()?
            .ok_or_else(|| StoreError::NotFound {
                what: "student",
                key: id.to_string(),
            })
    }

    /// Finds a current student by numeric id (`12` or `#12`), school number, or exact name
    /// (case-insensitive), within `class` when given. Several students with the name is an error.
    pub fn find_student(&self, key: &str, class: Option<ClassId>) -> Result<StudentRow> {
        let key = key.trim();
        let in_class = |s: &StudentRow| -> Result<bool> {
            Ok(match class {
                None => true,
                Some(c) => self
                    .db()
                    .query_row(
                        "SELECT EXISTS (SELECT 1 FROM class_members WHERE class_id = ?1 AND student_id = ?2)",
                        params![c.0, s.id.0],
                        |r| r.get(0),
                    )?,
            })
        };
        if let Some(s) = self
            .db()
            .query_row(
                &format!("{SELECT} WHERE s.external_id = ?1 AND s.removed_ms IS NULL"),
                [key],
                row,
            )
            .optional()?
            && in_class(&s)?
        {
            return Ok(s);
        }
        let named = self.db().query_map(
            &format!("{SELECT} WHERE lower(s.display_name) = lower(?1) AND s.removed_ms IS NULL"),
            [key],
            row,
        )?;
        let mut by_name = Vec::new();
        for s in named {
            if in_class(&s)? {
                by_name.push(s);
            }
        }
        match by_name.len() {
            1 => return Ok(by_name.remove(0)),
            0 => {}
            _ => {
                return Err(StoreError::Ambiguous {
                    what: "student",
                    key: key.to_owned(),
                    candidates: by_name
                        .iter()
                        .map(|s| {
                            format!("#{} {}", s.id, s.external_id.as_deref().unwrap_or(""))
                                .trim()
                                .to_owned()
                        })
                        .collect::<Vec<_>>()
                        .join(", "),
                });
            }
        }
        if let Ok(id) = key.trim_start_matches('#').parse::<i64>()
            && let Some(s) = self
                .db()
                .query_row(
                    &format!("{SELECT} WHERE s.id = ?1 AND s.removed_ms IS NULL"),
                    [id],
                    row,
                )
                .optional()?
            && in_class(&s)?
        {
            return Ok(s);
        }
        Err(StoreError::NotFound {
            what: "student",
            key: key.to_owned(),
        })
    }

    /// Renames a student (logged).
    pub fn rename_student(&self, id: StudentId, new_name: &str) -> Result<()> {
        let new_name = clean_name(new_name, "student name")?;
        let old = self.student(id)?;
        let now = self.now_ms();
        self.in_transaction(|tx| {
            tx.execute(
                "UPDATE students SET display_name = ?2 WHERE id = ?1",
                params![id.0, new_name],
            )?;
            tx.execute(
                "INSERT INTO audit_log (at_ms, actor, action, student_id, details)
                 VALUES (?1, ?4, 'student_renamed', ?2, ?3)",
                params![
                    now,
                    id.0,
                    format!("{:?} -> {:?}", old.display_name, new_name),
                    self.actor()
                ],
            )?;
            Ok(())
        })
    }

    /// Removes a student: their photo, face crop, embeddings and evidence crops are deleted at
    /// once, they leave every roster, and their attendance history stays (logged).
    pub fn remove_student(&self, id: StudentId) -> Result<()> {
        let s = self.student(id)?;
        let now = self.now_ms();
        self.in_transaction(|tx| remove_student(tx, id, &s.display_name, now, self.actor()))
    }
}

/// [`Store::remove_student`] inside a transaction, logged as done by `actor`.
pub(super) fn remove_student(
    tx: &super::db::Db,
    id: StudentId,
    name: &str,
    now: i64,
    actor: &str,
) -> Result<()> {
    tx.execute(
        "UPDATE students SET removed_ms = ?2 WHERE id = ?1",
        params![id.0, now],
    )?;
    tx.execute("DELETE FROM enrollments WHERE student_id = ?1", [id.0])?;
    tx.execute("DELETE FROM embeddings WHERE student_id = ?1", [id.0])?;
    tx.execute(
        "UPDATE marks SET evidence_crop = NULL WHERE student_id = ?1",
        [id.0],
    )?;
    tx.execute(
        "DELETE FROM review_queue WHERE candidate_student_id = ?1 AND state = 'pending'",
        [id.0],
    )?;
    tx.execute(
        "INSERT INTO audit_log (at_ms, actor, action, student_id, details)
         VALUES (?1, ?2, 'student_removed', ?3, ?4)",
        params![
            now,
            actor,
            id.0,
            format!("{name:?}; biometric data deleted, attendance kept")
        ],
    )?;
    Ok(())
}
