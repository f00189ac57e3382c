//! rollcall: an offline desktop app that takes class attendance by face.
//!
//! Layers, each a module, with dependencies flowing one way (see `tools/check-layers.sh`):
//! `cli` and `gui` (the two front ends) → `workflow` (what both run: enrollment, the live
//! engine, the encoder switch, opening the store) → `train`, `store`, `camera` → `vision` →
//! `core`; `store` → `core`; `camera` stands alone. The window still reaches the training
//! runner through `cli::train`.

// Tests compare floats exactly where the value is pinned on purpose.
#![cfg_attr(test, allow(clippy::float_cmp))]

pub mod camera;
pub mod cli;
pub mod core;
pub mod gui;
pub mod store;
pub mod train;
pub mod vision;
pub mod workflow;

#[cfg(test)]
pub(crate) mod testdata;

/// mimalloc keeps freed memory for reuse. With glibc's allocator every tensor buffer larger
/// than its mmap threshold went back to the kernel when dropped and was faulted in again,
/// page by page, on the next frame: a MobileFaceNet embedding spent more time in page faults
/// than in arithmetic (measured with `rollcall bench faces`; see the README's speed section).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
