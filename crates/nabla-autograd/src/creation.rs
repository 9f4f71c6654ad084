//! Making tensors: from data, filled, ranges, identity, random.

use crate::ops::binary::Scalar;
use crate::rng::{normal_samples, uniform_samples};
use crate::tensor::Tensor;
use nabla_tensor::{BufferElement, DType, Layout, RawTensor, Result};

fn from_f64s(v: Vec<f64>, shape: &[usize], dtype: DType) -> Tensor {
    let raw = RawTensor::from_vec(v, shape);
    Tensor::from_raw(raw.to_dtype(dtype))
}

impl Tensor {
    /// A tensor owning `data`, laid out row-major in `shape`. The dtype is the element
    /// type's (`f32`, `f64`, `i64`, `bool`).
    ///
    /// ```
    /// use nabla_autograd::{DType, Tensor};
    /// let t = Tensor::from_vec(vec![1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0], &[2, 3]);
    /// assert_eq!(t.shape(), &[2, 3]);
    /// assert_eq!(t.dtype(), DType::F32);
    /// ```
    ///
    /// # Panics
    /// If `data.len()` is not the product of `shape` (see [`Tensor::try_from_vec`]).
    #[track_caller]
    pub fn from_vec<T: BufferElement>(data: Vec<T>, shape: &[usize]) -> Tensor {
        crate::ops::or_panic(Tensor::try_from_vec(data, shape))
    }

    /// [`Tensor::from_vec`], returning an error on a length mismatch.
    ///
    /// ```
    /// assert!(nabla_autograd::Tensor::try_from_vec(vec![1.0f32; 5], &[2, 3]).is_err());
    /// ```
    pub fn try_from_vec<T: BufferElement>(data: Vec<T>, shape: &[usize]) -> Result<Tensor> {
        Ok(Tensor::from_raw(RawTensor::try_from_vec(data, shape)?))
    }

    /// A 0-D tensor holding `value`.
    ///
    /// ```
    /// let s = nabla_autograd::Tensor::scalar(3.0f64);
    /// assert_eq!(s.dims(), 0);
    /// assert_eq!(s.item(), 3.0);
    /// ```
    pub fn scalar<T: BufferElement>(value: T) -> Tensor {
        Tensor::from_raw(RawTensor::from_vec(vec![value], &[]))
    }

    /// A float32 tensor of zeros.
    ///
    /// ```
    /// assert_eq!(nabla_autograd::Tensor::zeros(&[2]).to_vec::<f32>(), vec![0.0, 0.0]);
    /// ```
    pub fn zeros(shape: &[usize]) -> Tensor {
        Tensor::zeros_with(shape, DType::F32)
    }

    /// A tensor of zeros of the given dtype.
    ///
    /// ```
    /// use nabla_autograd::{DType, Tensor};
    /// assert_eq!(Tensor::zeros_with(&[2], DType::F64).dtype(), DType::F64);
    /// ```
    pub fn zeros_with(shape: &[usize], dtype: DType) -> Tensor {
        Tensor::from_raw(RawTensor::zeros(shape, dtype))
    }

    /// A float32 tensor of ones.
    ///
    /// ```
    /// assert_eq!(nabla_autograd::Tensor::ones(&[2]).to_vec::<f32>(), vec![1.0, 1.0]);
    /// ```
    pub fn ones(shape: &[usize]) -> Tensor {
        Tensor::ones_with(shape, DType::F32)
    }

    /// A tensor of ones of the given dtype.
    pub fn ones_with(shape: &[usize], dtype: DType) -> Tensor {
        Tensor::full_with(shape, 1.0, dtype)
    }

    /// A float32 tensor filled with `value`.
    ///
    /// ```
    /// assert_eq!(nabla_autograd::Tensor::full(&[2], 7.0).to_vec::<f32>(), vec![7.0, 7.0]);
    /// ```
    pub fn full(shape: &[usize], value: f64) -> Tensor {
        Tensor::full_with(shape, value, DType::F32)
    }

    /// A tensor of the given dtype filled with `value`.
    pub fn full_with(shape: &[usize], value: f64, dtype: DType) -> Tensor {
        Tensor::from_raw(RawTensor::full(shape, value, dtype))
    }

    /// Values `start, start+step, …` below `end`: int64 for integer arguments, float32
    /// for floats (as PyTorch).
    ///
    /// ```
    /// use nabla_autograd::{DType, Tensor};
    /// assert_eq!(Tensor::arange(0, 4, 1).to_vec::<i64>(), vec![0, 1, 2, 3]);
    /// assert_eq!(Tensor::arange(0.0, 1.0, 0.5).dtype(), DType::F32);
    /// ```
    ///
    /// # Panics
    /// If `step` is zero or has the wrong sign.
    #[track_caller]
    pub fn arange<S: Scalar>(start: S, end: S, step: S) -> Tensor {
        let (a, b, s) = (start.to_f64(), end.to_f64(), step.to_f64());
        assert!(
            s != 0.0 && (b - a) * s >= 0.0,
            "arange: upper bound and larger bound inconsistent with step sign (start {a}, end {b}, step {s})"
        );
        let n = ((b - a) / s).ceil().max(0.0) as usize;
        let v: Vec<f64> = (0..n).map(|i| a + s * i as f64).collect();
        from_f64s(v, &[n], if S::IS_INT { DType::I64 } else { DType::F32 })
    }

    /// `steps` evenly spaced float32 values from `start` to `end` inclusive.
    ///
    /// ```
    /// let t = nabla_autograd::Tensor::linspace(0.0, 1.0, 5);
    /// assert_eq!(t.to_vec::<f32>(), vec![0.0, 0.25, 0.5, 0.75, 1.0]);
    /// ```
    pub fn linspace(start: f64, end: f64, steps: usize) -> Tensor {
        let v: Vec<f64> = (0..steps)
            .map(|i| if steps == 1 { start } else { start + (end - start) * i as f64 / (steps - 1) as f64 })
            .collect();
        from_f64s(v, &[steps], DType::F32)
    }

    /// The `n×n` float32 identity matrix.
    ///
    /// ```
    /// assert_eq!(nabla_autograd::Tensor::eye(2).to_vec::<f32>(), vec![1.0, 0.0, 0.0, 1.0]);
    /// ```
    pub fn eye(n: usize) -> Tensor {
        let mut v = vec![0.0f64; n * n];
        for i in 0..n {
            v[i * n + i] = 1.0;
        }
        from_f64s(v, &[n, n], DType::F32)
    }

    /// Float32 samples uniform in `[0, 1)` from the seeded generator.
    ///
    /// ```
    /// let t = nabla_autograd::Tensor::rand(&[100]);
    /// assert!(t.to_vec::<f32>().iter().all(|&v| (0.0..1.0).contains(&v)));
    /// ```
    pub fn rand(shape: &[usize]) -> Tensor {
        Tensor::rand_with(shape, DType::F32)
    }

    /// Uniform samples in `[0, 1)` of the given dtype.
    pub fn rand_with(shape: &[usize], dtype: DType) -> Tensor {
        Tensor::uniform(shape, 0.0, 1.0, dtype)
    }

    /// Uniform samples in `[low, high)` of the given dtype.
    ///
    /// ```
    /// use nabla_autograd::{DType, Tensor};
    /// let t = Tensor::uniform(&[50], -1.0, 1.0, DType::F64);
    /// assert!(t.to_vec::<f64>().iter().all(|&v| (-1.0..1.0).contains(&v)));
    /// ```
    pub fn uniform(shape: &[usize], low: f64, high: f64, dtype: DType) -> Tensor {
        let n = shape.iter().product();
        from_f64s(uniform_samples(n, low, high), shape, dtype)
    }

    /// Float32 standard normal samples from the seeded generator.
    ///
    /// ```
    /// let t = nabla_autograd::Tensor::randn(&[1000]);
    /// assert!(t.mean().item().abs() < 0.15);
    /// ```
    pub fn randn(shape: &[usize]) -> Tensor {
        Tensor::randn_with(shape, DType::F32)
    }

    /// Standard normal samples of the given dtype.
    pub fn randn_with(shape: &[usize], dtype: DType) -> Tensor {
        Tensor::normal(shape, 0.0, 1.0, dtype)
    }

    /// Normal samples with the given mean and standard deviation.
    pub fn normal(shape: &[usize], mean: f64, std: f64, dtype: DType) -> Tensor {
        let n = shape.iter().product();
        from_f64s(normal_samples(n, mean, std), shape, dtype)
    }

    /// Zeros with `other`'s shape and dtype.
    ///
    /// ```
    /// let x = nabla_autograd::Tensor::ones(&[2, 3]);
    /// assert_eq!(nabla_autograd::Tensor::zeros_like(&x).shape(), &[2, 3]);
    /// ```
    pub fn zeros_like(other: &Tensor) -> Tensor {
        Tensor::zeros_with(other.shape(), other.dtype())
    }

    /// Ones with `other`'s shape and dtype.
    pub fn ones_like(other: &Tensor) -> Tensor {
        Tensor::ones_with(other.shape(), other.dtype())
    }

    /// `value` with `other`'s shape and dtype.
    pub fn full_like(other: &Tensor, value: f64) -> Tensor {
        Tensor::full_with(other.shape(), value, other.dtype())
    }

    /// Uniform `[0, 1)` samples with `other`'s shape and dtype.
    pub fn rand_like(other: &Tensor) -> Tensor {
        Tensor::rand_with(other.shape(), other.dtype())
    }

    /// Standard normal samples with `other`'s shape and dtype.
    pub fn randn_like(other: &Tensor) -> Tensor {
        Tensor::randn_with(other.shape(), other.dtype())
    }

    /// A tensor over `data` with an explicit layout (advanced: for kernels and tests of
    /// non-contiguous inputs).
    pub fn from_vec_strided<T: BufferElement>(
        data: Vec<T>,
        shape: &[usize],
        strides: &[usize],
        offset: usize,
    ) -> Tensor {
        let raw = RawTensor::from_buffer(T::into_buffer(data), Layout::from_parts(shape, strides, offset));
        Tensor::from_raw(raw)
    }
}
