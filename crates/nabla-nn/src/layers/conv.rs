//! [`Conv1d`] and [`Conv2d`]: learned convolutions, forwarding to the differentiable
//! `conv1d` / `conv2d` ops.

use crate::display::{display_as_module, py_tuple};
use crate::init::reset_linear_like;
use crate::module::Module;
use nabla_autograd::{functional as F, DType, Error, Tensor};

/// A size given for both spatial dimensions (`3`) or for each (`[3, 5]`, `(3, 5)`).
pub trait IntoPair {
    /// `[height, width]`.
    fn into_pair(self) -> [usize; 2];
}

impl IntoPair for usize {
    fn into_pair(self) -> [usize; 2] {
        [self, self]
    }
}

impl IntoPair for [usize; 2] {
    fn into_pair(self) -> [usize; 2] {
        self
    }
}

impl IntoPair for (usize, usize) {
    fn into_pair(self) -> [usize; 2] {
        [self.0, self.1]
    }
}

#[track_caller]
fn check_groups(op: &'static str, in_channels: usize, out_channels: usize, groups: usize) {
    let why = if groups == 0 {
        Some("groups must be a positive integer".to_string())
    } else if !in_channels.is_multiple_of(groups) {
        Some(format!("in_channels must be divisible by groups (in_channels {in_channels}, groups {groups})"))
    } else if !out_channels.is_multiple_of(groups) {
        Some(format!("out_channels must be divisible by groups (out_channels {out_channels}, groups {groups})"))
    } else {
        None
    };
    if let Some(msg) = why {
        panic!("{}", Error::invalid_argument(op, msg));
    }
}

/// A 2-D convolution layer (PyTorch's `nn.Conv2d`): input `[N, C_in, H, W]`, weight
/// `[C_out, C_in / groups, kh, kw]`, bias `[C_out]`; stride 1, no padding, dilation 1,
/// one group, a bias, unless set by the builder methods.
///
/// Initialized as PyTorch does: `W ~ U(±1/√fan_in)` (Kaiming uniform with `a = √5`) and
/// `b ~ U(±1/√fan_in)`, `fan_in = C_in / groups · kh · kw`.
///
/// ```
/// use nabla_autograd::Tensor;
/// use nabla_nn::nn::{Conv2d, Module};
/// let conv = Conv2d::new(1, 32, 3).padding(1);
/// assert_eq!(conv.forward(&Tensor::zeros(&[8, 1, 28, 28])).shape(), &[8, 32, 28, 28]);
/// assert_eq!(conv.weight.shape(), &[32, 1, 3, 3]);
/// assert_eq!(conv.to_string(), "Conv2d(1, 32, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1))");
/// let grouped = Conv2d::new(4, 8, [3, 5]).stride(2).dilation(2).groups(2).bias(false);
/// assert_eq!(grouped.weight.shape(), &[8, 2, 3, 5]);
/// ```
pub struct Conv2d {
    /// `[C_out, C_in / groups, kh, kw]`.
    pub weight: Tensor,
    /// `[C_out]`, if the layer has a bias.
    pub bias: Option<Tensor>,
    /// Input channels.
    pub in_channels: usize,
    /// Output channels.
    pub out_channels: usize,
    /// `[kh, kw]`.
    pub kernel_size: [usize; 2],
    /// Step between windows, `[sh, sw]`.
    pub stride: [usize; 2],
    /// Zeros added on both sides, `[ph, pw]`.
    pub padding: [usize; 2],
    /// Spacing between kernel taps, `[dh, dw]`.
    pub dilation: [usize; 2],
    /// Channel groups convolved separately.
    pub groups: usize,
}

impl Conv2d {
    /// A float32 convolution from `in_channels` to `out_channels` with the given kernel size.
    #[track_caller]
    pub fn new(in_channels: usize, out_channels: usize, kernel_size: impl IntoPair) -> Conv2d {
        Conv2d::new_with(in_channels, out_channels, kernel_size, DType::F32)
    }

    /// A convolution whose parameters have the given dtype.
    #[track_caller]
    pub fn new_with(in_channels: usize, out_channels: usize, kernel_size: impl IntoPair, dtype: DType) -> Conv2d {
        let kernel_size = kernel_size.into_pair();
        let weight = Tensor::zeros_with(&[out_channels, in_channels, kernel_size[0], kernel_size[1]], dtype);
        let mut c = Conv2d {
            weight,
            bias: Some(Tensor::zeros_with(&[out_channels], dtype)),
            in_channels,
            out_channels,
            kernel_size,
            stride: [1, 1],
            padding: [0, 0],
            dilation: [1, 1],
            groups: 1,
        };
        c.reset_parameters();
        c
    }

    /// Re-draws the weight and bias with PyTorch's default initialization.
    pub fn reset_parameters(&mut self) {
        let [kh, kw] = self.kernel_size;
        let dtype = self.weight.dtype();
        self.weight = Tensor::zeros_with(&[self.out_channels, self.in_channels / self.groups, kh, kw], dtype)
            .requires_grad_(true);
        if self.bias.is_some() {
            self.bias = Some(Tensor::zeros_with(&[self.out_channels], dtype).requires_grad_(true));
        }
        reset_linear_like(&self.weight, self.bias.as_ref());
    }

    /// Sets the stride.
    pub fn stride(mut self, stride: impl IntoPair) -> Conv2d {
        self.stride = stride.into_pair();
        self
    }

    /// Sets the zero padding.
    pub fn padding(mut self, padding: impl IntoPair) -> Conv2d {
        self.padding = padding.into_pair();
        self
    }

    /// Sets the dilation.
    pub fn dilation(mut self, dilation: impl IntoPair) -> Conv2d {
        self.dilation = dilation.into_pair();
        self
    }

    /// Splits the channels into `groups` convolved separately; re-draws the parameters
    /// (the weight becomes `[C_out, C_in / groups, kh, kw]`).
    ///
    /// # Panics
    /// If `groups` does not divide both channel counts.
    #[track_caller]
    pub fn groups(mut self, groups: usize) -> Conv2d {
        check_groups("Conv2d", self.in_channels, self.out_channels, groups);
        self.groups = groups;
        self.reset_parameters();
        self
    }

    /// With (`true`, the default) or without a bias.
    pub fn bias(mut self, bias: bool) -> Conv2d {
        if !bias {
            self.bias = None;
        } else if self.bias.is_none() {
            let b = Tensor::zeros_with(&[self.out_channels], self.weight.dtype()).requires_grad_(true);
            crate::init::reset_bias_like(&self.weight, &b);
            self.bias = Some(b);
        }
        self
    }
}

impl Module for Conv2d {
    #[track_caller]
    fn forward(&self, x: &Tensor) -> Tensor {
        F::conv2d(x, &self.weight, self.bias.as_ref(), self.stride, self.padding, self.dilation, self.groups)
    }

    fn local_parameters(&self) -> Vec<(String, Tensor)> {
        let mut v = vec![("weight".to_string(), self.weight.clone())];
        if let Some(b) = &self.bias {
            v.push(("bias".to_string(), b.clone()));
        }
        v
    }

    fn extra_repr(&self) -> String {
        conv_repr(
            self.in_channels,
            self.out_channels,
            &self.kernel_size,
            &self.stride,
            &self.padding,
            &self.dilation,
            self.groups,
            self.bias.is_some(),
        )
    }
}

/// PyTorch's `_ConvNd.extra_repr`: padding, dilation, groups and bias only when not default.
#[allow(clippy::too_many_arguments)]
fn conv_repr(
    cin: usize,
    cout: usize,
    kernel: &[usize],
    stride: &[usize],
    padding: &[usize],
    dilation: &[usize],
    groups: usize,
    bias: bool,
) -> String {
    let mut s = format!("{cin}, {cout}, kernel_size={}, stride={}", py_tuple(kernel), py_tuple(stride));
    if padding.iter().any(|&p| p != 0) {
        s += &format!(", padding={}", py_tuple(padding));
    }
    if dilation.iter().any(|&d| d != 1) {
        s += &format!(", dilation={}", py_tuple(dilation));
    }
    if groups != 1 {
        s += &format!(", groups={groups}");
    }
    if !bias {
        s += ", bias=False";
    }
    s
}

/// A 1-D convolution layer (PyTorch's `nn.Conv1d`): input `[N, C_in, L]`, weight
/// `[C_out, C_in / groups, k]`, bias `[C_out]`; initialized as [`Conv2d`].
///
/// ```
/// use nabla_autograd::Tensor;
/// use nabla_nn::nn::{Conv1d, Module};
/// let conv = Conv1d::new(4, 6, 3).padding(1).groups(2);
/// assert_eq!(conv.forward(&Tensor::zeros(&[2, 4, 10])).shape(), &[2, 6, 10]);
/// assert_eq!(conv.weight.shape(), &[6, 2, 3]);
/// assert_eq!(conv.to_string(), "Conv1d(4, 6, kernel_size=(3,), stride=(1,), padding=(1,), groups=2)");
/// ```
pub struct Conv1d {
    /// `[C_out, C_in / groups, k]`.
    pub weight: Tensor,
    /// `[C_out]`, if the layer has a bias.
    pub bias: Option<Tensor>,
    /// Input channels.
    pub in_channels: usize,
    /// Output channels.
    pub out_channels: usize,
    /// Kernel length.
    pub kernel_size: usize,
    /// Step between windows.
    pub stride: usize,
    /// Zeros added on both sides.
    pub padding: usize,
    /// Spacing between kernel taps.
    pub dilation: usize,
    /// Channel groups convolved separately.
    pub groups: usize,
}

impl Conv1d {
    /// A float32 1-D convolution.
    pub fn new(in_channels: usize, out_channels: usize, kernel_size: usize) -> Conv1d {
        Conv1d::new_with(in_channels, out_channels, kernel_size, DType::F32)
    }

    /// A 1-D convolution whose parameters have the given dtype.
    pub fn new_with(in_channels: usize, out_channels: usize, kernel_size: usize, dtype: DType) -> Conv1d {
        let mut c = Conv1d {
            weight: Tensor::zeros_with(&[out_channels, in_channels, kernel_size], dtype),
            bias: Some(Tensor::zeros_with(&[out_channels], dtype)),
            in_channels,
            out_channels,
            kernel_size,
            stride: 1,
            padding: 0,
            dilation: 1,
            groups: 1,
        };
        c.reset_parameters();
        c
    }

    /// Re-draws the weight and bias with PyTorch's default initialization.
    pub fn reset_parameters(&mut self) {
        let dtype = self.weight.dtype();
        self.weight = Tensor::zeros_with(&[self.out_channels, self.in_channels / self.groups, self.kernel_size], dtype)
            .requires_grad_(true);
        if self.bias.is_some() {
            self.bias = Some(Tensor::zeros_with(&[self.out_channels], dtype).requires_grad_(true));
        }
        reset_linear_like(&self.weight, self.bias.as_ref());
    }

    /// Sets the stride.
    pub fn stride(mut self, stride: usize) -> Conv1d {
        self.stride = stride;
        self
    }

    /// Sets the zero padding.
    pub fn padding(mut self, padding: usize) -> Conv1d {
        self.padding = padding;
        self
    }

    /// Sets the dilation.
    pub fn dilation(mut self, dilation: usize) -> Conv1d {
        self.dilation = dilation;
        self
    }

    /// Splits the channels into `groups`; re-draws the parameters.
    ///
    /// # Panics
    /// If `groups` does not divide both channel counts.
    #[track_caller]
    pub fn groups(mut self, groups: usize) -> Conv1d {
        check_groups("Conv1d", self.in_channels, self.out_channels, groups);
        self.groups = groups;
        self.reset_parameters();
        self
    }

    /// With (`true`, the default) or without a bias.
    pub fn bias(mut self, bias: bool) -> Conv1d {
        if !bias {
            self.bias = None;
        } else if self.bias.is_none() {
            let b = Tensor::zeros_with(&[self.out_channels], self.weight.dtype()).requires_grad_(true);
            crate::init::reset_bias_like(&self.weight, &b);
            self.bias = Some(b);
        }
        self
    }
}

impl Module for Conv1d {
    #[track_caller]
    fn forward(&self, x: &Tensor) -> Tensor {
        F::conv1d(x, &self.weight, self.bias.as_ref(), self.stride, self.padding, self.dilation, self.groups)
    }

    fn local_parameters(&self) -> Vec<(String, Tensor)> {
        let mut v = vec![("weight".to_string(), self.weight.clone())];
        if let Some(b) = &self.bias {
            v.push(("bias".to_string(), b.clone()));
        }
        v
    }

    fn extra_repr(&self) -> String {
        conv_repr(
            self.in_channels,
            self.out_channels,
            &[self.kernel_size],
            &[self.stride],
            &[self.padding],
            &[self.dilation],
            self.groups,
            self.bias.is_some(),
        )
    }
}

display_as_module!(Conv1d, Conv2d);
