//! [`DataLoader`]: batches of a dataset, an epoch at a time, optionally prepared on a
//! background thread.

use std::fmt;
use std::sync::mpsc::{self, Receiver};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::{self, JoinHandle};

use nabla_tensor::{Error, Result};

use crate::{BatchSampler, Collate, Dataset, RandomSampler, Sampler, SequentialSampler};

/// How many finished batches the background thread may hold ready: one for the next step,
/// one of slack for an uneven step time. More would only cost memory.
const PREFETCH_DEPTH: usize = 2;

/// Builds one batch from the dataset and a batch of indices.
type MakeBatch<D, B> = Arc<dyn Fn(&D, &[usize]) -> B + Send + Sync>;

/// Iterates over a dataset in batches, as `torch.utils.data.DataLoader`.
///
/// Each call to [`iter`](DataLoader::iter) is one epoch; with [`shuffle`](DataLoader::shuffle)
/// every epoch visits the samples in a new random order (reproducible after a
/// `manual_seed`). Batches are made by the default [`Collate`] (stacking; a
/// [`TensorDataset`](crate::TensorDataset) gathers rows with one `index_select` instead) or by
/// a closure given to [`collate`](DataLoader::collate). With
/// [`prefetch`](DataLoader::prefetch), a background thread prepares the next batches while
/// the training step runs.
///
/// ```
/// use nabla_autograd::Tensor;
/// use nabla_data::{DataLoader, TensorDataset};
///
/// let x = Tensor::from_vec((0..20).map(|i| i as f32).collect(), &[10, 2]);
/// let y = Tensor::from_vec((0..10).collect::<Vec<i64>>(), &[10]);
/// let loader = DataLoader::new(TensorDataset::new(x, y), 4).shuffle(true);
/// assert_eq!(loader.len(), 3); // 4 + 4 + 2
/// for epoch in 0..2 {
///     for (xb, yb) in loader.iter() {
///         assert_eq!(xb.shape()[1], 2);
///         assert_eq!(xb.shape()[0], yb.shape()[0]);
///     }
/// }
/// ```
pub struct DataLoader<D: Dataset, B = <D as Dataset>::Item> {
    dataset: Arc<D>,
    batches: Mutex<BatchSampler>,
    make_batch: MakeBatch<D, B>,
    prefetch: bool,
}

impl<D: Dataset, B> fmt::Debug for DataLoader<D, B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DataLoader")
            .field("dataset_len", &self.dataset.len())
            .field("batches", &*self.batches.lock().unwrap_or_else(PoisonError::into_inner))
            .field("prefetch", &self.prefetch)
            .finish()
    }
}

impl<D> DataLoader<D>
where
    D: Dataset + 'static,
    D::Item: Collate + Send + 'static,
{
    /// Batches of `batch_size` samples in order, collated by [`Collate`]; fails if
    /// `batch_size` is 0.
    ///
    /// ```
    /// use nabla_autograd::Tensor;
    /// use nabla_data::{DataLoader, TensorDataset};
    /// let ds = TensorDataset::new(Tensor::from_vec(vec![0.0f32; 4], &[4, 1]), Tensor::from_vec(vec![0i64; 4], &[4]));
    /// let err = DataLoader::try_new(ds, 0).unwrap_err();
    /// assert_eq!(err.to_string(), "DataLoader: batch_size must be at least 1, got 0");
    /// ```
    pub fn try_new(dataset: D, batch_size: usize) -> Result<DataLoader<D>> {
        if batch_size == 0 {
            return Err(Error::invalid_argument("DataLoader", "batch_size must be at least 1, got 0"));
        }
        let batches = BatchSampler::new(SequentialSampler::new(dataset.len()), batch_size, false);
        let make_batch: MakeBatch<D, D::Item> = Arc::new(|dataset: &D, indices: &[usize]| {
            dataset
                .get_batch(indices)
                .unwrap_or_else(|| D::Item::collate(indices.iter().map(|&i| dataset.get(i)).collect()))
        });
        Ok(DataLoader { dataset: Arc::new(dataset), batches: Mutex::new(batches), make_batch, prefetch: false })
    }

    /// As [`try_new`](Self::try_new), panicking if `batch_size` is 0.
    ///
    /// ```
    /// use nabla_autograd::Tensor;
    /// use nabla_data::{DataLoader, TensorDataset};
    /// let ds = TensorDataset::new(Tensor::from_vec(vec![0.0f32; 5], &[5, 1]), Tensor::from_vec(vec![0i64; 5], &[5]));
    /// let loader = DataLoader::new(ds, 2);
    /// let sizes: Vec<usize> = loader.iter().map(|(x, _)| x.shape()[0]).collect();
    /// assert_eq!(sizes, vec![2, 2, 1]);
    /// ```
    #[track_caller]
    pub fn new(dataset: D, batch_size: usize) -> DataLoader<D> {
        DataLoader::try_new(dataset, batch_size).unwrap_or_else(|e| panic!("{e}"))
    }
}

impl<D, B> DataLoader<D, B>
where
    D: Dataset + 'static,
    B: Send + 'static,
{
    /// Whether each epoch visits the samples in a new random order (a [`RandomSampler`]
    /// drawn from the seeded global generator) instead of in order. Replaces any sampler set
    /// before.
    ///
    /// ```
    /// use nabla_autograd::Tensor;
    /// use nabla_data::{DataLoader, TensorDataset};
    /// nabla_autograd::rng::manual_seed(7);
    /// let y = Tensor::from_vec((0..100).collect::<Vec<i64>>(), &[100]);
    /// let loader = DataLoader::new(TensorDataset::from_tensors(y), 100).shuffle(true);
    /// let first = loader.iter().next().unwrap().to_vec::<i64>();
    /// let second = loader.iter().next().unwrap().to_vec::<i64>();
    /// assert_ne!(first, second);
    /// ```
    pub fn shuffle(self, shuffle: bool) -> Self {
        let len = self.dataset.len();
        if shuffle {
            self.sampler(RandomSampler::new(len))
        } else {
            self.sampler(SequentialSampler::new(len))
        }
    }

    /// Whether the last batch of an epoch is dropped when it is smaller than `batch_size`.
    ///
    /// ```
    /// use nabla_autograd::Tensor;
    /// use nabla_data::{DataLoader, TensorDataset};
    /// let ds = TensorDataset::from_tensors(Tensor::from_vec(vec![0.0f32; 10], &[10]));
    /// let loader = DataLoader::new(ds, 4).drop_last(true);
    /// assert_eq!(loader.len(), 2);
    /// assert_eq!(loader.iter().count(), 2);
    /// ```
    pub fn drop_last(self, drop_last: bool) -> Self {
        self.batches.lock().unwrap_or_else(PoisonError::into_inner).drop_last = drop_last;
        self
    }

    /// Draws the indices of each epoch from `sampler` (for example a
    /// [`WeightedRandomSampler`](crate::WeightedRandomSampler)) instead of in order; keeps
    /// the batch size and `drop_last`.
    ///
    /// ```
    /// use nabla_autograd::Tensor;
    /// use nabla_data::{DataLoader, TensorDataset, WeightedRandomSampler};
    /// let y = Tensor::from_vec(vec![0i64, 0, 0, 1], &[4]);
    /// let sampler = WeightedRandomSampler::new(vec![1.0, 1.0, 1.0, 3.0], 8, true);
    /// let loader = DataLoader::new(TensorDataset::from_tensors(y), 4).sampler(sampler);
    /// assert_eq!(loader.len(), 2);
    /// ```
    pub fn sampler(self, sampler: impl Sampler + 'static) -> Self {
        self.batches.lock().unwrap_or_else(PoisonError::into_inner).sampler = Box::new(sampler);
        self
    }

    /// Takes each epoch's batches of indices from `batch_sampler`, replacing the sampler,
    /// batch size and `drop_last`.
    ///
    /// ```
    /// use nabla_autograd::Tensor;
    /// use nabla_data::{BatchSampler, DataLoader, SequentialSampler, TensorDataset};
    /// let ds = TensorDataset::from_tensors(Tensor::from_vec(vec![0.0f32; 6], &[6]));
    /// let loader = DataLoader::new(ds, 1).batch_sampler(BatchSampler::new(SequentialSampler::new(6), 3, false));
    /// assert_eq!(loader.len(), 2);
    /// ```
    pub fn batch_sampler(self, batch_sampler: BatchSampler) -> Self {
        *self.batches.lock().unwrap_or_else(PoisonError::into_inner) = batch_sampler;
        self
    }

    /// Whether batches are prepared on a background thread, up to two ahead of the
    /// training loop, so that the next batch is ready when a step ends. The order of batches
    /// and the random draws are the same as without prefetching.
    ///
    /// ```
    /// use nabla_autograd::Tensor;
    /// use nabla_data::{DataLoader, TensorDataset};
    /// let ds = TensorDataset::from_tensors(Tensor::from_vec((0..10).map(|i| i as f32).collect(), &[10]));
    /// let loader = DataLoader::new(ds, 3).prefetch(true);
    /// let all: Vec<f32> = loader.iter().flat_map(|b| b.to_vec::<f32>()).collect();
    /// assert_eq!(all, (0..10).map(|i| i as f32).collect::<Vec<_>>());
    /// ```
    pub fn prefetch(mut self, prefetch: bool) -> Self {
        self.prefetch = prefetch;
        self
    }

    /// Makes batches with `collate` from the list of samples instead of the default
    /// [`Collate`] (and without the `index_select` fast path).
    ///
    /// ```
    /// use nabla_autograd::Tensor;
    /// use nabla_data::{DataLoader, TensorDataset};
    /// let ds = TensorDataset::from_tensors(Tensor::from_vec(vec![1.0f32, 2.0, 3.0], &[3]));
    /// // Batches as plain vectors of numbers.
    /// let loader = DataLoader::new(ds, 2).collate(|items: Vec<Tensor>| {
    ///     items.iter().map(|t| t.to_vec::<f32>()[0]).collect::<Vec<f32>>()
    /// });
    /// assert_eq!(loader.iter().collect::<Vec<_>>(), vec![vec![1.0, 2.0], vec![3.0]]);
    /// ```
    pub fn collate<F, C>(self, collate: F) -> DataLoader<D, C>
    where
        F: Fn(Vec<D::Item>) -> C + Send + Sync + 'static,
        C: Send + 'static,
    {
        let make_batch: MakeBatch<D, C> =
            Arc::new(move |dataset: &D, indices: &[usize]| collate(indices.iter().map(|&i| dataset.get(i)).collect()));
        DataLoader { dataset: self.dataset, batches: self.batches, make_batch, prefetch: self.prefetch }
    }

    /// The number of batches in an epoch.
    ///
    /// ```
    /// use nabla_autograd::Tensor;
    /// use nabla_data::{DataLoader, TensorDataset};
    /// let ds = TensorDataset::from_tensors(Tensor::from_vec(vec![0.0f32; 10], &[10]));
    /// assert_eq!(DataLoader::new(ds, 3).len(), 4);
    /// ```
    pub fn len(&self) -> usize {
        self.batches.lock().unwrap_or_else(PoisonError::into_inner).len()
    }

    /// Whether an epoch has no batch.
    ///
    /// ```
    /// use nabla_autograd::Tensor;
    /// use nabla_data::{DataLoader, TensorDataset};
    /// let ds = TensorDataset::from_tensors(Tensor::from_vec(vec![0.0f32; 3], &[3]));
    /// assert!(DataLoader::new(ds, 4).drop_last(true).is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The batch size.
    ///
    /// ```
    /// use nabla_autograd::Tensor;
    /// use nabla_data::{DataLoader, TensorDataset};
    /// let ds = TensorDataset::from_tensors(Tensor::from_vec(vec![0.0f32; 3], &[3]));
    /// assert_eq!(DataLoader::new(ds, 4).batch_size(), 4);
    /// ```
    pub fn batch_size(&self) -> usize {
        self.batches.lock().unwrap_or_else(PoisonError::into_inner).batch_size()
    }

    /// The dataset.
    ///
    /// ```
    /// use nabla_autograd::Tensor;
    /// use nabla_data::{DataLoader, Dataset, TensorDataset};
    /// let ds = TensorDataset::from_tensors(Tensor::from_vec(vec![0.0f32; 3], &[3]));
    /// assert_eq!(DataLoader::new(ds, 4).dataset().len(), 3);
    /// ```
    pub fn dataset(&self) -> &D {
        &self.dataset
    }

    /// One epoch: an iterator over its batches. Draws the epoch's order now (a new one per
    /// call when shuffling).
    ///
    /// Panics, with the dataset's message, if making a batch panics (on the background
    /// thread too), and if the sampler yields an index outside the dataset.
    ///
    /// ```
    /// use nabla_autograd::Tensor;
    /// use nabla_data::{DataLoader, TensorDataset};
    /// let x = Tensor::from_vec(vec![0.0f32; 12], &[6, 2]);
    /// let y = Tensor::from_vec(vec![1i64; 6], &[6]);
    /// let loader = DataLoader::new(TensorDataset::new(x, y), 4);
    /// let mut seen = 0;
    /// for (xb, yb) in loader.iter() {
    ///     seen += yb.numel();
    ///     assert_eq!(xb.shape(), &[yb.numel(), 2]);
    /// }
    /// assert_eq!(seen, 6);
    /// ```
    pub fn iter(&self) -> Batches<B> {
        let batches = self.batches.lock().unwrap_or_else(PoisonError::into_inner).batches();
        let len = self.dataset.len();
        if let Some(bad) = batches.iter().flatten().find(|&&i| i >= len) {
            panic!("DataLoader: the sampler yielded index {bad}, out of bounds for a dataset of {len} samples");
        }
        let remaining = batches.len();
        let dataset = Arc::clone(&self.dataset);
        let make_batch = Arc::clone(&self.make_batch);
        let mut batches = batches.into_iter();
        let state = if self.prefetch {
            let (tx, rx) = mpsc::sync_channel(PREFETCH_DEPTH);
            let worker = thread::Builder::new()
                .name("nabla-data-prefetch".into())
                .spawn(move || {
                    for indices in batches {
                        // The receiver is gone when the epoch was abandoned: stop early.
                        if tx.send(make_batch(&dataset, &indices)).is_err() {
                            break;
                        }
                    }
                })
                .expect("DataLoader: failed to spawn the prefetch thread");
            State::Prefetch { rx: Some(rx), worker: Some(worker) }
        } else {
            State::Inline(Box::new(move || batches.next().map(|indices| make_batch(&dataset, &indices))))
        };
        Batches { state, remaining }
    }
}

impl<D, B> IntoIterator for &DataLoader<D, B>
where
    D: Dataset + 'static,
    B: Send + 'static,
{
    type Item = B;
    type IntoIter = Batches<B>;

    fn into_iter(self) -> Batches<B> {
        self.iter()
    }
}

/// The batches of one epoch of a [`DataLoader`]; see [`DataLoader::iter`].
///
/// ```
/// use nabla_autograd::Tensor;
/// use nabla_data::{DataLoader, TensorDataset};
/// let ds = TensorDataset::from_tensors(Tensor::from_vec(vec![0.0f32; 10], &[10]));
/// let loader = DataLoader::new(ds, 3).prefetch(true);
/// let mut epoch = loader.iter();
/// assert_eq!(epoch.len(), 4);
/// epoch.next();
/// assert_eq!(epoch.len(), 3);
/// drop(epoch); // stops the background thread early
/// ```
pub struct Batches<B> {
    state: State<B>,
    remaining: usize,
}

enum State<B> {
    /// Batches made on the caller's thread when asked for.
    Inline(Box<dyn FnMut() -> Option<B>>),
    /// Batches made ahead on a background thread; both options are `None` once it is joined.
    Prefetch { rx: Option<Receiver<B>>, worker: Option<JoinHandle<()>> },
}

impl<B> fmt::Debug for Batches<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let prefetch = matches!(self.state, State::Prefetch { .. });
        f.debug_struct("Batches").field("remaining", &self.remaining).field("prefetch", &prefetch).finish()
    }
}

impl<B> Iterator for Batches<B> {
    type Item = B;

    fn next(&mut self) -> Option<B> {
        let batch = match &mut self.state {
            State::Inline(next) => next(),
            State::Prefetch { rx, worker } => {
                match rx.as_ref().map(Receiver::recv) {
                    Some(Ok(batch)) => Some(batch),
                    // The worker hung up: it finished the epoch, or panicked making a batch.
                    _ => {
                        *rx = None;
                        if let Some(Err(panic)) = worker.take().map(JoinHandle::join) {
                            std::panic::resume_unwind(panic);
                        }
                        None
                    }
                }
            }
        };
        if batch.is_some() {
            self.remaining -= 1;
        }
        batch
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.remaining, Some(self.remaining))
    }
}

impl<B> ExactSizeIterator for Batches<B> {}

impl<B> Drop for Batches<B> {
    fn drop(&mut self) {
        if let State::Prefetch { rx, worker } = &mut self.state {
            // Hanging up first makes the worker's next send fail, so it stops and can be
            // joined; its panic, if any, is not re-raised while dropping.
            *rx = None;
            if let Some(worker) = worker.take() {
                let _ = worker.join();
            }
        }
    }
}
