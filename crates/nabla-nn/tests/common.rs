//! Shared by the integration tests: reading PyTorch golden fixtures.
#![allow(dead_code)]

use std::path::PathBuf;

pub fn golden_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/golden").join(name)
}

pub fn golden(name: &str) -> serde_json::Value {
    let path = golden_path(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

/// The flat data of a `{"shape": .., "data": ..}` fixture entry.
pub fn data(g: &serde_json::Value, key: &str) -> Vec<f64> {
    g[key]["data"]
        .as_array()
        .unwrap_or_else(|| panic!("no fixture {key}"))
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect()
}

pub fn shape(g: &serde_json::Value, key: &str) -> Vec<usize> {
    g[key]["shape"].as_array().unwrap().iter().map(|v| v.as_u64().unwrap() as usize).collect()
}

pub fn assert_close(got: &[f64], want: &[f64], tol: f64, what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: lengths");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!((g - w).abs() <= tol * (1.0 + w.abs()), "{what}[{i}]: got {g}, want {w}");
    }
}

/// Serializes the tests of one binary that reseed the global generator.
pub static SEED_LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// The message of a caught panic.
pub fn panic_message(e: Box<dyn std::any::Any + Send>) -> String {
    match e.downcast::<String>() {
        Ok(s) => *s,
        Err(e) => e.downcast_ref::<&str>().map(|s| s.to_string()).unwrap_or_default(),
    }
}
