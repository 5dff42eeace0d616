//! Replays every input a fuzz target ever failed on (`fuzz/regressions/<target>/`) and the
//! seed corpus (`fuzz/corpus/<target>/`) through the same checks the fuzzers run, so a
//! fixed crash stays fixed without libFuzzer or a nightly toolchain.

use std::path::Path;

type Check = fn(&[u8]);

const TARGETS: [(&str, Check); 5] = [
    ("parser", riptide::fuzzing::parser),
    ("sublist", riptide::fuzzing::sublist),
    ("config", riptide::fuzzing::config),
    ("monitor_request", riptide::fuzzing::monitor_request),
    ("websocket", riptide::fuzzing::websocket),
];

fn replay(kind: &str) -> usize {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz")
        .join(kind);
    let mut replayed = 0;
    for (target, check) in TARGETS {
        let Ok(dir) = std::fs::read_dir(root.join(target)) else {
            continue;
        };
        for entry in dir {
            let path = entry.expect("readable directory").path();
            if path.is_file() {
                let data = std::fs::read(&path).expect("readable input");
                let outcome = std::panic::catch_unwind(|| check(&data));
                assert!(outcome.is_ok(), "{target} failed on {}", path.display());
                replayed += 1;
            }
        }
    }
    replayed
}

#[test]
fn seed_corpus_and_past_fuzz_failures_pass_the_fuzz_checks() {
    let replayed = replay("corpus") + replay("regressions");
    assert!(replayed > 0, "the seed corpus is committed");
}
