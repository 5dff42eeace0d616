//! Argument splitting and size parsing, as the Go server's `splitArg` and `parseSize`.

/// Most arguments any client operation takes (HPUB with a reply: subject, reply, hdr, total).
const MAX_ARGS: usize = 4;

/// Arguments of one control line, without allocating. More than `MAX_ARGS` arguments are
/// reported as `MAX_ARGS + 1`, which no operation accepts.
pub(crate) struct Args<'a> {
    items: [&'a [u8]; MAX_ARGS],
    len: usize,
}

impl<'a> Args<'a> {
    pub(crate) fn len(&self) -> usize {
        self.len
    }
}

impl<'a> std::ops::Index<usize> for Args<'a> {
    type Output = &'a [u8];
    fn index(&self, i: usize) -> &&'a [u8] {
        &self.items[..self.len.min(MAX_ARGS)][i]
    }
}

/// Splits on space, tab, CR and LF, dropping empty fields.
pub(crate) fn split_args(line: &[u8]) -> Args<'_> {
    let mut args = Args {
        items: [&[]; MAX_ARGS],
        len: 0,
    };
    for field in line
        .split(|&b| matches!(b, b' ' | b'\t' | b'\r' | b'\n'))
        .filter(|f| !f.is_empty())
    {
        if args.len == MAX_ARGS {
            args.len += 1;
            break;
        }
        args.items[args.len] = field;
        args.len += 1;
    }
    args
}

/// Longest size the Go server accepts: 9 digits (`maxParseSizeLen`, "999M").
const MAX_SIZE_DIGITS: usize = 9;

/// Decimal size of at most 9 digits, or -1 (the Go server's `parseSize`).
pub fn parse_size(d: &[u8]) -> i64 {
    if d.is_empty() || d.len() > MAX_SIZE_DIGITS {
        return -1;
    }
    let mut n: i64 = 0;
    for &b in d {
        if !b.is_ascii_digit() {
            return -1;
        }
        n = n * 10 + i64::from(b - b'0');
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size(b"0"), 0);
        assert_eq!(parse_size(b"123"), 123);
        assert_eq!(parse_size(b"999999999"), 999_999_999);
        assert_eq!(parse_size(b"1000000000"), -1);
        assert_eq!(parse_size(b""), -1);
        assert_eq!(parse_size(b"1x"), -1);
        assert_eq!(parse_size(b"-1"), -1);
    }

    #[test]
    fn splitting() {
        let a = split_args(b"  foo\t bar  12 ");
        assert_eq!(a.len(), 3);
        assert_eq!((a[0], a[1], a[2]), (&b"foo"[..], &b"bar"[..], &b"12"[..]));
        assert_eq!(split_args(b"a b c d e f").len(), MAX_ARGS + 1);
        assert_eq!(split_args(b"").len(), 0);
    }
}
