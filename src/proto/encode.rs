//! Writers for what the server sends, straight into a connection's outbound bytes.

pub const PING: &[u8] = b"PING\r\n";
pub const PONG: &[u8] = b"PONG\r\n";
pub const OK: &[u8] = b"+OK\r\n";

/// Appends the decimal form of `n` without going through `fmt`.
pub fn push_usize(out: &mut Vec<u8>, mut n: usize) {
    let mut tmp = [0u8; 20];
    let mut i = tmp.len();
    loop {
        i -= 1;
        tmp[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&tmp[i..]);
}

/// `MSG <subject> <sid> [reply] <size>\r\n` or, with a header length,
/// `HMSG <subject> <sid> [reply] <hdr> <total>\r\n`.
pub fn msg_line(
    out: &mut Vec<u8>,
    subject: &[u8],
    sid: &[u8],
    reply: Option<&[u8]>,
    header_len: Option<usize>,
    total_len: usize,
) {
    out.extend_from_slice(if header_len.is_some() {
        b"HMSG "
    } else {
        b"MSG "
    });
    out.extend_from_slice(subject);
    out.push(b' ');
    out.extend_from_slice(sid);
    out.push(b' ');
    if let Some(reply) = reply {
        out.extend_from_slice(reply);
        out.push(b' ');
    }
    if let Some(h) = header_len {
        push_usize(out, h);
        out.push(b' ');
    }
    push_usize(out, total_len);
    out.extend_from_slice(b"\r\n");
}

/// `-ERR '<text>'\r\n`, the Go server's `errProto` format.
pub fn err(out: &mut Vec<u8>, text: &str) {
    out.extend_from_slice(b"-ERR '");
    out.extend_from_slice(text.as_bytes());
    out.extend_from_slice(b"'\r\n");
}

/// `INFO <json> \r\n`: the Go server puts a blank before the CRLF.
pub fn info(out: &mut Vec<u8>, json: &[u8]) {
    out.extend_from_slice(b"INFO ");
    out.extend_from_slice(json);
    out.extend_from_slice(b" \r\n");
}

/// The 503 header block of a no-responders reply (`client.go` `sendNoRespondersMsg`; the
/// `Nats-Subject` header exists since 2.12).
pub fn no_responders_header(out: &mut Vec<u8>, subject: &[u8]) {
    out.extend_from_slice(b"NATS/1.0 503\r\nNats-Subject: ");
    out.extend_from_slice(subject);
    out.extend_from_slice(b"\r\n\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines() {
        let mut v = Vec::new();
        msg_line(&mut v, b"foo", b"1", None, None, 0);
        msg_line(&mut v, b"foo", b"22", Some(b"bar"), Some(12), 14);
        err(&mut v, "Invalid Subject");
        assert_eq!(
            v,
            b"MSG foo 1 0\r\nHMSG foo 22 bar 12 14\r\n-ERR 'Invalid Subject'\r\n".to_vec()
        );
        let mut n = Vec::new();
        push_usize(&mut n, 1234567890);
        assert_eq!(n, b"1234567890");
    }
}
