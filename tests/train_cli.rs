//! End-to-end tests of `rollcall train`, `eval` and `models list` on the built-in MNIST subset
//! (one short epoch) and of the error for a damaged IDX folder.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::process::{Command, Output};

fn rollcall(db: &std::path::Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_rollcall"))
        .args(args)
        .env("ROLLCALL_DB", db)
        .env("RAYON_NUM_THREADS", "2")
        // Nothing of the tests' photos is kept in the user's cache folder.
        .env(
            "ROLLCALL_EMBEDDING_CACHE",
            db.with_file_name("embedding-cache"),
        )
        .env_remove("RUST_LOG")
        .output()
        .unwrap()
}

fn stdout(o: &Output) -> String {
    assert!(
        o.status.success(),
        "failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout.clone()).unwrap()
}

#[test]
fn train_eval_and_list_a_model() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("rollcall.db");
    let out = stdout(&rollcall(
        &db,
        &["train", "--dataset", "mnist", "--epochs", "1", "--json"],
    ));
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    let model_dir = std::path::PathBuf::from(report["model_dir"].as_str().unwrap());
    // The default folder is models/<model id> next to the database.
    assert_eq!(
        model_dir,
        dir.path()
            .join("models")
            .join(report["model_id"].as_str().unwrap())
    );
    for f in ["model.safetensors", "model.json", "history.json"] {
        assert!(model_dir.join(f).is_file(), "{f}");
    }
    let acc = report["card"]["metrics"]["accuracy_at_0_5"]
        .as_f64()
        .unwrap();
    assert!(
        acc > 0.7,
        "one epoch of the seed recipe reaches about 0.82: {acc}"
    );
    assert_eq!(report["card"]["metrics"]["pairs"], 3440);

    let eval: serde_json::Value = serde_json::from_str(&stdout(&rollcall(
        &db,
        &[
            "eval",
            "--model",
            model_dir.to_str().unwrap(),
            "--dataset",
            "mnist",
            "--json",
        ],
    )))
    .unwrap();
    assert!((eval["report"]["accuracy_at_0_5"].as_f64().unwrap() - acc).abs() < 1e-12);

    let list = stdout(&rollcall(&db, &["models", "list"]));
    assert!(
        list.contains(report["model_id"].as_str().unwrap()) && list.contains("contrastive"),
        "{list}"
    );
}

#[test]
fn a_damaged_idx_folder_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("train-images-idx3-ubyte"),
        [0u8, 0, 8, 3, 0, 0],
    )
    .unwrap();
    let o = rollcall(
        &dir.path().join("db"),
        &[
            "train",
            "--dataset",
            &format!("idx:{}", dir.path().display()),
            "--epochs",
            "1",
        ],
    );
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("train-images-idx3-ubyte") && err.contains("cut short"),
        "{err}"
    );
}

#[test]
fn faces_pairs_lists_evaluate_when_the_shared_data_is_here() {
    let Some(shared) =
        common::shared_dir("faces_pairs_lists_evaluate_when_the_shared_data_is_here")
    else {
        return;
    };
    let faces = shared.join("data/faces/att_faces");
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("rollcall.db");
    let model = dir.path().join("att");
    let args = [
        "train",
        "--dataset",
        &format!("faces:{}", faces.display()),
        "--epochs",
        "2",
        "--chip-size",
        "32",
        "--out",
        model.to_str().unwrap(),
        "--json",
    ];
    let report: serde_json::Value = serde_json::from_str(&stdout(&rollcall(&db, &args))).unwrap();
    assert_eq!(report["card"]["dataset"]["kind"], "faces");
    let eval: serde_json::Value = serde_json::from_str(&stdout(&rollcall(
        &db,
        &[
            "eval",
            "--model",
            model.to_str().unwrap(),
            "--pairs",
            faces.join("pairs.csv").to_str().unwrap(),
            "--json",
        ],
    )))
    .unwrap();
    assert_eq!(eval["report"]["pairs"], 1000);
    assert!(eval["report"]["verification"]["auc"].as_f64().unwrap() > 0.5);
}

/// The Training screen builds its plan typed, and shows the `rollcall train` command line that
/// trains the same: parsing that line gives the same plan, for every recipe and data choice.
#[test]
fn the_training_screen_plan_is_what_its_command_line_trains() {
    use clap::Parser as _;
    use rollcall::gui::training::{DataChoice, TrainingForm};
    use rollcall::workflow::train::{HeadBase, TrainRequest, plan_from_request};

    #[derive(clap::Parser)]
    struct Line {
        #[command(flatten)]
        request: TrainRequest,
    }
    for recipe in rollcall::train::recipe::RECIPES {
        for (data, folder, face_head, head_base) in [
            (DataChoice::Mnist, "", true, HeadBase::MobileFaceNet),
            (DataChoice::Idx, "/data/idx", false, HeadBase::Dlib),
            (
                DataChoice::Faces,
                "/data/faces",
                true,
                HeadBase::MobileFaceNet,
            ),
            (DataChoice::Faces, "/data/faces", true, HeadBase::Dlib),
            (DataChoice::Faces, "/data/faces", false, HeadBase::Dlib),
        ] {
            let form = TrainingForm {
                data,
                folder: folder.to_owned(),
                face_head,
                head_base,
                recipe,
                epochs: 3,
                batch_size: 64,
                learning_rate: 0.002,
                margin: 0.7,
                seed: 5,
            };
            let line = form.command_line();
            let words: Vec<&str> = line
                .split_whitespace()
                .skip(1)
                .filter(|w| *w != "train")
                .collect();
            let parsed = Line::try_parse_from(std::iter::once("rollcall").chain(words))
                .unwrap_or_else(|e| panic!("{line}: {e}"));
            let mut from_line = plan_from_request(&parsed.request).unwrap();
            // The command line evaluates at the end by default; the screen after every epoch.
            from_line.config.eval_every = 1;
            let plan = form.plan().unwrap();
            assert_eq!(format!("{plan:?}"), format!("{from_line:?}"), "{line}");
        }
    }
}

#[test]
fn a_face_head_run_again_takes_its_embeddings_from_the_cache() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("rollcall.db");
    // Five people of three photos each, told apart by colour and stripes.
    let faces = dir.path().join("faces");
    for who in 0..5u32 {
        let folder = faces.join(format!("person{who}"));
        std::fs::create_dir_all(&folder).unwrap();
        for i in 0..3u32 {
            image::RgbImage::from_fn(48, 48, |x, y| {
                let stripe = ((x + y * who) / (4 + who)) % 2 == 0;
                let v = (40 * who + 9 * i) as u8;
                image::Rgb(if stripe {
                    [v, 255 - v, 90]
                } else {
                    [255 - v, v / 2, 30 * i as u8]
                })
            })
            .save(folder.join(format!("{i}.png")))
            .unwrap();
        }
    }
    let spec = format!("faces:{}", faces.display());
    let train = |extra: &[&str]| -> serde_json::Value {
        let mut args = vec!["train", "--dataset", &spec, "--epochs", "2", "--json"];
        args.extend_from_slice(extra);
        if !extra.contains(&"--base") {
            args.extend(["--base", "dlib"]);
        }
        serde_json::from_str(&stdout(&rollcall(&db, &args))).unwrap()
    };
    let first = train(&[]);
    assert_eq!(first["embedded"]["photos"], 15);
    assert_eq!(first["embedded"]["from_cache"], 0);
    let cache_file = std::path::PathBuf::from(first["embedded"]["cache_file"].as_str().unwrap());
    assert!(
        cache_file.starts_with(dir.path().join("embedding-cache")),
        "{cache_file:?}"
    );
    assert!(cache_file.is_file());

    let second = train(&[]);
    assert_eq!(second["embedded"]["from_cache"], 15);
    // The same embeddings, so the same training and the same test figures.
    assert_eq!(second["card"]["metrics"], first["card"]["metrics"]);
    assert_eq!(second["card"]["model_id"], first["card"]["model_id"]);

    let uncached = train(&["--no-embedding-cache"]);
    assert_eq!(uncached["embedded"]["from_cache"], 0);
    assert!(uncached["embedded"]["cache_file"].is_null());
    assert_eq!(uncached["card"]["metrics"], first["card"]["metrics"]);

    // Text mode says where the embeddings came from.
    let text = stdout(&rollcall(
        &db,
        &[
            "train",
            "--dataset",
            &spec,
            "--base",
            "dlib",
            "--epochs",
            "1",
        ],
    ));
    assert!(
        text.contains("15 photos through the base encoder (15 from the cache"),
        "{text}"
    );

    // A head on MobileFaceNet, the default encoder: 192-D on its own 112×112 chips, its
    // embeddings cached apart, and put in charge of attendance on top of it.
    let head = train(&["--base", "mobilefacenet"]);
    let encoder = &head["card"]["encoder"];
    assert_eq!(head["embedded"]["from_cache"], 0);
    assert_eq!(encoder["arch"], "face-head", "{head}");
    assert_eq!(encoder["input_dim"], 192, "{head}");
    assert_eq!(encoder["chip_size"], 112);
    let base_model = encoder["base_model"].as_str().unwrap();
    assert!(base_model.starts_with("mobilefacenet"), "{base_model}");
    assert_ne!(
        head["embedded"]["cache_file"],
        first["embedded"]["cache_file"]
    );
    let model_dir = head["model_dir"].as_str().unwrap();
    let used = stdout(&rollcall(&db, &["encoders", "use", model_dir]));
    assert!(used.contains("Attendance now uses face-head-"), "{used}");
    let list = stdout(&rollcall(&db, &["encoders", "list"]));
    let active = list.lines().find(|l| l.starts_with('*')).unwrap();
    assert!(
        active.contains(head["model_id"].as_str().unwrap()) && active.contains(" 192 "),
        "{list}"
    );
}
