//! See `riptide::fuzzing::websocket` for what is checked.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| riptide::fuzzing::websocket(data));
