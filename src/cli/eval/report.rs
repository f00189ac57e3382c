//! Figures of one face set: verification on its pairs lists and one-shot identification (first
//! image enrolled, the others as probes), printed beside the anchor's.

use std::collections::{BTreeMap, HashSet};
use std::path::Path;

use anyhow::Context as _;

use super::EvalFacesArgs;
use super::data::{Dataset, EmbeddedSet, by_identity};
use crate::cli::{outln, table};
use crate::core::Metric;
use crate::core::metrics::{
    ScoredPair, auc_difference_interval, difference_interval, far_frr_at, verification_report,
};
use crate::train::pyrandom::PyRandom;

/// Figures of one pairs list.
#[derive(Clone, Debug, serde::Serialize)]
pub struct PairsFigures {
    /// The list.
    pub list: String,
    /// Pairs scored (both images embedded).
    pub pairs: usize,
    /// Of those, pairs of the same person.
    pub same_pairs: usize,
    /// Area under the ROC curve.
    pub auc: f64,
    /// Accuracy at the threshold.
    pub accuracy: f64,
    /// False-accept rate at the threshold.
    pub far: f64,
    /// False-reject rate at the threshold.
    pub frr: f64,
    /// Best accuracy over thresholds (oracle) and its threshold.
    pub best: (f64, f32),
    /// True-accept rate at a false-accept rate of at most 1 %, and its threshold.
    pub tar_at_far_1: (f64, f32),
    /// True-accept rate at a false-accept rate of at most 0.1 %, and its threshold.
    pub tar_at_far_0_1: (f64, f32),
    /// Equal error rate.
    pub eer: f64,
}

/// One-shot identification figures (shares of genuine probes; false accepts of impostors).
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct IdFigures {
    /// Enrolled identities.
    pub gallery: usize,
    /// Probes of enrolled identities.
    pub genuine: usize,
    /// Probes of identities not enrolled.
    pub impostor: usize,
    /// Nearest enrolled identity is right.
    pub top1: f64,
    /// Marked as the right student at the threshold.
    pub correct: f64,
    /// Marked as the wrong student at the threshold.
    pub wrong: f64,
    /// Not marked.
    pub missed: f64,
    /// Impostor probes marked as somebody.
    pub false_accept: Option<f64>,
}

/// Everything measured on one set with one alignment.
#[derive(Clone, Debug, serde::Serialize)]
pub struct SetReport {
    /// The set.
    pub set: String,
    /// The encoder.
    pub encoder: String,
    /// The alignment.
    pub alignment: String,
    /// Images embedded.
    pub images: usize,
    /// Images without a detected face.
    pub no_face: usize,
    /// Images with several faces.
    pub multi_face: usize,
    /// Median detection milliseconds per image (this run's new images).
    pub detect_ms: f64,
    /// Median alignment + embedding milliseconds per image.
    pub embed_ms: f64,
    /// The threshold used.
    pub threshold: f32,
    /// Per pairs list.
    pub verification: Vec<PairsFigures>,
    /// All identities enrolled, the anchor's rule (threshold only).
    pub closed_set: Option<IdFigures>,
    /// All identities enrolled, rollcall's rule (threshold and margin).
    pub closed_set_margin: Option<IdFigures>,
    /// A third of the identities not enrolled (the anchor's five draws, averaged), the anchor's
    /// rule.
    pub open_set: Option<IdFigures>,
    /// The same draws, rollcall's rule.
    pub open_set_margin: Option<IdFigures>,
    /// The margin of rollcall's rule.
    pub margin: f32,
    /// The figures beside the anchor's, with the uncertainty of the difference (empty without
    /// the anchor's results).
    pub against_anchor: Vec<Comparison>,
    /// The first encoder of the run beside this one (empty for the first).
    pub against_reference: Reference,
}

/// One figure of rollcall beside the anchor's.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Comparison {
    /// What is compared.
    pub figure: String,
    /// rollcall's value.
    pub rollcall: f64,
    /// The anchor's value.
    pub anchor: f64,
    /// Whether higher is better.
    pub higher_is_better: bool,
    /// The 95 % interval of the gain (rollcall − anchor when higher is better, anchor −
    /// rollcall when lower is).
    pub gain_interval: (f64, f64),
}

impl Comparison {
    /// "better", "worse", or "same within noise" when the interval contains zero.
    #[must_use]
    pub fn verdict(&self) -> &'static str {
        match self.gain_interval {
            (lo, _) if lo > 0.0 => "better",
            (_, hi) if hi < 0.0 => "worse",
            _ => "same within noise",
        }
    }
}

/// A figure that can be set beside another system's.
#[derive(Clone, Copy, Debug)]
enum Figure<'a> {
    /// A pairs list's AUC.
    Auc(&'a str),
    /// A pairs list's accuracy at the system's threshold.
    Accuracy(&'a str),
    /// A pairs list's TAR at FAR 1 %.
    TarAtFar1(&'a str),
    /// A pairs list's TAR at FAR 0.1 %.
    TarAtFar01(&'a str),
    /// Closed-set top-1.
    Top1,
    /// Closed-set wrong-person marks at the threshold.
    ClosedWrong,
    /// Open set: probes marked as the right person.
    OpenCorrect,
    /// Open set: probes marked as the wrong person.
    OpenWrong,
    /// Open set: strangers' probes marked as somebody.
    OpenStrangers,
    /// Open set with rollcall's margin rule: marked as the right person.
    OpenCorrectMargin,
    /// Open set with rollcall's margin rule: strangers marked.
    OpenStrangersMargin,
}

impl SetReport {
    /// This report's value of a figure.
    fn figure(&self, f: Figure<'_>) -> Option<f64> {
        let list = |name: &str| self.verification.iter().find(|v| v.list == name);
        match f {
            Figure::Auc(l) => list(l).map(|v| v.auc),
            Figure::Accuracy(l) => list(l).map(|v| v.accuracy),
            Figure::TarAtFar1(l) => list(l).map(|v| v.tar_at_far_1.0),
            Figure::TarAtFar01(l) => list(l).map(|v| v.tar_at_far_0_1.0),
            Figure::Top1 => self.closed_set.as_ref().map(|c| c.top1),
            Figure::ClosedWrong => self.closed_set.as_ref().map(|c| c.wrong),
            Figure::OpenCorrect => self.open_set.as_ref().map(|o| o.correct),
            Figure::OpenWrong => self.open_set.as_ref().map(|o| o.wrong),
            Figure::OpenStrangers => self.open_set.as_ref().and_then(|o| o.false_accept),
            Figure::OpenCorrectMargin => self.open_set_margin.as_ref().map(|o| o.correct),
            Figure::OpenStrangersMargin => {
                self.open_set_margin.as_ref().and_then(|o| o.false_accept)
            }
        }
    }
}

/// `r`'s figures beside another system's (`theirs` gives its value of each figure, `None`
/// where it has none). Intervals treat the two measurements as independent (the other side's
/// per-pair results are not at hand), which makes them a little wide for figures measured on
/// the same pairs; open-set figures use one draw's probe counts though they average five
/// overlapping draws.
fn compare(r: &SetReport, theirs: &dyn Fn(Figure<'_>) -> Option<f64>) -> Vec<Comparison> {
    let mut out = Vec::new();
    let mut rate = |figure: String, which: Figure<'_>, n: usize, higher: bool| {
        if let (Some(ours), Some(theirs)) = (r.figure(which), theirs(which)) {
            let (lo, hi) = difference_interval(ours, n, theirs, n);
            out.push(Comparison {
                figure,
                rollcall: ours,
                anchor: theirs,
                higher_is_better: higher,
                gain_interval: if higher { (lo, hi) } else { (-hi, -lo) },
            });
        }
    };
    let mut aucs = Vec::new();
    for v in &r.verification {
        let l = v.list.as_str();
        let different = v.pairs - v.same_pairs;
        if let Some(auc) = theirs(Figure::Auc(l)) {
            aucs.push((v.list.clone(), v.auc, auc, v.same_pairs, different));
        }
        rate(
            format!("{l}: accuracy @threshold"),
            Figure::Accuracy(l),
            v.pairs,
            true,
        );
        rate(
            format!("{l}: TAR @FAR 1%"),
            Figure::TarAtFar1(l),
            v.same_pairs,
            true,
        );
        rate(
            format!("{l}: TAR @FAR 0.1%"),
            Figure::TarAtFar01(l),
            v.same_pairs,
            true,
        );
    }
    if let Some(c) = &r.closed_set {
        rate("one-shot: top-1".into(), Figure::Top1, c.genuine, true);
        let wrong = Figure::ClosedWrong;
        rate("one-shot: wrong person".into(), wrong, c.genuine, false);
    }
    if let Some(o) = &r.open_set {
        rate(
            "open set: correct".into(),
            Figure::OpenCorrect,
            o.genuine,
            true,
        );
        rate(
            "open set: wrong person".into(),
            Figure::OpenWrong,
            o.genuine,
            false,
        );
        let strangers = Figure::OpenStrangers;
        rate(
            "open set: strangers accepted".into(),
            strangers,
            o.impostor,
            false,
        );
    }
    if let Some(o) = &r.open_set_margin {
        let (correct, strangers) = (Figure::OpenCorrectMargin, Figure::OpenStrangersMargin);
        rate(
            "open set, margin rule: correct".into(),
            correct,
            o.genuine,
            true,
        );
        rate(
            "open set, margin rule: strangers accepted".into(),
            strangers,
            o.impostor,
            false,
        );
    }
    // The AUCs first, in the lists' order.
    let aucs = aucs
        .into_iter()
        .map(|(list, ours, theirs, same, different)| Comparison {
            figure: format!("{list}: AUC"),
            rollcall: ours,
            anchor: theirs,
            higher_is_better: true,
            gain_interval: auc_difference_interval(
                (ours, same, different),
                (theirs, same, different),
            ),
        });
    out.splice(0..0, aucs);
    out
}

/// rollcall's figures beside the stored anchor's (dlib through `face_recognition`, at its
/// threshold 0.6; it stores no TAR at FAR 0.1 % and no margin rule).
#[must_use]
pub fn against_anchor(r: &SetReport, anchor: &Anchor) -> Vec<Comparison> {
    let set = r.set.as_str();
    compare(r, &|f| match f {
        Figure::Auc(l) => anchor.get(set, &["verification", l, "auc"]),
        Figure::Accuracy(l) => anchor.get(set, &["verification", l, "acc_at_0_6"]),
        Figure::TarAtFar1(l) => anchor.get(set, &["verification", l, "tar_at_far_1pct"]),
        Figure::Top1 => anchor.get(set, &["closed_set", "top1"]),
        Figure::ClosedWrong => anchor.get(set, &["closed_set", "wrong_at_0_6"]),
        Figure::OpenCorrect => anchor.get(set, &["open_set", "correct_at_0_6"]),
        Figure::OpenWrong => anchor.get(set, &["open_set", "wrong_at_0_6"]),
        Figure::OpenStrangers => anchor.get(set, &["open_set", "false_accept_at_0_6"]),
        Figure::TarAtFar01(_) | Figure::OpenCorrectMargin | Figure::OpenStrangersMargin => None,
    })
}

/// `ours` beside `theirs`: two encoders measured on the same set in one run (each at its own
/// threshold and margin), every figure including TAR at FAR 0.1 % and the margin rule.
#[must_use]
pub fn against_reference(ours: &SetReport, theirs: &SetReport) -> Reference {
    Reference {
        ours: ours.encoder.clone(),
        theirs: theirs.encoder.clone(),
        figures: compare(ours, &|f| theirs.figure(f)),
    }
}

/// One encoder's figures beside another's from the same run.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct Reference {
    /// The encoder whose gain is shown.
    pub ours: String,
    /// The encoder it is set beside.
    pub theirs: String,
    /// The figures.
    pub figures: Vec<Comparison>,
}

/// What one evaluation run measures with.
#[derive(Clone, Debug)]
pub struct Settings {
    /// The encoder's name.
    pub encoder: String,
    /// The alignment, as reported.
    pub alignment: String,
    /// Distance threshold.
    pub threshold: f32,
    /// Margin of rollcall's rule.
    pub margin: f32,
}

/// Computes the figures.
pub fn evaluate(
    set: &Dataset,
    emb: &EmbeddedSet,
    args: &EvalFacesArgs,
    settings: &Settings,
) -> SetReport {
    let (threshold, margin) = (settings.threshold, settings.margin);
    let metric = Metric::Euclidean;
    let mut verification = Vec::new();
    for list in &set.pairs {
        let scored: Vec<ScoredPair> = list
            .pairs
            .iter()
            .take(args.limit_pairs.unwrap_or(usize::MAX))
            .filter_map(|(a, b, same)| {
                let (va, vb) = (emb.vectors.get(a)?, emb.vectors.get(b)?);
                Some(ScoredPair {
                    distance: metric.distance(va, vb),
                    same: *same,
                })
            })
            .collect();
        if scored.is_empty() {
            continue;
        }
        let r = verification_report(&scored);
        let (far, frr) = far_frr_at(&scored, threshold);
        let accuracy = scored
            .iter()
            .filter(|p| (p.distance <= threshold) == p.same)
            .count() as f64
            / scored.len() as f64;
        verification.push(PairsFigures {
            list: list.name.clone(),
            pairs: scored.len(),
            same_pairs: r.positives,
            auc: r.auc,
            accuracy,
            far: far.unwrap_or(0.0),
            frr: frr.unwrap_or(0.0),
            best: (r.best_accuracy, r.best_threshold),
            tar_at_far_1: r.tar_at_far_1,
            tar_at_far_0_1: r.tar_at_far_0_1,
            eer: r.eer,
        });
    }
    let groups = by_identity(&set.items, &emb.vectors);
    let closed_set = (!args.pairs_only).then(|| {
        let all: HashSet<&str> = groups.keys().copied().collect();
        (
            identification(&groups, &emb.vectors, &all, threshold, 0.0),
            identification(&groups, &emb.vectors, &all, threshold, margin),
        )
    });
    let open_set = (!args.pairs_only && groups.len() >= 3).then(|| {
        let (mut plain, mut ruled) = (Vec::new(), Vec::new());
        for enrolled in open_set_draws(&groups) {
            plain.push(identification(
                &groups,
                &emb.vectors,
                &enrolled,
                threshold,
                0.0,
            ));
            ruled.push(identification(
                &groups,
                &emb.vectors,
                &enrolled,
                threshold,
                margin,
            ));
        }
        (mean(&plain), mean(&ruled))
    });
    // The set's own images (the cache may hold more, e.g. a subset's whole set).
    let count = |has: &dyn Fn(&str) -> bool| set.items.iter().filter(|i| has(&i.path)).count();
    SetReport {
        set: set.name.clone(),
        encoder: settings.encoder.clone(),
        alignment: settings.alignment.clone(),
        images: count(&|p| emb.vectors.contains_key(p)),
        no_face: count(&|p| emb.no_face.contains(p)),
        multi_face: count(&|p| emb.multi_face.contains(p)),
        detect_ms: emb.detect_ms,
        embed_ms: emb.embed_ms,
        threshold,
        verification,
        closed_set: closed_set.as_ref().map(|c| c.0.clone()),
        closed_set_margin: closed_set.map(|c| c.1),
        open_set: open_set.as_ref().map(|o| o.0.clone()),
        open_set_margin: open_set.map(|o| o.1),
        margin,
        against_anchor: Vec::new(),
        against_reference: Reference::default(),
    }
}

/// The anchor's open-set draws: five times (`random.Random(7 + s)`), a third of the identities
/// (sorted by name) are left out of the gallery and their photos must be rejected. Returns the
/// enrolled identities of each draw.
fn open_set_draws<'a>(groups: &BTreeMap<&'a str, Vec<&str>>) -> Vec<HashSet<&'a str>> {
    let ids: Vec<&str> = groups.keys().copied().collect();
    (0..5)
        .map(|s| {
            let out: HashSet<usize> = PyRandom::new(7 + s)
                .sample(ids.len(), ids.len() / 3)
                .into_iter()
                .collect();
            ids.iter()
                .enumerate()
                .filter(|(i, _)| !out.contains(i))
                .map(|(_, k)| *k)
                .collect()
        })
        .collect()
}

/// The mean of several draws' figures.
fn mean(figs: &[IdFigures]) -> IdFigures {
    let n = figs.len().max(1) as f64;
    let avg = |f: &dyn Fn(&IdFigures) -> f64| figs.iter().map(f).sum::<f64>() / n;
    let count = |f: &dyn Fn(&IdFigures) -> usize| (avg(&|x| f(x) as f64)).round() as usize;
    IdFigures {
        gallery: count(&|f| f.gallery),
        genuine: count(&|f| f.genuine),
        impostor: count(&|f| f.impostor),
        top1: avg(&|f| f.top1),
        correct: avg(&|f| f.correct),
        wrong: avg(&|f| f.wrong),
        missed: avg(&|f| f.missed),
        false_accept: figs
            .iter()
            .all(|f| f.false_accept.is_some())
            .then(|| avg(&|f| f.false_accept.unwrap_or(0.0))),
    }
}

/// One-shot identification: each identity's first image is enrolled; probes are the others of
/// enrolled identities (genuine) and all images of identities not enrolled (impostors). A probe
/// is marked when its nearest enrolled identity is within `threshold` and beats the runner-up
/// by at least `margin` (0 = the anchor's rule).
#[must_use]
pub fn identification(
    groups: &BTreeMap<&str, Vec<&str>>,
    vectors: &BTreeMap<String, Vec<f32>>,
    enrolled: &HashSet<&str>,
    threshold: f32,
    margin: f32,
) -> IdFigures {
    let gallery: Vec<(&str, &Vec<f32>)> = groups
        .iter()
        .filter(|(k, _)| enrolled.contains(*k))
        .filter_map(|(k, paths)| Some((*k, vectors.get(*paths.first()?)?)))
        .collect();
    let mut f = IdFigures {
        gallery: gallery.len(),
        ..IdFigures::default()
    };
    let (mut top1, mut correct, mut wrong, mut missed, mut fa) =
        (0usize, 0usize, 0usize, 0usize, 0usize);
    for (k, paths) in groups {
        let is_enrolled = enrolled.contains(k);
        let probes = if is_enrolled { &paths[1..] } else { &paths[..] };
        for p in probes {
            let Some(v) = vectors.get(*p) else { continue };
            let (mut best, mut second) = (("", f32::INFINITY), f32::INFINITY);
            for (g, gv) in &gallery {
                let d = Metric::Euclidean.distance(v, gv);
                if d < best.1 {
                    second = best.1;
                    best = (g, d);
                } else if d < second {
                    second = d;
                }
            }
            if best.0.is_empty() {
                continue;
            }
            let (who, d) = best;
            let marks = d <= threshold && second - d >= margin;
            if is_enrolled {
                f.genuine += 1;
                top1 += usize::from(who == *k);
                if marks {
                    if who == *k { correct += 1 } else { wrong += 1 }
                } else {
                    missed += 1;
                }
            } else {
                f.impostor += 1;
                fa += usize::from(marks);
            }
        }
    }
    let g = f.genuine.max(1) as f64;
    f.top1 = top1 as f64 / g;
    f.correct = correct as f64 / g;
    f.wrong = wrong as f64 / g;
    f.missed = missed as f64 / g;
    f.false_accept = (f.impostor > 0).then(|| fa as f64 / f.impostor as f64);
    f
}

/// The anchor's figures (`anchors/faces/results.json`).
#[derive(Debug)]
pub struct Anchor(serde_json::Value);

impl Anchor {
    /// Reads the anchor's results file.
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        Ok(Self(
            serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))?,
        ))
    }

    fn get(&self, set: &str, keys: &[&str]) -> Option<f64> {
        let mut v = self.0.get("datasets")?.get(set)?;
        for k in keys {
            v = v.get(*k)?;
        }
        v.as_f64()
    }
}

fn pct(v: f64) -> String {
    format!("{:.1}%", 100.0 * v)
}

/// Prints one set's figures, with the anchor's beside them when known.
#[allow(clippy::too_many_lines)] // the report printed top to bottom, one section after another
pub fn print(r: &SetReport, anchor: Option<&Anchor>) {
    outln!(
        "\n== {}, {} ({} alignment): {} images, no face found in {}, several faces in {}; median {:.1} ms detection, {:.1} ms alignment + embedding",
        r.set,
        r.encoder,
        r.alignment,
        r.images,
        r.no_face,
        r.multi_face,
        r.detect_ms,
        r.embed_ms
    );
    let t = r.threshold;
    let us = format!("rollcall {}", r.encoder);
    let mut rows = Vec::new();
    for v in &r.verification {
        rows.push(vec![
            us.clone(),
            v.list.clone(),
            v.pairs.to_string(),
            format!("{:.4}", v.auc),
            pct(v.accuracy),
            pct(v.far),
            pct(v.frr),
            format!("{} ({:.3})", pct(v.best.0), v.best.1),
            format!("{} ({:.3})", pct(v.tar_at_far_1.0), v.tar_at_far_1.1),
            format!("{} ({:.3})", pct(v.tar_at_far_0_1.0), v.tar_at_far_0_1.1),
            pct(v.eer),
        ]);
        if let Some(a) = anchor {
            let g = |k: &str| a.get(&r.set, &["verification", &v.list, k]);
            if let (Some(auc), Some(acc)) = (g("auc"), g("acc_at_0_6")) {
                rows.push(vec![
                    "dlib anchor".to_owned(),
                    v.list.clone(),
                    g("pairs").map(|p| format!("{p:.0}")).unwrap_or_default(),
                    format!("{auc:.4}"),
                    pct(acc),
                    g("far_at_0_6").map(pct).unwrap_or_default(),
                    g("frr_at_0_6").map(pct).unwrap_or_default(),
                    format!(
                        "{} ({:.3})",
                        g("best_acc").map(pct).unwrap_or_default(),
                        g("best_threshold").unwrap_or(0.0)
                    ),
                    format!(
                        "{} ({:.3})",
                        g("tar_at_far_1pct").map(pct).unwrap_or_default(),
                        g("threshold_far_1pct").unwrap_or(0.0)
                    ),
                    String::new(),
                    String::new(),
                ]);
            }
        }
    }
    if !rows.is_empty() {
        let acc = format!("acc @{t}");
        let far = format!("FAR @{t}");
        let frr = format!("FRR @{t}");
        table::print(
            &[
                "system",
                "pairs list",
                "pairs",
                "AUC",
                &acc,
                &far,
                &frr,
                "best acc (thr)",
                "TAR @FAR 1% (thr)",
                "TAR @FAR 0.1% (thr)",
                "EER",
            ],
            &rows,
        );
    }
    if let Some(c) = &r.closed_set {
        let row = |name: String, f: &IdFigures| {
            vec![
                name,
                f.gallery.to_string(),
                f.genuine.to_string(),
                pct(f.top1),
                pct(f.correct),
                pct(f.wrong),
                pct(f.missed),
            ]
        };
        let mut rows = vec![row(us.clone(), c)];
        if let Some(a) = anchor {
            let g = |k: &str| a.get(&r.set, &["closed_set", k]);
            if let Some(top1) = g("top1") {
                rows.push(vec![
                    "dlib anchor".to_owned(),
                    g("gallery").map(|v| format!("{v:.0}")).unwrap_or_default(),
                    g("genuine_probes")
                        .map(|v| format!("{v:.0}"))
                        .unwrap_or_default(),
                    pct(top1),
                    g("correct_at_0_6").map(pct).unwrap_or_default(),
                    g("wrong_at_0_6").map(pct).unwrap_or_default(),
                    g("missed_at_0_6").map(pct).unwrap_or_default(),
                ]);
            }
        }
        if let Some(m) = &r.closed_set_margin {
            rows.insert(1, row(format!("{us}, margin {:.2}", r.margin), m));
        }
        outln!("One-shot identification (first image enrolled, all identities):");
        table::print(
            &[
                "system",
                "gallery",
                "probes",
                "top-1",
                "correct",
                "wrong person",
                "missed",
            ],
            &rows,
        );
    }
    if let (Some(o), Some(m)) = (&r.open_set, &r.open_set_margin) {
        let row = |name: String, f: &IdFigures| {
            vec![
                name,
                f.gallery.to_string(),
                f.genuine.to_string(),
                f.impostor.to_string(),
                pct(f.correct),
                pct(f.wrong),
                pct(f.missed),
                f.false_accept.map(pct).unwrap_or_default(),
            ]
        };
        let mut rows = vec![
            row(us.clone(), o),
            row(format!("{us}, margin {:.2}", r.margin), m),
        ];
        if let Some(a) = anchor {
            let g = |k: &str| a.get(&r.set, &["open_set", k]);
            if let Some(fa) = g("false_accept_at_0_6") {
                let count = |k: &str| g(k).map(|v| format!("{v:.0}")).unwrap_or_default();
                rows.push(vec![
                    "dlib anchor".to_owned(),
                    count("gallery"),
                    count("genuine_probes"),
                    count("impostor_probes"),
                    g("correct_at_0_6").map(pct).unwrap_or_default(),
                    g("wrong_at_0_6").map(pct).unwrap_or_default(),
                    g("missed_at_0_6").map(pct).unwrap_or_default(),
                    pct(fa),
                ]);
            }
        }
        outln!(
            "Open set (a third of the identities never enrolled; the anchor's 5 draws, averaged):"
        );
        table::print(
            &[
                "system",
                "gallery",
                "probes",
                "strangers' probes",
                "correct",
                "wrong person",
                "missed",
                "strangers accepted",
            ],
            &rows,
        );
    }
    print_comparisons(
        "Against the anchor (95% interval of rollcall's gain; a worse figure gives a negative gain):",
        ("rollcall", "anchor"),
        &r.against_anchor,
    );
    let reference = &r.against_reference;
    if !reference.figures.is_empty() {
        let title = format!(
            "{} against {} in this run (each at its own threshold and margin; 95% interval of the gain):",
            reference.ours, reference.theirs
        );
        print_comparisons(
            &title,
            (&reference.ours, &reference.theirs),
            &reference.figures,
        );
    }
}

/// A table of figures beside another system's, with the interval of the gain and a verdict.
fn print_comparisons(title: &str, (ours, theirs): (&str, &str), figures: &[Comparison]) {
    if figures.is_empty() {
        return;
    }
    outln!("{title}");
    let rows: Vec<Vec<String>> = figures
        .iter()
        .map(|c| {
            let auc = c.figure.ends_with("AUC");
            let f = |v: f64| if auc { format!("{v:.4}") } else { pct(v) };
            let g = |v: f64| {
                if auc {
                    format!("{v:+.4}")
                } else {
                    format!("{:+.1}", 100.0 * v)
                }
            };
            vec![
                c.figure.clone(),
                f(c.rollcall),
                f(c.anchor),
                format!("{} to {}", g(c.gain_interval.0), g(c.gain_interval.1)),
                c.verdict().to_owned(),
            ]
        })
        .collect();
    table::print(
        &["figure", ours, theirs, "gain, 95% interval", "verdict"],
        &rows,
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_set_draws_leave_out_the_anchors_third() {
        let names: Vec<String> = (0..40).map(|i| format!("id{i:02}")).collect();
        let groups: BTreeMap<&str, Vec<&str>> =
            names.iter().map(|n| (n.as_str(), vec!["a", "b"])).collect();
        let draws = open_set_draws(&groups);
        assert_eq!(draws.len(), 5);
        assert!(draws.iter().all(|d| d.len() == 27));
        // `random.Random(7).sample(sorted_ids, 13)` in CPython picks these positions first.
        for i in [20, 9, 25, 3, 4, 34] {
            assert!(!draws[0].contains(names[i].as_str()));
        }
        assert_ne!(draws[0], draws[1]);
    }

    #[test]
    fn the_mean_of_draws_averages_rates_and_counts() {
        let a = IdFigures {
            gallery: 10,
            genuine: 20,
            impostor: 4,
            correct: 0.5,
            false_accept: Some(0.25),
            ..IdFigures::default()
        };
        let b = IdFigures {
            gallery: 12,
            genuine: 22,
            impostor: 6,
            correct: 1.0,
            false_accept: Some(0.75),
            ..IdFigures::default()
        };
        let m = mean(&[a, b]);
        assert_eq!((m.gallery, m.genuine, m.impostor), (11, 21, 5));
        assert!((m.correct - 0.75).abs() < 1e-12);
        assert_eq!(m.false_accept, Some(0.5));
    }

    #[test]
    fn figures_beside_the_anchor_carry_the_uncertainty_of_the_difference() {
        let figures = |auc, accuracy, tar| PairsFigures {
            list: "pairs.csv".into(),
            pairs: 1000,
            same_pairs: 500,
            auc,
            accuracy,
            far: 0.0,
            frr: 0.0,
            best: (0.0, 0.0),
            tar_at_far_1: (tar, 0.5),
            tar_at_far_0_1: (tar, 0.4),
            eer: 0.0,
        };
        let report = SetReport {
            set: "s".into(),
            encoder: "dlib".into(),
            alignment: "shape".into(),
            images: 0,
            no_face: 0,
            multi_face: 0,
            detect_ms: 0.0,
            embed_ms: 0.0,
            threshold: 0.6,
            verification: vec![figures(0.999, 0.99, 0.90)],
            closed_set: Some(IdFigures {
                genuine: 360,
                top1: 1.0,
                wrong: 0.0,
                ..IdFigures::default()
            }),
            closed_set_margin: None,
            open_set: None,
            open_set_margin: None,
            margin: 0.16,
            against_anchor: Vec::new(),
            against_reference: Reference::default(),
        };
        let anchor = Anchor(serde_json::json!({"datasets": {"s": {
            "verification": {"pairs.csv": {"auc": 0.999, "acc_at_0_6": 0.991, "tar_at_far_1pct": 0.97}},
            "closed_set": {"top1": 0.95, "wrong_at_0_6": 0.04}
        }}}));
        let c = against_anchor(&report, &anchor);
        let find = |name: &str| c.iter().find(|x| x.figure.contains(name)).unwrap();
        // 99.0 % against 99.1 % on 1000 pairs: no difference to speak of.
        assert_eq!(find("accuracy").verdict(), "same within noise");
        assert_eq!(find("AUC").verdict(), "same within noise");
        // 90 % against 97 % of 500 same pairs: worse.
        assert_eq!(find("TAR").verdict(), "worse");
        // 100 % against 95 % top-1 on 360 probes: better.
        assert_eq!(find("top-1").verdict(), "better");
        // Fewer wrong-person marks (0 % against 4 %) is a gain: lower is better.
        let wrong = find("wrong person");
        assert!(!wrong.higher_is_better);
        assert!(wrong.gain_interval.0 > 0.0, "{wrong:?}");
        assert_eq!(wrong.verdict(), "better");
        // No open set in the report: no open-set rows.
        assert!(c.iter().all(|x| !x.figure.starts_with("open set")));
    }
}
