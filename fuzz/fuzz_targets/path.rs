#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| entra_edge_fuzz::path(data));
