//! An owned record of what the parser reported, and a driver that feeds input in pieces:
//! shared by the parser's unit and property tests and the fuzz targets (`fuzz/`).

use super::{Flow, Handler, ParseError, Parser, PubArgs, Publish, Stop};

/// An operation as the handler saw it, owned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ev {
    Connect(Vec<u8>),
    PubArgs(Vec<u8>, Option<Vec<u8>>, Option<usize>, usize),
    Pub(Vec<u8>, Option<Vec<u8>>, Option<usize>, Vec<u8>),
    Sub(Vec<u8>, Option<Vec<u8>>, Vec<u8>),
    Unsub(Vec<u8>, Option<i64>),
    Ping,
    Pong,
    Err(Vec<u8>),
}

#[derive(Default)]
pub struct Rec {
    pub evs: Vec<Ev>,
    pub max_payload: usize,
    pub pause_on_ping: bool,
}

impl Handler for Rec {
    fn connect(&mut self, json: &[u8]) -> Result<Flow, Stop> {
        self.evs.push(Ev::Connect(json.to_vec()));
        Ok(Flow::Continue)
    }
    fn pub_args(&mut self, a: &PubArgs<'_>) -> Result<(), Stop> {
        self.evs.push(Ev::PubArgs(
            a.subject.to_vec(),
            a.reply.map(<[u8]>::to_vec),
            a.header_len,
            a.total_len,
        ));
        if self.max_payload > 0 && a.total_len > self.max_payload {
            return Err(Stop);
        }
        Ok(())
    }
    fn publish(&mut self, m: Publish<'_>) -> Result<Flow, Stop> {
        self.evs.push(Ev::Pub(
            m.subject.to_vec(),
            m.reply.map(<[u8]>::to_vec),
            m.header_len,
            m.data.to_vec(),
        ));
        Ok(Flow::Continue)
    }
    fn sub(&mut self, s: &[u8], q: Option<&[u8]>, sid: &[u8]) -> Result<Flow, Stop> {
        self.evs
            .push(Ev::Sub(s.to_vec(), q.map(<[u8]>::to_vec), sid.to_vec()));
        Ok(Flow::Continue)
    }
    fn unsub(&mut self, sid: &[u8], max: Option<i64>) -> Result<Flow, Stop> {
        self.evs.push(Ev::Unsub(sid.to_vec(), max));
        Ok(Flow::Continue)
    }
    fn ping(&mut self) -> Result<Flow, Stop> {
        self.evs.push(Ev::Ping);
        Ok(if self.pause_on_ping {
            Flow::Pause
        } else {
            Flow::Continue
        })
    }
    fn pong(&mut self) -> Result<Flow, Stop> {
        self.evs.push(Ev::Pong);
        Ok(Flow::Continue)
    }
    fn client_err(&mut self, text: &[u8]) -> Stop {
        self.evs.push(Ev::Err(text.to_vec()));
        Stop
    }
}

/// Parses `input` fed in pieces cut at `cuts` (ascending; others are skipped), stopping at
/// the first error: what the handler saw, and the error if any.
pub fn parse_split(
    input: &[u8],
    cuts: &[usize],
    max_control_line: usize,
) -> (Vec<Ev>, Result<(), ParseError>) {
    let mut p = Parser::new(max_control_line);
    let mut h = Rec::default();
    let mut start = 0;
    for &c in cuts.iter().chain(std::iter::once(&input.len())) {
        if c < start {
            continue;
        }
        if let Err(e) = p.parse(&input[start..c], &mut h) {
            return (h.evs, Err(e));
        }
        start = c;
    }
    (h.evs, Ok(()))
}
