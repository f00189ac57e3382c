//! Reading a OneRoster CSV bundle (1EdTech OneRoster 1.1 and 1.2): a folder or a ZIP file with
//! `manifest.csv` and the data files. Everything is checked before anything is used: a missing
//! file or column, a byte-order mark or a file that is not UTF-8, a malformed row, an unknown
//! status and a duplicate `sourcedId` are each reported with the file and line, all at once.
//! Columns are found by their header, so the 1.1 and 1.2 column sets both read; columns rollcall
//! does not use are ignored.

use std::collections::{BTreeMap, HashMap};
use std::io::Read as _;
use std::path::Path;

use super::{Problem, Problems};

/// How the manifest says a file is given.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileMode {
    /// The whole truth for what it lists.
    Bulk,
    /// Changes since the last bundle: rows to add or update, and rows `tobedeleted`.
    Delta,
    /// Not in this bundle.
    Absent,
}

/// A row's `status` column.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RowStatus {
    /// `active`, or blank in a bulk file.
    Active,
    /// `tobedeleted`.
    ToBeDeleted,
}

/// Where a row came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct At {
    /// The file's name.
    pub file: &'static str,
    /// Its line (the header is line 1).
    pub line: u64,
}

impl At {
    /// A problem at this row.
    #[must_use]
    pub fn problem(self, message: impl Into<String>) -> Problem {
        Problem {
            file: self.file.to_owned(),
            line: Some(self.line),
            message: message.into(),
        }
    }
}

/// A school (or district) from `orgs.csv`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Org {
    /// Where it came from.
    pub at: At,
    /// Its key.
    pub sourced_id: String,
    /// Active or to be deleted.
    pub status: RowStatus,
    /// Its name.
    pub name: String,
}

/// A person from `users.csv`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct User {
    /// Where it came from.
    pub at: At,
    /// Its key.
    pub sourced_id: String,
    /// Active or to be deleted.
    pub status: RowStatus,
    /// `role` (OneRoster 1.1 lists it here; 1.2 moved it to `roles.csv`), lower case.
    pub role: Option<String>,
    /// Login name: a teacher's database role on the school server.
    pub username: String,
    /// Given name, or the preferred given name (1.2) where there is one.
    pub given_name: String,
    /// Family name, or the preferred family name (1.2).
    pub family_name: String,
    /// The school's own number for the person (`identifier`).
    pub identifier: Option<String>,
}

impl User {
    /// The name a teacher calls the student by.
    #[must_use]
    pub fn display_name(&self) -> String {
        format!("{} {}", self.given_name, self.family_name)
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// A class section from `classes.csv`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Class {
    /// Where it came from.
    pub at: At,
    /// Its key.
    pub sourced_id: String,
    /// Active or to be deleted.
    pub status: RowStatus,
    /// Its title ("Maths 7B").
    pub title: String,
    /// The section's code in the information system.
    pub class_code: Option<String>,
    /// The course (`courseSourcedId`).
    pub course: Option<String>,
    /// The school (`schoolSourcedId`).
    pub school: String,
    /// The terms (`termSourcedIds`, comma-separated).
    pub terms: Vec<String>,
}

/// A membership from `enrollments.csv`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Enrollment {
    /// Where it came from.
    pub at: At,
    /// Its key.
    pub sourced_id: String,
    /// Active or to be deleted.
    pub status: RowStatus,
    /// The class (`classSourcedId`).
    pub class: String,
    /// The person (`userSourcedId`).
    pub user: String,
    /// `student`, `teacher`, `aide`, ... (lower case).
    pub role: String,
}

/// A title by key, from `courses.csv` or `academicSessions.csv`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Titled {
    /// Where it came from.
    pub at: At,
    /// Its key.
    pub sourced_id: String,
    /// Active or to be deleted.
    pub status: RowStatus,
    /// Its title.
    pub title: String,
}

/// A whole bundle, read and checked.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Bundle {
    /// `oneroster.version` from the manifest ("1.1", "1.2").
    pub version: String,
    /// How each file is given (`file.users` → bulk, ...), by file stem.
    pub modes: BTreeMap<String, FileMode>,
    /// Schools.
    pub orgs: Vec<Org>,
    /// People.
    pub users: Vec<User>,
    /// Class sections.
    pub classes: Vec<Class>,
    /// Memberships.
    pub enrollments: Vec<Enrollment>,
    /// Courses.
    pub courses: Vec<Titled>,
    /// Terms and school years.
    pub terms: Vec<Titled>,
    /// What the reader noticed and let pass (a byte-order mark), for the preview.
    pub notes: Vec<String>,
}

impl Bundle {
    /// How the bundle gives a file (absent when the manifest does not list it).
    #[must_use]
    pub fn mode(&self, stem: &str) -> FileMode {
        self.modes.get(stem).copied().unwrap_or(FileMode::Absent)
    }
}

/// The files a bundle's reader can be asked for.
trait Source {
    fn get(&mut self, name: &str) -> Result<Option<Vec<u8>>, Problem>;
}

struct Folder<'a>(&'a Path);

impl Source for Folder<'_> {
    fn get(&mut self, name: &str) -> Result<Option<Vec<u8>>, Problem> {
        let path = self.0.join(name);
        match std::fs::read(&path) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(err) => Err(Problem::file(name, format!("cannot be read: {err}"))),
        }
    }
}

struct Zip {
    archive: zip::ZipArchive<std::fs::File>,
    /// File name (without folders) → index in the archive.
    names: HashMap<String, usize>,
}

impl Zip {
    fn open(path: &Path) -> Result<Self, Problem> {
        let name = path.display().to_string();
        let file = std::fs::File::open(path)
            .map_err(|err| Problem::file(&name, format!("cannot be opened: {err}")))?;
        let mut archive = zip::ZipArchive::new(file)
            .map_err(|err| Problem::file(&name, format!("is not a readable ZIP file: {err}")))?;
        let mut names = HashMap::new();
        for i in 0..archive.len() {
            let entry = archive
                .by_index(i)
                .map_err(|err| Problem::file(&name, format!("is damaged: {err}")))?;
            if entry.is_dir() {
                continue;
            }
            // Bundles are zipped with or without a top folder; the file name is what counts.
            let Some(base) = entry
                .enclosed_name()
                .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
            else {
                continue;
            };
            if names.insert(base.clone(), i).is_some() {
                return Err(Problem::file(
                    &name,
                    format!("holds {base} twice (in two folders); zip one bundle at a time"),
                ));
            }
        }
        Ok(Self { archive, names })
    }
}

impl Source for Zip {
    fn get(&mut self, name: &str) -> Result<Option<Vec<u8>>, Problem> {
        let Some(&index) = self.names.get(name) else {
            return Ok(None);
        };
        let mut entry = self
            .archive
            .by_index(index)
            .map_err(|err| Problem::file(name, format!("cannot be unpacked: {err}")))?;
        let mut bytes = Vec::new();
        entry
            .read_to_end(&mut bytes)
            .map_err(|err| Problem::file(name, format!("cannot be unpacked: {err}")))?;
        Ok(Some(bytes))
    }
}

/// Reads and checks the bundle in `path` (a folder, or a `.zip` file).
pub fn read_bundle(path: &Path) -> Result<Bundle, Problems> {
    let display = path.display().to_string();
    if path.is_dir() {
        read_from(&mut Folder(path))
    } else if path.is_file() {
        read_from(&mut Zip::open(path).map_err(|p| Problems(vec![p]))?)
    } else {
        Err(Problems(vec![Problem::file(
            &display,
            "is neither a folder nor a ZIP file of a OneRoster bundle",
        )]))
    }
}

#[allow(clippy::too_many_lines)] // one pass per file of the bundle, in order
fn read_from(source: &mut dyn Source) -> Result<Bundle, Problems> {
    let mut problems = Vec::new();
    let mut bundle = Bundle::default();
    let Some(manifest) = table(
        source,
        "manifest.csv",
        &["propertyName", "value"],
        &mut problems,
    ) else {
        if problems.is_empty() {
            problems.push(Problem::file(
                "manifest.csv",
                "is missing: a OneRoster bundle starts with manifest.csv",
            ));
        }
        return Err(Problems(problems));
    };
    for row in &manifest.rows {
        let (name, value) = (row.get("propertyName"), row.get("value"));
        if name == "oneroster.version" {
            value.clone_into(&mut bundle.version);
        } else if let Some(stem) = name.strip_prefix("file.") {
            let mode = match value.to_ascii_lowercase().as_str() {
                "bulk" => FileMode::Bulk,
                "delta" => FileMode::Delta,
                "absent" => FileMode::Absent,
                other => {
                    problems.push(row.at.problem(format!(
                        "{name} is {other:?}; it must be bulk, delta or absent"
                    )));
                    continue;
                }
            };
            bundle.modes.insert(stem.to_owned(), mode);
        }
    }
    match bundle.version.as_str() {
        "1.1" | "1.2" => {}
        "" => problems.push(Problem::file(
            "manifest.csv",
            "has no oneroster.version (1.1 or 1.2)",
        )),
        other => problems.push(Problem::file(
            "manifest.csv",
            format!("gives oneroster.version {other:?}; rollcall reads versions 1.1 and 1.2"),
        )),
    }
    for required in ["users", "classes", "enrollments"] {
        if !bundle.modes.contains_key(required) {
            problems.push(Problem::file(
                "manifest.csv",
                format!("does not say how {required}.csv is given (file.{required})"),
            ));
        }
    }
    if !problems.is_empty() {
        return Err(Problems(problems));
    }

    let mut load = |name: &'static str, columns: &[&'static str], problems: &mut Vec<Problem>| {
        let stem = name.trim_end_matches(".csv");
        let mode = bundle.mode(stem);
        let table = table(source, name, columns, problems);
        match (mode, table) {
            (FileMode::Absent, Some(_)) => {
                problems.push(Problem::file(
                    name,
                    format!("is in the bundle, but the manifest says file.{stem} is absent"),
                ));
                None
            }
            (FileMode::Bulk | FileMode::Delta, None) => {
                if !problems.iter().any(|p| p.file == name) {
                    problems.push(Problem::file(
                        name,
                        format!("is missing, but the manifest lists file.{stem}"),
                    ));
                }
                None
            }
            (mode, table) => table.map(|t| (mode, t)),
        }
    };
    let orgs = load(
        "orgs.csv",
        &["sourcedId", "status", "dateLastModified", "name", "type"],
        &mut problems,
    );
    let users = load(
        "users.csv",
        &[
            "sourcedId",
            "status",
            "dateLastModified",
            "username",
            "givenName",
            "familyName",
            "identifier",
        ],
        &mut problems,
    );
    let classes = load(
        "classes.csv",
        &[
            "sourcedId",
            "status",
            "dateLastModified",
            "title",
            "courseSourcedId",
            "classCode",
            "schoolSourcedId",
            "termSourcedIds",
        ],
        &mut problems,
    );
    let enrollments = load(
        "enrollments.csv",
        &[
            "sourcedId",
            "status",
            "dateLastModified",
            "classSourcedId",
            "userSourcedId",
            "role",
        ],
        &mut problems,
    );
    let courses = load(
        "courses.csv",
        &["sourcedId", "status", "dateLastModified", "title"],
        &mut problems,
    );
    let terms = load(
        "academicSessions.csv",
        &["sourcedId", "status", "dateLastModified", "title"],
        &mut problems,
    );

    for (name, t) in [
        ("orgs.csv", &orgs),
        ("users.csv", &users),
        ("classes.csv", &classes),
        ("enrollments.csv", &enrollments),
        ("courses.csv", &courses),
        ("academicSessions.csv", &terms),
    ] {
        if t.as_ref().is_some_and(|(_, t)| t.had_bom) {
            bundle.notes.push(format!(
                "{name} starts with a byte-order mark, which OneRoster 1.2 says to ignore; rollcall ignored it"
            ));
        }
    }
    if let Some((mode, t)) = &orgs {
        for row in &t.rows {
            if let Some((sourced_id, status)) = keyed(row, *mode, &mut problems) {
                bundle.orgs.push(Org {
                    at: row.at,
                    sourced_id,
                    status,
                    name: row.get("name").to_owned(),
                });
            }
        }
    }
    if let Some((mode, t)) = &users {
        for row in &t.rows {
            let Some((sourced_id, status)) = keyed(row, *mode, &mut problems) else {
                continue;
            };
            let preferred = |column: &str, fallback: &str| {
                Some(row.get(column))
                    .filter(|v| !v.is_empty())
                    .unwrap_or_else(|| row.get(fallback))
                    .to_owned()
            };
            let user = User {
                at: row.at,
                sourced_id,
                status,
                role: Some(row.get("role").to_ascii_lowercase()).filter(|r| !r.is_empty()),
                username: row.get("username").to_owned(),
                given_name: preferred("preferredGivenName", "givenName"),
                family_name: preferred("preferredFamilyName", "familyName"),
                identifier: Some(row.get("identifier").to_owned()).filter(|v| !v.is_empty()),
            };
            if status == RowStatus::Active && user.display_name().is_empty() {
                problems.push(row.at.problem(format!(
                    "user {} has neither a givenName nor a familyName",
                    user.sourced_id
                )));
            }
            bundle.users.push(user);
        }
    }
    if let Some((mode, t)) = &classes {
        for row in &t.rows {
            let Some((sourced_id, status)) = keyed(row, *mode, &mut problems) else {
                continue;
            };
            let class = Class {
                at: row.at,
                sourced_id,
                status,
                title: row.get("title").to_owned(),
                class_code: Some(row.get("classCode").to_owned()).filter(|v| !v.is_empty()),
                course: Some(row.get("courseSourcedId").to_owned()).filter(|v| !v.is_empty()),
                school: row.get("schoolSourcedId").to_owned(),
                terms: row
                    .get("termSourcedIds")
                    .split(',')
                    .map(str::trim)
                    .filter(|t| !t.is_empty())
                    .map(str::to_owned)
                    .collect(),
            };
            if status == RowStatus::Active {
                for (column, value) in [("title", &class.title), ("schoolSourcedId", &class.school)]
                {
                    if value.is_empty() {
                        problems.push(
                            row.at
                                .problem(format!("class {} has no {column}", class.sourced_id)),
                        );
                    }
                }
            }
            bundle.classes.push(class);
        }
    }
    if let Some((mode, t)) = &enrollments {
        for row in &t.rows {
            let Some((sourced_id, status)) = keyed(row, *mode, &mut problems) else {
                continue;
            };
            let e = Enrollment {
                at: row.at,
                sourced_id,
                status,
                class: row.get("classSourcedId").to_owned(),
                user: row.get("userSourcedId").to_owned(),
                role: row.get("role").to_ascii_lowercase(),
            };
            for (column, value) in [
                ("classSourcedId", &e.class),
                ("userSourcedId", &e.user),
                ("role", &e.role),
            ] {
                if value.is_empty() {
                    problems.push(
                        row.at
                            .problem(format!("enrollment {} has no {column}", e.sourced_id)),
                    );
                }
            }
            bundle.enrollments.push(e);
        }
    }
    for (target, table) in [(&mut bundle.courses, &courses), (&mut bundle.terms, &terms)] {
        if let Some((mode, t)) = table {
            for row in &t.rows {
                if let Some((sourced_id, status)) = keyed(row, *mode, &mut problems) {
                    target.push(Titled {
                        at: row.at,
                        sourced_id,
                        status,
                        title: row.get("title").to_owned(),
                    });
                }
            }
        }
    }
    duplicates(
        bundle.orgs.iter().map(|o| (&o.sourced_id, o.at)),
        &mut problems,
    );
    duplicates(
        bundle.users.iter().map(|u| (&u.sourced_id, u.at)),
        &mut problems,
    );
    duplicates(
        bundle.classes.iter().map(|c| (&c.sourced_id, c.at)),
        &mut problems,
    );
    duplicates(
        bundle.enrollments.iter().map(|e| (&e.sourced_id, e.at)),
        &mut problems,
    );
    duplicates(
        bundle.courses.iter().map(|c| (&c.sourced_id, c.at)),
        &mut problems,
    );
    duplicates(
        bundle.terms.iter().map(|c| (&c.sourced_id, c.at)),
        &mut problems,
    );
    if problems.is_empty() {
        Ok(bundle)
    } else {
        Err(Problems(problems))
    }
}

/// The `sourcedId` and status of a row; `None` (with a problem) when either is unusable.
fn keyed(row: &CsvRow, mode: FileMode, problems: &mut Vec<Problem>) -> Option<(String, RowStatus)> {
    let sourced_id = row.get("sourcedId");
    if sourced_id.is_empty() {
        problems.push(row.at.problem("the sourcedId is empty"));
        return None;
    }
    let status = match (row.get("status").to_ascii_lowercase().as_str(), mode) {
        ("active", _) | ("", FileMode::Bulk | FileMode::Absent) => RowStatus::Active,
        ("tobedeleted", _) => RowStatus::ToBeDeleted,
        ("", FileMode::Delta) => {
            problems.push(row.at.problem(
                "the status is empty; in a delta file every row says active or tobedeleted",
            ));
            return None;
        }
        (other, _) => {
            problems.push(row.at.problem(format!(
                "the status is {other:?}; it must be active or tobedeleted"
            )));
            return None;
        }
    };
    if mode == FileMode::Delta && row.get("dateLastModified").is_empty() {
        problems.push(
            row.at
                .problem("the dateLastModified is empty; a delta file dates every row"),
        );
    }
    Some((sourced_id.to_owned(), status))
}

fn duplicates<'a>(keys: impl Iterator<Item = (&'a String, At)>, problems: &mut Vec<Problem>) {
    let mut first: HashMap<&str, At> = HashMap::new();
    for (key, at) in keys {
        if let Some(earlier) = first.get(key.as_str()) {
            problems.push(at.problem(format!(
                "the sourcedId {key:?} is on line {} already",
                earlier.line
            )));
        } else {
            first.insert(key, at);
        }
    }
}

/// One CSV file, its header checked.
struct CsvTable {
    rows: Vec<CsvRow>,
    /// The file started with a UTF-8 byte-order mark (ignored).
    had_bom: bool,
}

struct CsvRow {
    at: At,
    /// Column name → value (trimmed).
    values: HashMap<&'static str, String>,
}

impl CsvRow {
    fn get(&self, column: &str) -> &str {
        self.values.get(column).map_or("", String::as_str)
    }
}

/// Optional columns read where a file has them.
const OPTIONAL: &[&str] = &["role", "preferredGivenName", "preferredFamilyName"];

/// Reads `name` from the bundle: `None` when it is not there or cannot be used (with a problem).
fn table(
    source: &mut dyn Source,
    file: &'static str,
    required: &[&'static str],
    problems: &mut Vec<Problem>,
) -> Option<CsvTable> {
    let name = file;
    let bytes = match source.get(name) {
        Ok(Some(bytes)) => bytes,
        Ok(None) => return None,
        Err(problem) => {
            problems.push(problem);
            return None;
        }
    };
    // OneRoster 1.2's CSV binding: importers must tolerate a byte-order mark and ignore it.
    let had_bom = bytes.starts_with(b"\xEF\xBB\xBF");
    let bytes = if had_bom { &bytes[3..] } else { &bytes[..] };
    if let Some(problem) = encoding_problem(file, bytes) {
        problems.push(problem);
        return None;
    }
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_reader(bytes);
    let header = match reader.headers() {
        Ok(h) => h.clone(),
        Err(err) => {
            problems.push(Problem::file(
                file,
                format!("has no readable header: {err}"),
            ));
            return None;
        }
    };
    let missing: Vec<&str> = required
        .iter()
        .copied()
        .filter(|c| !header.iter().any(|h| h == *c))
        .collect();
    if !missing.is_empty() {
        problems.push(At { file, line: 1 }.problem(format!(
            "the header lacks the column{} {}",
            if missing.len() == 1 { "" } else { "s" },
            missing.join(", ")
        )));
        return None;
    }
    let wanted: Vec<(usize, &'static str)> = header
        .iter()
        .enumerate()
        .filter_map(|(i, h)| {
            required
                .iter()
                .chain(OPTIONAL)
                .find(|c| **c == h)
                .map(|c| (i, *c))
        })
        .collect();
    let mut rows = Vec::new();
    for record in reader.records() {
        match record {
            Ok(record) => {
                // The csv crate counts lines from 0 here; people count from 1.
                let line = record.position().map_or(0, csv::Position::line) + 1;
                let values = wanted
                    .iter()
                    .map(|&(i, c)| (c, record.get(i).unwrap_or("").to_owned()))
                    .collect();
                rows.push(CsvRow {
                    at: At { file, line },
                    values,
                });
            }
            Err(err) => {
                let line = err.position().map_or(0, csv::Position::line) + 1;
                let message = match err.kind() {
                    csv::ErrorKind::UnequalLengths {
                        expected_len, len, ..
                    } => format!("the row has {len} fields where the header has {expected_len}"),
                    _ => format!("the row cannot be read: {err}"),
                };
                problems.push(At { file, line }.problem(message));
            }
        }
    }
    Some(CsvTable { rows, had_bom })
}

/// UTF-16, or bytes that are not UTF-8, with the line they are on.
fn encoding_problem(file: &'static str, bytes: &[u8]) -> Option<Problem> {
    if bytes.starts_with(b"\xFF\xFE") || bytes.starts_with(b"\xFE\xFF") {
        return Some(
            At { file, line: 1 }
                .problem("the file is UTF-16; OneRoster files are UTF-8 (save the file as UTF-8)"),
        );
    }
    let err = std::str::from_utf8(bytes).err()?;
    let good = &bytes[..err.valid_up_to()];
    let line = good.split(|&b| b == b'\n').count() as u64;
    let column = 1 + good.iter().rev().take_while(|&&b| b != b'\n').count();
    let byte = bytes[err.valid_up_to()];
    Some(At { file, line }.problem(format!(
        "not UTF-8: byte 0x{byte:02X} at column {column} (was the file saved as Windows-1252 \
         or Latin-1? Save it as UTF-8)"
    )))
}
