//! Helpers shared by the integration tests.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;

/// The project's shared data folder (`ROLLCALL_SHARED_DIR`, else `../shared` beside the
/// checkout), or `None` with a visible note when it is absent (a user's fresh clone), so tests
/// that need research data skip instead of failing.
pub fn shared_dir(test: &str) -> Option<PathBuf> {
    let dir = std::env::var_os("ROLLCALL_SHARED_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared"));
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
