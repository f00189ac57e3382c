//! Datasets for training and evaluation: the bundled MNIST subset, any folder of MNIST-format
//! IDX files, or a folder of face photos (see [`super::faces`]). Items are held in memory as
//! `[0, 1]` floats, images in (row, column, channel) order.

use std::path::{Path, PathBuf};
use std::str::FromStr;

use candle_core::{Device, Tensor};

use super::TrainError;
use super::idx::{self, IdxArray};
pub use crate::vision::encoders::DataKind;

const MNIST_TRAIN_IMAGES: &[u8] = include_bytes!("../../assets/mnist/train-images-idx3-ubyte.gz");
const MNIST_TRAIN_LABELS: &[u8] = include_bytes!("../../assets/mnist/train-labels-idx1-ubyte.gz");
const MNIST_TEST_IMAGES: &[u8] = include_bytes!("../../assets/mnist/t10k-images-idx3-ubyte.gz");
const MNIST_TEST_LABELS: &[u8] = include_bytes!("../../assets/mnist/t10k-labels-idx1-ubyte.gz");

/// Where the data comes from (the `--dataset` option).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DatasetSpec {
    /// The 10,000-digit MNIST subset built into rollcall (`mnist`).
    Mnist,
    /// A folder of MNIST-format IDX files (`idx:DIR`).
    Idx(PathBuf),
    /// A folder of face photos, one sub-folder per identity (`faces:DIR`).
    Faces(PathBuf),
}

impl FromStr for DatasetSpec {
    type Err = TrainError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s == "mnist" {
            Ok(Self::Mnist)
        } else if let Some(dir) = s.strip_prefix("idx:") {
            Ok(Self::Idx(PathBuf::from(dir)))
        } else if let Some(dir) = s.strip_prefix("faces:") {
            Ok(Self::Faces(PathBuf::from(dir)))
        } else {
            Err(TrainError::Config(format!(
                "unknown dataset {s:?}: use mnist, idx:DIR or faces:DIR"
            )))
        }
    }
}

impl std::fmt::Display for DatasetSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Mnist => f.write_str("mnist"),
            Self::Idx(d) => write!(f, "idx:{}", d.display()),
            Self::Faces(d) => write!(f, "faces:{}", d.display()),
        }
    }
}

/// One split: items of equal shape with a class label each.
#[derive(Clone, Debug, PartialEq)]
pub struct Split {
    /// The values of all items, one after the other.
    pub items: Vec<f32>,
    /// The shape of one item: `[H, W, C]` for images, `[D]` for vectors.
    pub item_shape: Vec<usize>,
    /// The class (digit or identity index) of each item.
    pub labels: Vec<u32>,
}

impl Split {
    /// Number of items.
    #[must_use]
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether there are no items.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Values per item.
    #[must_use]
    pub fn item_len(&self) -> usize {
        self.item_shape.iter().product()
    }

    /// The values of item `i`.
    #[must_use]
    pub fn item(&self, i: usize) -> &[f32] {
        let n = self.item_len();
        &self.items[i * n..(i + 1) * n]
    }

    /// Number of classes (largest label + 1).
    #[must_use]
    pub fn num_classes(&self) -> usize {
        self.labels.iter().max().map_or(0, |&m| m as usize + 1)
    }

    /// The items `indices` as one tensor `[len, item_shape...]`.
    pub fn batch(&self, indices: &[usize]) -> Result<Tensor, TrainError> {
        let mut values = Vec::with_capacity(indices.len() * self.item_len());
        for &i in indices {
            values.extend_from_slice(self.item(i));
        }
        let mut shape = vec![indices.len()];
        shape.extend(&self.item_shape);
        Ok(Tensor::from_vec(values, shape, &Device::Cpu)?)
    }
}

/// A loaded dataset: a training split and a test (validation) split.
#[derive(Clone, Debug)]
pub struct Dataset {
    /// How it was named (`mnist`, `idx:DIR`, `faces:DIR`).
    pub spec: String,
    /// The kind of data.
    pub kind: DataKind,
    /// Training items.
    pub train: Split,
    /// Test items (identity-disjoint from training for faces).
    pub test: Split,
    /// Class names by label (digits "0".."9", identity folder names).
    pub class_names: Vec<String>,
}

fn images_split(images: &IdxArray, labels: &IdxArray, what: &str) -> Result<Split, TrainError> {
    if images.dims.len() != 3 || labels.dims.len() != 1 {
        return Err(TrainError::Data(format!(
            "{what}: expected images N x H x W and labels N, got {:?} and {:?}",
            images.dims, labels.dims
        )));
    }
    if images.dims[0] != labels.dims[0] {
        return Err(TrainError::Data(format!(
            "{what}: {} images but {} labels",
            images.dims[0], labels.dims[0]
        )));
    }
    if images.dims[1] != images.dims[2] {
        return Err(TrainError::Data(format!(
            "{what}: images must be square, got {:?}",
            images.dims
        )));
    }
    Ok(Split {
        items: images.data.iter().map(|&b| f32::from(b) / 255.0).collect(),
        item_shape: vec![images.dims[1], images.dims[2], 1],
        labels: labels.data.iter().map(|&l| u32::from(l)).collect(),
    })
}

/// Reads an MNIST-format folder: `train-images-idx3-ubyte`, `train-labels-idx1-ubyte`,
/// `t10k-images-idx3-ubyte`, `t10k-labels-idx1-ubyte`, each plain or `.gz`.
pub fn load_idx_dir(dir: &Path) -> Result<Dataset, TrainError> {
    let train = images_split(
        &idx::read_in(dir, "train-images-idx3-ubyte")?,
        &idx::read_in(dir, "train-labels-idx1-ubyte")?,
        "training split",
    )?;
    let test = images_split(
        &idx::read_in(dir, "t10k-images-idx3-ubyte")?,
        &idx::read_in(dir, "t10k-labels-idx1-ubyte")?,
        "test split",
    )?;
    idx_dataset(format!("idx:{}", dir.display()), train, test)
}

fn idx_dataset(spec: String, train: Split, test: Split) -> Result<Dataset, TrainError> {
    if train.item_shape != test.item_shape {
        return Err(TrainError::Data(
            "training and test images differ in size".into(),
        ));
    }
    let classes = train.num_classes().max(test.num_classes());
    Ok(Dataset {
        spec,
        kind: DataKind::Idx,
        train,
        test,
        class_names: (0..classes).map(|c| c.to_string()).collect(),
    })
}

/// The MNIST subset built into rollcall (8,000 training and 2,000 test digits).
pub fn load_bundled_mnist() -> Result<Dataset, TrainError> {
    let train = images_split(
        &idx::parse(MNIST_TRAIN_IMAGES, "bundled train-images")?,
        &idx::parse(MNIST_TRAIN_LABELS, "bundled train-labels")?,
        "bundled MNIST",
    )?;
    let test = images_split(
        &idx::parse(MNIST_TEST_IMAGES, "bundled t10k-images")?,
        &idx::parse(MNIST_TEST_LABELS, "bundled t10k-labels")?,
        "bundled MNIST",
    )?;
    idx_dataset("mnist".into(), train, test)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bundled_subset_has_the_documented_counts() {
        let d = load_bundled_mnist().unwrap();
        assert_eq!((d.train.len(), d.test.len()), (8000, 2000));
        assert_eq!(d.train.item_shape, [28, 28, 1]);
        let mut counts = [0usize; 10];
        for &l in &d.test.labels {
            counts[l as usize] += 1;
        }
        assert_eq!(counts, [200, 225, 198, 206, 196, 173, 203, 214, 189, 196]);
        assert!(d.train.items.iter().all(|v| (0.0..=1.0).contains(v)));
        assert_eq!(d.train.batch(&[0, 5]).unwrap().dims(), &[2, 28, 28, 1]);
    }

    #[test]
    fn specs_parse() {
        assert_eq!("mnist".parse::<DatasetSpec>().unwrap(), DatasetSpec::Mnist);
        assert_eq!(
            "idx:/a".parse::<DatasetSpec>().unwrap(),
            DatasetSpec::Idx("/a".into())
        );
        assert_eq!(
            "faces:b".parse::<DatasetSpec>().unwrap().to_string(),
            "faces:b"
        );
        assert!("cifar".parse::<DatasetSpec>().is_err());
    }

    #[test]
    fn a_folder_with_a_truncated_file_names_it() {
        let dir = tempfile::tempdir().unwrap();
        for name in [
            "train-images-idx3-ubyte.gz",
            "train-labels-idx1-ubyte.gz",
            "t10k-images-idx3-ubyte.gz",
            "t10k-labels-idx1-ubyte.gz",
        ] {
            std::fs::copy(
                crate::testdata::repo_file(&format!("assets/mnist/{name}")),
                dir.path().join(name),
            )
            .unwrap();
        }
        assert_eq!(load_idx_dir(dir.path()).unwrap().train.len(), 8000);
        let path = dir.path().join("t10k-labels-idx1-ubyte.gz");
        let bytes = std::fs::read(&path).unwrap();
        std::fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
        let err = load_idx_dir(dir.path()).unwrap_err().to_string();
        assert!(
            err.contains("t10k-labels") && err.contains("damaged"),
            "{err}"
        );
    }
}
