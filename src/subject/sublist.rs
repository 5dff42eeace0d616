//! A subject trie in the shape of the Go server's `Sublist`: literal tokens in a map per
//! level, `*` and `>` as dedicated children, plain entries and queue groups per node.
//! It is generic over the stored value so that the same trie serves a shard's own
//! subscriptions (subscription ids) and the interest replicated from other shards.

use std::collections::HashMap;

use foldhash::fast::RandomState;

use super::{is_valid_subscription, tokens, FWC, PWC};

/// Subjects of up to this many tokens are matched without a heap allocation.
const STACK_TOKENS: usize = 16;

#[derive(Debug)]
struct Level<V> {
    nodes: HashMap<Box<[u8]>, Node<V>, RandomState>,
    pwc: Option<Box<Node<V>>>,
    fwc: Option<Box<Node<V>>>,
}

impl<V> Default for Level<V> {
    fn default() -> Self {
        Level {
            nodes: HashMap::default(),
            pwc: None,
            fwc: None,
        }
    }
}

impl<V> Level<V> {
    fn is_empty(&self) -> bool {
        self.nodes.is_empty() && self.pwc.is_none() && self.fwc.is_none()
    }
}

#[derive(Debug)]
struct Node<V> {
    next: Option<Box<Level<V>>>,
    plain: Vec<V>,
    queues: Vec<(Box<[u8]>, Vec<V>)>,
}

impl<V> Default for Node<V> {
    fn default() -> Self {
        Node {
            next: None,
            plain: Vec::new(),
            queues: Vec::new(),
        }
    }
}

impl<V> Node<V> {
    fn is_empty(&self) -> bool {
        self.plain.is_empty()
            && self.queues.is_empty()
            && self.next.as_ref().is_none_or(|l| l.is_empty())
    }
}

/// Everything a subject matched: plain entries, and queue groups merged by name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Matches<V> {
    pub plain: Vec<V>,
    pub queues: Vec<(Box<[u8]>, Vec<V>)>,
}

impl<V> Default for Matches<V> {
    fn default() -> Self {
        Matches {
            plain: Vec::new(),
            queues: Vec::new(),
        }
    }
}

impl<V> Matches<V> {
    pub fn is_empty(&self) -> bool {
        self.plain.is_empty() && self.queues.is_empty()
    }
}

/// The subject was rejected: an empty token or a token after `>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InvalidSubject;

#[derive(Debug)]
pub struct Sublist<V> {
    root: Level<V>,
    len: usize,
}

impl<V> Default for Sublist<V> {
    fn default() -> Self {
        Sublist {
            root: Level::default(),
            len: 0,
        }
    }
}

impl<V: Clone + PartialEq> Sublist<V> {
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of stored entries.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn insert(
        &mut self,
        subject: &[u8],
        queue: Option<&[u8]>,
        v: V,
    ) -> Result<(), InvalidSubject> {
        if !is_valid_subscription(subject) {
            return Err(InvalidSubject);
        }
        let mut level = &mut self.root;
        let mut toks = tokens(subject).peekable();
        let node = loop {
            let t = toks.next().expect("a subject has at least one token");
            let node: &mut Node<V> = if t == PWC {
                level.pwc.get_or_insert_with(Box::default)
            } else if t == FWC {
                level.fwc.get_or_insert_with(Box::default)
            } else {
                level.nodes.entry(t.into()).or_default()
            };
            if toks.peek().is_none() {
                break node;
            }
            level = node.next.get_or_insert_with(Box::default);
        };
        match queue {
            None => node.plain.push(v),
            Some(q) => match node.queues.iter_mut().find(|(name, _)| &**name == q) {
                Some((_, members)) => members.push(v),
                None => node.queues.push((q.into(), vec![v])),
            },
        }
        self.len += 1;
        Ok(())
    }

    /// Removes one entry equal to `v`; returns whether it was there.
    pub fn remove(&mut self, subject: &[u8], queue: Option<&[u8]>, v: &V) -> bool {
        let toks: Vec<&[u8]> = tokens(subject).collect();
        let removed = remove_at(&mut self.root, &toks, queue, v);
        if removed {
            self.len -= 1;
        }
        removed
    }

    /// Everything `subject` matches, in the Go server's order (`matchLevel`): at each level
    /// the `>` entries first, then the `*` branch, then the literal branch.
    /// Whether an entry is on exactly `subject` (a literal), in queue group `queue` or in
    /// none: Go's `RegisterNotification` test, which a wildcard covering it does not pass.
    pub fn has_exact(&self, subject: &[u8], queue: Option<&[u8]>) -> bool {
        let mut level = Some(&self.root);
        let mut node = None;
        for t in tokens(subject) {
            let Some(n) = level.and_then(|l| l.nodes.get(t)) else {
                return false;
            };
            node = Some(n);
            level = n.next.as_deref();
        }
        node.is_some_and(|n| match queue {
            None => !n.plain.is_empty(),
            Some(q) => n
                .queues
                .iter()
                .any(|(name, members)| **name == *q && !members.is_empty()),
        })
    }

    pub fn matches(&self, subject: &[u8]) -> Matches<V> {
        let mut out = Matches::default();
        // Subjects that miss the match cache (a JetStream ack subject, every time) are
        // split on the stack.
        let mut stack: [&[u8]; STACK_TOKENS] = [&[]; STACK_TOKENS];
        let mut heap = Vec::new();
        let mut n = 0;
        for t in tokens(subject) {
            if t.is_empty() {
                return out;
            }
            if n < STACK_TOKENS {
                stack[n] = t;
            } else {
                if heap.is_empty() {
                    heap.extend_from_slice(&stack);
                }
                heap.push(t);
            }
            n += 1;
        }
        let toks = if n <= STACK_TOKENS {
            &stack[..n]
        } else {
            &heap[..]
        };
        match_level(Some(&self.root), toks, &mut out);
        out
    }
}

fn add_node<V: Clone>(n: &Node<V>, out: &mut Matches<V>) {
    out.plain.extend(n.plain.iter().cloned());
    for (name, members) in &n.queues {
        match out.queues.iter_mut().find(|(q, _)| q == name) {
            Some((_, all)) => all.extend(members.iter().cloned()),
            None => out.queues.push((name.clone(), members.clone())),
        }
    }
}

fn match_level<V: Clone>(mut level: Option<&Level<V>>, toks: &[&[u8]], out: &mut Matches<V>) {
    let mut literal: Option<&Node<V>> = None;
    let mut pwc: Option<&Node<V>> = None;
    for (i, t) in toks.iter().enumerate() {
        let Some(l) = level else { return };
        if let Some(f) = &l.fwc {
            add_node(f, out);
        }
        pwc = l.pwc.as_deref();
        if let Some(p) = pwc {
            match_level(p.next.as_deref(), &toks[i + 1..], out);
        }
        literal = l.nodes.get(*t);
        level = literal.and_then(|n| n.next.as_deref());
    }
    if let Some(n) = literal {
        add_node(n, out);
    }
    if let Some(p) = pwc {
        add_node(p, out);
    }
}

fn remove_at<V: PartialEq>(
    level: &mut Level<V>,
    toks: &[&[u8]],
    queue: Option<&[u8]>,
    v: &V,
) -> bool {
    let (t, rest) = match toks.split_first() {
        Some(x) => x,
        None => return false,
    };
    let node: &mut Node<V> = if *t == PWC {
        match level.pwc.as_deref_mut() {
            Some(n) => n,
            None => return false,
        }
    } else if *t == FWC {
        match level.fwc.as_deref_mut() {
            Some(n) => n,
            None => return false,
        }
    } else {
        match level.nodes.get_mut(*t) {
            Some(n) => n,
            None => return false,
        }
    };
    let removed = if rest.is_empty() {
        remove_from_node(node, queue, v)
    } else {
        match node.next.as_deref_mut() {
            Some(next) => {
                let r = remove_at(next, rest, queue, v);
                if next.is_empty() {
                    node.next = None;
                }
                r
            }
            None => false,
        }
    };
    if removed && node.is_empty() {
        if *t == PWC {
            level.pwc = None;
        } else if *t == FWC {
            level.fwc = None;
        } else {
            level.nodes.remove(*t);
        }
    }
    removed
}

fn remove_from_node<V: PartialEq>(node: &mut Node<V>, queue: Option<&[u8]>, v: &V) -> bool {
    match queue {
        None => match node.plain.iter().position(|x| x == v) {
            Some(i) => {
                node.plain.swap_remove(i);
                true
            }
            None => false,
        },
        Some(q) => {
            let Some(qi) = node.queues.iter().position(|(name, _)| &**name == q) else {
                return false;
            };
            let members = &mut node.queues[qi].1;
            let Some(i) = members.iter().position(|x| x == v) else {
                return false;
            };
            members.swap_remove(i);
            if members.is_empty() {
                node.queues.swap_remove(qi);
            }
            true
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn go_match_order() {
        let mut s = Sublist::new();
        s.insert(b"a.*", None, 1).unwrap();
        s.insert(b"a.>", None, 2).unwrap();
        s.insert(b">", None, 3).unwrap();
        assert_eq!(s.matches(b"a.b").plain, vec![3, 2, 1]);
        assert_eq!(s.matches(b"a.b.c").plain, vec![3, 2]);
        assert_eq!(s.matches(b"a").plain, vec![3]);
        assert!(s.matches(b"a..b").is_empty());
    }

    #[test]
    fn exact_entries_are_not_wildcards_that_cover_them() {
        let mut s = Sublist::new();
        s.insert(b"d.*", None, 1).unwrap();
        s.insert(b"d.>", Some(b"g"), 2).unwrap();
        assert!(!s.has_exact(b"d.x", None));
        assert!(!s.has_exact(b"d.x", Some(b"g")));
        s.insert(b"d.x", Some(b"g"), 3).unwrap();
        assert!(!s.has_exact(b"d.x", None));
        assert!(s.has_exact(b"d.x", Some(b"g")));
        assert!(!s.has_exact(b"d.x", Some(b"h")));
        s.insert(b"d.x", None, 4).unwrap();
        assert!(s.has_exact(b"d.x", None));
        assert!(!s.has_exact(b"d", None));
        assert!(!s.has_exact(b"d.x.y", None));
    }

    #[test]
    fn subjects_longer_than_the_stack_split_match_alike() {
        let mut s = Sublist::new();
        let long = |n: usize| vec!["t"; n].join(".");
        s.insert(format!("{}.*", long(19)).as_bytes(), None, 1)
            .unwrap();
        s.insert(b"t.>", None, 2).unwrap();
        s.insert(format!("{}.x", long(STACK_TOKENS - 1)).as_bytes(), None, 3)
            .unwrap();
        assert_eq!(s.matches(long(20).as_bytes()).plain, vec![2, 1]);
        assert_eq!(
            s.matches(format!("{}.x", long(STACK_TOKENS - 1)).as_bytes())
                .plain,
            vec![2, 3]
        );
        assert_eq!(s.matches(long(STACK_TOKENS + 1).as_bytes()).plain, vec![2]);
        assert!(s.matches(format!("{}..t", long(30)).as_bytes()).is_empty());
    }

    #[test]
    fn queues_merge_by_name_and_remove_prunes() {
        let mut s = Sublist::new();
        s.insert(b"foo.*", Some(b"q"), 1).unwrap();
        s.insert(b"foo.bar", Some(b"q"), 2).unwrap();
        s.insert(b"foo.bar", Some(b"r"), 3).unwrap();
        let m = s.matches(b"foo.bar");
        assert_eq!(m.queues.len(), 2);
        let q = m.queues.iter().find(|(n, _)| &**n == b"q").unwrap();
        assert_eq!(q.1.len(), 2);
        assert!(s.remove(b"foo.bar", Some(b"q"), &2));
        assert!(!s.remove(b"foo.bar", Some(b"q"), &2));
        assert!(s.remove(b"foo.bar", Some(b"r"), &3));
        assert!(s.remove(b"foo.*", Some(b"q"), &1));
        assert!(s.is_empty());
        assert!(s.root.is_empty());
    }

    #[test]
    fn rejects_invalid() {
        let mut s: Sublist<u32> = Sublist::new();
        assert_eq!(s.insert(b"foo..bar", None, 1), Err(InvalidSubject));
        assert_eq!(s.insert(b"foo.>.bar", None, 1), Err(InvalidSubject));
        assert_eq!(s.insert(b"", None, 1), Err(InvalidSubject));
    }

    fn token() -> impl Strategy<Value = String> {
        prop_oneof![
            Just("a".to_string()),
            Just("b".to_string()),
            Just("c".to_string()),
            Just("*".to_string()),
            Just(">".to_string())
        ]
    }

    fn subject(wild: bool) -> impl Strategy<Value = String> {
        prop::collection::vec(token(), 1..5).prop_map(move |ts| {
            let ts: Vec<String> = if wild {
                ts
            } else {
                ts.into_iter()
                    .map(|t| if t == "*" || t == ">" { "a".into() } else { t })
                    .collect()
            };
            ts.join(".")
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]
        #[test]
        fn matches_naive_oracle(
            subs in prop::collection::vec((subject(true), prop::option::of(prop_oneof![Just("q1"), Just("q2")])), 0..40),
            removals in prop::collection::vec(any::<prop::sample::Index>(), 0..20),
            probes in prop::collection::vec(subject(false), 1..10),
        ) {
            let mut s = Sublist::new();
            let mut live: Vec<(String, Option<&str>, usize)> = Vec::new();
            for (id, (subj, q)) in subs.iter().enumerate() {
                if s.insert(subj.as_bytes(), q.map(str::as_bytes), id).is_ok() {
                    live.push((subj.clone(), *q, id));
                } else {
                    prop_assert!(!is_valid_subscription(subj.as_bytes()));
                }
            }
            for r in removals {
                if live.is_empty() { break; }
                let (subj, q, id) = live.remove(r.index(live.len()));
                prop_assert!(s.remove(subj.as_bytes(), q.map(str::as_bytes), &id));
            }
            prop_assert_eq!(s.len(), live.len());
            for p in probes {
                let m = s.matches(p.as_bytes());
                let mut got: Vec<(Option<String>, usize)> = m.plain.iter().map(|&v| (None, v)).collect();
                for (q, members) in &m.queues {
                    for &v in members {
                        got.push((Some(String::from_utf8(q.to_vec()).unwrap()), v));
                    }
                }
                got.sort();
                let mut want: Vec<(Option<String>, usize)> = live.iter()
                    .filter(|(subj, _, _)| crate::subject::matches_literal(subj.as_bytes(), p.as_bytes()))
                    .map(|(_, q, id)| (q.map(String::from), *id))
                    .collect();
                want.sort();
                prop_assert_eq!(got, want);
            }
        }
    }
}
