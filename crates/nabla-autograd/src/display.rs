//! `Display` and `Debug` like PyTorch's `print(tensor)`.

use crate::tensor::Tensor;
use nabla_tensor::DType;
use std::fmt;

const SUMMARIZE_ABOVE: usize = 1000;
const EDGE: usize = 3;

struct Fmt {
    ints: bool,
    sci: bool,
    dtype: DType,
    width: usize,
}

impl Fmt {
    fn new(vals: &[f64], dtype: DType) -> Fmt {
        let finite: Vec<f64> = vals.iter().copied().filter(|v| v.is_finite()).collect();
        let ints = dtype.is_float() && finite.iter().all(|v| v.fract() == 0.0);
        let max = finite.iter().fold(0.0f64, |a, v| a.max(v.abs()));
        let min_nz = finite.iter().filter(|v| **v != 0.0).fold(f64::INFINITY, |a, v| a.min(v.abs()));
        let sci = dtype.is_float()
            && (max >= 1e8
                || (min_nz < 1e-4 && min_nz.is_finite())
                || (!ints && max / min_nz.min(max.max(1e-300)) > 1e3 && max >= 1e4));
        let mut f = Fmt { ints, sci, dtype, width: 0 };
        f.width = vals.iter().map(|&v| f.one(v).len()).max().unwrap_or(0);
        f
    }

    fn one(&self, v: f64) -> String {
        match self.dtype {
            DType::Bool => (if v != 0.0 { "True" } else { "False" }).to_string(),
            DType::I64 => format!("{}", v as i64),
            _ if v.is_nan() => "nan".into(),
            _ if v.is_infinite() => (if v > 0.0 { "inf" } else { "-inf" }).into(),
            _ if self.sci => format!("{v:.4e}").replace('e', "e+").replace("e+-", "e-"),
            _ if self.ints => format!("{v:.0}."),
            _ => format!("{v:.4}"),
        }
    }
}

fn write_dim(out: &mut String, vals: &[f64], shape: &[usize], f: &Fmt, indent: usize, summarize: bool) {
    if shape.is_empty() {
        out.push_str(&format!("{:>w$}", f.one(vals[0]), w = f.width));
        return;
    }
    let n = shape[0];
    let inner: usize = shape[1..].iter().product();
    let idx: Vec<Option<usize>> = if summarize && n > 2 * EDGE {
        (0..EDGE).map(Some).chain(std::iter::once(None)).chain((n - EDGE..n).map(Some)).collect()
    } else {
        (0..n).map(Some).collect()
    };
    out.push('[');
    for (k, i) in idx.iter().enumerate() {
        if k > 0 {
            out.push(',');
            if shape.len() == 1 {
                out.push(' ');
            } else {
                out.push_str(&"\n".repeat(shape.len() - 1));
                out.push_str(&" ".repeat(indent + 1));
            }
        }
        match i {
            Some(i) => write_dim(out, &vals[i * inner..(i + 1) * inner], &shape[1..], f, indent + 1, summarize),
            None => out.push_str("..."),
        }
    }
    out.push(']');
}

impl fmt::Display for Tensor {
    fn fmt(&self, fm: &mut fmt::Formatter<'_>) -> fmt::Result {
        let vals = self.to_vec::<f64>();
        let summarize = vals.len() > SUMMARIZE_ABOVE;
        let f = Fmt::new(&vals, self.dtype());
        let mut s = String::from("tensor(");
        if self.numel() == 0 {
            s.push_str("[]");
        } else {
            write_dim(&mut s, &vals, self.shape(), &f, 7, summarize);
        }
        if self.numel() == 0 && self.dims() > 1 {
            s.push_str(&format!(", size={:?}", self.shape()));
        }
        if self.dtype() == DType::F64 {
            s.push_str(", dtype=float64");
        } else if self.dtype() == DType::Bool && self.numel() == 0 {
            s.push_str(", dtype=bool");
        }
        if let Some(g) = self.grad_fn() {
            s.push_str(&format!(", grad_fn=<{}>", g.name()));
        } else if self.requires_grad() {
            s.push_str(", requires_grad=True");
        }
        s.push(')');
        fm.write_str(&s)
    }
}

impl fmt::Debug for Tensor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

#[cfg(test)]
mod tests {
    use crate::Tensor;

    #[test]
    fn prints_like_pytorch() {
        let x = Tensor::from_vec(vec![1.0f32, 2.5], &[1, 2]).requires_grad_(true);
        assert_eq!(x.to_string(), "tensor([[1.0000, 2.5000]], requires_grad=True)");
        let y = &x * 2.0;
        assert_eq!(y.to_string(), "tensor([[2., 5.]], grad_fn=<MulBackward>)");
        let m = Tensor::from_vec(vec![1.0f64, 2.0, 3.0, 4.0], &[2, 2]);
        assert_eq!(m.to_string(), "tensor([[1., 2.],\n        [3., 4.]], dtype=float64)");
        assert_eq!(Tensor::from_vec(vec![3i64, -1], &[2]).to_string(), "tensor([ 3, -1])");
        assert_eq!(Tensor::from_vec(vec![true, false], &[2]).to_string(), "tensor([ True, False])");
    }
}
