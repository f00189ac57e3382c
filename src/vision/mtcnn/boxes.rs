//! Candidate boxes between the MTCNN stages and the box arithmetic of facenet-pytorch's
//! `detect_face`: P-Net box generation, non-maximum suppression (torchvision's `IoU` flavour and
//! the original MATLAB/numpy "Min" flavour), bounding-box regression (`bbreg`), squaring
//! (`rerec`) and the integer crop window (`pad`).
//!
//! Boxes are corners `x1, y1, x2, y2` in original image pixels, in `f32` as in PyTorch.

/// A face candidate: corners, score and the regression offsets the net predicted for it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) struct Candidate {
    /// Left edge.
    pub x1: f32,
    /// Top edge.
    pub y1: f32,
    /// Right edge.
    pub x2: f32,
    /// Bottom edge.
    pub y2: f32,
    /// Face probability from the last net that looked at it.
    pub score: f32,
    /// Offsets `dx1, dy1, dx2, dy2`, in units of the box size.
    pub reg: [f32; 4],
}

impl Candidate {
    /// A candidate with no regression offsets.
    pub fn new(x1: f32, y1: f32, x2: f32, y2: f32, score: f32) -> Self {
        Self {
            x1,
            y1,
            x2,
            y2,
            score,
            reg: [0.0; 4],
        }
    }
}

/// How two boxes' overlap is measured in non-maximum suppression.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Overlap {
    /// Intersection over union with continuous areas, as `torchvision.ops.nms`.
    Union,
    /// Intersection over the smaller box, with MATLAB-style `+1` pixel areas, as
    /// facenet-pytorch's `nms_numpy(..., 'Min')`.
    Min,
}

/// Non-maximum suppression: the indices of the boxes kept, highest score first. A box is
/// dropped when its overlap with a higher-scoring kept box is above `threshold`.
pub(super) fn nms(boxes: &[Candidate], threshold: f32, overlap: Overlap) -> Vec<usize> {
    let mut order: Vec<usize> = (0..boxes.len()).collect();
    order.sort_by(|&a, &b| boxes[b].score.total_cmp(&boxes[a].score));
    let plus = match overlap {
        Overlap::Union => 0.0,
        Overlap::Min => 1.0,
    };
    let area = |b: &Candidate| (b.x2 - b.x1 + plus) * (b.y2 - b.y1 + plus);
    let mut suppressed = vec![false; boxes.len()];
    let mut keep = Vec::new();
    for (rank, &i) in order.iter().enumerate() {
        if suppressed[i] {
            continue;
        }
        keep.push(i);
        let a = &boxes[i];
        let area_a = area(a);
        for &j in &order[rank + 1..] {
            if suppressed[j] {
                continue;
            }
            let b = &boxes[j];
            let w = (a.x2.min(b.x2) - a.x1.max(b.x1) + plus).max(0.0);
            let h = (a.y2.min(b.y2) - a.y1.max(b.y1) + plus).max(0.0);
            let inter = w * h;
            let ratio = match overlap {
                Overlap::Union => inter / (area_a + area(b) - inter),
                Overlap::Min => inter / area_a.min(area(b)),
            };
            if ratio > threshold {
                suppressed[j] = true;
            }
        }
    }
    keep
}

/// The boxes at `indices`, in that order.
pub(super) fn pick(boxes: &[Candidate], indices: &[usize]) -> Vec<Candidate> {
    indices.iter().map(|&i| boxes[i]).collect()
}

/// P-Net's candidates at one pyramid scale (facenet-pytorch `generateBoundingBox`): every cell
/// of the `[height, width]` probability map at or above `threshold` becomes the 12-pixel
/// window it saw, mapped back to the original image. `reg` is the `[4, height, width]` map.
pub(super) fn pnet_candidates(
    prob: &[f32],
    reg: &[f32],
    (height, width): (usize, usize),
    scale: f32,
    threshold: f32,
) -> Vec<Candidate> {
    const STRIDE: f32 = 2.0;
    const CELL: f32 = 12.0;
    let plane = height * width;
    let mut out = Vec::new();
    for (k, &score) in prob.iter().enumerate().take(plane) {
        if score < threshold {
            continue;
        }
        let (y, x) = ((k / width) as f32, (k % width) as f32);
        let mut c = Candidate::new(
            ((STRIDE * x + 1.0) / scale).floor(),
            ((STRIDE * y + 1.0) / scale).floor(),
            ((STRIDE * x + CELL) / scale).floor(),
            ((STRIDE * y + CELL) / scale).floor(),
            score,
        );
        for (d, r) in c.reg.iter_mut().enumerate() {
            *r = reg[d * plane + k];
        }
        out.push(c);
    }
    out
}

/// Applies P-Net's offsets, which (unlike `bbreg`) scale by `x2 - x1` without the `+1`.
pub(super) fn apply_pnet_reg(c: &mut Candidate) {
    let (w, h) = (c.x2 - c.x1, c.y2 - c.y1);
    c.x1 += c.reg[0] * w;
    c.y1 += c.reg[1] * h;
    c.x2 += c.reg[2] * w;
    c.y2 += c.reg[3] * h;
}

/// Bounding-box regression of R-Net and O-Net (facenet-pytorch `bbreg`).
pub(super) fn bbreg(c: &mut Candidate, reg: [f32; 4]) {
    let w = c.x2 - c.x1 + 1.0;
    let h = c.y2 - c.y1 + 1.0;
    c.x1 += reg[0] * w;
    c.y1 += reg[1] * h;
    c.x2 += reg[2] * w;
    c.y2 += reg[3] * h;
}

/// Makes a box square around its centre, with the longer side (facenet-pytorch `rerec`).
pub(super) fn rerec(c: &mut Candidate) {
    let h = c.y2 - c.y1;
    let w = c.x2 - c.x1;
    let l = w.max(h);
    c.x1 = c.x1 + w * 0.5 - l * 0.5;
    c.y1 = c.y1 + h * 0.5 - l * 0.5;
    c.x2 = c.x1 + l;
    c.y2 = c.y1 + l;
}

/// The pixel window a refinement net sees for a box: columns `x0..x1`, rows `y0..y1`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct CropWindow {
    /// First column.
    pub x0: usize,
    /// First row.
    pub y0: usize,
    /// One past the last column.
    pub x1: usize,
    /// One past the last row.
    pub y1: usize,
}

/// The crop of a box as facenet-pytorch's `pad` and slicing take it: corners truncated toward
/// zero, the left-top clamped to pixel 1 (1-based), the right-bottom to the image size, and the
/// rows `y - 1 .. ey`, columns `x - 1 .. ex` taken. `None` when nothing is left (a box wholly
/// outside the image; facenet-pytorch skips those crops too).
pub(super) fn crop_window(c: &Candidate, width: usize, height: usize) -> Option<CropWindow> {
    // `as i64` truncates toward zero like `Tensor.trunc().int()` and saturates on NaN/inf.
    let x = (c.x1.trunc() as i64).max(1);
    let y = (c.y1.trunc() as i64).max(1);
    let ex = (c.x2.trunc() as i64).min(width as i64);
    let ey = (c.y2.trunc() as i64).min(height as i64);
    if ex > x - 1 && ey > y - 1 {
        Some(CropWindow {
            x0: (x - 1) as usize,
            y0: (y - 1) as usize,
            x1: ex as usize,
            y1: ey as usize,
        })
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn union_nms_keeps_the_best_of_each_cluster() {
        // Two heavy overlaps (IoU 81/119 = 0.68) and one box far away.
        let boxes = [
            Candidate::new(0.0, 0.0, 10.0, 10.0, 0.8),
            Candidate::new(1.0, 1.0, 11.0, 11.0, 0.9),
            Candidate::new(50.0, 50.0, 60.0, 60.0, 0.7),
        ];
        assert_eq!(nms(&boxes, 0.5, Overlap::Union), vec![1, 2]);
        // Above the overlap the first box survives too.
        assert_eq!(nms(&boxes, 0.7, Overlap::Union), vec![1, 0, 2]);
        assert!(nms(&[], 0.5, Overlap::Union).is_empty());
    }

    #[test]
    fn min_nms_suppresses_a_box_inside_another() {
        // A small box wholly inside a big one: IoU is small, but overlap over the smaller is 1.
        let boxes = [
            Candidate::new(0.0, 0.0, 99.0, 99.0, 0.99),
            Candidate::new(10.0, 10.0, 19.0, 19.0, 0.95),
        ];
        assert_eq!(nms(&boxes, 0.7, Overlap::Union), vec![0, 1]);
        assert_eq!(nms(&boxes, 0.7, Overlap::Min), vec![0]);
        // Corner-touching boxes overlap by one pixel with the +1 areas: 1 / 100 = 0.01.
        let touching = [
            Candidate::new(0.0, 0.0, 9.0, 9.0, 0.9),
            Candidate::new(9.0, 9.0, 18.0, 18.0, 0.8),
        ];
        assert_eq!(nms(&touching, 0.0, Overlap::Min), vec![0]);
        assert_eq!(nms(&touching, 0.0, Overlap::Union), vec![0, 1]);
    }

    #[test]
    fn regression_squaring_and_crops_on_hand_made_boxes() {
        let mut c = Candidate::new(10.0, 20.0, 29.0, 59.0, 1.0);
        // Width and height with the +1: 20 and 40.
        bbreg(&mut c, [0.1, -0.25, 0.5, 0.0]);
        assert_eq!((c.x1, c.y1, c.x2, c.y2), (12.0, 10.0, 39.0, 59.0));
        rerec(&mut c);
        // 27 x 49 becomes 49 x 49 around the same centre (25.5, 34.5).
        assert_eq!((c.x1, c.y1, c.x2, c.y2), (1.0, 10.0, 50.0, 59.0));

        let mut p = Candidate::new(10.0, 10.0, 20.0, 30.0, 0.9);
        p.reg = [0.1, 0.1, -0.1, 0.5];
        apply_pnet_reg(&mut p);
        assert_eq!((p.x1, p.y1, p.x2, p.y2), (11.0, 12.0, 19.0, 40.0));

        let inside = Candidate::new(-5.7, 3.9, 200.2, 40.5, 0.9);
        assert_eq!(
            crop_window(&inside, 100, 80),
            Some(CropWindow {
                x0: 0,
                y0: 2,
                x1: 100,
                y1: 40
            })
        );
        assert_eq!(
            crop_window(&Candidate::new(150.0, 10.0, 160.0, 20.0, 0.9), 100, 80),
            None
        );
        assert_eq!(
            crop_window(&Candidate::new(f32::NAN, 0.0, 5.0, 5.0, 0.9), 100, 80),
            Some(CropWindow {
                x0: 0,
                y0: 0,
                x1: 5,
                y1: 5
            })
        );
    }

    #[test]
    fn pnet_candidates_map_cells_back_to_the_image() {
        // A 2 x 3 map; only cell (row 1, column 2) passes.
        let prob = [0.1, 0.2, 0.3, 0.4, 0.5, 0.95];
        let reg: Vec<f32> = (0..24).map(|i| i as f32 / 100.0).collect();
        let c = pnet_candidates(&prob, &reg, (2, 3), 0.5, 0.6);
        assert_eq!(c.len(), 1);
        // x = 2, y = 1: ((2 * 2 + 1) / 0.5, (2 * 1 + 1) / 0.5, (4 + 12) / 0.5, (2 + 12) / 0.5).
        assert_eq!(
            (c[0].x1, c[0].y1, c[0].x2, c[0].y2),
            (10.0, 6.0, 32.0, 28.0)
        );
        assert_eq!(c[0].score, 0.95);
        assert_eq!(c[0].reg, [0.05, 0.11, 0.17, 0.23]);
        // The threshold is inclusive, as `probs >= thresh`.
        assert_eq!(pnet_candidates(&prob, &reg, (2, 3), 1.0, 0.5).len(), 2);
    }
}
