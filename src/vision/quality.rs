//! Quality figures of a face (size, sharpness, exposure, pose), measured on the photo and on
//! its aligned chip. The judgement and the advice live in `core::quality`.

use image::RgbImage;

use super::mtcnn::FaceDetection;
use crate::core::quality::QualityFigures;

/// Measures a detected face: `chip` is its aligned face chip, `faces_found` how many faces the
/// photo had.
#[must_use]
pub fn measure(detection: &FaceDetection, chip: &RgbImage, faces_found: usize) -> QualityFigures {
    let [left_eye, right_eye, nose, _, _] = detection.landmarks;
    let interocular_px = left_eye.distance(right_eye);
    let mid_x = f32::midpoint(left_eye.x, right_eye.x);
    let yaw = if interocular_px > 0.0 {
        (nose.x - mid_x) / (interocular_px / 2.0)
    } else {
        0.0
    };
    let roll_deg = (right_eye.y - left_eye.y)
        .atan2(right_eye.x - left_eye.x)
        .to_degrees();
    let grey = grey(chip);
    let (w, h) = (chip.width() as usize, chip.height() as usize);
    // Exposure is judged on the face itself: the chip's padding holds background, and the
    // black fill outside the photo when a face comes close to the camera.
    let face = central_half(&grey, w, h);
    let brightness = if face.is_empty() {
        0.0
    } else {
        face.iter().map(|&v| f64::from(v)).sum::<f64>() / face.len() as f64
    };
    let clipped = face.iter().filter(|&&v| v <= 5.0 || v >= 250.0).count();
    QualityFigures {
        faces_found,
        detection_score: detection.score,
        interocular_px,
        sharpness: laplacian_variance(&grey, w, h),
        brightness: brightness as f32,
        clipped_fraction: if face.is_empty() {
            0.0
        } else {
            clipped as f32 / face.len() as f32
        },
        yaw,
        roll_deg,
    }
}

/// Grey levels (ITU-R BT.601 luma), row-major.
fn grey(image: &RgbImage) -> Vec<f32> {
    image
        .pixels()
        .map(|p| 0.299 * f32::from(p[0]) + 0.587 * f32::from(p[1]) + 0.114 * f32::from(p[2]))
        .collect()
}

/// The grey levels of the chip's central half (a quarter of the side in from every edge; the
/// whole chip when it is smaller than 4 pixels).
fn central_half(grey: &[f32], width: usize, height: usize) -> Vec<f32> {
    if width < 4 || height < 4 || grey.len() < width * height {
        return grey.to_vec();
    }
    (height / 4..3 * height / 4)
        .flat_map(|y| (width / 4..3 * width / 4).map(move |x| y * width + x))
        .map(|i| grey[i])
        .collect()
}

/// Variance of the 4-neighbour Laplacian over the central half of the chip (the face itself,
/// not the background): low values mean a blurry photo.
#[must_use]
pub fn laplacian_variance(grey: &[f32], width: usize, height: usize) -> f32 {
    if width < 3 || height < 3 || grey.len() < width * height {
        return 0.0;
    }
    let (x0, x1) = ((width / 4).max(1), (3 * width / 4).min(width - 1));
    let (y0, y1) = ((height / 4).max(1), (3 * height / 4).min(height - 1));
    let (mut sum, mut sum_sq, mut n) = (0.0f64, 0.0f64, 0usize);
    for y in y0..y1 {
        for x in x0..x1 {
            let c = grey[y * width + x];
            let lap = grey[(y - 1) * width + x]
                + grey[(y + 1) * width + x]
                + grey[y * width + x - 1]
                + grey[y * width + x + 1]
                - 4.0 * c;
            sum += f64::from(lap);
            sum_sq += f64::from(lap) * f64::from(lap);
            n += 1;
        }
    }
    if n == 0 {
        return 0.0;
    }
    let mean = sum / n as f64;
    (sum_sq / n as f64 - mean * mean).max(0.0) as f32
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::{BBox, Point};

    #[test]
    fn flat_images_have_no_sharpness_and_checkerboards_have_a_lot() {
        let flat = vec![100.0f32; 20 * 20];
        assert_eq!(laplacian_variance(&flat, 20, 20), 0.0);
        let checker: Vec<f32> = (0..400)
            .map(|i| {
                if (i % 20 + i / 20) % 2 == 0 {
                    0.0
                } else {
                    255.0
                }
            })
            .collect();
        // Every Laplacian is ±1020, so the variance is 1020².
        assert!((laplacian_variance(&checker, 20, 20) - 1_040_400.0).abs() < 1.0);
        assert_eq!(laplacian_variance(&flat, 2, 2), 0.0);
    }

    #[test]
    fn pose_and_size_come_from_the_landmarks() {
        let detection = FaceDetection {
            bbox: BBox::new(0.0, 0.0, 100.0, 100.0),
            score: 0.99,
            // Eyes 40 px apart, level; the nose 10 px right of their midpoint.
            landmarks: [
                Point::new(30.0, 40.0),
                Point::new(70.0, 40.0),
                Point::new(60.0, 60.0),
                Point::new(35.0, 80.0),
                Point::new(65.0, 80.0),
            ],
        };
        let chip = RgbImage::from_pixel(10, 10, image::Rgb([255, 255, 255]));
        let q = measure(&detection, &chip, 2);
        assert!((q.interocular_px - 40.0).abs() < 1e-4);
        assert!((q.yaw - 0.5).abs() < 1e-4);
        assert!(q.roll_deg.abs() < 1e-4);
        assert_eq!(q.faces_found, 2);
        assert!((q.brightness - 255.0).abs() < 1e-3);
        assert!((q.clipped_fraction - 1.0).abs() < 1e-6);
    }

    #[test]
    fn exposure_ignores_the_black_fill_around_a_close_face() {
        let detection = FaceDetection {
            bbox: BBox::new(0.0, 0.0, 100.0, 100.0),
            score: 0.99,
            landmarks: [Point::new(30.0, 40.0); 5],
        };
        // A well-lit face in the middle of the chip, black all around it (outside the photo).
        let chip = RgbImage::from_fn(40, 40, |x, y| {
            if (10..30).contains(&x) && (10..30).contains(&y) {
                image::Rgb([120, 120, 120])
            } else {
                image::Rgb([0, 0, 0])
            }
        });
        let q = measure(&detection, &chip, 1);
        assert!(q.clipped_fraction.abs() < 1e-6, "{}", q.clipped_fraction);
        assert!((q.brightness - 120.0).abs() < 1.0, "{}", q.brightness);
    }
}
