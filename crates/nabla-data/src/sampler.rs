//! Samplers: which dataset indices an epoch visits, and in which order.
//!
//! As in PyTorch, a [`Sampler`] yields indices, a [`BatchSampler`] groups them into
//! batches, and the [`DataLoader`](crate::DataLoader) turns each batch of indices into a
//! batch of tensors. Random samplers draw their generator from
//! `nabla_autograd::rng::fork_rng()` when they are built, so that a run is reproducible
//! after a `manual_seed`, while every epoch (every call to [`Sampler::indices`]) draws a new
//! order.

use nabla_tensor::{Error, Result};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::Rng;

/// A source of dataset indices, one epoch at a time.
///
/// ```
/// use nabla_data::{Sampler, SequentialSampler};
/// let mut s = SequentialSampler::new(3);
/// assert_eq!(s.len(), 3);
/// assert_eq!(s.indices(), vec![0, 1, 2]);
/// ```
pub trait Sampler: Send {
    /// How many indices one epoch yields.
    fn len(&self) -> usize;

    /// Whether an epoch yields no index.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The indices of the next epoch; random samplers draw a new order on every call.
    fn indices(&mut self) -> Vec<usize>;
}

impl<S: Sampler + ?Sized> Sampler for Box<S> {
    fn len(&self) -> usize {
        (**self).len()
    }

    fn indices(&mut self) -> Vec<usize> {
        (**self).indices()
    }
}

/// Visits `0, 1, …, len - 1` in order, every epoch.
///
/// ```
/// use nabla_data::{Sampler, SequentialSampler};
/// assert_eq!(SequentialSampler::new(4).indices(), vec![0, 1, 2, 3]);
/// ```
#[derive(Debug, Clone)]
pub struct SequentialSampler {
    len: usize,
}

impl SequentialSampler {
    /// A sampler over a dataset of `len` items.
    ///
    /// ```
    /// assert_eq!(nabla_data::SequentialSampler::new(0).indices(), Vec::<usize>::new());
    /// # use nabla_data::Sampler;
    /// ```
    pub fn new(len: usize) -> SequentialSampler {
        SequentialSampler { len }
    }
}

impl Sampler for SequentialSampler {
    fn len(&self) -> usize {
        self.len
    }

    fn indices(&mut self) -> Vec<usize> {
        (0..self.len).collect()
    }
}

/// Visits a dataset in random order: a fresh permutation every epoch, or, with
/// replacement, `num_samples` uniform draws.
///
/// ```
/// use nabla_data::{RandomSampler, Sampler};
/// nabla_autograd::rng::manual_seed(0);
/// let mut s = RandomSampler::new(5);
/// let mut epoch = s.indices();
/// epoch.sort();
/// assert_eq!(epoch, vec![0, 1, 2, 3, 4]); // a permutation
/// ```
#[derive(Debug, Clone)]
pub struct RandomSampler {
    /// The size of the dataset sampled from.
    population: usize,
    num_samples: usize,
    replacement: bool,
    rng: StdRng,
}

impl RandomSampler {
    /// A new permutation of `0..len` every epoch (no replacement).
    ///
    /// ```
    /// # use nabla_data::{RandomSampler, Sampler};
    /// let mut s = RandomSampler::new(100);
    /// assert_ne!(s.indices(), s.indices()); // epochs differ
    /// ```
    pub fn new(len: usize) -> RandomSampler {
        RandomSampler { population: len, num_samples: len, replacement: false, rng: nabla_autograd::rng::fork_rng() }
    }

    /// `num_samples` indices drawn uniformly from `0..len` with replacement, every epoch.
    ///
    /// ```
    /// # use nabla_data::{RandomSampler, Sampler};
    /// let mut s = RandomSampler::with_replacement(3, 10);
    /// let epoch = s.indices();
    /// assert_eq!(epoch.len(), 10);
    /// assert!(epoch.iter().all(|&i| i < 3));
    /// ```
    pub fn with_replacement(len: usize, num_samples: usize) -> RandomSampler {
        let rng = nabla_autograd::rng::fork_rng();
        RandomSampler { population: len, num_samples, replacement: true, rng }
    }
}

impl Sampler for RandomSampler {
    fn len(&self) -> usize {
        self.num_samples
    }

    fn indices(&mut self) -> Vec<usize> {
        if self.replacement {
            if self.population == 0 {
                return Vec::new();
            }
            (0..self.num_samples).map(|_| self.rng.random_range(0..self.population)).collect()
        } else {
            let mut order: Vec<usize> = (0..self.population).collect();
            order.shuffle(&mut self.rng);
            order
        }
    }
}

/// Draws indices with probability proportional to `weights[i]`, as
/// `torch.utils.data.WeightedRandomSampler`: `num_samples` per epoch, with or without
/// replacement. Useful to rebalance classes.
///
/// ```
/// use nabla_data::{Sampler, WeightedRandomSampler};
/// // index 1 has weight 0: it is never drawn.
/// let mut s = WeightedRandomSampler::new(vec![1.0, 0.0, 3.0], 100, true);
/// assert!(s.indices().iter().all(|&i| i != 1));
/// ```
#[derive(Debug, Clone)]
pub struct WeightedRandomSampler {
    /// Running sums of the weights, for sampling with replacement by bisection.
    cumulative: Vec<f64>,
    weights: Vec<f64>,
    num_samples: usize,
    replacement: bool,
    rng: StdRng,
}

impl WeightedRandomSampler {
    /// The sampler; fails if a weight is negative or not finite, if all weights are zero,
    /// if `num_samples` is 0, or, without replacement, if `num_samples` exceeds the number of
    /// positive weights.
    ///
    /// ```
    /// use nabla_data::WeightedRandomSampler;
    /// let err = WeightedRandomSampler::try_new(vec![1.0, -1.0], 2, true).unwrap_err();
    /// assert!(err.to_string().contains("weights[1] = -1"));
    /// let err = WeightedRandomSampler::try_new(vec![1.0, 0.0], 2, false).unwrap_err();
    /// assert!(err.to_string().contains("only 1 weights are positive"));
    /// ```
    pub fn try_new(weights: Vec<f64>, num_samples: usize, replacement: bool) -> Result<WeightedRandomSampler> {
        const OP: &str = "WeightedRandomSampler";
        if let Some((i, w)) = weights.iter().enumerate().find(|(_, w)| !(w.is_finite() && **w >= 0.0)) {
            return Err(Error::invalid_argument(
                OP,
                format!("weights must be finite and non-negative, got weights[{i}] = {w}"),
            ));
        }
        let positive = weights.iter().filter(|&&w| w > 0.0).count();
        if positive == 0 {
            return Err(Error::invalid_argument(
                OP,
                format!("at least one of the {} weights must be positive", weights.len()),
            ));
        }
        if num_samples == 0 {
            return Err(Error::invalid_argument(OP, "num_samples must be at least 1, got 0"));
        }
        if !replacement && num_samples > positive {
            return Err(Error::invalid_argument(
                OP,
                format!(
                    "cannot draw {num_samples} samples without replacement: only {positive} weights \
                     are positive; use replacement = true or a smaller num_samples"
                ),
            ));
        }
        let cumulative = weights
            .iter()
            .scan(0.0, |acc, &w| {
                *acc += w;
                Some(*acc)
            })
            .collect();
        let rng = nabla_autograd::rng::fork_rng();
        Ok(WeightedRandomSampler { cumulative, weights, num_samples, replacement, rng })
    }

    /// As [`try_new`](Self::try_new), panicking with the same message on invalid arguments.
    ///
    /// ```
    /// use nabla_data::{Sampler, WeightedRandomSampler};
    /// let mut s = WeightedRandomSampler::new(vec![0.5, 0.5], 2, false);
    /// let mut e = s.indices();
    /// e.sort();
    /// assert_eq!(e, vec![0, 1]);
    /// ```
    #[track_caller]
    pub fn new(weights: Vec<f64>, num_samples: usize, replacement: bool) -> WeightedRandomSampler {
        WeightedRandomSampler::try_new(weights, num_samples, replacement).unwrap_or_else(|e| panic!("{e}"))
    }
}

impl Sampler for WeightedRandomSampler {
    fn len(&self) -> usize {
        self.num_samples
    }

    fn indices(&mut self) -> Vec<usize> {
        if self.replacement {
            let total = *self.cumulative.last().expect("weights are not empty");
            let last = self.cumulative.len() - 1;
            (0..self.num_samples)
                .map(|_| {
                    let u = self.rng.random::<f64>() * total;
                    // The first index whose running sum exceeds u; zero weights never win.
                    self.cumulative.partition_point(|&c| c <= u).min(last)
                })
                .collect()
        } else {
            // Efraimidis–Spirakis: the items with the largest ln(u) / w, in decreasing order,
            // are a weighted draw without replacement (what torch.multinomial does).
            let mut keyed: Vec<(f64, usize)> = self
                .weights
                .iter()
                .enumerate()
                .filter(|(_, &w)| w > 0.0)
                .map(|(i, &w)| {
                    let u = 1.0 - self.rng.random::<f64>(); // in (0, 1]: ln stays finite
                    (u.ln() / w, i)
                })
                .collect();
            keyed.sort_by(|a, b| b.0.total_cmp(&a.0));
            keyed.into_iter().take(self.num_samples).map(|(_, i)| i).collect()
        }
    }
}

/// Groups another sampler's indices into batches of `batch_size`; the last batch is
/// shorter, or dropped with `drop_last`.
///
/// ```
/// use nabla_data::{BatchSampler, SequentialSampler};
/// let mut b = BatchSampler::new(SequentialSampler::new(5), 2, false);
/// assert_eq!(b.len(), 3);
/// assert_eq!(b.batches(), vec![vec![0, 1], vec![2, 3], vec![4]]);
/// let mut b = BatchSampler::new(SequentialSampler::new(5), 2, true);
/// assert_eq!(b.batches(), vec![vec![0, 1], vec![2, 3]]);
/// ```
pub struct BatchSampler {
    pub(crate) sampler: Box<dyn Sampler>,
    batch_size: usize,
    pub(crate) drop_last: bool,
}

impl std::fmt::Debug for BatchSampler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BatchSampler")
            .field("len", &self.sampler.len())
            .field("batch_size", &self.batch_size)
            .field("drop_last", &self.drop_last)
            .finish()
    }
}

impl BatchSampler {
    /// Batches of `batch_size` indices drawn from `sampler`; fails if `batch_size` is 0.
    ///
    /// ```
    /// use nabla_data::{BatchSampler, SequentialSampler};
    /// let err = BatchSampler::try_new(SequentialSampler::new(5), 0, false).unwrap_err();
    /// assert!(err.to_string().contains("batch_size must be at least 1, got 0"));
    /// ```
    pub fn try_new(sampler: impl Sampler + 'static, batch_size: usize, drop_last: bool) -> Result<BatchSampler> {
        if batch_size == 0 {
            return Err(Error::invalid_argument("BatchSampler", "batch_size must be at least 1, got 0"));
        }
        Ok(BatchSampler { sampler: Box::new(sampler), batch_size, drop_last })
    }

    /// As [`try_new`](Self::try_new), panicking if `batch_size` is 0.
    ///
    /// ```
    /// use nabla_data::{BatchSampler, RandomSampler};
    /// let b = BatchSampler::new(RandomSampler::new(10), 4, true);
    /// assert_eq!(b.len(), 2);
    /// ```
    #[track_caller]
    pub fn new(sampler: impl Sampler + 'static, batch_size: usize, drop_last: bool) -> BatchSampler {
        BatchSampler::try_new(sampler, batch_size, drop_last).unwrap_or_else(|e| panic!("{e}"))
    }

    /// The number of batches in an epoch.
    ///
    /// ```
    /// # use nabla_data::{BatchSampler, SequentialSampler};
    /// assert_eq!(BatchSampler::new(SequentialSampler::new(10), 3, false).len(), 4);
    /// assert_eq!(BatchSampler::new(SequentialSampler::new(10), 3, true).len(), 3);
    /// ```
    pub fn len(&self) -> usize {
        let n = self.sampler.len();
        if self.drop_last {
            n / self.batch_size
        } else {
            n.div_ceil(self.batch_size)
        }
    }

    /// Whether an epoch has no batch.
    ///
    /// ```
    /// # use nabla_data::{BatchSampler, SequentialSampler};
    /// assert!(BatchSampler::new(SequentialSampler::new(3), 4, true).is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The batch size.
    ///
    /// ```
    /// # use nabla_data::{BatchSampler, SequentialSampler};
    /// assert_eq!(BatchSampler::new(SequentialSampler::new(3), 4, true).batch_size(), 4);
    /// ```
    pub fn batch_size(&self) -> usize {
        self.batch_size
    }

    /// Whether a last, incomplete batch is dropped.
    ///
    /// ```
    /// # use nabla_data::{BatchSampler, SequentialSampler};
    /// assert!(BatchSampler::new(SequentialSampler::new(3), 4, true).drop_last());
    /// ```
    pub fn drop_last(&self) -> bool {
        self.drop_last
    }

    /// The batches of the next epoch.
    ///
    /// ```
    /// # use nabla_data::{BatchSampler, RandomSampler};
    /// let mut b = BatchSampler::new(RandomSampler::new(7), 3, false);
    /// let sizes: Vec<usize> = b.batches().iter().map(Vec::len).collect();
    /// assert_eq!(sizes, vec![3, 3, 1]);
    /// ```
    pub fn batches(&mut self) -> Vec<Vec<usize>> {
        let indices = self.sampler.indices();
        let mut batches: Vec<Vec<usize>> = indices.chunks(self.batch_size).map(<[usize]>::to_vec).collect();
        if self.drop_last && batches.last().is_some_and(|b| b.len() < self.batch_size) {
            batches.pop();
        }
        batches
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_sampler_is_a_permutation_reproducible_and_new_each_epoch() {
        nabla_autograd::rng::manual_seed(42);
        let mut a = RandomSampler::new(50);
        let (a1, a2) = (a.indices(), a.indices());
        nabla_autograd::rng::manual_seed(42);
        let mut b = RandomSampler::new(50);
        let (b1, b2) = (b.indices(), b.indices());
        assert_eq!((&a1, &a2), (&b1, &b2), "same seed, same epochs");
        assert_ne!(a1, a2, "epochs differ");
        let mut sorted = a1.clone();
        sorted.sort();
        assert_eq!(sorted, (0..50).collect::<Vec<_>>());
    }

    #[test]
    fn weighted_with_replacement_frequencies() {
        let mut s = WeightedRandomSampler::new(vec![1.0, 2.0, 0.0, 7.0], 100_000, true);
        let mut counts = [0usize; 4];
        for i in s.indices() {
            counts[i] += 1;
        }
        let freq: Vec<f64> = counts.iter().map(|&c| c as f64 / 100_000.0).collect();
        for (f, want) in freq.iter().zip([0.1, 0.2, 0.0, 0.7]) {
            assert!((f - want).abs() < 0.01, "{freq:?}");
        }
    }

    #[test]
    fn weighted_without_replacement_is_distinct_and_biased() {
        let mut s = WeightedRandomSampler::new(vec![1.0, 1.0, 1.0, 97.0], 2, false);
        let mut first_is_heavy = 0;
        for _ in 0..1000 {
            let e = s.indices();
            assert_eq!(e.len(), 2);
            assert_ne!(e[0], e[1]);
            first_is_heavy += usize::from(e[0] == 3);
        }
        assert!(first_is_heavy > 930, "{first_is_heavy}");
    }

    #[test]
    fn weighted_rejects_bad_weights() {
        assert!(WeightedRandomSampler::try_new(vec![], 1, true).is_err());
        assert!(WeightedRandomSampler::try_new(vec![0.0, 0.0], 1, true).is_err());
        assert!(WeightedRandomSampler::try_new(vec![f64::NAN], 1, true).is_err());
        assert!(WeightedRandomSampler::try_new(vec![1.0], 0, true).is_err());
    }

    #[test]
    fn batch_sampler_counts() {
        for (n, bs, drop, want) in
            [(10, 3, false, 4), (10, 3, true, 3), (9, 3, true, 3), (0, 3, false, 0), (2, 3, true, 0)]
        {
            let mut b = BatchSampler::new(SequentialSampler::new(n), bs, drop);
            assert_eq!(b.len(), want);
            let batches = b.batches();
            assert_eq!(batches.len(), want);
            assert!(batches.iter().all(|x| !x.is_empty() && x.len() <= bs));
        }
    }
}
