//! Store tests: real SQLite files in temporary folders, and in-memory databases; most of them
//! run again on a real PostgreSQL server (`the_store_tests_pass_on_postgresql`).

// Each `…_on(store)` body owns the store it is given, as the engine's test loop hands it over.
#![allow(clippy::needless_pass_by_value, clippy::type_complexity)]

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use super::export::{ExportFilter, ExportFormat, ExportOptions};
use super::*;
use crate::core::StudentId;
use crate::core::rollcall::MarkEvidence;
use crate::core::{Candidate, MarkSource, Metric, ModelId, Status};

/// A clock the test moves by hand.
fn test_clock(start: i64) -> (Clock, Arc<AtomicI64>) {
    let t = Arc::new(AtomicI64::new(start));
    let t2 = Arc::clone(&t);
    (Arc::new(move || t2.load(Ordering::SeqCst)), t)
}

fn encoder(id: &str) -> EncoderRow {
    EncoderRow {
        id: ModelId::new(id),
        name: id.to_owned(),
        path: format!("builtin:{id}"),
        metric: Metric::Euclidean,
        dim: 3,
        default_threshold: 0.6,
        default_margin: 0.05,
        is_active: false,
    }
}

#[test]
fn migrations_are_valid() {
    MIGRATIONS.as_ref().unwrap().validate().unwrap();
    assert!(supported_schema_version().unwrap() >= 1);
}

#[test]
fn a_file_database_round_trips_and_is_private() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sub/rollcall.db");
    {
        let store = Store::open(&path).unwrap();
        let class = store.add_class(" 7B ").unwrap();
        store
            .add_student("Ada Lovelace", Some("S-001"), &[class])
            .unwrap();
    }
    let store = Store::open(&path).unwrap();
    let classes = store.list_classes().unwrap();
    assert_eq!(classes.len(), 1);
    assert_eq!(classes[0].name, "7B");
    assert_eq!(classes[0].student_count, 1);
    let students = store.list_students(Some(classes[0].id)).unwrap();
    assert_eq!(students[0].display_name, "Ada Lovelace");
    assert_eq!(students[0].external_id.as_deref(), Some("S-001"));
    assert_eq!(store.integrity_check().unwrap(), vec!["ok".to_owned()]);
    let mode: String = store
        .db()
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
    let fk: i64 = store
        .db()
        .query_row("PRAGMA foreign_keys", [], |r| r.get(0))
        .unwrap();
    assert_eq!(fk, 1);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
}

#[test]
fn a_newer_schema_is_refused_and_left_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("new.db");
    Store::open(&path).unwrap();
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.pragma_update(None, "user_version", 999).unwrap();
    }
    let before = std::fs::read(&path).unwrap();
    let err = Store::open(&path).unwrap_err();
    assert!(
        matches!(err, StoreError::NewerSchema { found: 999, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("newer version of rollcall"));
    assert_eq!(std::fs::read(&path).unwrap(), before);
}

#[test]
fn a_file_that_is_not_a_database_gives_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("photo.db");
    std::fs::write(
        &path,
        b"this is not sqlite at all, just some text in a file....",
    )
    .unwrap();
    let err = Store::open(&path).unwrap_err();
    assert!(matches!(err, StoreError::NotADatabase { .. }), "{err}");
    assert_eq!(
        std::fs::read(&path).unwrap(),
        b"this is not sqlite at all, just some text in a file...."
    );
}

#[test]
fn names_are_checked_and_duplicates_refused() {
    names_are_checked_and_duplicates_refused_on(Store::open_in_memory().unwrap());
}

fn names_are_checked_and_duplicates_refused_on(store: Store) {
    store.add_class("7B").unwrap();
    assert!(matches!(
        store.add_class("7B"),
        Err(StoreError::Duplicate { .. })
    ));
    assert!(matches!(store.add_class("  "), Err(StoreError::Invalid(_))));
    assert!(matches!(
        store.add_class("a\nb"),
        Err(StoreError::Invalid(_))
    ));
    let c = store.find_class("7b").unwrap();
    for name in ["O'Brien, \"Jo\"", "Zoë 🦊", "مريم", "=HYPERLINK(\"x\")"] {
        let id = store.add_student(name, None, &[c.id]).unwrap();
        assert_eq!(store.student(id).unwrap().display_name, name);
    }
    store.add_student("Sam", Some("42"), &[c.id]).unwrap();
    assert!(matches!(
        store.add_student("Other", Some("42"), &[c.id]),
        Err(StoreError::Duplicate { .. })
    ));
}

#[test]
fn finding_students_by_id_number_and_name() {
    finding_students_by_id_number_and_name_on(Store::open_in_memory().unwrap());
}

fn finding_students_by_id_number_and_name_on(store: Store) {
    let a = store.add_class("A").unwrap();
    let b = store.add_class("B").unwrap();
    let s1 = store.add_student("Kim", Some("1001"), &[a]).unwrap();
    let s2 = store.add_student("Kim", None, &[b]).unwrap();
    assert_eq!(store.find_student("1001", None).unwrap().id, s1);
    assert_eq!(store.find_student(&format!("#{s2}"), None).unwrap().id, s2);
    assert!(matches!(
        store.find_student("kim", None),
        Err(StoreError::Ambiguous { .. })
    ));
    assert_eq!(store.find_student("kim", Some(b)).unwrap().id, s2);
    assert!(matches!(
        store.find_student("Nobody", None),
        Err(StoreError::NotFound { .. })
    ));
}

#[test]
fn the_operating_point_takes_the_class_override_and_the_margin_setting() {
    the_operating_point_takes_the_class_override_and_the_margin_setting_on(
        Store::open_in_memory().unwrap(),
    );
}

fn the_operating_point_takes_the_class_override_and_the_margin_setting_on(store: Store) {
    let c = store.add_class("7B").unwrap();
    let e = encoder("m1");
    // The encoder's defaults first.
    let p = store.operating_point(&store.class(c).unwrap(), &e).unwrap();
    assert_eq!(
        (p.model_id, p.threshold, p.margin),
        (e.id.clone(), 0.6, 0.05)
    );
    // The class's threshold and the teacher's margin win over them.
    store.set_class_threshold(c, Some(0.5)).unwrap();
    let settings = Settings {
        min_margin: Some(0.2),
        ..Settings::default()
    };
    store.save_settings(&settings).unwrap();
    let p = store.operating_point(&store.class(c).unwrap(), &e).unwrap();
    assert_eq!((p.threshold, p.margin), (0.5, 0.2));
}

#[test]
fn one_open_session_per_class() {
    one_open_session_per_class_on(Store::open_in_memory().unwrap());
}

fn one_open_session_per_class_on(store: Store) {
    let c = store.add_class("7B").unwrap();
    let s = store.start_session(c, None).unwrap();
    assert!(matches!(
        store.start_session(c, None),
        Err(StoreError::Invalid(_))
    ));
    store.stop_session(s).unwrap();
    assert!(store.stop_session(s).is_err());
    store.start_session(c, None).unwrap();
    assert_eq!(store.list_sessions(Some(c), None, None).unwrap().len(), 2);
    // A session is looked up within its class only.
    let other = store.add_class("8A").unwrap();
    assert_eq!(
        store
            .session_in_class(s, &store.class(c).unwrap())
            .unwrap()
            .id,
        s
    );
    let Err(StoreError::Invalid(msg)) = store.session_in_class(s, &store.class(other).unwrap())
    else {
        panic!("a session of 7B was found in 8A");
    };
    assert!(msg.contains("belongs to class 7B, not 8A"), "{msg}");
}

fn evidence(d: f32) -> MarkEvidence {
    MarkEvidence {
        distance: d,
        margin: 0.2,
        runner_up: None,
    }
}

#[test]
fn a_student_is_marked_once_per_session_and_the_first_mark_is_kept() {
    a_student_is_marked_once_per_session_and_the_first_mark_is_kept_on(
        Store::open_in_memory().unwrap(),
    );
}

fn a_student_is_marked_once_per_session_and_the_first_mark_is_kept_on(store: Store) {
    let (clock, t) = test_clock(1_000_000);
    let store = store.with_clock(clock);
    store.register_encoder(&encoder("m")).unwrap();
    let c = store.add_class("7B").unwrap();
    let ada = store.add_student("Ada", None, &[c]).unwrap();
    let s = store.start_session(c, None).unwrap();
    let model = ModelId::new("m");
    let mark = |frame_ms: i64, status: Status| AutoMark {
        session: s,
        student: ada,
        status,
        source: MarkSource::Auto,
        frame_ms,
        evidence: Some(evidence(0.31)),
        model_id: Some(&model),
        evidence_crop: None,
    };
    assert_eq!(
        store
            .record_auto_mark(&mark(1_000_100, Status::Present))
            .unwrap(),
        RecordOutcome::Marked
    );
    t.store(2_000_000, Ordering::SeqCst);
    assert_eq!(
        store
            .record_auto_mark(&mark(1_900_000, Status::Late))
            .unwrap(),
        RecordOutcome::AlreadyMarked(Status::Present)
    );
    let marks = store.marks(s).unwrap();
    assert_eq!(marks.len(), 1);
    assert_eq!(marks[0].status, Status::Present);
    assert_eq!(marks[0].frame_ms, Some(1_000_100));
    assert_eq!(marks[0].last_seen_ms, Some(1_900_000));
    assert!((marks[0].score.unwrap() - 0.31).abs() < 1e-6);
    // The database itself refuses a second row.
    let err = store
        .db()
        .execute(
            "INSERT INTO marks (session_id, student_id, status, source, marked_ms) VALUES (?1, ?2, 'present', 'manual', 0)",
            [s.0, ada.0],
        )
        .unwrap_err();
    assert!(err.is_unique_violation(), "{err}");
    // A stopped session takes no automatic marks.
    store.stop_session(s).unwrap();
    assert!(
        store
            .record_auto_mark(&mark(2_000_000, Status::Present))
            .is_err()
    );
}

#[test]
fn manual_overrides_are_audited() {
    manual_overrides_are_audited_on(Store::open_in_memory().unwrap());
}

fn manual_overrides_are_audited_on(store: Store) {
    let c = store.add_class("7B").unwrap();
    let ada = store.add_student("Ada", None, &[c]).unwrap();
    let outsider = store.add_student("Bob", None, &[]).unwrap();
    let s = store.start_session(c, None).unwrap();
    store
        .set_mark(s, ada, Status::Present, "teacher", "")
        .unwrap();
    store
        .set_mark(s, ada, Status::Excused, "teacher", "doctor's note")
        .unwrap();
    assert_eq!(store.mark(s, ada).unwrap().unwrap().status, Status::Excused);
    assert_eq!(
        store.mark(s, ada).unwrap().unwrap().source,
        MarkSource::Manual
    );
    assert!(
        store
            .set_mark(s, outsider, Status::Present, "teacher", "")
            .is_err()
    );
    let log = store.audit_entries(10).unwrap();
    assert_eq!(log[0].action, "mark_set");
    assert_eq!(log[0].details, "present (manual) -> excused; doctor's note");
    assert_eq!(log[1].details, "unmarked -> present");
}

#[test]
fn enrollment_needs_consent_and_forgetting_removes_biometrics_only() {
    enrollment_needs_consent_and_forgetting_removes_biometrics_only_on(
        Store::open_in_memory().unwrap(),
    );
}

fn enrollment_needs_consent_and_forgetting_removes_biometrics_only_on(store: Store) {
    store.register_encoder(&encoder("m")).unwrap();
    let c = store.add_class("7B").unwrap();
    let ada = store.add_student("Ada", None, &[c]).unwrap();
    let e = crate::core::Embedding::new(ModelId::new("m"), vec![0.1, 0.2, 0.3]).unwrap();
    let new = NewEnrollment {
        photo: b"jpegbytes",
        photo_format: "jpeg",
        embedding: Some(&e),
        ..Default::default()
    };
    let err = store.enroll(ada, &new).unwrap_err();
    assert!(err.to_string().contains("no biometric consent"), "{err}");
    assert!(store.enrollment(ada).unwrap().is_none());

    store
        .give_consent(ada, "Mary Lovelace (mother)", None)
        .unwrap();
    store.enroll(ada, &new).unwrap();
    assert_eq!(
        store.embedding(ada, &ModelId::new("m")).unwrap().unwrap(),
        e
    );
    let (gallery, missing) = store
        .class_gallery(c, &ModelId::new("m"), Metric::Euclidean, 3)
        .unwrap();
    assert_eq!((gallery.len(), missing), (1, 0));

    let s = store.start_session(c, None).unwrap();
    store
        .set_mark(s, ada, Status::Present, "teacher", "")
        .unwrap();
    store.forget_biometrics(ada, "teacher").unwrap();
    assert!(store.enrollment(ada).unwrap().is_none());
    assert!(store.embedding(ada, &ModelId::new("m")).unwrap().is_none());
    assert_eq!(store.marks(s).unwrap().len(), 1);
    assert_eq!(
        store.audit_entries(1).unwrap()[0].action,
        "student_forgotten"
    );

    // Withdrawing consent removes the student from the gallery.
    store.enroll(ada, &new).unwrap();
    store.withdraw_consent(ada).unwrap();
    assert!(store.enrollment(ada).unwrap().is_none());
    let (gallery, _) = store
        .class_gallery(c, &ModelId::new("m"), Metric::Euclidean, 3)
        .unwrap();
    assert!(gallery.is_empty());
}

#[test]
fn re_embedding_resumes_from_what_is_missing() {
    re_embedding_resumes_from_what_is_missing_on(Store::open_in_memory().unwrap());
}

fn re_embedding_resumes_from_what_is_missing_on(store: Store) {
    store.register_encoder(&encoder("old")).unwrap();
    store.register_encoder(&encoder("new")).unwrap();
    let c = store.add_class("7B").unwrap();
    let mut ids = Vec::new();
    for name in ["A", "B", "C"] {
        let id = store.add_student(name, None, &[c]).unwrap();
        store.give_consent(id, "parent", None).unwrap();
        store
            .enroll(
                id,
                &NewEnrollment {
                    photo: name.as_bytes(),
                    photo_format: "png",
                    ..Default::default()
                },
            )
            .unwrap();
        ids.push(id);
    }
    let new = ModelId::new("new");
    assert_eq!(store.pending_reembed(&new).unwrap().len(), 3);
    store
        .put_embedding(
            ids[0],
            &crate::core::Embedding::new(new.clone(), vec![1.0, 2.0, 3.0]).unwrap(),
        )
        .unwrap();
    let pending = store.pending_reembed(&new).unwrap();
    assert_eq!(
        pending.iter().map(|p| p.student).collect::<Vec<_>>(),
        vec![ids[1], ids[2]]
    );
    assert_eq!(pending[0].photo, b"B");
}

#[test]
fn encoders_have_one_active() {
    encoders_have_one_active_on(Store::open_in_memory().unwrap());
}

fn encoders_have_one_active_on(store: Store) {
    store.register_encoder(&encoder("a")).unwrap();
    store.register_encoder(&encoder("b")).unwrap();
    assert!(store.active_encoder().unwrap().is_none());
    store.set_active_encoder(&ModelId::new("a")).unwrap();
    store.set_active_encoder(&ModelId::new("b")).unwrap();
    assert_eq!(
        store.active_encoder().unwrap().unwrap().id,
        ModelId::new("b")
    );
    assert_eq!(
        store
            .list_encoders()
            .unwrap()
            .iter()
            .filter(|e| e.is_active)
            .count(),
        1
    );
    assert!(store.set_active_encoder(&ModelId::new("zzz")).is_err());
}

#[test]
fn reviews_accept_and_reject() {
    reviews_accept_and_reject_on(Store::open_in_memory().unwrap());
}

fn reviews_accept_and_reject_on(store: Store) {
    let c = store.add_class("7B").unwrap();
    let a = store.add_student("A", None, &[c]).unwrap();
    let b = store.add_student("B", None, &[c]).unwrap();
    let s = store.start_session(c, None).unwrap();
    let event = crate::core::rollcall::ReviewEvent {
        track: crate::core::tracker::TrackId(1),
        candidate: Candidate {
            student: a,
            distance: 0.4,
        },
        runner_up: Some(Candidate {
            student: b,
            distance: 0.42,
        }),
        margin: 0.02,
        reason: crate::core::rollcall::UncertainReason::SmallMargin,
        frame_ms: store.now_ms(),
        face_index: 0,
    };
    let r1 = store.add_review(s, &event, None, Some(b"png")).unwrap();
    let r2 = store.add_review(s, &event, None, None).unwrap();
    assert_eq!(store.pending_reviews(Some(s)).unwrap().len(), 2);
    // The teacher says the face is B, not the candidate A.
    assert_eq!(
        store.accept_review(r1, Some(b)).unwrap(),
        RecordOutcome::Marked
    );
    let m = store.mark(s, b).unwrap().unwrap();
    assert_eq!(m.source, MarkSource::Review);
    assert!(m.score.is_none());
    store.reject_review(r2).unwrap();
    assert!(store.pending_reviews(Some(s)).unwrap().is_empty());
    assert!(store.accept_review(r2, None).is_err());
    assert!(store.mark(s, a).unwrap().is_none());
}

#[test]
fn a_review_crop_is_deleted_when_the_teacher_decides_either_way() {
    a_review_crop_is_deleted_when_the_teacher_decides_either_way_on(
        Store::open_in_memory().unwrap(),
    );
}

fn a_review_crop_is_deleted_when_the_teacher_decides_either_way_on(store: Store) {
    let c = store.add_class("7B").unwrap();
    let a = store.add_student("A", None, &[c]).unwrap();
    let s = store.start_session(c, None).unwrap();
    let event = crate::core::rollcall::ReviewEvent {
        track: crate::core::tracker::TrackId(1),
        candidate: Candidate {
            student: a,
            distance: 0.4,
        },
        runner_up: None,
        margin: 0.02,
        reason: crate::core::rollcall::UncertainReason::Flickering,
        frame_ms: store.now_ms(),
        face_index: 0,
    };
    let accepted = store.add_review(s, &event, None, Some(b"png")).unwrap();
    let rejected = store.add_review(s, &event, None, Some(b"png")).unwrap();
    assert!(store.review_crop(accepted).unwrap().is_some());
    store.accept_review(accepted, None).unwrap();
    store.reject_review(rejected).unwrap();
    for id in [accepted, rejected] {
        assert!(store.review_crop(id).unwrap().is_none(), "review #{id}");
        assert!(!store.review(id).unwrap().has_crop);
    }
    // The accepted mark keeps its figures, not the face.
    let m = store.mark(s, a).unwrap().unwrap();
    assert!(m.score.is_some() && !m.has_evidence_crop);
}

#[test]
fn recorded_matches_feed_the_what_if_preview() {
    recorded_matches_feed_the_what_if_preview_on(Store::open_in_memory().unwrap());
}

fn recorded_matches_feed_the_what_if_preview_on(store: Store) {
    use crate::core::calibration::{RecordedKind, what_if};
    let store = store;
    store.register_encoder(&encoder("m")).unwrap();
    let model = ModelId::new("m");
    let c = store.add_class("7B").unwrap();
    let [a, b, d] = ["A", "B", "D"].map(|n| store.add_student(n, None, &[c]).unwrap());
    let s = store.start_session(c, None).unwrap();
    // A marked by the engine at 0.31 (margin 0.2).
    store
        .record_auto_mark(&AutoMark {
            session: s,
            student: a,
            status: Status::Present,
            source: MarkSource::Auto,
            frame_ms: store.now_ms(),
            evidence: Some(evidence(0.31)),
            model_id: Some(&model),
            evidence_crop: None,
        })
        .unwrap();
    // Faces sent to review: B at 0.40 (accepted), D at 0.45 (rejected), one from another model.
    let review = |student, distance, model: &ModelId| {
        let event = crate::core::rollcall::ReviewEvent {
            track: crate::core::tracker::TrackId(1),
            candidate: Candidate { student, distance },
            runner_up: Some(Candidate {
                student: a,
                distance: distance + 0.03,
            }),
            margin: 0.03,
            reason: crate::core::rollcall::UncertainReason::SmallMargin,
            frame_ms: store.now_ms(),
            face_index: 0,
        };
        store.add_review(s, &event, Some(model), None).unwrap()
    };
    let rb = review(b, 0.40, &model);
    let rd = review(d, 0.45, &model);
    review(d, 0.2, &ModelId::new("other"));
    store.accept_review(rb, None).unwrap();
    store.reject_review(rd).unwrap();

    let mut got = store.recorded_matches(c, &model, None).unwrap();
    got.sort_by_key(|r| r.student);
    let summary: Vec<_> = got
        .iter()
        .map(|r| (r.student, r.kind, r.present_in_the_end))
        .collect();
    assert_eq!(
        summary,
        [
            (a, RecordedKind::AutoMark, true),
            (b, RecordedKind::Review { decided: true }, true),
            (d, RecordedKind::Review { decided: true }, false),
        ]
    );
    assert!((got[1].distance - 0.40).abs() < 1e-6);
    assert!((got[1].margin.unwrap() - 0.03).abs() < 1e-6);
    // Without the margin rule B would have been marked (confirmed) and D wrongly.
    let w = what_if(&got, 0.6, 0.0);
    assert_eq!((w.kept, w.gained_confirmed, w.gained_wrong), (1, 1, 1));
    // Another session only: nothing recorded there.
    store.stop_session(s).unwrap();
    let s2 = store.start_session(c, None).unwrap();
    assert!(
        store
            .recorded_matches(c, &model, Some(s2))
            .unwrap()
            .is_empty()
    );
    assert_eq!(store.recorded_matches(c, &model, Some(s)).unwrap().len(), 3);
}

#[test]
fn removing_keeps_history() {
    removing_keeps_history_on(Store::open_in_memory().unwrap());
}

fn removing_keeps_history_on(store: Store) {
    let c = store.add_class("7B").unwrap();
    let a = store.add_student("A", None, &[c]).unwrap();
    let s = store.start_session(c, None).unwrap();
    store
        .set_mark(s, a, Status::Present, "teacher", "")
        .unwrap();
    store.stop_session(s).unwrap();
    store.remove_student(a).unwrap();
    assert!(store.list_students(Some(c)).unwrap().is_empty());
    assert_eq!(store.session_roll(s).unwrap().len(), 1);
    assert!(matches!(
        store.remove_class(c, false),
        Err(StoreError::Invalid(_))
    ));
    store.remove_class(c, true).unwrap();
    assert!(store.list_classes().unwrap().is_empty());
}

fn export_string(store: &Store, format: ExportFormat, bom: bool) -> String {
    let mut out = Vec::new();
    let options = ExportOptions {
        format,
        bom,
        filter: ExportFilter::default(),
    };
    store.export_csv(&options, &chrono::Utc, &mut out).unwrap();
    String::from_utf8(out).unwrap()
}

#[test]
fn csv_export_quotes_neutralises_and_never_contains_biometrics() {
    csv_export_quotes_neutralises_and_never_contains_biometrics_on(
        Store::open_in_memory().unwrap(),
    );
}

fn csv_export_quotes_neutralises_and_never_contains_biometrics_on(store: Store) {
    // 2026-11-29 08:00:00 UTC.
    let (clock, t) = test_clock(1_795_939_200_000);
    let store = store.with_clock(clock);
    store.register_encoder(&encoder("m")).unwrap();
    let c = store.add_class("7B").unwrap();
    let evil = store
        .add_student("=HYPERLINK(\"x\")", Some("-5"), &[c])
        .unwrap();
    let comma = store.add_student("O'Brien, \"Jo\"", None, &[c]).unwrap();
    let absent = store.add_student("Zoë 🦊", None, &[c]).unwrap();
    store.give_consent(comma, "parent", None).unwrap();
    let e = crate::core::Embedding::new(ModelId::new("m"), vec![7.0, 8.0, 9.0]).unwrap();
    store
        .enroll(
            comma,
            &NewEnrollment {
                photo: b"PHOTOBYTES",
                photo_format: "jpeg",
                embedding: Some(&e),
                ..Default::default()
            },
        )
        .unwrap();
    let s = store.start_session(c, None).unwrap();
    t.store(1_795_939_200_000 + 65_000, Ordering::SeqCst);
    let model = ModelId::new("m");
    store
        .record_auto_mark(&AutoMark {
            session: s,
            student: comma,
            status: Status::Present,
            source: MarkSource::Auto,
            frame_ms: 1_795_939_200_000 + 61_000,
            evidence: Some(MarkEvidence {
                distance: 0.312_345,
                margin: 0.2,
                runner_up: None,
            }),
            model_id: Some(&model),
            evidence_crop: Some(b"CROPBYTES"),
        })
        .unwrap();
    store
        .set_mark(s, evil, Status::Late, "teacher", "")
        .unwrap();

    let long = export_string(&store, ExportFormat::Long, false);
    let mut rdr = csv::Reader::from_reader(long.as_bytes());
    assert_eq!(
        rdr.headers().unwrap().iter().collect::<Vec<_>>(),
        super::export::LONG_HEADER.to_vec()
    );
    let rows: Vec<csv::StringRecord> = rdr.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 3);
    let by_name = |n: &str| rows.iter().find(|r| &r[5] == n).unwrap().clone();
    let evil_row = by_name("'=HYPERLINK(\"x\")");
    assert_eq!(&evil_row[4], "'-5");
    assert_eq!(&evil_row[6], "late");
    let ok = by_name("O'Brien, \"Jo\"");
    assert_eq!(
        (&ok[0], &ok[1], &ok[6], &ok[7], &ok[8], &ok[9]),
        ("2026-11-29", "7B", "present", "08:01:01", "auto", "0.3123")
    );
    assert_eq!(&by_name("Zoë 🦊")[6], "absent");
    assert!(long.contains("\r\n"));
    assert!(!long.contains("PHOTOBYTES") && !long.contains("CROPBYTES"));
    let _ = absent;

    let with_bom = export_string(&store, ExportFormat::Long, true);
    assert!(with_bom.starts_with('\u{feff}'));

    let matrix = export_string(&store, ExportFormat::Matrix, false);
    let mut rdr = csv::Reader::from_reader(matrix.as_bytes());
    let header = rdr.headers().unwrap().clone();
    assert_eq!(header.len(), 3 + 1 + 3);
    assert!(header[3].starts_with("2026-11-29 08:00 7B #"));
    let rows: Vec<csv::StringRecord> = rdr.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 3);
    let zoe = rows.iter().find(|r| &r[2] == "Zoë 🦊").unwrap();
    assert_eq!(
        (&zoe[3], &zoe[4], &zoe[5], &zoe[6]),
        ("absent", "0", "1", "0.0%")
    );
}

#[test]
fn export_filters_by_class_session_and_dates() {
    export_filters_by_class_session_and_dates_on(Store::open_in_memory().unwrap());
}

fn export_filters_by_class_session_and_dates_on(store: Store) {
    let (clock, t) = test_clock(1_000_000_000);
    let store = store.with_clock(clock);
    let a = store.add_class("A").unwrap();
    let b = store.add_class("B").unwrap();
    store.add_student("Ann", None, &[a]).unwrap();
    store.add_student("Ben", None, &[b]).unwrap();
    t.store(1_000_000_000 + 86_400_000, Ordering::SeqCst);
    let sa1 = store.start_session(a, None).unwrap();
    store.stop_session(sa1).unwrap();
    let sb1 = store.start_session(b, None).unwrap();
    store.stop_session(sb1).unwrap();
    t.store(1_000_000_000 + 3 * 86_400_000, Ordering::SeqCst);
    let sa2 = store.start_session(a, None).unwrap();
    let count = |filter: ExportFilter| {
        let mut out = Vec::new();
        store
            .export_csv(
                &ExportOptions {
                    format: ExportFormat::Long,
                    bom: false,
                    filter,
                },
                &chrono::Utc,
                &mut out,
            )
            .unwrap()
    };
    assert_eq!(count(ExportFilter::default()).sessions, 3);
    assert_eq!(
        count(ExportFilter {
            class: Some(a),
            ..Default::default()
        })
        .sessions,
        2
    );
    assert_eq!(
        count(ExportFilter {
            session: Some(sa2),
            ..Default::default()
        })
        .rows,
        1
    );
    let from = Some(1_000_000_000 + 2 * 86_400_000);
    assert_eq!(
        count(ExportFilter {
            from_ms: from,
            ..Default::default()
        })
        .sessions,
        1
    );
    assert_eq!(
        count(ExportFilter {
            to_ms: from,
            ..Default::default()
        })
        .sessions,
        2
    );
    let mut out = Vec::new();
    let wrong = ExportFilter {
        class: Some(b),
        session: Some(sa2),
        ..Default::default()
    };
    assert!(
        store
            .export_csv(
                &ExportOptions {
                    filter: wrong,
                    ..Default::default()
                },
                &chrono::Utc,
                &mut out
            )
            .is_err()
    );
}

#[test]
fn retention_purges_old_biometrics_but_keeps_attendance() {
    retention_purges_old_biometrics_but_keeps_attendance_on(Store::open_in_memory().unwrap());
}

fn retention_purges_old_biometrics_but_keeps_attendance_on(store: Store) {
    let (clock, t) = test_clock(0);
    let store = store.with_clock(clock);
    let c = store.add_class("7B").unwrap();
    let old = store.add_student("Old", None, &[c]).unwrap();
    let fresh = store.add_student("Fresh", None, &[c]).unwrap();
    for s in [old, fresh] {
        store.give_consent(s, "parent", None).unwrap();
    }
    store
        .enroll(
            old,
            &NewEnrollment {
                photo: b"o",
                photo_format: "png",
                ..Default::default()
            },
        )
        .unwrap();
    t.store(100 * 86_400_000, Ordering::SeqCst);
    store
        .enroll(
            fresh,
            &NewEnrollment {
                photo: b"f",
                photo_format: "png",
                ..Default::default()
            },
        )
        .unwrap();
    let s = store.start_session(c, None).unwrap();
    store
        .set_mark(s, old, Status::Present, "teacher", "")
        .unwrap();
    assert_eq!(store.purge_expired_biometrics(30).unwrap(), 1);
    assert!(store.enrollment(old).unwrap().is_none());
    assert!(store.enrollment(fresh).unwrap().is_some());
    assert_eq!(store.marks(s).unwrap().len(), 1);
}

#[test]
fn settings_round_trip_and_backup_copies_everything() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("a.db")).unwrap();
    store.set_setting("k", "v1").unwrap();
    store.set_setting("k", "v2").unwrap();
    assert_eq!(store.setting("k").unwrap().as_deref(), Some("v2"));
    assert_eq!(store.setting("missing").unwrap(), None);
    store.add_class("7B").unwrap();
    let backup = dir.path().join("backup.db");
    store.backup_to(&backup).unwrap();
    assert!(store.backup_to(&backup).is_err());
    let copy = Store::open(&backup).unwrap();
    assert_eq!(copy.list_classes().unwrap().len(), 1);
    assert_eq!(copy.setting("k").unwrap().as_deref(), Some("v2"));
}

#[test]
fn a_full_disk_gives_a_clear_error_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("full.db")).unwrap();
    let c = store.add_class("7B").unwrap();
    let ada = store.add_student("Ada", None, &[c]).unwrap();
    store.give_consent(ada, "parent", None).unwrap();
    // The database may not grow any more: what SQLite reports on a full disk.
    let pages: i64 = store
        .db()
        .query_row("PRAGMA page_count", [], |r| r.get(0))
        .unwrap();
    store
        .db()
        .sqlite()
        .unwrap()
        .pragma_update(None, "max_page_count", pages)
        .unwrap();
    let photo = vec![7u8; 512 * 1024];
    let err = store
        .enroll(
            ada,
            &NewEnrollment {
                photo: &photo,
                photo_format: "jpeg",
                ..Default::default()
            },
        )
        .unwrap_err();
    assert!(matches!(err, StoreError::DiskFull(_)), "{err}");
    assert!(err.to_string().contains("disk is full"), "{err}");
    assert!(store.enrollment(ada).unwrap().is_none());
    assert_eq!(store.list_students(None).unwrap().len(), 1);
    assert_eq!(store.integrity_check().unwrap(), vec!["ok".to_owned()]);
}

#[test]
fn a_read_only_database_gives_a_clear_error_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("ro.db")).unwrap();
    store.add_class("7B").unwrap();
    // What a read-only file or mount gives (root ignores file modes, so ask SQLite directly).
    store
        .db()
        .sqlite()
        .unwrap()
        .pragma_update(None, "query_only", true)
        .unwrap();
    let err = store.add_class("8C").unwrap_err();
    assert!(matches!(err, StoreError::ReadOnly(_)), "{err}");
    assert!(err.to_string().contains("read-only"), "{err}");
    assert_eq!(store.list_classes().unwrap().len(), 1);
}

#[test]
fn a_second_connection_waits_for_a_writer_instead_of_failing() {
    // The window and a command-line command write the same file at the same time.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("shared.db");
    let window = Store::open(&path).unwrap();
    window.add_class("7B").unwrap();
    let held = window
        .db()
        .sqlite()
        .unwrap()
        .unchecked_transaction()
        .unwrap();
    held.execute(
        "INSERT INTO classes (name, created_ms) VALUES ('8C', 0)",
        [],
    )
    .unwrap();
    let cli = std::thread::Builder::new()
        .name("cli".into())
        .spawn(move || {
            let other = Store::open(&path).unwrap();
            let started = std::time::Instant::now();
            other.add_class("9D").unwrap();
            started.elapsed()
        })
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(400));
    held.commit().unwrap();
    let waited = cli.join().unwrap();
    assert!(
        waited >= std::time::Duration::from_millis(300),
        "the second writer did not wait: {waited:?}"
    );
    let names: Vec<String> = window
        .list_classes()
        .unwrap()
        .into_iter()
        .map(|c| c.name)
        .collect();
    assert_eq!(names, vec!["7B", "8C", "9D"]);
}

#[test]
fn eight_connections_creating_one_file_at_once_all_open_it() {
    // Eight lessons start at the same moment against one school server, so eight processes of
    // one user open (and create) the same offline copy together. Each connection here has its
    // own file locks, as a process has. A hundred rounds, because the race is a matter of
    // timing: before the fix, most runs failed within the first sixty.
    let dir = tempfile::tempdir().unwrap();
    for round in 0..100 {
        let path = dir.path().join(format!("copy-{round}.db"));
        let start = Arc::new(std::sync::Barrier::new(8));
        let openers: Vec<_> = (0..8)
            .map(|i| {
                let path = path.clone();
                let start = Arc::clone(&start);
                std::thread::Builder::new()
                    .name(format!("lesson-{i}"))
                    .spawn(move || {
                        start.wait();
                        let store = Store::open(&path)?;
                        store.add_class(&format!("room {i}"))?;
                        Ok::<_, StoreError>(())
                    })
                    .unwrap()
            })
            .collect();
        for (i, opener) in openers.into_iter().enumerate() {
            if let Err(err) = opener.join().unwrap() {
                panic!("round {round}, lesson {i}: {err}");
            }
        }
        let store = Store::open(&path).unwrap();
        assert_eq!(store.list_classes().unwrap().len(), 8, "round {round}");
    }
}

#[test]
fn the_sample_class_is_a_real_sized_class_with_history_and_a_review_queue() {
    the_sample_class_is_a_real_sized_class_with_history_and_a_review_queue_on(
        Store::open_in_memory().unwrap(),
    );
}

fn the_sample_class_is_a_real_sized_class_with_history_and_a_review_queue_on(store: Store) {
    let enc = EncoderRow {
        dim: 192,
        default_threshold: 0.825,
        ..encoder("sample-192")
    };
    store.register_encoder(&enc).unwrap();
    store.set_active_encoder(&enc.id).unwrap();
    let spec = sample::SampleSpec::default();
    let built = store.add_sample_class(&spec, &enc).unwrap();
    assert_eq!(built.students.len(), 40);
    assert_eq!(built.past_sessions.len(), 30);
    assert_eq!(built.reviews.len(), 20);

    let students = store.list_students(Some(built.class)).unwrap();
    assert_eq!(students.len(), 40);
    let names: std::collections::BTreeSet<_> = students.iter().map(|s| &s.display_name).collect();
    assert_eq!(names.len(), 40, "every name is different");
    let manual = students.iter().filter(|s| !s.has_consent).count();
    assert_eq!(manual, 3);
    assert!(
        students
            .iter()
            .filter(|s| s.has_photo)
            .all(|s| s.has_consent)
    );
    assert!(students.iter().any(|s| !s.quality_warnings.is_empty()));

    // Past sessions are finished, on different school days, before the open one.
    let sessions = store.list_sessions(Some(built.class), None, None).unwrap();
    assert_eq!(sessions.len(), 31);
    assert_eq!(sessions.iter().filter(|s| s.ended_ms.is_none()).count(), 1);
    let open = store.open_session(built.class).unwrap().unwrap();
    assert_eq!(open.id, built.open_session);
    let days: std::collections::BTreeSet<i64> =
        sessions.iter().map(|s| s.started_ms / 86_400_000).collect();
    assert_eq!(days.len(), 31);
    let pending = store.pending_reviews(Some(open.id)).unwrap();
    assert_eq!(pending.len(), 20);
    assert!(pending.iter().all(|r| r.has_crop && r.candidate.is_some()));
    assert!(store.review_crop(pending[19].id).unwrap().is_some());

    // The look-alike pairs are exactly the pairs built close: every other pair of random
    // directions in 192 dimensions is far apart.
    let (gallery, _) = store
        .class_gallery(built.class, &enc.id, enc.metric, enc.dim)
        .unwrap();
    let close: Vec<_> = gallery
        .pairwise_distances()
        .into_iter()
        .filter(|&(_, _, d)| d < enc.default_threshold + enc.default_margin)
        .collect();
    assert_eq!(close.len(), built.look_alikes.len());
    assert_eq!(built.look_alikes.len(), 5);
    for (a, b, d) in &close {
        assert!(
            built.look_alikes.contains(&(*a, *b)) || built.look_alikes.contains(&(*b, *a)),
            "{a} and {b} at {d} were not built close"
        );
    }
    assert!(close.iter().any(|&(_, _, d)| d < enc.default_threshold));

    // The same seed builds the same class; a bad size is refused and writes nothing.
    let other = Store::open_in_memory().unwrap();
    other.register_encoder(&enc).unwrap();
    other.add_sample_class(&spec, &enc).unwrap();
    let again = other.list_students(None).unwrap();
    assert_eq!(
        again.iter().map(|s| &s.display_name).collect::<Vec<_>>(),
        students.iter().map(|s| &s.display_name).collect::<Vec<_>>()
    );
    let too_big = sample::SampleSpec {
        class_name: "Huge".into(),
        students: 10_000,
        ..sample::SampleSpec::default()
    };
    assert!(store.add_sample_class(&too_big, &enc).is_err());
    assert!(store.find_class("Huge").is_err());
}

/// Every store test above that runs on an in-memory SQLite database runs again on a real
/// PostgreSQL server (a throwaway cluster; a fresh database for each).
#[allow(clippy::too_many_lines)] // the list of every store test run again on PostgreSQL
#[test]
fn the_store_tests_pass_on_postgresql() {
    let Some(server) = cluster::TempCluster::start_or_skip("the store tests") else {
        return;
    };
    let tests: [(&str, fn(Store)); 17] = [
        (
            "names_are_checked_and_duplicates_refused",
            names_are_checked_and_duplicates_refused_on,
        ),
        (
            "finding_students_by_id_number_and_name",
            finding_students_by_id_number_and_name_on,
        ),
        (
            "the_operating_point_takes_the_class_override_and_the_margin_setting",
            the_operating_point_takes_the_class_override_and_the_margin_setting_on,
        ),
        ("one_open_session_per_class", one_open_session_per_class_on),
        (
            "manual_overrides_are_audited",
            manual_overrides_are_audited_on,
        ),
        (
            "enrollment_needs_consent_and_forgetting_removes_biometrics_only",
            enrollment_needs_consent_and_forgetting_removes_biometrics_only_on,
        ),
        (
            "re_embedding_resumes_from_what_is_missing",
            re_embedding_resumes_from_what_is_missing_on,
        ),
        ("encoders_have_one_active", encoders_have_one_active_on),
        ("reviews_accept_and_reject", reviews_accept_and_reject_on),
        (
            "a_review_crop_is_deleted_when_the_teacher_decides_either_way",
            a_review_crop_is_deleted_when_the_teacher_decides_either_way_on,
        ),
        ("removing_keeps_history", removing_keeps_history_on),
        (
            "the_sample_class_is_a_real_sized_class_with_history_and_a_review_queue",
            the_sample_class_is_a_real_sized_class_with_history_and_a_review_queue_on,
        ),
        (
            "a_student_is_marked_once_per_session_and_the_first_mark_is_kept",
            a_student_is_marked_once_per_session_and_the_first_mark_is_kept_on,
        ),
        (
            "recorded_matches_feed_the_what_if_preview",
            recorded_matches_feed_the_what_if_preview_on,
        ),
        (
            "csv_export_quotes_neutralises_and_never_contains_biometrics",
            csv_export_quotes_neutralises_and_never_contains_biometrics_on,
        ),
        (
            "export_filters_by_class_session_and_dates",
            export_filters_by_class_session_and_dates_on,
        ),
        (
            "retention_purges_old_biometrics_but_keeps_attendance",
            retention_purges_old_biometrics_but_keeps_attendance_on,
        ),
    ];
    for (i, (name, test)) in tests.into_iter().enumerate() {
        let db = format!("store_test_{i}");
        server.create_database(&db).unwrap();
        let store = Store::connect(&server.url(cluster::ADMIN, &db)).unwrap();
        assert_eq!(store.engine(), Engine::Postgres);
        #[allow(clippy::print_stderr)]
        {
            eprintln!("on PostgreSQL: {name}");
        }
        test(store);
    }

    // Eight classrooms' connections mark the same 40 students of one session at the same
    // moment: every student gets exactly one mark, and nobody sees an error.
    server.create_database("race").unwrap();
    let url = server.url(cluster::ADMIN, "race");
    let store = Store::connect(&url).unwrap();
    let c = store.add_class("7B").unwrap();
    let students: Vec<StudentId> = (0..40)
        .map(|i| store.add_student(&format!("S{i}"), None, &[c]).unwrap())
        .collect();
    let s = store.start_session(c, None).unwrap();
    let marked: usize = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..8)
            .map(|_| {
                let (url, students) = (&url, &students);
                scope.spawn(move || {
                    let store = Store::connect(url).unwrap();
                    students
                        .iter()
                        .map(|&student| {
                            store
                                .record_auto_mark(&AutoMark {
                                    session: s,
                                    student,
                                    status: Status::Present,
                                    source: MarkSource::Auto,
                                    frame_ms: 1,
                                    evidence: None,
                                    model_id: None,
                                    evidence_crop: None,
                                })
                                .unwrap()
                        })
                        .filter(|o| *o == RecordOutcome::Marked)
                        .count()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).sum()
    });
    assert_eq!(marked, 40, "each student marked exactly once");
    assert_eq!(store.marks(s).unwrap().len(), 40);

    // The server killed and started again: the call that finds the connection gone fails
    // with "cannot be reached", and the same store works again once the server is back.
    server.kill().unwrap();
    assert!(matches!(
        store.list_classes(),
        Err(StoreError::Unreachable(_))
    ));
    assert!(matches!(
        store.list_classes(),
        Err(StoreError::Unreachable(_))
    ));
    server.restart().unwrap();
    assert_eq!(store.list_classes().unwrap().len(), 1);
    assert_eq!(store.marks(s).unwrap().len(), 40);
}
