//! Reads dlib's `shape_predictor` files (`dlib/image_processing/shape_predictor.h`), the
//! regression-tree cascade of Kazemi & Sullivan (2014), and lays them out as the tensors that
//! [`shape`](super::shape) loads.
//!
//! Layout: version 1; `initial_shape` (`matrix<float,0,1>`, x and y of each part in the
//! box-normalised frame); `forests` (one `vector<regression_tree>` per cascade level, each tree
//! a `vector<split_feature>` of `(idx1, idx2, thresh)` in breadth-first order and a
//! `vector<matrix<float,0,1>>` of leaf shape deltas); `anchor_idx` (per level, the shape part
//! each feature pixel is anchored to) and `deltas` (per level, the pixel's offset from that part).

use super::converted::{Converted, ImportError, Values};
use super::serialize::{DatError, Reader};

/// One regression tree: splits in breadth-first order and one shape delta per leaf.
#[derive(Debug, Clone, PartialEq)]
pub struct Tree {
    /// `(idx1, idx2, thresh)`: go left when `pixel[idx1] - pixel[idx2] > thresh`.
    pub splits: Vec<(u32, u32, f32)>,
    /// One shape delta (`2 × parts` values) per leaf.
    pub leaves: Vec<Vec<f32>>,
}

/// One level of the cascade.
#[derive(Debug, Clone, PartialEq)]
pub struct Level {
    /// The trees, applied in order.
    pub trees: Vec<Tree>,
    /// For each feature pixel, the shape part it is anchored to.
    pub anchor_idx: Vec<u32>,
    /// For each feature pixel, its offset from that part in the normalised frame.
    pub deltas: Vec<[f32; 2]>,
}

/// A whole shape predictor.
#[derive(Debug, Clone, PartialEq)]
pub struct ShapePredictorFile {
    /// The mean shape, `[x0, y0, x1, y1, ...]` in the box-normalised frame.
    pub initial_shape: Vec<f32>,
    /// The cascade levels.
    pub levels: Vec<Level>,
}

const MAX_ITEMS: usize = 1 << 24;

fn vec_of<T>(
    r: &mut Reader<'_>,
    what: &str,
    mut item: impl FnMut(&mut Reader<'_>) -> Result<T, DatError>,
) -> Result<Vec<T>, DatError> {
    let n = r.count(what, MAX_ITEMS)?;
    (0..n).map(|_| item(r)).collect()
}

fn column(r: &mut Reader<'_>) -> Result<Vec<f32>, DatError> {
    r.float_column()
}

/// Parses a shape predictor and checks that every index is in range and every tree is full.
pub fn parse_shape_predictor(bytes: &[u8]) -> Result<ShapePredictorFile, DatError> {
    let mut r = Reader::new(bytes);
    r.version("shape_predictor", &[1])?;
    let initial_shape = r.float_column()?;
    if initial_shape.is_empty() || initial_shape.len() % 2 != 0 {
        return Err(r.error("the initial shape must hold x and y of at least one part"));
    }
    let forests = vec_of(&mut r, "number of cascade levels", |r| {
        vec_of(r, "number of trees", |r| {
            let splits = vec_of(r, "number of splits", |r| {
                let a = r.count("feature index", u32::MAX as usize)? as u32;
                let b = r.count("feature index", u32::MAX as usize)? as u32;
                Ok((a, b, r.float()?))
            })?;
            let leaves = vec_of(r, "number of leaves", column)?;
            Ok(Tree { splits, leaves })
        })
    })?;
    let anchors = vec_of(&mut r, "number of anchor lists", |r| {
        vec_of(r, "number of anchors", |r| {
            Ok(r.count("anchor index", u32::MAX as usize)? as u32)
        })
    })?;
    let deltas = vec_of(&mut r, "number of delta lists", |r| {
        vec_of(r, "number of deltas", |r| Ok([r.float()?, r.float()?]))
    })?;
    if !r.at_end() {
        return Err(r.error("unexpected bytes after the shape predictor"));
    }
    if forests.len() != anchors.len() || forests.len() != deltas.len() {
        return Err(r.error("the cascade, anchor and delta lists differ in length"));
    }
    let parts = initial_shape.len() / 2;
    let mut levels = Vec::with_capacity(forests.len());
    for ((trees, anchor_idx), deltas) in forests.into_iter().zip(anchors).zip(deltas) {
        if anchor_idx.len() != deltas.len() || anchor_idx.iter().any(|&a| a as usize >= parts) {
            return Err(r.error("bad feature-pixel anchors"));
        }
        for tree in &trees {
            let full = tree.leaves.len() == tree.splits.len() + 1
                && tree.leaves.len().is_power_of_two()
                && tree.leaves.iter().all(|l| l.len() == initial_shape.len());
            let in_range = tree
                .splits
                .iter()
                .all(|&(a, b, _)| (a as usize) < deltas.len() && (b as usize) < deltas.len());
            if !full || !in_range {
                return Err(r.error("a regression tree is not full or indexes a missing pixel"));
            }
        }
        levels.push(Level {
            trees,
            anchor_idx,
            deltas,
        });
    }
    Ok(ShapePredictorFile {
        initial_shape,
        levels,
    })
}

/// The shape of a converted shape predictor (stored as its JSON config).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ShapePredictorConfig {
    /// Landmarks per face.
    pub num_parts: usize,
    /// Cascade levels.
    pub num_levels: usize,
    /// Trees per level.
    pub trees_per_level: usize,
    /// Splits per tree (leaves = splits + 1).
    pub splits_per_tree: usize,
    /// Feature pixels sampled per level.
    pub pixels_per_level: usize,
}

/// Converts a serialized `shape_predictor` whose levels and trees all have the same sizes (as
/// every predictor dlib's trainer writes).
pub fn convert_shape_predictor(bytes: &[u8]) -> Result<Converted, ImportError> {
    let sp = parse_shape_predictor(bytes)?;
    let first = sp
        .levels
        .first()
        .ok_or_else(|| ImportError::NotUniform("no levels".into()))?;
    let cfg = ShapePredictorConfig {
        num_parts: sp.initial_shape.len() / 2,
        num_levels: sp.levels.len(),
        trees_per_level: first.trees.len(),
        splits_per_tree: first.trees.first().map_or(0, |t| t.splits.len()),
        pixels_per_level: first.anchor_idx.len(),
    };
    let (mut features, mut thresholds, mut leaves, mut anchors, mut deltas) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for (i, level) in sp.levels.iter().enumerate() {
        if level.trees.len() != cfg.trees_per_level
            || level.anchor_idx.len() != cfg.pixels_per_level
        {
            return Err(ImportError::NotUniform(format!(
                "level {i} differs from level 0"
            )));
        }
        for tree in &level.trees {
            if tree.splits.len() != cfg.splits_per_tree {
                return Err(ImportError::NotUniform(format!(
                    "a tree of level {i} has another depth"
                )));
            }
            for &(a, b, t) in &tree.splits {
                features.extend([a, b]);
                thresholds.push(t);
            }
            leaves.extend(tree.leaves.iter().flatten());
        }
        anchors.extend(&level.anchor_idx);
        deltas.extend(level.deltas.iter().flatten());
    }
    let (c, t, s, p) = (
        cfg.num_levels,
        cfg.trees_per_level,
        cfg.splits_per_tree,
        cfg.pixels_per_level,
    );
    let tensors = vec![
        (
            "initial_shape".into(),
            vec![2 * cfg.num_parts],
            Values::F32(sp.initial_shape.clone()),
        ),
        (
            "splits.features".into(),
            vec![c, t, s, 2],
            Values::U32(features),
        ),
        (
            "splits.thresholds".into(),
            vec![c, t, s],
            Values::F32(thresholds),
        ),
        (
            "leaves".into(),
            vec![c, t, s + 1, 2 * cfg.num_parts],
            Values::F32(leaves),
        ),
        ("anchor_idx".into(), vec![c, p], Values::U32(anchors)),
        ("deltas".into(), vec![c, p, 2], Values::F32(deltas)),
    ];
    let config_json =
        serde_json::to_string(&cfg).map_err(|e| ImportError::Safetensors(e.to_string()))?;
    Ok(Converted {
        kind: "shape_predictor",
        tensors,
        config_json,
    })
}
