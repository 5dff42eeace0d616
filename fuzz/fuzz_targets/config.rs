//! See `riptide::fuzzing::config` for what is checked.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| riptide::fuzzing::config(data));
