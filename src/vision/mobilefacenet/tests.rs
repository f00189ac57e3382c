//! MobileFaceNet's fast NHWC path against a plain candle version of the same network (NCHW
//! `conv2d` with groups, explicit TensorFlow padding, PReLU from `maximum`/`minimum`), on the
//! bundled weights; the TFLite parity pins are in `tests/mobilefacenet_parity.rs`.

use std::collections::HashMap;

use candle_core::{Device, Module, Tensor};

use super::ops::Padding;
use super::*;
use crate::testdata::tensors::{max_abs, max_abs_diff, seq};

/// A layer of the reference network, read from the same weights.
fn reference_conv(
    weights: &HashMap<String, Tensor>,
    name: &str,
    x: &Tensor,
    groups: usize,
    stride: usize,
    padding: Padding,
    act: bool,
) -> Tensor {
    let get = |what: &str| weights[&format!("{name}.{what}")].clone();
    let w = get("weight");
    let (c_out, _, k, _) = w.dims4().unwrap();
    assert_eq!(w.dim(1).unwrap(), x.dim(1).unwrap() / groups, "{name}");
    let (h, wd) = (x.dim(2).unwrap(), x.dim(3).unwrap());
    let (ho, py) = padding.plan(h, k, stride);
    let (wo, px) = padding.plan(wd, k, stride);
    let after_y = ((ho - 1) * stride + k).saturating_sub(h + py);
    let after_x = ((wo - 1) * stride + k).saturating_sub(wd + px);
    let x = x
        .pad_with_zeros(2, py, after_y)
        .unwrap()
        .pad_with_zeros(3, px, after_x)
        .unwrap();
    let b = get("bias").reshape((1, c_out, 1, 1)).unwrap();
    let y = x
        .conv2d(&w, 0, stride, 1, groups)
        .unwrap()
        .broadcast_add(&b)
        .unwrap();
    if !act {
        return y;
    }
    let a = get("prelu").reshape((1, c_out, 1, 1)).unwrap();
    let neg = y.minimum(0f32).unwrap().broadcast_mul(&a).unwrap();
    (y.maximum(0f32).unwrap() + neg).unwrap()
}

/// The whole network, NCHW, from candle's own ops.
fn reference_forward(vb: &HashMap<String, Tensor>, cfg: &Config, x_nchw: &Tensor) -> Tensor {
    let mut x = reference_conv(vb, "conv1", x_nchw, 1, 2, Padding::Same, true);
    x = reference_conv(vb, "dw_conv1", &x, 64, 1, Padding::Same, true);
    x = reference_conv(vb, "pw_conv1", &x, 1, 1, Padding::Same, false);
    let mut n = 0;
    let mut c_in = cfg.stem_channels;
    for s in &cfg.stages {
        for r in 0..s.repeats {
            let stride = if r == 0 { s.stride } else { 1 };
            let mid = c_in * s.expansion;
            let y = reference_conv(
                vb,
                &format!("blocks.{n}.expand"),
                &x,
                1,
                1,
                Padding::Same,
                true,
            );
            let y = reference_conv(
                vb,
                &format!("blocks.{n}.dw"),
                &y,
                mid,
                stride,
                Padding::Same,
                true,
            );
            let y = reference_conv(
                vb,
                &format!("blocks.{n}.project"),
                &y,
                1,
                1,
                Padding::Same,
                false,
            );
            x = if stride == 1 && c_in == s.channels {
                (y + &x).unwrap()
            } else {
                y
            };
            c_in = s.channels;
            n += 1;
        }
    }
    x = reference_conv(vb, "conv2", &x, 1, 1, Padding::Same, true);
    x = reference_conv(vb, "gdc", &x, cfg.last_channels, 1, Padding::Valid, false);
    x = reference_conv(vb, "linear", &x, 1, 1, Padding::Same, false);
    x = reference_conv(vb, "embedding", &x, 1, 1, Padding::Same, false);
    x.flatten_from(1).unwrap()
}

#[test]
fn the_fast_network_matches_candle_conv2d_on_the_bundled_weights() {
    let device = Device::Cpu;
    let encoder = MobileFaceNetEncoder::bundled(&device).unwrap();
    let cfg = encoder.net().config().clone();
    assert_eq!(cfg, Config::mobilefacenet());
    let vb = candle_core::safetensors::load_buffer(BUNDLED_WEIGHTS, &device).unwrap();
    // Two different "chips" in [-1, 1].
    let x = (seq(&[2, 112, 112, 3], 0.02).tanh().unwrap() * 0.99).unwrap();
    let fast = encoder.net().forward(&x).unwrap();
    let reference = reference_forward(
        &vb,
        &cfg,
        &x.permute((0, 3, 1, 2)).unwrap().contiguous().unwrap(),
    );
    assert_eq!(fast.dims(), &[2, 192]);
    let scale = max_abs(&reference);
    let diff = max_abs_diff(&fast, &reference);
    assert!(
        diff <= 1e-4 * scale.max(1.0),
        "max difference {diff} (output scale {scale})"
    );
    // The same network on the calling thread alone (one share of faces per thread).
    let alone = encoder.net().forward_on(&x, false).unwrap();
    let diff = max_abs_diff(&alone, &reference);
    assert!(
        diff <= 1e-4 * scale.max(1.0),
        "on one thread: max difference {diff} (output scale {scale})"
    );
}

#[test]
fn a_batch_split_over_threads_gives_each_face_its_own_embedding_in_order() {
    let encoder = MobileFaceNetEncoder::bundled(&Device::Cpu).unwrap();
    let chips: Vec<image::RgbImage> = (0..5u32)
        .map(|i| {
            image::RgbImage::from_fn(112, 112, |x, y| {
                image::Rgb([(x * (i + 1)) as u8, (y + 40 * i) as u8, (x ^ y) as u8])
            })
        })
        .collect();
    let one_by_one: Vec<Vec<f32>> = chips
        .iter()
        .map(|c| {
            encoder
                .raw_embeddings(std::slice::from_ref(c))
                .unwrap()
                .remove(0)
        })
        .collect();
    for threads in [1, 2, 3] {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        let batch = pool.install(|| encoder.raw_embeddings(&chips)).unwrap();
        assert_eq!(batch.len(), chips.len());
        for (i, (a, b)) in batch.iter().zip(&one_by_one).enumerate() {
            let diff = a
                .iter()
                .zip(b)
                .map(|(x, y)| (x - y).abs())
                .fold(0f32, f32::max);
            let scale = b.iter().map(|x| x.abs()).fold(0f32, f32::max);
            assert!(
                diff <= 1e-5 * scale.max(1.0),
                "{threads} threads, face {i}: {diff}"
            );
        }
    }
    // Faces that differ get embeddings that differ: the order is not a copy of one face.
    assert!(one_by_one[0] != one_by_one[1]);
}

#[test]
fn the_bundled_encoder_describes_itself() {
    let encoder = MobileFaceNetEncoder::bundled(&Device::Cpu).unwrap();
    assert!(encoder.model_id().as_str().starts_with(MODEL_ID_PREFIX));
    assert_eq!((encoder.dim(), encoder.chip_size()), (192, 112));
    assert_eq!(encoder.chip_style(), ChipStyle::ArcFace);
    // 1.29 M parameters and about 0.23 G multiply-adds, as published.
    let params: usize = safetensors::SafeTensors::deserialize(BUNDLED_WEIGHTS)
        .unwrap()
        .tensors()
        .iter()
        .map(|(_, t)| t.shape().iter().product::<usize>())
        .sum();
    assert_eq!(params, 1_292_992);
    assert!((220_000_000..240_000_000).contains(&macs()), "{}", macs());
}

#[test]
fn embeddings_have_unit_length_and_bad_chips_are_refused() {
    let encoder = MobileFaceNetEncoder::bundled(&Device::Cpu).unwrap();
    let chip = image::RgbImage::from_fn(112, 112, |x, y| image::Rgb([x as u8, y as u8, 128]));
    let v = encoder.embed(std::slice::from_ref(&chip)).unwrap();
    let norm: f32 = v[0].iter().map(|x| x * x).sum::<f32>().sqrt();
    assert!((norm - 1.0).abs() < 1e-5);
    assert!(encoder.embed(&[]).unwrap().is_empty());
    assert!(matches!(
        encoder.embed(&[image::RgbImage::new(150, 150)]),
        Err(VisionError::BadInput(_))
    ));
    assert!(MobileFaceNetEncoder::from_safetensors(b"nonsense", "x", &Device::Cpu).is_err());
}

#[test]
fn a_team_of_two_to_four_threads_gives_each_face_what_one_thread_gives() {
    let encoder = MobileFaceNetEncoder::bundled(&Device::Cpu).unwrap();
    let chips: Vec<image::RgbImage> = (0..4u32)
        .map(|i| {
            image::RgbImage::from_fn(112, 112, |x, y| {
                image::Rgb([
                    (x * (i + 2)) as u8,
                    (y * 3 + 17 * i) as u8,
                    (x ^ (y + i)) as u8,
                ])
            })
        })
        .collect();
    let alone: Vec<Vec<f32>> = chips
        .iter()
        .map(|c| encoder.raw_alone(c).unwrap())
        .collect();
    assert!(team::Team::new(encoder.net(), 1).is_none());
    for threads in 2..=team::MAX_THREADS + 1 {
        let mut team = team::Team::new(encoder.net(), threads).unwrap();
        assert_eq!(team.threads(), threads.min(team::MAX_THREADS));
        // Each face twice, in turn: buffers kept from the face before must not leak into it.
        for round in 0..2 {
            for (i, (chip, want)) in chips.iter().zip(&alone).enumerate() {
                let values = encoder.input_values(std::slice::from_ref(chip)).unwrap();
                let got = team.forward(values).unwrap();
                let diff = got
                    .iter()
                    .zip(want)
                    .map(|(x, y)| (x - y).abs())
                    .fold(0f32, f32::max);
                let scale = want.iter().map(|x| x.abs()).fold(0f32, f32::max);
                assert!(
                    diff <= 1e-5 * scale.max(1.0),
                    "{threads} threads, round {round}, face {i}: {diff}"
                );
            }
        }
        // A wrong-sized chip is refused before any thread starts on it, and the next face
        // still comes out right.
        assert!(team.forward(vec![0.0; 10]).is_err());
        let values = encoder
            .input_values(std::slice::from_ref(&chips[0]))
            .unwrap();
        assert_eq!(team.forward(values).unwrap().len(), alone[0].len());
    }
    // The encoder's own one-face path (a team on a pool of two) gives the same.
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build()
        .unwrap();
    let got = pool
        .install(|| encoder.raw_embeddings(std::slice::from_ref(&chips[1])))
        .unwrap();
    assert!(matches!(
        *encoder.team.lock().unwrap(),
        TeamState::Ready(..)
    ));
    let diff = got[0]
        .iter()
        .zip(&alone[1])
        .map(|(x, y)| (x - y).abs())
        .fold(0f32, f32::max);
    assert!(diff <= 1e-5, "{diff}");
}

#[test]
fn the_chooser_takes_the_faster_way_and_tries_the_other_now_and_then() {
    use std::time::Duration;
    let ms = |v: u64| Duration::from_millis(v);
    let probe = team::Chooser::PROBE_EVERY;
    let mut c = team::Chooser::default();
    // The team first (its first pass, which starts the helpers, is not timed), then once alone.
    assert!(c.team_next());
    c.record(true, ms(50));
    assert!(c.team_next());
    c.record(true, ms(3));
    assert!(!c.team_next());
    c.record(false, ms(6));
    // Runs `faces` faces that take `team` or `alone` ms; returns which went to the team.
    let mut run = |faces: u64, team: u64, alone: u64| -> Vec<bool> {
        (0..faces)
            .map(|_| {
                let on_team = c.team_next();
                c.record(on_team, ms(if on_team { team } else { alone }));
                on_team
            })
            .collect()
    };
    // The team is faster: it gets every face but one in PROBE_EVERY.
    let quiet = run(probe * 4, 3, 6);
    assert_eq!(quiet.iter().filter(|&&t| !t).count(), 4);
    // One slow face on the team (a moment of load) does not turn it off.
    let blip = run(1, 20, 6);
    assert!(blip[0]);
    let after = run(probe, 3, 6);
    assert!(after.iter().filter(|&&t| !t).count() <= 1, "{after:?}");
    // The other cores stay busy: after three slow faces the team gets only the tries.
    let busy = run(probe * 4, 9, 6);
    assert!(busy[..3].iter().all(|&t| t), "{busy:?}");
    assert!(busy[3..].iter().filter(|&&t| t).count() <= 4, "{busy:?}");
    // They are free again: the next try of the team wins it back.
    let free = run(probe * 2, 3, 6);
    let tail = &free[free.len() - probe as usize..];
    assert_eq!(tail.iter().filter(|&&t| !t).count(), 1, "{free:?}");
}
