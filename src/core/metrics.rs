//! Verification and identification metrics: pair accuracy, ROC, AUC, EER, TAR at a FAR,
//! precision@1 and MAP@R. Distances: a pair is accepted as "same" when its distance is small.

use super::embedding::Metric;

/// One scored pair: its distance and whether the two items really are the same identity.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ScoredPair {
    /// Distance between the two embeddings.
    pub distance: f32,
    /// Ground truth: same identity (or same digit class).
    pub same: bool,
}

/// One point of a ROC curve: accepting every pair with distance ≤ `threshold`.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RocPoint {
    /// The distance threshold.
    pub threshold: f32,
    /// False-accept rate: different pairs accepted / different pairs.
    pub far: f64,
    /// True-accept rate: same pairs accepted / same pairs.
    pub tar: f64,
}

/// The verification figures of a pairs list.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct VerificationReport {
    /// Number of same pairs.
    pub positives: usize,
    /// Number of different pairs.
    pub negatives: usize,
    /// Area under the ROC curve.
    pub auc: f64,
    /// Equal error rate (where FAR = FRR).
    pub eer: f64,
    /// The threshold at the equal error rate.
    pub eer_threshold: f32,
    /// The best accuracy over all thresholds (an oracle on this data).
    pub best_accuracy: f64,
    /// The threshold that gives `best_accuracy`.
    pub best_threshold: f32,
    /// True-accept rate at a false-accept rate of at most 1 %, and its threshold.
    pub tar_at_far_1: (f64, f32),
    /// True-accept rate at a false-accept rate of at most 0.1 %, and its threshold.
    pub tar_at_far_0_1: (f64, f32),
    /// The ROC curve, from the strictest threshold to the loosest.
    pub roc: Vec<RocPoint>,
}

/// Accuracy at `threshold`, with the seed tutorial's rule: "same" when `distance < threshold`.
#[must_use]
pub fn accuracy_at(pairs: &[ScoredPair], threshold: f32) -> f64 {
    if pairs.is_empty() {
        return 0.0;
    }
    let right = pairs
        .iter()
        .filter(|p| (p.distance < threshold) == p.same)
        .count();
    right as f64 / pairs.len() as f64
}

/// False-accept and false-reject rates when pairs with `distance <= threshold` are accepted.
/// Each is `None` when there are no pairs of that kind.
#[must_use]
pub fn far_frr_at(pairs: &[ScoredPair], threshold: f32) -> (Option<f64>, Option<f64>) {
    let (mut pos, mut neg, mut fa, mut fr) = (0usize, 0usize, 0usize, 0usize);
    for p in pairs {
        let accepted = p.distance <= threshold;
        if p.same {
            pos += 1;
            fr += usize::from(!accepted);
        } else {
            neg += 1;
            fa += usize::from(accepted);
        }
    }
    let rate = |n: usize, d: usize| (d > 0).then(|| n as f64 / d as f64);
    (rate(fa, neg), rate(fr, pos))
}

/// The ROC curve: one point per distinct distance, strictest first, starting at (0, 0).
#[must_use]
pub fn roc(pairs: &[ScoredPair]) -> Vec<RocPoint> {
    let groups = tie_groups(pairs);
    let pos = groups.iter().map(|g| g.same).sum::<usize>().max(1) as f64;
    let neg = groups.iter().map(|g| g.different).sum::<usize>().max(1) as f64;
    let first = groups.first().map_or(0.0, |g| g.distance);
    let mut points = vec![RocPoint {
        threshold: first - f32::EPSILON.max(first.abs() * 1e-6),
        far: 0.0,
        tar: 0.0,
    }];
    let (mut tp, mut fp) = (0usize, 0usize);
    for g in &groups {
        tp += g.same;
        fp += g.different;
        points.push(RocPoint {
            threshold: g.distance,
            far: fp as f64 / neg,
            tar: tp as f64 / pos,
        });
    }
    points
}

/// Pairs with one distance: how many are same and how many different.
struct TieGroup {
    distance: f32,
    same: usize,
    different: usize,
}

/// The pairs grouped by equal distance, nearest first; NaN distances are left out.
fn tie_groups(pairs: &[ScoredPair]) -> Vec<TieGroup> {
    let mut sorted: Vec<ScoredPair> = pairs
        .iter()
        .copied()
        .filter(|p| !p.distance.is_nan())
        .collect();
    sorted.sort_by(|a, b| a.distance.total_cmp(&b.distance));
    let mut groups: Vec<TieGroup> = Vec::new();
    for p in sorted {
        match groups.last_mut() {
            Some(g) if g.distance.total_cmp(&p.distance).is_eq() => {}
            _ => groups.push(TieGroup {
                distance: p.distance,
                same: 0,
                different: 0,
            }),
        }
        if let Some(g) = groups.last_mut() {
            if p.same {
                g.same += 1;
            } else {
                g.different += 1;
            }
        }
    }
    groups
}

/// Area under the curve: the chance that a random different pair is farther apart than a
/// random same pair (ties count half), computed exactly by ranks.
#[must_use]
pub fn auc(pairs: &[ScoredPair]) -> f64 {
    let groups = tie_groups(pairs);
    let pos: usize = groups.iter().map(|g| g.same).sum();
    let neg: usize = groups.iter().map(|g| g.different).sum();
    if pos == 0 || neg == 0 {
        return 0.5;
    }
    // For each group of equal distances: negatives farther than every positive seen so far.
    let (mut pos_before, mut wins) = (0usize, 0.0f64);
    for g in &groups {
        wins += g.different as f64 * pos_before as f64 + 0.5 * g.different as f64 * g.same as f64;
        pos_before += g.same;
    }
    wins / (pos as f64 * neg as f64)
}

/// The best true-accept rate with a false-accept rate of at most `max_far`, and its threshold.
#[must_use]
pub fn tar_at_far(curve: &[RocPoint], max_far: f64) -> (f64, f32) {
    curve
        .iter()
        .filter(|p| p.far <= max_far + 1e-12)
        .max_by(|a, b| {
            a.tar
                .total_cmp(&b.tar)
                .then(b.threshold.total_cmp(&a.threshold))
        })
        .map_or((0.0, 0.0), |p| (p.tar, p.threshold))
}

/// The equal error rate and its threshold, from the ROC point where FAR and FRR are closest.
#[must_use]
pub fn eer(curve: &[RocPoint]) -> (f64, f32) {
    curve
        .iter()
        .min_by(|a, b| {
            (a.far - (1.0 - a.tar))
                .abs()
                .total_cmp(&(b.far - (1.0 - b.tar)).abs())
        })
        .map_or((1.0, 0.0), |p| ((p.far + 1.0 - p.tar) / 2.0, p.threshold))
}

/// The threshold that maximises accuracy (pairs with `distance < threshold` are "same"), and
/// that accuracy. The threshold is placed halfway between neighbouring distances.
#[must_use]
pub fn best_threshold(pairs: &[ScoredPair]) -> (f64, f32) {
    let mut sorted: Vec<ScoredPair> = pairs
        .iter()
        .copied()
        .filter(|p| !p.distance.is_nan())
        .collect();
    if sorted.is_empty() {
        return (0.0, 0.0);
    }
    sorted.sort_by(|a, b| a.distance.total_cmp(&b.distance));
    let n = sorted.len();
    let neg_total = sorted.iter().filter(|p| !p.same).count();
    // Threshold below everything: all rejected, correct = negatives.
    let mut correct = neg_total;
    let mut best = (correct, sorted[0].distance - 1e-6);
    let mut i = 0;
    while i < n {
        let d = sorted[i].distance;
        while i < n && sorted[i].distance.total_cmp(&d).is_eq() {
            if sorted[i].same {
                correct += 1;
            } else {
                correct -= 1;
            }
            i += 1;
        }
        let next = sorted.get(i).map_or(d + 1e-3, |p| p.distance);
        if correct > best.0 {
            best = (correct, f32::midpoint(d, next));
        }
    }
    (best.0 as f64 / n as f64, best.1)
}

/// All verification figures of a pairs list.
#[must_use]
pub fn verification_report(pairs: &[ScoredPair]) -> VerificationReport {
    let curve = roc(pairs);
    let (eer_value, eer_threshold) = eer(&curve);
    let (best_accuracy, best_thr) = best_threshold(pairs);
    VerificationReport {
        positives: pairs.iter().filter(|p| p.same).count(),
        negatives: pairs.iter().filter(|p| !p.same).count(),
        auc: auc(pairs),
        eer: eer_value,
        eer_threshold,
        best_accuracy,
        best_threshold: best_thr,
        tar_at_far_1: tar_at_far(&curve, 0.01),
        tar_at_far_0_1: tar_at_far(&curve, 0.001),
        roc: curve,
    }
}

/// Retrieval figures over a labelled set of embeddings, each one queried against the rest.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RetrievalReport {
    /// Queries that had at least one other item of their label.
    pub queries: usize,
    /// Fraction of queries whose nearest other item has the same label.
    pub precision_at_1: f64,
    /// Mean average precision at R, R = the number of other items of the query's label.
    pub map_at_r: f64,
}

/// Precision@1 and MAP@R (Musgrave et al., "A metric learning reality check") of labelled
/// embeddings (`rows` of equal length, one label each), every item a query against the others.
#[must_use]
pub fn retrieval_report(rows: &[Vec<f32>], labels: &[u32], metric: Metric) -> RetrievalReport {
    let n = rows.len().min(labels.len());
    let (mut queries, mut p1, mut map) = (0usize, 0.0f64, 0.0f64);
    let mut order: Vec<(f32, bool)> = Vec::with_capacity(n);
    for q in 0..n {
        let r = (0..n).filter(|&j| j != q && labels[j] == labels[q]).count();
        if r == 0 {
            continue;
        }
        order.clear();
        order.extend(
            (0..n)
                .filter(|&j| j != q)
                .map(|j| (metric.distance(&rows[q], &rows[j]), labels[j] == labels[q])),
        );
        order.sort_by(|a, b| a.0.total_cmp(&b.0));
        queries += 1;
        p1 += f64::from(u8::from(order[0].1));
        let (mut hits, mut ap) = (0usize, 0.0f64);
        for (k, &(_, relevant)) in order.iter().take(r).enumerate() {
            if relevant {
                hits += 1;
                ap += hits as f64 / (k + 1) as f64;
            }
        }
        map += ap / r as f64;
    }
    let q = queries.max(1) as f64;
    RetrievalReport {
        queries,
        precision_at_1: p1 / q,
        map_at_r: map / q,
    }
}

/// z for a two-sided 95 % interval.
const Z95: f64 = 1.959_964;

/// The Wilson score interval (95 %) of a proportion `p` measured on `n` trials; `(0, 1)`
/// without trials.
#[must_use]
pub fn wilson_interval(p: f64, n: usize) -> (f64, f64) {
    if n == 0 {
        return (0.0, 1.0);
    }
    let n = n as f64;
    let z2 = Z95 * Z95;
    let centre = (p + z2 / (2.0 * n)) / (1.0 + z2 / n);
    let half = Z95 / (1.0 + z2 / n) * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt();
    ((centre - half).max(0.0), (centre + half).min(1.0))
}

/// Newcombe's hybrid score interval (95 %) of the difference `p1 − p2` of two independent
/// proportions (Newcombe 1998, method 10), built from the two Wilson intervals.
#[must_use]
pub fn difference_interval(p1: f64, n1: usize, p2: f64, n2: usize) -> (f64, f64) {
    let (l1, u1) = wilson_interval(p1, n1);
    let (l2, u2) = wilson_interval(p2, n2);
    let d = p1 - p2;
    (
        d - ((p1 - l1).powi(2) + (u2 - p2).powi(2)).sqrt(),
        d + ((u1 - p1).powi(2) + (p2 - l2).powi(2)).sqrt(),
    )
}

/// The standard error of an AUC measured on `positives` same and `negatives` different pairs
/// (Hanley and McNeil 1982).
#[allow(clippy::doc_markdown)] // "McNeil" is a name, not code.
#[must_use]
pub fn auc_standard_error(auc: f64, positives: usize, negatives: usize) -> f64 {
    if positives == 0 || negatives == 0 {
        return f64::INFINITY;
    }
    let (np, nn) = (positives as f64, negatives as f64);
    let q1 = auc / (2.0 - auc);
    let q2 = 2.0 * auc * auc / (1.0 + auc);
    let var = (auc * (1.0 - auc) + (np - 1.0) * (q1 - auc * auc) + (nn - 1.0) * (q2 - auc * auc))
        / (np * nn);
    var.max(0.0).sqrt()
}

/// The 95 % interval of the difference of two independently measured AUCs.
#[must_use]
pub fn auc_difference_interval(a: (f64, usize, usize), b: (f64, usize, usize)) -> (f64, f64) {
    let se = auc_standard_error(a.0, a.1, a.2).hypot(auc_standard_error(b.0, b.1, b.2));
    let d = a.0 - b.0;
    (d - Z95 * se, d + Z95 * se)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(v: &[(f32, bool)]) -> Vec<ScoredPair> {
        v.iter()
            .map(|&(distance, same)| ScoredPair { distance, same })
            .collect()
    }

    #[test]
    fn perfect_separation() {
        let p = pairs(&[(0.1, true), (0.2, true), (0.8, false), (0.9, false)]);
        let r = verification_report(&p);
        assert_eq!(r.auc, 1.0);
        assert_eq!(r.eer, 0.0);
        assert_eq!(r.best_accuracy, 1.0);
        assert!(r.best_threshold > 0.2 && r.best_threshold < 0.8);
        assert_eq!(r.tar_at_far_1.0, 1.0);
        assert_eq!(accuracy_at(&p, 0.5), 1.0);
    }

    #[test]
    fn hand_computed_overlap() {
        // Same: 0.1, 0.4, 0.6; different: 0.3, 0.7, 0.9.
        // Pairs (same, diff) with diff farther: 0.1 beats 3, 0.4 beats 2, 0.6 beats 2 -> 7/9.
        let p = pairs(&[
            (0.1, true),
            (0.4, true),
            (0.6, true),
            (0.3, false),
            (0.7, false),
            (0.9, false),
        ]);
        assert!((auc(&p) - 7.0 / 9.0).abs() < 1e-12);
        // At 0.5 (d < 0.5 = same): 0.1, 0.4 right; 0.6 wrong; 0.3 wrong; 0.7, 0.9 right -> 4/6.
        assert!((accuracy_at(&p, 0.5) - 4.0 / 6.0).abs() < 1e-12);
        let (far, frr) = far_frr_at(&p, 0.5);
        assert!((far.unwrap() - 1.0 / 3.0).abs() < 1e-12);
        assert!((frr.unwrap() - 1.0 / 3.0).abs() < 1e-12);
        let (e, _) = eer(&roc(&p));
        assert!((e - 1.0 / 3.0).abs() < 1e-12);
        // Best accuracy: threshold between 0.6 and 0.7 gives 5/6 (only 0.3 wrong).
        let (acc, thr) = best_threshold(&p);
        assert!((acc - 5.0 / 6.0).abs() < 1e-12);
        assert!((thr - 0.65).abs() < 1e-6);
        // TAR at FAR 0: only thresholds below 0.3 -> TAR 1/3.
        assert!((tar_at_far(&roc(&p), 0.0).0 - 1.0 / 3.0).abs() < 1e-12);
    }

    #[test]
    fn ties_count_half_and_degenerate_sets_are_neutral() {
        let p = pairs(&[(0.5, true), (0.5, false)]);
        assert!((auc(&p) - 0.5).abs() < 1e-12);
        assert_eq!(auc(&pairs(&[(0.1, true)])), 0.5);
        assert_eq!(accuracy_at(&[], 0.5), 0.0);
        assert_eq!(far_frr_at(&[], 0.5), (None, None));
    }

    #[test]
    fn retrieval_on_a_hand_made_set() {
        // Labels 0,0,1,1 on a line: 0.0, 0.1, 1.0, 5.0.
        let rows = vec![vec![0.0], vec![0.1], vec![1.0], vec![5.0]];
        let r = retrieval_report(&rows, &[0, 0, 1, 1], Metric::Euclidean);
        assert_eq!(r.queries, 4);
        // Nearest neighbours: 0->1 (ok), 1->0 (ok), 2->1 (wrong), 3->2 (ok) -> 3/4.
        assert!((r.precision_at_1 - 0.75).abs() < 1e-12);
        // R = 1 for every query, so MAP@R = P@1 here.
        assert!((r.map_at_r - 0.75).abs() < 1e-12);
    }

    #[test]
    fn intervals_match_the_textbook_examples() {
        // Wilson: 50 of 100.
        let (l, u) = wilson_interval(0.5, 100);
        assert!(
            (l - 0.4038).abs() < 1e-4 && (u - 0.5962).abs() < 1e-4,
            "{l} {u}"
        );
        // All right still leaves room for error: 10 of 10 -> (0.7225, 1).
        let (l, u) = wilson_interval(1.0, 10);
        assert!(
            (l - 0.7225).abs() < 1e-4 && (u - 1.0).abs() < 1e-12,
            "{l} {u}"
        );
        assert_eq!(wilson_interval(0.3, 0), (0.0, 1.0));
        // Newcombe (1998), example (a): 56/70 - 48/80 = 0.2, interval 0.0524 to 0.3339.
        let (l, u) = difference_interval(56.0 / 70.0, 70, 48.0 / 80.0, 80);
        assert!(
            (l - 0.0524).abs() < 1e-4 && (u - 0.3339).abs() < 1e-4,
            "{l} {u}"
        );
        // Hanley and McNeil: AUC 0.9 on 50 + 50 samples has a standard error of 0.0321.
        let se = auc_standard_error(0.9, 50, 50);
        assert!((se - 0.032_12).abs() < 1e-4, "{se}");
        let (l, u) = auc_difference_interval((0.9, 50, 50), (0.9, 50, 50));
        assert!((l + 1.96 * se * 2f64.sqrt()).abs() < 1e-3 && (u + l).abs() < 1e-12);
    }
}
