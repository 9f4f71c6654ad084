//! Image transforms, as `torchvision.transforms`: [`ToTensor`], [`Normalize`],
//! [`RandomCrop`], [`RandomHorizontalFlip`], chained with [`Compose`] and attached to a
//! dataset with [`TransformedDataset`].
//!
//! Images are `[C, H, W]` (or `[H, W]`); a tensor with more leading dimensions,
//! `[N, C, H, W]`, is a batch of images, each transformed independently (its own random
//! crop, its own coin flip), so a transform can run on whole batches. Transforms prepare
//! data: they read the values and build new tensors, and record nothing for autograd.
//! Random transforms draw their generator from `nabla_autograd::rng::fork_rng()` when built.

use std::sync::Mutex;

use nabla_autograd::{DType, Tensor};
use nabla_tensor::{BufferElement, Error, Result};
use rand::rngs::StdRng;
use rand::Rng;

use crate::Dataset;

/// A function of a tensor applied to samples, as a torchvision transform. Closures
/// `Fn(&Tensor) -> Tensor` are transforms too.
///
/// ```
/// use nabla_autograd::Tensor;
/// use nabla_data::{Compose, Normalize, ToTensor, Transform};
/// let t = Compose::new().then(ToTensor).then(Normalize::new(vec![0.5], vec![0.5]));
/// let img = Tensor::from_vec(vec![0.0f32, 255.0], &[1, 1, 2]);
/// assert_eq!(t.apply(&img).to_vec::<f32>(), vec![-1.0, 1.0]);
/// ```
pub trait Transform: Send + Sync {
    /// The transformed tensor, or an error if its shape or dtype does not fit.
    fn try_apply(&self, x: &Tensor) -> Result<Tensor>;

    /// As [`try_apply`](Self::try_apply), panicking with the error's message.
    fn apply(&self, x: &Tensor) -> Tensor {
        self.try_apply(x).unwrap_or_else(|e| panic!("{e}"))
    }
}

impl<F: Fn(&Tensor) -> Tensor + Send + Sync> Transform for F {
    fn try_apply(&self, x: &Tensor) -> Result<Tensor> {
        Ok(self(x))
    }
}

/// Scales pixel values from `0..=255` to `[0, 1]` as f32, as torchvision's `ToTensor`
/// (without its HWC→CHW permutation: nabla's images are already `[C, H, W]`).
///
/// ```
/// use nabla_autograd::Tensor;
/// use nabla_data::{ToTensor, Transform};
/// let x = ToTensor.apply(&Tensor::from_vec(vec![0i64, 51, 255], &[1, 1, 3]));
/// assert_eq!(x.to_vec::<f32>(), vec![0.0, 0.2, 1.0]);
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct ToTensor;

impl ToTensor {
    /// A `[0, 1]` f32 tensor of `shape` from bytes, the form images are stored in.
    ///
    /// ```
    /// use nabla_data::ToTensor;
    /// let x = ToTensor::from_u8(&[0, 255], &[1, 1, 2]).unwrap();
    /// assert_eq!(x.to_vec::<f32>(), vec![0.0, 1.0]);
    /// assert!(ToTensor::from_u8(&[0, 255], &[3]).is_err());
    /// ```
    pub fn from_u8(bytes: &[u8], shape: &[usize]) -> Result<Tensor> {
        let numel: usize = shape.iter().product();
        if numel != bytes.len() {
            return Err(Error::shape(
                "ToTensor",
                format!("{} bytes cannot fill shape {shape:?} ({numel} elements)", bytes.len()),
                "the shape's product must equal the number of bytes",
            ));
        }
        let data: Vec<f32> = bytes.iter().map(|&b| f32::from(b) / 255.0).collect();
        Ok(Tensor::from_vec(data, shape))
    }
}

impl Transform for ToTensor {
    fn try_apply(&self, x: &Tensor) -> Result<Tensor> {
        let data: Vec<f32> = x.to_vec::<f32>().into_iter().map(|v| v / 255.0).collect();
        Ok(Tensor::from_vec(data, x.shape()))
    }
}

/// Per-channel standardisation `(x - mean[c]) / std[c]`, as torchvision's `Normalize`.
/// One mean and std apply to every channel; otherwise there is one per channel (dimension
/// `-3`). Float tensors keep their dtype; others become f32.
///
/// ```
/// use nabla_autograd::Tensor;
/// use nabla_data::{Normalize, Transform};
/// let n = Normalize::new(vec![1.0, 2.0], vec![1.0, 0.5]);
/// let img = Tensor::from_vec(vec![1.0f32, 3.0, 2.0, 3.0], &[2, 1, 2]); // 2 channels
/// assert_eq!(n.apply(&img).to_vec::<f32>(), vec![0.0, 2.0, 0.0, 2.0]);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Normalize {
    /// The mean of each channel (or one for all).
    pub mean: Vec<f64>,
    /// The standard deviation of each channel (or one for all).
    pub std: Vec<f64>,
}

impl Normalize {
    /// The transform; fails if `mean` and `std` differ in length or are empty, or a `std`
    /// is not positive and finite.
    ///
    /// ```
    /// use nabla_data::Normalize;
    /// // MNIST's usual constants.
    /// assert!(Normalize::try_new(vec![0.1307], vec![0.3081]).is_ok());
    /// let err = Normalize::try_new(vec![0.5], vec![0.0]).unwrap_err();
    /// assert!(err.to_string().contains("std[0] = 0"));
    /// ```
    pub fn try_new(mean: Vec<f64>, std: Vec<f64>) -> Result<Normalize> {
        if mean.is_empty() || mean.len() != std.len() {
            return Err(Error::invalid_argument(
                "Normalize",
                format!("needs as many means as stds, at least one: got {} and {}", mean.len(), std.len()),
            ));
        }
        if let Some((i, s)) = std.iter().enumerate().find(|(_, s)| !(s.is_finite() && **s > 0.0)) {
            return Err(Error::invalid_argument(
                "Normalize",
                format!("std[{i}] = {s}: a standard deviation must be positive and finite"),
            ));
        }
        Ok(Normalize { mean, std })
    }

    /// As [`try_new`](Self::try_new), panicking with the same message.
    ///
    /// ```
    /// let n = nabla_data::Normalize::new(vec![0.1307], vec![0.3081]);
    /// assert_eq!(n.mean, vec![0.1307]);
    /// ```
    #[track_caller]
    pub fn new(mean: Vec<f64>, std: Vec<f64>) -> Normalize {
        Normalize::try_new(mean, std).unwrap_or_else(|e| panic!("{e}"))
    }

    fn run<T: BufferElement>(&self, x: &Tensor, channels: usize, plane: usize) -> Tensor {
        let mut data = x.to_vec::<T>();
        let per = self.mean.len();
        for (k, image_channel) in data.chunks_mut(plane.max(1)).enumerate() {
            let c = if per == 1 { 0 } else { k % channels };
            let (m, s) = (self.mean[c], self.std[c]);
            for v in image_channel {
                *v = T::from_f64((v.to_f64() - m) / s);
            }
        }
        Tensor::from_vec(data, x.shape())
    }
}

impl Transform for Normalize {
    fn try_apply(&self, x: &Tensor) -> Result<Tensor> {
        let shape = x.shape();
        let (channels, plane) = match shape.len() {
            0 | 1 => (1, shape.iter().product()),
            2 => (1, shape[0] * shape[1]),
            n => (shape[n - 3], shape[n - 2] * shape[n - 1]),
        };
        if self.mean.len() != 1 && self.mean.len() != channels {
            return Err(Error::shape(
                "Normalize",
                format!("{} means and stds for a tensor of shape {shape:?} with {channels} channels", self.mean.len()),
                "give one mean and std per channel (dimension -3), or a single one for all",
            ));
        }
        Ok(match x.dtype() {
            DType::F64 => self.run::<f64>(x, channels, plane),
            _ => self.run::<f32>(x, channels, plane),
        })
    }
}

/// The image dimensions of `shape`: (number of images, channels, height, width).
fn image_dims(op: &'static str, shape: &[usize]) -> Result<(usize, usize, usize, usize)> {
    match shape.len() {
        0 | 1 => Err(Error::shape(
            op,
            format!("expected an image [C, H, W] or [H, W] or a batch [N, C, H, W], got shape {shape:?}"),
            "reshape flat images to [C, H, W] first",
        )),
        2 => Ok((1, 1, shape[0], shape[1])),
        n => Ok((shape[..n - 3].iter().product(), shape[n - 3], shape[n - 2], shape[n - 1])),
    }
}

/// Crops a random `size = [height, width]` window out of each image, after padding it with
/// `padding` zeros on every side, as torchvision's `RandomCrop(size, padding)`.
///
/// ```
/// use nabla_autograd::Tensor;
/// use nabla_data::{RandomCrop, Transform};
/// let crop = RandomCrop::new([28, 28], 4);
/// let batch = Tensor::from_vec(vec![1.0f32; 2 * 28 * 28], &[2, 1, 28, 28]);
/// assert_eq!(crop.apply(&batch).shape(), &[2, 1, 28, 28]);
/// ```
#[derive(Debug)]
pub struct RandomCrop {
    size: [usize; 2],
    padding: usize,
    rng: Mutex<StdRng>,
}

impl RandomCrop {
    /// Crops of `size = [height, width]` from images padded by `padding` on each side.
    ///
    /// ```
    /// use nabla_autograd::Tensor;
    /// use nabla_data::{RandomCrop, Transform};
    /// let img = Tensor::from_vec((0..16).map(|v| v as f32).collect(), &[1, 4, 4]);
    /// let out = RandomCrop::new([4, 4], 0).apply(&img); // no padding, full size: unchanged
    /// assert_eq!(out.to_vec::<f32>(), img.to_vec::<f32>());
    /// ```
    pub fn new(size: [usize; 2], padding: usize) -> RandomCrop {
        RandomCrop { size, padding, rng: Mutex::new(nabla_autograd::rng::fork_rng()) }
    }

    fn run<T: BufferElement>(&self, x: &Tensor, dims: (usize, usize, usize, usize)) -> Tensor {
        let (n, c, h, w) = dims;
        let [ch, cw] = self.size;
        let p = self.padding;
        let src = x.to_vec::<T>();
        let zero = T::from_f64(0.0);
        let mut out = Vec::with_capacity(n * c * ch * cw);
        let mut rng = self.rng.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        for image in src.chunks(c * h * w) {
            // Window corner in padded coordinates.
            let top = rng.random_range(0..=h + 2 * p - ch);
            let left = rng.random_range(0..=w + 2 * p - cw);
            for channel in image.chunks(h * w) {
                for i in 0..ch {
                    let row = (top + i).checked_sub(p).filter(|&r| r < h);
                    for j in 0..cw {
                        let col = (left + j).checked_sub(p).filter(|&c| c < w);
                        out.push(match (row, col) {
                            (Some(r), Some(c)) => channel[r * w + c],
                            _ => zero,
                        });
                    }
                }
            }
        }
        let mut shape = x.shape().to_vec();
        let rank = shape.len();
        shape[rank - 2] = ch;
        shape[rank - 1] = cw;
        Tensor::from_vec(out, &shape)
    }
}

impl Transform for RandomCrop {
    fn try_apply(&self, x: &Tensor) -> Result<Tensor> {
        let dims = image_dims("RandomCrop", x.shape())?;
        let (h, w) = (dims.2 + 2 * self.padding, dims.3 + 2 * self.padding);
        if self.size[0] > h || self.size[1] > w {
            return Err(Error::shape(
                "RandomCrop",
                format!(
                    "crop size {:?} is larger than the padded image {h}x{w} (shape {:?}, padding {})",
                    self.size,
                    x.shape(),
                    self.padding
                ),
                "use a smaller crop or more padding",
            ));
        }
        Ok(match x.dtype() {
            DType::F64 => self.run::<f64>(x, dims),
            DType::I64 => self.run::<i64>(x, dims),
            _ => self.run::<f32>(x, dims),
        })
    }
}

/// Mirrors each image left–right with probability `p`, as torchvision's
/// `RandomHorizontalFlip(p)`.
///
/// ```
/// use nabla_autograd::Tensor;
/// use nabla_data::{RandomHorizontalFlip, Transform};
/// let img = Tensor::from_vec(vec![1.0f32, 2.0, 3.0], &[1, 1, 3]);
/// assert_eq!(RandomHorizontalFlip::new(1.0).apply(&img).to_vec::<f32>(), vec![3.0, 2.0, 1.0]);
/// assert_eq!(RandomHorizontalFlip::new(0.0).apply(&img).to_vec::<f32>(), vec![1.0, 2.0, 3.0]);
/// ```
#[derive(Debug)]
pub struct RandomHorizontalFlip {
    p: f64,
    rng: Mutex<StdRng>,
}

impl RandomHorizontalFlip {
    /// Flips with probability `p`; fails unless `0 <= p <= 1`.
    ///
    /// ```
    /// let err = nabla_data::RandomHorizontalFlip::try_new(1.5).unwrap_err();
    /// assert!(err.to_string().contains("probability must be between 0 and 1, got 1.5"));
    /// ```
    pub fn try_new(p: f64) -> Result<RandomHorizontalFlip> {
        if !(0.0..=1.0).contains(&p) {
            return Err(Error::invalid_argument(
                "RandomHorizontalFlip",
                format!("probability must be between 0 and 1, got {p}"),
            ));
        }
        Ok(RandomHorizontalFlip { p, rng: Mutex::new(nabla_autograd::rng::fork_rng()) })
    }

    /// As [`try_new`](Self::try_new), panicking with the same message.
    ///
    /// ```
    /// let flip = nabla_data::RandomHorizontalFlip::new(0.5);
    /// ```
    #[track_caller]
    pub fn new(p: f64) -> RandomHorizontalFlip {
        RandomHorizontalFlip::try_new(p).unwrap_or_else(|e| panic!("{e}"))
    }

    fn run<T: BufferElement>(&self, x: &Tensor, dims: (usize, usize, usize, usize)) -> Tensor {
        let (_, c, h, w) = dims;
        let mut data = x.to_vec::<T>();
        let mut rng = self.rng.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        for image in data.chunks_mut(c * h * w) {
            if rng.random::<f64>() < self.p {
                image.chunks_mut(w.max(1)).for_each(<[T]>::reverse);
            }
        }
        Tensor::from_vec(data, x.shape())
    }
}

impl Transform for RandomHorizontalFlip {
    fn try_apply(&self, x: &Tensor) -> Result<Tensor> {
        let dims = image_dims("RandomHorizontalFlip", x.shape())?;
        Ok(match x.dtype() {
            DType::F64 => self.run::<f64>(x, dims),
            DType::I64 => self.run::<i64>(x, dims),
            _ => self.run::<f32>(x, dims),
        })
    }
}

/// Several transforms applied in order, as torchvision's `Compose`.
///
/// ```
/// use nabla_autograd::Tensor;
/// use nabla_data::{Compose, RandomCrop, RandomHorizontalFlip, Normalize, Transform};
/// let augment = Compose::new()
///     .then(RandomCrop::new([28, 28], 2))
///     .then(RandomHorizontalFlip::new(0.5))
///     .then(Normalize::new(vec![0.1307], vec![0.3081]));
/// let x = Tensor::from_vec(vec![0.5f32; 28 * 28], &[1, 28, 28]);
/// assert_eq!(augment.apply(&x).shape(), &[1, 28, 28]);
/// ```
#[derive(Default)]
pub struct Compose {
    transforms: Vec<Box<dyn Transform>>,
}

impl std::fmt::Debug for Compose {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Compose({} transforms)", self.transforms.len())
    }
}

impl Compose {
    /// No transform yet: the identity.
    ///
    /// ```
    /// use nabla_autograd::Tensor;
    /// use nabla_data::{Compose, Transform};
    /// let x = Tensor::from_vec(vec![1.0f32], &[1]);
    /// assert_eq!(Compose::new().apply(&x).to_vec::<f32>(), vec![1.0]);
    /// ```
    pub fn new() -> Compose {
        Compose::default()
    }

    /// The transforms of `transforms`, in order.
    ///
    /// ```
    /// use nabla_data::{Compose, ToTensor, Transform};
    /// let c = Compose::from_transforms(vec![Box::new(ToTensor) as Box<dyn Transform>]);
    /// ```
    pub fn from_transforms(transforms: Vec<Box<dyn Transform>>) -> Compose {
        Compose { transforms }
    }

    /// Appends `transform`.
    ///
    /// ```
    /// use nabla_autograd::Tensor;
    /// use nabla_data::{Compose, Transform};
    /// let double_then_inc = Compose::new()
    ///     .then(|x: &Tensor| Tensor::from_vec(x.to_vec::<f32>().iter().map(|v| v * 2.0).collect(), x.shape()))
    ///     .then(|x: &Tensor| Tensor::from_vec(x.to_vec::<f32>().iter().map(|v| v + 1.0).collect(), x.shape()));
    /// assert_eq!(double_then_inc.apply(&Tensor::from_vec(vec![3.0f32], &[1])).to_vec::<f32>(), vec![7.0]);
    /// ```
    pub fn then(mut self, transform: impl Transform + 'static) -> Compose {
        self.transforms.push(Box::new(transform));
        self
    }
}

impl Transform for Compose {
    fn try_apply(&self, x: &Tensor) -> Result<Tensor> {
        let mut x = x.clone();
        for t in &self.transforms {
            x = t.try_apply(&x)?;
        }
        Ok(x)
    }
}

/// A dataset of `(input, target)` pairs whose inputs go through a [`Transform`] when they
/// are fetched (PyTorch's `transform=` argument of torchvision datasets). Batches keep the
/// fast path: the transform runs once on the whole gathered batch, each image with its own
/// random draws.
///
/// ```
/// use nabla_autograd::Tensor;
/// use nabla_data::{DataLoader, Dataset, RandomHorizontalFlip, TensorDataset, TransformedDataset};
/// let x = Tensor::from_vec(vec![1.0f32, 2.0, 3.0, 4.0], &[2, 1, 1, 2]);
/// let y = Tensor::from_vec(vec![0i64, 1], &[2]);
/// let flipped = TransformedDataset::new(TensorDataset::new(x, y), RandomHorizontalFlip::new(1.0));
/// assert_eq!(flipped.get(0).0.to_vec::<f32>(), vec![2.0, 1.0]);
/// let (xb, _) = DataLoader::new(flipped, 2).iter().next().unwrap();
/// assert_eq!(xb.to_vec::<f32>(), vec![2.0, 1.0, 4.0, 3.0]);
/// ```
#[derive(Debug)]
pub struct TransformedDataset<D, T> {
    dataset: D,
    transform: T,
}

impl<D, T> TransformedDataset<D, T>
where
    D: Dataset<Item = (Tensor, Tensor)>,
    T: Transform,
{
    /// `dataset` with `transform` applied to each input.
    ///
    /// ```
    /// use nabla_autograd::Tensor;
    /// use nabla_data::{Dataset, ToTensor, TensorDataset, TransformedDataset};
    /// let ds = TensorDataset::new(Tensor::from_vec(vec![255.0f32], &[1, 1, 1, 1]), Tensor::from_vec(vec![0i64], &[1]));
    /// assert_eq!(TransformedDataset::new(ds, ToTensor).get(0).0.to_vec::<f32>(), vec![1.0]);
    /// ```
    pub fn new(dataset: D, transform: T) -> TransformedDataset<D, T> {
        TransformedDataset { dataset, transform }
    }

    /// The underlying dataset.
    ///
    /// ```
    /// use nabla_autograd::Tensor;
    /// use nabla_data::{Dataset, ToTensor, TensorDataset, TransformedDataset};
    /// let ds = TensorDataset::new(Tensor::from_vec(vec![255.0f32], &[1, 1, 1, 1]), Tensor::from_vec(vec![0i64], &[1]));
    /// assert_eq!(TransformedDataset::new(ds, ToTensor).dataset().len(), 1);
    /// ```
    pub fn dataset(&self) -> &D {
        &self.dataset
    }
}

impl<D, T> Dataset for TransformedDataset<D, T>
where
    D: Dataset<Item = (Tensor, Tensor)>,
    T: Transform,
{
    type Item = (Tensor, Tensor);

    fn len(&self) -> usize {
        self.dataset.len()
    }

    fn get(&self, index: usize) -> (Tensor, Tensor) {
        let (x, y) = self.dataset.get(index);
        (self.transform.apply(&x), y)
    }

    fn get_batch(&self, indices: &[usize]) -> Option<(Tensor, Tensor)> {
        let (x, y) = self.dataset.get_batch(indices)?;
        Some((self.transform.apply(&x), y))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crop_with_padding_shifts_the_image() {
        // 1x3x3 image; a 3x3 crop of the 1-padded 5x5 image is a shift by at most one pixel.
        let img = Tensor::from_vec((1..=9).map(|v| v as f32).collect(), &[1, 3, 3]);
        let crop = RandomCrop::new([3, 3], 1);
        let mut seen = std::collections::HashSet::new();
        for _ in 0..200 {
            let out = crop.apply(&img).to_vec::<f32>();
            assert_eq!(out.len(), 9);
            // The centre of the crop is always one of the original pixels.
            assert!(out[4] >= 1.0);
            seen.insert(out.iter().map(|v| *v as i32).collect::<Vec<_>>());
        }
        assert_eq!(seen.len(), 9, "all nine shifts appear");
    }

    #[test]
    fn crop_too_large_is_an_error() {
        let img = Tensor::from_vec(vec![0.0f32; 4], &[1, 2, 2]);
        assert!(RandomCrop::new([5, 5], 1).try_apply(&img).is_err());
        assert!(RandomCrop::new([4, 4], 1).try_apply(&img).is_ok());
    }

    #[test]
    fn flip_is_per_image_in_a_batch() {
        let batch = Tensor::from_vec((0..200).map(|i| (i % 2) as f32).collect(), &[100, 1, 1, 2]);
        let out = RandomHorizontalFlip::new(0.5).apply(&batch).to_vec::<f32>();
        let flipped = out.chunks(2).filter(|p| p[0] == 1.0).count();
        assert!((20..=80).contains(&flipped), "{flipped} of 100 flipped");
    }

    #[test]
    fn normalize_checks_channels() {
        let n = Normalize::new(vec![0.0, 0.0], vec![1.0, 1.0]);
        let img = Tensor::from_vec(vec![0.0f32; 12], &[3, 2, 2]);
        let err = n.try_apply(&img).unwrap_err().to_string();
        assert!(err.contains("3 channels"), "{err}");
    }

    #[test]
    fn normalize_per_channel_on_a_batch_keeps_f64() {
        let n = Normalize::new(vec![1.0, 10.0], vec![1.0, 10.0]);
        let batch = Tensor::from_vec(vec![1.0f64, 2.0, 10.0, 20.0, 3.0, 4.0, 30.0, 40.0], &[2, 2, 1, 2]);
        let out = n.apply(&batch);
        assert_eq!(out.dtype(), DType::F64);
        assert_eq!(out.to_vec::<f64>(), vec![0.0, 1.0, 0.0, 1.0, 2.0, 3.0, 2.0, 3.0]);
    }
}
