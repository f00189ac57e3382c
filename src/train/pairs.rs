//! Sampling: the seed tutorial's pairs (exactly), balanced pairs for face identities, random
//! triplets, and P×K batches for online mining.

use super::pyrandom::PyRandom;
use crate::vision::encoders::init::SplitMix64;

/// Two items and whether they share a class.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Pair {
    /// First item.
    pub a: usize,
    /// Second item.
    pub b: usize,
    /// Same class.
    pub same: bool,
}

/// The indices of each class's items, in order, for classes `0..=max label`.
#[must_use]
pub fn class_indices(labels: &[u32]) -> Vec<Vec<usize>> {
    let classes = labels.iter().max().map_or(0, |&m| m as usize + 1);
    let mut out = vec![Vec::new(); classes];
    for (i, &l) in labels.iter().enumerate() {
        out[l as usize].push(i);
    }
    out
}

/// The seed's `create_pairs`, exactly: with `n` = (smallest class count − 1), for each class
/// `d` and `i < n` a positive pair `(idx[d][i], idx[d][i+1])` and a negative pair
/// `(idx[d][i], idx[dn][i])` with `dn = (d + randrange(1, C)) % C` (C classes). With
/// `PyRandom::new(1337)` this reproduces the Python anchors' pairs (train first, then test).
#[must_use]
pub fn seed_pairs(labels: &[u32], rng: &mut PyRandom) -> Vec<Pair> {
    let idx = class_indices(labels);
    let classes = idx.len();
    if classes < 2 {
        return Vec::new();
    }
    let n = idx
        .iter()
        .map(Vec::len)
        .min()
        .unwrap_or(0)
        .saturating_sub(1);
    let mut pairs = Vec::with_capacity(2 * classes * n);
    for d in 0..classes {
        for i in 0..n {
            pairs.push(Pair {
                a: idx[d][i],
                b: idx[d][i + 1],
                same: true,
            });
            let dn = (d + rng.range(1, classes as u32) as usize) % classes;
            pairs.push(Pair {
                a: idx[d][i],
                b: idx[dn][i],
                same: false,
            });
        }
    }
    pairs
}

/// Balanced pairs for classes of uneven size (face identities): for each class `d` and each
/// `i` below its count − 1, `(idx[d][i], idx[d][i+1])` and `(idx[d][i], x)` with `x` a random
/// item of another class. Classes with one item give no pairs.
#[must_use]
pub fn balanced_pairs(labels: &[u32], rng: &mut SplitMix64) -> Vec<Pair> {
    let idx = class_indices(labels);
    let nonempty: Vec<usize> = (0..idx.len()).filter(|&c| !idx[c].is_empty()).collect();
    let mut pairs = Vec::new();
    if nonempty.len() < 2 {
        return pairs;
    }
    for &d in &nonempty {
        for i in 0..idx[d].len().saturating_sub(1) {
            pairs.push(Pair {
                a: idx[d][i],
                b: idx[d][i + 1],
                same: true,
            });
            let other = loop {
                let c = nonempty[rng.below(nonempty.len())];
                if c != d {
                    break c;
                }
            };
            pairs.push(Pair {
                a: idx[d][i],
                b: idx[other][rng.below(idx[other].len())],
                same: false,
            });
        }
    }
    pairs
}

/// `count` random triplets (anchor, positive of the same class, negative of another class).
#[must_use]
pub fn random_triplets(labels: &[u32], count: usize, rng: &mut SplitMix64) -> Vec<[usize; 3]> {
    let idx = class_indices(labels);
    let usable: Vec<usize> = (0..idx.len()).filter(|&c| idx[c].len() >= 2).collect();
    let nonempty: Vec<usize> = (0..idx.len()).filter(|&c| !idx[c].is_empty()).collect();
    if usable.is_empty() || nonempty.len() < 2 {
        return Vec::new();
    }
    (0..count)
        .map(|_| {
            let c = usable[rng.below(usable.len())];
            let a = rng.below(idx[c].len());
            let p = (a + 1 + rng.below(idx[c].len() - 1)) % idx[c].len();
            let other = loop {
                let o = nonempty[rng.below(nonempty.len())];
                if o != c {
                    break o;
                }
            };
            [
                idx[c][a],
                idx[c][p],
                idx[other][rng.below(idx[other].len())],
            ]
        })
        .collect()
}

/// One epoch of P×K batches: each batch takes `p` classes and `k` items of each (drawn
/// without replacement while a class has items left, then repeating). The number of
/// batches covers the data about once.
#[must_use]
pub fn pk_batches(labels: &[u32], p: usize, k: usize, rng: &mut SplitMix64) -> Vec<Vec<usize>> {
    let mut idx = class_indices(labels);
    idx.retain(|c| c.len() >= 2);
    if idx.len() < 2 || p < 2 || k < 1 {
        return Vec::new();
    }
    let p = p.min(idx.len());
    for c in &mut idx {
        rng.shuffle(c);
    }
    let mut cursor = vec![0usize; idx.len()];
    let batches = labels.len().div_ceil(p * k).max(1);
    let mut classes: Vec<usize> = (0..idx.len()).collect();
    (0..batches)
        .map(|_| {
            rng.shuffle(&mut classes);
            let mut batch = Vec::with_capacity(p * k);
            for &c in &classes[..p] {
                for _ in 0..k {
                    batch.push(idx[c][cursor[c] % idx[c].len()]);
                    cursor[c] += 1;
                }
            }
            batch
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_pairs_follow_the_tutorial() {
        // Three classes of sizes 3, 2, 4: n = 1, so one positive and one negative per class.
        let labels = [0, 1, 2, 0, 2, 1, 0, 2, 2];
        let mut rng = PyRandom::new(1337);
        let pairs = seed_pairs(&labels, &mut rng);
        // randrange(1, 3) from Random(1337) gives 2, 1, 2 (CPython), so the negatives are
        // classes 2, 2 and 1.
        assert_eq!(
            pairs,
            [
                Pair {
                    a: 0,
                    b: 3,
                    same: true
                },
                Pair {
                    a: 0,
                    b: 2,
                    same: false
                },
                Pair {
                    a: 1,
                    b: 5,
                    same: true
                },
                Pair {
                    a: 1,
                    b: 2,
                    same: false
                },
                Pair {
                    a: 2,
                    b: 4,
                    same: true
                },
                Pair {
                    a: 2,
                    b: 1,
                    same: false
                },
            ]
        );
    }

    #[test]
    fn the_bundled_mnist_gives_the_anchors_pair_counts() {
        let d = super::super::dataset::load_bundled_mnist().unwrap();
        let mut rng = PyRandom::new(1337);
        let train = seed_pairs(&d.train.labels, &mut rng);
        let test = seed_pairs(&d.test.labels, &mut rng);
        // anchors/perf/results.md: 13,780 train pairs and 3,440 test pairs per epoch.
        assert_eq!((train.len(), test.len()), (13_780, 3_440));
        for p in &test {
            assert_eq!(d.test.labels[p.a] == d.test.labels[p.b], p.same);
        }
    }

    #[test]
    fn balanced_pairs_and_triplets_respect_classes() {
        let labels = [0, 0, 0, 1, 1, 2];
        let mut rng = SplitMix64::new(5);
        let pairs = balanced_pairs(&labels, &mut rng);
        assert_eq!(pairs.len(), 2 * (2 + 1));
        assert!(pairs.iter().all(|p| (labels[p.a] == labels[p.b]) == p.same));
        for [a, p, n] in random_triplets(&labels, 50, &mut rng) {
            assert!(a != p && labels[a] == labels[p] && labels[n] != labels[a]);
        }
        let batches = pk_batches(&labels, 2, 2, &mut rng);
        assert!(!batches.is_empty());
        for b in batches {
            assert_eq!(b.len(), 4);
            assert_eq!(labels[b[0]], labels[b[1]]);
            assert_ne!(labels[b[0]], labels[b[2]]);
        }
    }
}
