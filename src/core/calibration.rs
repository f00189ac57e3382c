//! Threshold calibration from a class's own data: pairs of enrolled students give the impostor
//! distribution, confirmed marks give the genuine one. Also finds look-alike students.

use super::ids::StudentId;

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
    /// The largest threshold whose impostor false-accept rate stays within the target.
    pub suggested_threshold: Option<f32>,
    /// False-reject rate of the genuine distances at the suggested threshold.
    pub false_reject_rate_at_suggestion: Option<f64>,
    /// Closest impostor distance seen (the tightest pair).
    pub closest_impostor: Option<f32>,
    /// Pairs that need the teacher's attention, closest first.
    pub look_alikes: Vec<LookAlike>,
}

/// Calibrates `threshold` (and the look-alike report with `margin`) from the enrolled
/// students' pairwise distances and the genuine distances of confirmed marks.
#[must_use]
pub fn calibrate(
    impostor_pairs: &[(StudentId, StudentId, f32)],
    genuine: &[f32],
    threshold: f32,
    margin: f32,
    target_far: f64,
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
        match impostor.get(allowed) {
            Some(&next) => {
                let below = if allowed == 0 {
                    0.0
                } else {
                    impostor[allowed - 1]
                };
                // Halfway between the last allowed impostor and the next, but never at it.
                (below + (next - below) * 0.5)
                    .max(0.0)
                    .min(next - next.abs() * 1e-4)
            }
            None => impostor[impostor.len() - 1],
        }
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
        let c = calibrate(&PAIRS, &genuine, 0.6, 0.05, 0.0);
        assert_eq!(c.impostor_pairs, 6);
        // Impostors at or under 0.6: only A-B (0.45) -> 1/6.
        assert!((c.false_accept_rate.unwrap() - 1.0 / 6.0).abs() < 1e-12);
        // Genuine over 0.6: none.
        assert_eq!(c.false_reject_rate, Some(0.0));
        // Target FAR 0: halfway between 0 and the closest impostor (0.45).
        let s = c.suggested_threshold.unwrap();
        assert!((s - 0.225).abs() < 1e-6);
        // At 0.225, genuine 0.3, 0.35, 0.5, 0.55 are rejected: 4/5.
        assert!((c.false_reject_rate_at_suggestion.unwrap() - 0.8).abs() < 1e-12);
        // Look-alikes under 0.65: A-B (under the threshold) and B-D (within the margin).
        assert_eq!(c.look_alikes.len(), 2);
        assert_eq!((c.look_alikes[0].a, c.look_alikes[0].b), (A, B));
        assert!(c.look_alikes[0].under_threshold);
        assert!(!c.look_alikes[1].under_threshold);
        assert_eq!(c.closest_impostor, Some(0.45));
    }

    #[test]
    fn a_looser_target_allows_some_impostors() {
        // 20 % of 6 = 1.2 -> one impostor (0.45) may pass; suggestion between 0.45 and 0.62.
        let c = calibrate(&PAIRS, &[], 0.6, 0.0, 0.2);
        let s = c.suggested_threshold.unwrap();
        assert!((s - 0.535).abs() < 1e-6);
        assert_eq!(c.false_reject_rate, None);
    }

    #[test]
    fn empty_gallery_gives_no_figures() {
        let c = calibrate(&[], &[], 0.6, 0.1, 0.01);
        assert_eq!(c.false_accept_rate, None);
        assert_eq!(c.suggested_threshold, None);
        assert!(c.look_alikes.is_empty());
    }
}
