//! The properties fuzzed, shared by the libFuzzer targets (`fuzz_targets/`) and the
//! stable-Rust driver (`src/bin/stable_fuzz.rs`).
//!
//! For any bytes at all, nabla's readers of untrusted files must return `Ok` or an `Err`
//! that names the file — never panic, never allocate more than the input can justify —
//! and what they return on `Ok` must be self-consistent. Each check panics when a
//! property fails; the fuzzers treat a panic as a finding.

use nabla::data::{read_idx, IdxArray, Mnist};
use nabla::nn::StateDict;
use std::cell::RefCell;
use std::path::{Path, PathBuf};

/// What a reader made of an input: `Ok(())` or its error text (for statistics).
pub type Outcome = Result<(), String>;

thread_local! {
    static SCRATCH: RefCell<Option<PathBuf>> = const { RefCell::new(None) };
}

/// A file path private to this process and thread, for readers that take a path.
pub fn scratch_path() -> PathBuf {
    SCRATCH.with(|s| {
        s.borrow_mut()
            .get_or_insert_with(|| {
                let dir = if Path::new("/dev/shm").is_dir() { PathBuf::from("/dev/shm") } else { std::env::temp_dir() };
                let thread = format!("{:?}", std::thread::current().id()).replace(|c: char| !c.is_ascii_alphanumeric(), "");
                dir.join(format!("nabla-fuzz-{}-{thread}.bin", std::process::id()))
            })
            .clone()
    })
}

/// `read_idx` on the bytes (through a file: gzip is recognised by content), the
/// in-memory parser, and the MNIST loader.
pub fn check_idx(data: &[u8]) -> Outcome {
    let path = scratch_path();
    std::fs::write(&path, data).expect("write the scratch file");
    let from_file = read_idx(&path);
    match &from_file {
        Ok(a) => check_idx_array(a),
        Err(e) => assert!(
            e.to_string().contains(&path.display().to_string()),
            "the error does not name the file: {e}"
        ),
    }
    // Uncompressed input: the in-memory parser and the file reader agree exactly.
    if !data.starts_with(&[0x1f, 0x8b]) {
        assert_eq!(IdxArray::parse(data, &path), from_file, "IdxArray::parse and read_idx disagree");
    }
    // The same file as images and as labels: must be an error (one magic number is wrong)
    // or a consistent dataset, never a panic.
    if let Ok(m) = Mnist::from_files(&path, &path) {
        assert_eq!(m.images().len(), m.len() * m.rows() * m.cols());
    }
    from_file.map(|_| ()).map_err(|e| e.to_string())
}

fn check_idx_array(a: &IdxArray) {
    let numel = a.dims.iter().try_fold(1usize, |n, &d| n.checked_mul(d));
    assert_eq!(numel, Some(a.data.len()), "dims {:?} do not match {} data bytes", a.dims, a.data.len());
}

/// `StateDict::from_safetensors_bytes`, and on success a round trip through
/// `to_safetensors_bytes` that must be a fixed point.
pub fn check_safetensors(data: &[u8]) -> Outcome {
    let origin = "fuzz-input.safetensors";
    let sd = match StateDict::from_safetensors_bytes(data, origin) {
        Ok(sd) => sd,
        Err(e) => {
            let text = e.to_string();
            assert!(text.contains(origin), "the error does not name the file: {text}");
            return Err(text);
        }
    };
    for (name, t) in sd.iter() {
        assert_eq!(t.numel(), t.shape().iter().product::<usize>(), "tensor {name}");
        assert!(t.is_contiguous(), "tensor {name} is not contiguous");
    }
    let bytes = sd.to_safetensors_bytes().expect("a loaded state dict encodes");
    let back = StateDict::from_safetensors_bytes(&bytes, "re-encoded").expect("a re-encoded state dict loads");
    assert_eq!(back.len(), sd.len());
    for (name, t) in sd.iter() {
        let u = back.get(name).unwrap_or_else(|| panic!("tensor {name} lost in the round trip"));
        assert_eq!((u.shape(), u.dtype()), (t.shape(), t.dtype()), "tensor {name}");
    }
    assert_eq!(back.to_safetensors_bytes().expect("encodes again"), bytes, "encoding is not a fixed point");
    Ok(())
}
