#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| beckon_fuzz::server_config::run(data));
