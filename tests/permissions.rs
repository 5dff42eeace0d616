//! Per-user permissions over real sockets, with the replies nats-server 2.15.1 gives for the
//! same configuration and bytes (recorded against it): every violation is one `-ERR`, the
//! message or subscription is dropped and the connection stays open.

use crate::common;

use common::{one_per_shard, Raw};
use riptide::runtime::Running;

const SHARDS: usize = 2;

/// Users with the permission forms the Go server accepts: maps, arrays, single strings,
/// queue entries, `allow_responses`, and `default_permissions` for users without their own.
const CONF: &str = r#"
authorization {
  default_permissions: { publish: "pub.>", subscribe: ["sub.>", "_INBOX.>"] }
  users = [
    {user: a, password: a, permissions: {
      publish: {allow: ["foo.*", "req"], deny: ["foo.bad"]}
      subscribe: {allow: ["foo.>", "q.* grp", "qq.* g.*"], deny: ["foo.secret", "foo.x.* qd"]}
    }}
    {user: s, password: s, permissions: {publish: "foo", subscribe: ["foo.*"]}}
    {user: r, password: r, permissions: {allow_responses: true, subscribe: "req"}}
    {user: m, password: m, permissions: {allow_responses: {max: 2, expires: "1m"}, subscribe: "req"}}
    {user: d, password: d}
    {user: all, password: all, permissions: {publish: ">", subscribe: ">"}}
    {user: free, password: free, permissions: {}}
  ]
}
"#;

fn start() -> Running {
    common::start_conf(SHARDS, CONF)
}

fn client(srv: &Running, user: &str) -> Raw {
    Raw::logged_in(srv.addr, &common::user(user))
}

/// Sends `input` and checks what comes back before the PONG of a following PING: the
/// connection is still open after it.
fn expect(c: &mut Raw, input: &str, want: &str) {
    c.send(input.as_bytes());
    assert_eq!(String::from_utf8_lossy(&c.sync()), want, "input {input:?}");
}

fn pub_err(subject: &str) -> String {
    format!("-ERR 'Permissions Violation for Publish to \"{subject}\"'\r\n")
}

fn sub_err(subject: &str) -> String {
    format!("-ERR 'Permissions Violation for Subscription to \"{subject}\"'\r\n")
}

fn queue_err(subject: &str, queue: &str) -> String {
    format!("-ERR 'Permissions Violation for Subscription to \"{subject}\" using queue \"{queue}\"'\r\n")
}

#[test]
fn publish_allow_and_deny() {
    let srv = start();
    let mut a = client(&srv, "a");
    expect(
        &mut a,
        "SUB foo.> 1\r\nPUB foo.ok 1\r\nx\r\n",
        "MSG foo.ok 1 1\r\nx\r\n",
    );
    expect(&mut a, "PUB foo.bad 1\r\nx\r\n", &pub_err("foo.bad"));
    expect(&mut a, "PUB bar 1\r\nx\r\n", &pub_err("bar"));
    expect(&mut a, "PUB foo.x.y 1\r\nx\r\n", &pub_err("foo.x.y"));
    // Each one is refused again, from the connection's cache.
    let twice = pub_err("foo.bad").repeat(2);
    expect(
        &mut a,
        "PUB foo.bad 1\r\nx\r\nPUB foo.bad 1\r\nx\r\n",
        &twice,
    );
    let mut h = Raw::connect(srv.addr);
    h.log_in(&format!("\"headers\":true,{}", common::user("a")));
    expect(
        &mut h,
        "HPUB foo.bad 12 12\r\nNATS/1.0\r\n\r\n\r\n",
        &pub_err("foo.bad"),
    );
    // The connection carries on.
    expect(&mut a, "PUB foo.ok 1\r\ny\r\n", "MSG foo.ok 1 1\r\ny\r\n");
}

#[test]
fn a_violation_gets_no_ok_in_verbose_mode() {
    let srv = start();
    let mut a = Raw::connect(srv.addr);
    assert_eq!(
        a.connect_sync(&format!("\"verbose\":true,{}", common::user("a"))),
        b"+OK\r\n"
    );
    expect(&mut a, "PUB foo.bad 1\r\nx\r\n", &pub_err("foo.bad"));
    expect(&mut a, "SUB bar 1\r\n", &sub_err("bar"));
    expect(&mut a, "PUB foo.ok 1\r\nx\r\n", "+OK\r\n");
}

#[test]
fn pedantic_wildcard_publish_is_advised_then_refused() {
    let srv = start();
    let mut s = Raw::connect(srv.addr);
    s.log_in(&format!("\"pedantic\":true,{}", common::user("s")));
    let want = format!("-ERR 'Invalid Publish Subject'\r\n{}", pub_err("foo.*"));
    expect(&mut s, "PUB foo.* 1\r\nx\r\n", &want);
    expect(&mut s, "PUB foo 1\r\nx\r\n", "");
}

#[test]
fn subscribe_allow_deny_and_queue_groups() {
    let srv = start();
    let mut a = client(&srv, "a");
    let cases: &[(&str, String)] = &[
        ("SUB foo.> 1\r\n", String::new()),
        ("SUB foo.secret 2\r\n", sub_err("foo.secret")),
        ("SUB bar 3\r\n", sub_err("bar")),
        // Listed only with a queue: plain subscriptions are refused, other queues too.
        ("SUB q.a 4\r\n", sub_err("q.a")),
        ("SUB q.a grp 5\r\n", String::new()),
        ("SUB q.a other 6\r\n", queue_err("q.a", "other")),
        // A wildcard queue name in the list covers queue names.
        ("SUB qq.a g.x 7\r\n", String::new()),
        ("SUB qq.a g.x.y 8\r\n", queue_err("qq.a", "g.x.y")),
        ("SUB qq.a g 9\r\n", queue_err("qq.a", "g")),
        // A denied queue entry refuses that queue only.
        ("SUB foo.x.y qd 10\r\n", queue_err("foo.x.y", "qd")),
        ("SUB foo.x.y qe 11\r\n", String::new()),
        ("SUB foo.x.y 12\r\n", String::new()),
        // The server's own queue group is refused to everyone.
        ("SUB foo.a _sys_ 13\r\n", queue_err("foo.a", "_sys_")),
    ];
    for (input, want) in cases {
        expect(&mut a, input, want);
    }
    // Refused subscriptions do not exist: only the allowed ones receive.
    let mut all = client(&srv, "all");
    expect(&mut all, "PUB q.a 1\r\nx\r\nPUB bar 1\r\nx\r\n", "");
    expect(&mut a, "", "MSG q.a 5 1\r\nx\r\n");
    let mut s = client(&srv, "s");
    // `>` is one token to a `*` in an allow list, as in the Go server.
    expect(&mut s, "SUB foo.> 1\r\nSUB foo.* 2\r\n", "");
    expect(&mut s, "SUB * 3\r\n", &sub_err("*"));
    expect(&mut s, "SUB foo.a.> 4\r\n", &sub_err("foo.a.>"));
}

#[test]
fn a_wildcard_subscription_gets_no_denied_subject() {
    let srv = start();
    // Subscriber and publisher on different shards: the check is where the message is
    // delivered.
    let mut conns = one_per_shard(srv.addr, SHARDS);
    let (mut a, mut all) = (conns.remove(0), conns.remove(0));
    a.log_in(&common::user("a"));
    all.log_in(&common::user("all"));
    expect(&mut a, "SUB foo.* 1\r\nSUB foo.> 2\r\n", "");
    expect(
        &mut all,
        "PUB foo.secret 1\r\nx\r\nPUB foo.ok 1\r\ny\r\nPUB foo.x.y 1\r\nz\r\n",
        "",
    );
    expect(
        &mut a,
        "",
        // `>` subscriptions match first, as in the Go server's sublist.
        "MSG foo.ok 2 1\r\ny\r\nMSG foo.ok 1 1\r\ny\r\nMSG foo.x.y 2 1\r\nz\r\n",
    );
    // Its own publish to the denied subject is not delivered to it either.
    expect(&mut a, "PUB foo.secret 1\r\nx\r\n", "");
}

/// A requester (user `all`) and a responder logged in as `user` on different shards, after
/// one request with reply subject `reply.1` reached the responder.
fn first_request(srv: &Running, user: &str) -> (Raw, Raw) {
    let mut requester =
        common::logged_in_per_shard(srv.addr, SHARDS, &common::user("all")).remove(0);
    let mut responder =
        common::logged_in_per_shard(srv.addr, SHARDS, &common::user(user)).remove(1);
    expect(&mut responder, "SUB req 1\r\n", "");
    expect(
        &mut requester,
        "SUB reply.> 9\r\nPUB req reply.1 1\r\nx\r\n",
        "",
    );
    expect(&mut responder, "", "MSG req 1 reply.1 1\r\nx\r\n");
    (requester, responder)
}

#[test]
fn allow_responses_opens_reply_subjects_for_one_response() {
    let srv = start();
    let (mut requester, mut responder) = first_request(&srv, "r");
    let want = format!(
        "{}{}{}",
        pub_err("reply.1"),
        pub_err("reply.2"),
        pub_err("other")
    );
    expect(
        &mut responder,
        "PUB reply.1 1\r\na\r\nPUB reply.1 1\r\nb\r\nPUB reply.2 1\r\nc\r\nPUB other 1\r\nd\r\n",
        &want,
    );
    expect(&mut requester, "", "MSG reply.1 9 1\r\na\r\n");
    // A new request opens the reply subject again.
    expect(&mut requester, "PUB req reply.1 1\r\nx\r\n", "");
    expect(&mut responder, "", "MSG req 1 reply.1 1\r\nx\r\n");
    expect(&mut responder, "PUB reply.1 1\r\ne\r\n", "");
    expect(&mut requester, "", "MSG reply.1 9 1\r\ne\r\n");
}

#[test]
fn allow_responses_with_a_maximum() {
    let srv = start();
    let (mut requester, mut responder) = first_request(&srv, "m");
    expect(
        &mut responder,
        "PUB reply.1 1\r\na\r\nPUB reply.1 1\r\nb\r\nPUB reply.1 1\r\nc\r\n",
        &pub_err("reply.1"),
    );
    expect(
        &mut requester,
        "",
        "MSG reply.1 9 1\r\na\r\nMSG reply.1 9 1\r\nb\r\n",
    );
}

#[test]
fn default_permissions_apply_to_users_without_their_own() {
    let srv = start();
    let mut d = client(&srv, "d");
    expect(&mut d, "SUB sub.x 1\r\nPUB pub.x 1\r\nx\r\n", "");
    expect(&mut d, "PUB x 1\r\nx\r\n", &pub_err("x"));
    expect(&mut d, "SUB x 2\r\n", &sub_err("x"));
    // An empty permissions map is the user's own: no defaults, no restriction.
    let mut free = client(&srv, "free");
    expect(
        &mut free,
        "SUB x 1\r\nPUB x 1\r\nx\r\n",
        "MSG x 1 1\r\nx\r\n",
    );
}

#[test]
fn reserved_replies_and_gateway_subjects_are_refused_to_everyone() {
    let srv = common::start(SHARDS);
    let mut c = Raw::connect(srv.addr);
    c.send(b"CONNECT {\"verbose\":false,\"pedantic\":false}\r\nSUB foo 1\r\n");
    assert_eq!(c.sync(), b"");
    for reply in ["_R_.x", "$JS.ACK.a", "_GR_.a", "$GR.a"] {
        let want =
            format!("-ERR 'Permissions Violation for Publish with Reply of \"{reply}\"'\r\n");
        expect(&mut c, &format!("PUB foo {reply} 1\r\nx\r\n"), &want);
    }
    for subject in ["_GR_.x", "$GR.x"] {
        expect(
            &mut c,
            &format!("PUB {subject} 1\r\nx\r\n"),
            &pub_err(subject),
        );
    }
    expect(
        &mut c,
        "PUB foo _R_ 1\r\nx\r\nPUB foo $JS.ACK. 1\r\nx\r\n",
        "MSG foo 1 _R_ 1\r\nx\r\nMSG foo 1 $JS.ACK. 1\r\nx\r\n",
    );
}

#[test]
fn a_single_user_ignores_permissions_as_the_go_server_does() {
    // Next to `user`/`password`, `permissions` are defaults for a users array that is not
    // there: nats-server 2.15.1 lets this user publish anywhere.
    let text =
        "authorization {\n  user: a\n  password: a\n  permissions: { publish: \"pub.>\" }\n}\n";
    let srv = common::start_conf(SHARDS, text);
    let mut a = client(&srv, "a");
    expect(&mut a, "SUB x 1\r\nPUB x 1\r\nx\r\n", "MSG x 1 1\r\nx\r\n");
}
