//! `rollcall faces PHOTO` and `rollcall identify PHOTO`.

use std::path::PathBuf;

use clap::Args;

use super::{outln, table};
use crate::core::quality::{QualityLimits, assess};
use crate::store::Store;
use crate::vision::pipeline::main_face;
use crate::vision::{FacePipeline, image_io};

/// Arguments of `rollcall faces`.
#[derive(Debug, Args)]
pub struct FacesArgs {
    /// The photo.
    pub photo: PathBuf,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `rollcall identify`.
#[derive(Debug, Args)]
pub struct IdentifyArgs {
    /// The photo.
    pub photo: PathBuf,
    /// Compare with this class only (default: every enrolled student).
    #[arg(long)]
    pub class: Option<String>,
    /// How many matches to list per face.
    #[arg(long, default_value_t = 3)]
    pub top: usize,
}

/// Runs `rollcall faces`: every face with its box, landmarks and quality figures.
pub fn run_faces(args: &FacesArgs) -> anyhow::Result<()> {
    let image = image_io::load_rgb(&args.photo)?;
    let pipeline = FacePipeline::bundled()?;
    let detections = pipeline.detect_photo(&image)?;
    let main = main_face(&detections, image.width(), image.height()).cloned();
    let faces = pipeline.analyze_detections(&image, &detections)?;
    if args.json {
        let out: Vec<serde_json::Value> = faces
            .iter()
            .map(|f| {
                serde_json::json!({
                    "box": f.bbox, "score": f.score, "landmarks": f.landmarks, "quality": f.quality,
                    "main": main.as_ref().is_some_and(|m| m.bbox == f.bbox),
                    "issues": assess(&f.quality, &QualityLimits::default()).iter().map(crate::core::quality::QualityIssue::message).collect::<Vec<_>>(),
                })
            })
            .collect();
        outln!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(());
    }
    outln!(
        "{}: {}x{}, {} face(s)",
        args.photo.display(),
        image.width(),
        image.height(),
        faces.len()
    );
    let rows: Vec<Vec<String>> = faces
        .iter()
        .enumerate()
        .map(|(i, f)| {
            let q = &f.quality;
            vec![
                format!(
                    "{}{}",
                    i + 1,
                    if main.as_ref().is_some_and(|m| m.bbox == f.bbox) {
                        "*"
                    } else {
                        ""
                    }
                ),
                format!(
                    "{:.0},{:.0} {:.0}x{:.0}",
                    f.bbox.x, f.bbox.y, f.bbox.width, f.bbox.height
                ),
                format!("{:.3}", f.score),
                f.landmarks
                    .iter()
                    .map(|p| format!("({:.0},{:.0})", p.x, p.y))
                    .collect::<Vec<_>>()
                    .join(" "),
                format!("{:.0}", q.interocular_px),
                format!("{:.0}", q.sharpness),
                format!("{:.0}", q.brightness),
                format!("{:+.2}", q.yaw),
                format!("{:+.0}", q.roll_deg),
            ]
        })
        .collect();
    table::print(
        &[
            "face",
            "box (x,y wxh)",
            "score",
            "landmarks (eyes, nose, mouth)",
            "eyes px",
            "sharpness",
            "light",
            "yaw",
            "roll",
        ],
        &rows,
    );
    if let Some(f) = faces
        .iter()
        .find(|f| main.as_ref().is_some_and(|m| m.bbox == f.bbox))
    {
        let issues = assess(&f.quality, &QualityLimits::default());
        if issues.is_empty() {
            outln!("Face * is fit for enrollment");
        } else {
            outln!("As an enrollment photo (face *):");
            for i in issues {
                outln!(
                    "  {}{}",
                    if i.is_blocking() { "refused: " } else { "" },
                    i.message()
                );
            }
        }
    }
    Ok(())
}

/// Runs `rollcall identify`: the closest enrolled students of each face in a photo.
pub fn run_identify(store: &Store, args: &IdentifyArgs) -> anyhow::Result<()> {
    let image = image_io::load_rgb(&args.photo)?;
    let pipeline = crate::workflow::enroll::pipeline_for(store)?;
    let encoder = store.encoder(pipeline.encoder().model_id())?;
    let classes = match &args.class {
        Some(c) => vec![store.find_class(c)?],
        None => store.list_classes()?,
    };
    let mut gallery = crate::core::Gallery::new(encoder.id.clone(), encoder.metric, encoder.dim);
    for c in &classes {
        let (g, _) = store.class_gallery(c.id, &encoder.id, encoder.metric, encoder.dim)?;
        for &s in g.students() {
            if let Some(e) = store.embedding(s, &encoder.id)? {
                gallery.insert(s, &e)?;
            }
        }
    }
    anyhow::ensure!(
        !gallery.is_empty(),
        "nobody is enrolled with {} yet",
        encoder.id
    );
    let faces = pipeline.analyze(&image)?;
    if faces.is_empty() {
        outln!("No face found in {}", args.photo.display());
        return Ok(());
    }
    let threshold = classes
        .first()
        .and_then(|c| c.threshold_override)
        .unwrap_or(encoder.default_threshold);
    for (i, f) in faces.iter().enumerate() {
        outln!(
            "Face {} at {:.0},{:.0} ({:.0}x{:.0}):",
            i + 1,
            f.bbox.x,
            f.bbox.y,
            f.bbox.width,
            f.bbox.height
        );
        let ranking = gallery.rank_top(&f.embedding, args.top.max(1))?;
        for c in ranking {
            let name = store
                .student(c.student)
                .map(|s| s.display_name)
                .unwrap_or_default();
            let verdict = if c.distance <= threshold {
                "match"
            } else {
                "too far"
            };
            outln!(
                "  {name} (#{})  distance {:.3}  {verdict}",
                c.student,
                c.distance
            );
        }
    }
    Ok(())
}
