//! The configuration file parser and the key handling behind it on arbitrary text: an
//! error with a position or a configuration, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use riptide::config::Config;
use riptide::config_file::load_str;

fuzz_target!(|text: &str| {
    let _ = riptide::conf::parse(text);
    let mut cfg = Config::default();
    let _ = load_str(text, &mut cfg, false);
    let mut strict = Config::default();
    let _ = load_str(text, &mut strict, true);
});
