//! OneRoster import tests on the example bundle (`example.rs`): SQLite in memory, and the
//! same bodies on a real PostgreSQL server.

#![allow(clippy::needless_pass_by_value, clippy::type_complexity)]

use std::collections::BTreeSet;
use std::path::Path;

use super::example::{self, STUDENTS, Variant, Version};
use super::*;
use crate::store::{Store, StoreError, cluster};

fn bundle(dir: &Path, name: &str, variant: Variant, version: Version) -> Bundle {
    let path = dir.join(name);
    example::write(&path, variant, version).unwrap();
    read_bundle(&path).unwrap_or_else(|e| panic!("{e}"))
}

/// Every row of the roster's tables, as text: what "unchanged" is checked against.
fn dump(store: &Store) -> Vec<String> {
    let mut rows = Vec::new();
    for (table, columns) in [
        ("classes", "id, name, sourced_id, class_code, school, term"),
        (
            "students",
            "id, display_name, external_id, sourced_id, removed_ms",
        ),
        ("class_members", "class_id, student_id, joined_ms"),
        ("past_members", "class_id, student_id, joined_ms, left_ms"),
        ("class_teachers", "class_id, teacher, user_sourced_id"),
        ("enrollments", "student_id, enrolled_ms"),
        ("audit_log", "id, action, details"),
    ] {
        let sql = format!("SELECT {columns} FROM {table} ORDER BY 1, 2");
        for r in store.db().query_map(&sql, [], |r| Ok(r.values())).unwrap() {
            rows.push(format!("{table}: {r:?}"));
        }
    }
    rows
}

/// (student school number, class name) for every membership.
fn memberships(store: &Store) -> BTreeSet<(String, String)> {
    store
        .db()
        .query_map(
            "SELECT s.external_id, c.name FROM class_members m
               JOIN students s ON s.id = m.student_id JOIN classes c ON c.id = m.class_id",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap()
        .into_iter()
        .collect()
}

fn teachers(store: &Store) -> BTreeSet<(String, String)> {
    store
        .db()
        .query_map(
            "SELECT t.teacher, c.name FROM class_teachers t JOIN classes c ON c.id = t.class_id",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap()
        .into_iter()
        .collect()
}

fn class_name(sourced_id: &str) -> &'static str {
    match sourced_id {
        "cls-m7-1" => "Maths 7 (M7-1)",
        "cls-m7-2" => "Maths 7 (M7-2)",
        "cls-s7" => "Science 7",
        "cls-e9" => "English 9",
        "cls-h9" => "History 9",
        _ => "Art 9",
    }
}

/// The memberships the bulk bundle describes.
fn expected_memberships() -> BTreeSet<(String, String)> {
    (0..STUDENTS)
        .flat_map(|i| {
            let number = example::student(i).3;
            example::sections_of(i)
                .into_iter()
                .map(move |c| (number.clone(), class_name(c).to_owned()))
        })
        .collect()
}

#[allow(clippy::too_many_lines)] // one test story, step by step
fn a_bundle_a_delta_and_the_same_again_give_the_expected_roster_on(store: Store) {
    let dir = tempfile::tempdir().unwrap();
    let bulk = bundle(dir.path(), "bulk.zip", Variant::Bulk, Version::V1_2);

    // The preview says what the import then does, and writes nothing.
    let before = dump(&store);
    let preview = store.plan_roster(&bulk).unwrap();
    assert_eq!(dump(&store), before);
    assert_eq!(preview.classes_added.len(), 6);
    assert_eq!(preview.students_added.len(), STUDENTS);
    let plan = store.import_roster(&bulk).unwrap();
    assert_eq!(plan, preview);

    let classes = store.list_classes().unwrap();
    let names: BTreeSet<&str> = classes.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(
        names,
        BTreeSet::from([
            "Art 9",
            "English 9",
            "History 9",
            "Maths 7 (M7-1)",
            "Maths 7 (M7-2)",
            "Science 7"
        ]),
        "two sections titled Maths 7 are told apart by their codes"
    );
    let students = store.list_students(None).unwrap();
    assert_eq!(students.len(), STUDENTS);
    let (_, given, family, number, _) = example::student(8);
    let holliday = students
        .iter()
        .find(|s| s.external_id.as_deref() == Some(number.as_str()))
        .unwrap();
    assert_eq!(holliday.display_name, format!("{given} {family}"));
    assert_eq!(memberships(&store), expected_memberships());
    let ms_lee = ("ms_lee".to_owned(), "Maths 7 (M7-1)".to_owned());
    let okafor = ("mr_okafor".to_owned(), "Science 7".to_owned());
    assert!(teachers(&store).contains(&ms_lee));
    assert!(teachers(&store).contains(&okafor));
    assert_eq!(teachers(&store).len(), 6, "the aide is not recorded");
    let school: Option<String> = store
        .db()
        .query_row(
            "SELECT school FROM classes WHERE sourced_id = 'cls-e9'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(school.as_deref(), Some("Southside High School"));

    // A lesson in M7-2 before the delta moves Ben from M7-2 to M7-1.
    let m7_2 = store.find_class("Maths 7 (M7-2)").unwrap().id;
    let lesson = store.start_session(m7_2, None).unwrap();
    store.stop_session(lesson).unwrap();
    // The lesson ends before the delta arrives (the clock is real).
    std::thread::sleep(std::time::Duration::from_millis(5));
    let (moved_id, .., moved_number, _) = example::student(1);
    let on_roll = |store: &Store| {
        store
            .session_roll(lesson)
            .unwrap()
            .iter()
            .any(|e| e.external_id.as_deref() == Some(moved_number.as_str()))
    };
    assert!(on_roll(&store));

    // The same bundle again changes nothing at all.
    let before = dump(&store);
    let again = store.import_roster(&bulk).unwrap();
    assert!(again.is_unchanged(), "{:?}", again.summary());
    assert_eq!(dump(&store), before);

    // The delta: a new student, a move, a rename, a student who left, a teacher swap.
    let delta = bundle(dir.path(), "delta", Variant::Delta, Version::V1_2);
    let plan = store.import_roster(&delta).unwrap();
    assert_eq!(plan.students_added, ["Zara Okonkwo"]);
    assert_eq!(plan.students_removed.len(), 1);
    assert_eq!(plan.students_changed.len(), 1);
    let mut expected = expected_memberships();
    expected.insert(("26151".to_owned(), "Maths 7 (M7-1)".to_owned()));
    expected.remove(&(moved_number.clone(), "Maths 7 (M7-2)".to_owned()));
    expected.insert((moved_number.clone(), "Maths 7 (M7-1)".to_owned()));
    // A removed student keeps their memberships, as `student remove` does; the lists skip them.
    assert_eq!(memberships(&store), expected);
    let left = example::student(STUDENTS - 1);
    assert!(
        store
            .list_students(None)
            .unwrap()
            .iter()
            .all(|s| s.external_id.as_deref() != Some(left.3.as_str()))
    );
    let renamed = example::student(2);
    assert_eq!(
        store.find_student(&renamed.3, None).unwrap().display_name,
        format!("{} Castillo-Reyes", renamed.1)
    );
    let t = teachers(&store);
    assert!(!t.contains(&okafor));
    assert!(t.contains(&("ms_lee".to_owned(), "Science 7".to_owned())));
    // Ben left M7-2, and the roll of the lesson he was in still lists him.
    assert!(on_roll(&store), "a past roll keeps the student who left");
    assert!(
        !store
            .list_students(Some(m7_2))
            .unwrap()
            .iter()
            .any(|s| s.external_id.as_deref() == Some(moved_number.as_str())),
        "{moved_id} is no longer on the M7-2 roster"
    );

    // The delta again changes nothing.
    let before = dump(&store);
    assert!(store.import_roster(&delta).unwrap().is_unchanged());
    assert_eq!(dump(&store), before);

    // A byte-order mark is ignored, as OneRoster 1.2 asks, and said so in the preview.
    let bom = bundle(dir.path(), "bom", Variant::ByteOrderMark, Version::V1_2);
    let plan = store.plan_roster(&bom).unwrap();
    assert!(
        plan.notes
            .iter()
            .any(|n| n.contains("users.csv starts with a byte-order mark")),
        "{:?}",
        plan.notes
    );

    // Every broken variant is refused with its message, and the store stays as it was.
    for (variant, file, says) in [
        (
            Variant::MissingColumn,
            "users.csv line 1",
            "lacks the column familyName",
        ),
        (
            Variant::OrphanEnrollment,
            "enrollments.csv line 274",
            "stu-9999",
        ),
        (
            Variant::DuplicateSourcedId,
            "users.csv line 157",
            "\"stu-0150\" is on line 155",
        ),
        (Variant::Latin1, "users.csv line 4", "not UTF-8"),
    ] {
        let path = dir.path().join(format!("{variant:?}"));
        example::write(&path, variant, Version::V1_2).unwrap();
        let err = match read_bundle(&path) {
            Err(problems) => StoreError::Roster(problems),
            Ok(bundle) => store.import_roster(&bundle).unwrap_err(),
        };
        let text = err.to_string();
        assert!(
            text.contains(file) && text.contains(says) && text.contains("nothing was imported"),
            "{variant:?}: {text}"
        );
        assert_eq!(dump(&store), before, "{variant:?} changed the store");
    }
}

#[test]
fn a_bundle_a_delta_and_the_same_again_give_the_expected_roster() {
    a_bundle_a_delta_and_the_same_again_give_the_expected_roster_on(
        Store::open_in_memory().unwrap(),
    );
}

fn classes_and_students_added_by_hand_are_taken_over_on(store: Store) {
    let dir = tempfile::tempdir().unwrap();
    let science = store.add_class("Science 7").unwrap();
    let (_, given, family, number, _) = example::student(0);
    let amara = store
        .add_student(&format!("{given} {family}"), Some(&number), &[science])
        .unwrap();
    // A student of the class the bundle does not know, added by hand.
    let guest = store
        .add_student("Exchange Student", None, &[science])
        .unwrap();
    let bulk = bundle(dir.path(), "bulk", Variant::Bulk, Version::V1_1);
    let plan = store.import_roster(&bulk).unwrap();
    assert_eq!(plan.classes_added.len(), 5);
    assert_eq!(plan.classes_changed.len(), 1, "{:?}", plan.classes_changed);
    assert!(plan.classes_changed[0].contains("linked to sourcedId cls-s7"));
    assert_eq!(plan.students_added.len(), STUDENTS - 1);
    assert_eq!(store.find_class("Science 7").unwrap().id, science);
    assert_eq!(store.find_student(&number, None).unwrap().id, amara);
    let members: Vec<_> = store
        .list_students(Some(science))
        .unwrap()
        .into_iter()
        .map(|s| s.id)
        .collect();
    assert!(members.contains(&guest), "a student added by hand stays");
    assert_eq!(members.len(), 41);

    // A school number that belongs to someone else already is a problem, not a merge.
    let other = Store::open_in_memory().unwrap();
    other
        .add_student("Somebody Else", Some("26001"), &[])
        .unwrap();
    other
        .db()
        .execute(
            "UPDATE students SET sourced_id = 'sis-other' WHERE external_id = '26001'",
            [],
        )
        .unwrap();
    let err = other.import_roster(&bulk).unwrap_err().to_string();
    assert!(
        err.contains("users.csv line 6")
            && err.contains("belongs to Somebody Else")
            && err.contains("1 problem,"),
        "{err}"
    );
    assert_eq!(other.list_classes().unwrap().len(), 0);
}

#[test]
fn classes_and_students_added_by_hand_are_taken_over() {
    classes_and_students_added_by_hand_are_taken_over_on(Store::open_in_memory().unwrap());
}

fn the_information_system_export_maps_codes_and_keeps_names_intact_on(store: Store) {
    use crate::core::Status;
    use crate::store::export::{ExportFilter, ExportFormat, ExportOptions, SIS_HEADER};
    let dir = tempfile::tempdir().unwrap();
    store
        .import_roster(&bundle(dir.path(), "bulk", Variant::Bulk, Version::V1_2))
        .unwrap();
    let science = store.find_class("Science 7").unwrap();
    // Names a CSV writer and a spreadsheet must both get right.
    let (.., jr_number, _) = example::student(7);
    let (.., doc_number, _) = example::student(8);
    let formula = store.find_student("26010", None).unwrap();
    store
        .rename_student(formula.id, "=HYPERLINK(\"x\")")
        .unwrap();
    let mut settings = store.settings().unwrap();
    settings.sis_codes.present = "PR".into();
    settings.sis_codes.late = "TD".into();
    store.save_settings(&settings).unwrap();

    let lesson = store.start_session(science.id, None).unwrap();
    for (number, status) in [
        (jr_number.as_str(), Status::Present),
        (doc_number.as_str(), Status::Late),
        ("26010", Status::Excused),
    ] {
        let s = store.find_student(number, None).unwrap();
        store.set_mark(lesson, s.id, status, "teacher", "").unwrap();
    }
    store.stop_session(lesson).unwrap();
    // The lesson ends before the delta arrives (the clock is real).
    std::thread::sleep(std::time::Duration::from_millis(5));
    // Today's lesson is still open: its roll is not final, so it stays out.
    let open = store.start_session(science.id, None).unwrap();
    let options = ExportOptions {
        format: ExportFormat::Sis,
        bom: false,
        filter: ExportFilter {
            class: Some(science.id),
            ..ExportFilter::default()
        },
    };
    let mut out = Vec::new();
    let summary = store.export_csv(&options, &chrono::Utc, &mut out).unwrap();
    assert_eq!((summary.sessions, summary.open_left_out), (1, 1));
    assert_eq!(summary.rows, 40);
    let mut reader = csv::Reader::from_reader(out.as_slice());
    assert_eq!(
        reader.headers().unwrap(),
        &csv::StringRecord::from(SIS_HEADER.to_vec())
    );
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    let row = |number: &str| {
        rows.iter()
            .find(|r| &r[0] == number)
            .unwrap_or_else(|| panic!("no row for {number}"))
            .clone()
    };
    let jr = row(&jr_number);
    assert_eq!(&jr[1], "stu-0008");
    assert!(jr[2].ends_with("Smith, Jr."), "{jr:?}");
    assert_eq!(&jr[3], "Northside Middle School");
    assert_eq!((&jr[4], &jr[5], &jr[6]), ("cls-s7", "S7-1", "Science 7"));
    assert_eq!(
        (&jr[9], &jr[10], &jr[11]),
        (lesson.to_string().as_str(), "PR", "present")
    );
    let doc = row(&doc_number);
    assert!(doc[2].ends_with("\"Doc\" Holliday"), "{doc:?}");
    assert_eq!(&doc[10], "TD");
    let excused = row("26010");
    assert_eq!(
        &excused[2], "'=HYPERLINK(\"x\")",
        "a formula is shown as text"
    );
    assert_eq!(&excused[10], "E");
    assert_eq!(rows.iter().filter(|r| &r[10] == "A").count(), 37);
    assert!(rows.iter().all(|r| r[9] != open.to_string()));
    // The raw text quotes what needs quoting.
    let text = String::from_utf8(out).unwrap();
    assert!(text.contains("\"Hiro Smith, Jr.\""), "{text}");
    assert!(text.contains("\"Ines \"\"Doc\"\" Holliday\""), "{text}");

    // The long export carries the sourcedIds too.
    let mut long = Vec::new();
    store
        .export_csv(
            &ExportOptions {
                format: ExportFormat::Long,
                ..options
            },
            &chrono::Utc,
            &mut long,
        )
        .unwrap();
    let long = String::from_utf8(long).unwrap();
    assert!(
        long.lines()
            .next()
            .unwrap()
            .ends_with(",student_sourced_id,class_sourced_id")
    );
    assert!(long.contains(",stu-0008,cls-s7"), "{long}");

    // A code must be something.
    settings.sis_codes.absent = " ".into();
    assert!(store.save_settings(&settings).is_err());
}

#[test]
fn the_information_system_export_maps_codes_and_keeps_names_intact() {
    the_information_system_export_maps_codes_and_keeps_names_intact_on(
        Store::open_in_memory().unwrap(),
    );
}

fn a_file_with_an_imported_roster_moves_with_its_keys_and_history_on(target: Store) {
    let dir = tempfile::tempdir().unwrap();
    let file = Store::open(&dir.path().join("teacher.db")).unwrap();
    let bulk = bundle(dir.path(), "bulk", Variant::Bulk, Version::V1_2);
    let delta = bundle(dir.path(), "delta", Variant::Delta, Version::V1_2);
    file.import_roster(&bulk).unwrap();
    let m7_2 = file.find_class("Maths 7 (M7-2)").unwrap().id;
    let lesson = file.start_session(m7_2, None).unwrap();
    file.stop_session(lesson).unwrap();
    // The lesson ends before the delta arrives (the clock is real).
    std::thread::sleep(std::time::Duration::from_millis(5));
    file.import_roster(&delta).unwrap();

    target.import_from(&file, "teacher.db").unwrap();
    // The keys came along: the same bundles change nothing on the target.
    assert!(target.import_roster(&delta).unwrap().is_unchanged());
    let again = target.plan_roster(&bulk).unwrap();
    assert_eq!(again, file.plan_roster(&bulk).unwrap());
    assert_eq!(memberships(&target), memberships(&file));
    assert_eq!(teachers(&target), teachers(&file));
    // The student who left M7-2 is still on the roll of the lesson he was in.
    let (.., moved_number, _) = example::student(1);
    let class = target.find_class("Maths 7 (M7-2)").unwrap();
    let session = target.list_sessions(Some(class.id), None, None).unwrap()[0].id;
    assert!(
        target
            .session_roll(session)
            .unwrap()
            .iter()
            .any(|e| e.external_id.as_deref() == Some(moved_number.as_str()))
    );
    // And a second import of the file changes nothing.
    assert!(
        target
            .import_from(&file, "teacher.db")
            .unwrap()
            .is_unchanged()
    );
}

#[test]
fn a_file_with_an_imported_roster_moves_with_its_keys_and_history() {
    a_file_with_an_imported_roster_moves_with_its_keys_and_history_on(
        Store::open_in_memory().unwrap(),
    );
}

#[test]
fn both_versions_read_alike_and_the_reader_checks_the_manifest() {
    let dir = tempfile::tempdir().unwrap();
    let v11 = bundle(dir.path(), "v11", Variant::Bulk, Version::V1_1);
    let v12 = bundle(dir.path(), "v12.zip", Variant::Bulk, Version::V1_2);
    assert_eq!(v11.version, "1.1");
    assert_eq!(v12.version, "1.2");
    let plan = |b: &Bundle| Store::open_in_memory().unwrap().plan_roster(b).unwrap();
    assert_eq!(plan(&v11), plan(&v12));

    // A delta row must say what it is.
    let delta = dir.path().join("delta");
    example::write(&delta, Variant::Delta, Version::V1_2).unwrap();
    let users = std::fs::read_to_string(delta.join("users.csv")).unwrap();
    std::fs::write(delta.join("users.csv"), users.replacen(",active,", ",,", 1)).unwrap();
    let err = read_bundle(&delta).unwrap_err().to_string();
    assert!(
        err.contains("users.csv line 2: the status is empty"),
        "{err}"
    );

    std::fs::remove_file(delta.join("manifest.csv")).unwrap();
    let err = read_bundle(&delta).unwrap_err().to_string();
    assert!(err.contains("manifest.csv is missing"), "{err}");
    let err = read_bundle(&dir.path().join("nothing-here"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("neither a folder nor a ZIP file"), "{err}");
    std::fs::write(dir.path().join("fake.zip"), b"PK not really").unwrap();
    let err = read_bundle(&dir.path().join("fake.zip"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("not a readable ZIP file"), "{err}");
}

#[test]
fn the_roster_tests_pass_on_postgresql() {
    let Some(server) = cluster::TempCluster::start_or_skip("the roster tests") else {
        return;
    };
    let tests: [(&str, fn(Store)); 4] = [
        (
            "a_file_with_an_imported_roster_moves_with_its_keys_and_history",
            a_file_with_an_imported_roster_moves_with_its_keys_and_history_on,
        ),
        (
            "the_information_system_export_maps_codes_and_keeps_names_intact",
            the_information_system_export_maps_codes_and_keeps_names_intact_on,
        ),
        (
            "a_bundle_a_delta_and_the_same_again_give_the_expected_roster",
            a_bundle_a_delta_and_the_same_again_give_the_expected_roster_on,
        ),
        (
            "classes_and_students_added_by_hand_are_taken_over",
            classes_and_students_added_by_hand_are_taken_over_on,
        ),
    ];
    for (i, (name, test)) in tests.into_iter().enumerate() {
        let db = format!("roster_test_{i}");
        server.create_database(&db).unwrap();
        let store = Store::connect(&server.url(cluster::ADMIN, &db)).unwrap();
        #[allow(clippy::print_stderr)]
        {
            eprintln!("on PostgreSQL: {name}");
        }
        test(store);
    }
}
