//! The protocol parser on arbitrary bytes fed in arbitrary pieces: it never panics, and
//! where the input is cut makes no difference to what it reports (up to and including the
//! first error).
#![no_main]

use libfuzzer_sys::fuzz_target;
use riptide::proto::record::parse_split;

/// Small enough that the fuzzer reaches `Maximum Control Line Exceeded`.
const MAX_CONTROL_LINE: usize = 256;

fuzz_target!(|input: (Vec<u16>, Vec<u8>)| {
    let (cuts, data) = input;
    let whole = parse_split(&data, &[], MAX_CONTROL_LINE);
    let mut at: Vec<usize> = cuts
        .iter()
        .map(|&c| c as usize % (data.len() + 1))
        .collect();
    at.sort_unstable();
    let pieces = parse_split(&data, &at, MAX_CONTROL_LINE);
    assert_eq!(whole, pieces, "cut at {at:?}");
    let bytewise: Vec<usize> = (1..data.len()).collect();
    assert_eq!(whole, parse_split(&data, &bytewise, MAX_CONTROL_LINE));
});
