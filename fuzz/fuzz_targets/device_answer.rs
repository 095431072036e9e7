#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| beckon_fuzz::device_answer::run(data));
