//! [`TensorDataset`]: samples that are rows of tensors, and [`Collate`]: how samples are
//! grouped into a batch.

use nabla_autograd::Tensor;
use nabla_tensor::{Error, Result};

/// How a batch is made from a list of samples: the loader's default collate step.
///
/// Tensors are stacked along a new first dimension (`torch.stack(items, 0)`, as PyTorch's
/// `default_collate`); tuples and vectors are collated element-wise, so a list of
/// `(input, target)` pairs becomes one `(inputs, targets)` pair.
///
/// ```
/// use nabla_autograd::Tensor;
/// use nabla_data::Collate;
/// let items = vec![
///     (Tensor::from_vec(vec![1.0f32, 2.0], &[2]), Tensor::from_vec(vec![0i64], &[])),
///     (Tensor::from_vec(vec![3.0f32, 4.0], &[2]), Tensor::from_vec(vec![1i64], &[])),
/// ];
/// let (x, y) = Collate::collate(items);
/// assert_eq!(x.shape(), &[2, 2]);
/// assert_eq!(y.to_vec::<i64>(), vec![0, 1]);
/// ```
pub trait Collate: Sized {
    /// One batch made of `items`; panics if `items` is empty or the items' shapes differ.
    fn collate(items: Vec<Self>) -> Self;
}

impl Collate for Tensor {
    fn collate(items: Vec<Tensor>) -> Tensor {
        assert!(!items.is_empty(), "collate: cannot make a batch of 0 samples");
        Tensor::stack(&items, 0)
    }
}

impl<A: Collate, B: Collate> Collate for (A, B) {
    fn collate(items: Vec<(A, B)>) -> (A, B) {
        let (a, b): (Vec<A>, Vec<B>) = items.into_iter().unzip();
        (A::collate(a), B::collate(b))
    }
}

impl<A: Collate, B: Collate, C: Collate> Collate for (A, B, C) {
    fn collate(items: Vec<(A, B, C)>) -> (A, B, C) {
        let mut a = Vec::with_capacity(items.len());
        let mut b = Vec::with_capacity(items.len());
        let mut c = Vec::with_capacity(items.len());
        for (x, y, z) in items {
            a.push(x);
            b.push(y);
            c.push(z);
        }
        (A::collate(a), B::collate(b), C::collate(c))
    }
}

impl<T: Collate> Collate for Vec<T> {
    fn collate(items: Vec<Vec<T>>) -> Vec<T> {
        let width = items.first().map_or(0, Vec::len);
        assert!(
            items.iter().all(|v| v.len() == width),
            "collate: every sample must have the same number of fields ({width})"
        );
        let mut columns: Vec<Vec<T>> = (0..width).map(|_| Vec::with_capacity(items.len())).collect();
        for item in items {
            for (column, field) in columns.iter_mut().zip(item) {
                column.push(field);
            }
        }
        columns.into_iter().map(T::collate).collect()
    }
}

/// PyTorch's `default_collate`: [`Collate::collate`] as a function, to pass where a closure
/// is expected.
///
/// ```
/// use nabla_autograd::Tensor;
/// let t = nabla_data::default_collate(vec![Tensor::from_vec(vec![1.0f32], &[1]); 3]);
/// assert_eq!(t.shape(), &[3, 1]);
/// ```
pub fn default_collate<T: Collate>(items: Vec<T>) -> T {
    T::collate(items)
}

/// The tensors of a [`TensorDataset`]: one tensor, a pair, a triple, or a `Vec`.
///
/// ```
/// use nabla_autograd::Tensor;
/// use nabla_data::Tensors;
/// let pair = (Tensor::from_vec(vec![1.0f32, 2.0], &[2]), Tensor::from_vec(vec![0i64, 1], &[2]));
/// assert_eq!(pair.tensors().len(), 2);
/// ```
pub trait Tensors: Clone + Send + Sync {
    /// The tensors, in order.
    fn tensors(&self) -> Vec<&Tensor>;

    /// The same structure with `f` applied to each tensor.
    fn map_tensors(&self, f: &mut dyn FnMut(&Tensor) -> Tensor) -> Self;
}

impl Tensors for Tensor {
    fn tensors(&self) -> Vec<&Tensor> {
        vec![self]
    }

    fn map_tensors(&self, f: &mut dyn FnMut(&Tensor) -> Tensor) -> Tensor {
        f(self)
    }
}

impl Tensors for (Tensor, Tensor) {
    fn tensors(&self) -> Vec<&Tensor> {
        vec![&self.0, &self.1]
    }

    fn map_tensors(&self, f: &mut dyn FnMut(&Tensor) -> Tensor) -> (Tensor, Tensor) {
        (f(&self.0), f(&self.1))
    }
}

impl Tensors for (Tensor, Tensor, Tensor) {
    fn tensors(&self) -> Vec<&Tensor> {
        vec![&self.0, &self.1, &self.2]
    }

    fn map_tensors(&self, f: &mut dyn FnMut(&Tensor) -> Tensor) -> (Tensor, Tensor, Tensor) {
        (f(&self.0), f(&self.1), f(&self.2))
    }
}

impl Tensors for Vec<Tensor> {
    fn tensors(&self) -> Vec<&Tensor> {
        self.iter().collect()
    }

    fn map_tensors(&self, f: &mut dyn FnMut(&Tensor) -> Tensor) -> Vec<Tensor> {
        self.iter().map(f).collect()
    }
}

/// Samples that are the rows (along dimension 0) of tensors of equal first size, as
/// `torch.utils.data.TensorDataset`. The item type is the tensors' structure: a pair
/// `(inputs, targets)` by default.
///
/// Batches are gathered with one `index_select` per tensor
/// ([`Dataset::get_batch`](crate::Dataset::get_batch)), not row by row.
///
/// ```
/// use nabla_autograd::Tensor;
/// use nabla_data::{Dataset, TensorDataset};
/// let x = Tensor::from_vec(vec![1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0], &[3, 2]);
/// let y = Tensor::from_vec(vec![0i64, 1, 1], &[3]);
/// let ds = TensorDataset::new(x, y);
/// let (row, label) = ds.get(1);
/// assert_eq!(row.to_vec::<f32>(), vec![3.0, 4.0]);
/// assert_eq!(label.shape(), &[] as &[usize]);
/// assert_eq!(label.to_vec::<i64>(), vec![1]);
/// ```
#[derive(Debug, Clone)]
pub struct TensorDataset<T = (Tensor, Tensor)> {
    tensors: T,
    len: usize,
}

impl TensorDataset<(Tensor, Tensor)> {
    /// Pairs of rows of `inputs` and `targets`; fails unless both have at least one
    /// dimension and the same size in dimension 0.
    ///
    /// ```
    /// use nabla_autograd::Tensor;
    /// use nabla_data::TensorDataset;
    /// let x = Tensor::from_vec(vec![0.0f32; 6], &[3, 2]);
    /// let y = Tensor::from_vec(vec![0i64; 2], &[2]);
    /// let err = TensorDataset::try_new(x, y).unwrap_err();
    /// assert!(err.to_string().contains("size mismatch between tensors: [3, 2] and [2]"));
    /// ```
    pub fn try_new(inputs: Tensor, targets: Tensor) -> Result<TensorDataset> {
        TensorDataset::try_from_tensors((inputs, targets))
    }

    /// As [`try_new`](Self::try_new), panicking with the same message.
    ///
    /// ```
    /// use nabla_autograd::Tensor;
    /// use nabla_data::{Dataset, TensorDataset};
    /// let ds = TensorDataset::new(Tensor::from_vec(vec![0.0f32; 6], &[3, 2]), Tensor::from_vec(vec![0i64; 3], &[3]));
    /// assert_eq!(ds.len(), 3);
    /// ```
    #[track_caller]
    pub fn new(inputs: Tensor, targets: Tensor) -> TensorDataset {
        TensorDataset::try_new(inputs, targets).unwrap_or_else(|e| panic!("{e}"))
    }
}

impl<T: Tensors> TensorDataset<T> {
    /// A dataset over any number of tensors sharing their first dimension.
    ///
    /// ```
    /// use nabla_autograd::Tensor;
    /// use nabla_data::{Dataset, TensorDataset};
    /// let a = Tensor::from_vec(vec![1.0f32, 2.0], &[2]);
    /// let ds = TensorDataset::try_from_tensors(vec![a.clone(), a.clone(), a]).unwrap();
    /// assert_eq!(ds.get(1).len(), 3);
    /// ```
    pub fn try_from_tensors(tensors: T) -> Result<TensorDataset<T>> {
        const OP: &str = "TensorDataset";
        let list = tensors.tensors();
        let Some(first) = list.first() else {
            return Err(Error::invalid_argument(OP, "needs at least one tensor"));
        };
        if let Some(scalar) = list.iter().find(|t| t.shape().is_empty()) {
            return Err(Error::shape(
                OP,
                format!("tensors must have at least one dimension, got shape {:?}", scalar.shape()),
                "reshape a scalar to [1]",
            ));
        }
        let len = first.shape()[0];
        if let Some(other) = list.iter().find(|t| t.shape()[0] != len) {
            return Err(Error::shape(
                OP,
                format!("size mismatch between tensors: {:?} and {:?}", first.shape(), other.shape()),
                "every tensor needs the same size in dimension 0, one row per sample",
            ));
        }
        Ok(TensorDataset { tensors, len })
    }

    /// As [`try_from_tensors`](Self::try_from_tensors), panicking with the same message.
    ///
    /// ```
    /// use nabla_autograd::Tensor;
    /// use nabla_data::{Dataset, TensorDataset};
    /// let ds = TensorDataset::from_tensors(Tensor::from_vec(vec![1.0f32, 2.0, 3.0], &[3]));
    /// assert_eq!(ds.get(2).to_vec::<f32>(), vec![3.0]);
    /// ```
    #[track_caller]
    pub fn from_tensors(tensors: T) -> TensorDataset<T> {
        TensorDataset::try_from_tensors(tensors).unwrap_or_else(|e| panic!("{e}"))
    }

    /// The whole tensors.
    ///
    /// ```
    /// use nabla_autograd::Tensor;
    /// use nabla_data::TensorDataset;
    /// let ds = TensorDataset::new(Tensor::from_vec(vec![0.0f32; 6], &[3, 2]), Tensor::from_vec(vec![0i64; 3], &[3]));
    /// assert_eq!(ds.tensors().0.shape(), &[3, 2]);
    /// ```
    pub fn tensors(&self) -> &T {
        &self.tensors
    }

    /// Gives the tensors back.
    ///
    /// ```
    /// use nabla_autograd::Tensor;
    /// use nabla_data::TensorDataset;
    /// let ds = TensorDataset::new(Tensor::from_vec(vec![0.0f32; 6], &[3, 2]), Tensor::from_vec(vec![0i64; 3], &[3]));
    /// let (x, y) = ds.into_tensors();
    /// assert_eq!(y.shape(), &[3]);
    /// ```
    pub fn into_tensors(self) -> T {
        self.tensors
    }
}

impl<T: Tensors> crate::Dataset for TensorDataset<T> {
    type Item = T;

    fn len(&self) -> usize {
        self.len
    }

    fn get(&self, index: usize) -> T {
        assert!(
            index < self.len,
            "TensorDataset: index {index} is out of bounds for dimension 0 with size {}",
            self.len
        );
        self.tensors.map_tensors(&mut |t| t.narrow(0, index, 1).reshape(&t.shape()[1..]))
    }

    fn get_batch(&self, indices: &[usize]) -> Option<T> {
        let idx: Vec<i64> = indices.iter().map(|&i| i as i64).collect();
        let idx = Tensor::from_vec(idx, &[indices.len()]);
        Some(self.tensors.map_tensors(&mut |t| t.index_select(0, &idx)))
    }
}
