//! Datasets, samplers, data loaders and transforms for nabla, in the shape of
//! `torch.utils.data` and `torchvision`: a [`Dataset`] yields samples, a [`DataLoader`]
//! groups them into batches (stacked by [`Collate`], or gathered with one `index_select`
//! for a [`TensorDataset`]), an epoch at a time, optionally prepared on a background
//! thread. [`Mnist`] reads MNIST and Fashion-MNIST from IDX files, gzipped or not, and
//! [`synthetic`] makes small toy problems.
//!
//! Randomness (shuffling, splits, random transforms, synthetic data) comes from
//! `nabla_autograd::rng::fork_rng()`, so results are reproducible after a `manual_seed`.
//!
//! ```
//! use nabla_data::{DataLoader, Dataset, Mnist};
//!
//! let split = Mnist::bundled().unwrap(); // 8 000 training and 2 000 test images
//! let loader = DataLoader::new(split.train, 64).shuffle(true).prefetch(true);
//! assert_eq!(loader.len(), 125);
//! for (images, labels) in loader.iter().take(2) {
//!     assert_eq!(images.shape(), &[64, 1, 28, 28]);
//!     assert_eq!(labels.shape(), &[64]);
//! }
//! ```

#![warn(missing_docs)]

mod dataset;
mod idx;
mod loader;
mod mnist;
mod sampler;
pub mod synthetic;
mod tensor_dataset;
mod transforms;

pub use dataset::{random_split, ConcatDataset, Dataset, MapDataset, SplitSizes, Subset};
pub use idx::{read_idx, IdxArray};
pub use loader::{Batches, DataLoader};
pub use mnist::{Mnist, MnistSplit, BUNDLED_TRAIN_LEN};
pub use sampler::{BatchSampler, RandomSampler, Sampler, SequentialSampler, WeightedRandomSampler};
pub use tensor_dataset::{default_collate, Collate, TensorDataset, Tensors};
pub use transforms::{Compose, Normalize, RandomCrop, RandomHorizontalFlip, ToTensor, Transform, TransformedDataset};
