//! Threshold calibration from a class's own data: pairs of enrolled students give the impostor
//! distribution, confirmed marks give the genuine one. Also finds look-alike students.

use std::collections::BTreeMap;

use super::ids::{SessionId, StudentId};

/// Two enrolled students whose photos are closer than the threshold plus the margin.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LookAlike {
    /// One student.
    pub a: StudentId,
    /// The other student.
    pub b: StudentId,
    /// Distance between their enrollment embeddings.
    pub distance: f32,
    /// True when the pair is even under the threshold itself: one could be marked as the other
    /// if the margin rule did not stop it.
    pub under_threshold: bool,
}

/// What calibration found.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Calibration {
    /// The threshold that was evaluated.
    pub threshold: f32,
    /// Pairs of different enrolled students compared.
    pub impostor_pairs: usize,
    /// Confirmed genuine distances available.
    pub genuine_count: usize,
    /// Share of impostor pairs at or under the threshold (`None` without pairs).
    pub false_accept_rate: Option<f64>,
    /// Share of genuine distances over the threshold (`None` without confirmed marks).
    pub false_reject_rate: Option<f64>,
    /// The target false-accept rate the suggestion aims for.
    pub target_far: f64,
    /// The largest threshold, at most the ceiling (the encoder's default), whose impostor
    /// false-accept rate stays within the target.
    pub suggested_threshold: Option<f32>,
    /// False-reject rate of the genuine distances at the suggested threshold.
    pub false_reject_rate_at_suggestion: Option<f64>,
    /// Closest impostor distance seen (the tightest pair).
    pub closest_impostor: Option<f32>,
    /// Pairs that need the teacher's attention, closest first.
    pub look_alikes: Vec<LookAlike>,
}

/// Calibrates `threshold` (and the look-alike report with `margin`) from the enrolled
/// students' pairwise distances and the genuine distances of confirmed marks. The suggested
/// threshold is never above `ceiling` (the encoder's default): strangers are not in a class's
/// own data, so that data can only make the threshold stricter.
#[must_use]
pub fn calibrate(
    impostor_pairs: &[(StudentId, StudentId, f32)],
    genuine: &[f32],
    threshold: f32,
    margin: f32,
    target_far: f64,
    ceiling: f32,
) -> Calibration {
    let mut impostor: Vec<f32> = impostor_pairs
        .iter()
        .map(|p| p.2)
        .filter(|d| d.is_finite())
        .collect();
    impostor.sort_by(f32::total_cmp);
    let genuine: Vec<f32> = genuine.iter().copied().filter(|d| d.is_finite()).collect();

    let far_at = |t: f32| {
        (!impostor.is_empty())
            .then(|| impostor.iter().filter(|&&d| d <= t).count() as f64 / impostor.len() as f64)
    };
    let frr_at = |t: f32| {
        (!genuine.is_empty())
            .then(|| genuine.iter().filter(|&&d| d > t).count() as f64 / genuine.len() as f64)
    };

    // Allow at most floor(target * n) impostors at or under the threshold: the suggestion sits
    // just under the next impostor distance.
    let suggested_threshold = (!impostor.is_empty()).then(|| {
        let allowed = ((target_far.clamp(0.0, 1.0) * impostor.len() as f64).floor() as usize)
            .min(impostor.len());
        let largest = match impostor.get(allowed) {
            // Just under the next impostor, never at it.
            Some(&next) => next - next.abs() * 1e-4,
            None => f32::INFINITY,
        };
        largest.min(ceiling).max(0.0)
    });

    let mut look_alikes: Vec<LookAlike> = impostor_pairs
        .iter()
        .filter(|p| p.2 < threshold + margin)
        .map(|&(a, b, distance)| LookAlike {
            a,
            b,
            distance,
            under_threshold: distance <= threshold,
        })
        .collect();
    look_alikes.sort_by(|x, y| x.distance.total_cmp(&y.distance));

    Calibration {
        threshold,
        impostor_pairs: impostor.len(),
        genuine_count: genuine.len(),
        false_accept_rate: far_at(threshold),
        false_reject_rate: frr_at(threshold),
        target_far,
        suggested_threshold,
        false_reject_rate_at_suggestion: suggested_threshold.and_then(frr_at),
        closest_impostor: impostor.first().copied(),
        look_alikes,
    }
}

/// One match the engine recorded in a session: an automatic mark or a face it sent to review,
/// with the evidence it had and what the teacher decided afterwards.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RecordedMatch {
    /// The session.
    pub session: SessionId,
    /// The student the engine matched (the review's top candidate).
    pub student: StudentId,
    /// Distance to that student's enrollment.
    pub distance: f32,
    /// Gap to the runner-up (`None` when there was no runner-up).
    pub margin: Option<f32>,
    /// An automatic mark, or a face sent to review.
    pub kind: RecordedKind,
    /// Whether the student ended the session marked present or late (by any source).
    pub present_in_the_end: bool,
}

/// How a recorded match was handled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RecordedKind {
    /// The engine marked the student.
    AutoMark,
    /// The face went to the review queue; `decided` once the teacher accepted or rejected it.
    Review {
        /// The teacher accepted or rejected it.
        decided: bool,
    },
}

/// How the recorded sessions would have gone under other settings. Each count is of students
/// per session. An estimate: the K-of-N frame rule is not replayed, and faces farther than the
/// threshold in force at the time were not recorded, so a higher threshold can add marks that
/// this preview cannot see.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct WhatIf {
    /// The threshold tried.
    pub threshold: f32,
    /// The margin tried.
    pub margin: f32,
    /// Sessions with recorded matches.
    pub sessions: usize,
    /// Students the engine marked.
    pub auto_marks: usize,
    /// Of those, marked under the new settings too.
    pub kept: usize,
    /// Of those, sent to review instead (under the threshold, but not by the margin).
    pub to_review: usize,
    /// Of those, not recognised at all (farther than the threshold): never marked, never
    /// queued.
    pub unrecognised: usize,
    /// Students sent to review who would have been marked, and who the teacher confirmed
    /// (marked present or late in the end).
    pub gained_confirmed: usize,
    /// Students sent to review who would have been marked though the teacher decided against
    /// it: wrong marks under the new settings.
    pub gained_wrong: usize,
    /// Students sent to review who would have been marked, not reviewed yet.
    pub gained_unreviewed: usize,
}

/// Replays the recorded matches under `threshold` and `margin` (see [`WhatIf`]).
#[must_use]
pub fn what_if(records: &[RecordedMatch], threshold: f32, margin: f32) -> WhatIf {
    #[derive(Default)]
    struct Student {
        auto: bool,
        would_mark: bool,
        under_threshold: bool,
        decided_against: bool,
        present: bool,
    }
    let passes =
        |r: &RecordedMatch| r.distance <= threshold && r.margin.is_none_or(|g| g >= margin);
    let mut by_student: BTreeMap<(SessionId, StudentId), Student> = BTreeMap::new();
    for r in records.iter().filter(|r| r.distance.is_finite()) {
        let s = by_student.entry((r.session, r.student)).or_default();
        let pass = passes(r);
        s.would_mark |= pass;
        s.under_threshold |= r.distance <= threshold;
        s.present |= r.present_in_the_end;
        match r.kind {
            RecordedKind::AutoMark => s.auto = true,
            RecordedKind::Review { decided } => {
                s.decided_against |= pass && decided && !r.present_in_the_end;
            }
        }
    }
    let mut out = WhatIf {
        threshold,
        margin,
        sessions: by_student
            .keys()
            .map(|k| k.0)
            .collect::<std::collections::BTreeSet<_>>()
            .len(),
        ..WhatIf::default()
    };
    for s in by_student.values() {
        match (s.auto, s.would_mark) {
            (true, true) => out.kept += 1,
            (true, false) if s.under_threshold => out.to_review += 1,
            (true, false) => out.unrecognised += 1,
            (false, true) if s.present => out.gained_confirmed += 1,
            (false, true) if s.decided_against => out.gained_wrong += 1,
            (false, true) => out.gained_unreviewed += 1,
            (false, false) => {}
        }
        out.auto_marks += usize::from(s.auto);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: StudentId = StudentId(1);
    const B: StudentId = StudentId(2);
    const C: StudentId = StudentId(3);
    const D: StudentId = StudentId(4);

    /// The six pairs of four students.
    const PAIRS: [(StudentId, StudentId, f32); 6] = [
        (A, B, 0.45),
        (A, C, 0.9),
        (A, D, 0.8),
        (B, C, 0.7),
        (B, D, 0.62),
        (C, D, 1.0),
    ];

    #[test]
    fn figures_on_a_tiny_hand_computed_gallery() {
        let genuine = [0.2, 0.3, 0.35, 0.5, 0.55];
        let c = calibrate(&PAIRS, &genuine, 0.6, 0.05, 0.0, 0.6);
        assert_eq!(c.impostor_pairs, 6);
        // Impostors at or under 0.6: only A-B (0.45) -> 1/6.
        assert!((c.false_accept_rate.unwrap() - 1.0 / 6.0).abs() < 1e-12);
        // Genuine over 0.6: none.
        assert_eq!(c.false_reject_rate, Some(0.0));
        // Target FAR 0: just under the closest impostor (0.45).
        let s = c.suggested_threshold.unwrap();
        assert!(s < 0.45 && s > 0.449, "{s}");
        // There, genuine 0.5 and 0.55 are rejected: 2/5.
        assert!((c.false_reject_rate_at_suggestion.unwrap() - 0.4).abs() < 1e-12);
        // Look-alikes under 0.65: A-B (under the threshold) and B-D (within the margin).
        assert_eq!(c.look_alikes.len(), 2);
        assert_eq!((c.look_alikes[0].a, c.look_alikes[0].b), (A, B));
        assert!(c.look_alikes[0].under_threshold);
        assert!(!c.look_alikes[1].under_threshold);
        assert_eq!(c.closest_impostor, Some(0.45));
    }

    #[test]
    fn a_looser_target_allows_some_impostors() {
        // 20 % of 6 = 1.2 -> one impostor (0.45) may pass; the suggestion is just under the
        // next (0.62), but never above the ceiling.
        let c = calibrate(&PAIRS, &[], 0.6, 0.0, 0.2, 1.0);
        let s = c.suggested_threshold.unwrap();
        assert!(s < 0.62 && s > 0.619, "{s}");
        assert_eq!(c.false_reject_rate, None);
        let capped = calibrate(&PAIRS, &[], 0.6, 0.0, 0.2, 0.6);
        assert_eq!(capped.suggested_threshold, Some(0.6));
        // Every impostor allowed: the ceiling.
        let all = calibrate(&PAIRS, &[], 0.6, 0.0, 1.0, 0.7);
        assert_eq!(all.suggested_threshold, Some(0.7));
    }

    #[test]
    fn empty_gallery_gives_no_figures() {
        let c = calibrate(&[], &[], 0.6, 0.1, 0.01, 0.6);
        assert_eq!(c.false_accept_rate, None);
        assert_eq!(c.suggested_threshold, None);
        assert!(c.look_alikes.is_empty());
    }

    fn rec(
        session: i64,
        student: StudentId,
        distance: f32,
        margin: Option<f32>,
        kind: RecordedKind,
        present: bool,
    ) -> RecordedMatch {
        RecordedMatch {
            session: SessionId(session),
            student,
            distance,
            margin,
            kind,
            present_in_the_end: present,
        }
    }

    #[test]
    fn what_if_replays_marks_and_reviews() {
        use RecordedKind::{AutoMark, Review};
        let records = [
            // Session 1: A marked at 0.40 (margin 0.20), B at 0.55 (margin 0.10).
            rec(1, A, 0.40, Some(0.20), AutoMark, true),
            rec(1, B, 0.55, Some(0.10), AutoMark, true),
            // C went to review twice (small margin); the teacher confirmed C.
            rec(1, C, 0.45, Some(0.03), Review { decided: true }, true),
            rec(1, C, 0.50, Some(0.02), Review { decided: false }, true),
            // D went to review; the teacher rejected it (it was somebody else).
            rec(1, D, 0.42, Some(0.04), Review { decided: true }, false),
            // Session 2: D again, not reviewed yet; A marked with no runner-up.
            rec(2, D, 0.44, Some(0.05), Review { decided: false }, false),
            rec(2, A, 0.58, None, AutoMark, true),
        ];
        // The settings in force: nothing changes.
        let same = what_if(&records, 0.6, 0.08);
        assert_eq!(
            (same.sessions, same.auto_marks, same.kept, same.to_review),
            (2, 3, 3, 0)
        );
        assert_eq!(
            (
                same.gained_confirmed,
                same.gained_wrong,
                same.gained_unreviewed
            ),
            (0, 0, 0)
        );
        // Stricter threshold 0.5: B (0.55) and A in session 2 (0.58) are not recognised.
        let strict = what_if(&records, 0.5, 0.08);
        assert_eq!(
            (strict.kept, strict.to_review, strict.unrecognised),
            (1, 0, 2)
        );
        // A larger margin: B (margin 0.10) goes to review; A without a runner-up stays.
        let wide = what_if(&records, 0.6, 0.15);
        assert_eq!((wide.kept, wide.to_review, wide.unrecognised), (2, 1, 0));
        // No margin: C is gained (confirmed), D in session 1 is a wrong mark, D in session 2
        // is not reviewed yet.
        let loose = what_if(&records, 0.6, 0.0);
        assert_eq!((loose.kept, loose.to_review), (3, 0));
        assert_eq!(
            (
                loose.gained_confirmed,
                loose.gained_wrong,
                loose.gained_unreviewed
            ),
            (1, 1, 1)
        );
        // Margin 0.035: only C's 0.03 review fails; D's 0.04 and 0.05 pass.
        let mid = what_if(&records, 0.6, 0.035);
        assert_eq!(
            (
                mid.gained_confirmed,
                mid.gained_wrong,
                mid.gained_unreviewed
            ),
            (0, 1, 1)
        );
        // Nothing recorded: all zero.
        assert_eq!(
            what_if(&[], 0.6, 0.1),
            WhatIf {
                threshold: 0.6,
                margin: 0.1,
                ..WhatIf::default()
            }
        );
    }
}
