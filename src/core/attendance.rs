//! Attendance statuses, where a mark came from, and the late rule.

use std::fmt;
use std::str::FromStr;

/// The attendance status of a student in one session.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Arrived on time.
    Present,
    /// Arrived after the class's late limit.
    Late,
    /// Not there.
    Absent,
    /// Not there, with a reason the teacher accepted.
    Excused,
}

impl Status {
    /// All statuses, in display order.
    pub const ALL: [Self; 4] = [Self::Present, Self::Late, Self::Absent, Self::Excused];

    /// The lowercase name stored in the database and written to CSV.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Present => "present",
            Self::Late => "late",
            Self::Absent => "absent",
            Self::Excused => "excused",
        }
    }

    /// Whether the student was in the room (present or late).
    #[must_use]
    pub fn is_attending(self) -> bool {
        matches!(self, Self::Present | Self::Late)
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A string that is not one of the known names.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {kind} {value:?} (expected one of: {expected})")]
pub struct ParseNameError {
    /// What was being parsed ("status", "source").
    pub kind: &'static str,
    /// The text that did not parse.
    pub value: String,
    /// The accepted names, comma separated.
    pub expected: &'static str,
}

impl FromStr for Status {
    type Err = ParseNameError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "present" => Ok(Self::Present),
            "late" => Ok(Self::Late),
            "absent" => Ok(Self::Absent),
            "excused" => Ok(Self::Excused),
            _ => Err(ParseNameError {
                kind: "status",
                value: s.to_owned(),
                expected: "present, late, absent, excused",
            }),
        }
    }
}

/// Where a mark came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MarkSource {
    /// The recognition engine marked the student by itself.
    Auto,
    /// The teacher set the status by hand.
    Manual,
    /// The teacher accepted an uncertain face from the review queue.
    Review,
}

impl MarkSource {
    /// The lowercase name stored in the database and written to CSV.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Auto => "auto",
            Self::Manual => "manual",
            Self::Review => "review",
        }
    }
}

impl fmt::Display for MarkSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for MarkSource {
    type Err = ParseNameError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "auto" => Ok(Self::Auto),
            "manual" => Ok(Self::Manual),
            "review" => Ok(Self::Review),
            _ => Err(ParseNameError {
                kind: "source",
                value: s.to_owned(),
                expected: "auto, manual, review",
            }),
        }
    }
}

/// The status of a student first seen at `seen_ms` in a session that started at
/// `session_start_ms`: late when more than `late_after_minutes` have passed.
#[must_use]
pub fn arrival_status(session_start_ms: i64, seen_ms: i64, late_after_minutes: u32) -> Status {
    let late_after_ms = i64::from(late_after_minutes) * 60_000;
    if seen_ms.saturating_sub(session_start_ms) > late_after_ms {
        Status::Late
    } else {
        Status::Present
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_names_round_trip() {
        for status in Status::ALL {
            assert_eq!(status.as_str().parse::<Status>().unwrap(), status);
        }
        assert_eq!(" Present ".parse::<Status>().unwrap(), Status::Present);
        let err = "here".parse::<Status>().unwrap_err();
        assert!(err.to_string().contains("present, late, absent, excused"));
    }

    #[test]
    fn late_rule_uses_the_limit_inclusively() {
        let start = 1_000_000;
        assert_eq!(arrival_status(start, start, 10), Status::Present);
        assert_eq!(
            arrival_status(start, start + 10 * 60_000, 10),
            Status::Present
        );
        assert_eq!(
            arrival_status(start, start + 10 * 60_000 + 1, 10),
            Status::Late
        );
        // A clock that went backwards never makes a student late.
        assert_eq!(arrival_status(start, start - 5_000, 0), Status::Present);
        // A limit of zero makes any later arrival late.
        assert_eq!(arrival_status(start, start + 1, 0), Status::Late);
    }
}
