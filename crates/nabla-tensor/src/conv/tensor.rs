//! The kernels as `RawTensor` methods: shape and dtype checks, strided operands packed
//! (a row at a time) when not contiguous, f32 / f64 dispatch, outputs from the buffer pool.

use super::*;
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::iter::for_each_row_n;
use crate::layout::Layout;
use crate::raw::RawTensor;
use crate::storage::BufferElement;

/// Runs `f` on the elements of `t` in row-major order: the storage itself when `t` is
/// contiguous, else a packed copy (gathered a row at a time; broadcast rows are cheap).
fn with_contiguous<T: BufferElement, R>(t: &RawTensor, f: impl FnOnce(&[T]) -> R) -> R {
    match t.layout().contiguous_range() {
        Some(r) => t.with_slice::<T, _>(|s, _| f(&s[r])),
        None => f(&gather(t)),
    }
}

/// The elements of `t` in row-major order, gathered a row at a time.
fn gather<T: BufferElement>(t: &RawTensor) -> Vec<T> {
    let mut v = crate::pool::alloc(t.numel());
    t.with_slice::<T, _>(|s, l| {
        for_each_row_n(l.shape(), [l.strides()], [l.offset()], |p, st, n| match st[0] {
            1 => v.extend_from_slice(&s[p[0]..p[0] + n]),
            0 => v.extend(std::iter::repeat_n(s[p[0]], n)),
            st => v.extend((0..n).map(|i| s[p[0] + i * st])),
        })
    });
    v
}

fn with_contiguous_opt<T: BufferElement, R>(t: Option<&RawTensor>, f: impl FnOnce(Option<&[T]>) -> R) -> R {
    match t {
        Some(t) => with_contiguous(t, |s| f(Some(s))),
        None => f(None),
    }
}

/// The float dtype shared by `ts`, or an error naming `op`.
fn common_float(op: &'static str, ts: &[&RawTensor]) -> Result<DType> {
    let d = ts[0].dtype();
    if !d.is_float() || ts.iter().any(|t| t.dtype() != d) {
        let names: Vec<String> = ts.iter().map(|t| t.dtype().to_string()).collect();
        return Err(Error::DType {
            op,
            msg: format!("expected floating-point operands of one dtype, got {}", names.join(", ")),
        });
    }
    Ok(d)
}

fn check_shape(op: &'static str, what: &str, t: &RawTensor, expected: &[usize]) -> Result<()> {
    if t.shape() != expected {
        return Err(Error::shape(
            op,
            format!("expected {what} of shape {expected:?}, got {:?}", t.shape()),
            "the shapes must follow the convolution's geometry",
        ));
    }
    Ok(())
}

fn output<T: BufferElement>(v: Vec<T>, shape: &[usize]) -> RawTensor {
    RawTensor::from_buffer(T::into_buffer(v), Layout::contiguous(shape))
}

/// The shape of a pooling output: `x`'s with the last two dimensions replaced.
fn pooled_shape(x: &RawTensor, size: [usize; 2]) -> Vec<usize> {
    let s = x.shape();
    [&s[..s.len() - 2], &size[..]].concat()
}

impl RawTensor {
    /// A contiguous copy gathered a row at a time (`self` when already contiguous):
    /// cheap for broadcast gradients such as the `expand`ed ones that `sum()`'s backward
    /// hands to a convolution.
    ///
    /// ```
    /// use nabla_tensor::{Layout, RawTensor};
    /// let ones = RawTensor::from_vec(vec![1.0f32], &[1]).with_layout(Layout::from_parts(&[2, 3], &[0, 0], 0));
    /// let p = ones.packed();
    /// assert!(p.is_contiguous());
    /// assert_eq!(p.to_vec::<f32>(), vec![1.0; 6]);
    /// ```
    pub fn packed(&self) -> RawTensor {
        if self.is_contiguous() {
            return self.clone();
        }
        fn go<T: BufferElement>(t: &RawTensor) -> RawTensor {
            output(gather::<T>(t), t.shape())
        }
        match self.dtype() {
            DType::F32 => go::<f32>(self),
            DType::F64 => go::<f64>(self),
            DType::I64 => go::<i64>(self),
            DType::Bool => go::<bool>(self),
        }
    }

    /// The convolution `C(self, w) (+ bias)` of geometry `g` ([`conv2d_forward`]).
    ///
    /// ```
    /// use nabla_tensor::{conv::ConvGeom, RawTensor};
    /// let g = ConvGeom::new([1, 1, 2, 2], [1, 1, 1, 1], [1, 1], [0, 0], [1, 1], 1).unwrap();
    /// let x = RawTensor::from_vec(vec![1.0f32, 2.0, 3.0, 4.0], &[1, 1, 2, 2]);
    /// let w = RawTensor::from_vec(vec![2.0f32], &[1, 1, 1, 1]);
    /// assert_eq!(x.conv2d(&g, &w, None).unwrap().to_vec::<f32>(), vec![2.0, 4.0, 6.0, 8.0]);
    /// ```
    pub fn conv2d(&self, g: &ConvGeom, w: &RawTensor, bias: Option<&RawTensor>) -> Result<RawTensor> {
        let op = "conv2d";
        check_shape(op, "an input", self, &g.input_shape())?;
        check_shape(op, "a weight", w, &g.weight_shape())?;
        let mut all = vec![self, w];
        if let Some(b) = bias {
            check_shape(op, "a bias", b, &[g.out_channels])?;
            all.push(b);
        }
        fn go<T: Float>(g: &ConvGeom, x: &RawTensor, w: &RawTensor, b: Option<&RawTensor>) -> RawTensor {
            // conv2d_forward overwrites every element (bias fill or a non-accumulating GEMM)
            let mut y = crate::pool::alloc_overwritten::<T>(g.output_shape().iter().product());
            with_contiguous::<T, _>(x, |x| {
                with_contiguous::<T, _>(w, |w| with_contiguous_opt::<T, _>(b, |b| conv2d_forward(g, x, w, b, &mut y)))
            });
            output(y, &g.output_shape())
        }
        Ok(match common_float(op, &all)? {
            DType::F32 => go::<f32>(g, self, w, bias),
            _ => go::<f64>(g, self, w, bias),
        })
    }

    /// The input gradient `Cₓᵀ(self; w) (+ bias)` of a convolution of geometry `g`, which
    /// is also the transposed convolution of `self` ([`conv2d_backward_input_overwrite`]).
    pub fn conv2d_backward_input(&self, g: &ConvGeom, w: &RawTensor, bias: Option<&RawTensor>) -> Result<RawTensor> {
        let op = "conv2d_backward_input";
        check_shape(op, "a gradient", self, &g.output_shape())?;
        check_shape(op, "a weight", w, &g.weight_shape())?;
        let mut all = vec![self, w];
        if let Some(b) = bias {
            check_shape(op, "a bias", b, &[g.in_channels])?;
            all.push(b);
        }
        fn go<T: Float>(g: &ConvGeom, gy: &RawTensor, w: &RawTensor, b: Option<&RawTensor>) -> RawTensor {
            let mut gx = crate::pool::alloc_overwritten::<T>(g.input_shape().iter().product());
            with_contiguous::<T, _>(gy, |gy| {
                with_contiguous::<T, _>(w, |w| {
                    with_contiguous_opt::<T, _>(b, |b| conv2d_backward_input_overwrite(g, gy, w, b, &mut gx))
                })
            });
            output(gx, &g.input_shape())
        }
        Ok(match common_float(op, &all)? {
            DType::F32 => go::<f32>(g, self, w, bias),
            _ => go::<f64>(g, self, w, bias),
        })
    }

    /// The weight gradient `C_wᵀ(gy; self)` of a convolution of geometry `g` whose input
    /// is `self` ([`conv2d_backward_weight`]).
    pub fn conv2d_backward_weight(&self, g: &ConvGeom, gy: &RawTensor) -> Result<RawTensor> {
        let op = "conv2d_backward_weight";
        check_shape(op, "an input", self, &g.input_shape())?;
        check_shape(op, "a gradient", gy, &g.output_shape())?;
        fn go<T: Float>(g: &ConvGeom, x: &RawTensor, gy: &RawTensor) -> RawTensor {
            let mut gw = crate::pool::alloc_filled(g.weight_shape().iter().product(), T::zero());
            with_contiguous::<T, _>(x, |x| with_contiguous::<T, _>(gy, |gy| conv2d_backward_weight(g, x, gy, &mut gw)));
            output(gw, &g.weight_shape())
        }
        Ok(match common_float(op, &[self, gy])? {
            DType::F32 => go::<f32>(g, self, gy),
            _ => go::<f64>(g, self, gy),
        })
    }

    /// Sums a `[N, C, ...]` tensor over every dimension but the channels (a bias gradient).
    ///
    /// ```
    /// let y = nabla_tensor::RawTensor::from_vec(vec![1.0f32; 12], &[2, 3, 2]);
    /// assert_eq!(y.channel_sum().unwrap().to_vec::<f32>(), vec![4.0, 4.0, 4.0]);
    /// ```
    pub fn channel_sum(&self) -> Result<RawTensor> {
        let s = self.shape();
        if s.len() < 2 {
            return Err(Error::shape(
                "channel_sum",
                format!("expected [N, C, ...], got {s:?}"),
                "add a batch dimension",
            ));
        }
        let (n, c, plane) = (s[0], s[1], s[2..].iter().product::<usize>());
        fn go<T: Float>(t: &RawTensor, n: usize, c: usize, plane: usize) -> RawTensor {
            let mut out = crate::pool::alloc_filled(c, T::zero());
            with_contiguous::<T, _>(t, |y| channel_sum(n, c, plane, y, &mut out));
            output(out, &[c])
        }
        Ok(match common_float("channel_sum", &[self])? {
            DType::F32 => go::<f32>(self, n, c, plane),
            _ => go::<f64>(self, n, c, plane),
        })
    }

    /// Max pooling over the last two dimensions ([`max_pool2d_forward`]): the values and
    /// the `i64` indices of the maxima within each plane.
    ///
    /// ```
    /// use nabla_tensor::{conv::PoolGeom, RawTensor};
    /// let x = RawTensor::from_vec(vec![1.0f32, 3.0, 2.0, 0.0], &[1, 1, 2, 2]);
    /// let g = PoolGeom::new(1, [2, 2], [2, 2], [2, 2], [0, 0]).unwrap();
    /// let (y, i) = x.max_pool2d(&g).unwrap();
    /// assert_eq!((y.to_vec::<f32>(), i.to_vec::<i64>()), (vec![3.0], vec![1]));
    /// ```
    pub fn max_pool2d(&self, g: &PoolGeom) -> Result<(RawTensor, RawTensor)> {
        fn go<T: Float>(g: &PoolGeom, x: &RawTensor) -> (RawTensor, RawTensor) {
            let n = g.planes * g.out_plane();
            // max_pool2d_forward writes every output and index
            let (mut y, mut idx) = (crate::pool::alloc_overwritten::<T>(n), crate::pool::alloc_overwritten::<i64>(n));
            with_contiguous::<T, _>(x, |x| max_pool2d_forward(g, x, &mut y, &mut idx));
            let shape = pooled_shape(x, g.out_size);
            (output(y, &shape), output(idx, &shape))
        }
        self.check_pool_input("max_pool2d", g.planes, g.in_size)?;
        Ok(match common_float("max_pool2d", &[self])? {
            DType::F32 => go::<f32>(g, self),
            _ => go::<f64>(g, self),
        })
    }

    /// Picks `self`'s elements at `idx` within each plane ([`gather_by_index`]).
    pub fn gather_by_index(&self, g: &PoolGeom, idx: &RawTensor) -> Result<RawTensor> {
        fn go<T: Float>(g: &PoolGeom, x: &RawTensor, idx: &RawTensor) -> RawTensor {
            let mut y = crate::pool::alloc_filled(g.planes * g.out_plane(), T::zero());
            with_contiguous::<T, _>(x, |x| with_contiguous::<i64, _>(idx, |i| gather_by_index(g, x, i, &mut y)));
            output(y, idx.shape())
        }
        self.check_pool_input("gather_by_index", g.planes, g.in_size)?;
        idx.check_pool_input("gather_by_index", g.planes, g.out_size)?;
        Ok(match common_float("gather_by_index", &[self])? {
            DType::F32 => go::<f32>(g, self, idx),
            _ => go::<f64>(g, self, idx),
        })
    }

    /// The gradient of max pooling ([`max_pool2d_backward_overwrite`]) of `self` (the output
    /// gradient), given the indices of the forward pass.
    pub fn max_pool2d_backward(&self, g: &PoolGeom, idx: &RawTensor, input_shape: &[usize]) -> Result<RawTensor> {
        fn go<T: Float>(g: &PoolGeom, gy: &RawTensor, idx: &RawTensor, shape: &[usize]) -> RawTensor {
            let mut gx = crate::pool::alloc_overwritten::<T>(g.planes * g.in_plane());
            with_contiguous::<T, _>(gy, |gy| {
                with_contiguous::<i64, _>(idx, |i| max_pool2d_backward_overwrite(g, gy, i, &mut gx))
            });
            output(gx, shape)
        }
        self.check_pool_input("max_pool2d_backward", g.planes, g.out_size)?;
        idx.check_pool_input("max_pool2d_backward", g.planes, g.out_size)?;
        Ok(match common_float("max_pool2d_backward", &[self])? {
            DType::F32 => go::<f32>(g, self, idx, input_shape),
            _ => go::<f64>(g, self, idx, input_shape),
        })
    }

    /// Average pooling over the last two dimensions ([`avg_pool2d_forward`]).
    pub fn avg_pool2d(&self, g: &PoolGeom) -> Result<RawTensor> {
        fn go<T: Float>(g: &PoolGeom, x: &RawTensor) -> RawTensor {
            let mut y = crate::pool::alloc_filled(g.planes * g.out_plane(), T::zero());
            with_contiguous::<T, _>(x, |x| avg_pool2d_forward(g, x, &mut y));
            output(y, &pooled_shape(x, g.out_size))
        }
        self.check_pool_input("avg_pool2d", g.planes, g.in_size)?;
        Ok(match common_float("avg_pool2d", &[self])? {
            DType::F32 => go::<f32>(g, self),
            _ => go::<f64>(g, self),
        })
    }

    /// The gradient of average pooling ([`avg_pool2d_backward`]) of `self` (the output gradient).
    pub fn avg_pool2d_backward(&self, g: &PoolGeom) -> Result<RawTensor> {
        fn go<T: Float>(g: &PoolGeom, gy: &RawTensor) -> RawTensor {
            let mut gx = crate::pool::alloc_filled(g.planes * g.in_plane(), T::zero());
            with_contiguous::<T, _>(gy, |gy| avg_pool2d_backward(g, gy, &mut gx));
            output(gx, &pooled_shape(gy, g.in_size))
        }
        self.check_pool_input("avg_pool2d_backward", g.planes, g.out_size)?;
        Ok(match common_float("avg_pool2d_backward", &[self])? {
            DType::F32 => go::<f32>(g, self),
            _ => go::<f64>(g, self),
        })
    }

    /// Adaptive average pooling of the last two dimensions to `out_size`
    /// ([`adaptive_avg_pool2d_forward`]).
    pub fn adaptive_avg_pool2d(&self, out_size: [usize; 2]) -> Result<RawTensor> {
        let (planes, in_size) = self.planes("adaptive_avg_pool2d")?;
        fn go<T: Float>(x: &RawTensor, planes: usize, i: [usize; 2], o: [usize; 2]) -> RawTensor {
            let mut y = crate::pool::alloc_filled(planes * o[0] * o[1], T::zero());
            with_contiguous::<T, _>(x, |x| adaptive_avg_pool2d_forward(planes, i, o, x, &mut y));
            output(y, &pooled_shape(x, o))
        }
        Ok(match common_float("adaptive_avg_pool2d", &[self])? {
            DType::F32 => go::<f32>(self, planes, in_size, out_size),
            _ => go::<f64>(self, planes, in_size, out_size),
        })
    }

    /// The gradient of adaptive average pooling ([`adaptive_avg_pool2d_backward`]) of
    /// `self` (the output gradient) back to `in_size`.
    pub fn adaptive_avg_pool2d_backward(&self, in_size: [usize; 2]) -> Result<RawTensor> {
        let (planes, out_size) = self.planes("adaptive_avg_pool2d_backward")?;
        fn go<T: Float>(gy: &RawTensor, planes: usize, i: [usize; 2], o: [usize; 2]) -> RawTensor {
            let mut gx = crate::pool::alloc_filled(planes * i[0] * i[1], T::zero());
            with_contiguous::<T, _>(gy, |gy| adaptive_avg_pool2d_backward(planes, i, o, gy, &mut gx));
            output(gx, &pooled_shape(gy, i))
        }
        Ok(match common_float("adaptive_avg_pool2d_backward", &[self])? {
            DType::F32 => go::<f32>(self, planes, in_size, out_size),
            _ => go::<f64>(self, planes, in_size, out_size),
        })
    }

    /// The number of planes and the plane size of a `[..., H, W]` tensor.
    fn planes(&self, op: &'static str) -> Result<(usize, [usize; 2])> {
        let s = self.shape();
        if s.len() < 2 {
            return Err(Error::shape(
                op,
                format!("expected [..., H, W], got {s:?}"),
                "pool over a 2-D or larger tensor",
            ));
        }
        Ok((s[..s.len() - 2].iter().product(), [s[s.len() - 2], s[s.len() - 1]]))
    }

    fn check_pool_input(&self, op: &'static str, planes: usize, size: [usize; 2]) -> Result<()> {
        if self.planes(op)? != (planes, size) {
            return Err(Error::shape(
                op,
                format!("expected {planes} planes of {size:?}, got a tensor of shape {:?}", self.shape()),
                "the shapes must follow the pooling's geometry",
            ));
        }
        Ok(())
    }
}
