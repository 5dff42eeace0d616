//! The Go server's configuration parser (`conf/parse.go` of nats-server 2.15, pedantic mode)
//! over the items of its lexer: a stack of maps and arrays being built, a stack of keys, and
//! values that keep the file, line and column errors name. Its quirks are Go's: a number
//! with an unknown size suffix sets nothing, an included file sees none of the including
//! file's variables, and an `include` path is joined to the including file's directory even
//! when it is absolute.

use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;

use super::lexer::{Kind, Lexer, Token};

/// A parsed value and where it started.
#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    pub value: Value,
    /// The file it was read from, named as Go names it in errors: the configuration file as
    /// given, or an included file's path joined to the including file's directory.
    pub file: Arc<str>,
    pub line: usize,
    pub col: usize,
    /// A `$variable` referred to this entry: the Go server then takes the key for a variable
    /// and does not report it as an unknown field (`token.IsUsedVariable`).
    pub used: bool,
}

impl Item {
    /// `file:line:col`, how Go's errors about this item start.
    pub fn position(&self) -> String {
        format!("{}:{}:{}", self.file, self.line, self.col)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    /// A Zulu ISO 8601 datetime (`2020-01-02T03:04:05Z`), as written.
    Datetime(String),
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

/// A syntax, variable or include error, worded as the Go server words it
/// (`Parse error on line 3: 'Unexpected EOF.'`).
#[derive(Debug, Clone, PartialEq)]
pub struct ConfError(pub String);

impl std::fmt::Display for ConfError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<String> for ConfError {
    fn from(msg: String) -> Self {
        ConfError(msg)
    }
}

/// What follows the `$` of a bcrypt hash written without quotes (`bcryptPrefix`, conf/parse.go).
const BCRYPT_PREFIX: &str = "2a$";

/// The key an environment variable's value is parsed under (Go's `pkey`).
const ENV_KEY: &str = "pk";

/// Deepest `include` nesting. Go has no limit and overflows its stack on an include cycle.
const MAX_INCLUDE_DEPTH: usize = 10;

/// Parses a file, resolving includes relative to it.
pub fn parse_file(path: &Path) -> Result<Value, ConfError> {
    parse_path(&path.display().to_string(), 0)
}

fn parse_path(fp: &str, depth: usize) -> Result<Value, ConfError> {
    let data = read(fp)?;
    let mut env_refs = HashSet::new();
    Parser::new(&data, fp, Some(go_dir(fp)), depth, &mut env_refs).parse()
}

/// Go's `os.ReadFile` and the wording of its errors.
fn read(fp: &str) -> Result<Vec<u8>, ConfError> {
    use std::io::Read;
    let mut f =
        std::fs::File::open(fp).map_err(|e| ConfError(format!("open {fp}: {}", io_text(&e))))?;
    let mut data = Vec::new();
    f.read_to_end(&mut data)
        .map_err(|e| ConfError(format!("read {fp}: {}", io_text(&e))))?;
    Ok(data)
}

fn io_text(e: &std::io::Error) -> String {
    let s = e.to_string();
    let s = s.split(" (os error").next().unwrap_or(&s).to_string();
    s.to_lowercase()
}

/// Parses text with no file behind it (tests, the fuzzer): its items are named `<text>`, and
/// an `include` in it is an error instead of a read relative to the working directory.
pub fn parse(text: &str) -> Result<Value, ConfError> {
    Parser::new(text.as_bytes(), "<text>", None, 0, &mut HashSet::new()).parse()
}

/// Go's `filepath.Clean` for `/`-separated paths.
fn go_clean(path: &str) -> String {
    let rooted = path.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." if parts.last().is_some_and(|p| *p != "..") => {
                parts.pop();
            }
            ".." if rooted => {}
            p => parts.push(p),
        }
    }
    let joined = parts.join("/");
    if rooted {
        format!("/{joined}")
    } else if joined.is_empty() {
        ".".into()
    } else {
        joined
    }
}

/// Go's `filepath.Dir`.
pub(super) fn go_dir(path: &str) -> String {
    go_clean(&path[..path.rfind('/').map_or(0, |i| i + 1)])
}

/// Go's `filepath.Join(dir, name)`: `name` is joined even when it is absolute.
pub(super) fn go_join(dir: &str, name: &str) -> String {
    if name.is_empty() {
        go_clean(dir)
    } else {
        go_clean(&format!("{dir}/{name}"))
    }
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// A map or an array being built.
enum Ctx {
    Map(Vec<(String, Item)>),
    Array(Vec<Item>),
}

struct Parser<'a, 'e> {
    lx: Lexer<'a>,
    ctxs: Vec<Ctx>,
    /// Keys waiting for their value, and where each key is.
    keys: Vec<(String, usize, usize)>,
    file: Arc<str>,
    /// The directory includes are joined to; none for text without a file.
    dir: Option<String>,
    depth: usize,
    /// Environment variables being expanded, against a variable whose value names itself.
    env_refs: &'e mut HashSet<String>,
}

impl<'a, 'e> Parser<'a, 'e> {
    fn new(
        data: &'a [u8],
        file: &str,
        dir: Option<String>,
        depth: usize,
        env_refs: &'e mut HashSet<String>,
    ) -> Self {
        Parser {
            lx: Lexer::new(data),
            ctxs: vec![Ctx::Map(Vec::new())],
            keys: Vec::new(),
            file: file.into(),
            dir,
            depth,
            env_refs,
        }
    }

    fn parse(mut self) -> Result<Value, ConfError> {
        let mut prev: Option<Token> = None;
        loop {
            let it = self.lx.next_item();
            if it.kind == Kind::Eof {
                // A key without a value at the end; a lone `}` is JSON's closing brace.
                if prev.is_some_and(|p| p.kind == Kind::Key && p.val != b"}") {
                    return Err(ConfError(format!(
                        "config is invalid ({}:{}:{})",
                        self.file, it.line, it.col
                    )));
                }
                break;
            }
            self.process(&it)?;
            prev = Some(it);
        }
        match self.ctxs.swap_remove(0) {
            Ctx::Map(kv) => Ok(Value::Map(kv)),
            Ctx::Array(_) => unreachable!("the root is a map"),
        }
    }

    fn process(&mut self, it: &Token) -> Result<(), ConfError> {
        match it.kind {
            Kind::Error => {
                return Err(ConfError(format!(
                    "Parse error on line {}: '{}'",
                    it.line,
                    text(&it.val)
                )))
            }
            Kind::Key => self.keys.push((text(&it.val), it.line, it.col)),
            Kind::MapStart => self.ctxs.push(Ctx::Map(Vec::new())),
            Kind::MapEnd => {
                if let Some(Ctx::Map(kv)) = self.pop_context() {
                    self.set_value(Value::Map(kv), it);
                }
            }
            Kind::ArrayStart => self.ctxs.push(Ctx::Array(Vec::new())),
            Kind::ArrayEnd => {
                if let Some(Ctx::Array(a)) = self.pop_context() {
                    self.set_value(Value::Array(a), it);
                }
            }
            Kind::String => self.set_value(Value::Str(text(&it.val)), it),
            Kind::Integer => {
                if let Some(n) = integer(&text(&it.val))? {
                    self.set_value(Value::Int(n), it);
                }
            }
            Kind::Float => {
                let s = text(&it.val);
                match s.parse::<f64>() {
                    Ok(f) if f.is_finite() => self.set_value(Value::Float(f), it),
                    Ok(_) => return Err(format!("float '{s}' is out of the range").into()),
                    Err(_) => return Err(format!("expected float, but got '{s}'").into()),
                }
            }
            Kind::Bool => {
                let s = text(&it.val);
                let b = match s.to_ascii_lowercase().as_str() {
                    "true" | "yes" | "on" => true,
                    "false" | "no" | "off" => false,
                    _ => return Err(format!("expected boolean value, but got '{s}'").into()),
                };
                self.set_value(Value::Bool(b), it);
            }
            Kind::Datetime => {
                let s = text(&it.val);
                if !valid_zulu(&s) {
                    return Err(format!("expected Zulu formatted DateTime, but got '{s}'").into());
                }
                self.set_value(Value::Datetime(s), it);
            }
            Kind::Variable => {
                let name = text(&it.val);
                match self.lookup_variable(&name) {
                    Ok(Some(v)) => self.set_value(v, it),
                    Ok(None) => {
                        return Err(format!(
                            "variable reference for '{name}' on line {} can not be found",
                            it.line
                        )
                        .into())
                    }
                    Err(e) => {
                        return Err(format!(
                            "variable reference for '{name}' on line {} could not be parsed: {e}",
                            it.line
                        )
                        .into())
                    }
                }
            }
            Kind::Include => self.include(&text(&it.val))?,
            Kind::Eof | Kind::Text | Kind::CommentStart => {}
        }
        Ok(())
    }

    /// Go pops the root too and then panics; its lexer never closes more than it opened.
    fn pop_context(&mut self) -> Option<Ctx> {
        if self.ctxs.len() > 1 {
            self.ctxs.pop()
        } else {
            None
        }
    }

    fn set_value(&mut self, value: Value, it: &Token) {
        let item = Item {
            value,
            file: self.file.clone(),
            line: it.line,
            col: it.col,
            used: false,
        };
        self.set_item(item);
    }

    /// Into the array being built, or under the last key into the map being built, where the
    /// entry takes the key's position: that is where Go's errors about it point.
    fn set_item(&mut self, mut item: Item) {
        match self.ctxs.last_mut() {
            Some(Ctx::Array(a)) => a.push(item),
            Some(Ctx::Map(kv)) => {
                // Go's lexer gives every map value a key first; anything else is dropped.
                let Some((key, line, col)) = self.keys.pop() else {
                    return;
                };
                (item.line, item.col) = (line, col);
                kv.retain(|(k, _)| *k != key);
                kv.push((key, item));
            }
            None => {}
        }
    }

    /// A map key in scope, innermost first, marked as used; then the environment, whose
    /// value is parsed as a configuration value.
    fn lookup_variable(&mut self, name: &str) -> Result<Option<Value>, ConfError> {
        // A bare bcrypt hash (`$2a$10$...`) is a string, not a variable.
        if name.starts_with(BCRYPT_PREFIX) {
            return Ok(Some(Value::Str(format!("${name}"))));
        }
        for ctx in self.ctxs.iter_mut().rev() {
            if let Ctx::Map(kv) = ctx {
                if let Some((_, v)) = kv.iter_mut().find(|(k, _)| k == name) {
                    v.used = true;
                    return Ok(Some(v.value.clone()));
                }
            }
        }
        if self.env_refs.contains(name) {
            return Err(format!("variable reference cycle for '{name}'").into());
        }
        let Some(env) = std::env::var_os(name) else {
            return Ok(None);
        };
        let data = format!("{ENV_KEY}={}", env.to_string_lossy());
        self.env_refs.insert(name.to_string());
        let parsed = Parser::new(
            data.as_bytes(),
            "",
            Some(".".into()),
            self.depth,
            self.env_refs,
        )
        .parse();
        self.env_refs.remove(name);
        let Value::Map(kv) = parsed? else {
            unreachable!("documents are maps")
        };
        Ok(kv
            .into_iter()
            .find(|(k, _)| k == ENV_KEY)
            .map(|(_, v)| v.value))
    }

    /// The included file's entries go into the map being built, with their own positions.
    fn include(&mut self, name: &str) -> Result<(), ConfError> {
        let wrap = |e: ConfError| ConfError(format!("error parsing include file '{name}', {e}"));
        let Some(dir) = &self.dir else {
            return Err(wrap(ConfError("includes need a configuration file".into())));
        };
        if self.depth >= MAX_INCLUDE_DEPTH {
            return Err(wrap(ConfError(format!(
                "includes nested more than {MAX_INCLUDE_DEPTH} deep"
            ))));
        }
        let Value::Map(kv) = parse_path(&go_join(dir, name), self.depth + 1).map_err(wrap)? else {
            unreachable!("documents are maps")
        };
        for (k, v) in kv {
            self.keys.push((k, v.line, v.col));
            self.set_item(v);
        }
        Ok(())
    }
}

/// An integer with an optional size suffix, as Go reads it; an unknown suffix gives nothing
/// at all (Go sets no value and leaves the key waiting).
fn integer(s: &str) -> Result<Option<i64>, ConfError> {
    let digits = s
        .bytes()
        .take_while(|b| b.is_ascii_digit() || *b == b'-')
        .count();
    let num: i64 = s[..digits].parse().map_err(|e: std::num::ParseIntError| {
        use std::num::IntErrorKind::{NegOverflow, PosOverflow};
        match e.kind() {
            PosOverflow | NegOverflow => ConfError(format!("integer '{s}' is out of the range")),
            _ => ConfError(format!("expected integer, but got '{s}'")),
        }
    })?;
    const K: i64 = 1000;
    const KI: i64 = 1024;
    let mult = match s[digits..].trim().to_ascii_lowercase().as_str() {
        "" => 1,
        "k" => K,
        "kb" | "ki" | "kib" => KI,
        "m" => K.pow(2),
        "mb" | "mi" | "mib" => KI.pow(2),
        "g" => K.pow(3),
        "gb" | "gi" | "gib" => KI.pow(3),
        "t" => K.pow(4),
        "tb" | "ti" | "tib" => KI.pow(4),
        "p" => K.pow(5),
        "pb" | "pi" | "pib" => KI.pow(5),
        "e" => K.pow(6),
        "eb" | "ei" | "eib" => KI.pow(6),
        _ => return Ok(None),
    };
    // Go's int64 arithmetic wraps.
    Ok(Some(num.wrapping_mul(mult)))
}

/// What Go's `time.Parse("2006-01-02T15:04:05Z", s)` accepts of the shape the lexer lets
/// through: a real calendar day and a time of day.
fn valid_zulu(s: &str) -> bool {
    let n = |r: std::ops::Range<usize>| s.get(r).and_then(|d| d.parse::<u32>().ok());
    let (Some(year), Some(month), Some(day), Some(hour), Some(min), Some(sec)) =
        (n(0..4), n(5..7), n(8..10), n(11..13), n(14..16), n(17..19))
    else {
        return false;
    };
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let days = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    (1..=days).contains(&day) && hour < 24 && min < 60 && sec < 60
}
