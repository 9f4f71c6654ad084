//! The IDX reader and the MNIST loader on the bundled files, their raw (un-gzipped)
//! copies, and a corpus of crafted bad files: each must give an `Err` naming the file.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use flate2::read::GzDecoder;
use flate2::write::GzEncoder;
use flate2::Compression;
use nabla_data::{read_idx, Dataset, Mnist};

const IMAGES: &str = "t10k-images-idx3-ubyte";
const LABELS: &str = "t10k-labels-idx1-ubyte";

/// A fresh, empty directory for one test.
fn temp_dir(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("nabla-data-idx").join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn bundled(name: &str) -> PathBuf {
    Mnist::bundled_dir().join(format!("{name}.gz"))
}

fn gunzip(path: &Path) -> Vec<u8> {
    let mut out = Vec::new();
    GzDecoder::new(std::fs::File::open(path).unwrap()).read_to_end(&mut out).unwrap();
    out
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = GzEncoder::new(Vec::new(), Compression::fast());
    enc.write_all(bytes).unwrap();
    enc.finish().unwrap()
}

/// An IDX file of unsigned bytes with the given dimensions and body.
fn idx(dims: &[u32], body: &[u8]) -> Vec<u8> {
    let mut v = vec![0, 0, 8, dims.len() as u8];
    for d in dims {
        v.extend_from_slice(&d.to_be_bytes());
    }
    v.extend_from_slice(body);
    v
}

#[test]
fn bundled_test_set_has_the_known_labels() {
    let labels = read_idx(bundled(LABELS)).unwrap();
    assert_eq!(labels.dims, vec![10_000]);
    assert_eq!(labels.magic(), 2049);
    assert_eq!(&labels.data[..3], &[7, 2, 1]);
    let images = read_idx(bundled(IMAGES)).unwrap();
    assert_eq!(images.dims, vec![10_000, 28, 28]);
    assert_eq!(images.magic(), 2051);
    // Digit counts of the MNIST test set.
    let mut counts = [0usize; 10];
    for &l in &labels.data {
        counts[l as usize] += 1;
    }
    assert_eq!(counts, [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]);
}

#[test]
fn bundled_split_is_8000_then_2000() {
    let split = Mnist::bundled().unwrap();
    assert_eq!((split.train.len(), split.test.len()), (8_000, 2_000));
    let (x, y) = split.train.tensors();
    assert_eq!(x.shape(), &[8_000, 1, 28, 28]);
    let pixels = x.to_vec::<f32>();
    assert!(pixels.iter().all(|v| (0.0..=1.0).contains(v)));
    assert!(pixels.contains(&1.0));
    assert_eq!(&y.to_vec::<i64>()[..3], &[7, 2, 1]);
    // The evaluation set starts at image 8000 of the file.
    let all = read_idx(bundled(LABELS)).unwrap();
    let test_labels = split.test.tensors().1.to_vec::<i64>();
    assert_eq!(test_labels[0], i64::from(all.data[8_000]));
    assert_eq!(test_labels[1_999], i64::from(all.data[9_999]));
}

#[test]
fn raw_and_gzipped_files_read_the_same() {
    let dir = temp_dir("raw");
    for name in [IMAGES, LABELS] {
        std::fs::write(dir.join(name), gunzip(&bundled(name))).unwrap();
    }
    let raw = Mnist::load(&dir, false).unwrap();
    let gz = Mnist::load(Mnist::bundled_dir(), false).unwrap();
    assert_eq!(raw, gz);
    assert_eq!(read_idx(dir.join(LABELS)).unwrap(), read_idx(bundled(LABELS)).unwrap());
}

#[test]
fn gzip_is_detected_by_content_not_name() {
    let dir = temp_dir("misnamed");
    // Gzipped bytes without `.gz`, raw bytes with `.gz`.
    std::fs::copy(bundled(LABELS), dir.join(LABELS)).unwrap();
    std::fs::write(dir.join(format!("{IMAGES}.gz")), gunzip(&bundled(IMAGES))).unwrap();
    let m = Mnist::load(&dir, false).unwrap();
    assert_eq!(m.len(), 10_000);
    assert_eq!(&m.labels()[..3], &[7, 2, 1]);
}

#[test]
fn load_dir_uses_train_files_when_present() {
    let dir = temp_dir("full");
    let images = gunzip(&bundled(IMAGES));
    let labels = gunzip(&bundled(LABELS));
    // A fake "train" set: the first 100 test images, written with a fresh header.
    std::fs::write(dir.join("train-images-idx3-ubyte"), idx(&[100, 28, 28], &images[16..16 + 100 * 784])).unwrap();
    std::fs::write(dir.join("train-labels-idx1-ubyte.gz"), gzip(&idx(&[100], &labels[8..108]))).unwrap();
    std::fs::write(dir.join(IMAGES), &images).unwrap();
    std::fs::write(dir.join(LABELS), &labels).unwrap();
    let split = Mnist::load_dir(&dir).unwrap();
    assert_eq!((split.train.len(), split.test.len()), (100, 10_000));
    assert_eq!(split.train.tensors().1.to_vec::<i64>()[..3], [7, 2, 1]);
}

/// Writes `bytes` as `name` in a fresh directory and reads it with `read_idx`; returns the
/// error message, checking that it names the file.
fn idx_error(test: &str, name: &str, bytes: &[u8]) -> String {
    let dir = temp_dir(test);
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    let msg = read_idx(&path).expect_err("a bad file must be an Err").to_string();
    assert!(msg.contains(&path.display().to_string()), "message does not name the file: {msg}");
    msg
}

/// As [`idx_error`] for a pair of files loaded with `Mnist::load`; `bad` is the file
/// whose name the message must contain.
fn mnist_error(test: &str, images: &[u8], labels: &[u8], bad: &str) -> String {
    let dir = temp_dir(test);
    std::fs::write(dir.join(IMAGES), images).unwrap();
    std::fs::write(dir.join(LABELS), labels).unwrap();
    let msg = Mnist::load(&dir, false).expect_err("bad files must be an Err").to_string();
    assert!(msg.contains(&dir.join(bad).display().to_string()), "message does not name {bad}: {msg}");
    msg
}

#[test]
fn empty_file() {
    let msg = idx_error("empty", "x-idx1-ubyte", &[]);
    assert!(msg.contains("empty file"), "{msg}");
}

#[test]
fn bad_magic() {
    let msg = idx_error("magic", "x", b"PK\x03\x04 not an idx file");
    assert!(msg.contains("bad magic number"), "{msg}");
    let msg = idx_error("type", "x", &[0, 0, 0x0d, 1, 0, 0, 0, 1, 0, 0, 0, 0]);
    assert!(msg.contains("unsupported element type 0x0d"), "{msg}");
}

#[test]
fn truncated_header() {
    let msg = idx_error("header3", "x", &[0, 0, 8]);
    assert!(msg.contains("truncated header"), "{msg}");
    let msg = idx_error("header-dims", "x", &[0, 0, 8, 3, 0, 0, 0, 10, 0, 0]);
    assert!(msg.contains("truncated header"), "{msg}");
    let msg = idx_error("header-gz", "x.gz", &gzip(&[0, 0, 8, 3, 0, 0]));
    assert!(msg.contains("truncated header"), "{msg}");
}

#[test]
fn truncated_data() {
    let labels = gunzip(&bundled(LABELS));
    let msg = idx_error("data", "labels", &labels[..5_000]);
    assert!(msg.contains("truncated data: the header promises 10000 elements, the file holds 4992"), "{msg}");
    let msg = idx_error("data-gz", "labels.gz", &gzip(&labels[..5_000]));
    assert!(msg.contains("truncated data"), "{msg}");
}

#[test]
fn trailing_bytes() {
    let msg = idx_error("trailing", "x", &idx(&[2], &[1, 2, 3]));
    assert!(msg.contains("1 trailing bytes"), "{msg}");
    let msg = idx_error("trailing-gz", "x.gz", &gzip(&idx(&[2], &[1, 2, 3])));
    assert!(msg.contains("1 trailing bytes"), "{msg}");
}

#[test]
fn header_claiming_a_trillion_elements_allocates_nothing() {
    let liar = idx(&[1_000_000, 1_000, 1_000], &[0; 64]);
    let msg = idx_error("huge", "x", &liar);
    assert!(msg.contains("promises 1000000000000 elements"), "{msg}");
    let msg = idx_error("huge-gz", "x.gz", &gzip(&liar));
    assert!(msg.contains("more than a") && msg.contains("gzip file can hold"), "{msg}");
    // Exactly the largest count a 32-bit header can claim, per dimension.
    let msg = idx_error("max", "x", &idx(&[u32::MAX, u32::MAX], &[]));
    assert!(msg.contains("truncated data"), "{msg}");
}

#[test]
fn corrupt_gzip() {
    let mut gz = std::fs::read(bundled(LABELS)).unwrap();
    let mid = gz.len() / 2;
    for b in &mut gz[mid..mid + 64] {
        *b ^= 0x5a;
    }
    let msg = idx_error("corrupt-gz", "x.gz", &gz);
    assert!(msg.contains("gzip") || msg.contains("truncated"), "{msg}");
    // A gzip magic followed by garbage.
    let msg = idx_error("garbage-gz", "x.gz", &[0x1f, 0x8b, 1, 2, 3, 4, 5]);
    assert!(msg.contains("gzip"), "{msg}");
}

#[test]
fn truncated_gzip_stream() {
    let gz = std::fs::read(bundled(LABELS)).unwrap();
    let msg = idx_error("cut-gz", "x.gz", &gz[..gz.len() / 2]);
    assert!(msg.contains("gzip") || msg.contains("truncated"), "{msg}");
    // Cut inside the 8-byte trailer: the data is complete but the checksum is missing.
    let msg = idx_error("cut-trailer", "x.gz", &gz[..gz.len() - 4]);
    assert!(msg.contains("gzip"), "{msg}");
}

#[test]
fn image_and_label_counts_must_match() {
    let images = idx(&[3, 2, 2], &[0; 12]);
    let labels = idx(&[2], &[1, 2]);
    let msg = mnist_error("count", &images, &labels, LABELS);
    assert!(msg.contains("2 labels for the 3 images"), "{msg}");
}

#[test]
fn swapped_files_are_named_by_their_magic() {
    let images = idx(&[2, 2, 2], &[0; 8]);
    let labels = idx(&[2], &[1, 2]);
    let msg = mnist_error("swapped", &labels, &images, IMAGES);
    assert!(msg.contains("bad magic number 2049, expected 2051 (an IDX image file); is this a label file?"), "{msg}");
    let msg = mnist_error("two-d", &images, &idx(&[2, 1], &[1, 2]), LABELS);
    assert!(msg.contains("bad magic number 2050, expected 2049"), "{msg}");
}

#[test]
fn zero_sized_images_are_rejected() {
    let msg = mnist_error("zero", &idx(&[2, 0, 28], &[]), &idx(&[2], &[1, 2]), IMAGES);
    assert!(msg.contains("0x28 pixels"), "{msg}");
}

#[test]
fn missing_files_are_named() {
    let dir = temp_dir("missing");
    let msg = Mnist::load(&dir, true).unwrap_err().to_string();
    assert!(msg.contains("train-images-idx3-ubyte"), "{msg}");
    let msg = read_idx(dir.join("nope")).unwrap_err().to_string();
    assert!(msg.contains("nope"), "{msg}");
}
