//! The NATS configuration file format, as the Go server's `conf` package reads it: `key =
//! value`, `key: value` or `key value`; `{}` maps, `[]` arrays; `#` and `//` comments; quoted
//! and bare strings; numbers with size suffixes; booleans; datetimes; `$variables`
//! (block-scoped, then the environment); `include` relative to the including file. The lexer
//! is Go's state machine ported state for state, so what is refused, and the words and line
//! of the refusal, are Go's.

mod lexer;
mod parser;
#[cfg(test)]
mod tests;

pub use parser::{parse, parse_file, ConfError, Item, Value};
