//! Typed database identifiers, so a student id is never passed where a class id belongs.

use std::fmt;

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
        pub struct $name(pub i64);

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}", self.0)
            }
        }
    };
}

id_type!(
    /// Identifies a class (a group of students).
    ClassId
);
id_type!(
    /// Identifies a student.
    StudentId
);
id_type!(
    /// Identifies one attendance session of a class.
    SessionId
);
id_type!(
    /// Identifies an entry of the review queue.
    ReviewId
);
