//! rollcall's port of dlib's face pipeline against dlib itself: 5-point landmarks, face chips
//! and 128-D embeddings.
//!
//! * `the_demo_faces_match_dlib` (always runs): values pinned in `tests/data/dlib_reference.json`,
//!   made by `tools/dlib_reference.py pins` (dlib 20.0.1 via the `face_recognition` package) on
//!   rollcall's decoding of `assets/demo/*.jpg` (see the script for the two commands).
//! * Ignored, run by hand: `parity_over_shared_faces` prints the agreement over a few hundred
//!   faces of the shared research data (LFW and AT&T), and `encoder_speed` prints the time of
//!   one embedding:
//!   `cargo test --test dlib_parity -- --ignored --nocapture parity_over_shared_faces`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout,
    clippy::float_cmp
)]

mod common;

use std::path::{Path, PathBuf};
use std::time::Instant;

use image::RgbImage;
use rollcall::core::{BBox, Metric, Point};
use rollcall::vision::FaceEncoder as _;
use rollcall::vision::dlib::{DlibEncoder, ShapePredictor, chip_from_eyes_nose_mouth, dlib_chip};
use rollcall::vision::image_io;

/// One face as `tools/dlib_reference.py` records it.
#[derive(serde::Deserialize)]
struct Face {
    image: String,
    decoded: Option<String>,
    chip: Option<String>,
    /// dlib's rectangle: left, top, right, bottom (inclusive).
    rect: [f32; 4],
    points: [[f32; 2]; 5],
    chip_fnv1a64: String,
    embedding: Vec<f32>,
    eyes_nose_mouth: [[f32; 2]; 5],
}

#[derive(serde::Deserialize)]
struct Reference {
    faces: Vec<Face>,
}

impl Face {
    fn bbox(&self) -> BBox {
        let [l, t, r, b] = self.rect;
        BBox::new(l, t, r - l + 1.0, b - t + 1.0)
    }
}

fn points(p: &[[f32; 2]; 5]) -> [Point; 5] {
    p.map(|[x, y]| Point::new(x, y))
}

fn fnv1a64(bytes: &[u8]) -> String {
    let h = bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    format!("{h:016x}")
}

fn cosine(a: &[f32], b: &[f32]) -> f32 {
    1.0 - Metric::Cosine.distance(a, b)
}

fn load_reference(path: &Path) -> Reference {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn the_demo_faces_match_dlib() {
    let reference = load_reference(&common::repo_file("tests/data/dlib_reference.json"));
    let sp = ShapePredictor::bundled().unwrap();
    let encoder = DlibEncoder::bundled(&candle_core::Device::Cpu).unwrap();
    assert_eq!(encoder.model_id().as_str(), "dlib-resnet-v1-d2bf01ef");
    assert_eq!((encoder.dim(), encoder.chip_size()), (128, 150));
    assert_eq!(encoder.default_threshold(), 0.6);
    let mut embeddings = Vec::new();
    for face in &reference.faces {
        let image = image_io::load_rgb(&common::repo_file(&face.image)).unwrap();
        let shape = sp.shape5(&image, face.bbox());
        assert_eq!(shape, points(&face.points), "{}: landmarks", face.image);
        let chip = dlib_chip(&image, &shape, 150, 0.25);
        assert_eq!(
            fnv1a64(chip.as_raw()),
            face.chip_fnv1a64,
            "{}: chip",
            face.image
        );
        let embedding = encoder.embed(&[chip]).unwrap().remove(0);
        let cos = cosine(&embedding, &face.embedding);
        let dist = Metric::Euclidean.distance(&embedding, &face.embedding);
        // Measured: cosine 1.000000, distance about 3e-6 (the pins have 6 decimals).
        assert!(
            cos >= 0.9999 && dist < 1e-3,
            "{}: cos {cos}, distance {dist}",
            face.image
        );
        embeddings.push(embedding);
    }
    // A batch gives the same vectors as one chip at a time.
    let chips: Vec<RgbImage> = reference
        .faces
        .iter()
        .map(|f| {
            let image = image_io::load_rgb(&common::repo_file(&f.image)).unwrap();
            dlib_chip(&image, &points(&f.points), 150, 0.25)
        })
        .collect();
    for (batched, single) in encoder.embed(&chips).unwrap().iter().zip(&embeddings) {
        assert!(Metric::Euclidean.distance(batched, single) < 1e-5);
    }
    // Obama (0 and 2) is the same person at dlib's 0.6; Biden (1) is not.
    let d = |i: usize, j: usize| Metric::Euclidean.distance(&embeddings[i], &embeddings[j]);
    assert!(
        d(0, 2) < 0.6 && d(0, 1) > 0.6 && d(1, 2) > 0.6,
        "{} {} {}",
        d(0, 2),
        d(0, 1),
        d(1, 2)
    );
}

#[test]
#[ignore = "writes the decoded demo photos for tools/dlib_reference.py pins"]
fn write_decoded_demo_images() {
    let out = common::repo_file("target/dlib-reference/decoded");
    std::fs::create_dir_all(&out).unwrap();
    for name in ["obama", "biden", "obama2"] {
        let image =
            image_io::load_rgb(&common::repo_file(&format!("assets/demo/{name}.jpg"))).unwrap();
        image.save(out.join(format!("{name}.png"))).unwrap();
    }
    println!("wrote {}", out.display());
}

/// `min / 1st percentile / median` (or with `high`, `median / 99th percentile / max`).
fn summary(mut v: Vec<f32>, high: bool) -> String {
    v.sort_by(f32::total_cmp);
    let at = |q: f32| v[((v.len() - 1) as f32 * q).round() as usize];
    if high {
        format!(
            "median {:.6} / p99 {:.6} / max {:.6}",
            at(0.5),
            at(0.99),
            at(1.0)
        )
    } else {
        format!(
            "min {:.6} / p1 {:.6} / median {:.6}",
            at(0.0),
            at(0.01),
            at(0.5)
        )
    }
}

#[test]
#[ignore = "needs tools/dlib_reference.py bulk output and the shared data; prints figures"]
fn parity_over_shared_faces() {
    let dir = std::env::var_os("ROLLCALL_DLIB_REFERENCE")
        .map_or_else(|| common::repo_file("target/dlib-reference"), PathBuf::from);
    let Some(shared) = common::shared_dir("parity_over_shared_faces") else {
        return;
    };
    if !dir.join("faces.json").is_file() {
        println!(
            "SKIPPED parity_over_shared_faces: no {}/faces.json; run tools/dlib_reference.py bulk",
            dir.display()
        );
        return;
    }
    let reference = load_reference(&dir.join("faces.json"));
    let sp = ShapePredictor::bundled().unwrap();
    let encoder = DlibEncoder::bundled(&candle_core::Device::Cpu).unwrap();
    let embed = |chip: RgbImage| encoder.embed(&[chip]).unwrap().remove(0);
    let (mut enc_cos, mut enc_dist, mut e2e_cos, mut own_cos, mut own_dist) =
        (vec![], vec![], vec![], vec![], vec![]);
    let (mut mtcnn_cos, mut mtcnn_dist) = (vec![], vec![]);
    let (mut same_points, mut point_err, mut same_chips, mut chip_err) = (0, vec![], 0, vec![]);
    for face in &reference.faces {
        let load =
            |name: &Option<String>| image_io::load_rgb(&dir.join(name.as_ref().unwrap())).unwrap();
        let (pixels, dlib_chip_img) = (load(&face.decoded), load(&face.chip));
        // The encoder alone, on dlib's own chip.
        let e = embed(dlib_chip_img.clone());
        enc_cos.push(cosine(&e, &face.embedding));
        enc_dist.push(Metric::Euclidean.distance(&e, &face.embedding));
        // Landmarks and chip on the same pixels dlib saw.
        let shape = sp.shape5(&pixels, face.bbox());
        let want = points(&face.points);
        same_points += usize::from(shape == want);
        point_err.push(
            shape
                .iter()
                .zip(&want)
                .map(|(a, b)| a.distance(*b))
                .fold(0.0, f32::max),
        );
        let chip = dlib_chip(&pixels, &shape, 150, 0.25);
        same_chips += usize::from(chip == dlib_chip_img);
        let diffs = chip.as_raw().iter().zip(dlib_chip_img.as_raw());
        chip_err.push(
            diffs.map(|(a, b)| f32::from(a.abs_diff(*b))).sum::<f32>() / (150.0 * 150.0 * 3.0),
        );
        e2e_cos.push(cosine(&embed(chip), &face.embedding));
        // The whole pipeline from rollcall's own decoding of the original file.
        let own = image_io::load_rgb(&shared.join("data/faces").join(&face.image)).unwrap();
        let shape = sp.shape5(&own, face.bbox());
        let e = embed(dlib_chip(&own, &shape, 150, 0.25));
        own_cos.push(cosine(&e, &face.embedding));
        own_dist.push(Metric::Euclidean.distance(&e, &face.embedding));
        // The MTCNN-style alignment, fed dlib's 68-point eye centres, nose tip and mouth corners.
        let m = embed(chip_from_eyes_nose_mouth(
            &pixels,
            &points(&face.eyes_nose_mouth),
            150,
        ));
        mtcnn_cos.push(cosine(&m, &face.embedding));
        mtcnn_dist.push(Metric::Euclidean.distance(&m, &face.embedding));
    }
    let n = reference.faces.len();
    println!("{n} faces from {}", dir.display());
    println!(
        "encoder on dlib's chips, cosine to dlib:      {}",
        summary(enc_cos, false)
    );
    println!(
        "encoder on dlib's chips, L2 distance to dlib:  {}",
        summary(enc_dist, true)
    );
    println!(
        "landmarks identical to dlib's: {same_points}/{n}; worst point error (px): {}",
        summary(point_err, true)
    );
    println!(
        "chips identical to dlib's: {same_chips}/{n}; mean abs pixel error: {}",
        summary(chip_err, true)
    );
    println!(
        "whole pipeline on dlib's pixels, cosine:       {}",
        summary(e2e_cos, false)
    );
    println!(
        "whole pipeline on rollcall's decoding, cosine: {}",
        summary(own_cos, false)
    );
    println!(
        "whole pipeline on rollcall's decoding, L2:     {}",
        summary(own_dist, true)
    );
    println!(
        "eyes-nose-mouth chips (68-point stand-in for MTCNN), cosine to dlib: {}",
        summary(mtcnn_cos, false)
    );
    println!(
        "eyes-nose-mouth chips, L2 distance to dlib:    {}",
        summary(mtcnn_dist, true)
    );
}

#[test]
#[ignore = "timing; run alone on a quiet machine"]
fn encoder_speed() {
    let encoder = DlibEncoder::bundled(&candle_core::Device::Cpu).unwrap();
    let image = image_io::load_rgb(&common::repo_file("assets/demo/obama.jpg")).unwrap();
    let sp = ShapePredictor::bundled().unwrap();
    let rect = BBox::new(349.0, 142.0, 269.0, 268.0);
    let chip = dlib_chip(&image, &sp.shape5(&image, rect), 150, 0.25);
    let time = |f: &mut dyn FnMut(), runs: usize| -> Vec<f64> {
        (0..runs)
            .map(|_| {
                let t = Instant::now();
                f();
                t.elapsed().as_secs_f64() * 1e3
            })
            .collect()
    };
    let _warm = time(
        &mut || drop(encoder.embed(std::slice::from_ref(&chip)).unwrap()),
        3,
    );
    let mut ms = time(
        &mut || drop(encoder.embed(std::slice::from_ref(&chip)).unwrap()),
        30,
    );
    ms.sort_by(f64::total_cmp);
    let mut align = time(
        &mut || drop(dlib_chip(&image, &sp.shape5(&image, rect), 150, 0.25)),
        30,
    );
    align.sort_by(f64::total_cmp);
    let cfg = rollcall::vision::dlib::resnet::Config::dlib_face_v1();
    let gflop = cfg.flops() as f64 / 1e9;
    let threads = std::env::var("RAYON_NUM_THREADS").unwrap_or_else(|_| "all cores".into());
    println!(
        "one embedding ({threads}): min {:.1} ms, median {:.1} ms over 30 runs",
        ms[0], ms[15]
    );
    println!(
        "network: {gflop:.3} GFLOP per face; {:.1} GFLOP/s at the median, {:.1} at the best run",
        gflop / ms[15] * 1e3,
        gflop / ms[0] * 1e3
    );
    println!(
        "landmarks + chip: min {:.2} ms, median {:.2} ms",
        align[0], align[15]
    );
}
