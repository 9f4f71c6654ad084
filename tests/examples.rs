//! Runs every example of the learning path in its fast mode and checks the
//! machine-readable `result: key=value …` line it ends with.
//!
//! `cargo test` builds the examples next to this test binary (`target/<profile>/examples`),
//! so the tests find them from their own path. Each example runs in
//! `CARGO_TARGET_TMPDIR`, so its `runs/` directory stays out of the source tree. The
//! harness runs the tests on parallel threads.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::Command;

/// `target/<profile>/examples/<name>`, from this binary's `target/<profile>/deps/examples-…`.
fn example_path(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary's path");
    let profile_dir = exe.parent().and_then(|deps| deps.parent()).expect("target/<profile>/deps/<test binary>");
    profile_dir.join("examples").join(format!("{name}{}", std::env::consts::EXE_SUFFIX))
}

/// Runs an example and returns the key-value pairs of its last `result:` line.
fn run(name: &str, args: &[&str]) -> HashMap<String, String> {
    let path = example_path(name);
    assert!(path.exists(), "{} was not built; run the tests with `cargo test` (it builds examples)", path.display());
    let out = Command::new(&path)
        .args(args)
        .current_dir(env!("CARGO_TARGET_TMPDIR"))
        .output()
        .unwrap_or_else(|e| panic!("running {}: {e}", path.display()));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{name} {args:?} failed with {}\nstdout:\n{stdout}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let line = stdout
        .lines()
        .rev()
        .find_map(|l| l.strip_prefix("result:"))
        .unwrap_or_else(|| panic!("{name} printed no `result:` line:\n{stdout}"));
    line.split_whitespace().filter_map(|kv| kv.split_once('=')).map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

fn num(result: &HashMap<String, String>, key: &str) -> f64 {
    let v = result.get(key).unwrap_or_else(|| panic!("no `{key}` in {result:?}"));
    v.parse().unwrap_or_else(|_| panic!("`{key}={v}` is not a number"))
}

#[test]
fn ex01_tensors() {
    let r = run("01_tensors", &[]);
    assert_eq!(num(&r, "numel"), 6.0);
    assert_eq!(num(&r, "sum"), 21.0);
    assert_eq!(num(&r, "mean"), 3.5);
}

#[test]
fn ex02_autograd() {
    let r = run("02_autograd", &[]);
    // f = (x + y) z at (-2, 5, -4); y = (x + w)(w + 1) at x = 2, w = 1
    for (key, want) in [("dfdx", -4.0), ("dfdy", -4.0), ("dfdz", 3.0), ("dydw", 5.0), ("dydx", 2.0)] {
        assert_eq!(num(&r, key), want, "{key}");
    }
}

#[test]
fn ex03_linear_regression() {
    let r = run("03_linear_regression", &["--epochs", "50"]);
    assert!((num(&r, "w") - 2.0).abs() < 0.1, "{r:?}");
    assert!((num(&r, "b") - 1.0).abs() < 0.1, "{r:?}");
}

#[test]
fn ex04_xor() {
    let r = run("04_xor", &[]);
    assert_eq!(r["correct"], "4/4", "{r:?}");
    assert!(num(&r, "mse") < 0.05, "{r:?}");
}

#[test]
fn ex05_two_layer_sse() {
    let r = run("05_two_layer_sse", &[]);
    assert_eq!(r["correct"], "4/4", "{r:?}");
}

#[test]
fn ex06_softmax_regression() {
    let r = run("06_softmax_regression", &["--epochs", "1", "--limit", "2000"]);
    assert!(num(&r, "accuracy") > 0.75, "{r:?}"); // 0.82 measured
}

#[test]
fn ex07_mnist_mlp() {
    let r = run("07_mnist_mlp", &["--epochs", "1", "--limit", "2000", "--name", "test_mnist_mlp"]);
    assert!(num(&r, "accuracy") > 0.75, "{r:?}"); // 0.81 measured
}

#[test]
fn ex08_mnist_cnn() {
    let r = run("08_mnist_cnn", &["--epochs", "1", "--limit", "2000", "--name", "test_mnist_cnn"]);
    assert!(num(&r, "accuracy") > 0.80, "{r:?}"); // 0.855 measured
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("runs/test_mnist_cnn");
    for file in ["metrics.csv", "loss.png", "accuracy.png", "model.safetensors"] {
        assert!(dir.join(file).exists(), "{} missing", dir.join(file).display());
    }
    let csv = std::fs::read_to_string(dir.join("metrics.csv")).unwrap();
    assert_eq!(csv.lines().next(), Some("epoch,train_loss,test_accuracy,seconds"));
    assert_eq!(csv.lines().count(), 2);
}

#[test]
fn ex09_hopfield() {
    let r = run("09_hopfield", &[]);
    assert_eq!(r["recalled"], "3/3", "{r:?}");
}

#[test]
fn ex10_rbm() {
    let r = run("10_rbm", &["--epochs", "2", "--limit", "2000", "--name", "test_rbm"]);
    // an all-black guess errs by the number of lit pixels (≈ 96); 61 measured
    assert!(num(&r, "recon_error") < 0.8 * num(&r, "blank_error"), "{r:?}");
    assert!(PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("runs/test_rbm/filters.png").exists());
}

#[test]
fn ex11_init_and_activations() {
    let r = run("11_init_and_activations", &["--depth", "10", "--width", "256"]);
    // N(0, 0.01) vanishes; Xavier keeps tanh alive, Kaiming keeps relu alive
    assert!(num(&r, "tanh_normal_std") < 1e-3, "{r:?}");
    assert!(num(&r, "relu_normal_std") < 1e-3, "{r:?}");
    assert!(num(&r, "tanh_xavier_std") > 0.1, "{r:?}");
    let relu_kaiming = num(&r, "relu_kaiming_std");
    assert!((0.3..3.0).contains(&relu_kaiming), "{r:?}");
    assert!(num(&r, "relu_xavier_std") < relu_kaiming / 4.0, "{r:?}");
}
