//! Pooling layers: [`MaxPool2d`], [`AvgPool2d`], [`AdaptiveAvgPool2d`], forwarding to the
//! differentiable pooling ops.

use crate::display::{display_as_module, py_tuple};
use crate::layers::conv::IntoPair;
use crate::module::Module;
use nabla_autograd::{functional as F, Tensor};

/// `3` for a square size, `(3, 5)` otherwise, as PyTorch prints what it was given.
fn size_repr(s: [usize; 2]) -> String {
    if s[0] == s[1] {
        s[0].to_string()
    } else {
        py_tuple(&s)
    }
}

/// 2-D max pooling (PyTorch's `nn.MaxPool2d`) over `[N, C, H, W]` (or `[C, H, W]`); the
/// stride defaults to the kernel size, padding (with −∞) to 0.
///
/// ```
/// use nabla_autograd::Tensor;
/// use nabla_nn::nn::{MaxPool2d, Module};
/// let pool = MaxPool2d::new(2);
/// let x = Tensor::arange(0.0, 16.0, 1.0).reshape(&[1, 1, 4, 4]);
/// assert_eq!(pool.forward(&x).to_vec::<f32>(), vec![5.0, 7.0, 13.0, 15.0]);
/// assert_eq!(pool.to_string(), "MaxPool2d(kernel_size=2, stride=2, padding=0, dilation=1, ceil_mode=False)");
/// ```
#[derive(Clone, Copy)]
pub struct MaxPool2d {
    /// Window `[kh, kw]`.
    pub kernel_size: [usize; 2],
    /// Step between windows.
    pub stride: [usize; 2],
    /// Implicit −∞ padding on both sides.
    pub padding: [usize; 2],
}

impl MaxPool2d {
    /// Max pooling over `kernel_size` windows, stride = kernel size.
    pub fn new(kernel_size: impl IntoPair) -> MaxPool2d {
        let k = kernel_size.into_pair();
        MaxPool2d { kernel_size: k, stride: k, padding: [0, 0] }
    }

    /// Sets the stride.
    pub fn stride(mut self, stride: impl IntoPair) -> MaxPool2d {
        self.stride = stride.into_pair();
        self
    }

    /// Sets the padding.
    pub fn padding(mut self, padding: impl IntoPair) -> MaxPool2d {
        self.padding = padding.into_pair();
        self
    }
}

impl Module for MaxPool2d {
    #[track_caller]
    fn forward(&self, x: &Tensor) -> Tensor {
        F::max_pool2d(x, self.kernel_size, self.stride, self.padding)
    }

    fn extra_repr(&self) -> String {
        format!(
            "kernel_size={}, stride={}, padding={}, dilation=1, ceil_mode=False",
            size_repr(self.kernel_size),
            size_repr(self.stride),
            size_repr(self.padding)
        )
    }
}

/// 2-D average pooling (PyTorch's `nn.AvgPool2d`, `count_include_pad=True`); the stride
/// defaults to the kernel size.
///
/// ```
/// use nabla_autograd::Tensor;
/// use nabla_nn::nn::{AvgPool2d, Module};
/// let x = Tensor::arange(0.0, 16.0, 1.0).reshape(&[1, 1, 4, 4]);
/// assert_eq!(AvgPool2d::new(2).forward(&x).to_vec::<f32>(), vec![2.5, 4.5, 10.5, 12.5]);
/// assert_eq!(AvgPool2d::new(3).stride(2).padding(1).to_string(), "AvgPool2d(kernel_size=3, stride=2, padding=1)");
/// ```
#[derive(Clone, Copy)]
pub struct AvgPool2d {
    /// Window `[kh, kw]`.
    pub kernel_size: [usize; 2],
    /// Step between windows.
    pub stride: [usize; 2],
    /// Implicit zero padding on both sides (counted in the averages).
    pub padding: [usize; 2],
}

impl AvgPool2d {
    /// Average pooling over `kernel_size` windows, stride = kernel size.
    pub fn new(kernel_size: impl IntoPair) -> AvgPool2d {
        let k = kernel_size.into_pair();
        AvgPool2d { kernel_size: k, stride: k, padding: [0, 0] }
    }

    /// Sets the stride.
    pub fn stride(mut self, stride: impl IntoPair) -> AvgPool2d {
        self.stride = stride.into_pair();
        self
    }

    /// Sets the padding.
    pub fn padding(mut self, padding: impl IntoPair) -> AvgPool2d {
        self.padding = padding.into_pair();
        self
    }
}

impl Module for AvgPool2d {
    #[track_caller]
    fn forward(&self, x: &Tensor) -> Tensor {
        F::avg_pool2d(x, self.kernel_size, self.stride, self.padding)
    }

    fn extra_repr(&self) -> String {
        format!(
            "kernel_size={}, stride={}, padding={}",
            size_repr(self.kernel_size),
            size_repr(self.stride),
            size_repr(self.padding)
        )
    }
}

/// Average pooling to a fixed output size whatever the input's (PyTorch's
/// `nn.AdaptiveAvgPool2d`): output cell `i` averages input rows
/// `floor(i·H/oh) .. ceil((i+1)·H/oh)`, and likewise for columns.
///
/// ```
/// use nabla_autograd::Tensor;
/// use nabla_nn::nn::{AdaptiveAvgPool2d, Module};
/// let gap = AdaptiveAvgPool2d::new(1);
/// assert_eq!(gap.forward(&Tensor::ones(&[2, 8, 7, 7])).shape(), &[2, 8, 1, 1]);
/// assert_eq!(AdaptiveAvgPool2d::new([3, 2]).to_string(), "AdaptiveAvgPool2d(output_size=(3, 2))");
/// ```
#[derive(Clone, Copy)]
pub struct AdaptiveAvgPool2d {
    /// `[oh, ow]`.
    pub output_size: [usize; 2],
}

impl AdaptiveAvgPool2d {
    /// Pools to `output_size`.
    pub fn new(output_size: impl IntoPair) -> AdaptiveAvgPool2d {
        AdaptiveAvgPool2d { output_size: output_size.into_pair() }
    }
}

impl Module for AdaptiveAvgPool2d {
    #[track_caller]
    fn forward(&self, x: &Tensor) -> Tensor {
        F::adaptive_avg_pool2d(x, self.output_size)
    }

    fn extra_repr(&self) -> String {
        format!("output_size={}", size_repr(self.output_size))
    }
}

display_as_module!(MaxPool2d, AvgPool2d, AdaptiveAvgPool2d);
