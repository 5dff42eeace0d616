//! The NATS client protocol: parsing what clients send and encoding what the server sends.

pub(crate) mod args;
pub mod encode;
pub mod parser;
#[cfg(any(test, feature = "testkit"))]
#[doc(hidden)]
pub mod record;

pub use parser::{Flow, Handler, ParseError, Parser, PubArgs, Publish, Stop};

#[cfg(test)]
mod tests;
