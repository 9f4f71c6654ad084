//! [`Embedding`]: a lookup table of learned vectors.

use crate::display::display_as_module;
use crate::module::Module;
use nabla_autograd::{no_grad, DType, Error, Tensor};

/// A table of `num_embeddings` vectors of size `embedding_dim` (PyTorch's
/// `nn.Embedding`): the output for int64 indices of shape `[*]` is `[*, embedding_dim]`,
/// row `i` of the weight for index `i`. The weight starts as N(0, 1) samples.
///
/// With a `padding_idx`, that row starts at zero and receives no gradient (the looked-up
/// rows are multiplied by a mask of the non-padding positions, so the graph gives it zero).
///
/// ```
/// use nabla_autograd::Tensor;
/// use nabla_nn::nn::{Embedding, Module};
/// let emb = Embedding::new(10, 3).padding_idx(0);
/// let idx = Tensor::from_vec(vec![1i64, 0, 4, 1], &[2, 2]);
/// let y = emb.forward(&idx);
/// assert_eq!(y.shape(), &[2, 2, 3]);
/// assert_eq!(y.to_vec::<f32>()[3..6], [0.0, 0.0, 0.0]);
/// y.sum().backward();
/// let g = emb.weight.grad().unwrap().to_vec::<f32>();
/// assert_eq!(&g[0..3], &[0.0; 3]); // padding row: no gradient
/// assert_eq!(&g[3..6], &[2.0; 3]); // index 1 appears twice
/// assert_eq!(emb.to_string(), "Embedding(10, 3, padding_idx=0)");
/// ```
pub struct Embedding {
    /// `[num_embeddings, embedding_dim]`.
    pub weight: Tensor,
    /// The size of the table.
    pub num_embeddings: usize,
    /// The size of each vector.
    pub embedding_dim: usize,
    /// The index whose vector stays zero.
    pub padding_idx: Option<usize>,
}

impl Embedding {
    /// A float32 table of `num_embeddings` vectors of size `embedding_dim`.
    pub fn new(num_embeddings: usize, embedding_dim: usize) -> Embedding {
        Embedding::new_with(num_embeddings, embedding_dim, DType::F32)
    }

    /// A table of the given dtype.
    pub fn new_with(num_embeddings: usize, embedding_dim: usize, dtype: DType) -> Embedding {
        let weight = Tensor::randn_with(&[num_embeddings, embedding_dim], dtype).requires_grad_(true);
        Embedding { weight, num_embeddings, embedding_dim, padding_idx: None }
    }

    /// A table initialized from `weight` (`[num_embeddings, embedding_dim]`), as PyTorch's
    /// `Embedding.from_pretrained(weight, freeze=False)`.
    ///
    /// # Panics
    /// If `weight` is not 2-D.
    #[track_caller]
    pub fn from_pretrained(weight: &Tensor) -> Embedding {
        let &[n, d] = weight.shape() else {
            panic!(
                "{}",
                Error::shape(
                    "Embedding::from_pretrained",
                    format!("Embeddings parameter is expected to be 2-dimensional, got {:?}", weight.shape()),
                    ""
                )
            )
        };
        Embedding {
            weight: weight.detach().clone_tensor().requires_grad_(true),
            num_embeddings: n,
            embedding_dim: d,
            padding_idx: None,
        }
    }

    /// Keeps the vector of `index` at zero, without gradient.
    ///
    /// # Panics
    /// If `index` is outside the table.
    #[track_caller]
    pub fn padding_idx(mut self, index: usize) -> Embedding {
        if index >= self.num_embeddings {
            panic!(
                "{}",
                Error::invalid_argument(
                    "Embedding",
                    format!("Padding_idx must be within num_embeddings ({index} >= {})", self.num_embeddings)
                )
            );
        }
        no_grad(|| self.weight.narrow(0, index, 1).fill_(0.0));
        self.padding_idx = Some(index);
        self
    }
}

impl Module for Embedding {
    #[track_caller]
    fn forward(&self, indices: &Tensor) -> Tensor {
        if indices.dtype() != DType::I64 {
            panic!(
                "{}",
                Error::DType {
                    op: "embedding",
                    msg: format!(
                        "Expected tensor for argument #1 'indices' to have scalar type Long; but got {} instead; \
                         hint: class indices are int64 tensors",
                        indices.dtype()
                    ),
                }
            );
        }
        let flat = indices.reshape(&[indices.numel()]);
        let mut rows = self.weight.index_select(0, &flat);
        if let Some(p) = self.padding_idx {
            let keep = flat.ne(p as i64).to_dtype(self.weight.dtype()).unsqueeze(1);
            rows = rows * keep;
        }
        let mut shape = indices.shape().to_vec();
        shape.push(self.embedding_dim);
        rows.reshape(&shape)
    }

    fn local_parameters(&self) -> Vec<(String, Tensor)> {
        vec![("weight".to_string(), self.weight.clone())]
    }

    fn extra_repr(&self) -> String {
        let mut s = format!("{}, {}", self.num_embeddings, self.embedding_dim);
        if let Some(p) = self.padding_idx {
            s += &format!(", padding_idx={p}");
        }
        s
    }
}

display_as_module!(Embedding);

#[cfg(test)]
mod tests {
    use super::*;
    use nabla_autograd::autograd::gradcheck;

    #[test]
    fn lookup_gathers_rows_and_scatters_gradients() {
        let _serial = crate::tests::SEED_LOCK.lock();
        let w = Tensor::from_vec((0..12).map(|v| v as f64).collect(), &[4, 3]);
        let emb = Embedding::from_pretrained(&w);
        let idx = Tensor::from_vec(vec![3i64, 0, 3], &[3]);
        let y = emb.forward(&idx);
        assert_eq!(y.to_vec::<f64>(), vec![9.0, 10.0, 11.0, 0.0, 1.0, 2.0, 9.0, 10.0, 11.0]);
        assert!(!w.requires_grad(), "from_pretrained copies");
        let g = Tensor::linspace(0.0, 1.0, 9).to_dtype(DType::F64).reshape(&[3, 3]);
        gradcheck(
            |t| {
                let e = Embedding { weight: t[0].clone(), num_embeddings: 4, embedding_dim: 3, padding_idx: Some(0) };
                (e.forward(&idx) * &g).sum()
            },
            &[emb.weight.clone()],
        )
        .unwrap();
    }

    #[test]
    fn wrong_index_dtype_and_range_are_explained() {
        let _serial = crate::tests::SEED_LOCK.lock();
        let emb = Embedding::new(5, 2);
        let e = std::panic::catch_unwind(|| emb.forward(&Tensor::zeros(&[2]))).unwrap_err();
        assert!(e.downcast_ref::<String>().unwrap().contains("to have scalar type Long"));
        let e = std::panic::catch_unwind(|| emb.forward(&Tensor::from_vec(vec![5i64], &[1]))).unwrap_err();
        assert!(e.downcast_ref::<String>().unwrap().contains("out of"), "{:?}", e.downcast_ref::<String>());
        assert_eq!(Embedding::new(5, 2).forward(&Tensor::from_vec(vec![4i64; 6], &[2, 3])).shape(), &[2, 3, 2]);
    }
}
