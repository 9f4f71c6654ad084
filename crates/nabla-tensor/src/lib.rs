//! # nabla-tensor
//!
//! The kernel layer of nabla: storage shared between views, strided layouts, and CPU
//! kernels (element-wise, reductions, GEMM-backed matrix products) generic over `f32` and
//! `f64`. It knows nothing of autograd: `nabla-autograd` builds the graph on top of
//! [`RawTensor`].
//!
//! ```
//! use nabla_tensor::RawTensor;
//! let a = RawTensor::from_vec(vec![1.0f32, 2.0, 3.0, 4.0], &[2, 2]);
//! let b = a.matmul(&a.transpose(0, 1)).unwrap();
//! assert_eq!(b.to_vec::<f32>(), vec![5.0, 11.0, 11.0, 25.0]);
//! ```
#![warn(missing_docs)]

extern crate gemm as gemm_crate;

pub mod arc;
pub mod backoff;
pub mod conv;
pub mod counter;
pub mod dtype;
pub mod elementwise;
pub mod error;
pub mod index;
pub mod iter;
pub mod layout;
pub mod matmul;
pub mod pool;
mod raw;
pub mod reduce;
mod scratch;
pub mod slab;
pub mod storage;
pub mod team;

pub use dtype::{DType, Element, Float};
pub use error::{Error, Result};
pub use layout::{Layout, Shape};
pub use raw::RawTensor;
pub use storage::{Buffer, BufferElement, Storage, StorageRead, StorageRef, StorageWrite};
