//! rollcall: an offline desktop app that takes class attendance by face.
//!
//! Layers, each a module, with dependencies flowing one way (see `tools/check-layers.sh`):
//! `gui` → `cli` → `train` → `vision` → `core`; `store` → `core`; `camera` stands alone.

// Tests compare floats exactly where the value is pinned on purpose.
#![cfg_attr(test, allow(clippy::float_cmp))]

pub mod camera;
pub mod cli;
pub mod core;
pub mod gui;
pub mod store;
pub mod train;
pub mod vision;

#[cfg(test)]
pub(crate) mod testdata;

/// mimalloc keeps freed memory for reuse. With glibc's allocator every tensor buffer larger
/// than its mmap threshold went back to the kernel when dropped and was faulted in again,
/// page by page, on the next frame: a MobileFaceNet embedding spent more time in page faults
/// than in arithmetic (measured with `rollcall bench faces`; see the README's speed section).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
