//! The Go server's configuration lexer (`conf/lex.go` of nats-server 2.15), state for state:
//! what it accepts, where it stops and how it words the stop are what `-t` prints, so they
//! follow Go's state machine rather than a grammar of their own. Runes are decoded as Go
//! decodes them (a byte of invalid UTF-8 is U+FFFD of width 1), and NUL is Go's `eof`
//! sentinel, so a NUL in the text ends it where Go's does.

use std::collections::VecDeque;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    Error,
    Eof,
    Key,
    Text,
    String,
    Bool,
    Integer,
    Float,
    Datetime,
    ArrayStart,
    ArrayEnd,
    MapStart,
    MapEnd,
    CommentStart,
    Variable,
    Include,
}

/// One lexed item: its kind, its bytes (escapes resolved) and where Go says it starts. The
/// column counts from 0 on the first line and from 1 on the others, as Go's does.
#[derive(Debug, Clone)]
pub(super) struct Token {
    pub kind: Kind,
    pub val: Vec<u8>,
    pub line: usize,
    pub col: usize,
}

const EOF: char = '\0';
const MAP_START: char = '{';
const MAP_END: char = '}';
const KEY_SEP_EQUAL: char = '=';
const KEY_SEP_COLON: char = ':';
const ARRAY_START: char = '[';
const ARRAY_END: char = ']';
const ARRAY_VAL_TERM: char = ',';
const MAP_VAL_TERM: char = ',';
const COMMENT_HASH_START: char = '#';
const COMMENT_SLASH_START: char = '/';
const DQ_STRING_START: char = '"';
const DQ_STRING_END: char = '"';
const SQ_STRING_START: char = '\'';
const SQ_STRING_END: char = '\'';
const OPT_VAL_TERM: char = ';';
const TOP_OPT_START: char = '{';
const TOP_OPT_VAL_TERM: char = ',';
const TOP_OPT_TERM: char = '}';
const BLOCK_START: char = '(';
const BLOCK_END: char = ')';

/// Go's state functions, one variant each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Top,
    TopValueEnd,
    BlockStart,
    BlockValueEnd,
    BlockEnd,
    KeyStart,
    DubQuotedKey,
    QuotedKey,
    IncludeStart,
    IncludeQuotedString,
    IncludeDubQuotedString,
    IncludeString,
    Include,
    Key,
    KeyEnd,
    Value,
    ArrayValue,
    ArrayValueEnd,
    ArrayEnd,
    MapKeyStart,
    MapQuotedKey,
    MapDubQuotedKey,
    MapKey,
    MapKeyEnd,
    MapValue,
    MapValueEnd,
    MapEnd,
    QuotedString,
    DubQuotedString,
    String,
    Block,
    StringEscape,
    StringBinary,
    NumberOrDateOrStringOrIpStart,
    NumberOrDateOrStringOrIp,
    ConvenientNumber,
    DateAfterYear,
    NegNumberStart,
    NegNumber,
    FloatStart,
    Float,
    IpAddr,
    CommentStart,
    Comment,
}

pub(super) struct Lexer<'a> {
    input: &'a [u8],
    start: usize,
    pos: usize,
    width: usize,
    line: usize,
    /// `None` once Go's state function would have returned nil.
    state: Option<State>,
    stack: Vec<State>,
    /// Pieces of a string already unescaped; their count matters, not only their bytes.
    string_parts: Vec<Vec<u8>>,
    string_state: State,
    /// Start of the current line (the offset of its newline).
    lstart: usize,
    /// Start of the line the current item began on.
    ilstart: usize,
    items: VecDeque<Token>,
}

/// Go's `utf8.DecodeRuneInString`: the rune at the front and its width, U+FFFD of width 1
/// for a byte that starts no valid sequence.
fn decode(b: &[u8]) -> (char, usize) {
    let head = &b[..b.len().min(4)];
    let valid = match std::str::from_utf8(head) {
        Ok(s) => s,
        Err(e) => std::str::from_utf8(&head[..e.valid_up_to()]).unwrap_or_default(),
    };
    match valid.chars().next() {
        Some(c) => (c, c.len_utf8()),
        None => (char::REPLACEMENT_CHARACTER, 1),
    }
}

fn is_whitespace(r: char) -> bool {
    r == '\t' || r == ' '
}

fn is_nl(r: char) -> bool {
    r == '\n' || r == '\r'
}

fn is_key_separator(r: char) -> bool {
    r == KEY_SEP_EQUAL || r == KEY_SEP_COLON
}

fn is_number_suffix(r: char) -> bool {
    matches!(
        r,
        'k' | 'K' | 'm' | 'M' | 'g' | 'G' | 't' | 'T' | 'p' | 'P' | 'e' | 'E'
    )
}

/// Go's `unicode.IsSpace` is the Unicode White_Space property, as Rust's is.
fn is_space(r: char) -> bool {
    r.is_whitespace()
}

fn is_digit(r: char) -> bool {
    r.is_ascii_digit()
}

/// Go's `escapeSpecial`: how a rune shows in an error message.
fn shown(r: char) -> String {
    if r == '\n' {
        "\\n".into()
    } else {
        r.to_string()
    }
}

impl<'a> Lexer<'a> {
    pub(super) fn new(input: &'a [u8]) -> Self {
        Lexer {
            input,
            start: 0,
            pos: 0,
            width: 0,
            line: 1,
            state: Some(State::Top),
            stack: Vec::new(),
            string_parts: Vec::new(),
            string_state: State::String,
            lstart: 0,
            ilstart: 0,
            items: VecDeque::new(),
        }
    }

    pub(super) fn next_item(&mut self) -> Token {
        loop {
            if let Some(item) = self.items.pop_front() {
                return item;
            }
            match self.state {
                Some(s) => self.state = self.step(s),
                // Go would call a nil state here; every path to nil emits an item first.
                None => {
                    return Token {
                        kind: Kind::Eof,
                        val: Vec::new(),
                        line: self.line,
                        col: 0,
                    }
                }
            }
        }
    }

    fn push(&mut self, s: State) {
        self.stack.push(s);
    }

    fn pop(&mut self) -> Option<State> {
        match self.stack.pop() {
            Some(s) => Some(s),
            None => self.errorf("BUG in lexer: no states to pop.".into()),
        }
    }

    fn emit(&mut self, kind: Kind) {
        let mut val = self.string_parts.concat();
        val.extend_from_slice(&self.input[self.start..self.pos]);
        self.emit_val(kind, val);
    }

    fn emit_string(&mut self) {
        let mut val = std::mem::take(&mut self.string_parts).concat();
        val.extend_from_slice(&self.input[self.start..self.pos]);
        self.emit_val(Kind::String, val);
    }

    fn emit_val(&mut self, kind: Kind, val: Vec<u8>) {
        let col = (self.pos - self.ilstart).saturating_sub(val.len());
        self.items.push_back(Token {
            kind,
            val,
            line: self.line,
            col,
        });
        self.start = self.pos;
        self.ilstart = self.lstart;
    }

    fn add_current_string_part(&mut self, offset: usize) {
        let part = self.input[self.start..self.pos - offset].to_vec();
        self.string_parts.push(part);
        self.start = self.pos;
    }

    fn add_string_part(&mut self, s: &[u8]) -> Option<State> {
        self.string_parts.push(s.to_vec());
        self.start = self.pos;
        Some(self.string_state)
    }

    fn next(&mut self) -> char {
        if self.pos >= self.input.len() {
            self.width = 0;
            return EOF;
        }
        if self.input[self.pos] == b'\n' {
            self.line += 1;
            self.lstart = self.pos;
        }
        let (r, w) = decode(&self.input[self.pos..]);
        self.width = w;
        self.pos += w;
        r
    }

    fn ignore(&mut self) {
        self.start = self.pos;
        self.ilstart = self.lstart;
    }

    fn backup(&mut self) {
        self.pos -= self.width;
        if self.pos < self.input.len() && self.input[self.pos] == b'\n' {
            self.line -= 1;
        }
    }

    fn peek(&mut self) -> char {
        let r = self.next();
        self.backup();
        r
    }

    fn errorf(&mut self, msg: String) -> Option<State> {
        self.items.push_back(Token {
            kind: Kind::Error,
            val: msg.into_bytes(),
            line: self.line,
            col: self.pos - self.lstart,
        });
        None
    }

    /// Go's `lexSkip(lx, next)`: what was read so far is dropped.
    fn skip(&mut self, next: State) -> Option<State> {
        self.ignore();
        Some(next)
    }

    /// `eof` reached where a value or key was open: an error if anything was read.
    fn eof_or(&mut self, msg: &str) -> Option<State> {
        if self.pos > self.start {
            return self.errorf(msg.into());
        }
        self.emit(Kind::Eof);
        None
    }

    /// A `#` or `//` comment starts here (the first `/` already read): returns to `back`.
    fn comment_after_slash(&mut self, back: State) -> Option<Option<State>> {
        if self.next() == COMMENT_SLASH_START {
            self.push(back);
            return Some(Some(State::CommentStart));
        }
        self.backup();
        None
    }

    fn step(&mut self, s: State) -> Option<State> {
        match s {
            State::Top => self.top(),
            State::TopValueEnd => self.top_value_end(),
            State::BlockStart => self.block_start(),
            State::BlockValueEnd => self.block_value_end(),
            State::BlockEnd => self.block_end(),
            State::KeyStart => self.key_start(),
            State::DubQuotedKey => self.quoted_key(DQ_STRING_END),
            State::QuotedKey => self.quoted_key(SQ_STRING_END),
            State::IncludeStart => self.include_start(),
            State::IncludeQuotedString => self.include_quoted(SQ_STRING_END),
            State::IncludeDubQuotedString => self.include_quoted(DQ_STRING_END),
            State::IncludeString => self.include_string(),
            State::Include => self.include(),
            State::Key => self.key(),
            State::KeyEnd => self.key_end(),
            State::Value => self.value(),
            State::ArrayValue => self.array_value(),
            State::ArrayValueEnd => self.array_value_end(),
            State::ArrayEnd => self.array_end(),
            State::MapKeyStart => self.map_key_start(),
            State::MapQuotedKey => self.map_quoted_key(SQ_STRING_END),
            State::MapDubQuotedKey => self.map_quoted_key(DQ_STRING_END),
            State::MapKey => self.map_key(),
            State::MapKeyEnd => self.map_key_end(),
            State::MapValue => self.map_value(),
            State::MapValueEnd => self.map_value_end(),
            State::MapEnd => self.map_end(),
            State::QuotedString => self.quoted_string(),
            State::DubQuotedString => self.dub_quoted_string(),
            State::String => self.string(),
            State::Block => self.block(),
            State::StringEscape => self.string_escape(),
            State::StringBinary => self.string_binary(),
            State::NumberOrDateOrStringOrIpStart | State::NegNumberStart => self.number_start(s),
            State::NumberOrDateOrStringOrIp => self.number_or_date_or_string_or_ip(),
            State::ConvenientNumber => self.convenient_number(),
            State::DateAfterYear => self.date_after_year(),
            State::NegNumber => self.neg_number(),
            State::FloatStart => self.float_start(),
            State::Float => self.float(),
            State::IpAddr => self.ip_addr(),
            State::CommentStart => self.comment_start(),
            State::Comment => self.comment(),
        }
    }

    fn top(&mut self) -> Option<State> {
        let r = self.next();
        if is_space(r) {
            return self.skip(State::Top);
        }
        match r {
            TOP_OPT_START => {
                self.push(State::Top);
                return self.skip(State::BlockStart);
            }
            COMMENT_HASH_START => {
                self.push(State::Top);
                return Some(State::CommentStart);
            }
            COMMENT_SLASH_START => {
                if let Some(s) = self.comment_after_slash(State::Top) {
                    return s;
                }
                return self.eof_or("Unexpected EOF.");
            }
            EOF => return self.eof_or("Unexpected EOF."),
            _ => {}
        }
        self.backup();
        self.push(State::TopValueEnd);
        Some(State::KeyStart)
    }

    fn top_value_end(&mut self) -> Option<State> {
        let r = self.next();
        match r {
            COMMENT_HASH_START => {
                self.push(State::Top);
                return Some(State::CommentStart);
            }
            COMMENT_SLASH_START => {
                if let Some(s) = self.comment_after_slash(State::Top) {
                    return s;
                }
                return Some(State::TopValueEnd);
            }
            _ if is_whitespace(r) => return Some(State::TopValueEnd),
            _ if is_nl(r)
                || r == EOF
                || r == OPT_VAL_TERM
                || r == TOP_OPT_VAL_TERM
                || r == TOP_OPT_TERM =>
            {
                self.ignore();
                return Some(State::Top);
            }
            _ => {}
        }
        self.errorf(format!(
            "Expected a top-level value to end with a new line, comment or EOF, but got '{}' instead.",
            shown(r)
        ))
    }

    fn block_start(&mut self) -> Option<State> {
        let r = self.next();
        if is_space(r) {
            return self.skip(State::BlockStart);
        }
        match r {
            TOP_OPT_START => {
                self.push(State::BlockEnd);
                return self.skip(State::BlockStart);
            }
            TOP_OPT_TERM => {
                self.ignore();
                return self.pop();
            }
            COMMENT_HASH_START => {
                self.push(State::BlockStart);
                return Some(State::CommentStart);
            }
            COMMENT_SLASH_START => {
                if let Some(s) = self.comment_after_slash(State::BlockStart) {
                    return s;
                }
                return self.eof_or("Unexpected EOF.");
            }
            EOF => return self.eof_or("Unexpected EOF."),
            _ => {}
        }
        self.backup();
        self.push(State::BlockValueEnd);
        Some(State::KeyStart)
    }

    fn block_value_end(&mut self) -> Option<State> {
        let r = self.next();
        match r {
            COMMENT_HASH_START => {
                self.push(State::BlockValueEnd);
                return Some(State::CommentStart);
            }
            COMMENT_SLASH_START => {
                if let Some(s) = self.comment_after_slash(State::BlockValueEnd) {
                    return s;
                }
                return Some(State::BlockValueEnd);
            }
            _ if is_whitespace(r) => return Some(State::BlockValueEnd),
            _ if is_nl(r) || r == OPT_VAL_TERM || r == TOP_OPT_VAL_TERM => {
                self.ignore();
                return Some(State::BlockStart);
            }
            TOP_OPT_TERM => {
                self.backup();
                return Some(State::BlockEnd);
            }
            _ => {}
        }
        self.errorf(format!(
            "Expected a block-level value to end with a new line, comment or EOF, but got '{}' instead.",
            shown(r)
        ))
    }

    fn block_end(&mut self) -> Option<State> {
        let r = self.next();
        match r {
            COMMENT_HASH_START => {
                self.push(State::BlockStart);
                return Some(State::CommentStart);
            }
            COMMENT_SLASH_START => {
                if let Some(s) = self.comment_after_slash(State::BlockStart) {
                    return s;
                }
                return Some(State::BlockEnd);
            }
            _ if is_nl(r) || is_whitespace(r) => return Some(State::BlockEnd),
            OPT_VAL_TERM | TOP_OPT_VAL_TERM => {
                self.ignore();
                return Some(State::BlockStart);
            }
            TOP_OPT_TERM => {
                self.ignore();
                return self.pop();
            }
            _ => {}
        }
        self.errorf(format!(
            "Expected a block-level to end with a '}}', but got '{}' instead.",
            shown(r)
        ))
    }

    fn key_start(&mut self) -> Option<State> {
        let r = self.peek();
        if is_key_separator(r) {
            return self.errorf(format!("Unexpected key separator '{}'", shown(r)));
        }
        if is_space(r) {
            self.next();
            return self.skip(State::KeyStart);
        }
        match r {
            DQ_STRING_START => {
                self.next();
                return self.skip(State::DubQuotedKey);
            }
            SQ_STRING_START => {
                self.next();
                return self.skip(State::QuotedKey);
            }
            _ => {}
        }
        self.ignore();
        self.next();
        Some(State::Key)
    }

    fn quoted_key(&mut self, end: char) -> Option<State> {
        let r = self.peek();
        if r == end {
            self.emit(Kind::Key);
            self.next();
            return self.skip(State::KeyEnd);
        }
        if r == EOF {
            return self.eof_or("Unexpected EOF.");
        }
        self.next();
        Some(if end == DQ_STRING_END {
            State::DubQuotedKey
        } else {
            State::QuotedKey
        })
    }

    /// Go's `keyCheckKeyword`: a key followed by a space may be the `include` keyword.
    fn key_check_keyword(&mut self, fall_through: State, push: Option<State>) -> Option<State> {
        if self.input[self.start..self.pos].eq_ignore_ascii_case(b"include") {
            self.ignore();
            if let Some(p) = push {
                self.push(p);
            }
            return Some(State::IncludeStart);
        }
        self.emit(Kind::Key);
        Some(fall_through)
    }

    fn include_start(&mut self) -> Option<State> {
        let r = self.next();
        if is_whitespace(r) {
            return self.skip(State::IncludeStart);
        }
        self.backup();
        Some(State::Include)
    }

    fn include_quoted(&mut self, end: char) -> Option<State> {
        let r = self.next();
        if r == end {
            self.backup();
            self.emit(Kind::Include);
            self.next();
            self.ignore();
            return self.pop();
        }
        if r == EOF {
            return self.errorf(if end == DQ_STRING_END {
                "Unexpected EOF in double quoted include".into()
            } else {
                "Unexpected EOF in quoted include".into()
            });
        }
        Some(if end == DQ_STRING_END {
            State::IncludeDubQuotedString
        } else {
            State::IncludeQuotedString
        })
    }

    fn include_string(&mut self) -> Option<State> {
        let r = self.next();
        if is_nl(r) || r == EOF || r == OPT_VAL_TERM || r == MAP_END || is_whitespace(r) {
            self.backup();
            self.emit(Kind::Include);
            return self.pop();
        }
        if r == SQ_STRING_END {
            self.backup();
            self.emit(Kind::Include);
            self.next();
            self.ignore();
            return self.pop();
        }
        Some(State::IncludeString)
    }

    fn include(&mut self) -> Option<State> {
        let r = self.next();
        let found = match r {
            SQ_STRING_START => {
                self.ignore();
                return Some(State::IncludeQuotedString);
            }
            DQ_STRING_START => {
                self.ignore();
                return Some(State::IncludeDubQuotedString);
            }
            ARRAY_START => "start of an array",
            MAP_START => "start of a map",
            BLOCK_START => "start of a block",
            '-' => "start of a number",
            '\\' => "escape sequence",
            _ if is_digit(r) => "start of a number",
            _ if is_nl(r) => "new line",
            _ => {
                self.backup();
                return Some(State::IncludeString);
            }
        };
        self.errorf(format!("Expected include value but found {found}"))
    }

    fn key(&mut self) -> Option<State> {
        let r = self.peek();
        if is_space(r) {
            return self.key_check_keyword(State::KeyEnd, None);
        }
        if is_key_separator(r) || r == EOF {
            self.emit(Kind::Key);
            return Some(State::KeyEnd);
        }
        self.next();
        Some(State::Key)
    }

    fn key_end(&mut self) -> Option<State> {
        let r = self.next();
        if is_space(r) {
            return self.skip(State::KeyEnd);
        }
        if is_key_separator(r) {
            return self.skip(State::Value);
        }
        if r == EOF {
            self.emit(Kind::Eof);
            return None;
        }
        self.backup();
        Some(State::Value)
    }

    fn value(&mut self) -> Option<State> {
        let r = self.next();
        if is_whitespace(r) {
            return self.skip(State::Value);
        }
        match r {
            ARRAY_START => {
                self.ignore();
                self.emit(Kind::ArrayStart);
                return Some(State::ArrayValue);
            }
            MAP_START => {
                self.ignore();
                self.emit(Kind::MapStart);
                return Some(State::MapKeyStart);
            }
            SQ_STRING_START => {
                self.ignore();
                return Some(State::QuotedString);
            }
            DQ_STRING_START => {
                self.ignore();
                self.string_state = State::DubQuotedString;
                return Some(State::DubQuotedString);
            }
            '-' => return Some(State::NegNumberStart),
            BLOCK_START => {
                self.ignore();
                return Some(State::Block);
            }
            _ if is_digit(r) => {
                self.backup();
                return Some(State::NumberOrDateOrStringOrIpStart);
            }
            '.' => return self.errorf("Floats must start with a digit".into()),
            _ if is_nl(r) => return self.errorf("Expected value but found new line".into()),
            _ => {}
        }
        self.backup();
        self.string_state = State::String;
        Some(State::String)
    }

    fn array_value(&mut self) -> Option<State> {
        let r = self.next();
        if is_space(r) {
            return self.skip(State::ArrayValue);
        }
        match r {
            COMMENT_HASH_START => {
                self.push(State::ArrayValue);
                return Some(State::CommentStart);
            }
            COMMENT_SLASH_START => {
                if let Some(s) = self.comment_after_slash(State::ArrayValue) {
                    return s;
                }
                return self.errorf("Unexpected array value terminator ','.".into());
            }
            ARRAY_VAL_TERM => {
                return self.errorf("Unexpected array value terminator ','.".into());
            }
            ARRAY_END => return Some(State::ArrayEnd),
            _ => {}
        }
        self.backup();
        self.push(State::ArrayValueEnd);
        Some(State::Value)
    }

    fn array_value_end(&mut self) -> Option<State> {
        let r = self.next();
        if is_whitespace(r) {
            return self.skip(State::ArrayValueEnd);
        }
        match r {
            COMMENT_HASH_START => {
                self.push(State::ArrayValueEnd);
                return Some(State::CommentStart);
            }
            COMMENT_SLASH_START => {
                if let Some(s) = self.comment_after_slash(State::ArrayValueEnd) {
                    return s;
                }
                return self.skip(State::ArrayValue);
            }
            _ if r == ARRAY_VAL_TERM || is_nl(r) => return self.skip(State::ArrayValue),
            ARRAY_END => return Some(State::ArrayEnd),
            _ => {}
        }
        self.errorf(format!(
            "Expected an array value terminator \",\" or an array terminator \"]\", but got '{}' instead.",
            shown(r)
        ))
    }

    fn array_end(&mut self) -> Option<State> {
        self.ignore();
        self.emit(Kind::ArrayEnd);
        self.pop()
    }

    fn map_key_start(&mut self) -> Option<State> {
        let r = self.peek();
        if is_key_separator(r) {
            return self.errorf(format!("Unexpected key separator '{}'.", shown(r)));
        }
        if r == ARRAY_END {
            return self.errorf(format!(
                "Unexpected array end '{}' processing map.",
                shown(r)
            ));
        }
        if is_space(r) {
            self.next();
            return self.skip(State::MapKeyStart);
        }
        match r {
            MAP_END => {
                self.next();
                return self.skip(State::MapEnd);
            }
            COMMENT_HASH_START => {
                self.next();
                self.push(State::MapKeyStart);
                return Some(State::CommentStart);
            }
            COMMENT_SLASH_START => {
                self.next();
                if let Some(s) = self.comment_after_slash(State::MapKeyStart) {
                    return s;
                }
            }
            SQ_STRING_START => {
                self.next();
                return self.skip(State::MapQuotedKey);
            }
            DQ_STRING_START => {
                self.next();
                return self.skip(State::MapDubQuotedKey);
            }
            EOF => return self.errorf("Unexpected EOF processing map.".into()),
            _ => {}
        }
        self.ignore();
        self.next();
        Some(State::MapKey)
    }

    fn map_quoted_key(&mut self, end: char) -> Option<State> {
        let r = self.peek();
        if r == EOF {
            return self.errorf(if end == DQ_STRING_END {
                "Unexpected EOF processing double quoted map key.".into()
            } else {
                "Unexpected EOF processing quoted map key.".into()
            });
        }
        if r == end {
            self.emit(Kind::Key);
            self.next();
            return self.skip(State::MapKeyEnd);
        }
        self.next();
        Some(if end == DQ_STRING_END {
            State::MapDubQuotedKey
        } else {
            State::MapQuotedKey
        })
    }

    fn map_key(&mut self) -> Option<State> {
        let r = self.peek();
        if r == EOF {
            return self.errorf("Unexpected EOF processing map key.".into());
        }
        if is_space(r) {
            return self.key_check_keyword(State::MapKeyEnd, Some(State::MapValueEnd));
        }
        if is_key_separator(r) {
            self.emit(Kind::Key);
            return Some(State::MapKeyEnd);
        }
        self.next();
        Some(State::MapKey)
    }

    fn map_key_end(&mut self) -> Option<State> {
        let r = self.next();
        if is_space(r) {
            return self.skip(State::MapKeyEnd);
        }
        if is_key_separator(r) {
            return self.skip(State::MapValue);
        }
        self.backup();
        Some(State::MapValue)
    }

    fn map_value(&mut self) -> Option<State> {
        let r = self.next();
        if is_space(r) {
            return self.skip(State::MapValue);
        }
        match r {
            MAP_VAL_TERM => return self.errorf("Unexpected map value terminator \",\".".into()),
            MAP_END => return self.skip(State::MapEnd),
            _ => {}
        }
        self.backup();
        self.push(State::MapValueEnd);
        Some(State::Value)
    }

    fn map_value_end(&mut self) -> Option<State> {
        let r = self.next();
        if is_whitespace(r) {
            return self.skip(State::MapValueEnd);
        }
        match r {
            COMMENT_HASH_START => {
                self.push(State::MapValueEnd);
                return Some(State::CommentStart);
            }
            COMMENT_SLASH_START => {
                if let Some(s) = self.comment_after_slash(State::MapValueEnd) {
                    return s;
                }
                return self.skip(State::MapKeyStart);
            }
            _ if r == OPT_VAL_TERM || r == MAP_VAL_TERM || is_nl(r) => {
                return self.skip(State::MapKeyStart)
            }
            MAP_END => return self.skip(State::MapEnd),
            _ => {}
        }
        self.errorf(format!(
            "Expected a map value terminator \",\" or a map terminator \"}}\", but got '{}' instead.",
            shown(r)
        ))
    }

    fn map_end(&mut self) -> Option<State> {
        self.ignore();
        self.emit(Kind::MapEnd);
        self.pop()
    }

    fn is_bool(&self) -> bool {
        let s = self.input[self.start..self.pos].to_ascii_lowercase();
        matches!(&s[..], b"true" | b"false" | b"on" | b"off" | b"yes" | b"no")
    }

    fn is_variable(&mut self) -> bool {
        if self.input.get(self.start) == Some(&b'$') {
            self.start += 1;
            return true;
        }
        false
    }

    fn quoted_string(&mut self) -> Option<State> {
        let r = self.next();
        if r == SQ_STRING_END {
            self.backup();
            self.emit(Kind::String);
            self.next();
            self.ignore();
            return self.pop();
        }
        if r == EOF {
            return self.eof_or("Unexpected EOF.");
        }
        Some(State::QuotedString)
    }

    fn dub_quoted_string(&mut self) -> Option<State> {
        let r = self.next();
        match r {
            '\\' => {
                self.add_current_string_part(1);
                Some(State::StringEscape)
            }
            DQ_STRING_END => {
                self.backup();
                self.emit_string();
                self.next();
                self.ignore();
                self.pop()
            }
            EOF => self.eof_or("Unexpected EOF."),
            _ => Some(State::DubQuotedString),
        }
    }

    fn string(&mut self) -> Option<State> {
        let r = self.next();
        if r == '\\' {
            self.add_current_string_part(1);
            return Some(State::StringEscape);
        }
        if is_nl(r)
            || r == EOF
            || r == OPT_VAL_TERM
            || r == ARRAY_VAL_TERM
            || r == ARRAY_END
            || r == MAP_END
            || is_whitespace(r)
        {
            self.backup();
            if !self.string_parts.is_empty() {
                self.emit_string();
            } else if self.is_bool() {
                self.emit(Kind::Bool);
            } else if self.is_variable() {
                self.emit(Kind::Variable);
            } else {
                self.emit_string();
            }
            return self.pop();
        }
        if r == SQ_STRING_END {
            self.backup();
            self.emit_string();
            self.next();
            self.ignore();
            return self.pop();
        }
        Some(State::String)
    }

    /// A `(` block runs to a `)` alone on its line.
    fn block(&mut self) -> Option<State> {
        let r = self.next();
        if r == BLOCK_END {
            self.backup();
            self.backup();
            if self.next() != '\n' {
                self.next();
                return Some(State::Block);
            }
            self.next();
            match self.next() {
                '\n' | EOF => {
                    self.backup();
                    self.backup();
                    self.emit(Kind::String);
                    self.next();
                    self.ignore();
                    return self.pop();
                }
                _ => self.backup(),
            }
        } else if r == EOF {
            return self.errorf("Unexpected EOF processing block.".into());
        }
        Some(State::Block)
    }

    fn string_escape(&mut self) -> Option<State> {
        let r = self.next();
        match r {
            'x' => Some(State::StringBinary),
            't' => self.add_string_part(b"\t"),
            'n' => self.add_string_part(b"\n"),
            'r' => self.add_string_part(b"\r"),
            '"' => self.add_string_part(b"\""),
            '\\' => self.add_string_part(b"\\"),
            _ => self.errorf(format!(
                "Invalid escape character '{}'. Only the following escape characters are allowed: \\xXX, \\t, \\n, \\r, \\\", \\\\.",
                shown(r)
            )),
        }
    }

    fn string_binary(&mut self) -> Option<State> {
        const END_OF_LINE: &str =
            "Expected two hexadecimal digits after '\\x', but hit end of line";
        if is_nl(self.next()) {
            return self.errorf(END_OF_LINE.into());
        }
        if is_nl(self.next()) {
            return self.errorf(END_OF_LINE.into());
        }
        // Go slices the two bytes before `pos`, whatever the width of the runes read.
        let digits = &self.input[self.pos.saturating_sub(2)..self.pos];
        let byte = match digits {
            [h, l] if h.is_ascii_hexdigit() && l.is_ascii_hexdigit() => std::str::from_utf8(digits)
                .ok()
                .and_then(|d| u8::from_str_radix(d, 16).ok()),
            _ => None,
        };
        match byte {
            Some(b) => {
                self.add_string_part(&[b]);
                Some(self.string_state)
            }
            None => {
                let got = String::from_utf8_lossy(digits).into_owned();
                self.errorf(format!(
                    "Expected two hexadecimal digits after '\\x', but got '{got}'"
                ))
            }
        }
    }

    /// `lexNumberOrDateOrStringOrIPStart` and `lexNegNumberStart`: a digit must come first.
    fn number_start(&mut self, s: State) -> Option<State> {
        let r = self.next();
        if !is_digit(r) {
            if r == '.' {
                return self.errorf("Floats must start with a digit, not '.'.".into());
            }
            return self.errorf(format!("Expected a digit but got '{}'.", shown(r)));
        }
        Some(if s == State::NegNumberStart {
            State::NegNumber
        } else {
            State::NumberOrDateOrStringOrIp
        })
    }

    /// Ends a bare number; anything else after its digits or size suffix makes it a string
    /// (`1k2` and `1kx` are strings in nats-server 2.15.1).
    fn ends_number(r: char) -> bool {
        is_nl(r)
            || r == EOF
            || r == MAP_END
            || r == OPT_VAL_TERM
            || r == MAP_VAL_TERM
            || is_whitespace(r)
    }

    fn number_or_date_or_string_or_ip(&mut self) -> Option<State> {
        let r = self.next();
        if r == '-' {
            if self.pos - self.start != 5 {
                return self.errorf("All ISO8601 dates must be in full Zulu form.".into());
            }
            return Some(State::DateAfterYear);
        }
        if is_digit(r) {
            return Some(State::NumberOrDateOrStringOrIp);
        }
        if r == '.' {
            return Some(State::FloatStart);
        }
        if is_number_suffix(r) {
            return Some(State::ConvenientNumber);
        }
        if !Self::ends_number(r) {
            self.string_state = State::String;
            return Some(State::String);
        }
        self.backup();
        self.emit(Kind::Integer);
        self.pop()
    }

    fn convenient_number(&mut self) -> Option<State> {
        let r = self.next();
        if matches!(r, 'b' | 'B' | 'i' | 'I') {
            return Some(State::ConvenientNumber);
        }
        self.backup();
        if Self::ends_number(r) {
            self.emit(Kind::Integer);
            return self.pop();
        }
        self.string_state = State::String;
        Some(State::String)
    }

    fn date_after_year(&mut self) -> Option<State> {
        const FORMAT: &str = "00-00T00:00:00Z";
        for f in FORMAT.chars() {
            let r = self.next();
            if f == '0' {
                if !is_digit(r) {
                    return self.errorf(format!(
                        "Expected digit in ISO8601 datetime, but found '{}' instead.",
                        shown(r)
                    ));
                }
            } else if f != r {
                return self.errorf(format!(
                    "Expected '{}' in ISO8601 datetime, but found '{}' instead.",
                    shown(f),
                    shown(r)
                ));
            }
        }
        self.emit(Kind::Datetime);
        self.pop()
    }

    fn neg_number(&mut self) -> Option<State> {
        let r = self.next();
        if is_digit(r) {
            return Some(State::NegNumber);
        }
        if r == '.' {
            return Some(State::FloatStart);
        }
        if is_number_suffix(r) {
            return Some(State::ConvenientNumber);
        }
        self.backup();
        self.emit(Kind::Integer);
        self.pop()
    }

    fn float_start(&mut self) -> Option<State> {
        let r = self.next();
        if !is_digit(r) {
            return self.errorf(format!(
                "Floats must have a digit after the '.', but got '{}' instead.",
                shown(r)
            ));
        }
        Some(State::Float)
    }

    fn float(&mut self) -> Option<State> {
        let r = self.next();
        if is_digit(r) {
            return Some(State::Float);
        }
        // A second '.': an IP address, not a float.
        if r == '.' {
            return Some(State::IpAddr);
        }
        self.backup();
        self.emit(Kind::Float);
        self.pop()
    }

    fn ip_addr(&mut self) -> Option<State> {
        let r = self.next();
        if is_digit(r) || r == '.' || r == ':' || r == '-' {
            return Some(State::IpAddr);
        }
        self.backup();
        self.emit(Kind::String);
        self.pop()
    }

    fn comment_start(&mut self) -> Option<State> {
        self.ignore();
        self.emit(Kind::CommentStart);
        Some(State::Comment)
    }

    fn comment(&mut self) -> Option<State> {
        let r = self.peek();
        if is_nl(r) || r == EOF {
            self.emit(Kind::Text);
            return self.pop();
        }
        self.next();
        Some(State::Comment)
    }
}
