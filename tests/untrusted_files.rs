//! Files come from the outside world. nabla's readers — the IDX / MNIST reader and the
//! safetensors loader — must answer every corrupt, truncated or oversized file with an
//! error that names the file: never a panic, never an allocation the file cannot justify
//! (a header claiming 10^12 elements must not allocate them).
//!
//! This replays the crafted bad files of `tests/corpus/` (made by
//! `tests/corpus/make_corpus.py`, listed in `tests/corpus/README.md`) and the inputs the
//! fuzzers in `fuzz/` found worth keeping. Saving is checked too: a checkpoint is written
//! to a temporary file and renamed into place, so a failed save leaves the old file whole.

use nabla::data::{read_idx, Mnist};
use nabla::nn::StateDict;
use nabla::Tensor;
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

// ---- the largest allocation made by this thread -----------------------------------------

thread_local! {
    static LARGEST: Cell<usize> = const { Cell::new(0) };
}

/// Records the largest single allocation request of each thread (tests run in parallel,
/// each on its own thread, so they do not see each other's allocations).
struct PeakPerThread;

fn note(size: usize) {
    let _ = LARGEST.try_with(|l| l.set(l.get().max(size)));
}

// SAFETY: forwards every call to the system allocator.
unsafe impl GlobalAlloc for PeakPerThread {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        note(l.size());
        System.alloc(l)
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        System.dealloc(p, l)
    }
    unsafe fn alloc_zeroed(&self, l: Layout) -> *mut u8 {
        note(l.size());
        System.alloc_zeroed(l)
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, new_size: usize) -> *mut u8 {
        note(new_size);
        System.realloc(p, l, new_size)
    }
}

#[global_allocator]
static ALLOCATOR: PeakPerThread = PeakPerThread;

/// Runs `f` and returns its result with the largest single allocation it made.
fn largest_allocation<R>(f: impl FnOnce() -> R) -> (R, usize) {
    LARGEST.with(|l| l.set(0));
    let r = f();
    (r, LARGEST.with(|l| l.get()))
}

// ---- helpers ------------------------------------------------------------------------------

fn corpus(sub: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus").join(sub)
}

/// The files (or, with `dirs`, the directories) directly in `dir`, sorted.
fn entries(dir: &Path, dirs: bool) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir() == dirs)
        .collect();
    v.sort();
    assert!(!v.is_empty(), "nothing in {}", dir.display());
    v
}

/// Reads `path` with `read`, which must return an error naming `names` without panicking
/// and without allocating more than `budget` bytes at once. Returns a description of
/// what went wrong, if anything.
fn expect_rejected<T>(
    path: &Path,
    names: &Path,
    budget: usize,
    read: impl FnOnce(&Path) -> nabla::Result<T>,
) -> Option<String> {
    let (result, largest) = largest_allocation(|| catch_unwind(AssertUnwindSafe(|| read(path))));
    let shown = path.strip_prefix(env!("CARGO_MANIFEST_DIR")).unwrap_or(path).display();
    match result {
        Err(_) => Some(format!("{shown}: PANICKED")),
        Ok(Ok(_)) => Some(format!("{shown}: was accepted")),
        Ok(Err(e)) if !e.to_string().contains(&names.display().to_string()) => {
            Some(format!("{shown}: the error does not name the file: {e}"))
        }
        Ok(Err(_)) if largest > budget => Some(format!("{shown}: allocated {largest} bytes at once (budget {budget})")),
        Ok(Err(_)) => None,
    }
}

/// What a reader may allocate at once for a file of `len` bytes: a few copies of it,
/// widened to 8-byte elements, plus a little.
fn budget(len: usize) -> usize {
    16 * len + (64 << 10)
}

#[track_caller]
fn assert_none_failed(failures: Vec<Option<String>>, checked: usize) {
    let failures: Vec<String> = failures.into_iter().flatten().collect();
    assert!(failures.is_empty(), "{} of {checked} files mishandled:\n{}", failures.len(), failures.join("\n"));
}

// ---- IDX / MNIST --------------------------------------------------------------------------

#[test]
fn every_crafted_bad_idx_file_is_an_error_naming_it() {
    let files = entries(&corpus("idx"), false);
    let results = files
        .iter()
        .map(|f| expect_rejected(f, f, budget(std::fs::metadata(f).unwrap().len() as usize), |p| read_idx(p)))
        .collect();
    assert_none_failed(results, files.len());
}

#[test]
fn every_crafted_bad_mnist_directory_is_an_error_naming_a_file_in_it() {
    let dirs = entries(&corpus("mnist"), true);
    let results = dirs.iter().map(|d| expect_rejected(d, d, 1 << 20, |d| Mnist::load(d, false))).collect();
    assert_none_failed(results, dirs.len());
}

#[test]
fn idx_errors_say_what_is_wrong() {
    let err = |name: &str| read_idx(corpus("idx").join(name)).unwrap_err().to_string();
    let path = |name: &str| corpus("idx").join(name).display().to_string();
    let claims = "claims_10e12_elements.idx";
    assert_eq!(
        err(claims),
        format!("{}: truncated data: the header promises 1000000000000 elements, the file holds 16", path(claims))
    );
    let gz = "gzip_claims_10e12_elements.idx.gz";
    assert!(
        err(gz).starts_with(&format!(
            "{}: the header claims 1000000000000 elements (dimensions [1000000, 1000000]), more than a ",
            path(gz)
        )),
        "{}",
        err(gz)
    );
    assert!(err("dims_overflow_u64.idx").contains("overflow a 64-bit element count"));
    assert!(err("gzip_crc_mismatch.idx.gz").contains("corrupt or truncated gzip stream"));
    assert!(err("float_element_type.idx").contains("unsupported element type 0x0d"));
    // a second gzip member is read, as gunzip reads it (then it is trailing data), and so
    // is garbage after the stream: neither is silently ignored
    assert!(err("two_gzip_members.idx.gz").ends_with("112 trailing bytes after the 100 elements the header promises; is the header corrupt or the file concatenated?"));
    assert!(err("gzip_then_garbage.idx.gz").contains("corrupt or truncated gzip stream"));
}

#[test]
fn safetensors_errors_say_what_is_wrong() {
    let err = |name: &str| StateDict::load(corpus("safetensors").join(name)).err().unwrap().to_string();
    let path = |name: &str| corpus("safetensors").join(name).display().to_string();
    let name = "header_len_u64_max.safetensors";
    assert_eq!(err(name), format!("{}: not a valid safetensors file: header too large", path(name)));
    let name = "bool_byte_2.safetensors";
    assert_eq!(err(name), format!("{}: tensor m: BOOL data holds the byte 2, expected 0 or 1", path(name)));
    assert!(err("unsupported_dtype_u64.safetensors")
        .ends_with("tensor w: dtype U64 is not supported (nabla holds F32, F64, I64 and BOOL)"));
    assert!(err("shape_product_overflows.safetensors").contains("overflow"));
    assert!(err("data_truncated.safetensors").contains("not fully covered"));
}

#[test]
fn a_header_claiming_10e12_elements_allocates_nothing_like_it() {
    for name in ["claims_10e12_elements.idx", "gzip_claims_10e12_elements.idx.gz", "claims_u32max_elements.idx"] {
        let (r, largest) = largest_allocation(|| read_idx(corpus("idx").join(name)));
        assert!(r.is_err());
        assert!(largest < 64 << 10, "{name}: allocated {largest} bytes at once");
    }
}

#[test]
fn the_fuzzer_seeds_are_valid_files() {
    // The positive control: the readers accept good files, so the rejections above are
    // about the files, not a reader that rejects everything.
    for f in entries(&corpus("seeds/idx"), false) {
        let a = read_idx(&f).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(a.data.len(), a.dims.iter().product::<usize>());
    }
    for f in entries(&corpus("seeds/safetensors"), false) {
        let sd = StateDict::load(&f).unwrap_or_else(|e| panic!("{e}"));
        assert!(!sd.is_empty());
        for (name, t) in sd.iter() {
            // found by the libFuzzer target: a [3, 0] tensor was reported non-contiguous
            assert!(t.is_contiguous(), "{}: {name} {:?} is not contiguous", f.display(), t.shape());
        }
    }
    let mixed = StateDict::load(corpus("seeds/safetensors/mixed.safetensors")).unwrap();
    assert_eq!(mixed.get("a.weight").unwrap().to_vec::<f64>(), vec![0.5, -1.5]);
    assert_eq!(mixed.get("half").unwrap().to_vec::<f32>(), vec![1.0, -2.0]);
    assert_eq!(mixed.get("bytes").unwrap().to_vec::<i64>(), vec![1, 2, 255]);
    assert_eq!(mixed.get("empty").unwrap().shape(), &[0, 3]);
    assert_eq!(mixed.get("scalar").unwrap().shape(), &[] as &[usize]);
}

// ---- safetensors --------------------------------------------------------------------------

#[test]
fn every_crafted_bad_safetensors_file_is_an_error_naming_it() {
    let files = entries(&corpus("safetensors"), false);
    let results = files
        .iter()
        .map(|f| expect_rejected(f, f, budget(std::fs::metadata(f).unwrap().len() as usize), |p| StateDict::load(p)))
        .collect();
    assert_none_failed(results, files.len());
}

#[test]
fn a_safetensors_header_claiming_10e12_elements_allocates_nothing_like_it() {
    for name in [
        "shape_claims_10e12.safetensors",
        "shape_claims_10e12_matching_offsets.safetensors",
        "header_len_1e12.safetensors",
        "header_len_u64_max.safetensors",
    ] {
        let (r, largest) = largest_allocation(|| StateDict::load(corpus("safetensors").join(name)));
        assert!(r.is_err(), "{name} was accepted");
        assert!(largest < 64 << 10, "{name}: allocated {largest} bytes at once");
    }
}

// ---- saving -------------------------------------------------------------------------------

/// A fresh directory for one test.
fn temp_dir(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("untrusted_files").join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn state(value: f32) -> StateDict {
    let mut sd = StateDict::new();
    sd.insert("weight", Tensor::full(&[2, 3], value as f64));
    sd
}

#[test]
fn save_writes_a_temporary_file_and_renames_it_into_place() {
    let dir = temp_dir("rename");
    let path = dir.join("model.safetensors");
    state(1.0).save(&path).unwrap();
    state(2.0).save(&path).unwrap();
    assert_eq!(StateDict::load(&path).unwrap().get("weight").unwrap().to_vec::<f32>(), vec![2.0; 6]);
    // nothing else is left in the directory: the temporary file was renamed, not copied
    let names: Vec<String> =
        std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    assert_eq!(names, ["model.safetensors"]);
}

#[test]
fn a_failed_save_over_a_directory_leaves_it_and_its_contents_alone() {
    let dir = temp_dir("onto_dir");
    let target = dir.join("model.safetensors");
    std::fs::create_dir(&target).unwrap();
    std::fs::write(target.join("keep.txt"), b"keep").unwrap();
    let e = state(1.0).save(&target).unwrap_err();
    assert!(e.to_string().contains(&target.display().to_string()), "{e}");
    assert_eq!(std::fs::read(target.join("keep.txt")).unwrap(), b"keep");
    // no temporary file left behind
    let names: Vec<String> =
        std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    assert_eq!(names, ["model.safetensors"]);
}

#[test]
fn a_failed_save_into_a_missing_directory_is_an_io_error_naming_the_path() {
    let dir = temp_dir("missing");
    let path = dir.join("no/such/dir/model.safetensors");
    let e = state(1.0).save(&path).unwrap_err();
    assert!(matches!(e, nabla::Error::Io { .. }), "{e:?}");
    assert!(e.to_string().starts_with(&path.display().to_string()), "{e}");
}

#[cfg(unix)]
#[test]
fn a_failed_save_into_a_read_only_directory_leaves_the_existing_file_intact() {
    use std::os::unix::fs::PermissionsExt;
    let dir = temp_dir("read_only");
    let path = dir.join("model.safetensors");
    state(1.0).save(&path).unwrap();
    let before = std::fs::read(&path).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o555)).unwrap();
    // root ignores directory permissions: then the save succeeds and there is nothing to test
    let probe = dir.join("probe");
    let writable = std::fs::write(&probe, b"").is_ok();
    let _ = std::fs::remove_file(&probe);
    let result = state(2.0).save(&path);
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    if writable {
        eprintln!("the directory stays writable (running as root?): skipping the read-only check");
        return;
    }
    let e = result.unwrap_err();
    assert!(e.to_string().contains(&path.display().to_string()), "{e}");
    assert_eq!(std::fs::read(&path).unwrap(), before, "the old checkpoint was damaged");
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1, "a temporary file was left behind");
}

#[cfg(unix)]
#[test]
fn a_save_cut_short_leaves_the_existing_file_intact() {
    // A full disk or a crash mid-write: simulated by a file size limit. The temporary file
    // fails to write, the rename never happens, and the old checkpoint is untouched.
    let dir = temp_dir("cut_short");
    let path = dir.join("model.safetensors");
    state(1.0).save(&path).unwrap();
    let before = std::fs::read(&path).unwrap();
    let mut big = StateDict::new();
    big.insert("weight", Tensor::zeros(&[1 << 16])); // 256 KiB
    let e = with_file_size_limit(64 << 10, || big.save(&path)).unwrap_err();
    assert!(e.to_string().contains(&path.display().to_string()), "{e}");
    assert_eq!(std::fs::read(&path).unwrap(), before, "the old checkpoint was damaged");
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1, "a temporary file was left behind");
}

/// Runs `f` with RLIMIT_FSIZE lowered to `bytes` (writes past it fail with EFBIG; the
/// SIGXFSZ that would kill the process is ignored for the duration).
#[cfg(unix)]
fn with_file_size_limit<R>(bytes: u64, f: impl FnOnce() -> R) -> R {
    #[repr(C)]
    struct Rlimit {
        cur: u64,
        max: u64,
    }
    extern "C" {
        fn getrlimit(resource: i32, rlim: *mut Rlimit) -> i32;
        fn setrlimit(resource: i32, rlim: *const Rlimit) -> i32;
        fn signal(sig: i32, handler: usize) -> usize;
    }
    const RLIMIT_FSIZE: i32 = 1;
    const SIGXFSZ: i32 = 25;
    const SIG_IGN: usize = 1;
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _one_at_a_time = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let mut old = Rlimit { cur: 0, max: 0 };
    // SAFETY: plain libc calls with valid pointers; the limit is process-wide, which is why
    // no other test in this binary writes large files.
    unsafe {
        assert_eq!(getrlimit(RLIMIT_FSIZE, &mut old), 0);
        let prev_handler = signal(SIGXFSZ, SIG_IGN);
        assert_eq!(setrlimit(RLIMIT_FSIZE, &Rlimit { cur: bytes, max: old.max }), 0);
        let r = f();
        assert_eq!(setrlimit(RLIMIT_FSIZE, &old), 0);
        signal(SIGXFSZ, prev_handler);
        r
    }
}
