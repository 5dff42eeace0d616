//! Lexing and parsing in one recursive-descent pass over the text, with line and column kept
//! for every value so that errors and key checks can name `file:line:col`.

use std::path::{Path, PathBuf};

/// A parsed value and where it started.
#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    pub value: Value,
    pub line: usize,
    pub col: usize,
    /// A `$variable` referred to this entry: the Go server then takes the key for a variable
    /// and does not report it as an unknown field (`token.IsUsedVariable`).
    pub used: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    /// Keys in file order; a repeated key keeps its last value, as Go's map does.
    Map(Vec<(String, Item)>),
    Array(Vec<Item>),
}

impl Value {
    pub fn get(&self, key: &str) -> Option<&Item> {
        match self {
            Value::Map(kv) => kv.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }
}

/// A syntax or include error, with the file and position when known.
#[derive(Debug, Clone, PartialEq)]
pub struct ConfError {
    pub file: String,
    pub line: usize,
    pub col: usize,
    pub msg: String,
}

impl std::fmt::Display for ConfError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}:{}: {}", self.file, self.line, self.col, self.msg)
    }
}

/// What follows the `$` of a bcrypt hash written without quotes (`bcryptPrefix`, conf/parse.go).
const BCRYPT_PREFIX: &str = "2a$";

/// Deepest `include` nesting, against include cycles.
const MAX_INCLUDE_DEPTH: usize = 10;

/// Parses a file, resolving includes relative to it.
pub fn parse_file(path: &Path) -> Result<Value, ConfError> {
    let mut stack = Vec::new();
    parse_path(path, &mut stack, 0)
}

fn parse_path(
    path: &Path,
    scopes: &mut Vec<Vec<(String, Item)>>,
    depth: usize,
) -> Result<Value, ConfError> {
    let text = std::fs::read_to_string(path).map_err(|e| ConfError {
        file: path.display().to_string(),
        line: 0,
        col: 0,
        msg: format!("open {}: {}", path.display(), io_text(&e)),
    })?;
    let mut p = Parser::new(
        &text,
        path.display().to_string(),
        path.parent().map(Path::to_path_buf),
        depth,
    );
    p.scopes = std::mem::take(scopes);
    let r = p.document();
    *scopes = std::mem::take(&mut p.scopes);
    r
}

fn io_text(e: &std::io::Error) -> String {
    let s = e.to_string();
    let s = s.split(" (os error").next().unwrap_or(&s).to_string();
    s.to_lowercase()
}

/// Parses text that includes nothing (tests, `-t` of inline configs).
pub fn parse(text: &str) -> Result<Value, ConfError> {
    Parser::new(text, "<config>".into(), None, 0).document()
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
    line: usize,
    col: usize,
    file: String,
    dir: Option<PathBuf>,
    depth: usize,
    /// Maps being built, outermost first: variables resolve from the innermost outward.
    scopes: Vec<Vec<(String, Item)>>,
}

impl<'a> Parser<'a> {
    fn new(text: &'a str, file: String, dir: Option<PathBuf>, depth: usize) -> Self {
        Parser {
            s: text.as_bytes(),
            i: 0,
            line: 1,
            // Go's lexer counts the first line's columns from 0 and the others' from 1
            // (`pos` is the offset since the last newline, and there is none before line 1).
            col: 0,
            file,
            dir,
            depth,
            scopes: Vec::new(),
        }
    }

    fn err<T>(&self, line: usize, col: usize, msg: impl Into<String>) -> Result<T, ConfError> {
        Err(ConfError {
            file: self.file.clone(),
            line,
            col,
            msg: msg.into(),
        })
    }

    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn peek_at(&self, n: usize) -> Option<u8> {
        self.s.get(self.i + n).copied()
    }

    fn bump(&mut self) -> Option<u8> {
        let b = self.peek()?;
        self.i += 1;
        if b == b'\n' {
            self.line += 1;
            self.col = 1;
        } else {
            self.col += 1;
        }
        Some(b)
    }

    fn at_comment(&self) -> bool {
        self.peek() == Some(b'#') || (self.peek() == Some(b'/') && self.peek_at(1) == Some(b'/'))
    }

    fn skip_line(&mut self) {
        while let Some(b) = self.peek() {
            if b == b'\n' {
                break;
            }
            self.bump();
        }
    }

    /// Skips blanks, newlines, comments and the optional `;`/`,` terminators.
    /// Skips blanks, newlines, comments and `,` or `;` between entries.
    fn skip_space(&mut self) {
        self.skip_space_and(b",;");
    }

    /// Skips blanks, newlines, comments and the given separators.
    fn skip_space_and(&mut self, separators: &[u8]) {
        loop {
            match self.peek() {
                Some(b' ' | b'\t' | b'\r' | b'\n') => {
                    self.bump();
                }
                Some(b) if separators.contains(&b) => {
                    self.bump();
                }
                Some(_) if self.at_comment() => self.skip_line(),
                _ => return,
            }
        }
    }

    fn skip_blanks(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t')) {
            self.bump();
        }
    }

    fn document(&mut self) -> Result<Value, ConfError> {
        self.scopes.push(Vec::new());
        self.skip_space();
        // A plain JSON file is one top-level map.
        if self.peek() == Some(b'{') {
            let (line, col) = (self.line, self.col);
            self.bump();
            self.entries(Some((b'}', line, col)))?;
            self.skip_space();
            if self.peek().is_some() {
                return self.err(
                    self.line,
                    self.col,
                    "unexpected text after the top-level map",
                );
            }
        } else {
            self.entries(None)?;
        }
        Ok(Value::Map(self.scopes.pop().unwrap_or_default()))
    }

    /// Key/value entries into the innermost scope, until `close` (or the end of the text).
    fn entries(&mut self, close: Option<(u8, usize, usize)>) -> Result<(), ConfError> {
        loop {
            self.skip_space();
            match (self.peek(), close) {
                (None, None) => return Ok(()),
                (None, Some(_)) => {
                    return self.err(self.line, self.col, "unexpected end of file processing map");
                }
                (Some(b'}'), Some(_)) => {
                    self.bump();
                    return Ok(());
                }
                _ => {}
            }
            let (line, col) = (self.line, self.col);
            let key = self.key()?;
            if key == "include" && !matches!(self.peek(), Some(b'=' | b':')) {
                self.include(line, col)?;
                continue;
            }
            self.skip_blanks();
            if matches!(self.peek(), Some(b'=' | b':')) {
                self.bump();
            }
            self.skip_blanks();
            // An empty value is "" at the top level, but an error inside a map (Go's lexer).
            if close.is_some() && self.peek() == Some(b',') {
                return self.err(self.line, self.col, "unexpected map value terminator ','");
            }
            // Entries carry their key's position: that is where field errors point.
            let item = Item {
                line,
                col,
                ..self.value(line, col)?
            };
            let scope = self.scopes.last_mut().expect("a scope is open");
            scope.retain(|(k, _)| *k != key);
            scope.push((key, item));
        }
    }

    fn key(&mut self) -> Result<String, ConfError> {
        let (line, col) = (self.line, self.col);
        if let Some(q @ (b'"' | b'\'')) = self.peek() {
            return self.quoted(q);
        }
        let start = self.i;
        while let Some(b) = self.peek() {
            if matches!(
                b,
                b' ' | b'\t'
                    | b'\r'
                    | b'\n'
                    | b'='
                    | b':'
                    | b'{'
                    | b'['
                    | b'}'
                    | b']'
                    | b','
                    | b';'
            ) {
                break;
            }
            self.bump();
        }
        if self.i == start {
            return self.err(
                line,
                col,
                format!(
                    "unexpected '{}' where a key was expected",
                    self.peek().unwrap_or(b'?') as char
                ),
            );
        }
        Ok(String::from_utf8_lossy(&self.s[start..self.i]).into_owned())
    }

    fn include(&mut self, line: usize, col: usize) -> Result<(), ConfError> {
        self.skip_blanks();
        let name = match self.peek() {
            Some(q @ (b'"' | b'\'')) => self.quoted(q)?,
            _ => self.bare()?,
        };
        if self.depth >= MAX_INCLUDE_DEPTH {
            return self.err(line, col, format!("include nested too deeply: {name}"));
        }
        let path = match &self.dir {
            Some(d) => d.join(&name),
            None => PathBuf::from(&name),
        };
        let mut scopes = std::mem::take(&mut self.scopes);
        // The included file's entries go into the including scope.
        let outer = scopes.len();
        let r = parse_path(&path, &mut scopes, self.depth + 1);
        self.scopes = scopes;
        let Value::Map(kv) = r? else {
            unreachable!("documents are maps")
        };
        let scope = &mut self.scopes[outer - 1];
        for (k, v) in kv {
            scope.retain(|(x, _)| *x != k);
            scope.push((k, v));
        }
        Ok(())
    }

    fn quoted(&mut self, q: u8) -> Result<String, ConfError> {
        let (line, col) = (self.line, self.col);
        self.bump();
        let mut out = Vec::new();
        loop {
            match self.bump() {
                None | Some(b'\n') => return self.err(line, col, "unterminated quoted string"),
                Some(b) if b == q => break,
                Some(b'\\') if q == b'"' => match self.bump() {
                    Some(b'n') => out.push(b'\n'),
                    Some(b't') => out.push(b'\t'),
                    Some(b'r') => out.push(b'\r'),
                    Some(b'"') => out.push(b'"'),
                    Some(b'\\') => out.push(b'\\'),
                    Some(other) => {
                        out.push(b'\\');
                        out.push(other);
                    }
                    None => return self.err(line, col, "unterminated quoted string"),
                },
                Some(b) => out.push(b),
            }
        }
        Ok(String::from_utf8_lossy(&out).into_owned())
    }

    /// A bare value runs to the end of the line, a terminator, a closing bracket or a comment.
    fn bare(&mut self) -> Result<String, ConfError> {
        let start = self.i;
        while let Some(b) = self.peek() {
            if matches!(b, b'\r' | b'\n' | b',' | b';' | b'}' | b']') {
                break;
            }
            if (b == b' ' || b == b'\t') && {
                let save = (self.i, self.line, self.col);
                self.skip_blanks();
                let c = self.at_comment()
                    || matches!(
                        self.peek(),
                        None | Some(b'\r' | b'\n' | b',' | b';' | b'}' | b']')
                    );
                (self.i, self.line, self.col) = save;
                c
            } {
                break;
            }
            self.bump();
        }
        Ok(String::from_utf8_lossy(&self.s[start..self.i]).into_owned())
    }

    fn value(&mut self, line: usize, col: usize) -> Result<Item, ConfError> {
        let (vline, vcol) = (self.line, self.col);
        let value = match self.peek() {
            None | Some(b'\n' | b'\r') => return self.err(line, col, "expected a value"),
            Some(b'{') => {
                self.bump();
                self.scopes.push(Vec::new());
                let r = self.entries(Some((b'}', vline, vcol)));
                let kv = self.scopes.pop().unwrap_or_default();
                r?;
                Value::Map(kv)
            }
            Some(b'[') => {
                self.bump();
                let mut items = Vec::new();
                // Values are separated by one `,` or by newlines, as in Go's lexer.
                let mut after_value = false;
                loop {
                    self.skip_space_and(b"");
                    let (l, c) = (self.line, self.col);
                    match self.peek() {
                        None => {
                            return self.err(vline, vcol, "unexpected end of file processing array")
                        }
                        Some(b']') => {
                            self.bump();
                            break;
                        }
                        Some(b',') if after_value => {
                            self.bump();
                            after_value = false;
                        }
                        Some(b',') => {
                            return self.err(l, c, "unexpected array value terminator ','");
                        }
                        Some(b';') => {
                            return self.err(l, c, "expected an array value terminator ',' or an array terminator ']', but got ';'");
                        }
                        _ => {
                            items.push(self.value(l, c)?);
                            after_value = true;
                        }
                    }
                }
                Value::Array(items)
            }
            Some(q @ (b'"' | b'\'')) => Value::Str(self.quoted(q)?),
            Some(b'$') => {
                let name = self.bare()?;
                return self.variable(&name[1..], vline, vcol);
            }
            _ => {
                let word = self.bare()?;
                // A closer where the value should be would never be consumed here.
                if let (true, Some(c @ (b'}' | b']'))) = (word.is_empty(), self.peek()) {
                    let found = format!("unexpected '{}' where a value was expected", c as char);
                    return self.err(vline, vcol, found);
                }
                self.scalar(&word, vline, vcol)?
            }
        };
        Ok(Item {
            value,
            line: vline,
            col: vcol,
            used: false,
        })
    }

    fn variable(&mut self, name: &str, line: usize, col: usize) -> Result<Item, ConfError> {
        // A bare bcrypt hash (`$2a$10$...`) is a string, not a variable (Go's `bcryptPrefix`).
        if name.starts_with(BCRYPT_PREFIX) {
            return Ok(Item {
                value: Value::Str(format!("${name}")),
                line,
                col,
                used: false,
            });
        }
        for scope in self.scopes.iter_mut().rev() {
            if let Some((_, v)) = scope.iter_mut().rev().find(|(k, _)| k == name) {
                v.used = true;
                return Ok(Item {
                    line,
                    col,
                    used: false,
                    ..v.clone()
                });
            }
        }
        match std::env::var(name) {
            // Environment values are config values themselves (`"5s"`, `1MB`, `true`).
            Ok(text) => {
                let mut p = Parser::new(&text, format!("${name}"), None, self.depth);
                let item = p.value(line, col)?;
                Ok(Item { line, col, ..item })
            }
            Err(_) => self.err(
                line,
                col,
                format!("variable reference for '{name}' on line {line} can not be found"),
            ),
        }
    }

    fn scalar(&self, w: &str, line: usize, col: usize) -> Result<Value, ConfError> {
        match w.to_ascii_lowercase().as_str() {
            "true" | "yes" | "on" => return Ok(Value::Bool(true)),
            "false" | "no" | "off" => return Ok(Value::Bool(false)),
            _ => {}
        }
        // An empty value (`key = ,`) is the empty string, as in the Go server.
        let Some(&first) = w.as_bytes().first() else {
            return Ok(Value::Str(String::new()));
        };
        if !(first.is_ascii_digit()
            || (first == b'-' && w.len() > 1 && w.as_bytes()[1].is_ascii_digit()))
        {
            return Ok(Value::Str(w.to_string()));
        }
        // Digits, then an optional fraction, then an optional size suffix.
        let digits_end = w
            .char_indices()
            .skip(1)
            .find(|(_, c)| !c.is_ascii_digit())
            .map_or(w.len(), |(i, _)| i);
        let (num, rest) = w.split_at(digits_end);
        if rest.is_empty() {
            return num
                .parse()
                .map(Value::Int)
                .or_else(|_| self.err(line, col, format!("invalid integer '{w}'")));
        }
        if let Some(frac) = rest.strip_prefix('.') {
            if !frac.is_empty() && frac.bytes().all(|b| b.is_ascii_digit()) {
                return w
                    .parse()
                    .map(Value::Float)
                    .or_else(|_| self.err(line, col, format!("invalid float '{w}'")));
            }
            // Dotted digits: an IP address, kept as a string.
            if w.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
                return Ok(Value::Str(w.to_string()));
            }
        }
        // `127.0.0.1:4222`, and `127.0.0.1:-1` for a random port (Go's `lexIPAddr` takes
        // digits, '.', ':' and '-').
        if w.contains(':')
            && w.bytes()
                .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b':' | b'-'))
        {
            return Ok(Value::Str(w.to_string()));
        }
        let mult: i64 = match rest.to_ascii_lowercase().as_str() {
            "k" => 1000,
            "kb" | "ki" | "kib" => 1 << 10,
            "m" => 1_000_000,
            "mb" | "mi" | "mib" => 1 << 20,
            "g" => 1_000_000_000,
            "gb" | "gi" | "gib" => 1 << 30,
            "t" => 1_000_000_000_000,
            "tb" | "ti" | "tib" => 1 << 40,
            "p" => 1_000_000_000_000_000,
            "pb" | "pi" | "pib" => 1 << 50,
            "e" => 1_000_000_000_000_000_000,
            "eb" | "ei" | "eib" => 1 << 60,
            _ => {
                return self.err(
                    line,
                    col,
                    format!("invalid value '{w}': quote strings that start with a digit"),
                )
            }
        };
        let n: i64 = num
            .parse()
            .or_else(|_| self.err(line, col, format!("invalid integer '{w}'")))?;
        n.checked_mul(mult)
            .map(Value::Int)
            .ok_or(())
            .or_else(|_| self.err(line, col, format!("integer '{w}' out of range")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get<'v>(v: &'v Value, path: &str) -> &'v Value {
        path.split('/').fold(v, |v, k| {
            &v.get(k).unwrap_or_else(|| panic!("no {k}")).value
        })
    }

    #[test]
    fn separators_comments_and_terminators() {
        let v = parse(
            "port: 4222\nhost = 127.0.0.1 # trailing comment\nserver_name \"x\"; debug: true\n// line comment\nlisten: localhost:4333\n",
        )
        .unwrap();
        assert_eq!(get(&v, "port"), &Value::Int(4222));
        assert_eq!(get(&v, "host"), &Value::Str("127.0.0.1".into()));
        assert_eq!(get(&v, "server_name"), &Value::Str("x".into()));
        assert_eq!(get(&v, "debug"), &Value::Bool(true));
        assert_eq!(get(&v, "listen"), &Value::Str("localhost:4333".into()));
    }

    #[test]
    fn maps_arrays_sizes_and_booleans() {
        let v = parse(
            "authorization {\n  users = [\n    {user: a, password: \"p w\"}\n    {user: b, password: q}, \n  ]\n  timeout: 1.5\n}\nmax_payload: 1MB\nmax_pending: 2M\nx: 1KiB\nflags: [on, off, yes, No]\n",
        )
        .unwrap();
        let Value::Array(users) = get(&v, "authorization/users") else {
            panic!()
        };
        assert_eq!(users.len(), 2);
        assert_eq!(
            users[0].value.get("password").unwrap().value,
            Value::Str("p w".into())
        );
        assert_eq!(get(&v, "authorization/timeout"), &Value::Float(1.5));
        assert_eq!(get(&v, "max_payload"), &Value::Int(1 << 20));
        assert_eq!(get(&v, "max_pending"), &Value::Int(2_000_000));
        assert_eq!(get(&v, "x"), &Value::Int(1024));
        let Value::Array(f) = get(&v, "flags") else {
            panic!()
        };
        let f: Vec<&Value> = f.iter().map(|i| &i.value).collect();
        assert_eq!(
            f,
            [
                &Value::Bool(true),
                &Value::Bool(false),
                &Value::Bool(true),
                &Value::Bool(false)
            ]
        );
    }

    #[test]
    fn empty_values_are_empty_strings() {
        // Found by the fuzzer: this used to panic. The Go server reads "" here too.
        let v = parse("server_name = ,\ny = ;\n").unwrap();
        for key in ["server_name", "y"] {
            assert_eq!(get(&v, key), &Value::Str(String::new()), "{key}");
        }
        // Inside an array or a map an empty value is an error, as in the Go server.
        for (text, msg) in [
            ("x: [1,,2]\n", "unexpected array value terminator ','"),
            ("x: [,1]\n", "unexpected array value terminator ','"),
            ("x: [1;2]\n", "but got ';'"),
            ("a { token: , }\n", "unexpected map value terminator ','"),
        ] {
            let e = parse(text).unwrap_err();
            assert!(e.msg.contains(msg), "{text:?}: {e}");
        }
        let v = parse("x: [1, 2,]\ny: [\n  a\n  b\n]\n").unwrap();
        for key in ["x", "y"] {
            let Value::Array(items) = get(&v, key) else {
                panic!("{key}")
            };
            assert_eq!(items.len(), 2, "{key}");
        }
        // A closer where a value belongs is an error, not an empty value forever.
        let e = parse("a: [1, }\n").unwrap_err();
        assert_eq!((e.line, e.col), (1, 7), "{e}");
        assert!(
            e.msg.contains("unexpected '}' where a value was expected"),
            "{e}"
        );
    }

    #[test]
    fn variables_are_marked_used_and_bcrypt_hashes_are_strings() {
        let v = parse("ROLE { publish: x }\nunused: 1\nauth { p: $ROLE }\n").unwrap();
        let Value::Map(kv) = &v else { panic!() };
        let used: Vec<(&str, bool)> = kv.iter().map(|(k, i)| (k.as_str(), i.used)).collect();
        assert_eq!(used, [("ROLE", true), ("unused", false), ("auth", false)]);
        let v = parse("pass: $2a$10$UHR6GhotWhpLsKtVP0/i6.Nh9\n").unwrap();
        assert_eq!(
            get(&v, "pass"),
            &Value::Str("$2a$10$UHR6GhotWhpLsKtVP0/i6.Nh9".into())
        );
        // A random port after an address, unquoted, as Go's tests write it.
        let v = parse("listen: 127.0.0.1:-1\n").unwrap();
        assert_eq!(get(&v, "listen"), &Value::Str("127.0.0.1:-1".into()));
    }

    #[test]
    fn variables_scoped_then_environment() {
        std::env::set_var("RIPTIDE_CONF_TEST_PORT", "5222");
        let v = parse(
            "limit: 100\nblock { limit: 7, a: $limit }\nb: $limit\np: $RIPTIDE_CONF_TEST_PORT\n",
        )
        .unwrap();
        assert_eq!(get(&v, "block/a"), &Value::Int(7));
        assert_eq!(get(&v, "b"), &Value::Int(100));
        assert_eq!(get(&v, "p"), &Value::Int(5222));
        // Columns of the first line count from 0, as Go's lexer counts them.
        let e = parse("a: $nope_riptide_missing\n").unwrap_err();
        assert_eq!((e.line, e.col), (1, 3));
    }

    #[test]
    fn errors_name_line_and_column() {
        let e = parse("port: 4222\nmax_payload: {\n").unwrap_err();
        assert!(e.msg.contains("end of file processing map"), "{e}");
        let e = parse("port: 4222\ntoken: 3secret\n").unwrap_err();
        assert_eq!((e.line, e.col), (2, 8), "{e}");
        let e = parse("a: \"open\n").unwrap_err();
        assert_eq!((e.line, e.col), (1, 3));
        let e = parse("a: [1, 2\n").unwrap_err();
        assert!(e.msg.contains("array"), "{e}");
        assert!(parse("}").is_err());
    }

    #[test]
    fn includes_are_relative_to_the_including_file() {
        let dir = std::env::temp_dir().join(format!("riptide-conf-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("sub")).unwrap();
        std::fs::write(
            dir.join("main.conf"),
            "port: 1\ninclude sub/auth.conf\nafter: $secret\n",
        )
        .unwrap();
        std::fs::write(
            dir.join("sub/auth.conf"),
            "secret: s3\ninclude 'more.conf'\n",
        )
        .unwrap();
        std::fs::write(dir.join("sub/more.conf"), "more: true\n").unwrap();
        let v = parse_file(&dir.join("main.conf")).unwrap();
        assert_eq!(get(&v, "secret"), &Value::Str("s3".into()));
        assert_eq!(get(&v, "more"), &Value::Bool(true));
        assert_eq!(get(&v, "after"), &Value::Str("s3".into()));
        std::fs::write(dir.join("loop.conf"), "include loop.conf\n").unwrap();
        assert!(parse_file(&dir.join("loop.conf"))
            .unwrap_err()
            .msg
            .contains("too deeply"));
        let e = parse_file(&dir.join("missing.conf")).unwrap_err();
        assert!(e.msg.contains("no such file or directory"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn plain_json_parses() {
        let v = parse("{\n  \"port\": 4222,\n  \"debug\": false,\n  \"tags\": [\"a\", \"b\"]\n}\n")
            .unwrap();
        assert_eq!(get(&v, "port"), &Value::Int(4222));
        assert_eq!(get(&v, "debug"), &Value::Bool(false));
        let Value::Array(tags) = get(&v, "tags") else {
            panic!()
        };
        assert_eq!(tags[1].value, Value::Str("b".into()));
    }
}
