//! The one error type of the engine.
//!
//! Each variant is a *situation* a user can get into, and carries what is needed to say
//! what went wrong, where (the op), with which shapes, and how to fix it. The `Display`
//! text follows PyTorch's wording where PyTorch has a message users already know.

use std::fmt;

/// Shorthand for `Result<T, nabla::Error>`.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in nabla.
///
/// ```
/// use nabla_tensor::Error;
/// let e = Error::MatmulShape { op: "matmul", lhs: vec![2, 3], rhs: vec![4, 5] };
/// assert!(e.to_string().contains("mat1 and mat2 shapes cannot be multiplied (2x3 and 4x5)"));
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Error {
    /// Two shapes cannot be broadcast together.
    Broadcast {
        /// The op that was called.
        op: &'static str,
        /// Shape of the first operand.
        lhs: Vec<usize>,
        /// Shape of the second operand.
        rhs: Vec<usize>,
        /// The (right-aligned, in the output) dimension where they disagree.
        dim: usize,
    },
    /// The inner dimensions of a matrix product disagree.
    MatmulShape {
        /// The op that was called.
        op: &'static str,
        /// Shape of the left operand.
        lhs: Vec<usize>,
        /// Shape of the right operand.
        rhs: Vec<usize>,
    },
    /// A dimension index is outside `[-ndim, ndim - 1]`.
    DimOutOfRange {
        /// The op that was called.
        op: &'static str,
        /// The dimension that was given.
        dim: i64,
        /// The number of dimensions of the tensor.
        ndim: usize,
    },
    /// An index (into a dimension, not a dimension itself) is out of range.
    IndexOutOfRange {
        /// The op that was called.
        op: &'static str,
        /// The index that was given.
        index: i64,
        /// The dimension indexed.
        dim: usize,
        /// The size of that dimension.
        size: usize,
    },
    /// A shape does not satisfy an op's rule (rank, channels, sizes, …).
    Shape {
        /// The op that was called.
        op: &'static str,
        /// What is wrong, naming the shapes involved.
        msg: String,
        /// How to fix it.
        hint: String,
    },
    /// An argument has the wrong dtype.
    DType {
        /// The op that was called.
        op: &'static str,
        /// What is wrong.
        msg: String,
    },
    /// An argument's value is invalid (a probability outside [0, 1], a zero batch size, …).
    InvalidArgument {
        /// The op or function that was called.
        op: &'static str,
        /// What is wrong and how to fix it.
        msg: String,
    },
    /// Misuse of the autograd engine (second backward, non-scalar backward, …).
    Autograd {
        /// PyTorch-style explanation with a hint.
        msg: String,
    },
    /// A tensor saved for backward was modified in place after it was saved.
    InplaceModified {
        /// The backward node that needed the tensor.
        node: &'static str,
        /// Shape of the modified tensor.
        shape: Vec<usize>,
        /// Its version now.
        version: u64,
        /// The version it had when it was saved.
        expected: u64,
    },
    /// Anomaly mode found a NaN or an infinity.
    Anomaly {
        /// What produced it and where it was created.
        msg: String,
    },
    /// An I/O error reading or writing a file.
    Io {
        /// The file.
        path: String,
        /// The operating system's message.
        msg: String,
    },
    /// A file's content is not what it should be (bad magic, truncated, corrupt header, …).
    InvalidFile {
        /// The file.
        path: String,
        /// What was wrong.
        reason: String,
    },
    /// `load_state_dict` found missing, unexpected or mis-shaped keys.
    StateDict {
        /// `for <Module>:`, then every problem found, each on its own line after a tab
        /// (PyTorch's layout: "Error(s) in loading state_dict for Linear:\n\tMissing …").
        msg: String,
    },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Broadcast { op, lhs, rhs, dim } => {
                let (a, b) = broadcast_sizes(lhs, rhs, *dim);
                write!(
                    f,
                    "{op}: The size of tensor a ({a}) must match the size of tensor b ({b}) at \
                     non-singleton dimension {dim} (shapes {lhs:?} and {rhs:?}); \
                     hint: sizes must be equal or one of them 1, compared from the last dimension"
                )
            }
            Error::MatmulShape { op, lhs, rhs } => write!(
                f,
                "{op}: mat1 and mat2 shapes cannot be multiplied ({}x{} and {}x{}) \
                 (full shapes {lhs:?} and {rhs:?}); hint: the last dimension of the first \
                 operand must equal the second-to-last of the second, transpose one of them?",
                lhs.iter().rev().nth(1).copied().unwrap_or(1),
                lhs.last().copied().unwrap_or(1),
                if rhs.len() >= 2 { rhs[rhs.len() - 2] } else { rhs.first().copied().unwrap_or(1) },
                if rhs.len() >= 2 { rhs[rhs.len() - 1] } else { 1 },
            ),
            Error::DimOutOfRange { op, dim, ndim } => {
                let n = (*ndim).max(1) as i64;
                write!(
                    f,
                    "{op}: Dimension out of range (expected to be in range of [{}, {}], but got {dim}) \
                     for a tensor with {ndim} dimension{}",
                    -n,
                    n - 1,
                    if *ndim == 1 { "" } else { "s" }
                )
            }
            Error::IndexOutOfRange { op, index, dim, size } => {
                write!(f, "{op}: index {index} is out of bounds for dimension {dim} with size {size}")
            }
            Error::Shape { op, msg, hint } => {
                if hint.is_empty() {
                    write!(f, "{op}: {msg}")
                } else {
                    write!(f, "{op}: {msg}; hint: {hint}")
                }
            }
            Error::DType { op, msg } => write!(f, "{op}: {msg}"),
            Error::InvalidArgument { op, msg } => write!(f, "{op}: {msg}"),
            Error::Autograd { msg } => write!(f, "{msg}"),
            Error::InplaceModified { node, shape, version, expected } => write!(
                f,
                "one of the variables needed for gradient computation has been modified by an \
                 inplace operation: [tensor of shape {shape:?}], which is output 0 of {node}, \
                 is at version {version}; expected version {expected} instead. Hint: clone() the \
                 tensor before modifying it in place, or use the out-of-place op."
            ),
            Error::Anomaly { msg } => write!(f, "{msg}"),
            Error::Io { path, msg } => write!(f, "{path}: {msg}"),
            Error::InvalidFile { path, reason } => write!(f, "{path}: {reason}"),
            Error::StateDict { msg } => write!(f, "Error(s) in loading state_dict {msg}"),
        }
    }
}

impl std::error::Error for Error {}

/// The sizes of the two operands at output dimension `dim` (right-aligned broadcasting).
fn broadcast_sizes(lhs: &[usize], rhs: &[usize], dim: usize) -> (usize, usize) {
    let n = lhs.len().max(rhs.len());
    let at = |s: &[usize]| {
        let pad = n - s.len();
        if dim >= pad {
            s[dim - pad]
        } else {
            1
        }
    };
    (at(lhs), at(rhs))
}

impl Error {
    /// An I/O error on `path`.
    ///
    /// ```
    /// let e = nabla_tensor::Error::io("model.safetensors", &std::io::Error::other("disk full"));
    /// assert_eq!(e.to_string(), "model.safetensors: disk full");
    /// ```
    pub fn io(path: impl AsRef<std::path::Path>, err: &std::io::Error) -> Error {
        Error::Io { path: path.as_ref().display().to_string(), msg: err.to_string() }
    }

    /// A corrupt or unexpected file.
    ///
    /// ```
    /// let e = nabla_tensor::Error::invalid_file("t10k-labels-idx1-ubyte", "bad magic 17, expected 2049");
    /// assert!(e.to_string().contains("bad magic"));
    /// ```
    pub fn invalid_file(path: impl AsRef<std::path::Path>, reason: impl Into<String>) -> Error {
        Error::InvalidFile { path: path.as_ref().display().to_string(), reason: reason.into() }
    }

    /// A shape rule broken by `op`.
    ///
    /// ```
    /// let e = nabla_tensor::Error::shape("conv2d", "expected a 4-D input, got [3, 28, 28]", "add a batch dimension with unsqueeze(0)");
    /// assert_eq!(e.to_string(), "conv2d: expected a 4-D input, got [3, 28, 28]; hint: add a batch dimension with unsqueeze(0)");
    /// ```
    pub fn shape(op: &'static str, msg: impl Into<String>, hint: impl Into<String>) -> Error {
        Error::Shape { op, msg: msg.into(), hint: hint.into() }
    }

    /// An invalid argument value given to `op`.
    ///
    /// ```
    /// let e = nabla_tensor::Error::invalid_argument("DataLoader", "batch_size must be at least 1, got 0");
    /// assert_eq!(e.to_string(), "DataLoader: batch_size must be at least 1, got 0");
    /// ```
    pub fn invalid_argument(op: &'static str, msg: impl Into<String>) -> Error {
        Error::InvalidArgument { op, msg: msg.into() }
    }
}
