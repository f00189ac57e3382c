//! The window's background threads, each with its own job: slow commands with their own
//! database connection (`commands`), recognition during a lesson (`recognition`), training
//! (`training`) and the photo dialog's quality check (`photo_check`). Threads that take the
//! newest frame share one slot type ([`latest::Latest`]).

pub mod commands;
pub mod latest;
pub mod photo_check;
pub mod recognition;
pub mod training;
