//! dlib's 5-point face landmark predictor (`shape_predictor_5_face_landmarks.dat`, a cascade of
//! regression trees, `dlib/image_processing/shape_predictor.h`), ported step for step so that
//! `shape5(image, rect)` gives the same integer points as dlib's `sp(img, rect)`.
//!
//! The five points, in dlib's order: the outer and inner corner of the eye on the image's
//! right (the person's left eye), the outer and inner corner of the other eye, and the base of
//! the nose.

use image::RgbImage;

use super::align::similarity;
use super::sp_file::ShapePredictorConfig;
use crate::core::{BBox, Point};
use crate::vision::VisionError;

/// The converted `shape_predictor_5_face_landmarks.dat` (see `assets/models/dlib/README.md`).
const BUNDLED: &[u8] =
    include_bytes!("../../../assets/models/dlib/shape_predictor_5_face_landmarks.safetensors");

/// A regression-tree cascade that places five landmarks inside a face rectangle.
pub struct ShapePredictor {
    cfg: ShapePredictorConfig,
    /// `[2·parts]`: the mean shape in the box-normalised frame.
    initial_shape: Vec<f32>,
    /// `[levels, trees, splits, 2]`: the two feature pixels each split compares.
    features: Vec<u32>,
    /// `[levels, trees, splits]`.
    thresholds: Vec<f32>,
    /// `[levels, trees, splits + 1, 2·parts]`: the shape update of each leaf.
    leaves: Vec<f32>,
    /// `[levels, pixels]`: the shape part each feature pixel hangs on.
    anchor_idx: Vec<u32>,
    /// `[levels, pixels, 2]`: the pixel's offset from that part, in the mean shape's frame.
    deltas: Vec<f32>,
}

fn tensor_values<T>(
    st: &safetensors::SafeTensors<'_>,
    name: &str,
    dtype: safetensors::Dtype,
    len: usize,
    from: fn([u8; 4]) -> T,
) -> Result<Vec<T>, String> {
    let view = st.tensor(name).map_err(|e| format!("{name}: {e}"))?;
    if view.dtype() != dtype || view.data().len() != len * 4 {
        return Err(format!("{name} has the wrong type or size"));
    }
    Ok(view
        .data()
        .chunks_exact(4)
        .map(|c| from([c[0], c[1], c[2], c[3]]))
        .collect())
}

impl ShapePredictor {
    /// The 5-point predictor built into rollcall.
    pub fn bundled() -> Result<Self, VisionError> {
        Self::from_safetensors(BUNDLED, "bundled dlib shape predictor")
    }

    /// A predictor from a converted safetensors file (`rollcall import-weights dlib`). Only
    /// 5-point models are accepted.
    pub fn from_safetensors(bytes: &[u8], name: &str) -> Result<Self, VisionError> {
        let bad = |reason: String| VisionError::BadModel {
            model: name.to_owned(),
            reason,
        };
        let st = safetensors::SafeTensors::deserialize(bytes).map_err(|e| bad(e.to_string()))?;
        let (_, meta) =
            safetensors::SafeTensors::read_metadata(bytes).map_err(|e| bad(e.to_string()))?;
        let cfg: ShapePredictorConfig = meta
            .metadata()
            .as_ref()
            .and_then(|m| m.get(super::resnet::CONFIG_KEY))
            .ok_or_else(|| bad("no config in the file's metadata".into()))
            .and_then(|c| serde_json::from_str(c).map_err(|e| bad(format!("bad config: {e}"))))?;
        if cfg.num_parts != 5 {
            return Err(bad(format!(
                "a {}-point model; rollcall needs the 5-point one",
                cfg.num_parts
            )));
        }
        let (c, t, s, p) = (
            cfg.num_levels,
            cfg.trees_per_level,
            cfg.splits_per_tree,
            cfg.pixels_per_level,
        );
        let (f32s, u32s) = (safetensors::Dtype::F32, safetensors::Dtype::U32);
        let sp = Self {
            initial_shape: tensor_values(&st, "initial_shape", f32s, 10, f32::from_le_bytes)
                .map_err(bad)?,
            features: tensor_values(
                &st,
                "splits.features",
                u32s,
                c * t * s * 2,
                u32::from_le_bytes,
            )
            .map_err(bad)?,
            thresholds: tensor_values(
                &st,
                "splits.thresholds",
                f32s,
                c * t * s,
                f32::from_le_bytes,
            )
            .map_err(bad)?,
            leaves: tensor_values(
                &st,
                "leaves",
                f32s,
                c * t * (s + 1) * 10,
                f32::from_le_bytes,
            )
            .map_err(bad)?,
            anchor_idx: tensor_values(&st, "anchor_idx", u32s, c * p, u32::from_le_bytes)
                .map_err(bad)?,
            deltas: tensor_values(&st, "deltas", f32s, c * p * 2, f32::from_le_bytes)
                .map_err(bad)?,
            cfg,
        };
        let pixels_ok = sp.features.iter().all(|&i| (i as usize) < p);
        let anchors_ok = sp.anchor_idx.iter().all(|&i| (i as usize) < 5);
        if !pixels_ok || !anchors_ok || !(s + 1).is_power_of_two() {
            return Err(bad("an index is out of range or a tree is not full".into()));
        }
        Ok(sp)
    }

    /// dlib's five landmarks (`sp(img, rect)`) for the face in `rect`. The box maps to dlib's
    /// rectangle `left = x, top = y, right = x + width - 1, bottom = y + height - 1`, so a
    /// dlib detector rectangle `(l, t, r, b)` is `BBox::new(l, t, r - l + 1, b - t + 1)`. The
    /// points are whole pixels, as dlib rounds them.
    #[must_use]
    pub fn shape5(&self, image: &RgbImage, rect: BBox) -> [Point; 5] {
        let (l, t) = (f64::from(rect.x), f64::from(rect.y));
        let (sx, sy) = (f64::from(rect.width) - 1.0, f64::from(rect.height) - 1.0);
        // dlib's unnormalizing_tform(rect): (0,0) -> top left, (1,1) -> bottom right.
        let to_image = |x: f32, y: f32| -> (i64, i64) {
            let round = |v: f64| (v + 0.5).floor() as i64;
            (round(sx * f64::from(x) + l), round(sy * f64::from(y) + t))
        };
        let cfg = &self.cfg;
        let (trees, splits, pixels) = (
            cfg.trees_per_level,
            cfg.splits_per_tree,
            cfg.pixels_per_level,
        );
        let (w, h) = (i64::from(image.width()), i64::from(image.height()));
        let mut shape = self.initial_shape.clone();
        let mut values = vec![0.0f32; pixels];
        for level in 0..cfg.num_levels {
            // The similarity (no translation) taking the mean shape to the current one, in f32.
            let pts = |s: &[f32]| -> Vec<(f64, f64)> {
                s.chunks_exact(2)
                    .map(|p| (f64::from(p[0]), f64::from(p[1])))
                    .collect()
            };
            let m = similarity(&pts(&self.initial_shape), &pts(&shape));
            let (a, b) = (m.a as f32, m.b as f32);
            for (i, v) in values.iter_mut().enumerate() {
                let k = level * pixels + i;
                let (dx, dy) = (self.deltas[2 * k], self.deltas[2 * k + 1]);
                let anchor = self.anchor_idx[k] as usize;
                let x = (a * dx + -b * dy) + shape[2 * anchor];
                let y = (b * dx + a * dy) + shape[2 * anchor + 1];
                let (px, py) = to_image(x, y);
                *v = if px >= 0 && py >= 0 && px < w && py < h {
                    let p = image.get_pixel(px as u32, py as u32);
                    f32::from(((u16::from(p[0]) + u16::from(p[1]) + u16::from(p[2])) / 3) as u8)
                } else {
                    0.0
                };
            }
            for tree in 0..trees {
                let base = level * trees + tree;
                let mut node = 0;
                while node < splits {
                    let f = (base * splits + node) * 2;
                    let diff =
                        values[self.features[f] as usize] - values[self.features[f + 1] as usize];
                    node = if diff > self.thresholds[base * splits + node] {
                        2 * node + 1
                    } else {
                        2 * node + 2
                    };
                }
                let leaf = &self.leaves[(base * (splits + 1) + node - splits) * 10..][..10];
                shape.iter_mut().zip(leaf).for_each(|(s, d)| *s += d);
            }
        }
        let mut out = [Point::default(); 5];
        for (o, p) in out.iter_mut().zip(shape.chunks_exact(2)) {
            let (x, y) = to_image(p[0], p[1]);
            *o = Point::new(x as f32, y as f32);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn odd_inputs_give_points_not_panics() {
        let sp = ShapePredictor::bundled().unwrap();
        // An empty image and a box outside it: every feature pixel reads as zero.
        let points = sp.shape5(&RgbImage::new(0, 0), BBox::new(-50.0, 10.0, 30.0, 30.0));
        assert!(points.iter().all(|p| p.x.is_finite() && p.y.is_finite()));
        let points = sp.shape5(&RgbImage::new(20, 20), BBox::default());
        assert!(points.iter().all(|p| p.x.is_finite()));
    }

    #[test]
    fn other_files_are_refused() {
        assert!(ShapePredictor::from_safetensors(b"nonsense", "x").is_err());
        let resnet = include_bytes!(
            "../../../assets/models/dlib/dlib_face_recognition_resnet_model_v1.safetensors"
        );
        let err = ShapePredictor::from_safetensors(resnet, "x").err().unwrap();
        assert!(err.to_string().contains("model x"), "{err}");
    }
}
