//! Tests of the `.dat` importer: synthetic files written here in dlib's format (always), and
//! the real model files when they have been downloaded (skipped with a note otherwise).

use std::path::PathBuf;

use super::*;
use crate::vision::FaceEncoder as _;
use crate::vision::dlib::net_file::parse_net;
use crate::vision::dlib::resnet::{DlibEncoder, LevelConfig};
use crate::vision::dlib::serialize::Writer;
use crate::vision::dlib::sp_file::ShapePredictorConfig;
use crate::vision::dlib::testnet::{Rng, reference_forward, synthetic_resnet, write_net};

/// The face-ResNet layout with a handful of channels per conv.
fn tiny_config() -> Config {
    let level = |channels, num_blocks, downsample| LevelConfig {
        channels,
        num_blocks,
        downsample,
    };
    Config {
        input_size: 150,
        mean_rgb: [122.782, 117.001, 104.298],
        stem_channels: 3,
        levels: vec![
            level(3, 2, false),
            level(4, 2, true),
            level(5, 1, true),
            level(6, 2, true),
            level(6, 1, true),
        ],
        embedding_dim: 8,
    }
}

#[test]
fn a_synthetic_network_round_trips_through_dlib_format() {
    let nodes = synthetic_resnet(&tiny_config(), 7);
    // Two affine layers stored as batch norm, the form dlib's training nets save.
    let bytes = write_net(&nodes, &[2, 7]);
    let net = parse_net(&bytes).unwrap();
    assert_eq!(net.loss, "loss_metric_2");
    assert_eq!(net.nodes, nodes);
}

#[test]
fn a_synthetic_resnet_converts_loads_and_matches_a_plain_loop_forward_pass() {
    let cfg = tiny_config();
    let nodes = synthetic_resnet(&cfg, 11);
    let converted = convert(&write_net(&nodes, &[])).unwrap();
    assert_eq!(converted.kind, "resnet");
    let parsed: Config = serde_json::from_str(&converted.config_json).unwrap();
    assert_eq!(parsed, cfg);
    // 5 stem tensors (conv weight and bias, affine weight and bias) ... one fc.
    let blocks: usize = cfg.levels.iter().map(|l| l.num_blocks).sum();
    assert_eq!(converted.tensors.len(), 4 + 8 * blocks + 1);
    assert!(
        converted
            .tensors
            .iter()
            .any(|t| t.0 == "levels.3.blocks.1.affine2.bias")
    );

    let st = converted.to_safetensors().unwrap();
    let device = candle_core::Device::Cpu;
    let encoder = DlibEncoder::from_safetensors(&st, "synthetic", &device).unwrap();
    assert_eq!(encoder.dim(), 8);
    assert_eq!(encoder.chip_size(), 150);
    assert!(encoder.model_id().as_str().starts_with("dlib-resnet-v1-"));

    let mut rng = Rng::new(3);
    let mut chip = image::RgbImage::new(150, 150);
    for p in chip.pixels_mut() {
        let v = |r: &mut Rng| (r.next(127.5) + 127.5) as u8;
        *p = image::Rgb([v(&mut rng), v(&mut rng), v(&mut rng)]);
    }
    let rgb: Vec<[u8; 3]> = chip.pixels().map(|p| p.0).collect();
    let want = reference_forward(&nodes, &rgb, 150);
    let got = encoder.embed(&[chip.clone(), chip]).unwrap();
    assert_eq!(got.len(), 2);
    for (g, w) in got[1].iter().zip(&want) {
        assert!((g - w).abs() < 1e-4 * (1.0 + w.abs()), "{g} vs {w}");
    }
    // Wrong chip sizes are refused.
    assert!(encoder.embed(&[image::RgbImage::new(149, 150)]).is_err());
}

#[test]
fn damaged_files_and_other_layouts_are_clear_errors() {
    let nodes = synthetic_resnet(&tiny_config(), 5);
    let bytes = write_net(&nodes, &[]);
    for cut in [0, 1, 10, bytes.len() / 2, bytes.len() - 1] {
        assert!(
            matches!(convert(&bytes[..cut]), Err(ImportError::Dat(_))),
            "cut at {cut}"
        );
    }
    let mut extra = bytes.clone();
    extra.push(0x01);
    assert!(matches!(convert(&extra), Err(ImportError::Dat(_))));

    // Remove the stem's relu: a readable network of another layout.
    let mut other = nodes.clone();
    other.remove(3);
    let err = convert(&write_net(&other, &[])).unwrap_err();
    assert!(
        matches!(&err, ImportError::Layout { index: 3, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("relu"), "{err}");
    // A final layer with a bias.
    let mut other = nodes;
    if let Some(Node::Fc { bias, .. }) = other.last_mut() {
        *bias = Some(vec![0.0; 8]);
    }
    assert!(matches!(
        convert(&write_net(&other, &[])),
        Err(ImportError::Layout { .. })
    ));
}

/// A shape predictor with 2 parts, 2 levels of 3 depth-2 trees and 4 feature pixels.
fn tiny_shape_predictor(bad_index: bool) -> Vec<u8> {
    let mut rng = Rng::new(9);
    let mut w = Writer::default();
    w.int(1).float_column(&[0.3, 0.4, 0.7, 0.4]);
    w.int(2);
    for _ in 0..2 {
        w.int(3);
        for _ in 0..3 {
            w.int(3);
            for s in 0..3 {
                let a = if bad_index && s == 2 { 4 } else { s };
                w.int(a).int(3 - s).float(rng.next(20.0));
            }
            w.int(4);
            for _ in 0..4 {
                w.float_column(&rng.vec(4, 0.05));
            }
        }
    }
    w.int(2);
    for _ in 0..2 {
        w.int(4).int(0).int(1).int(1).int(0);
    }
    w.int(2);
    for _ in 0..2 {
        w.int(4);
        for _ in 0..8 {
            w.float(rng.next(0.2));
        }
    }
    w.bytes
}

#[test]
fn a_synthetic_shape_predictor_converts() {
    let converted = convert(&tiny_shape_predictor(false)).unwrap();
    assert_eq!(converted.kind, "shape_predictor");
    let cfg: ShapePredictorConfig = serde_json::from_str(&converted.config_json).unwrap();
    assert_eq!(
        cfg,
        ShapePredictorConfig {
            num_parts: 2,
            num_levels: 2,
            trees_per_level: 3,
            splits_per_tree: 3,
            pixels_per_level: 4,
        }
    );
    let shapes: Vec<_> = converted
        .tensors
        .iter()
        .map(|t| (t.0.as_str(), t.1.clone()))
        .collect();
    assert_eq!(shapes[3], ("leaves", vec![2, 3, 4, 4]));
    assert!(matches!(
        convert(&tiny_shape_predictor(true)),
        Err(ImportError::Dat(_))
    ));
}

#[test]
fn import_file_writes_weights_and_config() {
    let dir = tempfile::tempdir().unwrap();
    let dat = dir.path().join("tiny_net.dat");
    std::fs::write(&dat, write_net(&synthetic_resnet(&tiny_config(), 1), &[])).unwrap();
    let (_, files) = import_file(&dat, &dir.path().join("out")).unwrap();
    assert_eq!(files[0], dir.path().join("out/tiny_net.safetensors"));
    assert!(
        std::fs::read_to_string(&files[1])
            .unwrap()
            .contains("\"embedding_dim\":8")
    );
    assert!(matches!(
        import_file(&dir.path().join("missing.dat"), dir.path()),
        Err(ImportError::Io { .. })
    ));
}

/// Where the real `.dat` files are: `ROLLCALL_DLIB_MODELS`, else the unpacked `PyPI` sdist
/// `face-recognition-models` 0.3.0 under `/work/venvs/dl` (see assets/models/dlib/README.md).
fn real_dat(name: &str, test: &str) -> Option<PathBuf> {
    let dir = std::env::var_os("ROLLCALL_DLIB_MODELS").map_or_else(
        || {
            PathBuf::from(
                "/work/venvs/dl/face_recognition_models-0.3.0/face_recognition_models/models",
            )
        },
        PathBuf::from,
    );
    let path = dir.join(name);
    if path.is_file() {
        Some(path)
    } else {
        eprintln!("SKIPPED {test}: {} is not here", path.display());
        None
    }
}

#[test]
fn the_real_files_convert_to_the_committed_weights() {
    let assets = crate::testdata::repo_file("assets/models/dlib");
    for (name, kind) in [
        ("dlib_face_recognition_resnet_model_v1", "resnet"),
        ("shape_predictor_5_face_landmarks", "shape_predictor"),
    ] {
        let Some(dat) = real_dat(&format!("{name}.dat"), "the_real_files_convert") else {
            continue;
        };
        let converted = convert(&std::fs::read(dat).unwrap()).unwrap();
        assert_eq!(converted.kind, kind);
        if kind == "resnet" {
            let cfg: Config = serde_json::from_str(&converted.config_json).unwrap();
            assert_eq!(cfg, Config::dlib_face_v1());
        }
        let committed = std::fs::read(assets.join(format!("{name}.safetensors"))).unwrap();
        assert!(
            converted.to_safetensors().unwrap() == committed,
            "{name}: the committed safetensors differ from a fresh conversion"
        );
    }
}
