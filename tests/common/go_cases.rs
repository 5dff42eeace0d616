//! Raw protocol cases with the Go server's replies, and the check that Riptide answers the same.

use std::net::SocketAddr;

use super::Raw;

/// (name, bytes sent, bytes the Go server answered, whether it then closed)
pub type Case = (&'static str, &'static [u8], &'static [u8], bool);

/// Sends a case on a fresh connection: the same bytes as the Go server, and the connection
/// closed exactly when the Go server closed it.
pub fn check(addr: SocketAddr, (name, input, want, closes): &Case) {
    let mut c = Raw::connect(addr);
    c.send(input);
    let got = if *closes {
        c.read_to_close()
    } else {
        // Each open case ends with PING: read exactly what the Go server sent.
        let got = c.read_n(want.len());
        // Nothing more came before our own marker PING's PONG.
        assert_eq!(c.sync(), b"", "{name}: extra bytes");
        got
    };
    assert_eq!(
        String::from_utf8_lossy(&got),
        String::from_utf8_lossy(want),
        "case {name}"
    );
}

// Generated from nats-server 2.15.1's replies by tests/oracle/probe.py's cases.
pub const CASES: &[Case] = &[
    ("ping", b"PING\r\n", b"PONG\r\n", false),
    ("ping_lower_junk", b"ping foo\r\n", b"PONG\r\n", false),
    ("pingx", b"PINGX\r\n", b"PONG\r\n", false),
    ("connect_empty", b"CONNECT {}\r\nPING\r\n", b"+OK\r\nPONG\r\n", false),
    ("connect_quiet", b"CONNECT {\"verbose\":false}\r\nPING\r\n", b"PONG\r\n", false),
    ("connect_badjson", b"CONNECT {bad\r\nPING\r\n", b"", true),
    ("connect_badtype", b"CONNECT {\"verbose\":\"x\"}\r\nPING\r\n", b"", true),
    ("connect_proto2", b"CONNECT {\"protocol\":2}\r\n", b"-ERR 'invalid client protocol'\r\n", true),
    ("connect_nr_nohdr", b"CONNECT {\"no_responders\":true}\r\n", b"-ERR 'no responders requires headers support'\r\n", true),
    ("sub_no_connect", b"SUB foo 1\r\nPUB foo 2\r\nhi\r\nPING\r\n", b"+OK\r\n+OK\r\nMSG foo 1 2\r\nhi\r\nPONG\r\n", false),
    ("pub_wild_pedantic", b"PUB foo.* 2\r\nhi\r\nPING\r\n", b"-ERR 'Invalid Publish Subject'\r\n+OK\r\nPONG\r\n", false),
    ("pub_wild_nonped", b"CONNECT {\"verbose\":false,\"pedantic\":false}\r\nPUB foo.* 2\r\nhi\r\nPING\r\n", b"PONG\r\n", false),
    ("pub_bad_args", b"PUB foo\r\nPING\r\n", b"", true),
    ("pub_4args", b"PUB a b c 2\r\nhi\r\nPING\r\n", b"", true),
    ("pub_bad_size", b"PUB foo x\r\nPING\r\n", b"", true),
    ("pub_big_size", b"PUB foo 9999999999\r\nPING\r\n", b"", true),
    ("pub_max_payload", b"PUB foo 2000000\r\n", b"-ERR 'Maximum Payload Violation'\r\n", true),
    ("pub_no_crlf", b"PUB foo 2\r\nhiX\r\nPING\r\n", b"-ERR 'Unknown Protocol Operation'\r\n", true),
    ("pub_short", b"PUB foo 5\r\nhi\r\nPING\r\n", b"-ERR 'Unknown Protocol Operation'\r\n", true),
    ("unknown_op", b"FOO\r\nPING\r\n", b"-ERR 'Unknown Protocol Operation'\r\n", true),
    ("unknown_op2", b"PUX\r\n", b"-ERR 'Unknown Protocol Operation'\r\n", true),
    ("rs_plus", b"RS+ foo\r\n", b"-ERR 'Unknown Protocol Operation'\r\n", true),
    ("sub_bad_subject", b"SUB foo..bar 1\r\nPING\r\n", b"-ERR 'Invalid Subject'\r\nPONG\r\n", false),
    ("sub_bad_subject2", b"SUB foo.>.bar 1\r\nPING\r\n", b"-ERR 'Invalid Subject'\r\nPONG\r\n", false),
    ("sub_bad_args", b"SUB foo\r\nPING\r\n", b"", true),
    ("sub_4args", b"SUB a b c d\r\nPING\r\n", b"", true),
    ("sub_queue", b"CONNECT {\"verbose\":false}\r\nSUB foo q 1\r\nPUB foo 2\r\nhi\r\nPING\r\n", b"MSG foo 1 2\r\nhi\r\nPONG\r\n", false),
    ("sub_dup_sid", b"CONNECT {\"verbose\":false}\r\nSUB foo 1\r\nSUB bar 1\r\nPUB bar 2\r\nhi\r\nPUB foo 2\r\nhi\r\nPING\r\n", b"MSG foo 1 2\r\nhi\r\nPONG\r\n", false),
    ("unsub_unknown", b"UNSUB 99\r\nPING\r\n", b"+OK\r\nPONG\r\n", false),
    ("unsub_bad", b"UNSUB\r\nPING\r\n", b"-ERR 'Unknown Protocol Operation'\r\n", true),
    ("unsub_max", b"CONNECT {\"verbose\":false}\r\nSUB foo 1\r\nUNSUB 1 2\r\nPUB foo 1\r\na\r\nPUB foo 1\r\nb\r\nPUB foo 1\r\nc\r\nPING\r\n", b"MSG foo 1 1\r\na\r\nMSG foo 1 1\r\nb\r\nPONG\r\n", false),
    ("unsub_max_bad", b"CONNECT {\"verbose\":false}\r\nSUB foo 1\r\nUNSUB 1 x\r\nPUB foo 1\r\na\r\nPING\r\n", b"PONG\r\n", false),
    ("hpub_no_headers", b"HPUB foo 12 14\r\nNATS/1.0\r\n\r\nhi\r\n", b"", true),
    ("hpub_headers", b"CONNECT {\"verbose\":false,\"headers\":true}\r\nSUB foo 1\r\nHPUB foo r 12 14\r\nNATS/1.0\r\n\r\nhi\r\nPING\r\n", b"HMSG foo 1 r 12 14\r\nNATS/1.0\r\n\r\nhi\r\nPONG\r\n", false),
    ("hpub_strip", b"CONNECT {\"verbose\":false,\"headers\":true}\r\nHPUB foo 12 14\r\nNATS/1.0\r\n\r\nhi\r\nPING\r\n", b"PONG\r\n", false),
    ("hpub_hdr_gt_total", b"CONNECT {\"verbose\":false,\"headers\":true}\r\nHPUB foo 14 12\r\nPING\r\n", b"", true),
    ("no_responders", b"CONNECT {\"verbose\":false,\"headers\":true,\"no_responders\":true}\r\nSUB inbox 1\r\nPUB req inbox 2\r\nhi\r\nPING\r\n", b"HMSG inbox 1 35 35\r\nNATS/1.0 503\r\nNats-Subject: req\r\n\r\n\r\nPONG\r\n", false),
    ("no_responders_nosub", b"CONNECT {\"verbose\":false,\"headers\":true,\"no_responders\":true}\r\nPUB req inbox 2\r\nhi\r\nPING\r\n", b"PONG\r\n", false),
    ("echo_false", b"CONNECT {\"verbose\":false,\"echo\":false}\r\nSUB foo 1\r\nPUB foo 2\r\nhi\r\nPING\r\n", b"PONG\r\n", false),
    ("tabs_case", b"connect\t{\"verbose\":false}\r\nsub\tfoo\t 1\r\npub\tfoo\t2\r\nhi\r\nPiNg\r\n", b"MSG foo 1 2\r\nhi\r\nPONG\r\n", false),
    ("lf_only", b"CONNECT {\"verbose\":false}\nSUB foo 1\nPUB foo 2\nhi\r\nPING\n", b"MSG foo 1 2\r\nhi\r\nPONG\r\n", false),
    ("ctrl_line", b"SUB aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa 1\r\n", b"-ERR 'maximum control line exceeded'\r\n", true),
    ("ctrl_line_split", b"SUB aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", b"-ERR 'maximum control line exceeded'\r\n", true),
    ("plus_ok", b"+OK\r\nPING\r\n", b"PONG\r\n", false),
    ("minus_err", b"-ERR 'x'\r\nPING\r\n", b"", true),
    ("info_from_client", b"INFO {}\r\nPING\r\n", b"PONG\r\n", false),
    ("pong", b"PONG\r\nPING\r\n", b"PONG\r\n", false),
    ("wildcards", b"CONNECT {\"verbose\":false}\r\nSUB a.* 1\r\nSUB a.> 2\r\nSUB > 3\r\nPUB a.b 1\r\nx\r\nPUB a.b.c 1\r\ny\r\nPING\r\n", b"MSG a.b 3 1\r\nx\r\nMSG a.b 2 1\r\nx\r\nMSG a.b 1 1\r\nx\r\nMSG a.b.c 3 1\r\ny\r\nMSG a.b.c 2 1\r\ny\r\nPONG\r\n", false),
    ("reply_sub", b"CONNECT {\"verbose\":false}\r\nSUB foo 1\r\nPUB foo bar 1\r\nx\r\nPING\r\n", b"MSG foo 1 bar 1\r\nx\r\nPONG\r\n", false),
    ("sub_empty_queue_tok", b"SUB foo. q 1\r\nPING\r\n", b"-ERR 'Invalid Subject'\r\nPONG\r\n", false),
    ("zero_payload", b"CONNECT {\"verbose\":false}\r\nSUB foo 1\r\nPUB foo 0\r\n\r\nPING\r\n", b"MSG foo 1 0\r\n\r\nPONG\r\n", false),
    ("connect_account", b"CONNECT {\"account\":\"x\"}\r\n", b"-ERR 'Authorization Violation'\r\n", true),
    ("whiteprompt", b"SUB whiteprompt.> 1\r\nPUB whiteprompt.research.nats 7\r\nMINT 42\r\nPING\r\n", b"+OK\r\n+OK\r\nMSG whiteprompt.research.nats 1 7\r\nMINT 42\r\nPONG\r\n", false),
    ("pub_crlf_in_ctrl_space", b"PUB foo  2 \r\nhi\r\nPING\r\n", b"+OK\r\nPONG\r\n", false),
    ("msg_from_client", b"MSG foo 1 2\r\nhi\r\n", b"-ERR 'Unknown Protocol Operation'\r\n", true),
    ("js_api", b"CONNECT {\"verbose\":false,\"headers\":true,\"no_responders\":true}\r\nSUB _INBOX.x 1\r\nPUB $JS.API.INFO _INBOX.x 0\r\n\r\nPING\r\n", b"HMSG _INBOX.x 1 44 44\r\nNATS/1.0 503\r\nNats-Subject: $JS.API.INFO\r\n\r\n\r\nPONG\r\n", false),
    ("pub_negative", b"PUB foo -1\r\nPING\r\n", b"", true),
    ("hpub_negative", b"CONNECT {\"headers\":true,\"verbose\":false}\r\nHPUB foo -1 5\r\nPING\r\n", b"", true),
    ("hpub_neg_total", b"CONNECT {\"headers\":true,\"verbose\":false}\r\nHPUB foo 2 -5\r\nPING\r\n", b"", true),
    ("pub_u64_wrap", b"PUB foo 18446744073709551617\r\nPING\r\n", b"", true),
    ("binary", b"\x00\xff\xfe\x80garbage\r\nPING\r\n", b"-ERR 'Unknown Protocol Operation'\r\n", true),
    ("connect_nothing", b"CONNECT\r\nPING\r\n", b"", true),
    ("connect_unclosed", b"CONNECT {\"verbose\":false\r\nPING\r\n", b"", true),
    ("connect_array", b"CONNECT []\r\nPING\r\n", b"", true),
    ("connect_string", b"CONNECT \"x\"\r\nPING\r\n", b"", true),
    ("connect_trailing", b"CONNECT {} x\r\nPING\r\n", b"", true),
    ("connect_name_num", b"CONNECT {\"verbose\":false,\"name\":123}\r\nPING\r\n", b"", true),
    ("connect_null", b"CONNECT null\r\nPING\r\n", b"+OK\r\nPONG\r\n", false),
    ("connect_case_fold", b"CONNECT {\"VERBOSE\":false}\r\nPING\r\n", b"PONG\r\n", false),
    ("connect_dup_key", b"CONNECT {\"Verbose\":false,\"verbose\":true}\r\nPING\r\n", b"+OK\r\nPONG\r\n", false),
    ("connect_nested", b"CONNECT {\"verbose\":false,\"x\":{\"y\":[1,2,{\"z\":null}]}}\r\nPING\r\n", b"PONG\r\n", false),
    ("connect_twice", b"CONNECT {\"verbose\":false}\r\nCONNECT {\"verbose\":false}\r\nPING\r\n", b"PONG\r\n", false),
    ("unsub_neg", b"CONNECT {\"verbose\":false}\r\nSUB foo 1\r\nUNSUB 1 -5\r\nPUB foo 1\r\na\r\nPING\r\n", b"PONG\r\n", false),
    ("sub_nul", b"CONNECT {\"verbose\":false}\r\nSUB fo\x00o 1\r\nPING\r\n", b"PONG\r\n", false),
    ("lone_cr", b"PING\r\rPING\r\n", b"PONG\r\n", false),
];
