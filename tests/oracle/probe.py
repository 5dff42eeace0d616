#!/usr/bin/env python3
"""Send raw protocol cases to a NATS server and print what comes back.

Used to compare Riptide with the Go nats-server byte for byte:
    probe.py PORT > a.txt; probe.py OTHERPORT > b.txt; diff a.txt b.txt
INFO lines are reduced to their sorted key set, since ids, ports and versions differ.
"""
import json, socket, sys, time

PORT = int(sys.argv[1])
CASES = [
    ("ping", b"PING\r\n"),
    ("ping_lower_junk", b"ping foo\r\n"),
    ("pingx", b"PINGX\r\n"),
    ("connect_empty", b"CONNECT {}\r\nPING\r\n"),
    ("connect_quiet", b'CONNECT {"verbose":false}\r\nPING\r\n'),
    ("connect_proto1", b'CONNECT {"verbose":false,"protocol":1}\r\nPING\r\nPING\r\n'),
    ("connect_badjson", b"CONNECT {bad\r\nPING\r\n"),
    ("connect_badtype", b'CONNECT {"verbose":"x"}\r\nPING\r\n'),
    ("connect_proto2", b'CONNECT {"protocol":2}\r\n'),
    ("connect_nr_nohdr", b'CONNECT {"no_responders":true}\r\n'),
    ("sub_no_connect", b"SUB foo 1\r\nPUB foo 2\r\nhi\r\nPING\r\n"),
    ("pub_wild_pedantic", b"PUB foo.* 2\r\nhi\r\nPING\r\n"),
    ("pub_wild_nonped", b'CONNECT {"verbose":false,"pedantic":false}\r\nPUB foo.* 2\r\nhi\r\nPING\r\n'),
    ("pub_bad_args", b"PUB foo\r\nPING\r\n"),
    ("pub_4args", b"PUB a b c 2\r\nhi\r\nPING\r\n"),
    ("pub_bad_size", b"PUB foo x\r\nPING\r\n"),
    ("pub_big_size", b"PUB foo 9999999999\r\nPING\r\n"),
    ("pub_max_payload", b"PUB foo 2000000\r\n"),
    ("pub_no_crlf", b"PUB foo 2\r\nhiX\r\nPING\r\n"),
    ("pub_short", b"PUB foo 5\r\nhi\r\nPING\r\n"),
    ("unknown_op", b"FOO\r\nPING\r\n"),
    ("unknown_op2", b"PUX\r\n"),
    ("rs_plus", b"RS+ foo\r\n"),
    ("sub_bad_subject", b"SUB foo..bar 1\r\nPING\r\n"),
    ("sub_bad_subject2", b"SUB foo.>.bar 1\r\nPING\r\n"),
    ("sub_bad_args", b"SUB foo\r\nPING\r\n"),
    ("sub_4args", b"SUB a b c d\r\nPING\r\n"),
    ("sub_queue", b'CONNECT {"verbose":false}\r\nSUB foo q 1\r\nPUB foo 2\r\nhi\r\nPING\r\n'),
    ("sub_dup_sid", b'CONNECT {"verbose":false}\r\nSUB foo 1\r\nSUB bar 1\r\nPUB bar 2\r\nhi\r\nPUB foo 2\r\nhi\r\nPING\r\n'),
    ("unsub_unknown", b"UNSUB 99\r\nPING\r\n"),
    ("unsub_bad", b"UNSUB\r\nPING\r\n"),
    ("unsub_max", b'CONNECT {"verbose":false}\r\nSUB foo 1\r\nUNSUB 1 2\r\nPUB foo 1\r\na\r\nPUB foo 1\r\nb\r\nPUB foo 1\r\nc\r\nPING\r\n'),
    ("unsub_max_bad", b'CONNECT {"verbose":false}\r\nSUB foo 1\r\nUNSUB 1 x\r\nPUB foo 1\r\na\r\nPING\r\n'),
    ("hpub_no_headers", b"HPUB foo 12 14\r\nNATS/1.0\r\n\r\nhi\r\n"),
    ("hpub_headers", b'CONNECT {"verbose":false,"headers":true}\r\nSUB foo 1\r\nHPUB foo r 12 14\r\nNATS/1.0\r\n\r\nhi\r\nPING\r\n'),
    ("hpub_strip", b'CONNECT {"verbose":false,"headers":true}\r\nHPUB foo 12 14\r\nNATS/1.0\r\n\r\nhi\r\nPING\r\n'),
    ("hpub_hdr_gt_total", b'CONNECT {"verbose":false,"headers":true}\r\nHPUB foo 14 12\r\nPING\r\n'),
    ("no_responders", b'CONNECT {"verbose":false,"headers":true,"no_responders":true}\r\nSUB inbox 1\r\nPUB req inbox 2\r\nhi\r\nPING\r\n'),
    ("no_responders_nosub", b'CONNECT {"verbose":false,"headers":true,"no_responders":true}\r\nPUB req inbox 2\r\nhi\r\nPING\r\n'),
    ("echo_false", b'CONNECT {"verbose":false,"echo":false}\r\nSUB foo 1\r\nPUB foo 2\r\nhi\r\nPING\r\n'),
    ("tabs_case", b'connect\t{"verbose":false}\r\nsub\tfoo\t 1\r\npub\tfoo\t2\r\nhi\r\nPiNg\r\n'),
    ("lf_only", b'CONNECT {"verbose":false}\nSUB foo 1\nPUB foo 2\nhi\r\nPING\n'),
    ("ctrl_line", b"SUB " + b"a" * 5000 + b" 1\r\n"),
    ("ctrl_line_split", b"SUB " + b"a" * 5000),
    ("plus_ok", b"+OK\r\nPING\r\n"),
    ("minus_err", b"-ERR 'x'\r\nPING\r\n"),
    ("info_from_client", b"INFO {}\r\nPING\r\n"),
    ("pong", b"PONG\r\nPING\r\n"),
    ("wildcards", b'CONNECT {"verbose":false}\r\nSUB a.* 1\r\nSUB a.> 2\r\nSUB > 3\r\nPUB a.b 1\r\nx\r\nPUB a.b.c 1\r\ny\r\nPING\r\n'),
    ("reply_sub", b'CONNECT {"verbose":false}\r\nSUB foo 1\r\nPUB foo bar 1\r\nx\r\nPING\r\n'),
    ("sub_empty_queue_tok", b"SUB foo. q 1\r\nPING\r\n"),
    ("zero_payload", b'CONNECT {"verbose":false}\r\nSUB foo 1\r\nPUB foo 0\r\n\r\nPING\r\n'),
    ("connect_account", b'CONNECT {"account":"x"}\r\n'),
    ("whiteprompt", b'SUB whiteprompt.> 1\r\nPUB whiteprompt.research.nats 7\r\nMINT 42\r\nPING\r\n'),
    ("js_api", b'CONNECT {"verbose":false,"headers":true,"no_responders":true}\r\nSUB _INBOX.x 1\r\nPUB $JS.API.INFO _INBOX.x 0\r\n\r\nPING\r\n'),
    ("pub_crlf_in_ctrl_space", b"PUB foo  2 \r\nhi\r\nPING\r\n"),
    ("msg_from_client", b"MSG foo 1 2\r\nhi\r\n"),
    ("pub_negative", b'PUB foo -1\r\nPING\r\n'),
    ("hpub_negative", b'CONNECT {"headers":true,"verbose":false}\r\nHPUB foo -1 5\r\nPING\r\n'),
    ("hpub_neg_total", b'CONNECT {"headers":true,"verbose":false}\r\nHPUB foo 2 -5\r\nPING\r\n'),
    ("pub_u64_wrap", b'PUB foo 18446744073709551617\r\nPING\r\n'),
    ("binary", b'\x00\xff\xfe\x80garbage\r\nPING\r\n'),
    ("connect_nothing", b'CONNECT\r\nPING\r\n'),
    ("connect_unclosed", b'CONNECT {"verbose":false\r\nPING\r\n'),
    ("connect_array", b'CONNECT []\r\nPING\r\n'),
    ("connect_string", b'CONNECT "x"\r\nPING\r\n'),
    ("connect_trailing", b'CONNECT {} x\r\nPING\r\n'),
    ("connect_name_num", b'CONNECT {"verbose":false,"name":123}\r\nPING\r\n'),
    ("connect_null", b'CONNECT null\r\nPING\r\n'),
    ("connect_case_fold", b'CONNECT {"VERBOSE":false}\r\nPING\r\n'),
    ("connect_dup_key", b'CONNECT {"Verbose":false,"verbose":true}\r\nPING\r\n'),
    ("connect_nested", b'CONNECT {"verbose":false,"x":{"y":[1,2,{"z":null}]}}\r\nPING\r\n'),
    ("connect_twice", b'CONNECT {"verbose":false}\r\nCONNECT {"verbose":false}\r\nPING\r\n'),
    ("unsub_neg", b'CONNECT {"verbose":false}\r\nSUB foo 1\r\nUNSUB 1 -5\r\nPUB foo 1\r\na\r\nPING\r\n'),
    ("sub_nul", b'CONNECT {"verbose":false}\r\nSUB fo\x00o 1\r\nPING\r\n'),
    ("lone_cr", b'PING\r\rPING\r\n'),
]

def norm(data):
    out = []
    for line in data.split(b"\r\n"):
        if line.startswith(b"INFO "):
            try:
                keys = sorted(json.loads(line[5:]).keys())
                out.append("INFO keys=" + ",".join(keys))
            except Exception:
                out.append("INFO <bad json>")
        else:
            out.append(repr(line)[2:-1])
    return "|".join(out)

def run(name, payload):
    s = socket.create_connection(("127.0.0.1", PORT))
    s.settimeout(0.5)
    info = b""
    while not info.endswith(b"\r\n"):
        info += s.recv(4096)
    s.sendall(payload)
    data, closed = b"", False
    deadline = time.time() + 1.0
    while time.time() < deadline:
        try:
            chunk = s.recv(65536)
        except socket.timeout:
            break
        except ConnectionResetError:
            closed = True
            break
        if not chunk:
            closed = True
            break
        data += chunk
    s.close()
    print(f"{name}: {norm(data)}{' [closed]' if closed else ''}")

only = sys.argv[2:]
for name, payload in CASES:
    if not only or name in only:
        run(name, payload)
