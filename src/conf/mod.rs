//! The NATS configuration file format (the Go server's `conf` package): `key = value`,
//! `key: value` or `key value`; `{}` maps, `[]` arrays; `#` and `//` comments; quoted and bare
//! strings; numbers with size suffixes; booleans; `$variables` (block-scoped, then the
//! environment); `include` relative to the including file. Sans-IO apart from reading
//! included files through a caller-supplied loader, so it is unit-tested and fuzzable.

mod parser;

pub use parser::{parse, parse_file, ConfError, Item, Value};
