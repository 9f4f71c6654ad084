//! The command line: `nabla-cli explain "(x + y) * z" x=-2 y=5 z=-4 [--dot F] [--svg F] [--html F]`.

use crate::expr::{eval, input, parse, parse_value, ExprError};
use nabla::autograd::try_explain;
use nabla::{viz, Tensor};
use std::collections::BTreeMap;
use std::io::Write;

/// Usage text.
pub const USAGE: &str = "\
nabla-cli: see the chain rule of an expression

usage:
  nabla-cli explain EXPR [NAME=VALUE ...] [--dot FILE] [--svg FILE] [--html FILE]
  nabla-cli help

EXPR uses + - * / @ ^ (also − × · ÷ ** ² ³), parentheses, and the functions
exp log sqrt abs sin cos tanh sigmoid (σ) relu sum mean pow(a, b) matmul(a, b).
Values are numbers or matrices: x=-2  W=[[1,2],[3,4]]  b=[0.5,-1]

It prints the forward values, the backward pass narrated node by node, and
∂f/∂input for every input. --dot/--svg/--html write the graph (with gradients).

example:
  nabla-cli explain \"(x + y) * z\" x=-2 y=5 z=-4 --svg f.svg
";

/// Exit status for a bad command line or expression.
pub const EXIT_USAGE: i32 = 2;
/// Exit status for an expression that parses but cannot be evaluated.
pub const EXIT_EVAL: i32 = 1;

struct Args {
    expr: String,
    values: Vec<(String, String)>,
    dot: Option<String>,
    svg: Option<String>,
    html: Option<String>,
}

fn parse_args(args: &[String]) -> Result<Args, String> {
    let mut it = args.iter();
    match it.next().map(String::as_str) {
        Some("explain") => {}
        Some(other) => {
            return Err(format!("unknown command '{other}' (try: nabla-cli explain \"(x + y) * z\" x=-2 y=5 z=-4)"))
        }
        None => return Err("missing command".into()),
    }
    let mut expr = None;
    let mut values = Vec::new();
    let (mut dot, mut svg, mut html) = (None, None, None);
    while let Some(a) = it.next() {
        let slot = match a.as_str() {
            "--dot" => Some(&mut dot),
            "--svg" => Some(&mut svg),
            "--html" => Some(&mut html),
            _ => None,
        };
        if let Some(slot) = slot {
            match it.next() {
                Some(path) => *slot = Some(path.clone()),
                None => return Err(format!("{a} needs a file name")),
            }
            continue;
        }
        if a.starts_with("--") {
            return Err(format!("unknown option '{a}'"));
        }
        if expr.is_none() {
            expr = Some(a.clone());
        } else if let Some((name, value)) = a.split_once('=') {
            let name = name.trim();
            if name.is_empty() || !name.chars().all(|c| c.is_alphanumeric() || c == '_') {
                return Err(format!("'{a}': '{name}' is not a variable name"));
            }
            values.push((name.to_string(), value.to_string()));
        } else {
            return Err(format!("'{a}': expected NAME=VALUE (e.g. x=-2 or W=[[1,2],[3,4]])"));
        }
    }
    let expr = expr.ok_or("missing the expression to explain")?;
    Ok(Args { expr, values, dot, svg, html })
}

/// The source line with a caret under column `col`.
fn pointer(src: &str, e: &ExprError) -> String {
    format!("  {src}\n  {}^", " ".repeat(e.col.saturating_sub(1)))
}

/// Runs the command line `args` (without the program name); returns the exit status.
///
/// ```
/// let args: Vec<String> = ["explain", "x * y", "x=3", "y=-2"].iter().map(|s| s.to_string()).collect();
/// let (mut out, mut err) = (Vec::new(), Vec::new());
/// assert_eq!(nabla_cli::cli::run(&args, &mut out, &mut err), 0);
/// let out = String::from_utf8(out).unwrap();
/// assert!(out.contains("∂f/∂x = -2") && out.contains("∂f/∂y = 3"), "{out}");
/// ```
pub fn run(args: &[String], out: &mut dyn Write, err: &mut dyn Write) -> i32 {
    if args.is_empty() || matches!(args[0].as_str(), "help" | "--help" | "-h") {
        if args.is_empty() {
            let _ = write!(err, "{USAGE}");
            return EXIT_USAGE;
        }
        let _ = write!(out, "{USAGE}");
        return 0;
    }
    let a = match parse_args(args) {
        Ok(a) => a,
        Err(e) => {
            let _ = writeln!(err, "error: {e}\n\n{USAGE}");
            return EXIT_USAGE;
        }
    };
    let tree = match parse(&a.expr) {
        Ok(t) => t,
        Err(e) => {
            let _ = writeln!(err, "error: {e}\n{}", pointer(&a.expr, &e));
            return EXIT_USAGE;
        }
    };
    let mut vars: BTreeMap<String, Tensor> = BTreeMap::new();
    let mut order: Vec<String> = Vec::new();
    for (name, value) in &a.values {
        match parse_value(value) {
            Ok(v) => {
                if vars.insert(name.clone(), input(name, &v)).is_some() {
                    let _ = writeln!(err, "error: {name} is given twice");
                    return EXIT_USAGE;
                }
                order.push(name.clone());
            }
            Err(e) => {
                let _ = writeln!(err, "error: in the value of {name}: {e}\n{}", pointer(value, &e));
                return EXIT_USAGE;
            }
        }
    }
    let ev = match eval(&tree, &vars) {
        Ok(ev) => ev,
        Err(e) => {
            let _ = writeln!(err, "error: {e}\n{}", pointer(&a.expr, &e));
            return if e.msg.contains("has no value") { EXIT_USAGE } else { EXIT_EVAL };
        }
    };
    if !ev.output.requires_grad() {
        let _ = writeln!(err, "error: the expression does not depend on any input; give inputs as NAME=VALUE");
        return EXIT_USAGE;
    }
    let _ = writeln!(out, "f = {}", a.expr);
    let _ = writeln!(out, "\ninputs");
    for name in &order {
        let _ = writeln!(out, "  {name} = {}", viz::Values::of(&vars[name]));
    }
    let (f, summed) =
        if ev.output.numel() == 1 { (ev.output.clone().named("f"), false) } else { (ev.output.sum().named("f"), true) };
    let _ = writeln!(out, "\nforward");
    for s in viz::forward_steps(&f) {
        match &s.value {
            Some(v) => {
                let _ = writeln!(out, "  {} = {v}", s.computes);
            }
            None => {
                let _ = writeln!(out, "  {}", s.computes);
            }
        }
    }
    if summed {
        let _ = writeln!(out, "  (the expression has shape {:?}; backpropagating from f = its sum)", ev.output.shape());
    }
    let transcript = match try_explain(&f) {
        Ok(t) => t,
        Err(e) => {
            let _ = writeln!(err, "error: backward failed: {e}");
            return EXIT_EVAL;
        }
    };
    let _ = write!(out, "\n{transcript}");
    for name in &order {
        let t = &vars[name];
        if t.grad().is_none() {
            let _ = writeln!(out, "  ∂f/∂{name}: none, {}", t.why_no_grad_from(&f));
        }
    }
    for (path, what) in [(&a.dot, "dot"), (&a.svg, "svg"), (&a.html, "html")] {
        let Some(path) = path else { continue };
        let text = match what {
            "dot" => viz::to_dot(&f),
            "svg" => viz::to_svg(&f),
            _ => viz::to_html(&f),
        };
        if let Err(e) = std::fs::write(path, text) {
            let _ = writeln!(err, "error: cannot write {path}: {e}");
            return EXIT_EVAL;
        }
        let _ = writeln!(out, "wrote {path}");
    }
    drop(ev);
    0
}
