//! CSV export of attendance (RFC 4180 via the csv crate): a long format (one row per
//! session × student) and a matrix (students × sessions). Never contains photos or embeddings.
//! Cells that a spreadsheet would run as a formula are neutralised.

use std::collections::HashMap;
use std::io::Write;

use super::db::params;
use chrono::TimeZone;

use super::marks::MarkRow;
use super::{Result, SessionRow, Store, StoreError};
use crate::core::{ClassId, SessionId, Status, StudentId};

/// The two layouts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum ExportFormat {
    /// One row per session × student.
    #[default]
    Long,
    /// One row per student, one column per session.
    Matrix,
    /// One row per student per finished session, with the school's attendance codes (Settings)
    /// and the keys its information system knows: school number, sourcedIds, class code.
    Sis,
}

/// Which sessions to export.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ExportFilter {
    /// Only this class.
    pub class: Option<ClassId>,
    /// Only this session.
    pub session: Option<SessionId>,
    /// Sessions started at or after this time.
    pub from_ms: Option<i64>,
    /// Sessions started before this time.
    pub to_ms: Option<i64>,
}

/// Export settings.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ExportOptions {
    /// Layout.
    pub format: ExportFormat,
    /// Write a UTF-8 byte-order mark first (for spreadsheet programs that need it).
    pub bom: bool,
    /// Which sessions.
    pub filter: ExportFilter,
}

/// What was written.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ExportSummary {
    /// Data rows (without the header).
    pub rows: usize,
    /// Sessions covered.
    pub sessions: usize,
    /// Distinct students covered.
    pub students: usize,
    /// Sessions still open, left out of an information-system export (their roll is not final).
    pub open_left_out: usize,
}

/// One expected student of a session and their mark, if any.
#[derive(Clone, Debug, PartialEq)]
pub struct RollEntry {
    /// The student.
    pub student: StudentId,
    /// Their name.
    pub name: String,
    /// Their school number.
    pub external_id: Option<String>,
    /// Their key in the school's information system.
    pub sourced_id: Option<String>,
    /// Their mark; `None` means not (yet) seen, which counts as absent.
    pub mark: Option<MarkRow>,
}

impl RollEntry {
    /// The status, with "no mark" as absent.
    #[must_use]
    pub fn status(&self) -> Status {
        self.mark.as_ref().map_or(Status::Absent, |m| m.status)
    }
}

/// Header of the long format.
pub const LONG_HEADER: [&str; 13] = [
    "date",
    "class",
    "session",
    "student_id",
    "external_id",
    "name",
    "status",
    "time",
    "source",
    "score",
    "margin",
    "student_sourced_id",
    "class_sourced_id",
];

/// The columns of the information-system export (see the README for how two systems map them).
pub const SIS_HEADER: [&str; 12] = [
    "school_number",
    "student_sourced_id",
    "student_name",
    "school",
    "class_sourced_id",
    "class_code",
    "class",
    "date",
    "start_time",
    "session",
    "code",
    "status",
];

/// Makes a cell safe for spreadsheets: a cell starting with `=`, `+`, `-`, `@`, tab or carriage
/// return gets a leading apostrophe, so it is shown as text instead of run as a formula.
#[must_use]
pub fn neutralize(cell: &str) -> std::borrow::Cow<'_, str> {
    match cell.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{cell}").into(),
        _ => cell.into(),
    }
}

impl Store {
    /// The students expected in a session (members of its class at the time, those who left
    /// it later included, plus anyone with a mark), with their marks, by name.
    pub fn session_roll(&self, session: SessionId) -> Result<Vec<RollEntry>> {
        let s = self.session(session)?;
        let until = s
            .ended_ms
            .unwrap_or_else(|| self.now_ms().max(s.started_ms));
        let students = self.db().query_map(
            "SELECT s.id, s.display_name, s.external_id, s.sourced_id FROM class_members m JOIN students s ON s.id = m.student_id
             WHERE m.class_id = ?1 AND m.joined_ms <= ?2 AND (s.removed_ms IS NULL OR s.removed_ms > ?3)
             UNION
             SELECT s.id, s.display_name, s.external_id, s.sourced_id FROM past_members p JOIN students s ON s.id = p.student_id
             WHERE p.class_id = ?1 AND p.joined_ms <= ?2 AND p.left_ms > ?3
               AND (s.removed_ms IS NULL OR s.removed_ms > ?3)
             UNION
             SELECT s.id, s.display_name, s.external_id, s.sourced_id FROM marks k JOIN students s ON s.id = k.student_id
             WHERE k.session_id = ?4",
            params![s.class_id.0, until, s.started_ms, session.0],
            |r| {
                Ok((
                    StudentId(r.get(0)?),
                    r.get::<_, String>(1)?,
                    r.get::<_, Option<String>>(2)?,
                    r.get::<_, Option<String>>(3)?,
                ))
            },
        )?;
        let mut marks: HashMap<StudentId, MarkRow> = self
            .marks(session)?
            .into_iter()
            .map(|m| (m.student, m))
            .collect();
        let mut roll = Vec::new();
        for st in students {
            let (student, name, external_id, sourced_id) = st;
            roll.push(RollEntry {
                student,
                name,
                external_id,
                sourced_id,
                mark: marks.remove(&student),
            });
        }
        roll.sort_by(|a, b| {
            a.name
                .to_lowercase()
                .cmp(&b.name.to_lowercase())
                .then(a.student.cmp(&b.student))
        });
        Ok(roll)
    }

    fn export_sessions(&self, filter: &ExportFilter) -> Result<Vec<SessionRow>> {
        let mut sessions = match filter.session {
            Some(id) => {
                let s = self.session(id)?;
                if filter.class.is_some_and(|c| c != s.class_id) {
                    return Err(StoreError::Invalid(format!(
                        "session #{id} does not belong to that class"
                    )));
                }
                vec![s]
            }
            None => self.list_sessions(filter.class, filter.from_ms, filter.to_ms)?,
        };
        sessions.sort_by_key(|s| (s.started_ms, s.id));
        Ok(sessions)
    }

    /// Writes the attendance selected by `options` as CSV to `out`, with times in `tz`.
    #[allow(clippy::too_many_lines)] // one pass over the rows shared by the three layouts
    pub fn export_csv<W: Write, Tz: TimeZone>(
        &self,
        options: &ExportOptions,
        tz: &Tz,
        mut out: W,
    ) -> Result<ExportSummary>
    where
        Tz::Offset: std::fmt::Display,
    {
        let sessions = self.export_sessions(&options.filter)?;
        if options.bom {
            out.write_all(b"\xEF\xBB\xBF")
                .map_err(|source| StoreError::Io {
                    context: "writing the CSV".into(),
                    source,
                })?;
        }
        let mut w = csv::WriterBuilder::new()
            .terminator(csv::Terminator::CRLF)
            .from_writer(out);
        let csv_err = |err: csv::Error| StoreError::Io {
            context: "writing the CSV".into(),
            source: std::io::Error::other(err.to_string()),
        };
        let date = |ms: i64| {
            tz.timestamp_millis_opt(ms)
                .single()
                .map(|t| t.format("%Y-%m-%d").to_string())
                .unwrap_or_default()
        };
        let time = |ms: i64| {
            tz.timestamp_millis_opt(ms)
                .single()
                .map(|t| t.format("%H:%M:%S").to_string())
                .unwrap_or_default()
        };
        let num = |v: Option<f32>| {
            v.filter(|x| x.is_finite())
                .map(|x| format!("{x:.4}"))
                .unwrap_or_default()
        };

        let mut summary = ExportSummary {
            sessions: sessions.len(),
            ..ExportSummary::default()
        };
        let mut seen_students = std::collections::HashSet::new();
        match options.format {
            ExportFormat::Long => {
                w.write_record(LONG_HEADER).map_err(csv_err)?;
                for s in &sessions {
                    let class_sourced_id =
                        self.class_keys(s.class_id)?.sourced_id.unwrap_or_default();
                    for e in self.session_roll(s.id)? {
                        seen_students.insert(e.student);
                        let m = e.mark.as_ref();
                        let record = [
                            date(s.started_ms),
                            s.class_name.clone(),
                            s.id.to_string(),
                            e.student.to_string(),
                            e.external_id.clone().unwrap_or_default(),
                            e.name.clone(),
                            e.status().to_string(),
                            m.map(|m| time(m.frame_ms.unwrap_or(m.marked_ms)))
                                .unwrap_or_default(),
                            m.map(|m| m.source.to_string()).unwrap_or_default(),
                            num(m.and_then(|m| m.score)),
                            num(m.and_then(|m| m.margin)),
                            e.sourced_id.clone().unwrap_or_default(),
                            class_sourced_id.clone(),
                        ];
                        w.write_record(record.iter().map(|c| neutralize(c).into_owned()))
                            .map_err(csv_err)?;
                        summary.rows += 1;
                    }
                }
            }
            ExportFormat::Sis => {
                let codes = self.settings()?.sis_codes;
                w.write_record(SIS_HEADER).map_err(csv_err)?;
                for s in &sessions {
                    if s.ended_ms.is_none() {
                        summary.open_left_out += 1;
                        continue;
                    }
                    let class = self.class_keys(s.class_id)?;
                    let start = tz
                        .timestamp_millis_opt(s.started_ms)
                        .single()
                        .map(|t| t.format("%H:%M").to_string())
                        .unwrap_or_default();
                    for e in self.session_roll(s.id)? {
                        seen_students.insert(e.student);
                        let status = e.status();
                        let record = [
                            e.external_id.clone().unwrap_or_default(),
                            e.sourced_id.clone().unwrap_or_default(),
                            e.name.clone(),
                            class.school.clone().unwrap_or_default(),
                            class.sourced_id.clone().unwrap_or_default(),
                            class.class_code.clone().unwrap_or_default(),
                            s.class_name.clone(),
                            date(s.started_ms),
                            start.clone(),
                            s.id.to_string(),
                            codes.code(status).to_owned(),
                            status.to_string(),
                        ];
                        w.write_record(record.iter().map(|c| neutralize(c).into_owned()))
                            .map_err(csv_err)?;
                        summary.rows += 1;
                    }
                }
                summary.sessions -= summary.open_left_out;
            }
            ExportFormat::Matrix => {
                let mut students: Vec<(StudentId, String, Option<String>)> = Vec::new();
                let mut cells: HashMap<(StudentId, SessionId), Status> = HashMap::new();
                for s in &sessions {
                    for e in self.session_roll(s.id)? {
                        if seen_students.insert(e.student) {
                            students.push((e.student, e.name.clone(), e.external_id.clone()));
                        }
                        cells.insert((e.student, s.id), e.status());
                    }
                }
                students.sort_by(|a, b| {
                    a.1.to_lowercase()
                        .cmp(&b.1.to_lowercase())
                        .then(a.0.cmp(&b.0))
                });
                let mut header = vec![
                    "student_id".to_owned(),
                    "external_id".to_owned(),
                    "name".to_owned(),
                ];
                for s in &sessions {
                    let start = tz.timestamp_millis_opt(s.started_ms).single();
                    let when = start
                        .map(|t| t.format("%Y-%m-%d %H:%M").to_string())
                        .unwrap_or_default();
                    header.push(format!("{when} {} #{}", s.class_name, s.id));
                }
                header.extend([
                    "attended".to_owned(),
                    "expected".to_owned(),
                    "rate".to_owned(),
                ]);
                w.write_record(header.iter().map(|c| neutralize(c).into_owned()))
                    .map_err(csv_err)?;
                for (id, name, external) in &students {
                    let mut record = vec![
                        id.to_string(),
                        external.clone().unwrap_or_default(),
                        name.clone(),
                    ];
                    let (mut attended, mut expected) = (0usize, 0usize);
                    for s in &sessions {
                        match cells.get(&(*id, s.id)) {
                            Some(status) => {
                                expected += usize::from(*status != Status::Excused);
                                attended += usize::from(status.is_attending());
                                record.push(status.to_string());
                            }
                            None => record.push(String::new()),
                        }
                    }
                    let rate = if expected == 0 {
                        String::new()
                    } else {
                        format!("{:.1}%", 100.0 * attended as f64 / expected as f64)
                    };
                    record.extend([attended.to_string(), expected.to_string(), rate]);
                    w.write_record(record.iter().map(|c| neutralize(c).into_owned()))
                        .map_err(csv_err)?;
                    summary.rows += 1;
                }
            }
        }
        summary.students = seen_students.len();
        w.flush().map_err(|source| StoreError::Io {
            context: "writing the CSV".into(),
            source,
        })?;
        Ok(summary)
    }
}

/// What a class is called in the school's information system.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct ClassKeys {
    sourced_id: Option<String>,
    class_code: Option<String>,
    school: Option<String>,
}

impl Store {
    fn class_keys(&self, class: ClassId) -> Result<ClassKeys> {
        Ok(self.db().query_row(
            "SELECT sourced_id, class_code, school FROM classes WHERE id = ?1",
            [class.0],
            |r| {
                Ok(ClassKeys {
                    sourced_id: r.get(0)?,
                    class_code: r.get(1)?,
                    school: r.get(2)?,
                })
            },
        )?)
    }

    /// Writes the export to `path` through a temporary file in the same folder and a rename,
    /// so a failed export never leaves half a file (or clobbers an older one).
    pub fn export_csv_file<Tz: TimeZone>(
        &self,
        options: &ExportOptions,
        tz: &Tz,
        path: &std::path::Path,
    ) -> Result<ExportSummary>
    where
        Tz::Offset: std::fmt::Display,
    {
        let io = |source: std::io::Error| StoreError::Io {
            context: format!("writing {}", path.display()),
            source,
        };
        let dir = path
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(std::path::Path::new("."));
        let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(io)?;
        let summary = self.export_csv(options, tz, &mut tmp)?;
        tmp.as_file().sync_all().map_err(io)?;
        tmp.persist(path).map_err(|err| io(err.error))?;
        Ok(summary)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formula_cells_are_neutralised_and_others_untouched() {
        for bad in ["=HYPERLINK(\"x\")", "+1", "-1+2", "@SUM(A1)", "\tx", "\rx"] {
            assert_eq!(neutralize(bad), format!("'{bad}"));
        }
        for good in [
            "Ada Lovelace",
            "O'Brien",
            "7B",
            "",
            "0.4123",
            "a=b",
            "李雷",
            "مريم",
        ] {
            assert_eq!(neutralize(good), good);
        }
    }
}
