//! Face folders (`faces:DIR`, one sub-folder per identity, any image the image crate reads)
//! and pairs lists (`path_a,path_b,same`). Identities are split train/test without overlap:
//! by the folder's `splits.csv` when it has one (so its held-out `pairs.csv` stays unseen),
//! else at random with a fixed seed. Until face detection and alignment land, a photo's chip
//! is its centred square, resized.

use std::path::{Path, PathBuf};

use super::TrainError;
use super::dataset::{DataKind, Dataset, Split};
use super::embed_cache::{EmbeddingCache, PhotoHash, hash_file};
use crate::vision::encoders::chip::{centre_square, chip_values};
use crate::vision::encoders::init::SplitMix64;
use crate::vision::image_io;
use crate::vision::{ChipStyle, FaceEncoder};

/// File extensions read as photos.
const IMAGE_EXTENSIONS: &[&str] = &[
    "jpg", "jpeg", "png", "bmp", "gif", "tif", "tiff", "webp", "pgm", "ppm", "pnm",
];

/// How to turn a face folder into chips.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FaceOptions {
    /// Side of the square chip, in pixels.
    pub chip_size: u32,
    /// 1 for grey, 3 for RGB.
    pub channels: usize,
    /// Seed of the identity split (when the folder has no `splits.csv`).
    pub seed: u64,
    /// Share of identities held out for testing (when the folder has no `splits.csv`).
    pub test_fraction: f64,
    /// Find and align the face with the attendance pipeline (MTCNN + dlib's face chip), so a
    /// model trains on the chips it will see in class; photos without a detectable face, or
    /// with this off, use a centred square.
    pub align: bool,
}

impl Default for FaceOptions {
    fn default() -> Self {
        Self {
            chip_size: 64,
            channels: 1,
            seed: 20_240_917,
            test_fraction: 0.3,
            align: true,
        }
    }
}

/// The bundled face pipeline, loaded once for aligning training photos.
fn aligner() -> Option<&'static crate::vision::FacePipeline> {
    static PIPELINE: std::sync::OnceLock<Option<crate::vision::FacePipeline>> =
        std::sync::OnceLock::new();
    PIPELINE
        .get_or_init(|| {
            match crate::vision::FacePipeline::builtin(
                crate::vision::pipeline::BuiltinEncoder::Dlib,
            ) {
                Ok(p) => Some(p),
                Err(err) => {
                    log::warn!(
                        "training photos are not aligned, the face models did not load: {err}"
                    );
                    None
                }
            }
        })
        .as_ref()
}

/// The identities of a face folder: (name, photo paths), both sorted by name.
pub fn list_identities(dir: &Path) -> Result<Vec<(String, Vec<PathBuf>)>, TrainError> {
    let io = |source| TrainError::Io {
        context: format!("listing {}", dir.display()),
        source,
    };
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let path = entry.map_err(io)?.path();
        if !path.is_dir() {
            continue;
        }
        let mut photos: Vec<PathBuf> = std::fs::read_dir(&path)
            .map_err(io)?
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| {
                p.extension()
                    .and_then(|e| e.to_str())
                    .is_some_and(|e| IMAGE_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
            })
            .collect();
        photos.sort();
        if !photos.is_empty() {
            out.push((
                path.file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default(),
                photos,
            ));
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    if out.len() < 2 {
        return Err(TrainError::Data(format!(
            "{} has {} identity folders with photos; at least 2 are needed (one sub-folder per person)",
            dir.display(),
            out.len()
        )));
    }
    Ok(out)
}

/// Which identities are held out: the `test` rows of `DIR/splits.csv` (`identity,split,...`)
/// if it exists, else a seeded random `test_fraction` of them (at least one, never all).
pub fn test_identities(
    dir: &Path,
    names: &[String],
    seed: u64,
    test_fraction: f64,
) -> Result<Vec<String>, TrainError> {
    let splits = dir.join("splits.csv");
    if splits.is_file() {
        let mut reader = csv::Reader::from_path(&splits)
            .map_err(|e| TrainError::Data(format!("{}: {e}", splits.display())))?;
        let mut test = Vec::new();
        for row in reader.records() {
            let row = row.map_err(|e| TrainError::Data(format!("{}: {e}", splits.display())))?;
            if row.get(1) == Some("test") {
                test.push(row.get(0).unwrap_or_default().to_owned());
            }
        }
        return Ok(test);
    }
    let mut shuffled = names.to_vec();
    SplitMix64::new(seed).shuffle(&mut shuffled);
    let n = ((names.len() as f64 * test_fraction).round() as usize).clamp(1, names.len() - 1);
    shuffled.truncate(n);
    Ok(shuffled)
}

/// Reads one photo as a chip: the aligned face (on the template `style` names) when `align` is
/// set and a face is found, else a centred square.
pub fn load_chip(
    path: &Path,
    chip_size: u32,
    align: bool,
    style: ChipStyle,
) -> Result<image::RgbImage, TrainError> {
    let img = image_io::load_rgb(path).map_err(|source| TrainError::Image {
        path: path.display().to_string(),
        source,
    })?;
    if align
        && let Some(chip) =
            aligner().and_then(|p| p.aligned_chip(&img, chip_size, style).ok().flatten())
    {
        return Ok(chip);
    }
    Ok(centre_square(&img, chip_size))
}

/// Loads a face folder as chips for a CNN.
pub fn load_face_folder(dir: &Path, opts: &FaceOptions) -> Result<Dataset, TrainError> {
    let side = opts.chip_size as usize;
    build(dir, opts, &[side, side, opts.channels], |paths| {
        let mut values = Vec::new();
        for p in paths {
            values.extend(chip_values(
                &load_chip(p, opts.chip_size, opts.align, ChipStyle::Dlib)?,
                opts.channels,
            ));
        }
        Ok(values)
    })
}

/// How the photos of a face folder were embedded.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct EmbedStats {
    /// Photos in the folder.
    pub photos: usize,
    /// Of them, found in the embedding cache.
    pub cached: usize,
    /// The cache file, when one was used.
    pub cache_file: Option<PathBuf>,
}

/// Loads a face folder as the embeddings of a frozen encoder (to train a face head on). With a
/// `cache` folder, photos embedded by this encoder in an earlier run (same bytes, same chip
/// recipe) are taken from there and the new ones are added to it
/// ([`super::embed_cache::EmbeddingCache`]).
pub fn embed_face_folder(
    dir: &Path,
    encoder: &dyn FaceEncoder,
    opts: &FaceOptions,
    cache: Option<&Path>,
) -> Result<(Dataset, EmbedStats), TrainError> {
    let dim = encoder.dim();
    let mut cache =
        cache.map(|d| EmbeddingCache::open(d, encoder.model_id().as_str(), dim, opts.align));
    let mut stats = EmbedStats {
        cache_file: cache.as_ref().map(|c| c.path().to_owned()),
        ..EmbedStats::default()
    };
    let data = build(dir, opts, &[dim], |paths| {
        let mut values = vec![0f32; paths.len() * dim];
        // The photos the cache does not have: (index, hash).
        let mut missing: Vec<(usize, Option<PhotoHash>)> = Vec::new();
        for (i, p) in paths.iter().enumerate() {
            let Some(cache) = &cache else {
                missing.push((i, None));
                continue;
            };
            let hash = hash_file(p)?;
            match cache.get(&hash) {
                Some(v) => values[i * dim..(i + 1) * dim].copy_from_slice(v),
                None => missing.push((i, Some(hash))),
            }
        }
        stats.photos += paths.len();
        stats.cached += paths.len() - missing.len();
        for chunk in missing.chunks(32) {
            let chips = chunk
                .iter()
                .map(|&(i, _)| {
                    load_chip(
                        &paths[i],
                        encoder.chip_size(),
                        opts.align,
                        encoder.chip_style(),
                    )
                })
                .collect::<Result<Vec<_>, _>>()?;
            let rows = encoder.embed(&chips)?;
            if rows.len() != chunk.len() || rows.iter().any(|r| r.len() != dim) {
                return Err(TrainError::Data(format!(
                    "encoder {} gave {} embeddings for {} photos",
                    encoder.model_id(),
                    rows.len(),
                    chunk.len()
                )));
            }
            for (&(i, hash), row) in chunk.iter().zip(&rows) {
                values[i * dim..(i + 1) * dim].copy_from_slice(row);
                if let (Some(cache), Some(hash)) = (cache.as_mut(), hash) {
                    cache.insert(hash, row);
                }
            }
        }
        Ok(values)
    })?;
    if let Some(cache) = cache.as_mut() {
        // A cache that cannot be written costs the next run time, not this one its result.
        if let Err(err) = cache.save() {
            log::warn!("the embedding cache was not saved: {err}");
        }
    }
    Ok((data, stats))
}

fn build(
    dir: &Path,
    opts: &FaceOptions,
    item_shape: &[usize],
    mut load: impl FnMut(&[PathBuf]) -> Result<Vec<f32>, TrainError>,
) -> Result<Dataset, TrainError> {
    let ids = list_identities(dir)?;
    let names: Vec<String> = ids.iter().map(|(n, _)| n.clone()).collect();
    let test = test_identities(dir, &names, opts.seed, opts.test_fraction)?;
    let (test_ids, train_ids): (Vec<_>, Vec<_>) =
        ids.into_iter().partition(|(n, _)| test.contains(n));
    if train_ids.is_empty() || test_ids.is_empty() {
        return Err(TrainError::Data(format!(
            "{}: the identity split left one side empty",
            dir.display()
        )));
    }
    let mut class_names = Vec::new();
    let mut split = |group: Vec<(String, Vec<PathBuf>)>| -> Result<Split, TrainError> {
        let mut labels = Vec::new();
        let mut paths = Vec::new();
        for (name, photos) in group {
            let label = class_names.len() as u32;
            class_names.push(name);
            labels.extend(std::iter::repeat_n(label, photos.len()));
            paths.extend(photos);
        }
        Ok(Split {
            items: load(&paths)?,
            item_shape: item_shape.to_vec(),
            labels,
        })
    };
    let train = split(train_ids)?;
    let test = split(test_ids)?;
    Ok(Dataset {
        spec: format!("faces:{}", dir.display()),
        kind: DataKind::Faces,
        train,
        test,
        class_names,
    })
}

/// One row of a pairs list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PairRow {
    /// First photo.
    pub a: PathBuf,
    /// Second photo.
    pub b: PathBuf,
    /// Same person.
    pub same: bool,
}

/// Reads a pairs list `path_a,path_b,same` (header optional). Relative paths are resolved
/// against the list's folder, else its parent (the layout of `shared/data/faces`).
pub fn read_pairs_csv(path: &Path) -> Result<Vec<PairRow>, TrainError> {
    let bad = |msg: String| TrainError::Data(format!("{}: {msg}", path.display()));
    let text = std::fs::read_to_string(path).map_err(|source| TrainError::Io {
        context: format!("reading {}", path.display()),
        source,
    })?;
    let base = path.parent().unwrap_or(Path::new("."));
    let resolve = |p: &str| -> PathBuf {
        let rel = PathBuf::from(p);
        if rel.is_absolute() {
            return rel;
        }
        let here = base.join(&rel);
        if here.exists() {
            here
        } else {
            base.parent().map_or(here.clone(), |up| up.join(&rel))
        }
    };
    let mut rows = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || (n == 0 && line.starts_with("path_a")) {
            continue;
        }
        let cells: Vec<&str> = line.split(',').map(str::trim).collect();
        if cells.len() < 3 {
            return Err(bad(format!("line {}: expected path_a,path_b,same", n + 1)));
        }
        let same = match cells[2] {
            "1" | "true" => true,
            "0" | "false" => false,
            other => {
                return Err(bad(format!(
                    "line {}: same must be 1 or 0, not {other:?}",
                    n + 1
                )));
            }
        };
        rows.push(PairRow {
            a: resolve(cells[0]),
            b: resolve(cells[1]),
            same,
        });
    }
    if rows.is_empty() {
        return Err(bad("no pairs".into()));
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write_faces(dir: &Path) {
        for (who, shade) in [("ann", 40u8), ("bob", 120), ("cid", 200), ("dee", 90)] {
            std::fs::create_dir_all(dir.join(who)).unwrap();
            for i in 0..3u8 {
                let img =
                    image::RgbImage::from_pixel(20, 30, image::Rgb([shade + i, shade, shade]));
                img.save(dir.join(who).join(format!("{i}.png"))).unwrap();
            }
        }
        std::fs::write(dir.join("notes.txt"), "not a photo").unwrap();
    }

    #[test]
    fn loads_a_folder_with_an_identity_disjoint_split() {
        let dir = tempfile::tempdir().unwrap();
        write_faces(dir.path());
        let opts = FaceOptions {
            chip_size: 8,
            channels: 1,
            seed: 1,
            test_fraction: 0.5,
            align: false,
        };
        let d = load_face_folder(dir.path(), &opts).unwrap();
        assert_eq!((d.train.len(), d.test.len()), (6, 6));
        assert_eq!(d.train.item_shape, [8, 8, 1]);
        assert_eq!(d.class_names.len(), 4);
        // Same seed, same split; labels never shared between the splits.
        let again = load_face_folder(dir.path(), &opts).unwrap();
        assert_eq!(again.class_names, d.class_names);
        assert!(d.test.labels.iter().all(|l| !d.train.labels.contains(l)));
    }

    #[test]
    fn splits_csv_decides_the_held_out_identities() {
        let dir = tempfile::tempdir().unwrap();
        write_faces(dir.path());
        std::fs::write(
            dir.path().join("splits.csv"),
            "identity,split,n_images\nann,train,3\nbob,test,3\ncid,train,3\ndee,train,3\n",
        )
        .unwrap();
        let d = load_face_folder(
            dir.path(),
            &FaceOptions {
                chip_size: 8,
                ..FaceOptions::default()
            },
        )
        .unwrap();
        assert_eq!(d.test.len(), 3);
        assert_eq!(d.class_names[d.test.labels[0] as usize], "bob");
    }

    #[test]
    fn a_broken_photo_is_named_in_the_error() {
        let dir = tempfile::tempdir().unwrap();
        write_faces(dir.path());
        let bad = dir.path().join("bob").join("1.png");
        let bytes = std::fs::read(&bad).unwrap();
        std::fs::write(&bad, &bytes[..bytes.len() / 2]).unwrap();
        let err = load_face_folder(
            dir.path(),
            &FaceOptions {
                chip_size: 8,
                ..FaceOptions::default()
            },
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("1.png") && err.contains("damaged"), "{err}");
        assert!(list_identities(&dir.path().join("ann")).is_err());
    }

    #[test]
    fn pairs_lists_resolve_relative_paths() {
        let dir = tempfile::tempdir().unwrap();
        write_faces(&dir.path().join("set"));
        let list = dir.path().join("set").join("pairs.csv");
        std::fs::write(
            &list,
            "path_a,path_b,same\nset/ann/0.png,set/ann/1.png,1\nann/0.png,bob/0.png,0\n",
        )
        .unwrap();
        let rows = read_pairs_csv(&list).unwrap();
        assert_eq!(rows.len(), 2);
        assert!(rows.iter().all(|r| r.a.is_file() && r.b.is_file()));
        assert!(rows[0].same && !rows[1].same);
        std::fs::write(&list, "a.png,b.png,maybe\n").unwrap();
        assert!(
            read_pairs_csv(&list)
                .unwrap_err()
                .to_string()
                .contains("maybe")
        );
    }
}
