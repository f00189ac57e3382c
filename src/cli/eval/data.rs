//! Face sets on disk (manifest and pairs lists) and their embeddings, cached between runs.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context as _;
use indicatif::{ProgressBar, ProgressStyle};

use super::{AlignmentArg, EvalFacesArgs};
use crate::vision::pipeline::main_face;
use crate::vision::{FacePipeline, image_io};

/// One labelled image.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Item {
    /// Path relative to the data folder (as the CSV files give it).
    pub path: String,
    /// Who it is.
    pub identity: String,
}

/// A pairs list.
#[derive(Clone, Debug, PartialEq)]
pub struct PairsList {
    /// Its file name.
    pub name: String,
    /// (path a, path b, same).
    pub pairs: Vec<(String, String, bool)>,
}

/// Subsets the anchor reports as extra rows: (name, the set it is cut from, which images it
/// keeps). Pairs with an image outside the subset are left out.
type Keep = fn(&str) -> bool;
const VARIANTS: &[(&str, &str, Keep)] = &[(
    "extended_yaleb_cropped[light<=35deg]",
    "extended_yaleb_cropped",
    yaleb_moderate_light,
)];

/// Extended Yale B's light direction within 35° of frontal in azimuth and elevation (file
/// names such as `P00A+035E-20.png`), as the anchor defines the subset.
fn yaleb_moderate_light(path: &str) -> bool {
    let stem = path.rsplit('/').next().unwrap_or(path);
    let stem = stem.split('.').next().unwrap_or(stem);
    let Some((a, e)) = stem.get(4..).and_then(|s| s.split_once('E')) else {
        return false;
    };
    match (a.parse::<i32>(), e.parse::<i32>()) {
        (Ok(a), Ok(e)) => a.abs() <= 35 && e.abs() <= 35,
        _ => false,
    }
}

/// A face set: its images and its pairs lists.
#[derive(Clone, Debug)]
pub struct Dataset {
    /// The set's name (a sub-folder, or a subset such as `extended_yaleb_cropped[light<=35deg]`).
    pub name: String,
    /// The sub-folder the images come from (shares the embedding cache).
    pub folder: String,
    /// The data folder the paths are relative to.
    pub root: PathBuf,
    /// Every image of the manifest.
    pub items: Vec<Item>,
    /// The pairs lists (`pairs*.csv`).
    pub pairs: Vec<PairsList>,
}

impl Dataset {
    /// Reads `root/name/manifest.csv` and every `pairs*.csv` there; a subset name (see
    /// `VARIANTS`) reads its set and keeps the subset's images and pairs.
    pub fn load(root: &Path, name: &str) -> anyhow::Result<Self> {
        if let Some((_, base, keep)) = VARIANTS.iter().find(|(n, _, _)| *n == name) {
            let mut set = Self::load_folder(root, base)?;
            name.clone_into(&mut set.name);
            set.items.retain(|i| keep(&i.path));
            for list in &mut set.pairs {
                list.pairs.retain(|(a, b, _)| keep(a) && keep(b));
            }
            return Ok(set);
        }
        Self::load_folder(root, name)
    }

    fn load_folder(root: &Path, name: &str) -> anyhow::Result<Self> {
        let dir = root.join(name);
        let manifest = dir.join("manifest.csv");
        let mut rdr = csv::Reader::from_path(&manifest)
            .with_context(|| format!("reading {}", manifest.display()))?;
        let headers = rdr.headers()?.clone();
        let col = |n: &str| {
            headers
                .iter()
                .position(|h| h == n)
                .with_context(|| format!("{} has no {n} column", manifest.display()))
        };
        let (pi, ii) = (col("path")?, col("identity")?);
        let mut items = Vec::new();
        for rec in rdr.records() {
            let rec = rec.with_context(|| format!("reading {}", manifest.display()))?;
            items.push(Item {
                path: rec.get(pi).unwrap_or_default().to_owned(),
                identity: rec.get(ii).unwrap_or_default().to_owned(),
            });
        }
        let mut pairs = Vec::new();
        let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)?
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| {
                p.file_name().is_some_and(|n| {
                    n.to_string_lossy().starts_with("pairs")
                        && n.to_string_lossy().ends_with(".csv")
                })
            })
            .collect();
        files.sort();
        for file in files {
            pairs.push(read_pairs(&file)?);
        }
        Ok(Self {
            name: name.to_owned(),
            folder: name.to_owned(),
            root: root.to_owned(),
            items,
            pairs,
        })
    }
}

/// Reads a pairs list `path_a,path_b,same[,...]`.
pub fn read_pairs(file: &Path) -> anyhow::Result<PairsList> {
    let mut rdr =
        csv::Reader::from_path(file).with_context(|| format!("reading {}", file.display()))?;
    let mut pairs = Vec::new();
    for (i, rec) in rdr.records().enumerate() {
        let rec = rec.with_context(|| format!("reading {}", file.display()))?;
        let (Some(a), Some(b), Some(same)) = (rec.get(0), rec.get(1), rec.get(2)) else {
            anyhow::bail!(
                "{} line {}: expected path_a,path_b,same",
                file.display(),
                i + 2
            );
        };
        let same = match same.trim() {
            "1" | "true" => true,
            "0" | "false" => false,
            other => anyhow::bail!(
                "{} line {}: same must be 0 or 1, not {other:?}",
                file.display(),
                i + 2
            ),
        };
        pairs.push((a.to_owned(), b.to_owned(), same));
    }
    Ok(PairsList {
        name: file
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        pairs,
    })
}

/// Embeddings of a set's images, plus what happened on the way.
#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct EmbeddedSet {
    /// Path -> embedding.
    pub vectors: BTreeMap<String, Vec<f32>>,
    /// Images where the detector found no face (the whole image was used as the face box).
    pub no_face: BTreeSet<String>,
    /// Images with more than one face (the main face was used).
    pub multi_face: BTreeSet<String>,
    /// Median detection time per image, milliseconds.
    pub detect_ms: f64,
    /// Median alignment + embedding time per image, milliseconds.
    pub embed_ms: f64,
}

/// The fusion of two encoders' embeddings of the same images: each vector divided by its
/// encoder's threshold and by √2, then the two joined, so the Euclidean distance of two fused
/// vectors is `sqrt(((d₁/t₁)² + (d₂/t₂)²) / 2)`: 1 when both encoders sit at their threshold.
/// Only images both embedded are kept; no-face and several-face marks are the first set's.
#[must_use]
pub fn fuse(a: &EmbeddedSet, threshold_a: f32, b: &EmbeddedSet, threshold_b: f32) -> EmbeddedSet {
    let (sa, sb) = (
        1.0 / (threshold_a * std::f32::consts::SQRT_2),
        1.0 / (threshold_b * std::f32::consts::SQRT_2),
    );
    let vectors = a
        .vectors
        .iter()
        .filter_map(|(path, va)| {
            let vb = b.vectors.get(path)?;
            let joined = va.iter().map(|x| x * sa).chain(vb.iter().map(|x| x * sb));
            Some((path.clone(), joined.collect()))
        })
        .collect();
    EmbeddedSet {
        vectors,
        no_face: a.no_face.clone(),
        multi_face: a.multi_face.clone(),
        detect_ms: a.detect_ms,
        embed_ms: a.embed_ms + b.embed_ms,
    }
}

/// Embeds the images the evaluation needs, reusing the cache when it is complete.
pub fn embed(
    pipeline: &FacePipeline,
    set: &Dataset,
    args: &EvalFacesArgs,
    alignment: AlignmentArg,
) -> anyhow::Result<EmbeddedSet> {
    let wanted: BTreeSet<String> = if args.pairs_only {
        set.pairs
            .iter()
            .flat_map(|l| l.pairs.iter().take(args.limit_pairs.unwrap_or(usize::MAX)))
            .flat_map(|(a, b, _)| [a.clone(), b.clone()])
            .collect()
    } else {
        set.items.iter().map(|i| i.path.clone()).collect()
    };
    let cache_file = args.cache.join(
        format!(
            "{}-{:?}-{}.json",
            pipeline.encoder().model_id(),
            alignment,
            set.folder
        )
        .to_lowercase(),
    );
    let mut out: EmbeddedSet = std::fs::read(&cache_file)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default();
    let todo: Vec<&String> = wanted
        .iter()
        .filter(|p| !out.vectors.contains_key(*p))
        .collect();
    if todo.is_empty() {
        return Ok(out);
    }
    let bar =
        ProgressBar::new(todo.len() as u64).with_message(format!("{} ({alignment:?})", set.name));
    bar.set_style(
        ProgressStyle::with_template("{msg} {bar:30} {pos}/{len} {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let (mut detect_times, mut embed_times) = (Vec::new(), Vec::new());
    for path in todo {
        let image =
            image_io::load_rgb(&set.root.join(path)).with_context(|| format!("reading {path}"))?;
        let t = Instant::now();
        let detections = pipeline.detect_photo(&image)?;
        detect_times.push(t.elapsed().as_secs_f64() * 1e3);
        let t = Instant::now();
        let vector = if let Some(d) = main_face(&detections, image.width(), image.height()) {
            if detections.len() > 1 {
                out.multi_face.insert(path.clone());
            }
            pipeline
                .analyze_detections(&image, std::slice::from_ref(d))?
                .pop()
                .map(|f| f.embedding.values)
        } else {
            // Like the anchor: no face found, so the whole image is the face box.
            out.no_face.insert(path.clone());
            let whole =
                crate::core::BBox::new(0.0, 0.0, image.width() as f32, image.height() as f32);
            Some(pipeline.embed_rect(&image, whole)?.values)
        };
        embed_times.push(t.elapsed().as_secs_f64() * 1e3);
        if let Some(v) = vector {
            out.vectors.insert(path.clone(), v);
        }
        bar.inc(1);
    }
    bar.finish_and_clear();
    out.detect_ms = median(&mut detect_times);
    out.embed_ms = median(&mut embed_times);
    if let Some(dir) = cache_file.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(&cache_file, serde_json::to_vec(&out)?)
        .with_context(|| format!("writing {}", cache_file.display()))?;
    Ok(out)
}

fn median(v: &mut [f64]) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Groups the set's images by identity, each group sorted by path (the first is the enrolled one).
#[must_use]
pub fn by_identity<'a>(
    items: &'a [Item],
    vectors: &BTreeMap<String, Vec<f32>>,
) -> BTreeMap<&'a str, Vec<&'a str>> {
    let mut groups: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for item in items.iter().filter(|i| vectors.contains_key(&i.path)) {
        groups
            .entry(item.identity.as_str())
            .or_default()
            .push(item.path.as_str());
    }
    for g in groups.values_mut() {
        g.sort_unstable();
    }
    groups
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fused_distances_average_the_squared_distances_relative_to_each_threshold() {
        let set = |pairs: &[(&str, Vec<f32>)]| EmbeddedSet {
            vectors: pairs
                .iter()
                .map(|(p, v)| ((*p).to_owned(), v.clone()))
                .collect(),
            ..EmbeddedSet::default()
        };
        // Encoder a: distance 0.5 at threshold 1; encoder b: distance 0.9 at threshold 0.6.
        let a = set(&[
            ("x", vec![0.0, 0.0]),
            ("y", vec![0.3, 0.4]),
            ("only-a", vec![1.0, 1.0]),
        ]);
        let b = set(&[("x", vec![0.0]), ("y", vec![0.9])]);
        let f = fuse(&a, 1.0, &b, 0.6);
        assert_eq!(f.vectors.len(), 2);
        let d = crate::core::Metric::Euclidean.distance(&f.vectors["x"], &f.vectors["y"]);
        let want = ((0.5f32 / 1.0).powi(2) / 2.0 + (0.9f32 / 0.6).powi(2) / 2.0).sqrt();
        assert!((d - want).abs() < 1e-6, "{d} vs {want}");
    }

    #[test]
    fn a_cached_set_reads_back_bit_for_bit() {
        // A timing that serde_json's fast float parser reads back one ulp off.
        let mut set = EmbeddedSet {
            detect_ms: 553.005_258,
            embed_ms: 22.836_268_999_999_998,
            ..EmbeddedSet::default()
        };
        set.vectors.insert("a.png".into(), vec![0.1, -0.3, 1e-7]);
        let bytes = serde_json::to_vec(&set).expect("serialise");
        let back: EmbeddedSet = serde_json::from_slice(&bytes).expect("parse");
        assert_eq!(back.embed_ms.to_bits(), set.embed_ms.to_bits());
        assert_eq!(back.detect_ms.to_bits(), set.detect_ms.to_bits());
        assert_eq!(back.vectors, set.vectors);
    }

    #[test]
    fn the_moderate_light_subset_follows_the_anchor() {
        let keep = yaleb_moderate_light;
        assert!(keep("extended_yaleb_cropped/yaleB01/P00A+000E+00.png"));
        assert!(keep("extended_yaleb_cropped/yaleB01/P00A+035E-20.png"));
        assert!(keep("extended_yaleb_cropped/yaleB01/P00A-035E+35.png"));
        assert!(!keep("extended_yaleb_cropped/yaleB01/P00A+050E-40.png"));
        assert!(!keep("extended_yaleb_cropped/yaleB01/P00A+000E+45.png"));
        assert!(!keep("extended_yaleb_cropped/yaleB01/P00A-110E+15.png"));
        assert!(!keep("extended_yaleb_cropped/yaleB01/ambient.png"));
        assert!(!keep(""));
    }

    #[test]
    fn a_subset_keeps_only_its_images_and_pairs() {
        let dir = tempfile::tempdir().expect("temp dir");
        let set = dir.path().join("extended_yaleb_cropped");
        std::fs::create_dir_all(&set).expect("mkdir");
        std::fs::write(
            set.join("manifest.csv"),
            "path,identity\nx/a/P00A+000E+00.png,a\nx/a/P00A+110E+00.png,a\nx/b/P00A+010E+10.png,b\n",
        )
        .expect("manifest");
        std::fs::write(
            set.join("pairs.csv"),
            "path_a,path_b,same\nx/a/P00A+000E+00.png,x/a/P00A+110E+00.png,1\nx/a/P00A+000E+00.png,x/b/P00A+010E+10.png,0\n",
        )
        .expect("pairs");
        let sub = Dataset::load(dir.path(), "extended_yaleb_cropped[light<=35deg]").expect("load");
        assert_eq!(sub.name, "extended_yaleb_cropped[light<=35deg]");
        assert_eq!(sub.folder, "extended_yaleb_cropped");
        assert_eq!(sub.items.len(), 2);
        assert_eq!(sub.pairs[0].pairs.len(), 1);
        assert!(!sub.pairs[0].pairs[0].2);
        let all = Dataset::load(dir.path(), "extended_yaleb_cropped").expect("load");
        assert_eq!((all.items.len(), all.pairs[0].pairs.len()), (3, 2));
    }
}
