//! Helpers shared by the integration tests: the library's own test helpers, so the unit and
//! integration tests find `../shared` (and skip without it) the same way.

#![allow(dead_code, clippy::print_stderr)]

#[path = "../../src/testdata/mod.rs"]
mod testdata;

// Each test binary uses some of them.
#[allow(unused_imports)]
pub use testdata::{repo_file, shared_dir};
