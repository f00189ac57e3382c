//! The window driven the way a teacher drives it (`egui_kittest`: find widgets by their labels,
//! click, type, and check the stored data).

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
    h.run();
    h.get_by_label(label).type_text(text);
    h.run();
}

/// Runs frames until the window stops asking for repaints, waiting for background threads
/// (thumbnails, enrollment) for up to thirty seconds.
fn settle(h: &mut Harness<'static, RollcallApp>) {
    for _ in 0..3000 {
        if h.try_run().is_ok() && !h.state().is_busy() {
            h.run();
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
    let pipeline = crate::cli::enroll::pipeline_for(&store).unwrap();
    let photo =
        crate::cli::enroll::prepare_file(&pipeline, &repo_file("assets/demo/obama.jpg")).unwrap();
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
    let pipeline = crate::cli::enroll::pipeline_for(store).unwrap();
    let ids = [
        ("Twin A", "obama.jpg"),
        ("Twin B", "obama2.jpg"),
        ("Other", "biden.jpg"),
    ]
    .map(|(name, photo)| {
        let p = crate::cli::enroll::prepare_file(
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
        (pairs[0].0.as_str(), pairs[0].1.as_str()),
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
    let twins = h.state().roster().view().look_alikes[0].2;
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
