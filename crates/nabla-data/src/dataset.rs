//! The [`Dataset`] trait and the datasets built from other datasets: [`Subset`],
//! [`ConcatDataset`], [`MapDataset`] and [`random_split`].

use std::sync::Arc;

use nabla_tensor::{Error, Result};
use rand::seq::SliceRandom;

/// An indexable collection of samples, as `torch.utils.data.Dataset`: `len` items, item `i`
/// returned by [`get`](Dataset::get).
///
/// Items are usually `(input, target)` pairs of tensors; the
/// [`DataLoader`](crate::DataLoader) groups them into batches with
/// [`Collate`](crate::Collate) (stacking along a new first dimension) or a closure.
/// Datasets are shared with the loader's background thread, hence `Send + Sync`.
///
/// ```
/// use nabla_autograd::Tensor;
/// use nabla_data::Dataset;
///
/// /// The squares 0, 1, 4, 9, … as (x, x²) pairs.
/// struct Squares(usize);
///
/// impl Dataset for Squares {
///     type Item = (Tensor, Tensor);
///     fn len(&self) -> usize {
///         self.0
///     }
///     fn get(&self, index: usize) -> (Tensor, Tensor) {
///         let x = index as f32;
///         (Tensor::from_vec(vec![x], &[1]), Tensor::from_vec(vec![x * x], &[1]))
///     }
/// }
///
/// let ds = Squares(10);
/// assert_eq!(ds.get(3).1.to_vec::<f32>(), vec![9.0]);
/// ```
pub trait Dataset: Send + Sync {
    /// One sample.
    type Item;

    /// The number of samples.
    fn len(&self) -> usize;

    /// Whether the dataset has no sample.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Sample `index`; panics if `index >= len()`.
    fn get(&self, index: usize) -> Self::Item;

    /// The samples at `indices` already collated into one batch, if this dataset can build
    /// it faster than fetching and stacking them one by one (a
    /// [`TensorDataset`](crate::TensorDataset) gathers rows with one `index_select`).
    ///
    /// Must be what [`Collate::collate`](crate::Collate::collate) makes of the items (up to
    /// the random draws of random transforms). The default returns `None`: the loader then
    /// calls `get` for each index and collates.
    ///
    /// ```
    /// use nabla_autograd::Tensor;
    /// use nabla_data::{Dataset, TensorDataset};
    /// let ds = TensorDataset::new(
    ///     Tensor::from_vec(vec![0.0f32, 1.0, 2.0], &[3, 1]),
    ///     Tensor::from_vec(vec![0i64, 1, 0], &[3]),
    /// );
    /// let (x, y) = ds.get_batch(&[2, 0]).unwrap();
    /// assert_eq!(x.to_vec::<f32>(), vec![2.0, 0.0]);
    /// assert_eq!(y.to_vec::<i64>(), vec![0, 0]);
    /// ```
    fn get_batch(&self, indices: &[usize]) -> Option<Self::Item> {
        let _ = indices;
        None
    }

    /// A dataset whose items are `f` applied to this one's items (PyTorch's `transform=`
    /// argument, for any item type).
    ///
    /// ```
    /// use nabla_autograd::Tensor;
    /// use nabla_data::{Dataset, TensorDataset};
    /// let ds = TensorDataset::new(
    ///     Tensor::from_vec(vec![1.0f32, 2.0], &[2, 1]),
    ///     Tensor::from_vec(vec![0i64, 1], &[2]),
    /// );
    /// let labels_only = ds.map(|(_, y)| y);
    /// assert_eq!(labels_only.get(1).to_vec::<i64>(), vec![1]);
    /// ```
    fn map<F, U>(self, f: F) -> MapDataset<Self, F>
    where
        Self: Sized,
        F: Fn(Self::Item) -> U + Send + Sync,
    {
        MapDataset { dataset: self, f }
    }
}

impl<D: Dataset + ?Sized> Dataset for Arc<D> {
    type Item = D::Item;

    fn len(&self) -> usize {
        (**self).len()
    }

    fn get(&self, index: usize) -> D::Item {
        (**self).get(index)
    }

    fn get_batch(&self, indices: &[usize]) -> Option<D::Item> {
        (**self).get_batch(indices)
    }
}

impl<D: Dataset + ?Sized> Dataset for &D {
    type Item = D::Item;

    fn len(&self) -> usize {
        (**self).len()
    }

    fn get(&self, index: usize) -> D::Item {
        (**self).get(index)
    }

    fn get_batch(&self, indices: &[usize]) -> Option<D::Item> {
        (**self).get_batch(indices)
    }
}

/// A dataset whose items are a function of another dataset's items; see [`Dataset::map`].
///
/// ```
/// use nabla_data::{Dataset, MapDataset};
/// # use nabla_autograd::Tensor;
/// # let ds = nabla_data::TensorDataset::new(Tensor::from_vec(vec![1.0f32], &[1, 1]), Tensor::from_vec(vec![3i64], &[1]));
/// let m: MapDataset<_, _> = ds.map(|(x, y)| (x, y));
/// assert_eq!(m.len(), 1);
/// ```
#[derive(Debug, Clone)]
pub struct MapDataset<D, F> {
    dataset: D,
    f: F,
}

impl<D, F, U> Dataset for MapDataset<D, F>
where
    D: Dataset,
    F: Fn(D::Item) -> U + Send + Sync,
{
    type Item = U;

    fn len(&self) -> usize {
        self.dataset.len()
    }

    fn get(&self, index: usize) -> U {
        (self.f)(self.dataset.get(index))
    }
}

/// The items of a dataset at chosen indices, as `torch.utils.data.Subset`.
///
/// ```
/// use nabla_autograd::Tensor;
/// use nabla_data::{Dataset, Subset, TensorDataset};
/// let ds = TensorDataset::new(
///     Tensor::from_vec(vec![10.0f32, 11.0, 12.0, 13.0], &[4, 1]),
///     Tensor::from_vec(vec![0i64, 1, 2, 3], &[4]),
/// );
/// let odd = Subset::new(ds, vec![1, 3]);
/// assert_eq!(odd.len(), 2);
/// assert_eq!(odd.get(1).1.to_vec::<i64>(), vec![3]);
/// ```
#[derive(Debug, Clone)]
pub struct Subset<D> {
    dataset: D,
    indices: Vec<usize>,
}

impl<D: Dataset> Subset<D> {
    /// The items of `dataset` at `indices` (in that order; repeats allowed); fails if an
    /// index is out of range.
    ///
    /// ```
    /// # use nabla_autograd::Tensor;
    /// # let ds = nabla_data::TensorDataset::new(Tensor::from_vec(vec![1.0f32, 2.0], &[2, 1]), Tensor::from_vec(vec![0i64, 1], &[2]));
    /// let err = nabla_data::Subset::try_new(ds, vec![0, 5]).unwrap_err();
    /// assert!(err.to_string().contains("index 5 is out of bounds for dimension 0 with size 2"));
    /// ```
    pub fn try_new(dataset: D, indices: Vec<usize>) -> Result<Subset<D>> {
        let len = dataset.len();
        if let Some(&bad) = indices.iter().find(|&&i| i >= len) {
            return Err(Error::IndexOutOfRange { op: "Subset", index: bad as i64, dim: 0, size: len });
        }
        Ok(Subset { dataset, indices })
    }

    /// As [`try_new`](Self::try_new), panicking if an index is out of range.
    ///
    /// ```
    /// # use nabla_autograd::Tensor;
    /// # use nabla_data::Dataset;
    /// # let ds = nabla_data::TensorDataset::new(Tensor::from_vec(vec![1.0f32, 2.0], &[2, 1]), Tensor::from_vec(vec![0i64, 1], &[2]));
    /// let first = nabla_data::Subset::new(ds, vec![0]);
    /// assert_eq!(first.len(), 1);
    /// ```
    #[track_caller]
    pub fn new(dataset: D, indices: Vec<usize>) -> Subset<D> {
        Subset::try_new(dataset, indices).unwrap_or_else(|e| panic!("{e}"))
    }

    /// The indices into the underlying dataset.
    ///
    /// ```
    /// # use nabla_autograd::Tensor;
    /// # let ds = nabla_data::TensorDataset::new(Tensor::from_vec(vec![1.0f32, 2.0], &[2, 1]), Tensor::from_vec(vec![0i64, 1], &[2]));
    /// assert_eq!(nabla_data::Subset::new(ds, vec![1]).indices(), &[1]);
    /// ```
    pub fn indices(&self) -> &[usize] {
        &self.indices
    }

    /// The underlying dataset.
    ///
    /// ```
    /// # use nabla_autograd::Tensor;
    /// # use nabla_data::Dataset;
    /// # let ds = nabla_data::TensorDataset::new(Tensor::from_vec(vec![1.0f32, 2.0], &[2, 1]), Tensor::from_vec(vec![0i64, 1], &[2]));
    /// assert_eq!(nabla_data::Subset::new(ds, vec![1]).dataset().len(), 2);
    /// ```
    pub fn dataset(&self) -> &D {
        &self.dataset
    }
}

impl<D: Dataset> Dataset for Subset<D> {
    type Item = D::Item;

    fn len(&self) -> usize {
        self.indices.len()
    }

    fn get(&self, index: usize) -> D::Item {
        self.dataset.get(self.indices[index])
    }

    fn get_batch(&self, indices: &[usize]) -> Option<D::Item> {
        let mapped: Vec<usize> = indices.iter().map(|&i| self.indices[i]).collect();
        self.dataset.get_batch(&mapped)
    }
}

/// Several datasets one after the other, as `torch.utils.data.ConcatDataset`.
///
/// ```
/// use nabla_autograd::Tensor;
/// use nabla_data::{ConcatDataset, Dataset, TensorDataset};
/// let a = TensorDataset::new(Tensor::from_vec(vec![1.0f32, 2.0], &[2, 1]), Tensor::from_vec(vec![0i64, 0], &[2]));
/// let b = TensorDataset::new(Tensor::from_vec(vec![3.0f32], &[1, 1]), Tensor::from_vec(vec![1i64], &[1]));
/// let both = ConcatDataset::new(vec![a, b]);
/// assert_eq!(both.len(), 3);
/// assert_eq!(both.get(2).0.to_vec::<f32>(), vec![3.0]);
/// ```
#[derive(Debug, Clone)]
pub struct ConcatDataset<D> {
    parts: Vec<D>,
    /// `ends[k]` is one past the last global index of `parts[k]`.
    ends: Vec<usize>,
}

impl<D: Dataset> ConcatDataset<D> {
    /// The datasets of `parts`, in order.
    ///
    /// ```
    /// # use nabla_data::{ConcatDataset, Dataset, TensorDataset};
    /// let empty: ConcatDataset<TensorDataset> = ConcatDataset::new(vec![]);
    /// assert!(empty.is_empty());
    /// ```
    pub fn new(parts: Vec<D>) -> ConcatDataset<D> {
        let ends = parts
            .iter()
            .scan(0, |end, d| {
                *end += d.len();
                Some(*end)
            })
            .collect();
        ConcatDataset { parts, ends }
    }

    /// The datasets, in order.
    ///
    /// ```
    /// # use nabla_data::{ConcatDataset, TensorDataset};
    /// let empty: ConcatDataset<TensorDataset> = ConcatDataset::new(vec![]);
    /// assert!(empty.parts().is_empty());
    /// ```
    pub fn parts(&self) -> &[D] {
        &self.parts
    }

    /// Which part holds global `index`, and the index within it.
    fn locate(&self, index: usize) -> (usize, usize) {
        let part = self.ends.partition_point(|&end| end <= index);
        assert!(part < self.parts.len(), "ConcatDataset: index {index} is out of bounds for size {}", self.len());
        let start = if part == 0 { 0 } else { self.ends[part - 1] };
        (part, index - start)
    }
}

impl<D: Dataset> Dataset for ConcatDataset<D> {
    type Item = D::Item;

    fn len(&self) -> usize {
        self.ends.last().copied().unwrap_or(0)
    }

    fn get(&self, index: usize) -> D::Item {
        let (part, local) = self.locate(index);
        self.parts[part].get(local)
    }

    /// Forwarded when every index falls in the same part (the common case for a
    /// sequential loader); otherwise `None`.
    fn get_batch(&self, indices: &[usize]) -> Option<D::Item> {
        let located: Vec<(usize, usize)> = indices.iter().map(|&i| self.locate(i)).collect();
        let part = located.first()?.0;
        if located.iter().any(|&(p, _)| p != part) {
            return None;
        }
        let local: Vec<usize> = located.iter().map(|&(_, l)| l).collect();
        self.parts[part].get_batch(&local)
    }
}

/// How [`random_split`] divides a dataset: absolute lengths (`&[800, 200]`) that add up to
/// the dataset's length, or fractions (`&[0.8, 0.2]`) that add up to 1.
///
/// Fractions are turned into lengths as in PyTorch: each gets `floor(fraction * len)`, then
/// the remaining items go one each to the first parts, in order.
///
/// ```
/// use nabla_data::SplitSizes;
/// assert_eq!([0.5, 0.5].resolve(5).unwrap(), vec![3, 2]);
/// assert_eq!([2usize, 3].resolve(5).unwrap(), vec![2, 3]);
/// assert!([2usize, 2].resolve(5).is_err());
/// ```
pub trait SplitSizes {
    /// The lengths of the parts of a dataset of `len` items.
    fn resolve(&self, len: usize) -> Result<Vec<usize>>;
}

impl SplitSizes for [usize] {
    fn resolve(&self, len: usize) -> Result<Vec<usize>> {
        let total: usize = self.iter().sum();
        if total != len {
            return Err(Error::invalid_argument(
                "random_split",
                format!(
                    "sum of input lengths {self:?} is {total}, which does not equal the length of \
                     the input dataset ({len}); pass lengths that add up to {len}, or fractions"
                ),
            ));
        }
        Ok(self.to_vec())
    }
}

impl SplitSizes for [f64] {
    fn resolve(&self, len: usize) -> Result<Vec<usize>> {
        if let Some(f) = self.iter().find(|f| !(0.0..=1.0).contains(*f)) {
            return Err(Error::invalid_argument(
                "random_split",
                format!("fraction {f} in {self:?} is not between 0 and 1"),
            ));
        }
        let total: f64 = self.iter().sum();
        if (total - 1.0).abs() > 1e-6 {
            return Err(Error::invalid_argument(
                "random_split",
                format!("fractions {self:?} add up to {total}, not 1"),
            ));
        }
        let mut lengths: Vec<usize> = self.iter().map(|f| (f * len as f64).floor() as usize).collect();
        let remainder = len.saturating_sub(lengths.iter().sum());
        let parts = lengths.len();
        for i in 0..remainder {
            lengths[i % parts] += 1;
        }
        Ok(lengths)
    }
}

impl<const N: usize> SplitSizes for [usize; N] {
    fn resolve(&self, len: usize) -> Result<Vec<usize>> {
        self.as_slice().resolve(len)
    }
}

impl<const N: usize> SplitSizes for [f64; N] {
    fn resolve(&self, len: usize) -> Result<Vec<usize>> {
        self.as_slice().resolve(len)
    }
}

impl SplitSizes for Vec<usize> {
    fn resolve(&self, len: usize) -> Result<Vec<usize>> {
        self.as_slice().resolve(len)
    }
}

impl SplitSizes for Vec<f64> {
    fn resolve(&self, len: usize) -> Result<Vec<usize>> {
        self.as_slice().resolve(len)
    }
}

/// Splits a dataset into disjoint random subsets of the given lengths or fractions, as
/// `torch.utils.data.random_split`; the permutation comes from
/// `nabla_autograd::rng::fork_rng()`, so a `manual_seed` makes it reproducible.
///
/// Fails if the lengths do not add up to the dataset's length, or the fractions to 1.
///
/// ```
/// use nabla_autograd::Tensor;
/// use nabla_data::{random_split, Dataset, TensorDataset};
/// let ds = TensorDataset::new(
///     Tensor::from_vec((0..10).map(|i| i as f32).collect(), &[10, 1]),
///     Tensor::from_vec((0..10).collect::<Vec<i64>>(), &[10]),
/// );
/// let parts = random_split(ds, &[0.8, 0.2]).unwrap();
/// assert_eq!((parts[0].len(), parts[1].len()), (8, 2));
/// ```
pub fn random_split<D, S>(dataset: D, sizes: &S) -> Result<Vec<Subset<Arc<D>>>>
where
    D: Dataset,
    S: SplitSizes + ?Sized,
{
    let lengths = sizes.resolve(dataset.len())?;
    let mut order: Vec<usize> = (0..dataset.len()).collect();
    order.shuffle(&mut nabla_autograd::rng::fork_rng());
    let dataset = Arc::new(dataset);
    let mut rest = order.as_slice();
    Ok(lengths
        .into_iter()
        .map(|n| {
            let (part, tail) = rest.split_at(n);
            rest = tail;
            Subset { dataset: Arc::clone(&dataset), indices: part.to_vec() }
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fractions_distribute_the_remainder_like_pytorch() {
        assert_eq!([0.3, 0.3, 0.4].resolve(11).unwrap(), vec![4, 3, 4]);
        assert_eq!([1.0].resolve(7).unwrap(), vec![7]);
        assert_eq!([0.0, 1.0].resolve(7).unwrap(), vec![0, 7]);
        assert!([0.5, 0.6].resolve(7).is_err());
        assert!([-0.5, 1.5].resolve(7).is_err());
    }

    #[test]
    fn lengths_must_add_up() {
        let err = [3usize, 3].resolve(7).unwrap_err().to_string();
        assert!(err.contains("does not equal the length of the input dataset (7)"), "{err}");
    }
}
