//! `rollcall encoders ...`: which face encoder attendance uses, and re-embedding every
//! enrollment photo when it changes (with progress, resumable after a crash).

use clap::Subcommand;
use indicatif::{ProgressBar, ProgressStyle};

use super::{outln, table};
use crate::store::Store;
use crate::vision::pipeline::BuiltinEncoder;
use crate::workflow::encoders::{builtin_of, reembed, register_all_builtins, use_encoder};

/// Encoder subcommands.
#[derive(Debug, Subcommand)]
pub enum EncoderCommand {
    /// List the encoders (the built-in ones and any trained model registered; the active one
    /// is starred).
    List,
    /// Make an encoder the one attendance uses, and re-embed every enrollment photo with it.
    Use {
        /// A built-in encoder (`mobilefacenet`, `dlib`), an encoder id (see `rollcall encoders
        /// list`), or a trained face model's folder.
        id: String,
    },
    /// Embed the enrollment photos that have no embedding from the active encoder yet (resumes
    /// an interrupted switch).
    Reembed,
}

/// Runs an encoder subcommand.
pub fn run(store: &Store, command: &EncoderCommand) -> anyhow::Result<()> {
    match command {
        EncoderCommand::List => {
            register_all_builtins(store)?;
            let rows: Vec<Vec<String>> = store
                .list_encoders()?
                .iter()
                .map(|e| {
                    vec![
                        if e.is_active { "*" } else { "" }.to_owned(),
                        e.id.to_string(),
                        e.name.clone(),
                        e.metric.to_string(),
                        e.dim.to_string(),
                        format!("{:.3}", e.default_threshold),
                        format!("{:.3}", e.default_margin),
                        builtin_of(e).map_or_else(String::new, |b| b.measured().to_owned()),
                        e.path.clone(),
                    ]
                })
                .collect();
            if store.active_encoder()?.is_none() {
                outln!(
                    "No encoder is active yet: the first enrolled photo makes {} the one attendance uses",
                    BuiltinEncoder::MobileFaceNet.name()
                );
            }
            table::print(
                &[
                    "active",
                    "id",
                    "name",
                    "metric",
                    "dim",
                    "threshold",
                    "margin",
                    "measured (rollcall eval-faces)",
                    "path",
                ],
                &rows,
            );
        }
        EncoderCommand::Use { id } => {
            let before = store.active_encoder()?;
            let row = use_encoder(store, id)?;
            outln!("Attendance now uses {} ({})", row.id, row.name);
            if let Some(before) = before.filter(|b| b.id != row.id) {
                outln!(
                    "Embeddings of {} are kept: switching back needs no re-embedding",
                    before.id
                );
            }
            reembed_with_bar(store)?;
        }
        EncoderCommand::Reembed => reembed_with_bar(store)?,
    }
    Ok(())
}

fn reembed_with_bar(store: &Store) -> anyhow::Result<()> {
    let pipeline = crate::workflow::enroll::pipeline_for(store)?;
    let bar = ProgressBar::new(0);
    bar.set_style(
        ProgressStyle::with_template("re-embedding {bar:30} {pos}/{len} {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let report = reembed(store, &pipeline, |done, total| {
        bar.set_length(total as u64);
        bar.set_position(done as u64);
    })?;
    bar.finish_and_clear();
    outln!(
        "Embedded {} photo(s){}",
        report.embedded,
        if report.no_face > 0 {
            format!("; no face found in {}", report.no_face)
        } else {
            String::new()
        }
    );
    Ok(())
}
