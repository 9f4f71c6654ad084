//! `cargo +nightly fuzz run idx`: the IDX / MNIST reader on arbitrary bytes, gzipped or not.
//! Seeds: `tests/corpus/seeds/idx` and the crafted bad files in `tests/corpus/idx`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = nabla_fuzz::check_idx(data);
});
