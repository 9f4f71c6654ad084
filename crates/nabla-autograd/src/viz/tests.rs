//! Pinned renderings of the two textbook graphs, and the tools checked against `backward()`.

use super::*;
use crate::autograd::{apply_custom, explain, try_explain, BackwardSteps, CustomOp};
use crate::{no_grad, DType, Result};

/// f = (x + y) · z at x = -2, y = 5, z = -4 (CS231n's first example). Returns
/// `[x, y, z, q, f]`; holding `q` keeps its name and value for the drawings.
fn f_graph() -> [Tensor; 5] {
    let x = Tensor::scalar(-2.0f64).requires_grad_(true).named("x");
    let y = Tensor::scalar(5.0f64).requires_grad_(true).named("y");
    let z = Tensor::scalar(-4.0f64).requires_grad_(true).named("z");
    let q = (&x + &y).named("q");
    let f = (&q * &z).named("f");
    [x, y, z, q, f]
}

/// y = (x + w) · (w + 1) at x = 2, w = 1: w feeds two ops. Returns `[x, w, a, b, y]`.
fn y_graph() -> [Tensor; 5] {
    let x = Tensor::scalar(2.0f64).requires_grad_(true).named("x");
    let w = Tensor::scalar(1.0f64).requires_grad_(true).named("w");
    let a = (&x + &w).named("a");
    let b = (&w + 1.0).named("b");
    let y = (&a * &b).named("y");
    [x, w, a, b, y]
}

const F_DOT: &str = r##"digraph nabla {
  rankdir=LR;
  node [fontname="Helvetica", fontsize=11];
  edge [fontname="Helvetica", fontsize=9];
  t0 [shape=box, style="rounded,filled", fillcolor="#cfe8fc", label="x\n[] float64\ndata -2\ngrad -4"];
  t1 [shape=box, style="rounded,filled", fillcolor="#cfe8fc", label="y\n[] float64\ndata 5\ngrad -4"];
  t2 [shape=box, style="rounded,filled", fillcolor="#ffffff", label="q\n[] float64\ndata 3"];
  t3 [shape=box, style="rounded,filled", fillcolor="#cfe8fc", label="z\n[] float64\ndata -4\ngrad 3"];
  t4 [shape=box, style="rounded,filled", fillcolor="#fde68a", label="f\n[] float64\ndata -12"];
  f0 [shape=ellipse, style=filled, fillcolor="#eeeeee", label="AccumulateGrad"];
  f1 [shape=ellipse, style=filled, fillcolor="#eeeeee", label="AccumulateGrad"];
  f2 [shape=ellipse, style=filled, fillcolor="#eeeeee", label="AddBackward"];
  f3 [shape=ellipse, style=filled, fillcolor="#eeeeee", label="AccumulateGrad"];
  f4 [shape=ellipse, style=filled, fillcolor="#eeeeee", label="MulBackward"];
  t0 -> f0 [style=dashed, arrowhead=none];
  t1 -> f1 [style=dashed, arrowhead=none];
  t0 -> f2 [label="a"];
  t1 -> f2 [label="b"];
  f2 -> t2;
  t3 -> f3 [style=dashed, arrowhead=none];
  t2 -> f4 [label="a"];
  t3 -> f4 [label="b"];
  f4 -> t4;
}
"##;

const F_TRANSCRIPT: &str = "backward from f [] float64, seeded with ∂f/∂f = 1
step 1  MulBackward  f = q · z
  receives ∂f/∂f = 1
  → q  ∂(a·b)/∂a = b = -4
       ∂f/∂q = 1 · (-4) = -4
  → z  ∂(a·b)/∂b = a = 3
       ∂f/∂z = 1 · 3 = 3
step 2  AccumulateGrad  z
  z.grad = 3  (was None)
step 3  AddBackward  q = x + y
  receives ∂f/∂q = -4
  → x  ∂(a+b)/∂a = 1
       ∂f/∂x = ∂f/∂q · ∂q/∂x = -4 · 1 = -4
  → y  ∂(a+b)/∂b = 1
       ∂f/∂y = ∂f/∂q · ∂q/∂y = -4 · 1 = -4
step 4  AccumulateGrad  y
  y.grad = -4  (was None)
step 5  AccumulateGrad  x
  x.grad = -4  (was None)
gradients
  ∂f/∂x = -4
  ∂f/∂y = -4
  ∂f/∂z = 3
";

const Y_DOT: &str = r##"digraph nabla {
  rankdir=LR;
  node [fontname="Helvetica", fontsize=11];
  edge [fontname="Helvetica", fontsize=9];
  t0 [shape=box, style="rounded,filled", fillcolor="#cfe8fc", label="x\n[] float64\ndata 2\ngrad 2"];
  t1 [shape=box, style="rounded,filled", fillcolor="#cfe8fc", label="w\n[] float64\ndata 1\ngrad 5"];
  t2 [shape=box, style="rounded,filled", fillcolor="#ffffff", peripheries=2, label="a\n[] float64\ndata 3\ngrad (retained) 2"];
  t3 [shape=box, style="rounded,filled", fillcolor="#ffffff", label="b\n[] float64\ndata 2"];
  t4 [shape=box, style="rounded,filled", fillcolor="#fde68a", label="y\n[] float64\ndata 6"];
  f0 [shape=ellipse, style=filled, fillcolor="#eeeeee", label="AccumulateGrad"];
  f1 [shape=ellipse, style=filled, fillcolor="#eeeeee", label="AccumulateGrad"];
  f2 [shape=ellipse, style=filled, fillcolor="#eeeeee", label="AddBackward"];
  f3 [shape=ellipse, style=filled, fillcolor="#eeeeee", label="AddBackward"];
  f4 [shape=ellipse, style=filled, fillcolor="#eeeeee", label="MulBackward"];
  t0 -> f0 [style=dashed, arrowhead=none];
  t1 -> f1 [style=dashed, arrowhead=none];
  t0 -> f2 [label="a"];
  t1 -> f2 [label="b"];
  f2 -> t2;
  t1 -> f3;
  f3 -> t3;
  t2 -> f4 [label="a"];
  t3 -> f4 [label="b"];
  f4 -> t4;
}
"##;

const Y_TRANSCRIPT: &str = "backward from y [] float64, seeded with ∂y/∂y = 1
step 1  MulBackward  y = a · b
  receives ∂y/∂y = 1
  → a  ∂(a·b)/∂a = b = 2
       ∂y/∂a = 1 · 2 = 2
  → b  ∂(a·b)/∂b = a = 3
       ∂y/∂b = 1 · 3 = 3
step 2  AddBackward  b = w + c
  receives ∂y/∂b = 3
  → w  ∂(a+c)/∂a = 1
       ∂y/∂w = ∂y/∂b · ∂b/∂w = 3 · 1 = 3
step 3  AddBackward  a = x + w
  receives ∂y/∂a = 2
  a.grad = 2  (retain_grad)
  → x  ∂(a+b)/∂a = 1
       ∂y/∂x = ∂y/∂a · ∂a/∂x = 2 · 1 = 2
  → w  ∂(a+b)/∂b = 1
       ∂y/∂w = ∂y/∂a · ∂a/∂w = 2 · 1 = 2
       w is used more than once: ∂y/∂w = 3 + 2 = 5
step 4  AccumulateGrad  w
  w.grad = 5  (was None)
step 5  AccumulateGrad  x
  x.grad = 2  (was None)
gradients
  ∂y/∂x = 2
  ∂y/∂w = 5
";

#[test]
fn f_graph_dot_and_transcript_are_pinned() {
    let [x, y, z, _q, f] = f_graph();
    let t = explain(&f);
    assert_eq!(t.to_string(), F_TRANSCRIPT);
    assert_eq!(to_dot(&f), F_DOT);
    assert_eq!((x.grad().unwrap().item(), y.grad().unwrap().item(), z.grad().unwrap().item()), (-4.0, -4.0, 3.0));
    assert_eq!((t.grad_of("x"), t.grad_of("y"), t.grad_of("z")), (Some(-4.0), Some(-4.0), Some(3.0)));
    // structured steps carry the same numbers as the text
    let mul = &t.steps[0];
    assert_eq!((mul.node, mul.output.as_str(), mul.upstream.scalar()), ("MulBackward", "f", Some(1.0)));
    assert_eq!(mul.flows[0].local.as_ref().unwrap().scalar(), Some(-4.0));
    assert_eq!(mul.flows[1].grad.scalar(), Some(3.0));
}

#[test]
fn y_graph_dot_and_transcript_are_pinned() {
    let [x, w, a, _b, y] = y_graph();
    a.retain_grad();
    let t = explain(&y);
    assert_eq!(t.to_string(), Y_TRANSCRIPT);
    assert_eq!(to_dot(&y), Y_DOT);
    assert_eq!((w.grad().unwrap().item(), x.grad().unwrap().item()), (5.0, 2.0));
    let total = t.steps[2].flows[1].total.as_ref().unwrap();
    assert_eq!((total.0.scalar(), total.1.scalar()), (Some(3.0), Some(5.0)));
}

#[test]
fn transcript_numbers_equal_what_backward_leaves_behind() {
    crate::manual_seed(7);
    let make = || {
        let x = Tensor::randn_with(&[4, 3], DType::F32).named("x");
        let w = Tensor::randn_with(&[3, 2], DType::F32).requires_grad_(true).named("w");
        let b = Tensor::randn_with(&[2], DType::F32).requires_grad_(true).named("b");
        let h = (x.matmul(&w) + &b).tanh();
        let loss = (&h * &h).mean().named("loss");
        (w, b, loss)
    };
    let (w1, b1, l1) = make();
    crate::manual_seed(7);
    let (w2, b2, l2) = make();
    let t = explain(&l1);
    l2.backward();
    assert_eq!(w1.grad().unwrap().to_vec::<f32>(), w2.grad().unwrap().to_vec::<f32>());
    assert_eq!(b1.grad().unwrap().to_vec::<f32>(), b2.grad().unwrap().to_vec::<f32>());
    let find = |n: &str| t.gradients.iter().find(|g| g.tensor == n).unwrap().grad.data.clone().unwrap();
    let as64 = |v: Vec<f32>| v.into_iter().map(f64::from).collect::<Vec<_>>();
    assert_eq!(find("w"), as64(w2.grad().unwrap().to_vec::<f32>()));
    assert_eq!(find("b"), as64(b2.grad().unwrap().to_vec::<f32>()));
    let text = t.to_string();
    assert!(text.contains("→ w  dB = Aᵀ·dC\n       shapes [4, 3]ᵀ·[4, 2] → [3, 2]\n"), "{text}");
    assert!(text.contains("→ v1  ∂(a+b)/∂a = 1\n"), "{text}");
    assert!(text.contains("grad [4, 2] summed over dim 0 → [2] because b was broadcast"), "{text}");
    assert!(text.contains("∂tanh(a)/∂a = 1 − tanh²(a)"), "{text}");
    assert!(text.contains("∂mean(a)/∂aᵢ = 1/n"), "{text}");
}

#[test]
fn broadcast_over_several_dims_is_named() {
    let a = Tensor::ones(&[2, 3, 4]).requires_grad_(true);
    let b = Tensor::ones(&[3, 1]).requires_grad_(true).named("b");
    let t = explain(&(&a * &b).sum());
    let note = t.steps.iter().flat_map(|s| &s.flows).find_map(|f| f.note.clone().filter(|_| f.to == "b")).unwrap();
    assert_eq!(note, "grad [2, 3, 4] summed over dims 0, 2 → [3, 1] because b was broadcast");
}

#[test]
fn automatic_labels_do_not_depend_on_global_ids() {
    let build = || {
        let a = Tensor::from_vec(vec![1.0f32, 2.0], &[2]).requires_grad_(true);
        let b = (&a * 3.0).exp();
        (b.sum(), a)
    };
    let (l1, _a1) = build();
    let _noise: Vec<Tensor> = (0..10).map(|_| Tensor::ones(&[1]).requires_grad_(true)).collect();
    let (l2, _a2) = build();
    assert_eq!(to_dot(&l1), to_dot(&l2));
    assert!(to_dot(&l1).contains("label=\"v3\\n[] float32"));
}

#[test]
fn step_through_ends_with_the_gradients_of_backward() {
    let [x, w, _a, _b, y] = y_graph();
    let steps: Vec<_> = BackwardSteps::new(&y).collect();
    assert_eq!(steps.len(), 5);
    let names: Vec<&str> = steps.iter().map(|s| s.node).collect();
    assert_eq!(names, ["MulBackward", "AddBackward", "AddBackward", "AccumulateGrad", "AccumulateGrad"]);
    // after step 2 only the (w + 1) branch has reached w
    let d2 = steps[1].dot();
    assert!(d2.contains("label=\"w\\n[] float64\\ndata 1\\n∂y/∂w = 3\""), "{d2}");
    assert!(d2.contains("f3 [shape=ellipse, style=filled, fillcolor=\"#fca5a5\", color=\"#dc2626\""), "{d2}");
    let last = steps[4].dot();
    assert!(last.contains("∂y/∂w = 5") && last.contains("∂y/∂x = 2"), "{last}");
    assert_eq!((w.grad().unwrap().item(), x.grad().unwrap().item()), (5.0, 2.0));
    assert!(steps[0].svg().contains("#fca5a5"));
}

#[test]
fn explaining_accumulates_like_backward() {
    let x = Tensor::scalar(3.0f64).requires_grad_(true).named("x");
    explain(&(&x * 2.0));
    let t = explain(&(&x * 2.0).named("g"));
    assert_eq!(x.grad().unwrap().item(), 4.0);
    assert!(t.to_string().contains("x.grad: 2 + 2 = 4"), "{t}");
    assert_eq!(t.grad_of("x"), Some(2.0));
}

#[test]
fn explain_reports_backward_errors() {
    let x = Tensor::ones(&[2]).requires_grad_(true);
    let e = try_explain(&(&x * 2.0)).err().unwrap().to_string();
    assert!(e.contains("grad can be implicitly created only for scalar outputs"), "{e}");
}

#[test]
fn intermediates_nobody_kept_are_drawn_without_values() {
    let x = Tensor::from_vec(vec![1.0f32, 2.0], &[2]).requires_grad_(true).named("x");
    let loss = (&x + 1.0).sum(); // nothing saves x + 1
    let dot = to_dot(&loss);
    assert!(dot.contains("label=\"v1\\n[2] float32\"];"), "{dot}");
    let t = explain(&loss);
    assert_eq!(t.gradients[0].grad.data, Some(vec![1.0, 1.0]));
}

#[test]
fn clusters_hold_their_parameters_and_accumulators() {
    let w = Tensor::ones(&[2, 2]).requires_grad_(true);
    let b = Tensor::zeros(&[2]).requires_grad_(true);
    let v = Tensor::ones(&[2, 1]).requires_grad_(true);
    let x = Tensor::ones(&[1, 2]);
    let y = (x.matmul(&w) + &b).matmul(&v).sum();
    let opts = DotOptions::from_named_parameters(&[
        ("fc1.weight".into(), w),
        ("fc1.bias".into(), b),
        ("fc2.weight".into(), v),
    ]);
    let dot = to_dot_with(&y, &opts);
    let c0 = &dot[dot.find("subgraph cluster_0").unwrap()..dot.find("subgraph cluster_1").unwrap()];
    assert_eq!(c0.matches("AccumulateGrad").count(), 2, "{c0}");
    assert!(c0.contains("fc1.weight") && c0.contains("fc1.bias") && !c0.contains("fc2"), "{c0}");
    // each node is declared once
    assert_eq!(dot.matches("label=\"fc1.weight").count(), 1);
    let svg = to_svg_with(&y, &opts);
    assert_eq!(svg.matches("<g class=\"cluster\">").count(), 2);
}

#[test]
fn svg_has_one_group_per_node_and_escapes_names() {
    let a = Tensor::scalar(1.0f64).requires_grad_(true).named("a<&>\"b");
    let s = (&a * &a).named("s");
    let svg = to_svg(&s);
    assert_eq!(svg.matches("<g class=\"node tensor\"").count(), 2);
    assert_eq!(svg.matches("<g class=\"node function\"").count(), 2);
    assert!(svg.contains("a&lt;&amp;&gt;&quot;b") && !svg.contains("a<&>"));
    assert!(to_dot(&s).contains("a<&>\\\"b"));
    assert!(svg.trim_end().ends_with("</svg>"));
}

#[test]
fn html_page_works_in_a_headless_browser() {
    let chromium = std::path::Path::new("/usr/bin/chromium");
    if !chromium.exists() {
        println!("SKIPPED: /usr/bin/chromium not found; the HTML page was not checked in a browser");
        return;
    }
    let [_x, _y, _z, _q, f] = f_graph();
    f.backward();
    let dir = std::env::temp_dir().join(format!("nabla-viz-html-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let page = dir.join("graph.html");
    std::fs::write(&page, to_html(&f)).unwrap();
    let profile = dir.join("profile");
    let mut child = std::process::Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--disable-dev-shm-usage",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg("--dump-dom")
        .arg(format!("file://{}#f4", page.display()))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let start = std::time::Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > std::time::Duration::from_secs(90) {
            let _ = child.kill();
            panic!("chromium did not finish in 90 s");
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let dom = std::io::read_to_string(child.stdout.take().unwrap()).unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    // the graph's nodes are in the document
    for id in ["t0", "t1", "t2", "t3", "t4", "f0", "f4"] {
        assert!(dom.contains(&format!("id=\"{id}\"")), "node {id} missing from the DOM");
    }
    // the script ran: it listed the nodes and selected #f4 from the URL
    assert_eq!(dom.matches("<li><a>").count(), 10, "{dom}");
    assert!(dom.contains("data-selected=\"f4\""), "{dom}");
    assert!(dom.contains("<td>computes</td><td>f = q · z</td>"), "{dom}");
    assert!(dom.contains("<g class=\"node function selected\" id=\"f4\""), "{dom}");
}

// ---- why_no_grad ---------------------------------------------------------------------

#[test]
fn why_no_grad_names_each_reason() {
    let w = Tensor::ones(&[2]).requires_grad_(true).named("w");
    let unused = Tensor::ones(&[2]).requires_grad_(true).named("unused");
    let never = Tensor::ones(&[2]).requires_grad_(true).named("never"); // no op ever used it
    let c = Tensor::ones(&[2]).named("c");
    let h = (&w * &c).named("h");
    let kept = (&w * 2.0).named("kept");
    kept.retain_grad();
    let frozen = no_grad(|| &w * 2.0).named("frozen");
    let cut = h.detach().named("cut");
    let _other = (&unused * 2.0).sum();
    let loss = (&h + &kept).sum().named("loss");
    let labels = Tensor::from_vec(vec![1i64, 2], &[2]).named("labels");
    assert!(matches!(kept.why_no_grad_from(&loss), NoGradReason::BackwardNotRun { .. }));
    loss.backward();
    assert!(matches!(w.why_no_grad(), NoGradReason::HasGrad { .. }));
    assert!(matches!(kept.why_no_grad(), NoGradReason::HasGrad { .. }));
    assert_eq!(h.why_no_grad(), NoGradReason::NonLeafNotRetained { tensor: "h".into(), grad_fn: "MulBackward" });
    assert_eq!(c.why_no_grad(), NoGradReason::RequiresGradFalse { tensor: "c".into(), float: true });
    assert_eq!(labels.why_no_grad(), NoGradReason::RequiresGradFalse { tensor: "labels".into(), float: false });
    assert_eq!(frozen.why_no_grad(), NoGradReason::MadeUnderNoGrad { tensor: "frozen".into() });
    assert_eq!(cut.why_no_grad(), NoGradReason::Detached { tensor: "cut".into() });
    assert_eq!(unused.why_no_grad(), NoGradReason::BackwardNotRun { tensor: "unused".into() });
    assert_eq!(
        unused.why_no_grad_from(&loss),
        NoGradReason::NotReachable { tensor: "unused".into(), output: "loss".into() }
    );
    assert_eq!(
        never.why_no_grad_from(&loss),
        NoGradReason::NotReachable { tensor: "never".into(), output: "loss".into() }
    );
    assert!(cut.why_no_grad().to_string().contains("detach()"));
    assert!(frozen.why_no_grad().to_string().contains("no_grad"));
    assert!(c.why_no_grad().to_string().contains("requires_grad_(true)"));
}

// ---- per-node finite differences -----------------------------------------------------

/// x² whose backward forgets the factor 2.
struct BadSquare;
impl CustomOp for BadSquare {
    fn name(&self) -> &'static str {
        "BadSquareBackward"
    }
    fn forward(&self, x: &[Tensor]) -> Result<Tensor> {
        Ok(&x[0] * &x[0])
    }
    fn backward(&self, x: &[Tensor], _out: &Tensor, g: &Tensor) -> Result<Vec<Option<Tensor>>> {
        Ok(vec![Some(g * &x[0])])
    }
}

/// x², correctly.
struct Square;
impl CustomOp for Square {
    fn name(&self) -> &'static str {
        "SquareBackward"
    }
    fn forward(&self, x: &[Tensor]) -> Result<Tensor> {
        Ok(&x[0] * &x[0])
    }
    fn backward(&self, x: &[Tensor], _out: &Tensor, g: &Tensor) -> Result<Vec<Option<Tensor>>> {
        Ok(vec![Some(g * &x[0] * 2.0)])
    }
}

fn inputs() -> Vec<Tensor> {
    let x = Tensor::from_vec(vec![0.3f64, -0.7, 1.1, 0.2, -0.4, 0.9], &[2, 3]).requires_grad_(true);
    let w = Tensor::from_vec(vec![0.5f64, -0.25, 0.8], &[3, 1]).requires_grad_(true);
    vec![x, w]
}

#[test]
fn check_nodes_agrees_on_a_correct_graph() {
    let f = |xs: &[Tensor]| {
        let h = apply_custom(Square, &[&xs[0].tanh()]).unwrap();
        h.matmul(&xs[1]).sigmoid().sum()
    };
    let checks = check_nodes(f, &inputs()).unwrap();
    let status: Vec<(&str, NodeStatus)> = checks.iter().map(|c| (c.node, c.status.clone())).collect();
    // nothing keeps the matmul's output (sigmoid saves its own output, not its input)
    assert_eq!(
        status,
        [
            ("TanhBackward", NodeStatus::Agrees),
            ("SquareBackward", NodeStatus::Agrees),
            ("MmBackward", NodeStatus::Unobservable),
            ("SigmoidBackward", NodeStatus::Agrees),
            ("SumBackward", NodeStatus::Agrees)
        ]
    );
    for c in checks.iter().filter(|c| c.status == NodeStatus::Agrees) {
        assert!(c.analytic.abs() > 1e-6 && (c.analytic - c.numeric).abs() < 1e-6, "{c}");
    }
}

#[test]
fn check_nodes_finds_the_first_wrong_node() {
    let f = |xs: &[Tensor]| {
        let h = apply_custom(BadSquare, &[&xs[0].tanh()]).unwrap();
        h.matmul(&xs[1]).sigmoid().sum()
    };
    let checks = check_nodes(f, &inputs()).unwrap();
    let status: Vec<(&str, bool)> = checks.iter().map(|c| (c.node, c.is_failure())).collect();
    assert_eq!(
        status,
        [
            ("TanhBackward", false),
            ("BadSquareBackward", true),
            ("MmBackward", false), // unobservable
            ("SigmoidBackward", true),
            ("SumBackward", true)
        ]
    );
    let bad = first_bad_node(f, &inputs()).unwrap().unwrap();
    assert_eq!(bad.node, "BadSquareBackward");
    assert!(bad.location.contains("viz/tests.rs"), "{}", bad.location);
    // the rule forgot a factor 2 on an input that is also scaled by tanh'
    assert!((bad.numeric / bad.analytic - 2.0).abs() < 1e-3, "{bad}");
    assert!(bad.to_string().starts_with("MISMATCH  f"), "{bad}");
}

#[test]
fn check_nodes_needs_float64() {
    let x = Tensor::ones(&[2]).requires_grad_(true);
    let e = check_nodes(|xs: &[Tensor]| xs[0].sum(), &[x]).unwrap_err().to_string();
    assert!(e.contains("float64"), "{e}");
}

#[test]
fn a_tensor_without_a_graph_is_one_box() {
    let c = Tensor::from_vec(vec![1.0f32, 2.0], &[2]).named("c");
    let dot = to_dot(&c);
    assert!(
        dot.contains(
            "t0 [shape=box, style=\"rounded,filled\", fillcolor=\"#fde68a\", label=\"c\\n[2] float32\\ndata [1, 2]\"];"
        ),
        "{dot}"
    );
    assert!(!dot.contains("->"));
    assert!(to_svg(&c).contains(">c</text>"));
    // a leaf that requires grad but was never used has no AccumulateGrad yet, and gets none
    let w = Tensor::ones(&[1]).requires_grad_(true);
    assert!(!to_dot(&w).contains("AccumulateGrad"));
}

#[test]
fn matrices_are_drawn_one_row_per_line() {
    let m = Tensor::from_vec(vec![1.0f64, 2.0, 3.0, 4.0], &[2, 2]).named("m");
    assert!(to_dot(&m).contains("label=\"m\\n[2, 2] float64\\ndata [[1, 2],\\n      [3, 4]]\""));
}
