//! Converts dlib `.dat` model files to safetensors: the face-recognition ResNet (checked
//! layer by layer against [`resnet`](super::resnet)'s layout, named as its `vb.pp` keys) and the
//! regression-tree shape predictor (laid out for [`shape`](super::shape)). Run it with
//! `rollcall import-weights dlib FILE --out DIR`.

use std::path::{Path, PathBuf};

pub use super::converted::{Converted, ImportError, Values};
use super::net_file::{Conv, Node, Pool, parse_net};
use super::resnet::{Config, LevelConfig};
use super::serialize::DlibTensor;
use super::sp_file::convert_shape_predictor;

/// Converts the bytes of a dlib `.dat` file: a network (starts with a loss layer) or a shape
/// predictor (starts with its mean shape).
pub fn convert(bytes: &[u8]) -> Result<Converted, ImportError> {
    let mut r = super::serialize::Reader::new(bytes);
    r.version("model", &[1])?;
    // A network continues with its loss layer's name (a positive length); a shape predictor
    // with its mean shape's negated row count.
    if r.peek_int()? < 0 {
        convert_shape_predictor(bytes)
    } else {
        convert_resnet(bytes)
    }
}

/// Converts a dlib `.dat` file and writes `DIR/<stem>.safetensors` and `DIR/<stem>.json`.
pub fn import_file(file: &Path, out_dir: &Path) -> Result<(Converted, Vec<PathBuf>), ImportError> {
    let io = |context: String| move |source| ImportError::Io { context, source };
    let bytes = std::fs::read(file).map_err(io(format!("reading {}", file.display())))?;
    let converted = convert(&bytes)?;
    let stem = file.file_stem().map_or_else(
        || converted.kind.to_owned(),
        |s| s.to_string_lossy().into_owned(),
    );
    std::fs::create_dir_all(out_dir).map_err(io(format!("creating {}", out_dir.display())))?;
    let weights = out_dir.join(format!("{stem}.safetensors"));
    let config = out_dir.join(format!("{stem}.json"));
    std::fs::write(&weights, converted.to_safetensors()?)
        .map_err(io(format!("writing {}", weights.display())))?;
    std::fs::write(&config, format!("{}\n", converted.config_json))
        .map_err(io(format!("writing {}", config.display())))?;
    Ok((converted, vec![weights, config]))
}

/// Walks the flattened network, checking each layer against the face-ResNet layout.
struct Walk<'a> {
    nodes: &'a [Node],
    index: usize,
    tensors: Vec<(String, Vec<usize>, Values)>,
}

impl<'a> Walk<'a> {
    fn fail<T>(&self, expected: &str) -> Result<T, ImportError> {
        let found = self
            .nodes
            .get(self.index)
            .map_or_else(|| "the end of the network".to_owned(), short);
        Err(ImportError::Layout {
            index: self.index,
            expected: expected.to_owned(),
            found,
        })
    }

    fn next(
        &mut self,
        expected: &str,
        ok: impl Fn(&Node) -> bool,
    ) -> Result<&'a Node, ImportError> {
        match self.nodes.get(self.index) {
            Some(n) if ok(n) => {
                self.index += 1;
                Ok(n)
            }
            _ => self.fail(expected),
        }
    }

    fn put(&mut self, name: String, shape: Vec<usize>, values: Vec<f32>) {
        self.tensors.push((name, shape, Values::F32(values)));
    }

    /// A conv (kernel `k`, stride `s`, dlib's default padding) then an affine layer; returns
    /// `(in_channels, out_channels)`.
    fn conv_affine(
        &mut self,
        prefix: &str,
        conv: &str,
        affine: &str,
        k: usize,
        s: usize,
    ) -> Result<(usize, usize), ImportError> {
        let pad = if s == 1 { k / 2 } else { 0 };
        let want = format!("con {k}x{k} stride {s} padding {pad}");
        let node = self.next(&want, |n| {
            matches!(n, Node::Con(Conv { weight, stride, padding, .. })
                if weight.shape[2] == k && weight.shape[3] == k && *stride == (s, s) && *padding == (pad, pad))
        })?;
        let Node::Con(c) = node else {
            return self.fail(&want);
        };
        let [out_c, in_c, _, _] = c.weight.shape;
        let bias = c.bias.clone().unwrap_or_else(|| vec![0.0; out_c]);
        self.put(
            format!("{prefix}{conv}.weight"),
            c.weight.shape.to_vec(),
            c.weight.data.clone(),
        );
        self.put(format!("{prefix}{conv}.bias"), vec![out_c], bias);
        let want = format!("affine with {out_c} channels");
        let node = self.next(&want, |n| matches!(n, Node::Affine { gamma, beta } if gamma.len() == out_c && beta.len() == out_c))?;
        let Node::Affine { gamma, beta } = node else {
            return self.fail(&want);
        };
        self.put(
            format!("{prefix}{affine}.weight"),
            vec![out_c],
            gamma.clone(),
        );
        self.put(format!("{prefix}{affine}.bias"), vec![out_c], beta.clone());
        Ok((in_c, out_c))
    }

    fn simple(&mut self, expected: &str, ok: impl Fn(&Node) -> bool) -> Result<(), ImportError> {
        self.next(expected, ok).map(|_| ())
    }
}

fn short(node: &Node) -> String {
    match node {
        Node::Con(c) => format!(
            "con {:?} stride {:?} padding {:?}",
            c.weight.shape, c.stride, c.padding
        ),
        Node::Affine { gamma, .. } => format!("affine with {} channels", gamma.len()),
        Node::Fc { weight, .. } => format!("fc {:?}", &weight.shape[..2]),
        other => format!("{other:?}"),
    }
}

fn pool_is(n: &Node, max: bool, kernel: (usize, usize), stride: Option<(usize, usize)>) -> bool {
    let check = |p: &Pool| {
        p.kernel == kernel && p.padding == (0, 0) && stride.is_none_or(|s| p.stride == s)
    };
    match n {
        Node::MaxPool(p) if max => check(p),
        Node::AvgPool(p) if !max => check(p),
        _ => false,
    }
}

/// Converts a serialized face ResNet (`dlib_face_recognition_resnet_model_v1.dat` or a network
/// of the same layout with other widths and depths).
#[allow(clippy::too_many_lines)] // walks dlib's serialized layers in file order
pub fn convert_resnet(bytes: &[u8]) -> Result<Converted, ImportError> {
    let net = parse_net(bytes)?;
    let mut w = Walk {
        nodes: &net.nodes,
        index: 0,
        tensors: Vec::new(),
    };
    let input = w.next(
        "input_rgb_image_sized (square)",
        |n| matches!(n, Node::Input { size: Some((r, c)), .. } if r == c),
    )?;
    let Node::Input {
        mean_rgb,
        size: Some((input_size, _)),
    } = input.clone()
    else {
        return w.fail("input_rgb_image_sized");
    };
    let (_, stem_channels) = w.conv_affine("stem.", "conv", "affine", 7, 2)?;
    w.simple("relu", |n| *n == Node::Relu)?;
    w.simple("max_pool 3x3 stride 2", |n| {
        pool_is(n, true, (3, 3), Some((2, 2)))
    })?;
    let mut levels: Vec<LevelConfig> = Vec::new();
    let mut channels = stem_channels;
    while !w
        .nodes
        .get(w.index)
        .is_some_and(|n| pool_is(n, false, (0, 0), None))
    {
        w.simple("a residual block (tag) or avg_pool_everything", |n| {
            *n == Node::TagOrSkip
        })?;
        // A down block's first conv has stride 2; look ahead to pick the layout.
        let down = matches!(w.nodes.get(w.index), Some(Node::Con(c)) if c.stride == (2, 2));
        let (l, b) = match levels.last() {
            Some(level) if !down => (levels.len() - 1, level.num_blocks),
            _ => (levels.len(), 0),
        };
        let prefix = format!("levels.{l}.blocks.{b}.");
        let (in_c, out_c) =
            w.conv_affine(&prefix, "conv1", "affine1", 3, if down { 2 } else { 1 })?;
        if in_c != channels || (!down && out_c != channels) {
            w.index -= 2;
            return w.fail(&format!("a conv from {channels} channels"));
        }
        w.simple("relu", |n| *n == Node::Relu)?;
        let (in2, _) = w.conv_affine(&prefix, "conv2", "affine2", 3, 1)?;
        if in2 != out_c {
            w.index -= 2;
            return w.fail(&format!("a conv from {out_c} channels"));
        }
        if down {
            w.simple("tag", |n| *n == Node::TagOrSkip)?;
            w.simple("skip", |n| *n == Node::TagOrSkip)?;
            w.simple("avg_pool 2x2 stride 2", |n| {
                pool_is(n, false, (2, 2), Some((2, 2)))
            })?;
        }
        w.simple("add_prev", |n| *n == Node::AddPrev)?;
        w.simple("relu", |n| *n == Node::Relu)?;
        if b == 0 {
            levels.push(LevelConfig {
                channels: out_c,
                num_blocks: 1,
                downsample: down,
            });
        } else if let Some(level) = levels.last_mut() {
            level.num_blocks += 1;
        }
        channels = out_c;
    }
    w.index += 1; // avg_pool_everything
    let want = format!("fc without bias from {channels} inputs");
    let fc = w.next(
        &want,
        |n| matches!(n, Node::Fc { weight, bias: None } if weight.shape[1] == channels),
    )?;
    let Node::Fc {
        weight: DlibTensor { shape, data },
        ..
    } = fc
    else {
        return w.fail(&want);
    };
    let embedding_dim = shape[0];
    w.put(
        "fc.weight".into(),
        vec![embedding_dim, channels],
        data.clone(),
    );
    if w.index != net.nodes.len() {
        return w.fail("the end of the network");
    }
    let cfg = Config {
        input_size,
        mean_rgb,
        stem_channels,
        levels,
        embedding_dim,
    };
    let config_json =
        serde_json::to_string(&cfg).map_err(|e| ImportError::Safetensors(e.to_string()))?;
    Ok(Converted {
        kind: "resnet",
        tensors: w.tensors,
        config_json,
    })
}

#[cfg(test)]
#[path = "import_tests.rs"]
mod tests;
