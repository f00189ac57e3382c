//! Which face encoder attendance uses: the bundled ones, trained models, switching, and
//! re-embedding every enrollment photo when it changes (resumable after a crash).

use anyhow::Context as _;

use crate::core::{Embedding, ModelId};
use crate::store::{EncoderRow, Store};
use crate::vision::pipeline::{BuiltinEncoder, main_face};
use crate::vision::{FaceEncoder, FacePipeline, image_io};

/// The path recorded for a bundled encoder.
fn builtin_path(id: &ModelId) -> String {
    format!("builtin:{id}")
}

/// The built-in encoder a registry row stands for, if it is one.
#[must_use]
pub fn builtin_of(row: &EncoderRow) -> Option<BuiltinEncoder> {
    row.path
        .strip_prefix("builtin:")
        .and_then(BuiltinEncoder::from_model_id)
}

/// The margin between best and second-best match recommended for a built-in encoder. Each was
/// chosen on the LFW *training* identities with `rollcall eval-classroom --split train --sweep
/// --encoder NAME` (see the README and the model cards).
#[must_use]
pub fn default_margin(encoder: BuiltinEncoder) -> f32 {
    match encoder {
        BuiltinEncoder::Dlib => DLIB_MARGIN,
        BuiltinEncoder::MobileFaceNet => crate::vision::mobilefacenet::DEFAULT_MARGIN,
    }
}

/// The margin for the bundled dlib encoder: the smallest margin with no wrong-student and no
/// stranger marks on the LFW training identities at threshold 0.6.
pub const DLIB_MARGIN: f32 = 0.16;

/// The recommended margin of the encoder that gives `id`'s embeddings: a built-in one's own,
/// else the dlib margin scaled by the threshold (a trained model's distances have their own
/// scale, and its threshold is the one measure of it we have).
#[must_use]
pub fn margin_for(id: &ModelId, threshold: f32) -> f32 {
    BuiltinEncoder::from_model_id(id.as_str()).map_or(threshold * DLIB_MARGIN / 0.6, default_margin)
}

/// Registers a built-in encoder in the store (always rewritten, so the defaults follow this
/// build of rollcall) and returns its registry row. Nothing is made active.
pub fn register_builtin(
    store: &Store,
    which: BuiltinEncoder,
    encoder: &dyn FaceEncoder,
) -> anyhow::Result<EncoderRow> {
    let id = encoder.model_id().clone();
    store.register_encoder(&EncoderRow {
        id: id.clone(),
        name: which.title().to_owned(),
        path: builtin_path(&id),
        metric: encoder.metric(),
        dim: encoder.dim(),
        default_threshold: encoder.default_threshold(),
        default_margin: default_margin(which),
        is_active: false,
    })?;
    Ok(store.encoder(&id)?)
}

/// Registers the pipeline's (built-in) encoder in the store, makes it active when no encoder
/// is active yet, and returns its registry row.
pub fn ensure_builtin(store: &Store, encoder: &dyn FaceEncoder) -> anyhow::Result<EncoderRow> {
    let which = BuiltinEncoder::from_model_id(encoder.model_id().as_str())
        .ok_or_else(|| anyhow::anyhow!("{} is not a built-in encoder", encoder.model_id()))?;
    let row = register_builtin(store, which, encoder)?;
    if store.active_encoder()?.is_none() {
        store.set_active_encoder(&row.id)?;
    }
    Ok(store.encoder(&row.id)?)
}

/// Registers every built-in encoder (so `rollcall encoders list` and the window offer them
/// all), loading each once.
pub fn register_all_builtins(store: &Store) -> anyhow::Result<Vec<EncoderRow>> {
    BuiltinEncoder::ALL
        .into_iter()
        .map(|which| register_builtin(store, which, which.load_cpu()?.as_ref()))
        .collect()
}

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
        let detections = pipeline.detect_photo(&image)?;
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

/// Makes `id_or_dir` (a registered encoder id, or a trained face model folder, registered on
/// the way) the encoder attendance uses. Re-embedding is the caller's next step.
pub fn use_encoder(store: &Store, id_or_dir: &str) -> anyhow::Result<EncoderRow> {
    let dir = std::path::Path::new(id_or_dir);
    if dir.is_dir() {
        let pipeline = FacePipeline::with_model_dir(dir)
            .with_context(|| format!("loading the model in {}", dir.display()))?;
        let e = pipeline.encoder();
        let threshold = e.default_threshold();
        let dir = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_owned());
        store.register_encoder(&EncoderRow {
            id: e.model_id().clone(),
            name: format!("trained model in {}", dir.display()),
            path: dir.display().to_string(),
            metric: e.metric(),
            dim: e.dim(),
            default_threshold: threshold,
            default_margin: margin_for(e.model_id(), threshold),
            is_active: false,
        })?;
        store.set_active_encoder(e.model_id())?;
        return Ok(store.encoder(e.model_id())?);
    }
    if let Some(which) = BuiltinEncoder::from_name(id_or_dir) {
        let row = register_builtin(store, which, which.load_cpu()?.as_ref())?;
        store.set_active_encoder(&row.id)?;
        return Ok(store.encoder(&row.id)?);
    }
    let row = store.encoder(&ModelId::new(id_or_dir))?;
    store.set_active_encoder(&row.id)?;
    Ok(store.encoder(&row.id)?)
}
