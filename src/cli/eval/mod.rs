//! `rollcall eval-faces`: the face pipeline measured on identity-labelled photo sets (the
//! layout of `../shared/data/faces`: `manifest.csv`, `pairs*.csv`), with the protocol of the
//! `dlib`/`face_recognition` anchor so the figures sit side by side.

pub mod classroom;
mod data;
mod report;

use std::path::PathBuf;

use clap::{Args, ValueEnum};

use super::outln;
use crate::vision::{Alignment, FacePipeline, PipelineConfig};

pub use data::Dataset;

/// Alignment choices on the command line.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum AlignmentArg {
    /// dlib's 5-point shape predictor inside the detector's box.
    Shape,
    /// MTCNN's landmarks fitted onto dlib's chip template.
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

/// Arguments of `rollcall eval-faces`.
#[derive(Debug, Args)]
pub struct EvalFacesArgs {
    /// The folder of face sets (each with manifest.csv and pairs*.csv), e.g. ../shared/data/faces.
    #[arg(long)]
    pub data: PathBuf,
    /// Which sets (sub-folders, or the anchor's subset `extended_yaleb_cropped[light<=35deg]`).
    #[arg(long, value_delimiter = ',', default_values_t = ["att_faces".to_owned(), "yale_faces".to_owned(), "extended_yaleb_cropped".to_owned(), "extended_yaleb_cropped[light<=35deg]".to_owned(), "lfw".to_owned()])]
    pub sets: Vec<String>,
    /// Alignment method(s) to compare.
    #[arg(long, value_enum, value_delimiter = ',', default_values_t = [AlignmentArg::Shape])]
    pub alignment: Vec<AlignmentArg>,
    /// Only the images of the pairs lists (skips identification; much faster on LFW).
    #[arg(long)]
    pub pairs_only: bool,
    /// Use at most this many pairs per list (first ones), for quick comparisons.
    #[arg(long)]
    pub limit_pairs: Option<usize>,
    /// Distance threshold for the "at threshold" figures (default: the encoder's, 0.6 for the
    /// bundled one, as the anchor uses).
    #[arg(long)]
    pub threshold: Option<f32>,
    /// The margin of rollcall's decision rule, for the extra identification row.
    #[arg(long, default_value_t = crate::cli::encoders::DEFAULT_MARGIN)]
    pub margin: f32,
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

/// The bundled pipeline, or one with a trained model folder as its encoder.
fn pipeline(
    model: Option<&std::path::Path>,
    config: PipelineConfig,
) -> anyhow::Result<FacePipeline> {
    use anyhow::Context as _;
    Ok(match model {
        Some(dir) => FacePipeline::with_model_dir_and(dir, config)
            .with_context(|| format!("loading the model in {}", dir.display()))?,
        None => FacePipeline::bundled_with(config)?,
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
    let mut all = Vec::new();
    for &alignment in &args.alignment {
        let config = PipelineConfig {
            alignment: alignment.into(),
            ..PipelineConfig::default()
        };
        let pipeline = pipeline(args.model.as_deref(), config)?;
        let threshold = args
            .threshold
            .unwrap_or_else(|| pipeline.encoder().default_threshold());
        for set in &args.sets {
            let dataset = Dataset::load(&args.data, set)?;
            let embedded = data::embed(&pipeline, &dataset, args, alignment)?;
            let mut r = report::evaluate(&dataset, &embedded, args, alignment, threshold);
            if let Some(a) = &anchor {
                r.against_anchor = report::against_anchor(&r, a);
            }
            if !args.json {
                report::print(&r, anchor.as_ref());
            }
            all.push(r);
        }
    }
    if args.json {
        outln!("{}", serde_json::to_string_pretty(&all)?);
    }
    Ok(())
}
