//! Moving a school over: copying a teacher's SQLite file into the store (normally the school's
//! server), in one transaction. Rows are matched by what identifies them outside the file, not
//! by the file's own ids, so importing the same file twice changes nothing:
//! - an encoder by its model id; a class by its name (and its roster key, OneRoster's sourcedId);
//! - a student by roster key, else school number, else name and the moment they were added;
//! - a session by its class and start time; a mark by its session and student;
//! - a consent by student, giver and time; a review and an audit entry by all their fields.
//!
//! Anything that matches but disagrees (a school number with another name, another enrollment
//! photo, a mark with another status, two open sessions of one class) is a conflict: nothing is
//! written, and every conflict is listed.

use std::collections::HashMap;

use super::db::{Db, OptionalExtension as _, Value, params};
use super::{Result, Store, StoreError};

/// What an import added, table by table (rows already there are counted as matched).
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct ImportReport {
    /// Rows added, by table.
    pub added: Vec<(String, usize)>,
    /// Rows that were there already, by table.
    pub matched: Vec<(String, usize)>,
}

impl ImportReport {
    /// Whether the import added nothing (the file was imported before).
    #[must_use]
    pub fn is_unchanged(&self) -> bool {
        self.added.iter().all(|(_, n)| *n == 0)
    }
}

#[derive(Default)]
struct Import {
    classes: HashMap<i64, i64>,
    students: HashMap<i64, i64>,
    sessions: HashMap<i64, i64>,
    added: Vec<(String, usize)>,
    matched: Vec<(String, usize)>,
    conflicts: Vec<String>,
}

impl Import {
    fn count(&mut self, table: &str, added: usize, matched: usize) {
        self.added.push((table.to_owned(), added));
        self.matched.push((table.to_owned(), matched));
    }

    fn student(&self, id: Option<i64>) -> Option<i64> {
        id.and_then(|id| self.students.get(&id).copied())
    }
}

impl Store {
    /// Copies everything in `source` (a teacher's file) into this store: encoders, classes,
    /// students, photos, embeddings, consent, sessions, marks, reviews, the audit log and who
    /// teaches what. Idempotent; refuses, changing nothing, when the two disagree.
    pub fn import_from(&self, source: &Store, source_name: &str) -> Result<ImportReport> {
        let src = source.db();
        let now = self.now_ms();
        self.in_transaction(|tx| {
            let mut im = Import::default();
            encoders(src, tx, &mut im)?;
            classes(src, tx, &mut im)?;
            students(src, tx, &mut im)?;
            memberships(src, tx, &mut im)?;
            enrollments(src, tx, &mut im)?;
            consents(src, tx, &mut im)?;
            sessions(src, tx, &mut im)?;
            marks(src, tx, &mut im)?;
            reviews(src, tx, &mut im)?;
            audit(src, tx, &mut im)?;
            teachers(src, tx, &mut im)?;
            if !im.conflicts.is_empty() {
                return Err(StoreError::Invalid(format!(
                    "{source_name} disagrees with this database in {} place(s), so nothing was \
                     imported:\n  {}",
                    im.conflicts.len(),
                    im.conflicts.join("\n  ")
                )));
            }
            let report = ImportReport {
                added: im.added,
                matched: im.matched,
            };
            if !report.is_unchanged() {
                let summary: Vec<String> = report
                    .added
                    .iter()
                    .filter(|(_, n)| *n > 0)
                    .map(|(t, n)| format!("{n} {t}"))
                    .collect();
                tx.execute(
                    "INSERT INTO audit_log (at_ms, actor, action, details)
                     VALUES (?1, ?3, 'imported', ?2)",
                    params![
                        now,
                        format!("from {source_name}: {}", summary.join(", ")),
                        self.actor()
                    ],
                )?;
            }
            Ok(report)
        })
    }
}

fn encoders(src: &Db, tx: &Db, im: &mut Import) -> Result<()> {
    let rows = src.query_map(
        "SELECT id, name, path, metric, dim, default_threshold, default_margin, created_ms
         FROM encoders ORDER BY id",
        [],
        |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, i64>(4)?,
                r.get::<_, f64>(5)?,
                r.get::<_, f64>(6)?,
                r.get::<_, i64>(7)?,
            ))
        },
    )?;
    let (mut added, mut matched) = (0, 0);
    for (id, name, path, metric, dim, threshold, margin, created) in rows {
        let there = tx
            .query_row(
                "SELECT metric, dim FROM encoders WHERE id = ?1",
                [id.as_str()],
                |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)),
            )
            .optional()?;
        match there {
            Some((m, d)) if m == metric && d == dim => matched += 1,
            Some((m, d)) => im.conflicts.push(format!(
                "encoder {id}: {metric} {dim}-D in the file, {m} {d}-D here"
            )),
            None => {
                // The server's active encoder stays as it is.
                tx.execute(
                    "INSERT INTO encoders (id, name, path, metric, dim, default_threshold,
                       default_margin, is_active, created_ms)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 0, ?8)",
                    params![id, name, path, metric, dim, threshold, margin, created],
                )?;
                added += 1;
            }
        }
    }
    im.count("encoders", added, matched);
    Ok(())
}

fn classes(src: &Db, tx: &Db, im: &mut Import) -> Result<()> {
    let rows = src.query_map(
        "SELECT id, name, threshold_override, late_after_minutes, created_ms, sourced_id,
                class_code, school, term FROM classes ORDER BY id",
        [],
        |r| {
            Ok((
                (
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, Option<f64>>(2)?,
                    r.get::<_, i64>(3)?,
                    r.get::<_, i64>(4)?,
                ),
                [
                    r.get::<_, Option<String>>(5)?,
                    r.get::<_, Option<String>>(6)?,
                    r.get::<_, Option<String>>(7)?,
                    r.get::<_, Option<String>>(8)?,
                ],
            ))
        },
    )?;
    let (mut added, mut matched) = (0, 0);
    for ((id, name, threshold, late, created), [sourced, code, school, term]) in rows {
        let there = tx
            .query_row(
                "SELECT id, sourced_id FROM classes WHERE name = ?1",
                [name.as_str()],
                |r| Ok((r.get::<_, i64>(0)?, r.get::<_, Option<String>>(1)?)),
            )
            .optional()?;
        // A roster key (OneRoster sourcedId) must not name two classes.
        let keyed = match &sourced {
            Some(k) => tx
                .query_row(
                    "SELECT name FROM classes WHERE sourced_id = ?1",
                    [k.as_str()],
                    |r| r.get::<_, String>(0),
                )
                .optional()?
                .filter(|n| *n != name),
            None => None,
        };
        if let Some(other) = keyed {
            im.conflicts.push(format!(
                "class {name:?}: its roster key {} is class {other:?} here",
                sourced.as_deref().unwrap_or("")
            ));
            continue;
        }
        let target = if let Some((t, there_key)) = there {
            match (&there_key, &sourced) {
                (Some(a), Some(b)) if a != b => im.conflicts.push(format!(
                    "class {name:?}: roster key {b} in the file, {a} here"
                )),
                // The file knows the class's roster keys and the server does not yet.
                (None, Some(_)) => {
                    tx.execute(
                        "UPDATE classes SET sourced_id = ?2, class_code = ?3, school = ?4,
                           term = ?5 WHERE id = ?1",
                        params![t, sourced, code, school, term],
                    )?;
                }
                _ => {}
            }
            matched += 1;
            t
        } else {
            added += 1;
            tx.query_row(
                "INSERT INTO classes (name, threshold_override, late_after_minutes, created_ms,
                   sourced_id, class_code, school, term)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) RETURNING id",
                params![name, threshold, late, created, sourced, code, school, term],
                |r| r.get(0),
            )?
        };
        im.classes.insert(id, target);
    }
    im.count("classes", added, matched);
    Ok(())
}

fn students(src: &Db, tx: &Db, im: &mut Import) -> Result<()> {
    let rows = src.query_map(
        "SELECT id, display_name, external_id, created_ms, removed_ms, sourced_id FROM students
         ORDER BY id",
        [],
        |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, Option<String>>(2)?,
                r.get::<_, i64>(3)?,
                r.get::<_, Option<i64>>(4)?,
                r.get::<_, Option<String>>(5)?,
            ))
        },
    )?;
    let (mut added, mut matched) = (0, 0);
    for (id, name, external, created, removed, sourced) in rows {
        let by_key = match &sourced {
            Some(k) => tx
                .query_row(
                    "SELECT id, display_name, external_id FROM students WHERE sourced_id = ?1",
                    [k.as_str()],
                    |r| {
                        Ok((
                            r.get::<_, i64>(0)?,
                            r.get::<_, String>(1)?,
                            r.get::<_, Option<String>>(2)?,
                        ))
                    },
                )
                .optional()?,
            None => None,
        };
        if let Some((t, there_name, there_ext)) = by_key {
            if there_name == name && there_ext == external {
                matched += 1;
                im.students.insert(id, t);
            } else {
                im.conflicts.push(format!(
                    "roster key {}: {name:?} in the file, {there_name:?} here",
                    sourced.as_deref().unwrap_or("")
                ));
            }
            continue;
        }
        let there = match &external {
            Some(ext) => tx
                .query_row(
                    "SELECT id, display_name FROM students WHERE external_id = ?1",
                    [ext.as_str()],
                    |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)),
                )
                .optional()?,
            None => tx
                .query_row(
                    "SELECT id, display_name FROM students
                     WHERE external_id IS NULL AND display_name = ?1 AND created_ms = ?2",
                    params![name, created],
                    |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)),
                )
                .optional()?,
        };
        match there {
            Some((t, there_name)) if there_name == name => {
                matched += 1;
                if sourced.is_some() {
                    // The file knows the student's roster key and the server does not yet.
                    tx.execute(
                        "UPDATE students SET sourced_id = ?2 WHERE id = ?1 AND sourced_id IS NULL",
                        params![t, sourced],
                    )?;
                }
                im.students.insert(id, t);
            }
            Some((_, there_name)) => im.conflicts.push(format!(
                "school number {}: {name:?} in the file, {there_name:?} here",
                external.as_deref().unwrap_or("")
            )),
            None => {
                added += 1;
                let t = tx.query_row(
                    "INSERT INTO students (display_name, external_id, created_ms, removed_ms,
                       sourced_id)
                     VALUES (?1, ?2, ?3, ?4, ?5) RETURNING id",
                    params![name, external, created, removed, sourced],
                    |r| r.get(0),
                )?;
                im.students.insert(id, t);
            }
        }
    }
    im.count("students", added, matched);
    Ok(())
}

fn memberships(src: &Db, tx: &Db, im: &mut Import) -> Result<()> {
    let rows = src.query_map(
        "SELECT class_id, student_id, joined_ms FROM class_members ORDER BY class_id, student_id",
        [],
        |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, i64>(2)?,
            ))
        },
    )?;
    let (mut added, mut matched) = (0, 0);
    for (class, student, joined) in rows {
        let (Some(&c), Some(s)) = (im.classes.get(&class), im.student(Some(student))) else {
            continue;
        };
        let n = tx.execute(
            "INSERT INTO class_members (class_id, student_id, joined_ms) VALUES (?1, ?2, ?3)
             ON CONFLICT DO NOTHING",
            params![c, s, joined],
        )?;
        tally(n, &mut added, &mut matched);
    }
    im.count("class memberships", added, matched);
    let rows = src.query_map(
        "SELECT class_id, student_id, joined_ms, left_ms FROM past_members
         ORDER BY class_id, student_id, joined_ms",
        [],
        |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, i64>(2)?,
                r.get::<_, i64>(3)?,
            ))
        },
    )?;
    let (mut added, mut matched) = (0, 0);
    for (class, student, joined, left) in rows {
        let (Some(&c), Some(s)) = (im.classes.get(&class), im.student(Some(student))) else {
            continue;
        };
        let n = tx.execute(
            "INSERT INTO past_members (class_id, student_id, joined_ms, left_ms)
             VALUES (?1, ?2, ?3, ?4) ON CONFLICT DO NOTHING",
            params![c, s, joined, left],
        )?;
        tally(n, &mut added, &mut matched);
    }
    im.count("past memberships", added, matched);
    Ok(())
}

fn enrollments(src: &Db, tx: &Db, im: &mut Import) -> Result<()> {
    let rows = src.query_map(
        "SELECT student_id, photo, photo_format, face_crop, quality_json, enrolled_ms
         FROM enrollments ORDER BY student_id",
        [],
        |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, Vec<u8>>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, Option<Vec<u8>>>(3)?,
                r.get::<_, Option<String>>(4)?,
                r.get::<_, i64>(5)?,
            ))
        },
    )?;
    let (mut added, mut matched) = (0, 0);
    for (student, photo, format, crop, quality, enrolled) in rows {
        let Some(s) = im.student(Some(student)) else {
            continue;
        };
        let there = tx
            .query_row(
                "SELECT photo FROM enrollments WHERE student_id = ?1",
                [s],
                |r| r.get::<_, Vec<u8>>(0),
            )
            .optional()?;
        match there {
            Some(p) if p == photo => matched += 1,
            Some(_) => im.conflicts.push(format!(
                "student #{s} here has another enrollment photo than in the file"
            )),
            None => {
                tx.execute(
                    "INSERT INTO enrollments (student_id, photo, photo_format, face_crop,
                       quality_json, enrolled_ms)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                    params![s, photo, format, crop, quality, enrolled],
                )?;
                added += 1;
            }
        }
    }
    im.count("enrollment photos", added, matched);
    let rows = src.query_map(
        "SELECT student_id, model_id, vector, created_ms FROM embeddings ORDER BY student_id, model_id",
        [],
        |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, Vec<u8>>(2)?,
                r.get::<_, i64>(3)?,
            ))
        },
    )?;
    let (mut added, mut matched) = (0, 0);
    for (student, model, vector, created) in rows {
        let Some(s) = im.student(Some(student)) else {
            continue;
        };
        let n = tx.execute(
            "INSERT INTO embeddings (student_id, model_id, vector, created_ms) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT DO NOTHING",
            params![s, model, vector, created],
        )?;
        tally(n, &mut added, &mut matched);
    }
    im.count("embeddings", added, matched);
    Ok(())
}

fn consents(src: &Db, tx: &Db, im: &mut Import) -> Result<()> {
    let rows = src.query_map(
        "SELECT student_id, given_by, purpose, given_ms, withdrawn_ms FROM consents ORDER BY id",
        [],
        |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, i64>(3)?,
                r.get::<_, Option<i64>>(4)?,
            ))
        },
    )?;
    let (mut added, mut matched) = (0, 0);
    for (student, given_by, purpose, given, withdrawn) in rows {
        let Some(s) = im.student(Some(student)) else {
            continue;
        };
        let there = tx
            .query_row(
                "SELECT id, withdrawn_ms FROM consents
                 WHERE student_id = ?1 AND given_by = ?2 AND given_ms = ?3",
                params![s, given_by, given],
                |r| Ok((r.get::<_, i64>(0)?, r.get::<_, Option<i64>>(1)?)),
            )
            .optional()?;
        match there {
            Some((_, w)) if w == withdrawn => matched += 1,
            Some((id, None)) => {
                // Withdrawn in the file: the withdrawal counts (consent is never widened).
                tx.execute(
                    "UPDATE consents SET withdrawn_ms = ?2 WHERE id = ?1",
                    params![id, withdrawn],
                )?;
                added += 1;
            }
            Some(_) => matched += 1,
            None => {
                tx.execute(
                    "INSERT INTO consents (student_id, given_by, purpose, given_ms, withdrawn_ms)
                     VALUES (?1, ?2, ?3, ?4, ?5)",
                    params![s, given_by, purpose, given, withdrawn],
                )?;
                added += 1;
            }
        }
    }
    im.count("consents", added, matched);
    Ok(())
}

fn sessions(src: &Db, tx: &Db, im: &mut Import) -> Result<()> {
    let rows = src.query_map(
        "SELECT id, class_id, started_ms, ended_ms, model_id, threshold, margin, late_after_minutes
         FROM sessions ORDER BY id",
        [],
        |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, i64>(2)?,
                r.get::<_, Option<i64>>(3)?,
                r.get::<_, Option<String>>(4)?,
                r.get::<_, Option<f64>>(5)?,
                r.get::<_, Option<f64>>(6)?,
                r.get::<_, i64>(7)?,
            ))
        },
    )?;
    let (mut added, mut matched) = (0, 0);
    for (id, class, started, ended, model, threshold, margin, late) in rows {
        let Some(&c) = im.classes.get(&class) else {
            continue;
        };
        let there = tx
            .query_row(
                "SELECT id FROM sessions WHERE class_id = ?1 AND started_ms = ?2",
                params![c, started],
                |r| r.get::<_, i64>(0),
            )
            .optional()?;
        if let Some(t) = there {
            // A lesson that ended while the server was away ends here too.
            let n = tx.execute(
                "UPDATE sessions SET ended_ms = ?2 WHERE id = ?1 AND ended_ms IS NULL
                   AND CAST(?2 AS BIGINT) IS NOT NULL",
                params![t, ended],
            )?;
            tally(n, &mut added, &mut matched);
            im.sessions.insert(id, t);
            continue;
        }
        if ended.is_none()
            && let Some(open) = tx
                .query_row(
                    "SELECT id FROM sessions WHERE class_id = ?1 AND ended_ms IS NULL",
                    [c],
                    |r| r.get::<_, i64>(0),
                )
                .optional()?
        {
            im.conflicts.push(format!(
                "class #{c} has an open session here (#{open}) and another in the file; stop one first"
            ));
            continue;
        }
        let t = tx.query_row(
            "INSERT INTO sessions (class_id, started_ms, ended_ms, model_id, threshold, margin,
               late_after_minutes)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) RETURNING id",
            params![c, started, ended, model, threshold, margin, late],
            |r| r.get(0),
        )?;
        added += 1;
        im.sessions.insert(id, t);
    }
    im.count("sessions", added, matched);
    Ok(())
}

fn marks(src: &Db, tx: &Db, im: &mut Import) -> Result<()> {
    let rows = src.query_map(
        "SELECT session_id, student_id, status, source, marked_ms, last_seen_ms, score, margin,
           runner_up_student_id, runner_up_score, model_id, frame_ms, evidence_crop
         FROM marks ORDER BY id",
        [],
        |r| Ok(r.values()),
    )?;
    let (mut added, mut matched) = (0, 0);
    for v in rows {
        let (Value::Int(session), Value::Int(student), Value::Text(status)) = (&v[0], &v[1], &v[2])
        else {
            continue;
        };
        let (Some(&x), Some(s)) = (im.sessions.get(session), im.student(Some(*student))) else {
            continue;
        };
        let there = tx
            .query_row(
                "SELECT status FROM marks WHERE session_id = ?1 AND student_id = ?2",
                params![x, s],
                |r| r.get::<_, String>(0),
            )
            .optional()?;
        match there {
            Some(st) if st == *status => matched += 1,
            Some(st) => im.conflicts.push(format!(
                "student #{s} in session #{x}: {status} in the file, {st} here"
            )),
            None => {
                let runner_up = match &v[8] {
                    Value::Int(r) => im.student(Some(*r)),
                    _ => None,
                };
                tx.execute(
                    "INSERT INTO marks (session_id, student_id, status, source, marked_ms,
                       last_seen_ms, score, margin, runner_up_student_id, runner_up_score,
                       model_id, frame_ms, evidence_crop)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
                    params![
                        x,
                        s,
                        v[2].clone(),
                        v[3].clone(),
                        v[4].clone(),
                        v[5].clone(),
                        v[6].clone(),
                        v[7].clone(),
                        runner_up,
                        v[9].clone(),
                        v[10].clone(),
                        v[11].clone(),
                        v[12].clone()
                    ],
                )?;
                added += 1;
            }
        }
    }
    im.count("marks", added, matched);
    Ok(())
}

fn reviews(src: &Db, tx: &Db, im: &mut Import) -> Result<()> {
    let rows = src.query_map(
        "SELECT session_id, candidate_student_id, score, margin, runner_up_student_id,
           runner_up_score, model_id, reason, frame_ms, face_crop, state, created_ms, resolved_ms
         FROM review_queue ORDER BY id",
        [],
        |r| Ok(r.values()),
    )?;
    let (mut added, mut matched) = (0, 0);
    for v in rows {
        let Value::Int(session) = &v[0] else { continue };
        let Some(&x) = im.sessions.get(session) else {
            continue;
        };
        let student = |value: &Value| match value {
            Value::Int(id) => im.student(Some(*id)),
            _ => None,
        };
        let (candidate, runner_up) = (student(&v[1]), student(&v[4]));
        let there: bool = tx.query_row(
            "SELECT EXISTS (SELECT 1 FROM review_queue WHERE session_id = ?1 AND frame_ms = ?2
               AND created_ms = ?3 AND reason = ?4)",
            params![x, v[8].clone(), v[11].clone(), v[7].clone()],
            |r| r.get(0),
        )?;
        if there {
            matched += 1;
            continue;
        }
        tx.execute(
            "INSERT INTO review_queue (session_id, candidate_student_id, score, margin,
               runner_up_student_id, runner_up_score, model_id, reason, frame_ms, face_crop, state,
               created_ms, resolved_ms)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
            params![
                x,
                candidate,
                v[2].clone(),
                v[3].clone(),
                runner_up,
                v[5].clone(),
                v[6].clone(),
                v[7].clone(),
                v[8].clone(),
                v[9].clone(),
                v[10].clone(),
                v[11].clone(),
                v[12].clone()
            ],
        )?;
        added += 1;
    }
    im.count("reviews", added, matched);
    Ok(())
}

fn audit(src: &Db, tx: &Db, im: &mut Import) -> Result<()> {
    let rows = src.query_map(
        "SELECT at_ms, actor, action, session_id, student_id, details FROM audit_log ORDER BY id",
        [],
        |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, Option<i64>>(3)?,
                r.get::<_, Option<i64>>(4)?,
                r.get::<_, String>(5)?,
            ))
        },
    )?;
    let (mut added, mut matched) = (0, 0);
    for (at, actor, action, session, student, details) in rows {
        // An entry about a session or student keeps pointing at it (by its id here); one about
        // something since deleted keeps its text.
        let session = session.and_then(|s| im.sessions.get(&s).copied());
        let student = im.student(student);
        let there: bool = tx.query_row(
            "SELECT EXISTS (SELECT 1 FROM audit_log WHERE at_ms = ?1 AND actor = ?2 AND action = ?3
               AND details = ?4)",
            params![at, actor, action, details],
            |r| r.get(0),
        )?;
        if there {
            matched += 1;
            continue;
        }
        tx.execute(
            "INSERT INTO audit_log (at_ms, actor, action, session_id, student_id, details)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![at, actor, action, session, student, details],
        )?;
        added += 1;
    }
    im.count("audit entries", added, matched);
    Ok(())
}

fn teachers(src: &Db, tx: &Db, im: &mut Import) -> Result<()> {
    let rows = src.query_map(
        "SELECT class_id, teacher, user_sourced_id FROM class_teachers ORDER BY class_id, teacher",
        [],
        |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, Option<String>>(2)?,
            ))
        },
    )?;
    let (mut added, mut matched) = (0, 0);
    for (class, teacher, user) in rows {
        let Some(&c) = im.classes.get(&class) else {
            continue;
        };
        let n = tx.execute(
            "INSERT INTO class_teachers (class_id, teacher, user_sourced_id) VALUES (?1, ?2, ?3)
             ON CONFLICT DO NOTHING",
            params![c, teacher, user],
        )?;
        tally(n, &mut added, &mut matched);
    }
    im.count("class teachers", added, matched);
    Ok(())
}

/// Counts one `INSERT … ON CONFLICT DO NOTHING` (or conditional `UPDATE`): a changed row was
/// added, an unchanged one was there already.
fn tally(changed: usize, added: &mut usize, matched: &mut usize) {
    if changed == 1 {
        *added += 1;
    } else {
        *matched += 1;
    }
}
