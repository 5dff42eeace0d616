//! Stopping the server (what SIGINT/SIGTERM do): it stops listening at once, yet every message
//! already queued to a client that reads slowly still reaches it before its connection closes.

use crate::common;

use std::io::ErrorKind;
use std::net::TcpStream;
use std::thread;
use std::time::{Duration, Instant};

use common::{start, Raw, IO_TIMEOUT};

/// 64 x 128 KiB = 8 MiB queued: far more than the kernel's socket buffers hold, so most of
/// it is still in the server's outbound queue when the stop begins.
const MESSAGES: usize = 64;
const PAYLOAD: usize = 128 * 1024;

#[test]
fn stop_refuses_new_clients_and_flushes_queued_output() {
    let srv = start(2);
    let addr = srv.addr;
    let mut sub = Raw::connect(addr);
    sub.send(b"CONNECT {\"verbose\":false}\r\nSUB big 1\r\n");
    assert_eq!(sub.sync(), b"");
    let mut publ = Raw::connect(addr);
    publ.send(b"CONNECT {\"verbose\":false}\r\n");
    let mut batch = Vec::new();
    for _ in 0..MESSAGES {
        batch.extend_from_slice(format!("PUB big {PAYLOAD}\r\n").as_bytes());
        batch.resize(batch.len() + PAYLOAD, b'x');
        batch.extend_from_slice(b"\r\n");
    }
    publ.send(&batch);
    assert_eq!(publ.sync(), b"", "every PUB was processed before the stop");

    let stopper = thread::spawn(move || srv.shutdown());
    // The subscriber has read nothing yet, so the server is still flushing to it; meanwhile
    // new connections must be refused, not accepted and dropped.
    let deadline = Instant::now() + IO_TIMEOUT;
    loop {
        match TcpStream::connect(addr) {
            Err(e) if e.kind() == ErrorKind::ConnectionRefused => break,
            _ => {
                assert!(Instant::now() < deadline, "still accepting after the stop");
                thread::sleep(Duration::from_millis(10));
            }
        }
    }
    let got = sub.read_to_close();
    let frame = format!("MSG big 1 {PAYLOAD}\r\n").len() + PAYLOAD + 2;
    assert_eq!(
        got.len(),
        MESSAGES * frame,
        "all queued output before the close"
    );
    assert!(got.starts_with(format!("MSG big 1 {PAYLOAD}\r\n").as_bytes()));
    stopper.join().unwrap();
}
