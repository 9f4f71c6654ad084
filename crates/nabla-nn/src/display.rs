//! The model tree as PyTorch's `print(model)` shows it.

use crate::module::Module;
use std::fmt;

/// Writes `m` as PyTorch's `repr(module)` does: `Name(extra_repr)` for a leaf, and one
/// indented `(name): child` line per sub-module otherwise.
///
/// Built-in layers implement `Display` with it; a user model can too:
///
/// ```
/// use nabla_autograd::Tensor;
/// use nabla_nn::nn::{fmt_module, Linear, Module};
/// struct Net { fc: Linear }
/// impl Module for Net {
///     fn forward(&self, x: &Tensor) -> Tensor { self.fc.forward(x) }
///     fn named_children(&self) -> Vec<(String, &dyn Module)> { vec![("fc".into(), &self.fc)] }
/// }
/// impl std::fmt::Display for Net {
///     fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result { fmt_module(self, f) }
/// }
/// let net = Net { fc: Linear::new(2, 3) };
/// assert_eq!(net.to_string(), "Net(\n  (fc): Linear(in_features=2, out_features=3, bias=True)\n)");
/// ```
pub fn fmt_module(m: &dyn Module, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    f.write_str(&repr(m))
}

fn repr(m: &dyn Module) -> String {
    let extra = m.extra_repr();
    let extra_lines: Vec<&str> = if extra.is_empty() { Vec::new() } else { extra.split('\n').collect() };
    let children = m.named_children();
    let mut s = format!("{}(", m.type_name());
    if extra_lines.len() == 1 && children.is_empty() {
        s.push_str(extra_lines[0]);
    } else if !extra_lines.is_empty() || !children.is_empty() {
        let mut lines: Vec<String> = extra_lines.iter().map(|l| l.to_string()).collect();
        for (name, child) in children {
            lines.push(format!("({name}): {}", repr(child).replace('\n', "\n  ")));
        }
        s.push_str("\n  ");
        s.push_str(&lines.join("\n  "));
        s.push('\n');
    }
    s.push(')');
    s
}

impl fmt::Display for dyn Module + '_ {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt_module(self, f)
    }
}

impl fmt::Debug for dyn Module + '_ {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt_module(self, f)
    }
}

/// Implements `Display` and `Debug` (both the PyTorch-style tree) for built-in modules.
macro_rules! display_as_module {
    ($($t:ty),* $(,)?) => {$(
        impl std::fmt::Display for $t {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                $crate::display::fmt_module(self, f)
            }
        }
        impl std::fmt::Debug for $t {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                $crate::display::fmt_module(self, f)
            }
        }
    )*};
}
pub(crate) use display_as_module;

/// A float as Python's `repr` writes it (`0.1`, `1e-05`, `1.0`), for `extra_repr`.
pub(crate) fn py_float(x: f64) -> String {
    if x != 0.0 && x.is_finite() && (x.abs() < 1e-4 || x.abs() >= 1e16) {
        let s = format!("{x:e}"); // "1e-5"
        let (mantissa, exp) = s.split_once('e').unwrap_or((&s, "0"));
        let (sign, digits) = match exp.strip_prefix('-') {
            Some(d) => ('-', d),
            None => ('+', exp),
        };
        format!("{mantissa}e{sign}{digits:0>2}")
    } else {
        format!("{x:?}")
    }
}

/// A Python bool (`True`/`False`).
pub(crate) fn py_bool(b: bool) -> &'static str {
    if b {
        "True"
    } else {
        "False"
    }
}

/// A Python tuple of sizes: `(3, 3)`, `(3,)`.
pub(crate) fn py_tuple(v: &[usize]) -> String {
    if v.len() == 1 {
        format!("({},)", v[0])
    } else {
        format!("({})", v.iter().map(|x| x.to_string()).collect::<Vec<_>>().join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_float_repr() {
        assert_eq!(py_float(1e-5), "1e-05");
        assert_eq!(py_float(0.1), "0.1");
        assert_eq!(py_float(1.0), "1.0");
        assert_eq!(py_float(0.01), "0.01");
        assert_eq!(py_float(2.5e-7), "2.5e-07");
        assert_eq!(py_tuple(&[3]), "(3,)");
        assert_eq!(py_tuple(&[3, 3]), "(3, 3)");
    }
}
