//! Reads a serialized dlib DNN (`dlib/dnn/core.h`) into a flat list of layers, input first.
//!
//! A dlib network is a nest of templates, and `serialize(net)` writes the outermost first:
//! `add_loss_layer` (version 1, the loss, then its subnetwork), `add_layer` (version 2: its
//! subnetwork, then the layer's own details, three bools and the `x_grad`, `cached_output` and
//! `params_grad` tensors), `add_tag_layer` / `add_skip_layer` (version 1: only the subnetwork)
//! and, innermost, an `add_layer` around the input layer (version 2 or 3: the input details, the
//! layer details, three bools, three tensors and, in version 3, the sample expansion factor).
//! So the layers' details appear in the file input first, and tags and skips are only visible as
//! version-1 wrappers. Which tag an `add_prev` adds is not stored: the caller matches the list
//! against the architecture it expects (see `import.rs`).

use super::serialize::{DatError, DlibTensor, Reader};

/// One entry of the flattened network, input first.
#[derive(Debug, Clone, PartialEq)]
pub enum Node {
    /// `input_rgb_image_sized` (or `input_rgb_image`, without a size).
    Input {
        /// The per-channel means subtracted before dividing by 256 (red, green, blue).
        mean_rgb: [f32; 3],
        /// The input size `(rows, columns)`, when the layer fixes it.
        size: Option<(usize, usize)>,
    },
    /// A tag or skip layer (the file does not say which).
    TagOrSkip,
    /// `con_`: a convolution.
    Con(Conv),
    /// `affine_`, or a `bn_` stored in inference form (converted to scale and shift).
    Affine {
        /// Per-channel scale.
        gamma: Vec<f32>,
        /// Per-channel shift.
        beta: Vec<f32>,
    },
    /// `relu_`.
    Relu,
    /// `max_pool_` (`kernel = (0, 0)` pools over the whole plane).
    MaxPool(Pool),
    /// `avg_pool_` (`kernel = (0, 0)` pools over the whole plane).
    AvgPool(Pool),
    /// `add_prev_`: adds the output of a tagged layer, zero-padding the smaller tensor.
    AddPrev,
    /// `fc_`: a fully connected layer.
    Fc {
        /// Weights `[num_outputs, num_inputs]` (transposed from dlib's `[inputs, outputs]`).
        weight: DlibTensor,
        /// Bias `[num_outputs]`, when the layer has one.
        bias: Option<Vec<f32>>,
    },
}

/// The parameters of a `con_` layer.
#[derive(Debug, Clone, PartialEq)]
pub struct Conv {
    /// Filters `[num_filters, k, nr, nc]`.
    pub weight: DlibTensor,
    /// One bias per filter, when the layer uses a bias.
    pub bias: Option<Vec<f32>>,
    /// `(stride_y, stride_x)`.
    pub stride: (usize, usize),
    /// `(padding_y, padding_x)`.
    pub padding: (usize, usize),
}

/// The parameters of a pooling layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pool {
    /// `(nr, nc)`; zero means the whole input plane.
    pub kernel: (usize, usize),
    /// `(stride_y, stride_x)`.
    pub stride: (usize, usize),
    /// `(padding_y, padding_x)`.
    pub padding: (usize, usize),
}

/// A parsed network: its loss layer's name and its layers, input first.
#[derive(Debug, Clone, PartialEq)]
pub struct Net {
    /// The loss layer's serialization name, e.g. `loss_metric_2`.
    pub loss: String,
    /// The layers, input first.
    pub nodes: Vec<Node>,
}

/// How deep the template nest may go (the face network has about 130 levels).
const MAX_DEPTH: usize = 2000;

/// Parses a whole serialized network (`add_loss_layer` at the top).
pub fn parse_net(bytes: &[u8]) -> Result<Net, DatError> {
    let mut r = Reader::new(bytes);
    r.version("add_loss_layer", &[1])?;
    let loss = r.string()?;
    match loss.as_str() {
        "loss_metric_" => {}
        "loss_metric_2" => {
            r.float()?; // margin
            r.float()?; // distance threshold
        }
        other => {
            return Err(r.error(format!(
                "loss layer {other:?} is not supported (expected loss_metric)"
            )));
        }
    }
    let mut nodes = Vec::new();
    layer(&mut r, &mut nodes, 0)?;
    if !r.at_end() {
        return Err(r.error("unexpected bytes after the network"));
    }
    Ok(Net { loss, nodes })
}

fn layer(r: &mut Reader<'_>, nodes: &mut Vec<Node>, depth: usize) -> Result<(), DatError> {
    if depth > MAX_DEPTH {
        return Err(r.error("the network is nested too deeply"));
    }
    let version = r.version("layer", &[1, 2, 3])?;
    // A version (1..=3) next means a subnetwork; a string (layer names are longer than three
    // bytes) means the input layer.
    if r.peek_int()? <= 3 {
        if version == 3 {
            return Err(r.error("version 3 is only valid for the input add_layer"));
        }
        layer(r, nodes, depth + 1)?;
        if version == 1 {
            nodes.push(Node::TagOrSkip);
        } else {
            nodes.push(details(r)?);
            add_layer_trailer(r)?;
            r.tensor()?; // params_grad
        }
        return Ok(());
    }
    nodes.push(input(r)?);
    if r.peek_int()? <= 3 {
        // add_tag_layer directly on the input: cached_output, grad_final, a bool, [factor].
        r.tensor()?;
        r.tensor()?;
        r.bool()?;
        if version >= 2 {
            r.int()?;
        }
        nodes.push(Node::TagOrSkip);
        return Ok(());
    }
    if version == 1 {
        return Err(r.error("add_layer version 1 on an input layer is not supported"));
    }
    nodes.push(details(r)?);
    add_layer_trailer(r)?;
    r.tensor()?; // grad_final
    if version == 3 {
        r.int()?; // sample expansion factor
    }
    Ok(())
}

fn add_layer_trailer(r: &mut Reader<'_>) -> Result<(), DatError> {
    for _ in 0..3 {
        r.bool()?;
    }
    r.tensor()?; // x_grad
    r.tensor()?; // cached_output
    Ok(())
}

fn input(r: &mut Reader<'_>) -> Result<Node, DatError> {
    let name = r.string()?;
    let mean_rgb = [r.float()?, r.float()?, r.float()?];
    let size = match name.as_str() {
        "input_rgb_image" => None,
        "input_rgb_image_sized" => Some((r.count("rows", 1 << 16)?, r.count("cols", 1 << 16)?)),
        other => return Err(r.error(format!("input layer {other:?} is not supported"))),
    };
    Ok(Node::Input { mean_rgb, size })
}

fn small(r: &mut Reader<'_>, what: &str) -> Result<usize, DatError> {
    r.count(what, 1 << 16)
}

fn pool(r: &mut Reader<'_>) -> Result<Pool, DatError> {
    Ok(Pool {
        kernel: (small(r, "pool rows")?, small(r, "pool cols")?),
        stride: (small(r, "stride")?, small(r, "stride")?),
        padding: (small(r, "padding")?, small(r, "padding")?),
    })
}

fn split(r: &Reader<'_>, params: &DlibTensor, at: usize, len: usize) -> Result<Vec<f32>, DatError> {
    params
        .data
        .get(at..at + len)
        .map(<[f32]>::to_vec)
        .ok_or_else(|| r.error("a layer's parameters are shorter than its shapes say"))
}

fn details(r: &mut Reader<'_>) -> Result<Node, DatError> {
    let name = r.string()?;
    Ok(match name.as_str() {
        "con_4" | "con_5" => {
            let params = r.tensor()?;
            let filters = small(r, "num_filters")?;
            let (nr, nc) = (small(r, "filter rows")?, small(r, "filter cols")?);
            let stride = (small(r, "stride")?, small(r, "stride")?);
            let padding = (small(r, "padding")?, small(r, "padding")?);
            let fshape = r.alias_tensor()?;
            let bshape = r.alias_tensor()?;
            for _ in 0..4 {
                r.float64()?; // learning-rate and weight-decay multipliers
            }
            let use_bias = if name == "con_5" { r.bool()? } else { true };
            let n = fshape.iter().product::<usize>();
            if fshape[0] != filters || fshape[2] != nr || fshape[3] != nc {
                return Err(r.error(format!("con_ filter shape {fshape:?} disagrees")));
            }
            let bias = if use_bias {
                Some(split(r, &params, n, bshape.iter().product())?)
            } else {
                None
            };
            let weight = DlibTensor {
                shape: fshape,
                data: split(r, &params, 0, n)?,
            };
            Node::Con(Conv {
                weight,
                bias,
                stride,
                padding,
            })
        }
        "affine_" | "affine_2" => {
            let params = r.tensor()?;
            let g = r.alias_tensor()?.iter().product::<usize>();
            let b = r.alias_tensor()?.iter().product::<usize>();
            let mode = r.int()?;
            if name == "affine_2" && r.bool()? {
                return Err(r.error("disabled affine layers are not supported"));
            }
            if mode != 0 {
                return Err(r.error("only convolutional-mode affine layers are supported"));
            }
            Node::Affine {
                gamma: split(r, &params, 0, g)?,
                beta: split(r, &params, g, b)?,
            }
        }
        "bn_con2" => batch_norm(r)?,
        "relu_" => Node::Relu,
        "max_pool_2" => Node::MaxPool(pool(r)?),
        "avg_pool_2" => Node::AvgPool(pool(r)?),
        "add_prev_" => Node::AddPrev,
        "fc_2" | "fc_3" => {
            let outputs = r.count("num_outputs", 1 << 20)?;
            let inputs = r.count("num_inputs", 1 << 20)?;
            let params = r.tensor()?;
            r.alias_tensor()?;
            r.alias_tensor()?;
            let mode = r.int()?;
            for _ in 0..4 {
                r.float64()?;
            }
            let use_bias = if name == "fc_3" { r.bool()? } else { true };
            let w = split(r, &params, 0, inputs * outputs)?;
            // dlib stores [inputs, outputs]; store [outputs, inputs] like a candle Linear.
            let mut t = vec![0.0; w.len()];
            for i in 0..inputs {
                for o in 0..outputs {
                    t[o * inputs + i] = w[i * outputs + o];
                }
            }
            let bias = if mode == 0 && use_bias {
                Some(split(r, &params, inputs * outputs, outputs)?)
            } else {
                None
            };
            Node::Fc {
                weight: DlibTensor {
                    shape: [outputs, inputs, 1, 1],
                    data: t,
                },
                bias,
            }
        }
        other => return Err(r.error(format!("layer type {other:?} is not supported"))),
    })
}

/// A `bn_con2` layer read the way dlib's `affine_` reads one: scale = gamma / sqrt(var + eps),
/// shift = beta - scale · mean, from the running statistics.
fn batch_norm(r: &mut Reader<'_>) -> Result<Node, DatError> {
    let params = r.tensor()?;
    let g = r.alias_tensor()?.iter().product::<usize>();
    let b = r.alias_tensor()?.iter().product::<usize>();
    r.tensor()?; // means of the last batch
    r.tensor()?; // inverse standard deviations of the last batch
    let mean = r.tensor()?.data;
    let var = r.tensor()?.data;
    r.int()?; // num_updates
    r.int()?; // running_stats_window_size
    for _ in 0..4 {
        r.float64()?;
    }
    let eps = r.float64()?;
    let (gamma, beta) = (split(r, &params, 0, g)?, split(r, &params, g, b)?);
    if mean.len() != g || var.len() != g {
        return Err(r.error("batch-norm statistics do not match its channels"));
    }
    let scale: Vec<f32> = (0..g)
        .map(|i| (f64::from(gamma[i]) / (f64::from(var[i]) + eps).sqrt()) as f32)
        .collect();
    let shift = (0..g).map(|i| beta[i] - scale[i] * mean[i]).collect();
    Ok(Node::Affine {
        gamma: scale,
        beta: shift,
    })
}
