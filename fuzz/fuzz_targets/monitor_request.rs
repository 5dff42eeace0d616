//! See `riptide::fuzzing::monitor_request` for what is checked.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| riptide::fuzzing::monitor_request(data));
