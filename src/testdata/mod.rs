//! The test helpers of every layer: where the research data of `../shared` is (skipping
//! visibly when it is absent), files of the repository, and deterministic tensors for the
//! numerical tests ([`tensors`]). The one exception is `vision/dlib/testnet.rs`, which writes
//! small networks in dlib's own file format from that module's private types.

// Used by the tests of the vision and train layers.
#![allow(dead_code)]

use std::path::PathBuf;

pub mod tensors;

/// The shared data folder (`ROLLCALL_SHARED_DIR`, else `../shared` beside the checkout), or
/// `None` with a visible note when it is absent, so tests that need it skip instead of failing.
pub fn shared_dir(test: &str) -> Option<PathBuf> {
    let dir = std::env::var_os("ROLLCALL_SHARED_DIR").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared"),
        PathBuf::from,
    );
    if dir.join("data").is_dir() {
        Some(dir)
    } else {
        eprintln!(
            "SKIPPED {test}: the shared data folder {} is not here",
            dir.display()
        );
        None
    }
}

/// A file under the repository root.
pub fn repo_file(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(path)
}
