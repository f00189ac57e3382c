//! The window driven the way a teacher drives it (`egui_kittest`: find widgets by their labels,
//! click, type, and check the stored data).

// The class-size bodies (`…_in`) own the window and the sample they are handed, once for the
// file and once for the PostgreSQL server.
#![allow(clippy::needless_pass_by_value)]

use egui_kittest::Harness;
use egui_kittest::kittest::Queryable as _;

use super::*;
use crate::core::Status;
use crate::testdata::repo_file;

fn harness(store: Store) -> Harness<'static, RollcallApp> {
    Harness::builder()
        .with_size(egui::vec2(1280.0, 800.0))
        .build_ui_state(
            |ui, app: &mut RollcallApp| app.ui_root(ui),
            RollcallApp::new(store),
        )
}

/// Types `text` into the text field labelled `label`, as a teacher would (focus, then type).
fn fill(h: &mut Harness<'static, RollcallApp>, label: &str, text: &str) {
    h.get_by_label(label).focus();
    settle(h);
    h.get_by_label(label).type_text(text);
    // Typing can bring new rows into view, whose thumbnails load on a worker.
    settle(h);
}

/// Runs frames until the window stops asking for repaints, waiting for background threads
/// (thumbnails, enrollment) for up to thirty seconds.
fn settle(h: &mut Harness<'static, RollcallApp>) {
    for _ in 0..3000 {
        // Settled twice in a row: a thumbnail arriving in between starts the wait again.
        if h.try_run().is_ok() && !h.state().is_busy() && h.try_run().is_ok() {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    panic!("the window kept working for thirty seconds");
}

fn temp_store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("gui.db")).unwrap();
    (dir, store)
}

#[test]
fn first_run_shows_what_to_do_next() {
    let (_dir, store) = temp_store();
    let h = harness(store);
    h.get_by_label_contains("Start by adding a class");
    h.get_by_label("Add class");
}

#[test]
fn add_a_class_and_enroll_a_student_from_a_file() {
    let (_dir, store) = temp_store();
    let mut h = harness(store);
    fill(&mut h, "New class", "7B");
    h.run();
    h.get_by_label("Add class").click();
    h.run();
    assert_eq!(h.state().store().list_classes().unwrap()[0].name, "7B");
    h.get_by_label_contains("Class 7B");

    let photo = repo_file("assets/demo/obama.jpg");
    fill(&mut h, "Name", "Ada Lovelace");
    fill(&mut h, "Photo file", photo.to_str().unwrap());
    h.run();
    // Without consent the form warns before anything is written.
    h.get_by_label_contains("only stored with a biometric consent");
    fill(&mut h, "Consent given by", "Anne Byron (mother)");
    h.run();
    h.get_by_label("Add student").click();
    settle(&mut h);
    let students = h.state().store().list_students(None).unwrap();
    assert_eq!(
        students.len(),
        1,
        "notices: {:?}",
        h.state().notices().items()
    );
    assert_eq!(students[0].display_name, "Ada Lovelace");
    assert!(students[0].has_photo && students[0].has_consent);
    assert_eq!(h.state().roster().view().students.len(), 1);
    h.get_by_label("Ada Lovelace");
}

#[test]
fn errors_are_shown_in_the_window_and_nothing_is_written() {
    let (_dir, store) = temp_store();
    store.add_class("7B").unwrap();
    let mut h = harness(store);
    h.run();
    fill(&mut h, "Name", "Bob");
    fill(&mut h, "Photo file", "/no/such/photo.jpg");
    fill(&mut h, "Consent given by", "Dad");
    h.run();
    h.get_by_label("Add student").click();
    settle(&mut h);
    assert!(h.state().store().list_students(None).unwrap().is_empty());
    let errors: Vec<_> = h
        .state()
        .notices()
        .items()
        .iter()
        .filter(|n| n.level == Level::Error)
        .collect();
    assert_eq!(errors.len(), 1);
    assert!(
        errors[0].text.contains("/no/such/photo.jpg"),
        "{}",
        errors[0].text
    );
    h.get_by_label_contains("/no/such/photo.jpg");
}

#[test]
fn reports_show_the_roll_and_export_a_csv() {
    let (dir, store) = temp_store();
    let class = store.add_class("7B").unwrap();
    let ada = store.add_student("Ada Lovelace", None, &[class]).unwrap();
    store.add_student("Grace Hopper", None, &[class]).unwrap();
    let session = store.start_session(class, None).unwrap();
    store
        .set_mark(session, ada, Status::Present, "teacher", "")
        .unwrap();
    let mut h = harness(store);
    h.get_by_label("Reports").click();
    h.run();
    assert_eq!(h.state().screen(), Screen::Reports);
    let view = h.state().reports().view();
    assert_eq!(view.roll.len(), 2);
    assert_eq!(
        view.rates
            .iter()
            .find(|r| r.name == "Ada Lovelace")
            .unwrap()
            .percent(),
        Some(100.0)
    );
    h.get_by_label_contains("Session #1");

    let out = dir.path().join("7B.csv");
    fill(&mut h, "File", out.to_str().unwrap());
    h.run();
    h.get_by_label("Export").click();
    h.run();
    let mut rdr = csv::Reader::from_path(&out).unwrap();
    let rows: Vec<csv::StringRecord> = rdr.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 2);
    let ada_row = rows.iter().find(|r| &r[5] == "Ada Lovelace").unwrap();
    assert_eq!(&ada_row[6], "present");
    let grace_row = rows.iter().find(|r| &r[5] == "Grace Hopper").unwrap();
    assert_eq!(&grace_row[6], "absent");
}

#[test]
fn settings_are_saved_from_the_screen() {
    let (_dir, store) = temp_store();
    let mut h = harness(store);
    h.get_by_label("Settings").click();
    h.run();
    h.get_by_label("Keep the face crop of each automatic mark as evidence")
        .click();
    h.run();
    h.get_by_label("Save settings").click();
    h.run();
    assert!(h.state().store().settings().unwrap().keep_evidence_crops);
}

#[test]
fn import_a_folder_of_photos() {
    let (dir, store) = temp_store();
    store.add_class("7B").unwrap();
    let photos = dir.path().join("photos");
    std::fs::create_dir(&photos).unwrap();
    std::fs::copy(
        repo_file("assets/demo/obama.jpg"),
        photos.join("Barack_Obama.jpg"),
    )
    .unwrap();
    std::fs::copy(
        repo_file("assets/demo/biden.jpg"),
        photos.join("Joe_Biden.jpg"),
    )
    .unwrap();
    let mut h = harness(store);
    h.run();
    h.get_by_label("Import a folder of photos").click();
    h.run();
    fill(&mut h, "Photo folder", photos.to_str().unwrap());
    fill(&mut h, "Consent for all given by", "Signed forms 2026");
    h.get_by_label("Import photos").click();
    settle(&mut h);
    let names: Vec<String> = h
        .state()
        .store()
        .list_students(None)
        .unwrap()
        .into_iter()
        .map(|s| s.display_name)
        .collect();
    assert_eq!(names, vec!["Barack Obama", "Joe Biden"]);
    h.get_by_label_contains("Imported 2 of 2 photos");
}

#[test]
fn a_roster_bundle_is_previewed_then_imported_and_its_id_photos_enrolled() {
    let (dir, store) = temp_store();
    let bundle = dir.path().join("roster.zip");
    crate::store::oneroster::example::write(
        &bundle,
        crate::store::oneroster::example::Variant::Bulk,
        crate::store::oneroster::example::Version::V1_2,
    )
    .unwrap();
    let mut h = harness(store);
    h.run();
    h.get_by_label("Roster").click();
    settle(&mut h);
    fill(&mut h, "Bundle", bundle.to_str().unwrap());
    h.get_by_label("Preview import").click();
    settle(&mut h);
    h.get_by_label_contains("6 new classes");
    h.get_by_label_contains("150 new students");
    assert!(
        h.state().store().list_classes().unwrap().is_empty(),
        "the preview writes nothing"
    );
    h.get_by_label("Import").click();
    settle(&mut h);
    h.get_by_label_contains("Imported the roster");
    assert_eq!(h.state().store().list_classes().unwrap().len(), 6);
    assert_eq!(h.state().store().list_students(None).unwrap().len(), 150);

    // A broken bundle lists its problems and changes nothing.
    let broken = dir.path().join("broken");
    crate::store::oneroster::example::write(
        &broken,
        crate::store::oneroster::example::Variant::OrphanEnrollment,
        crate::store::oneroster::example::Version::V1_1,
    )
    .unwrap();
    // The form is empty again after an import.
    fill(&mut h, "Bundle", broken.to_str().unwrap());
    h.get_by_label("Preview import").click();
    settle(&mut h);
    h.get_by_label_contains("cannot be imported");
    h.get_by_label_contains("stu-9999");
    h.get_by_label("Close").click();
    settle(&mut h);

    // The class's ID photos, named by school number.
    let photos = dir.path().join("id-photos");
    std::fs::create_dir(&photos).unwrap();
    std::fs::copy(repo_file("assets/demo/obama.jpg"), photos.join("26001.jpg")).unwrap();
    std::fs::copy(repo_file("assets/demo/biden.jpg"), photos.join("26003.jpg")).unwrap();
    h.get_by_label_contains("Science 7").click();
    settle(&mut h);
    h.get_by_label("Import a folder of photos").click();
    settle(&mut h);
    h.get_by_label("The photos are").click();
    settle(&mut h);
    h.get_by_label("ID photos named by school number").click();
    settle(&mut h);
    fill(&mut h, "Photo folder", photos.to_str().unwrap());
    fill(&mut h, "Consent for all given by", "Signed forms 2026");
    h.get_by_label("Import photos").click();
    settle(&mut h);
    h.get_by_label_contains("Enrolled 2 ID photo(s)");
    let with_photo = h
        .state()
        .store()
        .list_students(None)
        .unwrap()
        .into_iter()
        .filter(|s| s.has_photo)
        .count();
    assert_eq!(with_photo, 2);
}

/// Steps the window (with short sleeps for the camera and recognition threads) until `done`
/// holds, for up to a minute.
fn wait_until(h: &mut Harness<'static, RollcallApp>, mut done: impl FnMut(&RollcallApp) -> bool) {
    for _ in 0..1200 {
        h.step();
        if done(h.state()) {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    panic!(
        "gave up waiting; notices: {:?}",
        h.state().notices().items()
    );
}

#[test]
fn a_replay_camera_marks_the_enrolled_student() {
    let (dir, store) = temp_store();
    let class = store.add_class("7B").unwrap();
    let pipeline = crate::workflow::enroll::pipeline_for(&store).unwrap();
    let photo =
        crate::workflow::enroll::prepare_file(&pipeline, &repo_file("assets/demo/obama.jpg"))
            .unwrap();
    store
        .add_enrolled_student("Barack Obama", None, &[class], "Self", &photo.enrollment())
        .unwrap();
    let frames = dir.path().join("frames");
    std::fs::create_dir(&frames).unwrap();
    for i in 0..4 {
        std::fs::copy(
            repo_file("assets/demo/obama2.jpg"),
            frames.join(format!("{i}.jpg")),
        )
        .unwrap();
    }
    let mut h = harness(store);
    h.get_by_label("Attendance").click();
    h.run();
    h.get_by_label("Camera").click();
    h.run();
    h.get_by_label("Replay a folder").click();
    h.run();
    fill(&mut h, "Replay folder", frames.to_str().unwrap());
    h.get_by_label("Start taking attendance").click();
    wait_until(&mut h, |app| {
        app.attendance()
            .view()
            .roll
            .iter()
            .any(|e| e.name == "Barack Obama" && e.status() == Status::Present)
    });
    assert!(h.state().attendance().is_live());
    assert!(
        h.state()
            .notices()
            .items()
            .iter()
            .any(|n| n.text.contains("Barack Obama marked present"))
    );
    h.get_by_label("Pause camera").click();
    h.run();
    assert!(!h.state().attendance().is_live());
    h.get_by_label("End session").click();
    h.run();
    let sessions = h.state().store().list_sessions(None, None, None).unwrap();
    assert!(sessions[0].ended_ms.is_some());
    assert_eq!(sessions[0].mark_count, 1);
}

#[test]
fn take_a_photo_with_the_demo_camera_and_enroll_it() {
    let (_dir, store) = temp_store();
    store.add_class("7B").unwrap();
    let mut h = harness(store);
    h.run();
    fill(&mut h, "Name", "Barack Obama");
    h.get_by_label("Take photo…").click();
    // Wait for the checking thread's first report on the live picture.
    for _ in 0..600 {
        h.step();
        if h.query_by_label_contains("Good photo").is_some()
            || h.query_by_label_contains("between the eyes").is_some()
        {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    h.get_by_label("Take photo in 3 s").click();
    for _ in 0..200 {
        h.step();
        if h.query_by_label("Use this photo").is_some() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    h.get_by_label("Use this photo").click();
    h.run();
    h.get_by_label("Photo taken with the camera");
    fill(&mut h, "Consent given by", "Self (adult)");
    h.get_by_label("Add student").click();
    settle(&mut h);
    let students = h.state().store().list_students(None).unwrap();
    assert_eq!(students.len(), 1, "{:?}", h.state().notices().items());
    assert!(students[0].has_photo && !students[0].embedded_with.is_empty());
}

#[test]
fn the_camera_choice_is_remembered() {
    let choice =
        crate::gui::attendance::SourceChoice::Replay(std::path::PathBuf::from("/x/frames"));
    let text = choice.to_setting(&[]).unwrap();
    assert_eq!(
        crate::gui::attendance::SourceChoice::from_setting(&text, &[]),
        Some(choice)
    );
    assert_eq!(
        crate::gui::attendance::SourceChoice::from_setting("demo", &[]),
        Some(crate::gui::attendance::SourceChoice::Demo)
    );
    // A remembered camera that is not plugged in does not apply.
    let absent = r#"{"name":"HD Webcam","bus":"usb-1"}"#;
    assert_eq!(
        crate::gui::attendance::SourceChoice::from_setting(absent, &[]),
        None
    );
}

/// Class 7B with "Twin A" and "Twin B" (two photos of one man: the closest possible
/// look-alikes) and "Other", enrolled from the demo photos.
fn twins_and_other(store: &Store) -> (crate::core::ClassId, Vec<crate::core::StudentId>) {
    let class = store.add_class("7B").unwrap();
    let pipeline = crate::workflow::enroll::pipeline_for(store).unwrap();
    let ids = [
        ("Twin A", "obama.jpg"),
        ("Twin B", "obama2.jpg"),
        ("Other", "biden.jpg"),
    ]
    .map(|(name, photo)| {
        let p = crate::workflow::enroll::prepare_file(
            &pipeline,
            &repo_file(&format!("assets/demo/{photo}")),
        )
        .unwrap();
        store
            .add_enrolled_student(name, None, &[class], "Self", &p.enrollment())
            .unwrap()
    });
    (class, ids.to_vec())
}

#[test]
fn look_alike_students_are_pointed_out_on_the_roster() {
    let (_dir, store) = temp_store();
    twins_and_other(&store);
    let mut h = harness(store);
    settle(&mut h);
    let pairs = &h.state().roster().view().look_alikes;
    assert_eq!(pairs.len(), 1, "{pairs:?}");
    assert_eq!(
        (pairs[0].a_name.as_str(), pairs[0].b_name.as_str()),
        ("Twin A", "Twin B")
    );
    h.get_by_label_contains("Twin A and Twin B");
}

#[test]
fn class_rules_show_what_a_threshold_would_do_and_are_saved() {
    let (_dir, store) = temp_store();
    let (class, ids) = twins_and_other(&store);
    // One session in which the camera marked Other at 0.9 times the encoder's default
    // threshold: farther than the twins are from each other, within the default.
    let encoder = store.active_encoder().unwrap().unwrap();
    let (model, distance) = (encoder.id, 0.9 * encoder.default_threshold);
    let session = store.start_session(class, None).unwrap();
    store
        .record_auto_mark(&crate::store::AutoMark {
            session,
            student: ids[2],
            status: Status::Present,
            source: crate::core::MarkSource::Auto,
            frame_ms: store.now_ms(),
            evidence: Some(crate::core::rollcall::MarkEvidence {
                distance,
                margin: 0.3,
                runner_up: None,
            }),
            model_id: Some(&model),
            evidence_crop: None,
        })
        .unwrap();
    let mut h = harness(store);
    settle(&mut h);
    h.get_by_label("Recognition rules for this class").click();
    h.run();
    // At the encoder's default the twins are closer than the threshold; the mark stays.
    h.get_by_label_contains("1 of 3 pairs of enrolled students are closer");
    h.get_by_label_contains("1 of 1 camera marks would stay");
    // The suggestion sits just under the twins' distance: Other's mark would not be recognised.
    h.get_by_label("Use the suggestion").click();
    h.run();
    h.get_by_label_contains("0 of 3 pairs of enrolled students are closer");
    h.get_by_label_contains(
        "0 of 1 camera marks would stay, 0 would go to review, 1 would not be recognised",
    );
    h.get_by_label("Late after").focus();
    h.run();
    h.get_by_label("Late after").type_text("5");
    h.run();
    h.get_by_label("Save class rules").click();
    settle(&mut h);
    let saved = h.state().store().class(class).unwrap();
    let twins = h.state().roster().view().look_alikes[0].distance;
    let t = saved
        .threshold_override
        .expect("the class threshold was saved");
    assert!(t < twins && t > twins - 0.001, "{t} vs the twins' {twins}");
    assert_eq!(saved.late_after_minutes, 5, "{saved:?}");
}

#[test]
fn a_one_epoch_training_shows_progress_curves_roc_and_the_pair_gallery() {
    let (_dir, store) = temp_store();
    let mut h = harness(store);
    h.get_by_label("Training").click();
    h.run();
    h.get_by_label_contains("No training yet");
    h.get_by_label("Epochs").focus();
    h.run();
    // Replace the 20 epochs with 1: select the value, type, press Enter.
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::A);
    h.run();
    h.get_by_label("Epochs").type_text("1");
    h.run();
    h.key_press(egui::Key::Enter);
    h.run();
    h.get_by_label("Start training").click();
    wait_until(&mut h, |app| {
        !app.training().is_running() && app.training().finished().is_some()
    });
    let t = h.state().training();
    assert_eq!(
        t.run_state().epoch_loss.len(),
        1,
        "one epoch: {:?}",
        t.run_state()
    );
    let f = t.finished().unwrap();
    assert!(
        f.history.test.accuracy_at_0_5 > 0.7,
        "{}",
        f.history.test.accuracy_at_0_5
    );
    assert_eq!(f.gallery.len(), 12);
    assert!(f.dir.join("model.safetensors").exists());
    h.run();
    h.get_by_label_contains("ROC curve on the test pairs");
    h.get_by_label_contains("cannot take attendance");
}

#[test]
fn a_training_run_can_be_cancelled() {
    let (_dir, store) = temp_store();
    let mut h = harness(store);
    h.get_by_label("Training").click();
    h.run();
    h.get_by_label("Start training").click();
    wait_until(&mut h, |app| app.training().run_state().step > 0);
    h.get_by_label_contains("Epoch 1 of 20");
    h.get_by_label("Cancel training").click();
    wait_until(&mut h, |app| !app.training().is_running());
    let err = h.state().training().error().unwrap_or_default().to_owned();
    assert!(err.to_lowercase().contains("cancel"), "{err}");
    assert!(h.state().training().finished().is_none());
}

#[test]
fn settings_switch_the_face_encoder_and_re_embed_the_roster() {
    let (_dir, store) = temp_store();
    let (_, ids) = twins_and_other(&store);
    let mut h = harness(store);
    settle(&mut h);
    h.get_by_label("Settings").click();
    h.run();
    // A new database uses MobileFaceNet; dlib is offered beside it with what was measured.
    h.get_by_label("MobileFaceNet face encoder (bundled)");
    h.get_by_label("in use");
    h.get_by_label("dlib ResNet face encoder (bundled)");
    h.get_by_label_contains("LFW: 85.3 %");
    h.get_by_label("Use for attendance").click();
    settle(&mut h);
    let store = h.state().store();
    let active = store.active_encoder().unwrap().unwrap();
    assert!(
        active.id.as_str().starts_with("dlib-resnet-v1-"),
        "{active:?}"
    );
    // Every student was re-embedded with dlib (128 values), and the MobileFaceNet embeddings
    // are kept for switching back.
    for id in &ids {
        let dlib = store.embedding(*id, &active.id).unwrap().unwrap();
        assert_eq!(dlib.values.len(), 128);
    }
    let mobilefacenet = store
        .list_encoders()
        .unwrap()
        .into_iter()
        .find(|e| e.id.as_str().starts_with("mobilefacenet-"))
        .unwrap();
    assert!(
        store
            .embedding(ids[0], &mobilefacenet.id)
            .unwrap()
            .is_some()
    );
    h.get_by_label_contains("Attendance now uses dlib-resnet-v1-");
}

// ---- The window at class size: 40 students, 30 sessions, 20 faces to review. ----

/// The two window sizes every screen must work at: a common laptop and a small netbook.
const CLASS_SIZES: [egui::Vec2; 2] = [egui::vec2(1280.0, 720.0), egui::vec2(1024.0, 600.0)];

/// The store's sample class (40 synthetic students, 30 past sessions, today's session with 20
/// faces to review) under the default encoder, in a window of `size`.
fn class_size_window(
    size: egui::Vec2,
) -> (
    tempfile::TempDir,
    Harness<'static, RollcallApp>,
    crate::store::sample::SampleClass,
) {
    let (dir, store) = temp_store();
    let (h, sample) = class_size_window_on(size, store);
    (dir, h, sample)
}

/// The class-size window on `store` (a file, or a database on a PostgreSQL server).
fn class_size_window_on(
    size: egui::Vec2,
    store: Store,
) -> (
    Harness<'static, RollcallApp>,
    crate::store::sample::SampleClass,
) {
    let encoder = crate::vision::pipeline::BuiltinEncoder::MobileFaceNet
        .load_cpu()
        .unwrap();
    let row = crate::workflow::encoders::ensure_builtin(&store, encoder.as_ref()).unwrap();
    let sample = store
        .add_sample_class(&crate::store::sample::SampleSpec::default(), &row)
        .unwrap();
    let mut h = Harness::builder().with_size(size).build_ui_state(
        |ui, app: &mut RollcallApp| app.ui_root(ui),
        RollcallApp::new(store),
    );
    settle(&mut h);
    (h, sample)
}

/// The widget labelled `label`, or (for a label ending in ':') the first whose label starts
/// with it, such as a review card's "Face 20 of 20:".
fn find<'h>(
    h: &'h Harness<'static, RollcallApp>,
    label: &'h str,
) -> Option<egui_kittest::Node<'h>> {
    if label.ends_with(':') {
        h.query_all_by_label_contains(label).next()
    } else {
        h.query_by_label(label)
    }
}

/// Whether the widget labelled `label` is drawn and wholly inside the window.
fn in_window(h: &Harness<'static, RollcallApp>, label: &str, size: egui::Vec2) -> bool {
    find(h, label).is_some_and(|n| {
        let r = n.rect();
        r.min.y >= 0.0 && r.max.y <= size.y + 0.5 && r.min.x >= 0.0 && r.max.x <= size.x + 0.5
    })
}

/// Scrolls the list holding the widgets labelled `anchors` (any one drawn now) down, 100
/// points at a time as a mouse wheel would, until `target`, its last row, is drawn inside the
/// window, and then on to the end of the list (a row inside the window can still be hidden
/// under the message area at the bottom until the list ends above it).
fn scroll_to_last(
    h: &mut Harness<'static, RollcallApp>,
    anchors: &[String],
    target: &str,
    size: egui::Vec2,
) {
    for _ in 0..80 {
        if in_window(h, target, size) {
            for _ in 0..3 {
                if let Some(n) = find(h, target) {
                    n.scroll_down();
                }
                settle(h);
            }
            return;
        }
        let anchor = anchors
            .iter()
            .find(|a| in_window(h, a, size))
            .unwrap_or_else(|| panic!("none of the list is on screen while looking for {target}"));
        if let Some(n) = find(h, anchor) {
            n.scroll_down();
        }
        // New rows load their thumbnails on a worker.
        settle(h);
    }
    panic!("{target} could not be scrolled to");
}

/// The button labelled `button` on the same row as the widget labelled `row_label` (or up to
/// `below` points under it, for a card), checked to be wholly inside the window.
fn button_in_row<'h>(
    h: &'h Harness<'static, RollcallApp>,
    row_label: &str,
    button: &'h str,
    below: f32,
) -> egui_kittest::Node<'h> {
    let row = find(h, row_label)
        .unwrap_or_else(|| panic!("{row_label} is not drawn"))
        .rect();
    let found = h
        .query_all_by_label(button)
        .find(|b| {
            let y = b.rect().center().y;
            y >= row.min.y - 8.0 && y <= row.max.y + below
        })
        .unwrap_or_else(|| panic!("no {button} beside {row_label}"));
    let window = h.ctx.content_rect();
    assert!(
        window.contains_rect(found.rect()),
        "{button} beside {row_label} is cut off: {:?} outside {window:?}",
        found.rect()
    );
    found
}

#[test]
fn the_roster_reaches_renames_and_searches_the_fortieth_student_at_both_sizes() {
    for size in CLASS_SIZES {
        let (_dir, h, sample) = class_size_window(size);
        the_roster_reaches_renames_and_searches_the_fortieth_student_at_both_sizes_in(
            h, sample, size,
        );
    }
}

fn the_roster_reaches_renames_and_searches_the_fortieth_student_at_both_sizes_in(
    mut h: Harness<'static, RollcallApp>,
    sample: crate::store::sample::SampleClass,
    size: egui::Vec2,
) {
    let mut names: Vec<String> = h
        .state()
        .roster()
        .view()
        .students
        .iter()
        .map(|s| s.display_name.clone())
        .collect();
    assert_eq!(names.len(), 40);
    names.sort_by_key(|n| n.to_lowercase());
    let last = names[39].clone();
    // The table shows its rows virtually: the 40th is not drawn until scrolled to.
    assert!(h.query_by_label(&last).is_none(), "at {size:?}");
    // The look-alikes are a summary above the table, flagged on the students' rows.
    // Collapsed, it names the count and the closest pair; opened, the closest three, then
    // all on request.
    assert_eq!(h.query_all_by_label_contains(": distance ").count(), 0);
    h.get_by_label_contains("Look-alike students: 5 pairs")
        .click();
    settle(&mut h);
    assert_eq!(h.query_all_by_label_contains(": distance ").count(), 3);
    h.get_by_label("Show all 5 pairs").click();
    settle(&mut h);
    assert_eq!(h.query_all_by_label_contains(": distance ").count(), 5);
    assert!(h.query_all_by_label("look-alike").count() >= 1);
    h.get_by_label("Show the closest only").click();
    settle(&mut h);
    h.get_by_label_contains("Look-alike students: 5 pairs")
        .click();
    settle(&mut h);

    scroll_to_last(&mut h, &names, &last, size);
    button_in_row(&h, &last, "Rename…", 0.0).click();
    settle(&mut h);
    fill(&mut h, "New name", " (renamed)");
    h.get_by_label("Save name").click();
    settle(&mut h);
    let renamed = format!("{last} (renamed)");
    let stored = h.state().store().list_students(Some(sample.class)).unwrap();
    assert!(
        stored.iter().any(|s| s.display_name == renamed),
        "at {size:?}: {:?}",
        h.state().notices().items()
    );
    h.get_by_label(&renamed);

    // Search by school id, then sort with the problems first.
    let id = stored
        .iter()
        .find(|s| s.display_name == renamed)
        .and_then(|s| s.external_id.clone())
        .unwrap();
    fill(&mut h, "Search", &id);
    h.get_by_label_contains("showing 1 of 40 students");
    h.get_by_label(&renamed);
    h.get_by_label("Search").focus();
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::A);
    h.key_press(egui::Key::Backspace);
    settle(&mut h);
    h.get_by_label("40 students");
    h.get_by_label("Sort by").click();
    settle(&mut h);
    h.get_by_label("Consent missing first").click();
    settle(&mut h);
    let first = h.state().roster().visible_students()[0];
    let student = h.state().roster().view().students[first].clone();
    assert!(!student.has_consent);
    // Removing sits under "More…" on the row, and asks first.
    button_in_row(&h, &student.display_name, "More…", 0.0).click();
    settle(&mut h);
    h.get_by_label("Remove…").click();
    settle(&mut h);
    h.get_by_label("Remove student").click();
    settle(&mut h);
    let left = h.state().store().list_students(Some(sample.class)).unwrap();
    assert_eq!(left.len(), 39, "at {size:?}");
    assert!(left.iter().all(|s| s.id != student.id));
    h.get_by_label("39 students");
}

#[test]
fn the_review_queue_reaches_and_decides_the_twentieth_face_and_takes_shortcuts() {
    for size in CLASS_SIZES {
        let (_dir, h, sample) = class_size_window(size);
        the_review_queue_reaches_and_decides_the_twentieth_face_and_takes_shortcuts_in(
            h, sample, size,
        );
    }
}

fn the_review_queue_reaches_and_decides_the_twentieth_face_and_takes_shortcuts_in(
    mut h: Harness<'static, RollcallApp>,
    sample: crate::store::sample::SampleClass,
    size: egui::Vec2,
) {
    h.get_by_label("Attendance").click();
    settle(&mut h);
    h.get_by_label("Faces to review (20)").click();
    settle(&mut h);
    h.get_by_label_contains("Face 1 of 20:");
    assert!(h.query_by_label_contains("Face 20 of 20:").is_none());
    let cards: Vec<String> = (1..=20).map(|i| format!("Face {i} of 20:")).collect();
    scroll_to_last(&mut h, &cards, &cards[19], size);
    let twentieth = cards[19].clone();
    let review = sample.reviews[19];
    let candidate = h
        .state()
        .store()
        .review(review)
        .unwrap()
        .candidate_name
        .unwrap();
    button_in_row(
        &h,
        &twentieth,
        &format!("It is {candidate}"),
        style::REVIEW_CROP_PX,
    )
    .click();
    settle(&mut h);
    let store = h.state().store();
    assert_eq!(
        store.review(review).unwrap().state,
        "accepted",
        "at {size:?}"
    );
    assert_eq!(
        store
            .pending_reviews(Some(sample.open_session))
            .unwrap()
            .len(),
        19
    );

    // Shortcuts: N says nobody enrolled for the selected (first) face, A accepts the next.
    h.get_by_label("Faces to review (19)");
    h.key_press(egui::Key::N);
    settle(&mut h);
    assert_eq!(
        h.state().store().review(sample.reviews[0]).unwrap().state,
        "rejected"
    );
    h.key_press(egui::Key::A);
    settle(&mut h);
    assert_eq!(
        h.state().store().review(sample.reviews[1]).unwrap().state,
        "accepted"
    );
    // Down moves the selection: N then decides the second face waiting.
    h.key_press(egui::Key::ArrowDown);
    settle(&mut h);
    h.key_press(egui::Key::N);
    settle(&mut h);
    assert_eq!(
        h.state().store().review(sample.reviews[3]).unwrap().state,
        "rejected"
    );
    assert_eq!(
        h.state().store().review(sample.reviews[2]).unwrap().state,
        "pending"
    );

    // The roll: the last student can be reached and marked by hand.
    let roll: Vec<String> = h
        .state()
        .attendance()
        .view()
        .roll
        .iter()
        .map(|e| e.name.clone())
        .collect();
    let last = roll[39].clone();
    h.get_by_label_contains("Roll: ").click();
    settle(&mut h);
    scroll_to_last(&mut h, &roll, &last, size);
    button_in_row(&h, &last, "Excused", 0.0).click();
    settle(&mut h);
    let entry = h
        .state()
        .attendance()
        .view()
        .roll
        .iter()
        .find(|e| e.name == last)
        .unwrap()
        .status();
    assert_eq!(entry, Status::Excused, "at {size:?}");
}

#[test]
fn reports_reach_the_oldest_session_and_the_fortieth_rate_at_both_sizes() {
    for size in CLASS_SIZES {
        let (_dir, h, sample) = class_size_window(size);
        reports_reach_the_oldest_session_and_the_fortieth_rate_at_both_sizes_in(h, sample, size);
    }
}

fn reports_reach_the_oldest_session_and_the_fortieth_rate_at_both_sizes_in(
    mut h: Harness<'static, RollcallApp>,
    sample: crate::store::sample::SampleClass,
    size: egui::Vec2,
) {
    h.get_by_label("Reports").click();
    settle(&mut h);
    h.get_by_label("Sessions (31)");
    // The sessions list, newest first: scroll to the oldest and open its roll.
    let ids: Vec<String> = h
        .state()
        .reports()
        .view()
        .sessions
        .iter()
        .map(|s| format!("#{}", s.id))
        .collect();
    let oldest = format!("#{}", sample.past_sessions[0]);
    assert_eq!(ids.last(), Some(&oldest));
    scroll_to_last(&mut h, &ids, &oldest, size);
    h.get_by_label(&oldest).click();
    settle(&mut h);
    h.get_by_label_contains(&format!("Session {oldest} on"));
    assert_eq!(h.state().reports().view().roll.len(), 40);

    // The students: 40 rates, the last one scrolled to and opened.
    h.get_by_label("Students (40)").click();
    settle(&mut h);
    h.get_by_label_contains("Class attendance over 31 sessions");
    let names: Vec<String> = h
        .state()
        .reports()
        .sorted_rates()
        .iter()
        .map(|r| r.name.clone())
        .collect();
    assert_eq!(names.len(), 40);
    scroll_to_last(&mut h, &names, &names[39], size);
    h.get_by_label(&names[39]).click();
    settle(&mut h);
    let rate = h
        .state()
        .reports()
        .view()
        .rates
        .iter()
        .find(|r| r.name == names[39])
        .unwrap()
        .clone();
    assert_eq!(rate.present + rate.late + rate.absent + rate.excused, 31);
    h.get_by_label_contains(&format!(
        "{}: {} of {} sessions attended ({:.0}%)",
        rate.name,
        rate.attended(),
        rate.expected(),
        rate.percent().unwrap()
    ));
    // Sorting by rate puts the lowest first.
    h.get_by_label("Rate").click();
    settle(&mut h);
    let sorted = h.state().reports().sorted_rates();
    assert!(sorted[0].percent() <= sorted[39].percent());
    assert!(sorted[0].percent() < Some(90.0), "{:?}", sorted[0]);
}

#[test]
fn settings_and_training_fit_both_sizes_with_the_class() {
    for size in CLASS_SIZES {
        let (_dir, h, sample) = class_size_window(size);
        settings_and_training_fit_both_sizes_with_the_class_in(h, sample, size);
    }
}

fn settings_and_training_fit_both_sizes_with_the_class_in(
    mut h: Harness<'static, RollcallApp>,
    _sample: crate::store::sample::SampleClass,
    size: egui::Vec2,
) {
    h.get_by_label("Settings").click();
    settle(&mut h);
    if !in_window(&h, "Save settings", size) {
        h.get_by_label("Save settings").scroll_to_me();
        settle(&mut h);
    }
    assert!(in_window(&h, "Save settings", size), "at {size:?}");
    h.get_by_label("Save settings").click();
    settle(&mut h);
    h.get_by_label("Training").click();
    settle(&mut h);
    if !in_window(&h, "Start training", size) {
        h.get_by_label("Start training").scroll_to_me();
        settle(&mut h);
    }
    assert!(in_window(&h, "Start training", size), "at {size:?}");
}

/// The class-size window tests again, on a PostgreSQL server: every screen works the same there.
#[test]
fn the_class_size_window_works_the_same_on_postgresql() {
    let Some(server) = crate::store::cluster::TempCluster::start_or_skip("the window tests") else {
        return;
    };
    let tests: [fn(Harness<'static, RollcallApp>, crate::store::sample::SampleClass, egui::Vec2);
        4] = [
        the_roster_reaches_renames_and_searches_the_fortieth_student_at_both_sizes_in,
        the_review_queue_reaches_and_decides_the_twentieth_face_and_takes_shortcuts_in,
        reports_reach_the_oldest_session_and_the_fortieth_rate_at_both_sizes_in,
        settings_and_training_fit_both_sizes_with_the_class_in,
    ];
    let mut n = 0;
    for test in tests {
        for size in CLASS_SIZES {
            n += 1;
            let db = format!("window_{n}");
            server.create_database(&db).unwrap();
            let store = Store::connect(&server.url(crate::store::cluster::ADMIN, &db)).unwrap();
            let (h, sample) = class_size_window_on(size, store);
            test(h, sample, size);
        }
    }
}

/// Replaces what the text field labelled `label` holds with `text` (select all, then type).
fn replace_text(h: &mut Harness<'static, RollcallApp>, label: &str, text: &str) {
    h.get_by_label(label).focus();
    settle(h);
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::A);
    settle(h);
    h.get_by_label(label).type_text(text);
    settle(h);
}

/// The Settings screen chooses the database of the next start: a new file is opened (created)
/// to check it and saved as the choice; a relative path or a server address with a password
/// is refused with the reason; "Back to the default file" removes the choice.
#[test]
fn settings_choose_the_database_of_the_next_start() {
    let (dir, store) = temp_store();
    let choice_file = dir.path().join("config/database");
    let mut h = Harness::builder()
        .with_size(egui::vec2(1024.0, 600.0))
        .build_ui_state(
            |ui, app: &mut RollcallApp| app.ui_root(ui),
            RollcallApp::new(store).with_choice_file(choice_file.clone()),
        );
    h.get_by_label("Settings").click();
    settle(&mut h);
    fill(&mut h, "Database file", "class.db");
    h.get_by_label("Open and use from the next start").click();
    settle(&mut h);
    h.get_by_label_contains("is not a full path");
    assert!(!choice_file.exists());

    let other = dir.path().join("term2/7B.db");
    replace_text(&mut h, "Database file", &other.display().to_string());
    h.get_by_label("Open and use from the next start").click();
    settle(&mut h);
    h.get_by_label_contains("opened (0 classes, 0 students)");
    assert!(other.exists());
    assert_eq!(
        crate::store::choice::load(&choice_file).unwrap(),
        Some(crate::store::Location::File(other.clone()))
    );
    h.get_by_label_contains("From the next start:");

    h.get_by_label("The school's server").click();
    settle(&mut h);
    replace_text(
        &mut h,
        "Server address",
        "teacher:secret@school-server/rollcall",
    );
    h.get_by_label("Open and use from the next start").click();
    settle(&mut h);
    h.get_by_label_contains("does not save passwords");
    assert!(h.query_by_label_contains("secret").is_none());

    h.get_by_label("Back to the default file").click();
    settle(&mut h);
    h.get_by_label_contains("opens the default file from the next start");
    assert!(!choice_file.exists());
    assert!(h.query_by_label_contains("From the next start:").is_none());
}

/// When the school server cannot be reached at the start, the window opens this machine's
/// offline copy: it says so, shows the copy's classes, and refuses roster changes (the copy is
/// replaced from the server at the next lesson online) while lessons, reviews and marks by
/// hand stay allowed.
#[test]
fn a_window_on_the_offline_copy_says_so_and_refuses_roster_changes() {
    let (_dir, copy) = temp_store();
    let class = copy.add_class("7B").unwrap();
    copy.add_student("Ada Lovelace", Some("S-1815"), &[class])
        .unwrap();
    let server: crate::store::Location = "postgresql://ms_lee@dbserver/rollcall".parse().unwrap();
    let app = RollcallApp::new(copy).offline_from(server, "connection refused".to_owned());
    assert!(app.is_offline());
    let mut h = Harness::builder()
        .with_size(egui::vec2(1024.0, 600.0))
        .build_ui_state(|ui, app: &mut RollcallApp| app.ui_root(ui), app);
    settle(&mut h);
    h.get_by_label_contains("Offline: the school server postgresql://ms_lee@dbserver/rollcall");
    h.get_by_label_contains("Class 7B");
    fill(&mut h, "New class", "8C");
    h.get_by_label("Add class").click();
    settle(&mut h);
    h.get_by_label_contains("roster, consent and settings changes need the school server");
    assert_eq!(h.state().store().list_classes().unwrap().len(), 1);
    for (command, needs) in [
        (Command::AddClass("8C".into()), true),
        (Command::RemoveStudent(crate::core::StudentId(1)), true),
        (Command::StartSession(class), false),
        (
            Command::SetMark {
                session: crate::core::SessionId(1),
                student: crate::core::StudentId(1),
                status: Status::Excused,
            },
            false,
        ),
        (Command::RejectReview(crate::core::ReviewId(1)), false),
    ] {
        assert_eq!(command::needs_server(&command), needs, "{command:?}");
    }
}

/// The offline banner's "Try the server again": while the server is down it says so and the
/// window stays on the copy; once it answers, a lesson taken on the copy is sent and the window
/// goes on on the server.
#[test]
fn an_offline_window_goes_back_online_when_the_server_answers() {
    let Some(server) = crate::store::cluster::TempCluster::start_or_skip("the offline banner")
    else {
        return;
    };
    server.create_database("back").unwrap();
    let url = server.url(crate::store::cluster::ADMIN, "back");
    let on_server = Store::connect(&url).unwrap();
    let class = on_server.add_class("7B").unwrap();
    let ada = on_server.add_student("Ada", None, &[class]).unwrap();
    // A lesson taken on this machine's copy while the server was down.
    let (_dir, copy) = temp_store();
    copy.refresh_offline_copy(&on_server, class).unwrap();
    let session = copy.start_session(class, None).unwrap();
    copy.set_mark(session, ada, Status::Present, "ms_lee", "")
        .unwrap();
    server.kill().unwrap();
    let location = crate::store::Location::Server(url);
    let mut h = Harness::builder()
        .with_size(egui::vec2(1024.0, 600.0))
        .build_ui_state(
            |ui, app: &mut RollcallApp| app.ui_root(ui),
            RollcallApp::new(copy).offline_from(location.clone(), "refused".to_owned()),
        );
    settle(&mut h);
    h.get_by_label("Try the server again").click();
    settle(&mut h);
    h.get_by_label_contains("still cannot be reached");
    assert!(h.state().is_offline());

    server.restart().unwrap();
    h.get_by_label("Try the server again").click();
    settle(&mut h);
    h.get_by_label_contains("Back online on the school server: sent the");
    assert!(!h.state().is_offline());
    assert_eq!(h.state().store().location(), Some(location));
    assert!(
        h.query_by_label_contains("Offline: the school server")
            .is_none()
    );
    let sessions = h
        .state()
        .store()
        .list_sessions(Some(class), None, None)
        .unwrap();
    assert_eq!(sessions.len(), 1, "the offline lesson is on the server");
    assert_eq!(h.state().store().marks(sessions[0].id).unwrap().len(), 1);
}
