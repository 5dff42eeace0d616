//! Subjects: tokens, wildcards and the checks the Go server applies (`sublist.go`).

pub mod sublist;

pub use sublist::{Matches, Sublist};

/// Token separator.
pub const TSEP: u8 = b'.';
/// Single-token wildcard.
pub const PWC: &[u8] = b"*";
/// Full (tail) wildcard.
pub const FWC: &[u8] = b">";

/// The subject's tokens; a subject with an empty token yields an empty one too.
pub fn tokens(subject: &[u8]) -> impl Iterator<Item = &[u8]> {
    subject.split(|&b| b == TSEP)
}

/// A subscription subject the sublist accepts: no empty token, nothing after `>`.
pub fn is_valid_subscription(subject: &[u8]) -> bool {
    let mut after_fwc = false;
    for t in tokens(subject) {
        if t.is_empty() || after_fwc {
            return false;
        }
        after_fwc = t == FWC;
    }
    true
}

/// A publish subject: no empty token and no wildcard token (`IsValidLiteralSubject`).
pub fn is_valid_literal(subject: &[u8]) -> bool {
    tokens(subject).all(|t| !t.is_empty() && t != PWC && t != FWC)
}

/// Whether a subscription subject matches a literal subject, token by token (Go's
/// `matchLiteral`). The obviously correct matcher: the monitor filters with it, and the
/// trie is property-tested against it.
pub fn matches_literal(pattern: &[u8], subject: &[u8]) -> bool {
    let p: Vec<&[u8]> = tokens(pattern).collect();
    let s: Vec<&[u8]> = tokens(subject).collect();
    if s.iter().any(|t| t.is_empty()) {
        return false;
    }
    for (i, pt) in p.iter().enumerate() {
        if *pt == FWC {
            return s.len() > i;
        }
        match s.get(i) {
            None => return false,
            Some(st) if *pt != PWC && pt != st => return false,
            _ => {}
        }
    }
    p.len() == s.len()
}

/// Whether a subject has a `*` or `>` token (`subjectHasWildcard`).
pub fn has_wildcard(subject: &[u8]) -> bool {
    tokens(subject).any(|t| t == PWC || t == FWC)
}

/// Whether every subject `subject` matches is also matched by `test`; both may have
/// wildcards, so `foo.*` is a subset of `>`, `*.*` and `foo.*` but not of `foo.bar`
/// (`subjectIsSubsetMatch`, token for token as Go walks them).
pub fn is_subset_match(subject: &[u8], test: &[u8]) -> bool {
    let toks: Vec<&[u8]> = tokens(subject).collect();
    let mut n = 0;
    for (i, t2) in tokens(test).enumerate() {
        n = i + 1;
        let Some(&t1) = toks.get(i) else {
            return false;
        };
        if t2.is_empty() {
            return false;
        }
        if t2 == FWC {
            return true;
        }
        if t1.is_empty() || t1 == FWC {
            return false;
        }
        if t1 == PWC {
            if t2 != PWC {
                return false;
            }
            continue;
        }
        if t2 != PWC && t1 != t2 {
            return false;
        }
    }
    toks.len() == n
}

/// Whether some literal subject matches both subscription subjects (Go's
/// `SubjectsCollide`): streams may not share one.
pub fn subjects_collide(a: &[u8], b: &[u8]) -> bool {
    let (ta, tb): (Vec<&[u8]>, Vec<&[u8]>) = (tokens(a).collect(), tokens(b).collect());
    let mut i = 0;
    loop {
        match (ta.get(i), tb.get(i)) {
            (None, None) => return true,
            (Some(&x), Some(&y)) => {
                if x == FWC || y == FWC {
                    return true;
                }
                if x != PWC && y != PWC && x != y {
                    return false;
                }
            }
            _ => return false,
        }
        i += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn collisions_as_go_finds_them() {
        assert!(subjects_collide(b"a.*", b"a.b"));
        assert!(subjects_collide(b"a.>", b"*.b.c"));
        assert!(!subjects_collide(b"a.>", b"a"));
        assert!(!subjects_collide(b"a.*", b"a.b.c"));
        assert!(!subjects_collide(b"a.b", b"a.c"));
    }

    #[test]
    fn subscription_subjects() {
        for ok in [
            "foo", "foo.bar", "foo.*", "foo.>", ">", "*", "*.*.>", "foo*.bar",
        ] {
            assert!(is_valid_subscription(ok.as_bytes()), "{ok}");
        }
        for bad in ["", ".", "foo.", ".foo", "foo..bar", "foo.>.bar", ">.>"] {
            assert!(!is_valid_subscription(bad.as_bytes()), "{bad}");
        }
    }

    #[test]
    fn wildcards_and_subsets() {
        assert!(has_wildcard(b"foo.*"));
        assert!(has_wildcard(b">"));
        assert!(!has_wildcard(b"foo*.b>"));
        for (subject, test) in [
            ("foo.*", ">"),
            ("foo.*", "*.*"),
            ("foo.*", "foo.*"),
            ("foo.bar", "foo.*"),
            ("foo.bar.baz", "foo.>"),
            ("v1", "v1"),
        ] {
            assert!(
                is_subset_match(subject.as_bytes(), test.as_bytes()),
                "{subject} {test}"
            );
        }
        for (subject, test) in [
            ("foo.*", "foo.bar"),
            ("foo.>", "foo.*"),
            ("foo", "foo.bar"),
            ("foo.bar", "foo"),
            ("*", "foo"),
        ] {
            assert!(
                !is_subset_match(subject.as_bytes(), test.as_bytes()),
                "{subject} {test}"
            );
        }
    }

    #[test]
    fn literal_subjects() {
        assert!(is_valid_literal(b"foo.bar"));
        assert!(is_valid_literal(b"foo*.b>"));
        assert!(!is_valid_literal(b"foo.*"));
        assert!(!is_valid_literal(b">"));
        assert!(!is_valid_literal(b"foo..bar"));
    }
}
