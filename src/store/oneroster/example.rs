//! A made-up OneRoster bundle, for the tests, the README and trying the import
//! (`rollcall roster example DIR`): two schools, six class sections, 150 students and four
//! teachers, a delta that follows it, and broken variants, one per check the reader makes.
//! Every name is invented; the same call always writes the same files.

use std::path::Path;

/// Which bundle to write.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Variant {
    /// The whole roster (every file bulk).
    Bulk,
    /// The changes a week later: a new student, a student who moved section, one who left the
    /// school, one renamed, and a teacher swap (users and enrollments as delta files).
    Delta,
    /// `users.csv` lacks its `familyName` column.
    MissingColumn,
    /// An enrollment names a user who is not in `users.csv`.
    OrphanEnrollment,
    /// Two rows of `users.csv` share a `sourcedId`.
    DuplicateSourcedId,
    /// `users.csv` starts with a UTF-8 byte-order mark (which OneRoster 1.2 says to ignore:
    /// this one imports, with a note).
    ByteOrderMark,
    /// `users.csv` is in Latin-1, not UTF-8.
    Latin1,
}

/// Which OneRoster version's column set to write.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Version {
    /// OneRoster 1.1.
    #[value(name = "1.1")]
    V1_1,
    /// OneRoster 1.2.
    #[default]
    #[value(name = "1.2")]
    V1_2,
}

const GIVEN: &[&str] = &[
    "Amara", "Ben", "Chloé", "Dmitri", "Ebony", "Farid", "Grace", "Hiro", "Ines", "Jonah", "Kemi",
    "Liam", "Maya", "Nikolai", "Olivia", "Pedro", "Qi", "Rosa", "Samir", "Tess", "Umar", "Vera",
    "Wen", "Ximena", "Yusuf",
];
const FAMILY: &[&str] = &[
    "Adeyemi",
    "Brennan",
    "Castillo",
    "Dubois",
    "Eriksen",
    "Fischer",
    "García",
    "Haddad",
    "Ivanova",
    "Jensen",
    "Kowalski",
    "Lindqvist",
    "Moreau",
    "Nakamura",
    "O'Brien",
    "Petrov",
];

/// The six sections: sourcedId, title, code, school, course, teacher.
const CLASSES: &[(&str, &str, &str, &str, &str, &str)] = &[
    (
        "cls-m7-1",
        "Maths 7",
        "M7-1",
        "org-north",
        "crs-math7",
        "tch-01",
    ),
    (
        "cls-m7-2",
        "Maths 7",
        "M7-2",
        "org-north",
        "crs-math7",
        "tch-01",
    ),
    (
        "cls-s7",
        "Science 7",
        "S7-1",
        "org-north",
        "crs-sci7",
        "tch-02",
    ),
    (
        "cls-e9",
        "English 9",
        "E9-1",
        "org-south",
        "crs-eng9",
        "tch-03",
    ),
    (
        "cls-h9",
        "History 9",
        "H9-1",
        "org-south",
        "crs-hist9",
        "tch-03",
    ),
    ("cls-a9", "Art 9", "A9-1", "org-south", "crs-art9", "tch-04"),
];

/// sourcedId, username, given, family, school.
const TEACHERS: &[(&str, &str, &str, &str, &str)] = &[
    ("tch-01", "ms_lee", "Ada", "Lee", "org-north"),
    ("tch-02", "mr_okafor", "Chidi", "Okafor", "org-north"),
    ("tch-03", "ms_garcia", "Lucía", "García", "org-south"),
    ("tch-04", "mr_novak", "Jan", "Novak", "org-south"),
];

/// The number of students in the bulk bundle.
pub const STUDENTS: usize = 150;

/// A student of the bulk bundle: (sourcedId, given, family, school number, school).
#[must_use]
pub fn student(i: usize) -> (String, String, String, String, &'static str) {
    let given = GIVEN[i % GIVEN.len()];
    let mut family = FAMILY[(i / GIVEN.len() + i) % FAMILY.len()].to_owned();
    // Names a CSV writer and a spreadsheet must both get right.
    if i == 7 {
        "Smith, Jr.".clone_into(&mut family);
    } else if i == 8 {
        "\"Doc\" Holliday".clone_into(&mut family);
    } else if i == 9 {
        "=Fields".clone_into(&mut family);
    }
    let school = if i < STUDENTS / 2 {
        "org-north"
    } else {
        "org-south"
    };
    (
        format!("stu-{:04}", i + 1),
        given.to_owned(),
        family,
        format!("{}", 26001 + i),
        school,
    )
}

/// The sections student `i` of the bulk bundle is in.
#[must_use]
pub fn sections_of(i: usize) -> Vec<&'static str> {
    if i < STUDENTS / 2 {
        let mut v = vec![if i.is_multiple_of(2) {
            "cls-m7-1"
        } else {
            "cls-m7-2"
        }];
        if i < 40 {
            v.push("cls-s7");
        }
        v
    } else {
        ["cls-e9", "cls-h9", "cls-a9"]
            .into_iter()
            .enumerate()
            .filter(|(k, _)| i % 3 != *k)
            .map(|(_, c)| c)
            .collect()
    }
}

struct Files {
    version: Version,
    files: Vec<(&'static str, Vec<u8>)>,
}

impl Files {
    fn csv(&mut self, name: &'static str, header: &[&str], rows: &[Vec<String>]) {
        let mut w = csv::WriterBuilder::new()
            .terminator(csv::Terminator::CRLF)
            .from_writer(Vec::new());
        // Writing to memory cannot fail.
        let _ = w.write_record(header);
        for r in rows {
            let _ = w.write_record(r);
        }
        let bytes = w.into_inner().unwrap_or_default();
        self.files.push((name, bytes));
    }
}

fn users_header(version: Version) -> Vec<&'static str> {
    match version {
        Version::V1_1 => vec![
            "sourcedId",
            "status",
            "dateLastModified",
            "enabledUser",
            "orgSourcedIds",
            "role",
            "username",
            "userIds",
            "givenName",
            "familyName",
            "middleName",
            "identifier",
            "email",
            "sms",
            "phone",
            "agentSourcedIds",
            "grades",
            "password",
        ],
        Version::V1_2 => vec![
            "sourcedId",
            "status",
            "dateLastModified",
            "enabledUser",
            "username",
            "userIds",
            "givenName",
            "familyName",
            "middleName",
            "identifier",
            "email",
            "sms",
            "phone",
            "agentSourcedIds",
            "grades",
            "password",
            "userMasterIdentifier",
            "resourceSourcedIds",
            "preferredGivenName",
            "preferredMiddleName",
            "preferredFamilyName",
            "primaryOrgSourcedId",
            "pronouns",
        ],
    }
}

/// A users.csv row in the version's column order.
#[allow(clippy::too_many_arguments)]
fn user_row(
    version: Version,
    (status, modified): (&str, &str),
    sourced_id: &str,
    role: &str,
    username: &str,
    given: &str,
    family: &str,
    identifier: &str,
    org: &str,
) -> Vec<String> {
    let email = format!("{username}@school.example");
    let grade = if role == "student" { "07" } else { "" };
    let v: Vec<&str> = match version {
        Version::V1_1 => vec![
            sourced_id, status, modified, "true", org, role, username, "", given, family, "",
            identifier, &email, "", "", "", grade, "",
        ],
        Version::V1_2 => vec![
            sourced_id, status, modified, "true", username, "", given, family, "", identifier,
            &email, "", "", "", grade, "", "", "", "", "", "", org, "",
        ],
    };
    v.into_iter().map(str::to_owned).collect()
}

const ENROLLMENTS: &[&str] = &[
    "sourcedId",
    "status",
    "dateLastModified",
    "classSourcedId",
    "schoolSourcedId",
    "userSourcedId",
    "role",
    "primary",
    "beginDate",
    "endDate",
];

fn enrollment(
    (status, modified): (&str, &str),
    id: &str,
    class: &str,
    school: &str,
    user: &str,
    role: &str,
) -> Vec<String> {
    [
        id,
        status,
        modified,
        class,
        school,
        user,
        role,
        if role == "teacher" { "true" } else { "false" },
        "2026-09-01",
        "2027-07-15",
    ]
    .into_iter()
    .map(str::to_owned)
    .collect()
}

fn manifest(files: &mut Files, modes: &[(&str, &str)]) {
    let version = match files.version {
        Version::V1_1 => "1.1",
        Version::V1_2 => "1.2",
    };
    let mut rows = vec![
        vec!["manifest.version".to_owned(), "1.0".to_owned()],
        vec!["oneroster.version".to_owned(), version.to_owned()],
    ];
    for (file, mode) in modes {
        rows.push(vec![format!("file.{file}"), (*mode).to_owned()]);
    }
    rows.push(vec![
        "source.systemName".to_owned(),
        "Example SIS".to_owned(),
    ]);
    files.csv("manifest.csv", &["propertyName", "value"], &rows);
}

fn school_of(class: &str) -> &'static str {
    CLASSES
        .iter()
        .find(|c| c.0 == class)
        .map_or("org-north", |c| c.3)
}

#[allow(clippy::too_many_lines)] // the example bundle's files written out one after another
fn bulk(version: Version) -> Files {
    let mut f = Files {
        version,
        files: Vec::new(),
    };
    let b = ("", "");
    let all = [
        ("academicSessions", "bulk"),
        ("categories", "absent"),
        ("classResources", "absent"),
        ("classes", "bulk"),
        ("courseResources", "absent"),
        ("courses", "bulk"),
        ("demographics", "absent"),
        ("enrollments", "bulk"),
        ("lineItems", "absent"),
        ("orgs", "bulk"),
        ("resources", "absent"),
        ("results", "absent"),
        ("users", "bulk"),
    ];
    manifest(&mut f, &all);
    f.csv(
        "orgs.csv",
        &[
            "sourcedId",
            "status",
            "dateLastModified",
            "name",
            "type",
            "identifier",
            "parentSourcedId",
        ],
        &[
            [
                "org-district",
                "",
                "",
                "Riverside School District",
                "district",
                "RSD",
                "",
            ],
            [
                "org-north",
                "",
                "",
                "Northside Middle School",
                "school",
                "NMS",
                "org-district",
            ],
            [
                "org-south",
                "",
                "",
                "Southside High School",
                "school",
                "SHS",
                "org-district",
            ],
        ]
        .map(|r| r.map(str::to_owned).to_vec()),
    );
    f.csv(
        "academicSessions.csv",
        &[
            "sourcedId",
            "status",
            "dateLastModified",
            "title",
            "type",
            "startDate",
            "endDate",
            "parentSourcedId",
            "schoolYear",
        ],
        &[
            [
                "ay-2026",
                "",
                "",
                "2026-27",
                "schoolYear",
                "2026-09-01",
                "2027-07-15",
                "",
                "2027",
            ],
            [
                "term-autumn",
                "",
                "",
                "Autumn 2026",
                "term",
                "2026-09-01",
                "2026-12-18",
                "ay-2026",
                "2027",
            ],
        ]
        .map(|r| r.map(str::to_owned).to_vec()),
    );
    let courses: Vec<Vec<String>> = [
        ("crs-math7", "Mathematics 7", "org-north"),
        ("crs-sci7", "Science 7", "org-north"),
        ("crs-eng9", "English 9", "org-south"),
        ("crs-hist9", "History 9", "org-south"),
        ("crs-art9", "Art 9", "org-south"),
    ]
    .iter()
    .map(|(id, title, org)| {
        [*id, "", "", "ay-2026", *title, "", "", *org, "", ""]
            .map(str::to_owned)
            .to_vec()
    })
    .collect();
    f.csv(
        "courses.csv",
        &[
            "sourcedId",
            "status",
            "dateLastModified",
            "schoolYearSourcedId",
            "title",
            "courseCode",
            "grades",
            "orgSourcedId",
            "subjects",
            "subjectCodes",
        ],
        &courses,
    );
    let classes: Vec<Vec<String>> = CLASSES
        .iter()
        .map(|(id, title, code, school, course, _)| {
            [
                *id,
                "",
                "",
                *title,
                "",
                *course,
                *code,
                "scheduled",
                "",
                *school,
                "term-autumn",
                "",
                "",
                "",
            ]
            .map(str::to_owned)
            .to_vec()
        })
        .collect();
    f.csv(
        "classes.csv",
        &[
            "sourcedId",
            "status",
            "dateLastModified",
            "title",
            "grades",
            "courseSourcedId",
            "classCode",
            "classType",
            "location",
            "schoolSourcedId",
            "termSourcedIds",
            "subjects",
            "subjectCodes",
            "periods",
        ],
        &classes,
    );
    let mut users = Vec::new();
    for (id, username, given, family, org) in TEACHERS {
        users.push(user_row(
            version, b, id, "teacher", username, given, family, "", org,
        ));
    }
    for i in 0..STUDENTS {
        let (id, given, family, number, org) = student(i);
        users.push(user_row(
            version, b, &id, "student", &id, &given, &family, &number, org,
        ));
    }
    users.push(user_row(
        version,
        b,
        "aide-01",
        "aide",
        "mx_patel",
        "Sam",
        "Patel",
        "",
        "org-south",
    ));
    f.csv("users.csv", &users_header(version), &users);
    let mut enrollments = Vec::new();
    for (class, _, _, school, _, teacher) in CLASSES {
        enrollments.push(enrollment(
            b,
            &format!("enr-{class}-{teacher}"),
            class,
            school,
            teacher,
            "teacher",
        ));
    }
    enrollments.push(enrollment(
        b,
        "enr-cls-a9-aide-01",
        "cls-a9",
        "org-south",
        "aide-01",
        "aide",
    ));
    for i in 0..STUDENTS {
        let (id, ..) = student(i);
        for class in sections_of(i) {
            enrollments.push(enrollment(
                b,
                &format!("enr-{class}-{id}"),
                class,
                school_of(class),
                &id,
                "student",
            ));
        }
    }
    f.csv("enrollments.csv", ENROLLMENTS, &enrollments);
    f
}

fn delta(version: Version) -> Files {
    let mut f = Files {
        version,
        files: Vec::new(),
    };
    let active = ("active", "2026-09-14T07:30:00.000Z");
    let deleted = ("tobedeleted", "2026-09-14T07:30:00.000Z");
    manifest(
        &mut f,
        &[
            ("academicSessions", "absent"),
            ("classes", "absent"),
            ("courses", "absent"),
            ("enrollments", "delta"),
            ("orgs", "absent"),
            ("users", "delta"),
        ],
    );
    let (renamed, given, _, number, org) = student(2);
    let (left, lgiven, lfamily, lnumber, lorg) = student(STUDENTS - 1);
    let users = vec![
        user_row(
            version,
            active,
            "stu-0151",
            "student",
            "stu-0151",
            "Zara",
            "Okonkwo",
            "26151",
            "org-north",
        ),
        user_row(
            version,
            active,
            &renamed,
            "student",
            &renamed,
            &given,
            "Castillo-Reyes",
            &number,
            org,
        ),
        user_row(
            version, deleted, &left, "student", &left, &lgiven, &lfamily, &lnumber, lorg,
        ),
    ];
    f.csv("users.csv", &users_header(version), &users);
    let (moved, ..) = student(1);
    let enrollments = vec![
        enrollment(
            active,
            "enr-cls-m7-1-stu-0151",
            "cls-m7-1",
            "org-north",
            "stu-0151",
            "student",
        ),
        // Student 2 (an odd index, in M7-2) moves to M7-1.
        enrollment(
            deleted,
            &format!("enr-cls-m7-2-{moved}"),
            "cls-m7-2",
            "org-north",
            &moved,
            "student",
        ),
        enrollment(
            active,
            &format!("enr-cls-m7-1-{moved}"),
            "cls-m7-1",
            "org-north",
            &moved,
            "student",
        ),
        // Science 7 changes teacher.
        enrollment(
            deleted,
            "enr-cls-s7-tch-02",
            "cls-s7",
            "org-north",
            "tch-02",
            "teacher",
        ),
        enrollment(
            active,
            "enr-cls-s7-tch-01",
            "cls-s7",
            "org-north",
            "tch-01",
            "teacher",
        ),
    ];
    f.csv("enrollments.csv", ENROLLMENTS, &enrollments);
    f
}

fn broken(version: Version, variant: Variant) -> Files {
    let mut f = bulk(version);
    let Some(users) = f.files.iter_mut().find(|(n, _)| *n == "users.csv") else {
        return f;
    };
    let text = String::from_utf8_lossy(&users.1).into_owned();
    match variant {
        Variant::MissingColumn => {
            let mut r = csv::Reader::from_reader(text.as_bytes());
            let header = r.headers().cloned().unwrap_or_default();
            let drop = header.iter().position(|h| h == "familyName");
            let keep = |rec: &csv::StringRecord| -> Vec<String> {
                rec.iter()
                    .enumerate()
                    .filter(|(i, _)| Some(*i) != drop)
                    .map(|(_, v)| v.to_owned())
                    .collect()
            };
            let rows: Vec<Vec<String>> = r
                .records()
                .filter_map(Result::ok)
                .map(|r| keep(&r))
                .collect();
            let head = keep(&header);
            let head: Vec<&str> = head.iter().map(String::as_str).collect();
            f.files.retain(|(n, _)| *n != "users.csv");
            f.csv("users.csv", &head, &rows);
        }
        Variant::OrphanEnrollment => {
            if let Some(e) = f.files.iter_mut().find(|(n, _)| *n == "enrollments.csv") {
                let extra =
                    "enr-ghost,,,cls-s7,org-north,stu-9999,student,false,2026-09-01,2027-07-15\r\n";
                e.1.extend_from_slice(extra.as_bytes());
            }
        }
        Variant::DuplicateSourcedId => {
            // The last student's row again, with another name.
            let last = text
                .lines()
                .find(|l| l.starts_with("stu-0150,"))
                .unwrap_or("")
                .replacen("Yusuf", "Yasmin", 1);
            users.1.extend_from_slice(format!("{last}\r\n").as_bytes());
        }
        Variant::ByteOrderMark => {
            users.1.splice(0..0, *b"\xEF\xBB\xBF");
        }
        Variant::Latin1 => {
            // The same text as Windows-1252 would store it: é as one byte.
            users.1 = text
                .chars()
                .flat_map(|c| match u8::try_from(u32::from(c)) {
                    Ok(b) => vec![b],
                    Err(_) => vec![b'?'],
                })
                .collect();
        }
        Variant::Bulk | Variant::Delta => {}
    }
    f
}

/// The files of a bundle, by name.
#[must_use]
pub fn files(variant: Variant, version: Version) -> Vec<(&'static str, Vec<u8>)> {
    match variant {
        Variant::Bulk => bulk(version),
        Variant::Delta => delta(version),
        other => broken(version, other),
    }
    .files
}

/// Writes the bundle into the folder `dir` (created if needed), or as one ZIP file when `dir`
/// ends in `.zip`.
pub fn write(dir: &Path, variant: Variant, version: Version) -> std::io::Result<()> {
    let files = files(variant, version);
    if dir
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("zip"))
    {
        if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)?;
        }
        let mut zip = zip::ZipWriter::new(std::fs::File::create(dir)?);
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        for (name, bytes) in files {
            zip.start_file(name, options)
                .map_err(std::io::Error::other)?;
            std::io::Write::write_all(&mut zip, &bytes)?;
        }
        zip.finish().map_err(std::io::Error::other)?;
        return Ok(());
    }
    std::fs::create_dir_all(dir)?;
    for (name, bytes) in files {
        std::fs::write(dir.join(name), bytes)?;
    }
    Ok(())
}
