//! MNIST and Fashion-MNIST (the same file format and names) from IDX files.

use std::path::{Path, PathBuf};

use nabla_autograd::Tensor;
use nabla_tensor::{Error, Result};

use crate::{read_idx, IdxArray, TensorDataset, ToTensor};

/// How many images of the bundled 10 000-image test set are used for training; the rest
/// (2 000) are for evaluation.
pub const BUNDLED_TRAIN_LEN: usize = 8_000;

/// The magic number of an IDX image file (unsigned bytes, 3 dimensions).
const IMAGES_MAGIC: u32 = 2051;
/// The magic number of an IDX label file (unsigned bytes, 1 dimension).
const LABELS_MAGIC: u32 = 2049;

/// MNIST-style images and labels held as bytes, as read from the files; convert them once
/// with [`to_dataset`](Mnist::to_dataset).
///
/// ```
/// use nabla_data::Mnist;
/// let test = Mnist::load(Mnist::bundled_dir(), false).unwrap();
/// assert_eq!(test.len(), 10_000);
/// assert_eq!((test.rows(), test.cols()), (28, 28));
/// assert_eq!(&test.labels()[..3], &[7, 2, 1]);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mnist {
    images: Vec<u8>,
    labels: Vec<u8>,
    rows: usize,
    cols: usize,
}

/// A training set and an evaluation set, images `[N, 1, 28, 28]` f32 in `[0, 1]` and labels
/// `[N]` i64.
///
/// ```
/// use nabla_data::{Dataset, Mnist};
/// let split = Mnist::bundled().unwrap();
/// assert_eq!((split.train.len(), split.test.len()), (8_000, 2_000));
/// ```
#[derive(Debug, Clone)]
pub struct MnistSplit {
    /// Images and labels to train on.
    pub train: TensorDataset,
    /// Images and labels to evaluate on.
    pub test: TensorDataset,
}

impl Mnist {
    /// The training set (`train-images-idx3-ubyte`, `train-labels-idx1-ubyte`) or the test
    /// set (`t10k-…`) of a standard MNIST or Fashion-MNIST directory; each file may be
    /// gzipped (`.gz`, recognised by content) or raw.
    ///
    /// Fails with an error naming the file if a file is missing, unreadable, corrupt,
    /// truncated or oversized, is not an image (or label) IDX file, or if the two files
    /// disagree on the number of samples.
    ///
    /// ```
    /// use nabla_data::Mnist;
    /// let test = Mnist::load(Mnist::bundled_dir(), false).unwrap();
    /// assert_eq!(test.images().len(), 10_000 * 28 * 28);
    /// let err = Mnist::load(Mnist::bundled_dir(), true).unwrap_err(); // no train-* bundled
    /// assert!(err.to_string().contains("train-images-idx3-ubyte"));
    /// ```
    pub fn load(dir: impl AsRef<Path>, train: bool) -> Result<Mnist> {
        let dir = dir.as_ref();
        let prefix = if train { "train" } else { "t10k" };
        let images = find_file(dir, &format!("{prefix}-images-idx3-ubyte"))?;
        let labels = find_file(dir, &format!("{prefix}-labels-idx1-ubyte"))?;
        Mnist::from_files(images, labels)
    }

    /// Images and labels from two IDX files at any paths.
    ///
    /// ```
    /// use nabla_data::Mnist;
    /// let dir = Mnist::bundled_dir();
    /// let swapped = Mnist::from_files(
    ///     dir.join("t10k-labels-idx1-ubyte.gz"),
    ///     dir.join("t10k-images-idx3-ubyte.gz"),
    /// );
    /// let msg = swapped.unwrap_err().to_string();
    /// assert!(msg.contains("bad magic number 2049, expected 2051 (an IDX image file); is this a label file?"));
    /// ```
    pub fn from_files(images: impl AsRef<Path>, labels: impl AsRef<Path>) -> Result<Mnist> {
        let (images_path, labels_path) = (images.as_ref(), labels.as_ref());
        let images = read_idx(images_path)?;
        check_magic(&images, images_path, IMAGES_MAGIC)?;
        let (count, rows, cols) = (images.dims[0], images.dims[1], images.dims[2]);
        if rows == 0 || cols == 0 {
            return Err(Error::invalid_file(
                images_path,
                format!("images of {rows}x{cols} pixels; the header is corrupt"),
            ));
        }
        let labels = read_idx(labels_path)?;
        check_magic(&labels, labels_path, LABELS_MAGIC)?;
        if labels.dims[0] != count {
            return Err(Error::invalid_file(
                labels_path,
                format!(
                    "{} labels for the {count} images of {}; the files do not belong together",
                    labels.dims[0],
                    images_path.display()
                ),
            ));
        }
        Ok(Mnist { images: images.data, labels: labels.data, rows, cols })
    }

    /// The directory of the project's bundled data, `data/mnist/`: the official MNIST test
    /// set (`t10k-*.gz`, 10 000 images).
    ///
    /// ```
    /// assert!(nabla_data::Mnist::bundled_dir().join("t10k-labels-idx1-ubyte.gz").exists());
    /// ```
    pub fn bundled_dir() -> PathBuf {
        PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../data/mnist"))
    }

    /// The bundled data split for small experiments: the first [`BUNDLED_TRAIN_LEN`]
    /// (8 000) images to train on, the last 2 000 to evaluate on.
    ///
    /// ```
    /// use nabla_data::{Dataset, Mnist};
    /// let split = Mnist::bundled().unwrap();
    /// let (x, y) = split.train.get(0);
    /// assert_eq!(x.shape(), &[1, 28, 28]);
    /// assert_eq!(y.to_vec::<i64>(), vec![7]);
    /// ```
    pub fn bundled() -> Result<MnistSplit> {
        let all = Mnist::load(Mnist::bundled_dir(), false)?;
        if all.len() < BUNDLED_TRAIN_LEN {
            return Err(Error::invalid_file(
                Mnist::bundled_dir(),
                format!("the bundled test set has {} images, expected 10000", all.len()),
            ));
        }
        let (train, test) = all.split_at(BUNDLED_TRAIN_LEN);
        Ok(MnistSplit { train: train.to_dataset(), test: test.to_dataset() })
    }

    /// A user's MNIST or Fashion-MNIST directory: the training set from its `train-*` files
    /// and the evaluation set from its `t10k-*` files.
    ///
    /// If the directory holds only the `t10k-*` files (like the bundled data), their first
    /// 80 % of images (8 000 of the official 10 000) are the training set and the rest the
    /// evaluation set, as in [`bundled`](Mnist::bundled).
    ///
    /// ```
    /// use nabla_data::{Dataset, Mnist};
    /// let split = Mnist::load_dir(Mnist::bundled_dir()).unwrap(); // only t10k-* there
    /// assert_eq!((split.train.len(), split.test.len()), (8_000, 2_000));
    /// ```
    pub fn load_dir(dir: impl AsRef<Path>) -> Result<MnistSplit> {
        let dir = dir.as_ref();
        let has_train =
            ["train-images-idx3-ubyte", "train-labels-idx1-ubyte"].iter().any(|name| find_file(dir, name).is_ok());
        let test = Mnist::load(dir, false)?;
        if has_train {
            let train = Mnist::load(dir, true)?;
            return Ok(MnistSplit { train: train.to_dataset(), test: test.to_dataset() });
        }
        let at = test.len() * 4 / 5;
        let (train, test) = test.split_at(at);
        Ok(MnistSplit { train: train.to_dataset(), test: test.to_dataset() })
    }

    /// The number of images.
    ///
    /// ```
    /// assert_eq!(nabla_data::Mnist::load(nabla_data::Mnist::bundled_dir(), false).unwrap().len(), 10_000);
    /// ```
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether there is no image.
    ///
    /// ```
    /// assert!(!nabla_data::Mnist::load(nabla_data::Mnist::bundled_dir(), false).unwrap().is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// The height of an image in pixels.
    ///
    /// ```
    /// assert_eq!(nabla_data::Mnist::load(nabla_data::Mnist::bundled_dir(), false).unwrap().rows(), 28);
    /// ```
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// The width of an image in pixels.
    ///
    /// ```
    /// assert_eq!(nabla_data::Mnist::load(nabla_data::Mnist::bundled_dir(), false).unwrap().cols(), 28);
    /// ```
    pub fn cols(&self) -> usize {
        self.cols
    }

    /// The pixels, `0..=255`, image after image, row-major.
    ///
    /// ```
    /// let m = nabla_data::Mnist::load(nabla_data::Mnist::bundled_dir(), false).unwrap();
    /// assert_eq!(m.images().len(), m.len() * 28 * 28);
    /// ```
    pub fn images(&self) -> &[u8] {
        &self.images
    }

    /// The labels, `0..=9` for MNIST and Fashion-MNIST.
    ///
    /// ```
    /// let m = nabla_data::Mnist::load(nabla_data::Mnist::bundled_dir(), false).unwrap();
    /// assert!(m.labels().iter().all(|&l| l < 10));
    /// ```
    pub fn labels(&self) -> &[u8] {
        &self.labels
    }

    /// The first `at` samples and the rest; panics if `at > len()`.
    ///
    /// ```
    /// let m = nabla_data::Mnist::load(nabla_data::Mnist::bundled_dir(), false).unwrap();
    /// let (a, b) = m.split_at(9_000);
    /// assert_eq!((a.len(), b.len()), (9_000, 1_000));
    /// ```
    #[track_caller]
    pub fn split_at(mut self, at: usize) -> (Mnist, Mnist) {
        assert!(at <= self.len(), "Mnist::split_at: {at} is past the {} samples", self.len());
        let tail_images = self.images.split_off(at * self.rows * self.cols);
        let tail_labels = self.labels.split_off(at);
        let tail = Mnist { images: tail_images, labels: tail_labels, rows: self.rows, cols: self.cols };
        (self, tail)
    }

    /// The samples as tensors: images `[N, 1, rows, cols]` f32 scaled to `[0, 1]`, labels
    /// `[N]` i64.
    ///
    /// ```
    /// let m = nabla_data::Mnist::load(nabla_data::Mnist::bundled_dir(), false).unwrap();
    /// let (x, y) = m.to_dataset().into_tensors();
    /// assert_eq!(x.shape(), &[10_000, 1, 28, 28]);
    /// assert_eq!(y.dtype(), nabla_autograd::DType::I64);
    /// ```
    pub fn to_dataset(&self) -> TensorDataset {
        let n = self.len();
        let images = ToTensor::from_u8(&self.images, &[n, 1, self.rows, self.cols])
            .expect("image bytes match the checked header");
        let labels = Tensor::from_vec(self.labels.iter().map(|&l| i64::from(l)).collect(), &[n]);
        TensorDataset::new(images, labels)
    }
}

/// Checks that `array` came from an IDX file with magic number `expected`.
fn check_magic(array: &IdxArray, path: &Path, expected: u32) -> Result<()> {
    let magic = array.magic();
    if magic == expected {
        return Ok(());
    }
    let kind = if expected == IMAGES_MAGIC { "an IDX image file" } else { "an IDX label file" };
    let hint = match magic {
        LABELS_MAGIC => "; is this a label file?".to_string(),
        IMAGES_MAGIC => "; is this an image file?".to_string(),
        _ => format!("; it must have {} dimensions, this one has {:?}", expected - 0x800, array.dims),
    };
    Err(Error::invalid_file(path, format!("bad magic number {magic}, expected {expected} ({kind}){hint}")))
}

/// `dir/name.gz` or `dir/name`, whichever exists (the gzipped one first).
fn find_file(dir: &Path, name: &str) -> Result<PathBuf> {
    let gz = dir.join(format!("{name}.gz"));
    let raw = dir.join(name);
    if gz.is_file() {
        Ok(gz)
    } else if raw.is_file() {
        Ok(raw)
    } else {
        Err(Error::Io {
            path: raw.display().to_string(),
            msg: format!("no such file (nor {}.gz); is this an MNIST directory?", name),
        })
    }
}
