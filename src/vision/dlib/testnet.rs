//! Test helpers: small synthetic dlib networks, written in dlib's serialization format the way
//! `serialize(net)` writes them, and a plain-loop reference forward pass with dlib's semantics.

use super::net_file::{Conv, Node, Pool};
use super::resnet::Config;
use super::serialize::{DlibTensor, Writer};

/// A tiny deterministic generator (xorshift) for weights.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed.max(1))
    }

    /// Uniform in `[-scale, scale)`.
    pub fn next(&mut self, scale: f32) -> f32 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        ((self.0 >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0) * scale
    }

    pub fn vec(&mut self, n: usize, scale: f32) -> Vec<f32> {
        (0..n).map(|_| self.next(scale)).collect()
    }
}

fn con(rng: &mut Rng, out_c: usize, in_c: usize, k: usize, s: usize) -> Node {
    let pad = if s == 1 { k / 2 } else { 0 };
    let scale = (2.0 / (in_c * k * k) as f32).sqrt();
    Node::Con(Conv {
        weight: DlibTensor {
            shape: [out_c, in_c, k, k],
            data: rng.vec(out_c * in_c * k * k, scale),
        },
        bias: Some(rng.vec(out_c, 0.1)),
        stride: (s, s),
        padding: (pad, pad),
    })
}

fn affine(rng: &mut Rng, c: usize) -> Node {
    Node::Affine {
        gamma: (0..c).map(|_| 1.0 + rng.next(0.3)).collect(),
        beta: rng.vec(c, 0.1),
    }
}

/// The face-ResNet layout of `cfg` with random weights, input first (as `parse_net` returns).
pub fn synthetic_resnet(cfg: &Config, seed: u64) -> Vec<Node> {
    let mut rng = Rng::new(seed);
    let pool = |k, s| Pool {
        kernel: (k, k),
        stride: (s, s),
        padding: (0, 0),
    };
    let mut nodes = vec![
        Node::Input {
            mean_rgb: cfg.mean_rgb,
            size: Some((cfg.input_size, cfg.input_size)),
        },
        con(&mut rng, cfg.stem_channels, 3, 7, 2),
        affine(&mut rng, cfg.stem_channels),
        Node::Relu,
        Node::MaxPool(pool(3, 2)),
    ];
    let mut c = cfg.stem_channels;
    for level in &cfg.levels {
        for b in 0..level.num_blocks {
            let down = level.downsample && b == 0;
            let n = level.channels;
            nodes.push(Node::TagOrSkip);
            nodes.push(con(&mut rng, n, c, 3, if down { 2 } else { 1 }));
            nodes.extend([affine(&mut rng, n), Node::Relu, con(&mut rng, n, n, 3, 1)]);
            nodes.push(affine(&mut rng, n));
            if down {
                nodes.extend([Node::TagOrSkip, Node::TagOrSkip, Node::AvgPool(pool(2, 2))]);
            }
            nodes.extend([Node::AddPrev, Node::Relu]);
            c = n;
        }
    }
    nodes.push(Node::AvgPool(Pool {
        kernel: (0, 0),
        stride: (1, 1),
        padding: (0, 0),
    }));
    nodes.push(Node::Fc {
        weight: DlibTensor {
            shape: [cfg.embedding_dim, c, 1, 1],
            data: rng.vec(cfg.embedding_dim * c, 0.3),
        },
        bias: None,
    });
    nodes
}

/// Serializes a network (input first) as dlib does, with a `loss_metric_2` on top. Layers
/// whose index is in `as_batch_norm` are written as `bn_con2` with unit variance and zero mean
/// and eps 0, which dlib reads as the same affine layer.
pub fn write_net(nodes: &[Node], as_batch_norm: &[usize]) -> Vec<u8> {
    let mut w = Writer::default();
    w.int(1).string("loss_metric_2").float(0.04).float(0.6);
    write_sub(&mut w, nodes, as_batch_norm);
    w.bytes
}

fn empty_tensors(w: &mut Writer, n: usize) {
    for _ in 0..n {
        w.tensor([0, 0, 0, 0], &[]);
    }
}

fn write_sub(w: &mut Writer, nodes: &[Node], bn: &[usize]) {
    let (last, rest) = nodes.split_last().expect("a network needs an input layer");
    if *last == Node::TagOrSkip {
        w.int(1);
        write_sub(w, rest, bn);
        return;
    }
    if let [Node::Input { mean_rgb, size }] = rest {
        w.int(3).string("input_rgb_image_sized");
        for &m in mean_rgb {
            w.float(m);
        }
        let (r, c) = size.expect("a sized input");
        w.int(r as i64).int(c as i64);
        details(w, last, bn.contains(&(nodes.len() - 1)));
        w.bool(true).bool(true).bool(false);
        empty_tensors(w, 3);
        w.int(1);
        return;
    }
    w.int(2);
    write_sub(w, rest, bn);
    details(w, last, bn.contains(&(nodes.len() - 1)));
    w.bool(true).bool(true).bool(false);
    empty_tensors(w, 3);
}

fn multipliers(w: &mut Writer) {
    w.float(1.0).float(1.0).float(1.0).float(0.0);
}

fn details(w: &mut Writer, node: &Node, batch_norm: bool) {
    let i = |v: usize| v as i64;
    match node {
        Node::Con(c) => {
            let [o, ic, nr, nc] = c.weight.shape;
            let mut params = c.weight.data.clone();
            params.extend(c.bias.clone().unwrap_or_default());
            w.string("con_5").tensor([params.len(), 1, 1, 1], &params);
            w.int(i(o)).int(i(nr)).int(i(nc));
            w.int(i(c.stride.0)).int(i(c.stride.1));
            w.int(i(c.padding.0)).int(i(c.padding.1));
            w.alias_tensor([o, ic, nr, nc]).alias_tensor([1, o, 1, 1]);
            multipliers(w);
            w.bool(c.bias.is_some());
        }
        Node::Affine { gamma, beta } if batch_norm => {
            let n = gamma.len();
            let mut params = gamma.clone();
            params.extend(beta);
            w.string("bn_con2").tensor([2 * n, 1, 1, 1], &params);
            w.alias_tensor([1, n, 1, 1]).alias_tensor([1, n, 1, 1]);
            empty_tensors(w, 2);
            w.tensor([1, n, 1, 1], &vec![0.0; n]);
            w.tensor([1, n, 1, 1], &vec![1.0; n]);
            w.int(100).int(1000);
            multipliers(w);
            w.float(0.0);
        }
        Node::Affine { gamma, beta } => {
            let n = gamma.len();
            let mut params = gamma.clone();
            params.extend(beta);
            w.string("affine_2").tensor([2 * n, 1, 1, 1], &params);
            w.alias_tensor([1, n, 1, 1]).alias_tensor([1, n, 1, 1]);
            w.int(0).bool(false);
        }
        Node::Relu => {
            w.string("relu_");
        }
        Node::AddPrev => {
            w.string("add_prev_");
        }
        Node::MaxPool(p) | Node::AvgPool(p) => {
            let name = if matches!(node, Node::MaxPool(_)) {
                "max_pool_2"
            } else {
                "avg_pool_2"
            };
            w.string(name).int(i(p.kernel.0)).int(i(p.kernel.1));
            w.int(i(p.stride.0)).int(i(p.stride.1));
            w.int(i(p.padding.0)).int(i(p.padding.1));
        }
        Node::Fc { weight, bias } => {
            let [o, inp, _, _] = weight.shape;
            // dlib stores the weights as [inputs, outputs].
            let mut params = vec![0.0; o * inp];
            for a in 0..o {
                for b in 0..inp {
                    params[b * o + a] = weight.data[a * inp + b];
                }
            }
            params.extend(bias.clone().unwrap_or_default());
            w.string("fc_3").int(i(o)).int(i(inp));
            w.tensor([params.len(), 1, 1, 1], &params);
            w.alias_tensor([inp, o, 1, 1]).alias_tensor([1, o, 1, 1]);
            w.int(i64::from(bias.is_none()));
            multipliers(w);
            w.bool(bias.is_some());
        }
        Node::Input { .. } | Node::TagOrSkip => unreachable!("handled by write_sub"),
    }
}

/// A `[C, H, W]` plane stack in f64.
#[derive(Clone)]
struct Map {
    c: usize,
    h: usize,
    w: usize,
    v: Vec<f64>,
}

impl Map {
    fn at(&self, c: usize, y: usize, x: usize) -> f64 {
        self.v[(c * self.h + y) * self.w + x]
    }
}

fn conv_ref(x: &Map, c: &Conv) -> Map {
    let [o, ic, k, _] = c.weight.shape;
    let (s, p) = (c.stride.0, c.padding.0 as isize);
    let h = (x.h + 2 * c.padding.0 - k) / s + 1;
    let wd = (x.w + 2 * c.padding.0 - k) / s + 1;
    let mut v = vec![0.0; o * h * wd];
    for oc in 0..o {
        for y in 0..h {
            for xx in 0..wd {
                let mut acc = c.bias.as_ref().map_or(0.0, |b| f64::from(b[oc]));
                for i in 0..ic {
                    for ky in 0..k {
                        for kx in 0..k {
                            let iy = (y * s + ky) as isize - p;
                            let ix = (xx * s + kx) as isize - p;
                            if iy < 0 || ix < 0 || iy >= x.h as isize || ix >= x.w as isize {
                                continue;
                            }
                            let wgt = c.weight.data[((oc * ic + i) * k + ky) * k + kx];
                            acc += f64::from(wgt) * x.at(i, iy as usize, ix as usize);
                        }
                    }
                }
                v[(oc * h + y) * wd + xx] = acc;
            }
        }
    }
    Map { c: o, h, w: wd, v }
}

fn pool_ref(x: &Map, p: &Pool, max: bool) -> Map {
    let (k, s) = if p.kernel == (0, 0) {
        ((x.h, x.w), 1)
    } else {
        (p.kernel, p.stride.0)
    };
    let (h, w) = ((x.h - k.0) / s + 1, (x.w - k.1) / s + 1);
    let mut v = Vec::with_capacity(x.c * h * w);
    for c in 0..x.c {
        for y in 0..h {
            for xx in 0..w {
                let vals = (0..k.0).flat_map(|a| (0..k.1).map(move |b| (a, b)));
                let vals: Vec<f64> = vals.map(|(a, b)| x.at(c, y * s + a, xx * s + b)).collect();
                v.push(if max {
                    vals.iter().copied().fold(f64::MIN, f64::max)
                } else {
                    vals.iter().sum::<f64>() / vals.len() as f64
                });
            }
        }
    }
    Map { c: x.c, h, w, v }
}

fn add_ref(a: &Map, b: &Map) -> Map {
    let (c, h, w) = (a.c.max(b.c), a.h.max(b.h), a.w.max(b.w));
    let get = |m: &Map, i, y, x| {
        if i < m.c && y < m.h && x < m.w {
            m.at(i, y, x)
        } else {
            0.0
        }
    };
    let mut v = Vec::with_capacity(c * h * w);
    for i in 0..c {
        for y in 0..h {
            for x in 0..w {
                v.push(get(a, i, y, x) + get(b, i, y, x));
            }
        }
    }
    Map { c, h, w, v }
}

/// Runs a face-ResNet-layout network with plain loops (f64), following dlib's layer semantics:
/// a lone tag saves the current tensor for the next `add_prev`; a tag followed by a skip saves
/// the current tensor for `add_prev` and goes back to the earlier tagged tensor.
pub fn reference_forward(nodes: &[Node], rgb: &[[u8; 3]], size: usize) -> Vec<f32> {
    let mut x = Map {
        c: 3,
        h: size,
        w: size,
        v: vec![0.0; 3 * size * size],
    };
    let (mut tagged, mut pending) = (x.clone(), x.clone());
    let mut i = 0;
    while i < nodes.len() {
        match &nodes[i] {
            Node::Input { mean_rgb, .. } => {
                for (p, px) in rgb.iter().enumerate() {
                    for c in 0..3 {
                        x.v[c * size * size + p] =
                            (f64::from(px[c]) - f64::from(mean_rgb[c])) / 256.0;
                    }
                }
            }
            Node::TagOrSkip if nodes.get(i + 1) == Some(&Node::TagOrSkip) => {
                pending = x;
                x = tagged.clone();
                i += 1;
            }
            Node::TagOrSkip => {
                tagged = x.clone();
                pending = x.clone();
            }
            Node::Con(c) => x = conv_ref(&x, c),
            Node::Affine { gamma, beta } => {
                let plane = x.h * x.w;
                for (j, v) in x.v.iter_mut().enumerate() {
                    *v = *v * f64::from(gamma[j / plane]) + f64::from(beta[j / plane]);
                }
            }
            Node::Relu => x.v.iter_mut().for_each(|v| *v = v.max(0.0)),
            Node::MaxPool(p) => x = pool_ref(&x, p, true),
            Node::AvgPool(p) => x = pool_ref(&x, p, false),
            Node::AddPrev => x = add_ref(&x, &pending),
            Node::Fc { weight, .. } => {
                let [o, inp, _, _] = weight.shape;
                let v = (0..o)
                    .map(|a| {
                        (0..inp)
                            .map(|b| f64::from(weight.data[a * inp + b]) * x.v[b])
                            .sum()
                    })
                    .collect();
                x = Map {
                    c: o,
                    h: 1,
                    w: 1,
                    v,
                };
            }
        }
        i += 1;
    }
    x.v.iter().map(|&v| v as f32).collect()
}
