//! Classes: add, list, find, configure, remove.

use super::db::{OptionalExtension as _, params};

use super::{Result, Store, StoreError, duplicate_or};
use crate::core::ClassId;

/// A class as listed.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct ClassRow {
    /// Database id.
    pub id: ClassId,
    /// Name, for example "7B".
    pub name: String,
    /// Per-class threshold override.
    pub threshold_override: Option<f32>,
    /// Minutes after which an automatic mark is late.
    pub late_after_minutes: u32,
    /// Current (not removed) students.
    pub student_count: usize,
    /// Sessions held.
    pub session_count: usize,
}

const SELECT: &str = "SELECT c.id, c.name, c.threshold_override, c.late_after_minutes,
        (SELECT count(*) FROM class_members m JOIN students s ON s.id = m.student_id
          WHERE m.class_id = c.id AND s.removed_ms IS NULL),
        (SELECT count(*) FROM sessions x WHERE x.class_id = c.id)
     FROM classes c";

fn row(r: &super::db::Row) -> super::db::DbResult<ClassRow> {
    Ok(ClassRow {
        id: ClassId(r.get(0)?),
        name: r.get(1)?,
        threshold_override: r.get::<_, Option<f64>>(2)?.map(|v| v as f32),
        late_after_minutes: r.get::<_, i64>(3)?.clamp(0, i64::from(u32::MAX)) as u32,
        student_count: r.get::<_, i64>(4)?.max(0) as usize,
        session_count: r.get::<_, i64>(5)?.max(0) as usize,
    })
}

impl Store {
    /// Adds a class. Names are trimmed and must be unique.
    pub fn add_class(&self, name: &str) -> Result<ClassId> {
        let name = clean_name(name, "class name")?;
        let id = self
            .db()
            .query_row(
                "INSERT INTO classes (name, created_ms) VALUES (?1, ?2) RETURNING id",
                params![name, self.now_ms()],
                |r| r.get(0),
            )
            .map_err(|err| duplicate_or(err, "class", &name))?;
        Ok(ClassId(id))
    }

    /// All classes, by name.
    pub fn list_classes(&self) -> Result<Vec<ClassRow>> {
        Ok(self
            .db()
            .query_map(&format!("{SELECT} ORDER BY lower(c.name), c.id"), [], row)?)
    }

    /// Finds a class by exact name (case-insensitive) or by numeric id.
    pub fn find_class(&self, key: &str) -> Result<ClassRow> {
        let key = key.trim();
        let by_name = self
            .db()
            .query_row(
                &format!("{SELECT} WHERE lower(c.name) = lower(?1)"),
                [key],
                row,
            )
            .optional()?;
        if let Some(c) = by_name {
            return Ok(c);
        }
        if let Ok(id) = key.trim_start_matches('#').parse::<i64>()
            && let Some(c) = self
                .db()
                .query_row(&format!("{SELECT} WHERE c.id = ?1"), [id], row)
                .optional()?
        {
            return Ok(c);
        }
        Err(StoreError::NotFound {
            what: "class",
            key: key.to_owned(),
        })
    }

    /// A class by id.
    pub fn class(&self, id: ClassId) -> Result<ClassRow> {
        self.db()
            .query_row(&format!("{SELECT} WHERE c.id = ?1"), [id.0], row)
            .optional()?
            .ok_or_else(|| class_not_found(id))
    }

    /// Sets or clears the per-class threshold override.
    pub fn set_class_threshold(&self, id: ClassId, threshold: Option<f32>) -> Result<()> {
        if let Some(t) = threshold
            && !(t.is_finite() && t > 0.0)
        {
            return Err(StoreError::Invalid(format!(
                "threshold must be a positive number, not {t}"
            )));
        }
        let n = self.db().execute(
            "UPDATE classes SET threshold_override = ?2 WHERE id = ?1",
            params![id.0, threshold.map(f64::from)],
        )?;
        class_updated(n, id)
    }

    /// Sets after how many minutes an automatic mark counts as late.
    pub fn set_class_late_after(&self, id: ClassId, minutes: u32) -> Result<()> {
        let n = self.db().execute(
            "UPDATE classes SET late_after_minutes = ?2 WHERE id = ?1",
            params![id.0, minutes],
        )?;
        class_updated(n, id)
    }

    /// Removes a class. A class with sessions keeps its attendance history and is refused
    /// unless `with_history` is set, in which case its sessions and marks go too.
    pub fn remove_class(&self, id: ClassId, with_history: bool) -> Result<()> {
        let class = self.class(id)?;
        if class.session_count > 0 && !with_history {
            return Err(StoreError::Invalid(format!(
                "class {} has {} session(s) of attendance history; export it first, then remove the \
                 class with its history (--with-history)",
                class.name, class.session_count
            )));
        }
        let now = self.now_ms();
        self.in_transaction(|tx| {
            tx.execute("DELETE FROM sessions WHERE class_id = ?1", [id.0])?;
            tx.execute("DELETE FROM classes WHERE id = ?1", [id.0])?;
            tx.execute(
                "INSERT INTO audit_log (at_ms, actor, action, details) VALUES (?1, ?3, 'class_removed', ?2)",
                params![now, format!("class {:?} with {} session(s)", class.name, class.session_count), self.actor()],
            )?;
            Ok(())
        })
    }
}

/// Trims a user-given name and refuses empty names and control characters other than spaces.
pub(crate) fn clean_name(name: &str, what: &str) -> Result<String> {
    let trimmed = name.trim();
    if trimmed.is_empty() {
        return Err(StoreError::Invalid(format!("the {what} cannot be empty")));
    }
    if trimmed.chars().any(char::is_control) {
        return Err(StoreError::Invalid(format!(
            "the {what} {trimmed:?} contains a line break or control character"
        )));
    }
    if trimmed.chars().count() > 200 {
        return Err(StoreError::Invalid(format!(
            "the {what} is longer than 200 characters"
        )));
    }
    Ok(trimmed.to_owned())
}

fn class_not_found(id: ClassId) -> StoreError {
    StoreError::NotFound {
        what: "class",
        key: id.to_string(),
    }
}

/// `Ok` when an `UPDATE … WHERE id = ?` changed a row, else "class not found".
fn class_updated(rows: usize, id: ClassId) -> Result<()> {
    if rows == 0 {
        Err(class_not_found(id))
    } else {
        Ok(())
    }
}
