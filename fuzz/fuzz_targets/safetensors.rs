//! `cargo +nightly fuzz run safetensors`: `StateDict` loading on arbitrary bytes.
//! Seeds: `tests/corpus/seeds/safetensors` and the crafted bad files in
//! `tests/corpus/safetensors`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = nabla_fuzz::check_safetensors(data);
});
