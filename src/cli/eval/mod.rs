//! `rollcall eval-faces`: the face pipeline measured on identity-labelled photo sets (the
//! layout of `../shared/data/faces`: `manifest.csv`, `pairs*.csv`), with the protocol of the
//! `dlib`/`face_recognition` anchor so the figures sit side by side.

pub mod classroom;
mod data;
mod report;

use std::path::PathBuf;

use clap::{Args, ValueEnum};

use super::outln;
use crate::vision::pipeline::BuiltinEncoder;
use crate::vision::{Alignment, FacePipeline, PipelineConfig};

pub use data::Dataset;

/// Alignment choices on the command line.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum AlignmentArg {
    /// dlib's 5-point shape predictor inside the detector's box, fitted onto the encoder's
    /// chip template.
    Shape,
    /// MTCNN's landmarks fitted onto the encoder's chip template.
    Landmarks,
}

impl From<AlignmentArg> for Alignment {
    fn from(a: AlignmentArg) -> Self {
        match a {
            AlignmentArg::Shape => Self::ShapePredictor,
            AlignmentArg::Landmarks => Self::Landmarks,
        }
    }
}

/// An encoder the evaluation commands measure: a built-in one, or the fusion of MobileFaceNet
/// and dlib (each distance relative to its encoder's threshold; see [`data::fuse`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EvalEncoder {
    /// A built-in encoder.
    Builtin(BuiltinEncoder),
    /// MobileFaceNet and dlib together.
    Fusion,
}

impl EvalEncoder {
    /// The name on the command line and in reports.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Builtin(b) => b.name(),
            Self::Fusion => "fusion",
        }
    }
}

/// The encoders named on the command line (`mobilefacenet,dlib,fusion`).
pub fn parse_eval_encoders(names: &[String]) -> anyhow::Result<Vec<EvalEncoder>> {
    names
        .iter()
        .map(|n| {
            if n.trim().eq_ignore_ascii_case("fusion") {
                Ok(EvalEncoder::Fusion)
            } else {
                Ok(EvalEncoder::Builtin(
                    parse_encoders(std::slice::from_ref(n))?[0],
                ))
            }
        })
        .collect()
}

/// An embedded set with the threshold and margin it is measured at.
struct Measured {
    embedded: data::EmbeddedSet,
    alignment: String,
    threshold: f32,
    margin: f32,
}

/// Embeds `dataset` with a built-in encoder (or a trained model when `--model` is given) at
/// the given alignment: the embeddings and the encoder's threshold and margin (or those given).
fn measure_builtin(
    args: &EvalFacesArgs,
    encoder: BuiltinEncoder,
    alignment: AlignmentArg,
    dataset: &Dataset,
) -> anyhow::Result<Measured> {
    let config = PipelineConfig {
        alignment: alignment.into(),
        ..PipelineConfig::default()
    };
    let pipeline = pipeline(args.model.as_deref(), encoder, config)?;
    let e = pipeline.encoder();
    let threshold = args.threshold.unwrap_or_else(|| e.default_threshold());
    let margin = args.margin.unwrap_or_else(|| {
        crate::workflow::encoders::margin_for(e.model_id(), e.default_threshold())
    });
    Ok(Measured {
        embedded: data::embed(&pipeline, dataset, args, alignment)?,
        alignment: format!("{alignment:?}").to_lowercase(),
        threshold,
        margin,
    })
}

/// MobileFaceNet and dlib (shape-predictor chips) fused, at threshold 1 (both encoders at
/// their own threshold) and the mean of their margins relative to their thresholds.
fn measure_fusion(args: &EvalFacesArgs, dataset: &Dataset) -> anyhow::Result<Measured> {
    let plain = EvalFacesArgs {
        threshold: None,
        margin: None,
        model: None,
        ..args.clone()
    };
    let a = measure_builtin(
        &plain,
        BuiltinEncoder::MobileFaceNet,
        AlignmentArg::Shape,
        dataset,
    )?;
    let b = measure_builtin(&plain, BuiltinEncoder::Dlib, AlignmentArg::Shape, dataset)?;
    Ok(Measured {
        embedded: data::fuse(&a.embedded, a.threshold, &b.embedded, b.threshold),
        alignment: "shape".to_owned(),
        threshold: args.threshold.unwrap_or(1.0),
        margin: args.margin.unwrap_or(f32::midpoint(
            a.margin / a.threshold,
            b.margin / b.threshold,
        )),
    })
}

/// The built-in encoders named on the command line (`dlib,mobilefacenet`).
pub fn parse_encoders(names: &[String]) -> anyhow::Result<Vec<BuiltinEncoder>> {
    names
        .iter()
        .map(|n| {
            BuiltinEncoder::from_name(n).ok_or_else(|| {
                anyhow::anyhow!(
                    "unknown encoder {n:?}: the built-in encoders are {}",
                    BuiltinEncoder::ALL.map(BuiltinEncoder::name).join(", ")
                )
            })
        })
        .collect()
}

/// Arguments of `rollcall eval-faces`.
#[derive(Clone, Debug, Args)]
pub struct EvalFacesArgs {
    /// The folder of face sets (each with manifest.csv and pairs*.csv), e.g. ../shared/data/faces.
    #[arg(long)]
    pub data: PathBuf,
    /// Which sets (sub-folders, or the anchor's subset `extended_yaleb_cropped[light<=35deg]`).
    #[arg(long, value_delimiter = ',', default_values_t = ["att_faces".to_owned(), "yale_faces".to_owned(), "extended_yaleb_cropped".to_owned(), "extended_yaleb_cropped[light<=35deg]".to_owned(), "lfw".to_owned()])]
    pub sets: Vec<String>,
    /// The encoder(s) to measure, side by side: `mobilefacenet`, `dlib`, or `fusion` (the two
    /// together); the first one named is compared with the others in a table of its own.
    #[arg(long, value_delimiter = ',', default_values_t = ["mobilefacenet".to_owned()])]
    pub encoder: Vec<String>,
    /// Alignment method(s) to compare (each encoder fits the points onto its own template).
    #[arg(long, value_enum, value_delimiter = ',', default_values_t = [AlignmentArg::Shape])]
    pub alignment: Vec<AlignmentArg>,
    /// Only the images of the pairs lists (skips identification; much faster on LFW).
    #[arg(long)]
    pub pairs_only: bool,
    /// Use at most this many pairs per list (first ones), for quick comparisons.
    #[arg(long)]
    pub limit_pairs: Option<usize>,
    /// Distance threshold for the "at threshold" figures (default: each encoder's own; dlib's
    /// is 0.6, as the anchor uses).
    #[arg(long)]
    pub threshold: Option<f32>,
    /// The margin of rollcall's decision rule, for the extra identification rows (default: each
    /// encoder's own).
    #[arg(long)]
    pub margin: Option<f32>,
    /// Evaluate a trained face model folder (`rollcall train --dataset faces:…`) instead of the
    /// bundled encoder.
    #[arg(long, value_name = "DIR")]
    pub model: Option<PathBuf>,
    /// Where embeddings are cached between runs.
    #[arg(long, default_value = "target/eval-cache")]
    pub cache: PathBuf,
    /// The anchor's results.json to print beside ours (default: ../shared/anchors/faces/results.json
    /// next to --data, when present).
    #[arg(long)]
    pub anchor: Option<PathBuf>,
    /// Print JSON instead of tables.
    #[arg(long)]
    pub json: bool,
}

/// A built-in encoder's pipeline, or one with a trained model folder as its encoder.
fn pipeline(
    model: Option<&std::path::Path>,
    encoder: BuiltinEncoder,
    config: PipelineConfig,
) -> anyhow::Result<FacePipeline> {
    use anyhow::Context as _;
    Ok(match model {
        Some(dir) => FacePipeline::with_model_dir_and(dir, config)
            .with_context(|| format!("loading the model in {}", dir.display()))?,
        None => FacePipeline::builtin_with(encoder, config)?,
    })
}

/// Runs `rollcall eval-faces`.
pub fn run(args: &EvalFacesArgs) -> anyhow::Result<()> {
    anyhow::ensure!(
        args.data.is_dir(),
        "{} is not a folder of face sets",
        args.data.display()
    );
    let anchor_path = args.anchor.clone().or_else(|| {
        let p = args.data.join("../../anchors/faces/results.json");
        p.exists().then_some(p)
    });
    let anchor = anchor_path
        .as_deref()
        .map(report::Anchor::load)
        .transpose()?;
    let encoders = if args.model.is_some() {
        vec![EvalEncoder::Builtin(BuiltinEncoder::Dlib)]
    } else {
        parse_eval_encoders(&args.encoder)?
    };
    anyhow::ensure!(!encoders.is_empty(), "name at least one encoder");
    let mut all: Vec<report::SetReport> = Vec::new();
    for &encoder in &encoders {
        let alignments = match encoder {
            EvalEncoder::Builtin(_) => args.alignment.clone(),
            EvalEncoder::Fusion => vec![AlignmentArg::Shape],
        };
        for alignment in alignments {
            for set in &args.sets {
                let dataset = Dataset::load(&args.data, set)?;
                let m = match encoder {
                    EvalEncoder::Builtin(b) => measure_builtin(args, b, alignment, &dataset)?,
                    EvalEncoder::Fusion => measure_fusion(args, &dataset)?,
                };
                let name = match (&args.model, encoder) {
                    (Some(dir), _) => dir.display().to_string(),
                    (None, e) => e.name().to_owned(),
                };
                let settings = report::Settings {
                    encoder: name,
                    alignment: m.alignment,
                    threshold: m.threshold,
                    margin: m.margin,
                };
                let mut r = report::evaluate(&dataset, &m.embedded, args, &settings);
                if let Some(a) = &anchor {
                    r.against_anchor = report::against_anchor(&r, a);
                }
                // The first encoder named against the same set measured by the others.
                if let Some(first) = all
                    .iter()
                    .find(|o| o.set == r.set && o.encoder != r.encoder)
                {
                    r.against_reference = report::against_reference(first, &r);
                }
                if !args.json {
                    report::print(&r, anchor.as_ref());
                }
                all.push(r);
            }
        }
    }
    if args.json {
        outln!("{}", serde_json::to_string_pretty(&all)?);
    }
    Ok(())
}
