//! `rollcall import-weights dlib FILE --out DIR` as a user runs it. The importer itself is
//! tested on synthetic `.dat` files in `src/vision/dlib/import_tests.rs`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stderr)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn rollcall(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_rollcall"))
        .args(args)
        .env("ROLLCALL_DB", dir.join("rollcall.db"))
        .env_remove("RUST_LOG")
        .output()
        .unwrap()
}

#[test]
fn a_file_that_is_not_a_dlib_model_is_refused_with_a_message() {
    let dir = tempfile::tempdir().unwrap();
    let bogus = dir.path().join("bogus.dat");
    std::fs::write(&bogus, b"this is not a dlib model").unwrap();
    let out_dir = dir.path().join("out");
    let out = rollcall(
        dir.path(),
        &[
            "import-weights",
            "dlib",
            bogus.to_str().unwrap(),
            "--out",
            out_dir.to_str().unwrap(),
        ],
    );
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("not a readable dlib model"), "{stderr}");
    assert!(!out_dir.exists());

    let missing = dir.path().join("missing.dat");
    let out = rollcall(
        dir.path(),
        &[
            "import-weights",
            "dlib",
            missing.to_str().unwrap(),
            "--out",
            out_dir.to_str().unwrap(),
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8(out.stderr)
            .unwrap()
            .contains("missing.dat")
    );
}

#[test]
fn the_real_shape_predictor_converts_to_the_committed_file() {
    let dat = std::env::var_os("ROLLCALL_DLIB_MODELS")
        .map_or_else(
            || {
                PathBuf::from(
                    "/work/venvs/dl/face_recognition_models-0.3.0/face_recognition_models/models",
                )
            },
            PathBuf::from,
        )
        .join("shape_predictor_5_face_landmarks.dat");
    if !dat.is_file() {
        eprintln!(
            "SKIPPED the_real_shape_predictor_converts: {} is not here",
            dat.display()
        );
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let out = rollcall(
        dir.path(),
        &[
            "import-weights",
            "dlib",
            dat.to_str().unwrap(),
            "--out",
            dir.path().to_str().unwrap(),
        ],
    );
    assert!(out.status.success(), "{out:?}");
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(
        stdout.contains("converted a dlib shape predictor (6 tensors"),
        "{stdout}"
    );
    let name = "shape_predictor_5_face_landmarks.safetensors";
    let committed = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("assets/models/dlib")
        .join(name);
    assert!(std::fs::read(dir.path().join(name)).unwrap() == std::fs::read(committed).unwrap());
}
