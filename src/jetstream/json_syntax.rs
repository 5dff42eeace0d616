//! The wording of Go's `encoding/json` for a malformed request body, as nats-server 2.15.1
//! reports it (`invalid character 'o' in literal null (expecting 'u') at offset 2`,
//! `unexpected EOF`): a port of the checks of Go's JSON scanner, run before decoding so a
//! syntax error reads as Go's. Like nats-server, which decodes values until the body ends,
//! every value in the body is scanned.

/// What Go says about `data`'s JSON values, `None` when they are well formed.
pub(crate) fn error(data: &[u8]) -> Option<String> {
    let mut s = Scanner { data, at: 0 };
    let result = (|| loop {
        s.value()?;
        match s.skip_space() {
            Err(Problem::Eof) => return Ok(()),
            Err(e) => return Err(e),
            Ok(_) => {}
        }
    })();
    match result {
        Ok(()) => None,
        Err(Problem::Eof) => Some("unexpected EOF".into()),
        Err(Problem::Char(what)) => Some(format!("{what} at offset {}", s.at + 1)),
    }
}

enum Problem {
    Eof,
    /// The message for the character at `Scanner::at`.
    Char(String),
}

struct Scanner<'a> {
    data: &'a [u8],
    at: usize,
}

/// A byte as Go's `quoteChar` shows it.
fn quote(c: u8) -> String {
    match c {
        b'\'' => r"'\''".into(),
        b'"' => "'\"'".into(),
        0x20..=0x7e => format!("'{}'", c as char),
        b'\n' => r"'\n'".into(),
        b'\r' => r"'\r'".into(),
        b'\t' => r"'\t'".into(),
        _ => format!("'\\x{c:02x}'"),
    }
}

impl Scanner<'_> {
    fn peek(&self) -> Result<u8, Problem> {
        self.data.get(self.at).copied().ok_or(Problem::Eof)
    }

    fn bad(&self, context: &str) -> Problem {
        Problem::Char(format!(
            "invalid character {} {context}",
            quote(self.data[self.at])
        ))
    }

    fn skip_space(&mut self) -> Result<u8, Problem> {
        while matches!(self.peek()?, b' ' | b'\t' | b'\r' | b'\n') {
            self.at += 1;
        }
        self.peek()
    }

    fn value(&mut self) -> Result<(), Problem> {
        match self.skip_space()? {
            b'{' => self.object(),
            b'[' => self.array(),
            b'"' => self.string(),
            b'-' | b'0'..=b'9' => self.number(),
            b't' => self.literal("true"),
            b'f' => self.literal("false"),
            b'n' => self.literal("null"),
            _ => Err(self.bad("looking for beginning of value")),
        }
    }

    fn literal(&mut self, word: &str) -> Result<(), Problem> {
        self.at += 1;
        for expect in word.bytes().skip(1) {
            if self.peek()? != expect {
                return Err(self.bad(&format!("in literal {word} (expecting {})", quote(expect))));
            }
            self.at += 1;
        }
        Ok(())
    }

    fn object(&mut self) -> Result<(), Problem> {
        self.at += 1;
        if self.skip_space()? == b'}' {
            self.at += 1;
            return Ok(());
        }
        loop {
            if self.skip_space()? != b'"' {
                return Err(self.bad("looking for beginning of object key string"));
            }
            self.string()?;
            if self.skip_space()? != b':' {
                return Err(self.bad("after object key"));
            }
            self.at += 1;
            self.value()?;
            match self.skip_space()? {
                b',' => self.at += 1,
                b'}' => {
                    self.at += 1;
                    return Ok(());
                }
                _ => return Err(self.bad("after object key:value pair")),
            }
        }
    }

    fn array(&mut self) -> Result<(), Problem> {
        self.at += 1;
        if self.skip_space()? == b']' {
            self.at += 1;
            return Ok(());
        }
        loop {
            self.value()?;
            match self.skip_space()? {
                b',' => self.at += 1,
                b']' => {
                    self.at += 1;
                    return Ok(());
                }
                _ => return Err(self.bad("after array element")),
            }
        }
    }

    fn string(&mut self) -> Result<(), Problem> {
        self.at += 1;
        loop {
            match self.peek()? {
                b'"' => {
                    self.at += 1;
                    return Ok(());
                }
                b'\\' => {
                    self.at += 1;
                    match self.peek()? {
                        b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => self.at += 1,
                        b'u' => {
                            self.at += 1;
                            for _ in 0..4 {
                                if !self.peek()?.is_ascii_hexdigit() {
                                    return Err(self.bad("in \\u hexadecimal character escape"));
                                }
                                self.at += 1;
                            }
                        }
                        _ => return Err(self.bad("in string escape code")),
                    }
                }
                c if c < 0x20 => return Err(self.bad("in string literal")),
                _ => self.at += 1,
            }
        }
    }

    fn digits(&mut self) -> Result<(), Problem> {
        if !self.peek()?.is_ascii_digit() {
            return Err(self.bad("in numeric literal"));
        }
        while self.data.get(self.at).is_some_and(u8::is_ascii_digit) {
            self.at += 1;
        }
        Ok(())
    }

    fn number(&mut self) -> Result<(), Problem> {
        if self.peek()? == b'-' {
            self.at += 1;
        }
        if self.peek()? == b'0' {
            self.at += 1;
        } else {
            self.digits()?;
        }
        if self.data.get(self.at) == Some(&b'.') {
            self.at += 1;
            self.digits()?;
        }
        if matches!(self.data.get(self.at), Some(b'e' | b'E')) {
            self.at += 1;
            if matches!(self.peek()?, b'+' | b'-') {
                self.at += 1;
            }
            self.digits()?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::error;

    #[test]
    fn messages_as_nats_server_words_them() {
        // Each as nats-server 2.15.1 answered it, after `invalid JSON: `.
        assert_eq!(
            error(b"bogus").unwrap(),
            "invalid character 'b' looking for beginning of value at offset 1"
        );
        assert_eq!(
            error(b"nope").unwrap(),
            "invalid character 'o' in literal null (expecting 'u') at offset 2"
        );
        assert_eq!(error(br#"{"name":"U3","#).unwrap(), "unexpected EOF");
        assert_eq!(
            error(br#"{"name":"C"} trailing"#).unwrap(),
            "invalid character 'a' in literal true (expecting 'u') at offset 16"
        );
        assert_eq!(error(br#"{"a":1} {} "#), None);
        assert_eq!(error(br#"{"a":[1,-2.5e3,"x\u00e9",true,null]}"#), None);
        assert_eq!(
            error(br#"{"a" 1}"#).unwrap(),
            "invalid character '1' after object key at offset 6"
        );
    }
}
