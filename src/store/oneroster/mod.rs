//! Rosters from the school's information system: OneRoster CSV bundles (1EdTech OneRoster 1.1
//! and 1.2), as Clever, ClassLink, Microsoft School Data Sync and the information systems
//! themselves export them.
//!
//! [`read_bundle`] reads and checks a bundle without touching the store. [`Store::plan_roster`]
//! compares it with the store and says what an import would change (the preview), and
//! [`Store::import_roster`] makes exactly those changes in one transaction. Classes and
//! students are matched by `sourcedId`; a class or student the teacher added before is taken
//! over by its name or school number the first time. Importing the same bundle again changes
//! nothing.
//!
//! [`Store::plan_roster`]: super::Store::plan_roster
//! [`Store::import_roster`]: super::Store::import_roster

mod apply;
pub mod example;
mod read;

pub use apply::RosterPlan;
pub use read::{
    At, Bundle, Class, Enrollment, FileMode, Org, RowStatus, Titled, User, read_bundle,
};

/// One thing wrong with a bundle.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// The file ("users.csv"), or the bundle's own path.
    pub file: String,
    /// The line in the file (the header is line 1), when it is about one row.
    pub line: Option<u64>,
    /// What is wrong, for the person who exported the bundle.
    pub message: String,
}

impl Problem {
    /// A problem with a whole file.
    #[must_use]
    pub fn file(file: &str, message: impl Into<String>) -> Self {
        Self {
            file: file.to_owned(),
            line: None,
            message: message.into(),
        }
    }
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.line {
            Some(line) => write!(f, "{} line {line}: {}", self.file, self.message),
            None => write!(f, "{} {}", self.file, self.message),
        }
    }
}

/// Everything wrong with a bundle; nothing was imported.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problems(pub Vec<Problem>);

impl std::fmt::Display for Problems {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the roster bundle has {} problem{}, so nothing was imported:",
            self.0.len(),
            if self.0.len() == 1 { "" } else { "s" }
        )?;
        for p in &self.0 {
            write!(f, "\n  {p}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Problems {}

impl From<Problems> for super::StoreError {
    fn from(p: Problems) -> Self {
        Self::Roster(p)
    }
}

#[cfg(test)]
mod tests;
