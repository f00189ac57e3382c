//! Points and axis-aligned boxes in image pixels.

/// A point in image pixels.
#[derive(Clone, Copy, Debug, PartialEq, Default, serde::Serialize, serde::Deserialize)]
pub struct Point {
    /// Column, in pixels from the left edge.
    pub x: f32,
    /// Row, in pixels from the top edge.
    pub y: f32,
}

impl Point {
    /// A point at `(x, y)`.
    #[must_use]
    pub fn new(x: f32, y: f32) -> Self {
        Self { x, y }
    }

    /// Euclidean distance to `other`.
    #[must_use]
    pub fn distance(self, other: Self) -> f32 {
        (self.x - other.x).hypot(self.y - other.y)
    }
}

/// An axis-aligned box in image pixels.
#[derive(Clone, Copy, Debug, PartialEq, Default, serde::Serialize, serde::Deserialize)]
pub struct BBox {
    /// Left edge.
    pub x: f32,
    /// Top edge.
    pub y: f32,
    /// Width (never negative).
    pub width: f32,
    /// Height (never negative).
    pub height: f32,
}

impl BBox {
    /// A box from its left-top corner and size; negative sizes become zero.
    #[must_use]
    pub fn new(x: f32, y: f32, width: f32, height: f32) -> Self {
        Self {
            x,
            y,
            width: width.max(0.0),
            height: height.max(0.0),
        }
    }

    /// A box from two corners.
    #[must_use]
    pub fn from_corners(x1: f32, y1: f32, x2: f32, y2: f32) -> Self {
        Self::new(x1.min(x2), y1.min(y2), (x2 - x1).abs(), (y2 - y1).abs())
    }

    /// The area in square pixels.
    #[must_use]
    pub fn area(&self) -> f32 {
        self.width * self.height
    }

    /// The centre point.
    #[must_use]
    pub fn center(&self) -> Point {
        Point::new(self.x + self.width / 2.0, self.y + self.height / 2.0)
    }

    /// Right edge.
    #[must_use]
    pub fn right(&self) -> f32 {
        self.x + self.width
    }

    /// Bottom edge.
    #[must_use]
    pub fn bottom(&self) -> f32 {
        self.y + self.height
    }

    /// Whether `p` lies inside the box (edges included).
    #[must_use]
    pub fn contains(&self, p: Point) -> bool {
        p.x >= self.x && p.x <= self.right() && p.y >= self.y && p.y <= self.bottom()
    }

    /// Intersection over union with `other`, in `[0, 1]`.
    #[must_use]
    pub fn iou(&self, other: &Self) -> f32 {
        let ix = (self.right().min(other.right()) - self.x.max(other.x)).max(0.0);
        let iy = (self.bottom().min(other.bottom()) - self.y.max(other.y)).max(0.0);
        let inter = ix * iy;
        let union = self.area() + other.area() - inter;
        if union <= 0.0 { 0.0 } else { inter / union }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_box_contains_its_inside_and_edges_only() {
        let b = BBox::new(10.0, 20.0, 30.0, 40.0);
        assert!(b.contains(b.center()));
        assert!(b.contains(Point::new(10.0, 60.0)));
        assert!(!b.contains(Point::new(9.9, 30.0)));
        assert!(!b.contains(Point::new(20.0, 60.1)));
    }

    #[test]
    fn iou_of_hand_made_boxes() {
        let a = BBox::new(0.0, 0.0, 10.0, 10.0);
        assert!((a.iou(&a) - 1.0).abs() < 1e-6);
        // Half overlap: intersection 50, union 150.
        let b = BBox::new(5.0, 0.0, 10.0, 10.0);
        assert!((a.iou(&b) - 50.0 / 150.0).abs() < 1e-6);
        assert_eq!(a.iou(&BBox::new(20.0, 20.0, 5.0, 5.0)), 0.0);
        assert_eq!(BBox::default().iou(&BBox::default()), 0.0);
        assert_eq!(BBox::from_corners(10.0, 10.0, 0.0, 0.0), a);
    }
}
