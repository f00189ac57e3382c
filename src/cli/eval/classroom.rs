//! `rollcall eval-classroom`: a scripted classroom built from held-out identities. Each trial
//! enrols some people with their first photo, then replays their other photos, and photos of
//! people never enrolled, as camera scenes (several faces per frame, each held for a few
//! frames, like students sitting still), through the real roll-call rules. It counts the
//! students marked, wrong-student marks, strangers marked, and faces sent to review.

use std::collections::{BTreeMap, HashSet};

use clap::Args;

use super::data::{Dataset, EmbeddedSet, by_identity};
use super::{AlignmentArg, EvalFacesArgs};
use crate::cli::{outln, table};
use crate::core::decision::DecisionRule;
use crate::core::rollcall::{FaceInput, RollCall, RollCallConfig};
use crate::core::tracker::TrackerConfig;
use crate::core::{BBox, Embedding, Gallery, Metric, ModelId, Ranking, StudentId};

/// Arguments of `rollcall eval-classroom`.
#[derive(Debug, Args)]
pub struct ClassroomArgs {
    /// The folder of face sets, e.g. ../shared/data/faces.
    #[arg(long)]
    pub data: std::path::PathBuf,
    /// The set to build classrooms from.
    #[arg(long, default_value = "lfw")]
    pub set: String,
    /// Use the identities of this split of the set's manifest ("test" for the report, "train"
    /// for choosing settings).
    #[arg(long, default_value = "test")]
    pub split: String,
    /// Enrolled students per classroom.
    #[arg(long, default_value_t = 30)]
    pub students: usize,
    /// People who walk in but were never enrolled.
    #[arg(long, default_value_t = 10)]
    pub strangers: usize,
    /// Classrooms to simulate.
    #[arg(long, default_value_t = 20)]
    pub trials: usize,
    /// Faces visible at once in a frame.
    #[arg(long, default_value_t = 4)]
    pub faces_per_frame: usize,
    /// Frames each scene is held for.
    #[arg(long, default_value_t = 5)]
    pub frames_per_scene: usize,
    /// Distance threshold (default: the encoder's).
    #[arg(long)]
    pub threshold: Option<f32>,
    /// Margin over the runner-up (default: the encoder's).
    #[arg(long)]
    pub margin: Option<f32>,
    /// Votes needed, of the window.
    #[arg(long, default_value_t = 3)]
    pub frames_to_confirm: usize,
    /// Window of recent frames.
    #[arg(long, default_value_t = 5)]
    pub window: usize,
    /// Also print a sweep over thresholds and margins.
    #[arg(long)]
    pub sweep: bool,
    /// Print every wrong-student and stranger mark (who it was, who it was taken for).
    #[arg(long)]
    pub explain: bool,
    /// Evaluate a trained face model folder instead of a built-in encoder.
    #[arg(long, value_name = "DIR")]
    pub model: Option<std::path::PathBuf>,
    /// The encoder: `mobilefacenet`, `dlib`, or `fusion` (the two together, as in
    /// `eval-faces`).
    #[arg(long, default_value = "mobilefacenet")]
    pub encoder: String,
    /// The thresholds of the sweep (default: 0.83–1.03 times the threshold in force).
    #[arg(long, value_delimiter = ',')]
    pub sweep_thresholds: Vec<f32>,
    /// The margins of the sweep (default: 0–1.25 times the margin in force).
    #[arg(long, value_delimiter = ',')]
    pub sweep_margins: Vec<f32>,
    /// Random seed of the classrooms.
    #[arg(long, default_value_t = 2026)]
    pub seed: u64,
    /// Where embeddings are cached (shared with eval-faces).
    #[arg(long, default_value = "target/eval-cache")]
    pub cache: std::path::PathBuf,
}

/// Totals over the simulated classrooms.
#[derive(Clone, Copy, Debug, Default, PartialEq, serde::Serialize)]
pub struct ClassroomTotals {
    /// Enrolled students who appeared (all of them appear).
    pub present: usize,
    /// Of those, marked as themselves.
    pub marked: usize,
    /// Marks given to the wrong enrolled student.
    pub wrong: usize,
    /// Marks caused by a stranger's face.
    pub strangers_marked: usize,
    /// Tracks sent to the review queue.
    pub reviews: usize,
    /// Strangers who appeared.
    pub strangers: usize,
    /// Present students not marked whose best face was under the threshold but not clear of
    /// the runner-up by the margin (sent to review).
    pub missed_margin: usize,
    /// Present students not marked whose best face was nearest to them but farther than the
    /// threshold.
    pub missed_threshold: usize,
    /// Present students not marked whose every face was nearer to another student.
    pub missed_nearer_other: usize,
}

/// Why a present student's face was not enough to mark them, closest to a mark first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Shortfall {
    SmallMargin,
    OverThreshold,
    NearerToAnother,
}

/// Runs `rollcall eval-classroom`.
#[allow(clippy::too_many_lines)] // the evaluation in its order: load, embed, simulate, print
pub fn run(args: &ClassroomArgs) -> anyhow::Result<()> {
    let [encoder] = super::parse_eval_encoders(std::slice::from_ref(&args.encoder))?[..] else {
        anyhow::bail!("name one encoder");
    };
    let mut set = Dataset::load(&args.data, &args.set)?;
    let manifest = csv_split(&args.data, &args.set)?;
    set.items
        .retain(|i| manifest.get(&i.path).is_some_and(|s| *s == args.split));
    anyhow::ensure!(
        !set.items.is_empty(),
        "no images of the {:?} split in {}",
        args.split,
        args.set
    );
    let eval_args = EvalFacesArgs {
        data: args.data.clone(),
        sets: vec![args.set.clone()],
        encoder: vec![args.encoder.clone()],
        alignment: vec![AlignmentArg::Shape],
        pairs_only: false,
        limit_pairs: None,
        threshold: args.threshold,
        margin: args.margin,
        model: args.model.clone(),
        cache: args.cache.clone(),
        anchor: None,
        json: false,
    };
    let measured = match encoder {
        super::EvalEncoder::Builtin(b) => {
            super::measure_builtin(&eval_args, b, AlignmentArg::Shape, &set)?
        }
        super::EvalEncoder::Fusion => super::measure_fusion(&eval_args, &set)?,
    };
    let (threshold, margin, embedded) = (measured.threshold, measured.margin, measured.embedded);
    outln!(
        "Encoder {} at threshold {threshold:.3}, margin {margin:.3}",
        args.model
            .as_ref()
            .map_or_else(|| encoder.name().to_owned(), |d| d.display().to_string())
    );
    let groups = by_identity(&set.items, &embedded.vectors);
    let students: Vec<&str> = groups
        .iter()
        .filter(|(_, g)| g.len() >= 2)
        .map(|(k, _)| *k)
        .collect();
    let everyone: Vec<&str> = groups.keys().copied().collect();
    anyhow::ensure!(
        students.len() >= args.students,
        "only {} identities have two photos or more",
        students.len()
    );
    outln!(
        "Scripted classrooms from {} ({} split): {} trials of {} enrolled students (first photo) + {} strangers; {} faces per frame, each held {} frames",
        args.set,
        args.split,
        args.trials,
        args.students,
        args.strangers,
        args.faces_per_frame,
        args.frames_per_scene
    );
    let rule = |t: f32, m: f32| DecisionRule {
        max_distance: t,
        min_margin: m,
        frames_to_confirm: args.frames_to_confirm,
        window_frames: args.window,
    };
    let totals = simulate(
        args,
        &groups,
        &embedded,
        &students,
        &everyone,
        rule(threshold, margin),
    );
    print_totals(&[(threshold, margin, totals)]);
    let missed = totals.present - totals.marked;
    outln!(
        "Present students not marked: {missed}. Their closest face was: under the threshold but within the margin of the runner-up (sent to review) for {}, theirs but farther than the threshold for {}, nearer to another student for {}{}.",
        totals.missed_margin,
        totals.missed_threshold,
        totals.missed_nearer_other,
        match missed - totals.missed_margin - totals.missed_threshold - totals.missed_nearer_other {
            0 => String::new(),
            n => format!(
                ", clear of both for {n} (held back by the frame votes or another face in the frame)"
            ),
        }
    );
    if args.sweep {
        let mut rows = Vec::new();
        // Around the chosen settings (for the bundled encoder: thresholds 0.50–0.62, margins
        // 0–0.20), so the sweep fits any encoder's distance scale.
        let thresholds = if args.sweep_thresholds.is_empty() {
            [0.5 / 0.6, 0.55 / 0.6, 0.58 / 0.6, 1.0, 0.62 / 0.6]
                .map(|f| f * threshold)
                .to_vec()
        } else {
            args.sweep_thresholds.clone()
        };
        let margins = if args.sweep_margins.is_empty() {
            [0.0, 0.25, 0.5, 0.75, 1.0, 1.25]
                .map(|f| f * margin)
                .to_vec()
        } else {
            args.sweep_margins.clone()
        };
        for &t in &thresholds {
            for &m in &margins {
                rows.push((
                    t,
                    m,
                    simulate(args, &groups, &embedded, &students, &everyone, rule(t, m)),
                ));
            }
        }
        outln!("\nSweep:");
        print_totals(&rows);
    }
    Ok(())
}

fn print_totals(rows: &[(f32, f32, ClassroomTotals)]) {
    let pct = |a: usize, b: usize| {
        if b == 0 {
            "–".to_owned()
        } else {
            format!("{:.1}%", 100.0 * a as f64 / b as f64)
        }
    };
    let rows: Vec<Vec<String>> = rows
        .iter()
        .map(|(t, m, c)| {
            vec![
                format!("{t:.2}"),
                format!("{m:.2}"),
                format!(
                    "{} / {} ({})",
                    c.marked,
                    c.present,
                    pct(c.marked, c.present)
                ),
                c.wrong.to_string(),
                format!("{} of {}", c.strangers_marked, c.strangers),
                c.reviews.to_string(),
            ]
        })
        .collect();
    table::print(
        &[
            "threshold",
            "margin",
            "present students marked",
            "wrong-student marks",
            "strangers marked",
            "sent to review",
        ],
        &rows,
    );
}

#[allow(clippy::too_many_lines)] // one simulated lesson loop whose counters every step updates
fn simulate(
    args: &ClassroomArgs,
    groups: &BTreeMap<&str, Vec<&str>>,
    emb: &EmbeddedSet,
    students: &[&str],
    everyone: &[&str],
    rule: DecisionRule,
) -> ClassroomTotals {
    let model = ModelId::new("eval");
    // The gallery takes the embeddings' own size (dlib's 128, MobileFaceNet's 192, a fusion's
    // 320, a trained model's).
    let dim = emb.vectors.values().next().map_or(0, Vec::len);
    let mut rng = crate::core::rng::SplitMix64(args.seed);
    let mut totals = ClassroomTotals::default();
    for _ in 0..args.trials {
        let mut pool = students.to_vec();
        rng.shuffle(&mut pool);
        let enrolled: Vec<&str> = pool.iter().take(args.students).copied().collect();
        let enrolled_set: HashSet<&str> = enrolled.iter().copied().collect();
        let mut others: Vec<&str> = everyone
            .iter()
            .filter(|k| !enrolled_set.contains(*k))
            .copied()
            .collect();
        rng.shuffle(&mut others);
        let strangers: Vec<&str> = others.into_iter().take(args.strangers).collect();
        let mut gallery = Gallery::new(model.clone(), Metric::Euclidean, dim);
        let mut who: BTreeMap<StudentId, &str> = BTreeMap::new();
        for (i, k) in enrolled.iter().enumerate() {
            let Some(v) = groups
                .get(k)
                .and_then(|g| g.first())
                .and_then(|p| emb.vectors.get(*p))
            else {
                continue;
            };
            let Ok(e) = Embedding::new(model.clone(), v.clone()) else {
                continue;
            };
            if gallery.insert(StudentId(i as i64), &e).is_ok() {
                who.insert(StudentId(i as i64), k);
            }
        }
        // Every probe photo with its true identity, shuffled into scenes.
        let mut probes: Vec<(&str, &Vec<f32>)> = Vec::new();
        for k in enrolled.iter().chain(strangers.iter()) {
            let Some(g) = groups.get(k) else { continue };
            let skip = usize::from(enrolled_set.contains(k));
            probes.extend(
                g.iter()
                    .skip(skip)
                    .filter_map(|p| emb.vectors.get(*p).map(|v| (*k, v))),
            );
        }
        rng.shuffle(&mut probes);
        let config = RollCallConfig {
            rule,
            tracker: TrackerConfig::default(),
            late_after_minutes: 60,
        };
        let mut engine = RollCall::new(config, 0, []);
        let mut marked: HashSet<StudentId> = HashSet::new();
        let mut marked_right: HashSet<&str> = HashSet::new();
        // The best (smallest) shortfall of each present student's faces.
        let mut shortfall: BTreeMap<&str, Shortfall> = BTreeMap::new();
        let mut t = 0i64;
        for scene in probes.chunks(args.faces_per_frame.max(1)) {
            let faces: Vec<FaceInput> = scene
                .iter()
                .enumerate()
                .map(|(slot, (_, v))| FaceInput {
                    bbox: BBox::new(slot as f32 * 300.0, 100.0, 150.0, 150.0),
                    ranking: Embedding::new(model.clone(), (*v).clone())
                        .ok()
                        .and_then(|e| gallery.rank(&e).ok().flatten()),
                    fresh: true,
                })
                .collect();
            for ((truth, _), face) in scene.iter().zip(&faces) {
                if !enrolled_set.contains(truth) {
                    continue;
                }
                let Some(best) = face.ranking.as_ref().and_then(Ranking::best) else {
                    continue;
                };
                let margin_here = face
                    .ranking
                    .as_ref()
                    .and_then(Ranking::runner_up)
                    .map_or(f32::INFINITY, |r| r.distance - best.distance);
                let s = if who.get(&best.student) != Some(truth) {
                    Shortfall::NearerToAnother
                } else if best.distance > rule.max_distance {
                    Shortfall::OverThreshold
                } else if margin_here < rule.min_margin {
                    Shortfall::SmallMargin
                } else {
                    continue;
                };
                let e = shortfall.entry(*truth).or_insert(s);
                *e = (*e).min(s);
            }
            for _ in 0..args.frames_per_scene {
                let report = engine.observe(t, &faces);
                for m in &report.new_marks {
                    let truth = scene.get(m.face_index).map(|(k, _)| *k);
                    let claimed = who.get(&m.student).copied();
                    marked.insert(m.student);
                    let wrong = truth.is_some_and(|k| Some(k) != claimed);
                    if wrong && args.explain {
                        outln!(
                            "  {} {} marked as {} (distance {:.3}, margin {:.3})",
                            if truth.is_some_and(|k| enrolled_set.contains(k)) {
                                "student"
                            } else {
                                "stranger"
                            },
                            truth.unwrap_or("?"),
                            claimed.unwrap_or("?"),
                            m.evidence.distance,
                            m.evidence.margin
                        );
                    }
                    match truth {
                        Some(k) if !enrolled_set.contains(k) => totals.strangers_marked += 1,
                        Some(k) if Some(k) != claimed => totals.wrong += 1,
                        _ => {
                            totals.marked += 1;
                            if let Some(k) = truth {
                                marked_right.insert(k);
                            }
                        }
                    }
                }
                totals.reviews += report.reviews.len();
                t += 100;
            }
            // A gap ends the scene's tracks.
            t += 5_000;
        }
        totals.present += who.len();
        totals.strangers += strangers.len();
        for k in who.values().filter(|k| !marked_right.contains(*k)) {
            match shortfall.get(k) {
                Some(Shortfall::SmallMargin) => totals.missed_margin += 1,
                Some(Shortfall::OverThreshold) => totals.missed_threshold += 1,
                Some(Shortfall::NearerToAnother) => totals.missed_nearer_other += 1,
                None => {}
            }
        }
    }
    totals
}

/// Path -> split, from the set's manifest.
fn csv_split(
    root: &std::path::Path,
    set: &str,
) -> anyhow::Result<std::collections::HashMap<String, String>> {
    let mut rdr = csv::Reader::from_path(root.join(set).join("manifest.csv"))?;
    let headers = rdr.headers()?.clone();
    let (Some(pi), Some(si)) = (
        headers.iter().position(|h| h == "path"),
        headers.iter().position(|h| h == "split"),
    ) else {
        anyhow::bail!("the manifest of {set} has no path/split columns");
    };
    let mut out = std::collections::HashMap::new();
    for rec in rdr.records() {
        let rec = rec?;
        out.insert(
            rec.get(pi).unwrap_or_default().to_owned(),
            rec.get(si).unwrap_or_default().to_owned(),
        );
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        args: ClassroomArgs,
    }

    /// A 192-D vector (MobileFaceNet's size; the simulation once took only dlib's 128): 1
    /// along `axis`, plus `(axis, value)` offsets.
    fn v(axis: usize, extra: &[(usize, f32)]) -> Vec<f32> {
        let mut out = vec![0.0; 192];
        out[axis] = 1.0;
        for &(i, x) in extra {
            out[i] += x;
        }
        out
    }

    #[test]
    fn a_classroom_counts_marks_and_says_why_the_others_were_missed() {
        let photos: [(&str, &str, Vec<f32>); 11] = [
            // A: a second photo close to the first: marked.
            ("a", "a/0", v(0, &[])),
            ("a", "a/1", v(0, &[(10, 0.1)])),
            // B: the second photo is B's nearest but 0.8 away: over the threshold.
            ("b", "b/0", v(1, &[])),
            ("b", "b/1", v(1, &[(11, 0.8)])),
            // C and D look alike (0.3 apart). C's second photo is nearly as close to D: too
            // small a margin. D's second photo is clearly D's: marked.
            ("c", "c/0", v(2, &[])),
            ("c", "c/1", v(2, &[(12, 0.14), (13, 0.05)])),
            ("d", "d/0", v(2, &[(12, 0.3)])),
            ("d", "d/1", v(2, &[(12, 0.3), (14, 0.05)])),
            // E's second photo is nearer to A than to E (0.7, over the threshold).
            ("e", "e/0", v(4, &[])),
            ("e", "e/1", v(0, &[(16, 0.7)])),
            // A stranger with one photo, far from everybody.
            ("s", "s/0", v(5, &[])),
        ];
        let mut emb = EmbeddedSet::default();
        let mut groups: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for (who, path, vector) in &photos {
            emb.vectors.insert((*path).to_owned(), vector.clone());
            groups.entry(who).or_default().push(path);
        }
        let students = ["a", "b", "c", "d", "e"];
        let everyone = ["a", "b", "c", "d", "e", "s"];
        let cli = Cli::parse_from([
            "eval-classroom",
            "--data",
            "unused",
            "--students",
            "5",
            "--strangers",
            "1",
            "--trials",
            "3",
        ]);
        let rule = DecisionRule {
            max_distance: 0.6,
            min_margin: 0.16,
            frames_to_confirm: 3,
            window_frames: 5,
        };
        let t = simulate(&cli.args, &groups, &emb, &students, &everyone, rule);
        // Three classrooms of the same five students and the one stranger.
        assert_eq!((t.present, t.strangers), (15, 3));
        assert_eq!((t.marked, t.wrong, t.strangers_marked), (6, 0, 0), "{t:?}");
        assert_eq!(
            (t.missed_margin, t.missed_threshold, t.missed_nearer_other),
            (3, 3, 3),
            "{t:?}"
        );
        // C's doubtful face goes to review once per classroom.
        assert_eq!(t.reviews, 3, "{t:?}");
        // Without the margin rule C is marked too, and nobody else changes.
        let loose = simulate(
            &cli.args,
            &groups,
            &emb,
            &students,
            &everyone,
            DecisionRule {
                min_margin: 0.0,
                ..rule
            },
        );
        assert_eq!((loose.marked, loose.missed_margin), (9, 0), "{loose:?}");
    }
}
