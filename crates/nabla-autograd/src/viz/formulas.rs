//! The chain rule's local factors, one table keyed by backward node name: what each op
//! computes (`a · b`) and the derivative of its output with respect to each input
//! (`∂(a·b)/∂a = b`). Inputs are called `a`, `b`, … in argument order; `c` in a
//! one-input op is the scalar constant (`x * 2.0` is `a · c`).

use super::model::Model;

/// How a local derivative relates an input's gradient to the output's.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Kind {
    /// Element by element (after undoing broadcasting): `grad_in = grad_out ⊙ local`.
    Elementwise,
    /// Moves or copies gradient entries without scaling (reshape, expand, sum).
    Structural,
    /// Mixes entries (matmul, softmax, permutations, custom rules): no per-element factor.
    Mixing,
}

pub(crate) struct Rule {
    pub(crate) formula: String,
    pub(crate) kind: Kind,
    /// The local derivative when it is the same constant everywhere (`∂(a+b)/∂a = 1`).
    pub(crate) constant: Option<f64>,
}

struct Entry {
    forward: &'static str,
    locals: &'static [(&'static str, Option<f64>)],
    kind: Kind,
}

fn entry(name: &str, arity: usize) -> Option<Entry> {
    use Kind::*;
    let e = |forward, locals, kind| Some(Entry { forward, locals, kind });
    match (name, arity) {
        ("AddBackward", 2) => {
            e("{0} + {1}", &[("∂(a+b)/∂a = 1", Some(1.0)), ("∂(a+b)/∂b = 1", Some(1.0))], Elementwise)
        }
        ("AddBackward", 1) => e("{0} + c", &[("∂(a+c)/∂a = 1", Some(1.0))], Elementwise),
        ("SubBackward", 2) => {
            e("{0} − {1}", &[("∂(a−b)/∂a = 1", Some(1.0)), ("∂(a−b)/∂b = −1", Some(-1.0))], Elementwise)
        }
        ("RsubBackward", 1) => e("c − {0}", &[("∂(c−a)/∂a = −1", Some(-1.0))], Elementwise),
        ("MulBackward", 2) => e("{0} · {1}", &[("∂(a·b)/∂a = b", None), ("∂(a·b)/∂b = a", None)], Elementwise),
        ("MulBackward", 1) => e("{0} · c", &[("∂(a·c)/∂a = c", None)], Elementwise),
        ("DivBackward", 2) => e("{0} / {1}", &[("∂(a/b)/∂a = 1/b", None), ("∂(a/b)/∂b = −a/b²", None)], Elementwise),
        ("RdivBackward", 1) => e("c / {0}", &[("∂(c/a)/∂a = −c/a²", None)], Elementwise),
        ("PowBackward", 2) => e("{0}^{1}", &[("∂(aᵇ)/∂a = b·aᵇ⁻¹", None), ("∂(aᵇ)/∂b = aᵇ·ln a", None)], Elementwise),
        ("PowBackward", 1) => e("{0}^c", &[("∂(aᶜ)/∂a = c·aᶜ⁻¹", None)], Elementwise),
        ("ExpBackward", 1) => e("exp({0})", &[("∂exp(a)/∂a = exp(a)", None)], Elementwise),
        ("LogBackward", 1) => e("log({0})", &[("∂log(a)/∂a = 1/a", None)], Elementwise),
        ("SqrtBackward", 1) => e("sqrt({0})", &[("∂√a/∂a = 1/(2√a)", None)], Elementwise),
        ("AbsBackward", 1) => e("|{0}|", &[("∂|a|/∂a = sign(a)", None)], Elementwise),
        ("SinBackward", 1) => e("sin({0})", &[("∂sin(a)/∂a = cos(a)", None)], Elementwise),
        ("CosBackward", 1) => e("cos({0})", &[("∂cos(a)/∂a = −sin(a)", None)], Elementwise),
        ("TanhBackward", 1) => e("tanh({0})", &[("∂tanh(a)/∂a = 1 − tanh²(a)", None)], Elementwise),
        ("SigmoidBackward", 1) => e("σ({0})", &[("∂σ(a)/∂a = σ(a)·(1 − σ(a))", None)], Elementwise),
        ("ReluBackward", 1) => e("relu({0})", &[("∂relu(a)/∂a = 1 if a > 0 else 0", None)], Elementwise),
        ("ClampBackward", 1) => e("clamp({0})", &[("∂clamp(a)/∂a = 1 inside the bounds else 0", None)], Elementwise),
        ("MaximumBackward", 2) => e(
            "maximum({0}, {1})",
            &[("∂max(a,b)/∂a = 1 where a > b (½ on ties)", None), ("∂max(a,b)/∂b = 1 where b > a (½ on ties)", None)],
            Elementwise,
        ),
        ("MinimumBackward", 2) => e(
            "minimum({0}, {1})",
            &[("∂min(a,b)/∂a = 1 where a < b (½ on ties)", None), ("∂min(a,b)/∂b = 1 where b < a (½ on ties)", None)],
            Elementwise,
        ),
        ("WhereBackward", 2) => e(
            "where(mask, {0}, {1})",
            &[("∂/∂a = 1 where mask else 0", None), ("∂/∂b = 0 where mask else 1", None)],
            Elementwise,
        ),
        ("ToCopyBackward", 1) => {
            e("{0}.to_dtype(..)", &[("∂a/∂a = 1 (cast back to a's dtype)", Some(1.0))], Elementwise)
        }
        ("CloneBackward", 1) => e("{0}.clone()", &[("∂a/∂a = 1", Some(1.0))], Elementwise),
        ("SumBackward", 1) => {
            e("sum({0})", &[("∂sum(a)/∂aᵢ = 1: the gradient is copied to every element", Some(1.0))], Structural)
        }
        ("MeanBackward", 1) => e("mean({0})", &[("∂mean(a)/∂aᵢ = 1/n", None)], Structural),
        ("SumToBackward", 1) => {
            e("sum_to({0})", &[("the gradient is expanded back to a's shape", Some(1.0))], Structural)
        }
        ("ViewBackward", 1) => {
            e("{0}.reshape(..)", &[("reshape: the gradient is reshaped back to a's shape", Some(1.0))], Structural)
        }
        ("ExpandBackward", 1) => e(
            "{0}.expand(..)",
            &[("expand: the gradient is summed over the expanded dimensions", Some(1.0))],
            Structural,
        ),
        ("PermuteBackward", 1) => e("{0}.permute(..)", &[("permute: the gradient is permuted back", None)], Mixing),
        ("SliceBackward", 1) => {
            e("{0}[..]", &[("slice: the gradient is put back into zeros of a's shape", None)], Mixing)
        }
        ("SliceScatterBackward", 1) => e("pad({0})", &[("the gradient is sliced again", None)], Mixing),
        ("MaxBackward", 1) => e("max({0})", &[("∂max(a)/∂aᵢ = 1 at the maximum else 0", None)], Mixing),
        ("SoftmaxBackward", 1) => e("softmax({0})", &[("∂softmax: g_a = y ⊙ (g − Σ g⊙y)", None)], Mixing),
        ("LogSoftmaxBackward", 1) => e("log_softmax({0})", &[("∂log_softmax: g_a = g − softmax(a)·Σg", None)], Mixing),
        ("LogsumexpBackward", 1) => e("logsumexp({0})", &[("∂logsumexp(a)/∂aᵢ = softmax(a)ᵢ", None)], Mixing),
        ("MmBackward", 2) => e("{0} @ {1}", &[("dA = dC·Bᵀ", None), ("dB = Aᵀ·dC", None)], Mixing),
        ("AddmmBackward", 3) => e(
            "{0} @ {1}ᵀ + {2}",
            &[("dx = dy·W", None), ("dW = dyᵀ·x", None), ("db = Σ_rows dy (b was broadcast over rows)", None)],
            Mixing,
        ),
        // activations
        ("LeakyReluBackward", 1) => e("leaky_relu({0})", &[("∂/∂a = 1 if a > 0 else slope", None)], Elementwise),
        ("EluBackward", 1) => e("elu({0})", &[("∂/∂a = 1 if a > 0 else α·eᵃ", None)], Elementwise),
        ("GeluBackward", 1) => e("gelu({0})", &[("∂gelu(a)/∂a = Φ(a) + a·φ(a)", None)], Elementwise),
        ("SiluBackward", 1) => e("silu({0})", &[("∂(a·σ(a))/∂a = σ(a)·(1 + a·(1 − σ(a)))", None)], Elementwise),
        ("SoftplusBackward", 1) => e("softplus({0})", &[("∂softplus(a)/∂a = σ(a)", None)], Elementwise),
        ("HardtanhBackward", 1) => e("hardtanh({0})", &[("∂/∂a = 1 inside [min, max] else 0", None)], Elementwise),
        ("NativeDropoutBackward", 1) => {
            e("dropout({0})", &[("∂/∂a = mask/(1 − p): 0 where dropped", None)], Elementwise)
        }
        // convolution and pooling
        ("ConvolutionBackward", 2 | 3) => e(
            "conv({0}, {1}, …)",
            &[
                ("∂L/∂x = conv_transpose(ḡ, w)", None),
                ("∂L/∂w = Σₙ x ⋆ ḡ (the input correlated with the gradient)", None),
                ("∂L/∂b = ḡ summed over batch and positions", None),
            ],
            Mixing,
        ),
        ("MaxPool2DWithIndicesBackward", 1) => e(
            "max_pool2d({0})",
            &[("1 at each window's maximum else 0: the gradient goes to the winners", None)],
            Mixing,
        ),
        ("AvgPool2DBackward", 1) => e("avg_pool2d({0})", &[("1/k for every element of each window", None)], Mixing),
        ("AdaptiveAvgPool2DBackward", 1) => {
            e("adaptive_avg_pool2d({0})", &[("1/k for every element of each window", None)], Mixing)
        }
        // losses
        ("CrossEntropyLossBackward", 1) => {
            e("cross_entropy({0}, target)", &[("∂CE/∂logits = (softmax(logits) − onehot(target)) / N", None)], Mixing)
        }
        ("NllLossBackward", 1) => {
            e("nll_loss({0}, target)", &[("∂/∂a = −1/N at each target entry else 0", None)], Mixing)
        }
        ("MseLossBackward", 2) => e(
            "mse_loss({0}, {1})",
            &[("∂mean((a−b)²)/∂a = 2(a − b)/N", None), ("∂mean((a−b)²)/∂b = −2(a − b)/N", None)],
            Mixing,
        ),
        // indexing
        ("IndexSelectBackward" | "GatherBackward" | "MaskedSelectBackward", 1) => {
            e("{0}[index]", &[("the gradient is added back at the selected positions", None)], Mixing)
        }
        ("RepeatBackward", 1) => e("{0}.repeat(..)", &[("the gradient is summed over the copies", None)], Mixing),
        _ => None,
    }
}

/// The local derivative of input `i` of an op with `arity` inputs.
pub(crate) fn rule(name: &str, arity: usize, i: usize) -> Rule {
    if name == "CatBackward" {
        return Rule { formula: "cat: this input's slice of the gradient".into(), kind: Kind::Mixing, constant: None };
    }
    match entry(name, arity).and_then(|e| e.locals.get(i).map(|l| (e.kind, *l))) {
        Some((kind, (formula, constant))) => Rule { formula: formula.to_string(), kind, constant },
        None => Rule { formula: format!("given by {name}'s backward rule"), kind: Kind::Mixing, constant: None },
    }
}

/// `v2 = x + y`: what function `j` of the model computed, with the tensors' labels.
pub(crate) fn forward_expr(model: &Model, j: usize) -> String {
    let f = &model.funcs[j];
    let out = &model.tensors[f.output].label;
    if f.is_accumulate() {
        return format!("{out} (leaf)");
    }
    let labels: Vec<String> =
        f.inputs.iter().map(|t| t.map(|t| model.tensors[t].label.clone()).unwrap_or_else(|| "const".into())).collect();
    let rhs = match entry(f.name, labels.len()) {
        Some(e) => labels.iter().enumerate().fold(e.forward.to_string(), |s, (k, l)| s.replace(&format!("{{{k}}}"), l)),
        None if f.name == "CatBackward" => format!("cat([{}])", labels.join(", ")),
        None => format!("{}({})", f.name.trim_end_matches("Backward"), labels.join(", ")),
    };
    format!("{out} = {rhs}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_binary_rule_names_both_inputs() {
        for name in ["AddBackward", "SubBackward", "MulBackward", "DivBackward", "PowBackward", "MmBackward"] {
            let (a, b) = (rule(name, 2, 0), rule(name, 2, 1));
            assert_ne!(a.formula, b.formula, "{name}");
            assert!(!a.formula.starts_with("given by"), "{name}");
        }
        assert_eq!(rule("MulBackward", 2, 0).formula, "∂(a·b)/∂a = b");
        assert_eq!(rule("SubBackward", 2, 1).constant, Some(-1.0));
        assert_eq!(rule("CubeBackward", 1, 0).formula, "given by CubeBackward's backward rule");
    }
}
