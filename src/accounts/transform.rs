//! Subject transforms of imports: a source pattern with wildcards and a destination that
//! places what they matched (`*` in order, `$N`, `{{wildcard(N)}}`, a trailing `>`), with the
//! Go server's strict rules and error texts (`subject_transform.go`,
//! `NewSubjectTransformStrict`).

use crate::subject::{tokens, FWC, PWC};

/// One token of a destination.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Literal(Vec<u8>),
    /// The source's N-th wildcard (0-based) value.
    Wildcard(usize),
    /// What the source's trailing `>` matched, all of it.
    Rest,
}

/// A mapping from subjects matching `src` to a destination subject.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transform {
    src: Vec<Vec<u8>>,
    dest: Vec<Part>,
}

/// `$N` or `{{wildcard(N)}}`: the 1-based index N. A `$` token that is not a number
/// (`$JS`) is a literal, as in Go's transforms.
fn wildcard_index(token: &str) -> Option<Result<usize, ()>> {
    let n = if let Some(n) = token.strip_prefix('$') {
        return n.parse::<usize>().ok().map(Ok);
    } else {
        let inner = token.strip_prefix("{{")?.strip_suffix("}}")?.trim();
        let args = inner.strip_prefix("wildcard(")?.strip_suffix(')')?;
        args.trim()
    };
    Some(n.parse::<usize>().map_err(|_| ()))
}

impl Transform {
    /// A transform from `src` to `dest`. `strict` requires every wildcard of `src` to be
    /// used, as Go's transforms for stream imports do.
    pub fn new(src: &str, dest: &str, strict: bool) -> Result<Transform, String> {
        let src_tokens: Vec<Vec<u8>> = tokens(src.as_bytes()).map(<[u8]>::to_vec).collect();
        let pwcs = src_tokens.iter().filter(|t| t.as_slice() == PWC).count();
        let has_fwc = src_tokens.last().is_some_and(|t| t.as_slice() == FWC);
        let mut dest_parts = Vec::new();
        let mut used = vec![false; pwcs];
        let mut next_positional = 0;
        let mut rest_used = false;
        for t in dest.split('.') {
            let part = if t.as_bytes() == PWC {
                next_positional += 1;
                Part::Wildcard(next_positional - 1)
            } else if t.as_bytes() == FWC {
                if !has_fwc {
                    return Err(format!(
                        "invalid mapping destination: invalid transform: {dest}"
                    ));
                }
                rest_used = true;
                Part::Rest
            } else if let Some(n) = wildcard_index(t) {
                match n {
                    Ok(n) if n >= 1 && n <= pwcs => Part::Wildcard(n - 1),
                    Ok(n) => {
                        return Err(format!(
                            "invalid mapping destination: wildcard index out of range in {t}: [{n}]"
                        ))
                    }
                    Err(()) => {
                        return Err(format!(
                            "invalid mapping destination: wildcard index out of range in {t}: [{}]",
                            t.trim_start_matches('$')
                        ))
                    }
                }
            } else {
                Part::Literal(t.as_bytes().to_vec())
            };
            if let Part::Wildcard(i) = part {
                if i >= pwcs {
                    return Err(format!(
                        "invalid mapping destination: wildcard index out of range in {t}: [{}]",
                        i + 1
                    ));
                }
                used[i] = true;
            }
            dest_parts.push(part);
        }
        if strict && (used.iter().any(|u| !u) || (has_fwc && !rest_used)) {
            return Err(format!(
                "invalid mapping destination: not using all of the token wildcard(s) in {dest}"
            ));
        }
        Ok(Transform {
            src: src_tokens,
            dest: dest_parts,
        })
    }

    /// The destination for `subject`, which must match the source pattern.
    pub fn apply(&self, subject: &[u8]) -> Vec<u8> {
        let toks: Vec<&[u8]> = tokens(subject).collect();
        let mut wildcards: Vec<&[u8]> = Vec::new();
        let mut rest: &[u8] = b"";
        let mut offset = 0;
        for (i, s) in self.src.iter().enumerate() {
            if s.as_slice() == FWC {
                rest = subject.get(offset..).unwrap_or_default();
                break;
            }
            if let Some(t) = toks.get(i) {
                if s.as_slice() == PWC {
                    wildcards.push(t);
                }
                offset += t.len() + 1;
            }
        }
        let mut out = Vec::with_capacity(subject.len() + 16);
        for (i, p) in self.dest.iter().enumerate() {
            if i > 0 {
                out.push(b'.');
            }
            match p {
                Part::Literal(l) => out.extend_from_slice(l),
                Part::Wildcard(n) => out.extend_from_slice(wildcards.get(*n).unwrap_or(&&b""[..])),
                Part::Rest => out.extend_from_slice(rest),
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(src: &str, dest: &str, subject: &str) -> String {
        let t = Transform::new(src, dest, true).unwrap();
        String::from_utf8(t.apply(subject.as_bytes())).unwrap()
    }

    #[test]
    fn places_wildcards_as_go_does() {
        assert_eq!(map("foo.*", "bar.*", "foo.k"), "bar.k");
        assert_eq!(map("foo.x.>", "fx.>", "foo.x.y.z"), "fx.y.z");
        assert_eq!(map("s.*.*", "t.$2.$1", "s.p.q"), "t.q.p");
        assert_eq!(
            map("s.*.*", "t.{{wildcard(2)}}.{{ wildcard(1) }}", "s.p.q"),
            "t.q.p"
        );
        assert_eq!(map("foo.>", "fromA.foo.>", "foo.a.b"), "fromA.foo.a.b");
        assert_eq!(map("x", "y", "x"), "y");
    }

    #[test]
    fn go_refusals() {
        assert_eq!(
            Transform::new("foo.*", "bar", true).unwrap_err(),
            "invalid mapping destination: not using all of the token wildcard(s) in bar"
        );
        assert_eq!(
            Transform::new("x.*", "y.$2", true).unwrap_err(),
            "invalid mapping destination: wildcard index out of range in $2: [2]"
        );
        // A service import may map a wildcard subject onto one fixed subject.
        let lax = Transform::new("y.*", "x", false).unwrap();
        assert_eq!(lax.apply(b"y.q"), b"x");
    }
}
