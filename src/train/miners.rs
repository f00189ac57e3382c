//! Online mining inside a batch: given the distances between all items of a batch and their
//! labels, choose the triplets (anchor, positive, negative) to train on. Batch-all keeps every
//! triplet that still has a loss; batch-hard takes each anchor's farthest positive and
//! nearest negative (Hermans et al. 2017); semi-hard takes, for each anchor-positive pair,
//! the nearest negative that is farther than the positive but within the margin (FaceNet).

/// A mining strategy.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Miner {
    /// Every valid triplet with a positive loss.
    BatchAll,
    /// Per anchor: hardest positive, hardest negative.
    BatchHard,
    /// Per anchor-positive pair: the hardest negative with `d_ap < d_an < d_ap + margin`.
    SemiHard,
}

impl std::str::FromStr for Miner {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "batch-all" => Ok(Self::BatchAll),
            "batch-hard" => Ok(Self::BatchHard),
            "semi-hard" => Ok(Self::SemiHard),
            _ => Err(format!(
                "unknown miner {s:?} (batch-all, batch-hard, semi-hard)"
            )),
        }
    }
}

/// Chooses triplets from a row-major `n × n` distance matrix `dist` of a batch with `labels`.
/// `margin` is the triplet loss's, on the same distance scale as `dist`.
#[must_use]
pub fn mine(miner: Miner, dist: &[f32], labels: &[u32], margin: f32) -> Vec<[usize; 3]> {
    let n = labels.len();
    assert_eq!(dist.len(), n * n, "distance matrix of the wrong size");
    let d = |i: usize, j: usize| dist[i * n + j];
    let mut out = Vec::new();
    for a in 0..n {
        let positives = (0..n).filter(|&p| p != a && labels[p] == labels[a]);
        let negatives = || (0..n).filter(|&x| labels[x] != labels[a]);
        match miner {
            Miner::BatchAll => {
                for p in positives {
                    out.extend(
                        negatives()
                            .filter(|&x| d(a, p) - d(a, x) + margin > 0.0)
                            .map(|x| [a, p, x]),
                    );
                }
            }
            Miner::BatchHard => {
                let hardest_p = positives.max_by(|&i, &j| d(a, i).total_cmp(&d(a, j)));
                let hardest_n = negatives().min_by(|&i, &j| d(a, i).total_cmp(&d(a, j)));
                if let (Some(p), Some(x)) = (hardest_p, hardest_n) {
                    out.push([a, p, x]);
                }
            }
            Miner::SemiHard => {
                for p in positives {
                    let dap = d(a, p);
                    let semi = negatives()
                        .filter(|&x| d(a, x) > dap && d(a, x) < dap + margin)
                        .min_by(|&i, &j| d(a, i).total_cmp(&d(a, j)));
                    if let Some(x) = semi {
                        out.push([a, p, x]);
                    }
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Four items on a line at 0, 1, 1.5, 4 with labels A, A, B, B.
    fn line() -> (Vec<f32>, Vec<u32>) {
        let x = [0.0f32, 1.0, 1.5, 4.0];
        let dist = x
            .iter()
            .flat_map(|a| x.iter().map(move |b| (a - b).abs()))
            .collect();
        (dist, vec![0, 0, 1, 1])
    }

    #[test]
    fn batch_hard_takes_the_farthest_positive_and_the_nearest_negative() {
        let (dist, labels) = line();
        // a=0: p=1 (only), nearest negative 2 (1.5). a=1: p=0, n=2 (0.5). a=2: p=3 (2.5), n=1
        // (0.5). a=3: p=2, n=1 (3.0).
        assert_eq!(
            mine(Miner::BatchHard, &dist, &labels, 1.0),
            [[0, 1, 2], [1, 0, 2], [2, 3, 1], [3, 2, 1]]
        );
    }

    #[test]
    fn batch_all_keeps_only_triplets_with_a_loss() {
        let (dist, labels) = line();
        // Margin 1: a=0,p=1 (1.0): n=2 (1.5) → 0.5 > 0 kept; n=3 (4.0) → −2 dropped.
        // a=1,p=0 (1.0): n=2 (0.5) kept; n=3 (3.0) → −1 dropped.
        // a=2,p=3 (2.5): n=0 (1.5) kept; n=1 (0.5) kept. a=3,p=2 (2.5): n=0 (4) → −0.5
        // dropped; n=1 (3) → 0.5 kept.
        assert_eq!(
            mine(Miner::BatchAll, &dist, &labels, 1.0),
            [[0, 1, 2], [1, 0, 2], [2, 3, 0], [2, 3, 1], [3, 2, 1]]
        );
    }

    #[test]
    fn semi_hard_needs_a_negative_inside_the_margin() {
        let (dist, labels) = line();
        // a=0,p=1 (1.0): negatives 1.5 (inside (1, 2)) and 4 → 2. a=1,p=0 (1.0): 0.5 is
        // closer than the positive, 3.0 is beyond the margin → none. a=2,p=3 (2.5): 1.5 and
        // 0.5 both closer → none. a=3,p=2 (2.5): 3.0 inside (2.5, 3.5) → 1; 4.0 outside.
        assert_eq!(
            mine(Miner::SemiHard, &dist, &labels, 1.0),
            [[0, 1, 2], [3, 2, 1]]
        );
        assert_eq!("semi-hard".parse::<Miner>().unwrap(), Miner::SemiHard);
    }
}
