//! A mutation fuzzer that runs on stable Rust, for machines without nightly (cargo-fuzz
//! needs it). It starts from the files in `tests/corpus/` (valid seeds and crafted bad
//! files), stacks random mutations — bit flips, interesting values, truncations,
//! insertions, splices, and format-aware edits of IDX dimension fields, gzip payloads,
//! safetensors header lengths, JSON numbers and dtypes — and runs each input through
//! the checks of `nabla_fuzz` under `catch_unwind`. Inputs that give a result not seen
//! before (a new error text, digits ignored) join the pool: a crude stand-in for
//! coverage feedback.
//!
//! A panic is a finding: the input is written to `fuzz/artifacts/stable/`. So is an
//! input that makes a single allocation larger than it can justify. An allocation over
//! 1 GiB aborts the process at once, naming the iteration: rerun with the same `--seed`
//! and `--replay <iteration>` to write that input out.
//!
//! ```text
//! cargo run --release --bin stable_fuzz -- all --secs 300 [--seed 1]
//! cargo run --release --bin stable_fuzz -- idx --secs 60
//! cargo run --release --bin stable_fuzz -- safetensors --seed 7 --replay 123456
//! ```

use std::alloc::{GlobalAlloc, Layout, System};
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

// ---- allocation guard ---------------------------------------------------------------------

/// A single allocation above this aborts the run (no input of ours justifies it).
const HARD_LIMIT: usize = 1 << 30;
static ITERATION: AtomicU64 = AtomicU64::new(0);
static LARGEST: AtomicUsize = AtomicUsize::new(0);

struct Guard;

// SAFETY: forwards to the system allocator; only records sizes.
unsafe impl GlobalAlloc for Guard {
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
static GLOBAL: Guard = Guard;

fn note(size: usize) {
    LARGEST.fetch_max(size, Ordering::Relaxed);
    if size > HARD_LIMIT {
        huge_allocation(size);
    }
}

/// Reports without allocating, then aborts.
fn huge_allocation(size: usize) -> ! {
    struct Stack {
        buf: [u8; 256],
        len: usize,
    }
    impl std::fmt::Write for Stack {
        fn write_str(&mut self, s: &str) -> std::fmt::Result {
            let n = s.len().min(self.buf.len() - self.len);
            self.buf[self.len..self.len + n].copy_from_slice(&s.as_bytes()[..n]);
            self.len += n;
            Ok(())
        }
    }
    let mut m = Stack { buf: [0; 256], len: 0 };
    let _ = std::fmt::write(
        &mut m,
        format_args!(
            "\nstable_fuzz: FINDING: an allocation of {size} bytes at iteration {}; \
             rerun with the same --seed and --replay {} to write the input out\n",
            ITERATION.load(Ordering::Relaxed),
            ITERATION.load(Ordering::Relaxed)
        ),
    );
    let _ = std::io::stderr().write_all(&m.buf[..m.len]);
    std::process::abort()
}

// ---- randomness -----------------------------------------------------------------------------

/// SplitMix64: small, fast, and the same on every platform, so a seed replays exactly.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
    fn chance(&mut self, one_in: usize) -> bool {
        self.below(one_in) == 0
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

const U32S: &[u32] = &[
    0, 1, 2, 3, 7, 8, 16, 28, 60, 255, 256, 0x7fff, 0xffff, 0x1_0000, 1_000_000, 0x7fff_ffff, 0x8000_0000,
    0xffff_fffe, 0xffff_ffff,
];
const U64S: &[u64] = &[
    0,
    1,
    7,
    8,
    16,
    255,
    4096,
    0xffff_ffff,
    1 << 32,
    1 << 40,
    1_000_000_000_000,
    i64::MAX as u64,
    u64::MAX - 7,
    u64::MAX,
];
const NUMBERS: &[&str] = &[
    "0",
    "1",
    "-1",
    "2",
    "4",
    "16",
    "4294967295",
    "4294967296",
    "1000000000000",
    "9223372036854775807",
    "9223372036854775808",
    "18446744073709551615",
    "18446744073709551616",
    "99999999999999999999999999",
    "1e3",
    "1.5",
    "-0",
    "null",
];
const DTYPES: &[&str] = &[
    "F32", "F64", "F16", "BF16", "I64", "I32", "I16", "I8", "U8", "U16", "U32", "U64", "BOOL", "F8_E4M3", "F8_E5M2",
    "F4", "C64", "XYZ", "",
];

// ---- mutations ------------------------------------------------------------------------------

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    Idx,
    Safetensors,
}

fn mutate(rng: &mut Rng, kind: Kind, input: &mut Vec<u8>, pool: &[Vec<u8>]) {
    let rounds = 1 + rng.below(4);
    for _ in 0..rounds {
        let structured = rng.chance(2);
        match (kind, structured) {
            (Kind::Idx, true) => mutate_idx(rng, input, pool),
            (Kind::Safetensors, true) => mutate_safetensors(rng, input),
            _ => mutate_bytes(rng, input, pool),
        }
    }
    input.truncate(1 << 20);
}

fn mutate_bytes(rng: &mut Rng, v: &mut Vec<u8>, pool: &[Vec<u8>]) {
    let len = v.len();
    match rng.below(10) {
        0 if len > 0 => {
            let i = rng.below(len);
            v[i] ^= 1 << rng.below(8);
        }
        1 if len > 0 => {
            let i = rng.below(len);
            v[i] = *rng.pick(&[0u8, 1, 0x7f, 0x80, 0xff, b'"', b'{', b'}', b'[', b',', b'-', b'9']);
        }
        2 => v.truncate(rng.below(len + 1)),
        3 => {
            let n = 1 + rng.below(64);
            let at = rng.below(len + 1);
            let bytes: Vec<u8> = (0..n).map(|_| rng.next() as u8).collect();
            v.splice(at..at, bytes);
        }
        4 if len > 0 => {
            let a = rng.below(len);
            let b = (a + 1 + rng.below(16)).min(len);
            v.drain(a..b);
        }
        5 if len > 0 => {
            let a = rng.below(len);
            let b = (a + 1 + rng.below(64)).min(len);
            let chunk = v[a..b].to_vec();
            let at = rng.below(len + 1);
            v.splice(at..at, chunk);
        }
        6 if len >= 4 => {
            let i = rng.below(len - 3);
            v[i..i + 4].copy_from_slice(&rng.pick(U32S).to_be_bytes());
        }
        7 if len >= 8 => {
            let i = rng.below(len - 7);
            v[i..i + 8].copy_from_slice(&rng.pick(U64S).to_le_bytes());
        }
        8 if !pool.is_empty() => {
            let other = rng.pick(pool);
            let cut = rng.below(len + 1);
            let from = rng.below(other.len() + 1);
            v.truncate(cut);
            v.extend_from_slice(&other[from..]);
        }
        _ if len > 0 => {
            let i = rng.below(len);
            v[i] = rng.next() as u8;
        }
        _ => v.push(rng.next() as u8),
    }
}

fn is_gzip(v: &[u8]) -> bool {
    v.starts_with(&[0x1f, 0x8b])
}

fn gunzip(v: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(v).take(1 << 20).read_to_end(&mut out).ok()?;
    Some(out)
}

fn gzip(v: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(v).expect("in memory");
    enc.finish().expect("in memory")
}

fn mutate_idx(rng: &mut Rng, v: &mut Vec<u8>, pool: &[Vec<u8>]) {
    if is_gzip(v) {
        // mutate the payload and compress it again, or the compressed bytes themselves
        if rng.chance(4) {
            return mutate_bytes(rng, v, pool);
        }
        if let Some(mut inner) = gunzip(v) {
            mutate_idx(rng, &mut inner, pool);
            *v = gzip(&inner);
        }
        return;
    }
    let ndim = v.get(3).copied().unwrap_or(0) as usize;
    match rng.below(5) {
        0 if ndim > 0 => {
            let pos = 4 + 4 * rng.below(ndim);
            if pos + 4 <= v.len() {
                v[pos..pos + 4].copy_from_slice(&rng.pick(U32S).to_be_bytes());
            }
        }
        1 if v.len() >= 4 => v[3] = *rng.pick(&[0u8, 1, 2, 3, 4, 5, 8, 64, 254, 255]),
        2 if v.len() >= 4 => v[2] = *rng.pick(&[0x08u8, 0x09, 0x0b, 0x0c, 0x0d, 0x0e, 0x00, 0xff]),
        3 => {
            // make the body the length the header promises (when small): reaches the
            // deeper checks (MNIST magic numbers, dataset conversion)
            let header = 4 + 4 * ndim;
            if v.len() >= header && ndim > 0 {
                let numel = v[4..header]
                    .chunks_exact(4)
                    .try_fold(1usize, |n, c| n.checked_mul(u32::from_be_bytes([c[0], c[1], c[2], c[3]]) as usize));
                if let Some(n) = numel.filter(|&n| n <= 1 << 16) {
                    v.resize(header + n, 0x2a);
                }
            }
        }
        _ => *v = gzip(v),
    }
}

/// The header region `8..8 + n` of a safetensors file, if its length field fits the file.
fn st_header(v: &[u8]) -> Option<(usize, usize)> {
    let n = u64::from_le_bytes(v.get(..8)?.try_into().ok()?);
    let end = 8usize.checked_add(usize::try_from(n).ok()?)?;
    (end <= v.len()).then_some((8, end))
}

fn set_st_header_len(v: &mut [u8], n: usize) {
    if v.len() >= 8 {
        v[..8].copy_from_slice(&(n as u64).to_le_bytes());
    }
}

fn mutate_safetensors(rng: &mut Rng, v: &mut Vec<u8>) {
    if rng.chance(6) {
        // the header length field
        let value = match (rng.below(3), st_header(v)) {
            (0, Some((a, b))) => ((b - a) as u64).wrapping_add(rng.below(9) as u64).wrapping_sub(4),
            _ => *rng.pick(U64S),
        };
        if v.len() < 8 {
            v.resize(8, 0);
        }
        v[..8].copy_from_slice(&value.to_le_bytes());
        return;
    }
    let Some((a, b)) = st_header(v) else { return };
    let mut header = v[a..b].to_vec();
    let data = v[b..].to_vec();
    match rng.below(5) {
        0 | 1 => {
            // replace a number
            let runs: Vec<(usize, usize)> = digit_runs(&header);
            if runs.is_empty() {
                return;
            }
            let (s, e) = *rng.pick(&runs);
            header.splice(s..e, rng.pick(NUMBERS).bytes());
        }
        2 => {
            // replace a dtype
            let key = b"\"dtype\":\"";
            let starts: Vec<usize> = header.windows(key.len()).enumerate().filter(|(_, w)| *w == key).map(|(i, _)| i + key.len()).collect();
            if starts.is_empty() {
                return;
            }
            let s = *rng.pick(&starts);
            let e = header[s..].iter().position(|&c| c == b'"').map_or(header.len(), |p| s + p);
            header.splice(s..e, rng.pick(DTYPES).bytes());
        }
        3 => {
            // delete or insert one JSON character
            if header.is_empty() {
                return;
            }
            let i = rng.below(header.len());
            if rng.chance(2) {
                header.remove(i);
            } else {
                header.insert(i, *rng.pick(b"{}[],:\"0-x "));
            }
        }
        _ => {
            // grow or cut the data section
            let mut data = data;
            if rng.chance(2) {
                data.truncate(rng.below(data.len() + 1));
            } else {
                data.extend((0..1 + rng.below(32)).map(|_| rng.next() as u8));
            }
            v.truncate(b);
            v.extend_from_slice(&data);
            return;
        }
    }
    // usually keep the length field honest, so that the mutation reaches the JSON checks
    let n = if rng.chance(5) { b - a } else { header.len() };
    v.clear();
    v.extend_from_slice(&[0; 8]);
    set_st_header_len(v, n);
    v.extend_from_slice(&header);
    v.extend_from_slice(&data);
}

fn digit_runs(s: &[u8]) -> Vec<(usize, usize)> {
    let mut runs = Vec::new();
    let mut i = 0;
    while i < s.len() {
        if s[i].is_ascii_digit() || (s[i] == b'-' && s.get(i + 1).is_some_and(u8::is_ascii_digit)) {
            let start = i;
            i += 1;
            while i < s.len() && s[i].is_ascii_digit() {
                i += 1;
            }
            runs.push((start, i));
        } else {
            i += 1;
        }
    }
    runs
}

// ---- the run --------------------------------------------------------------------------------

struct Args {
    kinds: Vec<Kind>,
    secs: u64,
    seed: u64,
    replay: Option<u64>,
}

fn parse_args() -> Args {
    let mut args = std::env::args().skip(1);
    let usage = "usage: stable_fuzz <idx|safetensors|all> [--secs N] [--seed S] [--replay ITERATION]";
    let kinds = match args.next().as_deref() {
        Some("idx") => vec![Kind::Idx],
        Some("safetensors") => vec![Kind::Safetensors],
        Some("all") => vec![Kind::Idx, Kind::Safetensors],
        _ => panic!("{usage}"),
    };
    let mut out = Args { kinds, secs: 60, seed: 1, replay: None };
    while let Some(flag) = args.next() {
        let value: u64 = args.next().and_then(|v| v.parse().ok()).unwrap_or_else(|| panic!("{usage}"));
        match flag.as_str() {
            "--secs" => out.secs = value,
            "--seed" => out.seed = value,
            "--replay" => out.replay = Some(value),
            _ => panic!("{usage}"),
        }
    }
    out
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn files_under(dir: &Path, out: &mut Vec<Vec<u8>>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    let mut paths: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
    paths.sort(); // the pool's order must not depend on the file system, for --replay
    for p in paths {
        if p.is_dir() {
            files_under(&p, out);
        } else if let Ok(bytes) = std::fs::read(&p) {
            if bytes.len() <= 1 << 16 {
                out.push(bytes);
            }
        }
    }
}

fn initial_pool(kind: Kind) -> Vec<Vec<u8>> {
    let corpus = repo().join("tests/corpus");
    let mut pool = Vec::new();
    match kind {
        Kind::Idx => {
            files_under(&corpus.join("seeds/idx"), &mut pool);
            files_under(&corpus.join("idx"), &mut pool);
            files_under(&corpus.join("mnist"), &mut pool);
            files_under(&repo().join("data/mnist"), &mut pool); // the labels (the images are too big)
        }
        Kind::Safetensors => {
            files_under(&corpus.join("seeds/safetensors"), &mut pool);
            files_under(&corpus.join("safetensors"), &mut pool);
        }
    }
    assert!(!pool.is_empty(), "no corpus files found under {}", corpus.display());
    pool
}

/// What the largest single allocation for an input of `len` bytes may be: the whole file,
/// widened (U8 → I64 is 8×) and copied a few times; for gzip, up to deflate's 1032:1 ratio
/// plus the reader's 64 MiB preallocation cap.
fn allocation_budget(kind: Kind, len: usize) -> usize {
    match kind {
        Kind::Idx => 1032 * len + (64 << 20) + (1 << 20),
        Kind::Safetensors => 32 * len + (1 << 20),
    }
}

/// An error text without its file name and with every word holding a digit (sizes,
/// magic numbers, shapes) blanked: its "kind".
fn error_class(text: &str) -> String {
    let text = text.split_once(": ").map_or(text, |(_, rest)| rest);
    let words: Vec<&str> =
        text.split_whitespace().map(|w| if w.chars().any(|c| c.is_ascii_digit()) { "#" } else { w }).collect();
    let mut out = words.join(" ");
    out.truncate(100);
    out
}

#[derive(Default)]
struct Stats {
    inputs: u64,
    ok: u64,
    errors: BTreeMap<String, u64>,
    panics: BTreeMap<String, (u64, PathBuf)>,
    big_allocations: BTreeMap<String, (u64, PathBuf)>,
    largest: (usize, usize), // (allocation, input length)
}

static PANIC_TEXT: Mutex<Option<String>> = Mutex::new(None);

fn main() {
    let args = parse_args();
    std::panic::set_hook(Box::new(|info| {
        let msg = info
            .payload()
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| info.payload().downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_default();
        let at = info.location().map(|l| format!(" at {}:{}", l.file(), l.line())).unwrap_or_default();
        *PANIC_TEXT.lock().unwrap_or_else(|e| e.into_inner()) = Some(format!("{msg}{at}"));
    }));
    let artifacts = repo().join("fuzz/artifacts/stable");
    std::fs::create_dir_all(&artifacts).expect("create fuzz/artifacts/stable");

    let mut rng = Rng(args.seed);
    let mut pools: Vec<(Kind, Vec<Vec<u8>>)> = args.kinds.iter().map(|&k| (k, initial_pool(k))).collect();
    let mut seen: Vec<std::collections::HashSet<String>> = vec![Default::default(); pools.len()];
    let mut stats: Vec<Stats> = args.kinds.iter().map(|_| Stats::default()).collect();
    let start = Instant::now();
    let deadline = start + Duration::from_secs(args.secs);
    let mut next_report = start + Duration::from_secs(30);
    let mut iteration: u64 = 0;
    eprintln!(
        "stable_fuzz: {:?}, seed {}, {} s; pools of {:?} inputs",
        args.kinds,
        args.seed,
        args.secs,
        pools.iter().map(|p| p.1.len()).collect::<Vec<_>>()
    );
    loop {
        if args.replay.is_none() && Instant::now() >= deadline {
            break;
        }
        iteration += 1;
        ITERATION.store(iteration, Ordering::Relaxed);
        let k = rng.below(pools.len());
        let (kind, pool) = &pools[k];
        let kind = *kind;
        let mut input = pool[rng.below(pool.len())].clone();
        mutate(&mut rng, kind, &mut input, pool);
        if args.replay == Some(iteration) {
            let path = artifacts.join(format!("replay-{:?}-seed{}-iter{iteration}.bin", kind, args.seed));
            std::fs::write(&path, &input).expect("write the replayed input");
            eprintln!("stable_fuzz: wrote {}", path.display());
            return;
        }

        LARGEST.store(0, Ordering::Relaxed);
        let result = catch_unwind(AssertUnwindSafe(|| match kind {
            Kind::Idx => nabla_fuzz::check_idx(&input),
            Kind::Safetensors => nabla_fuzz::check_safetensors(&input),
        }));
        let largest = LARGEST.load(Ordering::Relaxed);
        let s = &mut stats[k];
        s.inputs += 1;
        if largest > s.largest.0 {
            s.largest = (largest, input.len());
        }
        let save = |what: &str| {
            let path = artifacts.join(format!("{:?}-{what}-seed{}-iter{iteration}.bin", kind, args.seed));
            std::fs::write(&path, &input).expect("write the artifact");
            path
        };
        if largest > allocation_budget(kind, input.len()) {
            let key = format!("{largest} bytes for a {}-byte input", input.len());
            let entry = s.big_allocations.entry(key).or_insert_with(|| (0, save("alloc")));
            entry.0 += 1;
        }
        let class = match result {
            Ok(Ok(())) => {
                s.ok += 1;
                "<ok>".to_string()
            }
            Ok(Err(text)) => {
                let class = error_class(&text);
                *s.errors.entry(class.clone()).or_insert(0) += 1;
                class
            }
            Err(_) => {
                let text = PANIC_TEXT.lock().unwrap_or_else(|e| e.into_inner()).take().unwrap_or_default();
                let class = error_class(&text);
                let fresh = !s.panics.contains_key(&class);
                let entry = s.panics.entry(class.clone()).or_insert_with(|| (0, save("panic")));
                entry.0 += 1;
                if fresh {
                    eprintln!("stable_fuzz: PANIC ({kind:?}, iteration {iteration}): {text}\n  input: {}", entry.1.display());
                }
                format!("<panic> {class}")
            }
        };
        // a result not seen before: keep the input as a starting point for later mutations
        if (seen[k].insert(class) || rng.chance(64)) && pools[k].1.len() < 8192 {
            pools[k].1.push(input);
        }
        if Instant::now() >= next_report {
            next_report += Duration::from_secs(30);
            let total: u64 = stats.iter().map(|s| s.inputs).sum();
            eprintln!("stable_fuzz: {:.0} s, {total} inputs", start.elapsed().as_secs_f64());
        }
    }
    let _ = std::fs::remove_file(nabla_fuzz::scratch_path());

    let secs = start.elapsed().as_secs_f64();
    println!("stable_fuzz: seed {}, ran {secs:.1} s, {iteration} inputs", args.seed);
    for ((kind, pool), s) in pools.iter().zip(&stats) {
        println!(
            "\n== {kind:?}: {} inputs ({:.0}/s), {} Ok, {} Err in {} distinct kinds; pool grew to {}; \
             largest single allocation {} bytes (for a {}-byte input)",
            s.inputs,
            s.inputs as f64 / secs,
            s.ok,
            s.inputs - s.ok - s.panics.values().map(|p| p.0).sum::<u64>(),
            s.errors.len(),
            pool.len(),
            s.largest.0,
            s.largest.1
        );
        let mut errors: Vec<_> = s.errors.iter().collect();
        errors.sort_by(|a, b| b.1.cmp(a.1));
        for (class, n) in errors.iter().take(12) {
            println!("   {n:>9}  {class}");
        }
        if errors.len() > 12 {
            println!("   … and {} more kinds", errors.len() - 12);
        }
        println!("   panics: {}", if s.panics.is_empty() { "none" } else { "" });
        for (class, (n, path)) in &s.panics {
            println!("   {n:>9}  {class}\n              first input: {}", path.display());
        }
        println!("   allocations over budget: {}", if s.big_allocations.is_empty() { "none" } else { "" });
        for (what, (n, path)) in &s.big_allocations {
            println!("   {n:>9}  {what}: {}", path.display());
        }
    }
    let findings: usize = stats.iter().map(|s| s.panics.len() + s.big_allocations.len()).sum();
    std::process::exit(if findings == 0 { 0 } else { 1 });
}
