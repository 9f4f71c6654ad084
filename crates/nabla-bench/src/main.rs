//! `cargo run --release -p nabla-bench -- [workload ...]`: runs the standard workloads of
//! `shared/bench/WORKLOADS.md` exactly as the peer harness defines them and prints one JSON
//! line per workload on stdout (`"peer":"nabla"`); correctness checks go to stderr as
//! `[check] ...` lines.

#[global_allocator]
static GLOBAL: Mimalloc = Mimalloc;

/// mimalloc, asked for plain blocks when the alignment is one every block has (16 bytes):
/// `mimalloc::MiMalloc` always takes mimalloc's aligned entry points, which check the
/// alignment again and fall to a slower path more often.
struct Mimalloc;

/// The alignment every mimalloc block of at least this size has (as `malloc`'s, that of
/// `max_align_t`).
const BLOCK_ALIGN: usize = 16;

/// Whether a plain block satisfies `layout` (the test the standard library's own `System`
/// allocator makes before calling `malloc`).
fn plain(layout: std::alloc::Layout) -> bool {
    layout.align() <= BLOCK_ALIGN && layout.align() <= layout.size()
}

// SAFETY: every block comes from mimalloc and goes back to it (`mi_free` takes blocks of
// either kind); a block from `mi_malloc` / `mi_zalloc` / `mi_realloc` of at least 16 bytes
// is 16-aligned and a smaller one 8-aligned (mimalloc's guarantee, as malloc's), so it
// satisfies any layout `plain` accepts; other layouts use the aligned entry points.
unsafe impl std::alloc::GlobalAlloc for Mimalloc {
    unsafe fn alloc(&self, layout: std::alloc::Layout) -> *mut u8 {
        use libmimalloc_sys as mi;
        if plain(layout) {
            mi::mi_malloc(layout.size()).cast()
        } else {
            mi::mi_malloc_aligned(layout.size(), layout.align()).cast()
        }
    }
    unsafe fn alloc_zeroed(&self, layout: std::alloc::Layout) -> *mut u8 {
        use libmimalloc_sys as mi;
        if plain(layout) {
            mi::mi_zalloc(layout.size()).cast()
        } else {
            mi::mi_zalloc_aligned(layout.size(), layout.align()).cast()
        }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, _layout: std::alloc::Layout) {
        libmimalloc_sys::mi_free(ptr.cast())
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: std::alloc::Layout, new_size: usize) -> *mut u8 {
        use libmimalloc_sys as mi;
        if plain(std::alloc::Layout::from_size_align_unchecked(new_size, layout.align())) {
            mi::mi_realloc(ptr.cast(), new_size).cast()
        } else {
            mi::mi_realloc_aligned(ptr.cast(), new_size, layout.align()).cast()
        }
    }
}

mod workloads;
mod workloads_nn;

use std::time::Instant;

/// (id, iters, warm-up, metric)
pub const WORKLOADS: &[(&str, usize, usize, &str)] = &[
    ("matmul_64", 200, 3, "gflops"),
    ("matmul_256", 50, 3, "gflops"),
    ("matmul_1024", 10, 3, "gflops"),
    ("mlp_step", 50, 5, "ms_per_step"),
    ("cnn_step", 20, 3, "ms_per_step"),
    ("conv_big", 5, 1, "gflops"),
    ("tiny_ops", 20, 3, "us_per_op"),
    ("deep_chain", 3, 1, "ms_total"),
    ("elementwise_big", 10, 2, "gbytes_per_s"),
];

const CONV_BIG_FLOP: f64 = 3.0 * 2.0 * 16.0 * 64.0 * 56.0 * 56.0 * 64.0 * 9.0;
const ELEMWISE_N: usize = 16_777_216;

fn headline(workload: &str, median_s: f64) -> f64 {
    match workload {
        "matmul_64" | "matmul_256" | "matmul_1024" => {
            let n: f64 = workload[7..].parse().expect("size");
            2.0 * n * n * n / median_s / 1e9
        }
        "mlp_step" | "cnn_step" | "deep_chain" => median_s * 1e3,
        "conv_big" => CONV_BIG_FLOP / median_s / 1e9,
        "tiny_ops" => median_s / 3000.0 * 1e6,
        "elementwise_big" => (ELEMWISE_N * 4 * 6) as f64 / median_s / 1e9,
        _ => unreachable!("unknown workload {workload}"),
    }
}

fn median(times: &[f64]) -> f64 {
    let mut v = times.to_vec();
    v.sort_by(|a, b| a.total_cmp(b));
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        0.5 * (v[n / 2 - 1] + v[n / 2])
    }
}

/// Warm-up, then the time of each of `iters` calls of `f`; `before` runs untimed.
pub fn bench(iters: usize, warmup: usize, mut before: impl FnMut(), mut f: impl FnMut()) -> Vec<f64> {
    for _ in 0..warmup {
        before();
        f();
    }
    (0..iters)
        .map(|_| {
            before();
            let t = Instant::now();
            f();
            t.elapsed().as_secs_f64()
        })
        .collect()
}

/// A `[check]` line on stderr.
pub fn check(msg: &str) {
    eprintln!("[check] nabla: {msg}");
}

fn emit(workload: &str, times: &[f64]) {
    let (_, _, _, metric) = WORKLOADS.iter().find(|w| w.0 == workload).expect("known workload");
    let med = median(times);
    println!(
        "{{\"peer\":\"nabla\",\"workload\":\"{workload}\",\"median_ms\":{},\"iters\":{},\"metric\":\"{metric}\",\"value\":{}}}",
        med * 1e3,
        times.len(),
        headline(workload, med)
    );
}

fn main() {
    let all: Vec<String> = std::env::args().skip(1).collect();
    // `--iters N` overrides every workload's iteration count, for profiling (a profile of
    // the standard count is dominated by set-up); the harness never passes it.
    let iters_override = all.iter().position(|a| a == "--iters").map(|i| {
        all.get(i + 1).and_then(|v| v.parse::<usize>().ok()).unwrap_or_else(|| {
            eprintln!("--iters needs a positive number");
            std::process::exit(2)
        })
    });
    let args: Vec<String> = all
        .iter()
        .enumerate()
        .filter(|(i, a)| !a.starts_with("--") && (*i == 0 || all[i - 1] != "--iters"))
        .map(|(_, a)| a.clone())
        .collect();
    let names: Vec<String> = if args.is_empty() { WORKLOADS.iter().map(|w| w.0.to_string()).collect() } else { args };
    for name in &names {
        let Some(&(_, iters, warmup, _)) = WORKLOADS.iter().find(|w| w.0 == name) else {
            eprintln!(
                "unknown workload {name}; known: {}",
                WORKLOADS.iter().map(|w| w.0).collect::<Vec<_>>().join(" ")
            );
            std::process::exit(2);
        };
        nabla::manual_seed(0);
        let times = workloads::run(name, iters_override.unwrap_or(iters), warmup);
        emit(name, &times);
    }
}
