//! Runs the `nabla-cli` binary on good and bad inputs.

use std::process::{Command, Output};

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_nabla-cli")).args(args).output().expect("run nabla-cli")
}

fn text(o: &Output) -> (String, String) {
    (String::from_utf8_lossy(&o.stdout).into_owned(), String::from_utf8_lossy(&o.stderr).into_owned())
}

#[test]
fn explains_the_textbook_example() {
    let o = run(&["explain", "(x + y) * z", "x=-2", "y=5", "z=-4"]);
    let (out, err) = text(&o);
    assert!(o.status.success(), "{err}");
    assert!(out.contains("inputs\n  x = -2\n  y = 5\n  z = -4\n"), "{out}");
    assert!(out.contains("forward\n  v2 = x + y = 3\n  f = v2 · z = -12\n"), "{out}");
    assert!(out.contains("  → v2  ∂(a·b)/∂a = b = -4\n       ∂f/∂v2 = 1 · (-4) = -4\n"), "{out}");
    assert!(out.contains("  → x  ∂(a+b)/∂a = 1\n       ∂f/∂x = ∂f/∂v2 · ∂v2/∂x = -4 · 1 = -4\n"), "{out}");
    assert!(out.contains("gradients\n  ∂f/∂x = -4\n  ∂f/∂y = -4\n  ∂f/∂z = 3\n"), "{out}");
}

#[test]
fn writes_the_graph() {
    let dir = std::env::temp_dir().join(format!("nabla-cli-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (dot, svg, html) = (dir.join("f.dot"), dir.join("f.svg"), dir.join("f.html"));
    let o = run(&[
        "explain",
        "(x + w) * (w + 1)",
        "x=2",
        "w=1",
        "--dot",
        dot.to_str().unwrap(),
        "--svg",
        svg.to_str().unwrap(),
        "--html",
        html.to_str().unwrap(),
    ]);
    let (out, err) = text(&o);
    assert!(o.status.success(), "{err}");
    assert!(out.contains("∂f/∂x = 2\n  ∂f/∂w = 5\n"), "{out}");
    assert!(out.contains("w is used more than once: ∂f/∂w = 3 + 2 = 5"), "{out}");
    let dot = std::fs::read_to_string(dot).unwrap();
    assert!(dot.starts_with("digraph nabla {") && dot.contains("label=\"w\\n[] float64\\ndata 1\\ngrad 5\""), "{dot}");
    let svg = std::fs::read_to_string(svg).unwrap();
    assert!(svg.starts_with("<svg") && svg.contains("MulBackward"));
    assert!(std::fs::read_to_string(html).unwrap().contains("<script>"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn matrices_matmul_and_broadcasting() {
    let o = run(&["explain", "sum(tanh(X @ W + b))", "X=[[1,2],[3,4]]", "W=[[0.5,-1],[0.25,0.5]]", "b=[0.1,-0.1]"]);
    let (out, err) = text(&o);
    assert!(o.status.success(), "{err}");
    assert!(out.contains("dB = Aᵀ·dC\n       shapes [2, 2]ᵀ·[2, 2] → [2, 2]"), "{out}");
    assert!(out.contains("grad [2, 2] summed over dim 0 → [2] because b was broadcast"), "{out}");
    assert!(out.contains("∂f/∂W = [["), "{out}");
}

#[test]
fn non_scalar_expressions_are_summed() {
    let o = run(&["explain", "x * 2", "x=[1, 2, 3]"]);
    let (out, err) = text(&o);
    assert!(o.status.success(), "{err}");
    assert!(out.contains("(the expression has shape [3]; backpropagating from f = its sum)"), "{out}");
    assert!(out.contains("∂f/∂x = [2, 2, 2]"), "{out}");
}

#[test]
fn unused_inputs_are_explained() {
    let o = run(&["explain", "x * x", "x=3", "u=1"]);
    let (out, _) = text(&o);
    assert!(o.status.success());
    assert!(out.contains("∂f/∂x = 6"), "{out}");
    assert!(out.contains("∂f/∂u: none, f was not computed from u"), "{out}");
}

#[test]
fn bad_expressions_point_at_the_column() {
    let o = run(&["explain", "(x + ) * z", "x=1", "z=2"]);
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(2));
    assert!(out.is_empty());
    assert_eq!(err, "error: col 6: expected an operand, found ')'\n  (x + ) * z\n       ^\n");
    for (args, want) in [
        (vec!["explain", "x +", "x=1"], "col 4: expected an operand, found the end of the expression"),
        (vec!["explain", "x ? 2", "x=1"], "col 3: unexpected character '?'"),
        (vec!["explain", "x * q", "x=1"], "col 5: 'q' has no value"),
        (vec!["explain", "x * 2", "x=[1, 2"], "in the value of x: col 6: expected ',' or ']'"),
        (vec!["explain", "x * 2", "x"], "expected NAME=VALUE"),
        (vec!["explain", "x", "x=1", "x=2"], "x is given twice"),
        (vec!["explain", "3 * 2"], "does not depend on any input"),
        (vec!["explain"], "missing the expression"),
        (vec!["frobnicate"], "unknown command 'frobnicate'"),
        (vec!["explain", "x", "x=1", "--svg"], "--svg needs a file name"),
    ] {
        let o = run(&args);
        let (_, err) = text(&o);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(want), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{args:?}: {err}");
    }
}

#[test]
fn shape_errors_are_reported_not_panicked() {
    let o = run(&["explain", "A @ B", "A=[[1,2,3]]", "B=[[1,2]]"]);
    let (_, err) = text(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.starts_with("error: col 3: "), "{err}");
    assert!(err.contains("mat1 and mat2 shapes cannot be multiplied (1x3 and 1x2)"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    let o = run(&["explain", "log(x)", "x=-1"]);
    assert!(o.status.success(), "nan is a value, not an error");
}

#[test]
fn help_prints_usage() {
    let o = run(&["help"]);
    assert!(o.status.success());
    assert!(text(&o).0.contains("usage:"));
    let o = run(&[]);
    assert_eq!(o.status.code(), Some(2));
}
