//! `rollcall encoders ...`: which face encoder attendance uses, and re-embedding every
//! enrollment photo when it changes (with progress, resumable after a crash).

use anyhow::Context as _;
use clap::Subcommand;
use indicatif::{ProgressBar, ProgressStyle};

use super::{outln, table};
use crate::core::{Embedding, ModelId};
use crate::store::{EncoderRow, Store};
use crate::vision::pipeline::main_face;
use crate::vision::{FaceEncoder, FacePipeline, image_io};

/// Encoder subcommands.
#[derive(Debug, Subcommand)]
pub enum EncoderCommand {
    /// List the registered encoders (the active one first).
    List,
    /// Make an encoder the one attendance uses, and re-embed every enrollment photo with it.
    Use {
        /// The encoder's id (see `rollcall encoders list`).
        id: String,
    },
    /// Embed the enrollment photos that have no embedding from the active encoder yet (resumes
    /// an interrupted switch).
    Reembed,
}

/// The path recorded for the bundled encoder.
fn builtin_path(id: &ModelId) -> String {
    format!("builtin:{id}")
}

/// Registers the pipeline's (bundled) encoder in the store, makes it active when no encoder is
/// active yet, and returns its registry row.
pub fn ensure_builtin(store: &Store, encoder: &dyn FaceEncoder) -> anyhow::Result<EncoderRow> {
    let id = encoder.model_id().clone();
    // Always written, so the defaults follow this build of rollcall.
    store.register_encoder(&EncoderRow {
        id: id.clone(),
        name: "dlib ResNet face encoder (bundled)".to_owned(),
        path: builtin_path(&id),
        metric: encoder.metric(),
        dim: encoder.dim(),
        default_threshold: encoder.default_threshold(),
        default_margin: DEFAULT_MARGIN,
        is_active: false,
    })?;
    if store.active_encoder()?.is_none() {
        store.set_active_encoder(&id)?;
    }
    Ok(store.encoder(&id)?)
}

/// The margin between best and second-best match recommended for the bundled encoder. Chosen
/// on the LFW *training* identities with `rollcall eval-classroom --split train --sweep`: the
/// smallest margin with no wrong-student and no stranger marks there (see the README).
pub const DEFAULT_MARGIN: f32 = 0.16;

/// What re-embedding did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReembedReport {
    /// Photos embedded now.
    pub embedded: usize,
    /// Photos in which no face was found (kept; the student is marked by hand).
    pub no_face: usize,
}

/// Embeds every enrollment photo that has no embedding from the pipeline's encoder, one
/// photo at a time (each stored at once, so a crash loses at most the photo in progress and a
/// rerun resumes). `progress(done, total)` is called after each photo.
pub fn reembed(
    store: &Store,
    pipeline: &FacePipeline,
    mut progress: impl FnMut(usize, usize),
) -> anyhow::Result<ReembedReport> {
    let model = pipeline.encoder().model_id().clone();
    let pending = store.pending_reembed(&model)?;
    let total = pending.len();
    let mut report = ReembedReport::default();
    for (i, item) in pending.into_iter().enumerate() {
        let image = image_io::decode_rgb(&item.photo)
            .with_context(|| format!("reading the photo of student #{}", item.student))?;
        let detections = pipeline.detect(&image)?;
        match main_face(&detections, image.width(), image.height()) {
            Some(face) => {
                let faces = pipeline.analyze_detections(&image, std::slice::from_ref(face))?;
                if let Some(f) = faces.into_iter().next() {
                    store.put_embedding(
                        item.student,
                        &Embedding::new(model.clone(), f.embedding.values)?,
                    )?;
                    report.embedded += 1;
                }
            }
            None => report.no_face += 1,
        }
        progress(i + 1, total);
    }
    Ok(report)
}

/// Runs an encoder subcommand.
pub fn run(store: &Store, command: &EncoderCommand) -> anyhow::Result<()> {
    match command {
        EncoderCommand::List => {
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
                        e.path.clone(),
                    ]
                })
                .collect();
            if rows.is_empty() {
                outln!(
                    "No encoder registered yet: the bundled dlib encoder is registered when the first photo is enrolled"
                );
                return Ok(());
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
                    "path",
                ],
                &rows,
            );
        }
        EncoderCommand::Use { id } => {
            let row = store.encoder(&ModelId::new(id.as_str()))?;
            anyhow::ensure!(
                row.path.starts_with("builtin:"),
                "encoder {id} is a trained model; load it with `rollcall encoders use` after training support lands"
            );
            store.set_active_encoder(&row.id)?;
            outln!("Attendance now uses {}", row.id);
            reembed_with_bar(store)?;
        }
        EncoderCommand::Reembed => reembed_with_bar(store)?,
    }
    Ok(())
}

fn reembed_with_bar(store: &Store) -> anyhow::Result<()> {
    let pipeline = FacePipeline::bundled()?;
    ensure_builtin(store, pipeline.encoder())?;
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
