//! The subject index against the obviously correct model: random inserts, removes and
//! matches, each match checked against a list filtered with `matches_literal`.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use riptide::subject::{is_valid_subscription, matches_literal, Sublist};

/// Tokens from a small alphabet so that subjects collide and wildcards matter.
const TOKENS: [&str; 6] = ["a", "b", "c", "*", ">", ""];

#[derive(Debug, Arbitrary)]
enum Op {
    Insert { subject: Vec<u8>, queue: Option<bool>, id: u8 },
    Remove { subject: Vec<u8>, queue: Option<bool>, id: u8 },
    Match { subject: Vec<u8> },
}

fn subject(toks: &[u8]) -> String {
    toks.iter()
        .take(5)
        .map(|t| TOKENS[*t as usize % TOKENS.len()])
        .collect::<Vec<_>>()
        .join(".")
}

fn queue(q: Option<bool>) -> Option<&'static [u8]> {
    q.map(|b| if b { &b"q1"[..] } else { &b"q2"[..] })
}

fuzz_target!(|ops: Vec<Op>| {
    let mut list: Sublist<u8> = Sublist::new();
    let mut model: Vec<(String, Option<&'static [u8]>, u8)> = Vec::new();
    for op in ops {
        match op {
            Op::Insert { subject: s, queue: q, id } => {
                let s = subject(&s);
                let ok = list.insert(s.as_bytes(), queue(q), id).is_ok();
                assert_eq!(ok, is_valid_subscription(s.as_bytes()), "{s}");
                if ok {
                    model.push((s, queue(q), id));
                }
            }
            Op::Remove { subject: s, queue: q, id } => {
                let s = subject(&s);
                let removed = list.remove(s.as_bytes(), queue(q), &id);
                let at = model
                    .iter()
                    .position(|(ms, mq, mid)| *ms == s && *mq == queue(q) && *mid == id);
                assert_eq!(removed, at.is_some(), "remove {s}");
                if let Some(i) = at {
                    model.remove(i);
                }
            }
            Op::Match { subject: s } => {
                let s = subject(&s);
                let m = list.matches(s.as_bytes());
                let mut plain: Vec<u8> = m.plain.clone();
                plain.sort_unstable();
                let mut want: Vec<u8> = model
                    .iter()
                    .filter(|(ms, mq, _)| mq.is_none() && matches_literal(ms.as_bytes(), s.as_bytes()))
                    .map(|(_, _, id)| *id)
                    .collect();
                want.sort_unstable();
                assert_eq!(plain, want, "plain matches of {s}");
                let mut queued: Vec<(Vec<u8>, u8)> = m
                    .queues
                    .iter()
                    .flat_map(|(name, ids)| ids.iter().map(|id| (name.to_vec(), *id)))
                    .collect();
                queued.sort_unstable();
                let mut want_q: Vec<(Vec<u8>, u8)> = model
                    .iter()
                    .filter(|(ms, mq, _)| mq.is_some() && matches_literal(ms.as_bytes(), s.as_bytes()))
                    .map(|(_, mq, id)| (mq.unwrap().to_vec(), *id))
                    .collect();
                want_q.sort_unstable();
                assert_eq!(queued, want_q, "queue matches of {s}");
                assert_eq!(list.len(), model.len());
            }
        }
    }
});
