#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| beckon_fuzz::provider_answer::run(data));
