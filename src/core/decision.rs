//! The per-frame decision rule: is this face a clear match, a doubtful one, or a stranger?

use super::gallery::{Candidate, Ranking};

/// The thresholds that turn a ranking into a verdict, and the vote rule across frames.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct DecisionRule {
    /// Largest distance at which the best match can count as the same person.
    pub max_distance: f32,
    /// The best match must beat the runner-up by at least this much distance.
    pub min_margin: f32,
    /// Votes for the same student needed within the window to mark them (K).
    pub frames_to_confirm: usize,
    /// The number of most recent frames of a track that are counted (N).
    pub window_frames: usize,
}

impl DecisionRule {
    /// A rule with the given threshold and margin and the default vote rule (3 of 5).
    #[must_use]
    pub fn new(max_distance: f32, min_margin: f32) -> Self {
        Self {
            max_distance,
            min_margin,
            frames_to_confirm: 3,
            window_frames: 5,
        }
    }

    /// Makes sure the vote rule is usable: K ≥ 1 and N ≥ K.
    #[must_use]
    pub fn normalized(mut self) -> Self {
        self.frames_to_confirm = self.frames_to_confirm.max(1);
        self.window_frames = self.window_frames.max(self.frames_to_confirm);
        self
    }

    /// The verdict for one face in one frame.
    #[must_use]
    pub fn judge(&self, ranking: &Ranking) -> FrameVerdict {
        let Some(best) = ranking.best() else {
            return FrameVerdict::Unknown { best: None };
        };
        if best.distance.is_nan() || best.distance > self.max_distance {
            return FrameVerdict::Unknown { best: Some(best) };
        }
        let margin = ranking.margin();
        if margin < self.min_margin {
            return FrameVerdict::Ambiguous {
                best,
                runner_up: ranking.runner_up(),
                margin,
            };
        }
        FrameVerdict::Match { best, margin }
    }
}

/// What one frame says about one face.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum FrameVerdict {
    /// Under the threshold and clearly ahead of the runner-up.
    Match {
        /// The matched student.
        best: Candidate,
        /// Distance gap to the runner-up.
        margin: f32,
    },
    /// Under the threshold, but the runner-up is too close to tell them apart.
    Ambiguous {
        /// The closest student.
        best: Candidate,
        /// The student nearly as close.
        runner_up: Option<Candidate>,
        /// Distance gap between them.
        margin: f32,
    },
    /// Nobody enrolled is close enough: a stranger (or a bad view).
    Unknown {
        /// The closest student anyway, for display only.
        best: Option<Candidate>,
    },
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::ids::StudentId;

    fn ranking(pairs: &[(i64, f32)]) -> Ranking {
        Ranking {
            top: pairs
                .iter()
                .map(|&(s, d)| Candidate {
                    student: StudentId(s),
                    distance: d,
                })
                .collect(),
        }
    }

    #[test]
    fn clear_match_ambiguous_twins_and_stranger() {
        let rule = DecisionRule::new(0.5, 0.08);
        assert!(matches!(
            rule.judge(&ranking(&[(1, 0.3), (2, 0.7)])),
            FrameVerdict::Match { .. }
        ));
        // Twins: both under the threshold and 0.02 apart.
        assert!(matches!(
            rule.judge(&ranking(&[(1, 0.40), (2, 0.42)])),
            FrameVerdict::Ambiguous { .. }
        ));
        // Twins near the threshold: one just under, one just over, still too close to call.
        assert!(matches!(
            rule.judge(&ranking(&[(1, 0.49), (2, 0.51)])),
            FrameVerdict::Ambiguous { .. }
        ));
        assert!(matches!(
            rule.judge(&ranking(&[(1, 0.51), (2, 0.9)])),
            FrameVerdict::Unknown { .. }
        ));
        // Exactly at the threshold counts as under it.
        assert!(matches!(
            rule.judge(&ranking(&[(1, 0.5)])),
            FrameVerdict::Match { .. }
        ));
        // NaN never matches.
        assert!(matches!(
            rule.judge(&ranking(&[(1, f32::NAN)])),
            FrameVerdict::Unknown { .. }
        ));
        assert!(matches!(
            rule.judge(&Ranking { top: vec![] }),
            FrameVerdict::Unknown { best: None }
        ));
    }

    #[test]
    fn normalized_rule_is_usable() {
        let r = DecisionRule {
            max_distance: 0.5,
            min_margin: 0.0,
            frames_to_confirm: 0,
            window_frames: 0,
        }
        .normalized();
        assert_eq!((r.frames_to_confirm, r.window_frames), (1, 1));
        let r = DecisionRule {
            frames_to_confirm: 4,
            window_frames: 2,
            ..r
        }
        .normalized();
        assert_eq!((r.frames_to_confirm, r.window_frames), (4, 4));
    }
}
