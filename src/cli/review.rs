//! `rollcall review ...` and `rollcall calibrate`.

use clap::{Args, Subcommand};

use super::{outln, table};
use crate::core::calibration::{WhatIf, calibrate, what_if};
use crate::core::{ReviewId, SessionId};
use crate::store::Store;
use crate::workflow::local_time;

/// Review-queue subcommands.
#[derive(Debug, Subcommand)]
pub enum ReviewCommand {
    /// List the faces waiting for a decision.
    List {
        /// Only this session.
        #[arg(long)]
        session: Option<i64>,
    },
    /// Accept a face: the candidate (or --student) is marked.
    Accept {
        /// The review id.
        id: i64,
        /// The student it really is, when not the candidate (id, school number or name).
        #[arg(long)]
        student: Option<String>,
    },
    /// Reject a face: nobody is marked.
    Reject {
        /// The review id.
        id: i64,
    },
}

/// Arguments of `rollcall calibrate`.
#[derive(Debug, Args)]
pub struct CalibrateArgs {
    /// The class (name or id).
    #[arg(long)]
    class: String,
    /// The false-accept rate the suggested threshold aims for.
    #[arg(long, default_value_t = 0.0)]
    target_far: f64,
    /// Preview how the recorded sessions would have gone with this threshold: which automatic
    /// marks would have gone to review, and which reviewed faces would have been marked.
    #[arg(long, value_name = "THRESHOLD")]
    what_if: Option<f32>,
    /// The margin for the preview (default: the margin in force).
    #[arg(long, value_name = "MARGIN", requires = "what_if")]
    what_if_margin: Option<f32>,
    /// Preview only this session (default: every session of the class).
    #[arg(long, requires = "what_if")]
    session: Option<i64>,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

/// Runs a review subcommand.
pub fn run_review(store: &Store, command: ReviewCommand) -> anyhow::Result<()> {
    match command {
        ReviewCommand::List { session } => {
            let rows = store.pending_reviews(session.map(crate::core::SessionId))?;
            if rows.is_empty() {
                outln!("No faces are waiting for review");
                return Ok(());
            }
            let f = |v: Option<f32>| v.map(|v| format!("{v:.3}")).unwrap_or_default();
            let rows: Vec<Vec<String>> = rows
                .iter()
                .map(|r| {
                    vec![
                        r.id.to_string(),
                        r.session.to_string(),
                        local_time(r.frame_ms),
                        r.candidate_name.clone().unwrap_or_default(),
                        f(r.score),
                        r.runner_up_name.clone().unwrap_or_default(),
                        f(r.runner_up_score),
                        r.reason.replace('_', " "),
                    ]
                })
                .collect();
            table::print(
                &[
                    "id",
                    "session",
                    "time",
                    "candidate",
                    "distance",
                    "runner-up",
                    "distance",
                    "reason",
                ],
                &rows,
            );
        }
        ReviewCommand::Accept { id, student } => {
            let r = store.review(ReviewId(id))?;
            let class = store.session(r.session)?.class_id;
            let who = student
                .map(|s| store.find_student(&s, Some(class)))
                .transpose()?;
            let outcome = store.accept_review(ReviewId(id), who.as_ref().map(|s| s.id))?;
            let name = who
                .map(|s| s.display_name)
                .or(r.candidate_name)
                .unwrap_or_default();
            match outcome {
                crate::store::RecordOutcome::Marked => {
                    outln!("Accepted review #{id}: {name} is marked");
                }
                crate::store::RecordOutcome::AlreadyMarked(s) => {
                    outln!("Accepted review #{id}: {name} was already marked {s}");
                }
            }
        }
        ReviewCommand::Reject { id } => {
            store.reject_review(ReviewId(id))?;
            outln!("Rejected review #{id}: nobody was marked");
        }
    }
    Ok(())
}

/// Runs `rollcall calibrate`.
#[allow(clippy::too_many_lines)] // the calibration report printed top to bottom
pub fn run_calibrate(store: &Store, args: &CalibrateArgs) -> anyhow::Result<()> {
    let class = store.find_class(&args.class)?;
    let Some(encoder) = store.active_encoder()? else {
        anyhow::bail!("no face encoder is active yet: enroll students with photos first");
    };
    let (gallery, missing) =
        store.class_gallery(class.id, &encoder.id, encoder.metric, encoder.dim)?;
    let point = store.operating_point(&class, &encoder)?;
    let (threshold, margin) = (point.threshold, point.margin);
    let genuine = store.genuine_distances(class.id, &encoder.id)?;
    let c = calibrate(
        &gallery.pairwise_distances(),
        &genuine,
        threshold,
        margin,
        args.target_far,
        encoder.default_threshold,
    );
    let preview = match args.what_if {
        Some(t) => {
            let m = args.what_if_margin.unwrap_or(margin);
            anyhow::ensure!(
                t.is_finite() && t > 0.0 && m.is_finite() && m >= 0.0,
                "the what-if threshold must be above zero and the margin zero or more"
            );
            let session = args
                .session
                .map(|id| store.session_in_class(SessionId(id), &class))
                .transpose()?;
            let records =
                store.recorded_matches(class.id, &encoder.id, session.as_ref().map(|s| s.id))?;
            Some(what_if(&records, t, m))
        }
        None => None,
    };
    if args.json {
        #[derive(serde::Serialize)]
        struct Report<'a> {
            #[serde(flatten)]
            calibration: &'a crate::core::calibration::Calibration,
            #[serde(skip_serializing_if = "Option::is_none")]
            what_if: Option<&'a WhatIf>,
        }
        let report = Report {
            calibration: &c,
            what_if: preview.as_ref(),
        };
        outln!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(());
    }
    let pct = |v: Option<f64>| v.map_or_else(|| "n/a".to_owned(), |v| format!("{:.2}%", 100.0 * v));
    outln!(
        "Class {}: {} enrolled with {} ({} without an embedding)",
        class.name,
        gallery.len(),
        encoder.id,
        missing
    );
    outln!(
        "Threshold {threshold:.3} ({}), margin {margin:.3}",
        if class.threshold_override.is_some() {
            "class override"
        } else {
            "encoder default"
        }
    );
    outln!(
        "Impostor pairs (enrolled students compared with each other): {}",
        c.impostor_pairs
    );
    outln!("Genuine distances (confirmed marks): {}", c.genuine_count);
    outln!(
        "False-accept rate at the threshold: {}",
        pct(c.false_accept_rate)
    );
    outln!(
        "False-reject rate at the threshold: {}",
        pct(c.false_reject_rate)
    );
    if let Some(t) = c.suggested_threshold {
        outln!(
            "Suggested threshold for a false-accept rate of at most {:.2}% among the enrolled students: {t:.3} (false-reject rate there: {})",
            100.0 * args.target_far,
            pct(c.false_reject_rate_at_suggestion)
        );
        if t >= encoder.default_threshold {
            outln!(
                "That is the encoder's default: never suggested higher, as strangers are not in the class's own data"
            );
        } else {
            outln!(
                "Apply it with: rollcall class set {} --threshold {t:.3}",
                class.name
            );
        }
    }
    if c.look_alikes.is_empty() {
        outln!(
            "No look-alike pairs: every pair of students is farther apart than threshold + margin"
        );
    } else {
        outln!("Look-alike pairs that need your attention (closer than threshold + margin):");
        let name = |id| {
            store
                .student(id)
                .map_or_else(|_| format!("#{id}"), |s| s.display_name)
        };
        let rows: Vec<Vec<String>> = c
            .look_alikes
            .iter()
            .map(|l| {
                vec![
                    name(l.a),
                    name(l.b),
                    format!("{:.3}", l.distance),
                    if l.under_threshold {
                        "under the threshold"
                    } else {
                        "within the margin"
                    }
                    .to_owned(),
                ]
            })
            .collect();
        table::print(&["student", "student", "distance", "risk"], &rows);
    }
    if let Some(w) = &preview {
        print_what_if(w, threshold, margin);
    }
    Ok(())
}

fn print_what_if(w: &WhatIf, threshold: f32, margin: f32) {
    outln!(
        "\nWhat if the threshold were {:.3} and the margin {:.3} (now {threshold:.3} and {margin:.3})?",
        w.threshold,
        w.margin
    );
    if w.sessions == 0 {
        outln!("No session of this class has recorded matches with this encoder yet.");
        return;
    }
    outln!(
        "In {} session(s) with recorded matches (students per session):",
        w.sessions
    );
    let rows = [
        ["marked by the camera".to_owned(), w.auto_marks.to_string()],
        ["  still marked".to_owned(), w.kept.to_string()],
        [
            "  sent to review instead (margin)".to_owned(),
            w.to_review.to_string(),
        ],
        [
            "  not recognised (over the threshold)".to_owned(),
            w.unrecognised.to_string(),
        ],
        [
            "sent to review, would be marked: you confirmed them".to_owned(),
            w.gained_confirmed.to_string(),
        ],
        [
            "sent to review, would be marked: you decided against (wrong marks)".to_owned(),
            w.gained_wrong.to_string(),
        ],
        [
            "sent to review, would be marked: not reviewed yet".to_owned(),
            w.gained_unreviewed.to_string(),
        ],
    ];
    table::print(&["", "students"], &rows.map(Vec::from));
    outln!(
        "An estimate: the frame-vote rule is not replayed, and faces farther than the threshold in force at the time were not recorded, so a higher threshold may mark more than this shows."
    );
}
