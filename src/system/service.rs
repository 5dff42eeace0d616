//! The thread that answers requests to the server's services and sends the `STATSZ`
//! heartbeat. Answers are built as the monitoring port builds its pages (from the shards'
//! snapshots, through the same endpoint code), put in Go's envelope, and handed to the
//! requester's shard to publish (`mailbox::Command::Publish`).

use std::collections::HashSet;
use std::io;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use serde_json::{json, Value};

use super::events::{
    AccountConnections, ApiError, ApiResponse, EventHead, ServerId, ServerInfo, StatszMsg,
    ACCOUNT_CONNECTIONS_TYPE,
};
use super::request::{AccountEndpoint, Endpoint};
use super::{go_json, Ask, Job, Request, SystemLink};
use crate::accounts::AccountId;
use crate::mailbox::Command;
use crate::monitor::accounts::{account_stat, usage_query};
use crate::monitor::{self, Context};
use crate::server::Server;
use crate::shard::Query;
use crate::timefmt::rfc3339_nano;

/// The first `STATSZ` heartbeat's delay; it doubles up to [`STATSZ_INTERVAL`] (Go's
/// `startStatszTimer`, 250 ms).
const STATSZ_FIRST: Duration = Duration::from_millis(250);
/// The `STATSZ` heartbeat's period once ramped up (Go's `statsHBInterval`, 10 s).
const STATSZ_INTERVAL: Duration = Duration::from_secs(10);

/// The code of an endpoint's failure over NATS (`http.StatusInternalServerError` in
/// `zReq`); bad options are 400.
const INTERNAL_ERROR: u16 = 500;

/// The running service thread.
#[derive(Debug)]
pub(crate) struct Service {
    tx: mpsc::Sender<Job>,
    thread: Option<JoinHandle<()>>,
}

impl Service {
    /// Starts the thread and connects the shards' `link` to it.
    pub fn start(ctx: Arc<Context>, link: &SystemLink) -> io::Result<Service> {
        let (tx, rx) = mpsc::channel();
        link.connect(tx.clone());
        let thread = std::thread::Builder::new()
            .name("riptide-system".into())
            .spawn(move || run(&ctx, &rx))?;
        Ok(Service {
            tx,
            thread: Some(thread),
        })
    }

    pub fn stop(&mut self) {
        let _ = self.tx.send(Job::Stop);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        self.stop();
    }
}

fn run(ctx: &Context, rx: &mpsc::Receiver<Job>) {
    let mut period = STATSZ_FIRST;
    let mut next = Instant::now() + period;
    loop {
        match rx.recv_timeout(next.saturating_duration_since(Instant::now())) {
            Ok(Job::Answer(r)) => answer(ctx, &r),
            Ok(Job::AccountConns(account)) => account_conns(ctx, account),
            Ok(Job::Stop) | Err(RecvTimeoutError::Disconnected) => return,
            Err(RecvTimeoutError::Timeout) => {
                heartbeat(ctx);
                period = (period * 2).min(STATSZ_INTERVAL);
                next = Instant::now() + period;
            }
        }
    }
}

fn publish(ctx: &Context, shard: usize, account: AccountId, subject: Bytes, payload: Vec<u8>) {
    ctx.send(
        shard,
        Command::Publish {
            account,
            subject,
            payload: Bytes::from(payload),
        },
    );
}

/// `$SYS.SERVER.<id>.STATSZ`, published on the first shard; it reaches only those who
/// listen, as Go sends it standalone only when someone does.
fn heartbeat(ctx: &Context) {
    let server = ctx.server();
    let Some(sys) = server.accounts.system() else {
        return;
    };
    let subject = format!("$SYS.SERVER.{}.STATSZ", server.server_id);
    let msg = StatszMsg {
        server: ServerInfo::of(&server),
        statsz: statsz(ctx),
    };
    publish(ctx, 0, sys, Bytes::from(subject), go_json(&msg));
}

/// An account's `account_connections` event on both of Go's subjects (`accConnsUpdate`);
/// never for the global account.
fn account_conns(ctx: &Context, account: AccountId) {
    let server = ctx.server();
    let Some(sys) = server.accounts.system() else {
        return;
    };
    if account == crate::accounts::GLOBAL || usize::from(account) >= server.accounts.len() {
        return;
    }
    let name = server.accounts.name(account).to_string();
    let payload = account_connections(ctx, &server, &name);
    for subject in [
        format!("$SYS.SERVER.ACCOUNT.{name}.CONNS"),
        format!("$SYS.ACCOUNT.{name}.SERVER.CONNS"),
    ] {
        publish(ctx, 0, sys, Bytes::from(subject), go_json(&payload));
    }
}

fn account_connections(ctx: &Context, server: &Server, name: &str) -> AccountConnections {
    let snaps = ctx.gather(usage_query());
    AccountConnections {
        head: EventHead::new(
            ACCOUNT_CONNECTIONS_TYPE,
            rfc3339_nano(SystemTime::now()),
            server,
        ),
        stat: account_stat(server, &snaps, name),
    }
}

/// Go's `ServerStats`.
fn statsz(ctx: &Context) -> Value {
    let snaps = ctx.gather(Query {
        conns: true,
        ..Query::default()
    });
    let t = monitor::varz::totals(&snaps);
    let accounts: HashSet<&str> = snaps
        .iter()
        .flat_map(|s| &s.conns)
        .map(|c| c.account.as_str())
        .collect();
    let pair = |msgs: u64, bytes: u64| json!({"msgs": msgs, "bytes": bytes});
    let mut v = json!({
        "start": rfc3339_nano(ctx.started.wall),
        "mem": monitor::varz::rss_bytes(),
        "cores": std::thread::available_parallelism().map_or(1, |n| n.get()),
        "cpu": monitor::go_float(monitor::varz::cpu_percent(ctx)),
        "connections": snaps.iter().map(|s| s.connections).sum::<usize>(),
        "total_connections": t.total_connections,
        "active_accounts": accounts.len(),
        "subscriptions": snaps.iter().map(|s| s.subscriptions).sum::<usize>(),
        "sent": pair(t.out_msgs, t.out_bytes),
        "sent_to_clients": pair(t.out_msgs, t.out_bytes),
        "received": pair(t.in_msgs, t.in_bytes),
        "received_from_clients": pair(t.in_msgs, t.in_bytes),
        "slow_consumers": t.slow_consumers,
    });
    if let Value::Object(m) = &mut v {
        // Go leaves these out when zero (`omitempty`).
        if t.stale_connections > 0 {
            m.insert("stale_connections".into(), json!(t.stale_connections));
        }
        if t.stalls > 0 {
            m.insert("stalled_clients".into(), json!(t.stalls));
        }
        m.insert("active_servers".into(), json!(1));
        m.insert("gomaxprocs".into(), json!(ctx.shards));
    }
    v
}

fn answer(ctx: &Context, r: &Request) {
    let server = ctx.server();
    if server.accounts.system().is_none() {
        return;
    }
    let reply = match (&r.reply, &r.ask) {
        (Some(reply), _) => reply.clone(),
        // `STATSZ` without a reply asks for the broadcast (`statszReq`).
        (None, Ask::Server(Endpoint::Statsz)) => {
            Bytes::from(format!("$SYS.SERVER.{}.STATSZ", server.server_id))
        }
        (None, _) => return,
    };
    let options = match Options::parse(&r.body, struct_name(&r.ask)) {
        Ok(o) => o,
        Err(description) => {
            let resp = ApiResponse {
                server: ServerInfo::of(&server),
                data: None,
                error: Some(ApiError {
                    code: 400,
                    description,
                }),
            };
            return publish(ctx, r.shard, r.account, reply, go_json(&resp));
        }
    };
    if !options.for_server(&server) {
        return;
    }
    let payload = match &r.ask {
        Ask::Server(Endpoint::Idz) => go_json(&ServerId {
            name: server.name(),
            host: &server.cfg.host,
            id: &server.server_id,
        }),
        Ask::Server(Endpoint::Statsz) => go_json(&StatszMsg {
            statsz: statsz(ctx),
            server: ServerInfo::of(&server),
        }),
        Ask::Account(acc, AccountEndpoint::Conns) => {
            let stat = account_connections(ctx, &server, acc);
            // Only a server with clients in the account answers (`connsRequest`).
            if stat.stat.get("conns") == Some(&json!(0)) {
                return;
            }
            go_json(&stat)
        }
        Ask::UserInfo => go_json(&ApiResponse {
            server: ServerInfo::of(&server),
            data: r
                .requester
                .as_ref()
                .and_then(|u| serde_json::to_value(u).ok()),
            error: None,
        }),
        ask => {
            let Some((path, query)) = endpoint_query(ask, options.query) else {
                return;
            };
            let Some(mut envelope) = endpoint_answer(ctx, &server, path, query) else {
                return;
            };
            // Over NATS Go's health answer keeps the status code its HTTP answer drops.
            if let (Ask::Server(Endpoint::Healthz), Some(Value::Object(m))) =
                (ask, &mut envelope.data)
            {
                m.insert("status_code".into(), json!(200));
            }
            go_json(&envelope)
        }
    };
    publish(ctx, r.shard, r.account, reply, payload);
}

/// The monitoring endpoint and parameters that answer `ask`; `None` for the requests
/// answered without one (`IDZ`, `STATSZ`, `CONNS`, `USER.INFO`).
fn endpoint_query(
    ask: &Ask,
    mut query: Vec<(String, String)>,
) -> Option<(&'static str, Vec<(String, String)>)> {
    let path = match ask {
        Ask::Server(e) => match e {
            Endpoint::Varz => "/varz",
            Endpoint::Connz => "/connz",
            Endpoint::Subsz => "/subsz",
            Endpoint::Routez => "/routez",
            Endpoint::Gatewayz => "/gatewayz",
            Endpoint::Leafz => "/leafz",
            Endpoint::Accountz => "/accountz",
            Endpoint::Jsz => "/jsz",
            Endpoint::Healthz => "/healthz",
            Endpoint::Statsz | Endpoint::Idz => return None,
        },
        Ask::Account(acc, e) => {
            query.retain(|(k, _)| k != "acc" && k != "accs");
            match e {
                AccountEndpoint::Connz => {
                    query.push(("acc".into(), acc.clone()));
                    "/connz"
                }
                AccountEndpoint::Subsz => {
                    query.retain(|(k, _)| k != "subs");
                    query.push(("subs".into(), "true".into()));
                    query.push(("acc".into(), acc.clone()));
                    "/subsz"
                }
                AccountEndpoint::Leafz => {
                    query.push(("acc".into(), acc.clone()));
                    "/leafz"
                }
                AccountEndpoint::Statz => {
                    query.push(("accs".into(), acc.clone()));
                    "/accstatz"
                }
                AccountEndpoint::Conns => return None,
            }
        }
        Ask::AccountsStatz => "/accstatz",
        Ask::UserInfo => return None,
    };
    Some((path, query))
}

/// The endpoint's answer in Go's `ServerAPIResponse`: its JSON as `data`, or its error
/// text as a 500 `error` beside a null `data` (Go's `zReq` sends the handler's nil result).
/// `None` when an account statistics request found no account in use (`errSkipZreq`).
fn endpoint_answer(
    ctx: &Context,
    server: &Server,
    path: &'static str,
    query: Vec<(String, String)>,
) -> Option<ApiResponse> {
    let (_, handler) = monitor::endpoint(path)?;
    let unused = query.iter().any(|(k, v)| k == "unused" && v == "true");
    let req = monitor::Request {
        method: "GET".into(),
        path: path.into(),
        raw_query: String::new(),
        query,
    };
    let resp = handler(ctx, &req);
    if resp.status != 200 {
        let description = String::from_utf8_lossy(&resp.body).trim_end().to_string();
        return Some(ApiResponse {
            server: ServerInfo::of(server),
            data: Some(Value::Null),
            error: Some(ApiError {
                code: INTERNAL_ERROR,
                description,
            }),
        });
    }
    let data: Value = serde_json::from_slice(&resp.body).ok()?;
    if path == "/accstatz" && !unused && data["account_statz"].as_array().is_some_and(Vec::is_empty)
    {
        return None;
    }
    Some(ApiResponse {
        server: ServerInfo::of(server),
        data: Some(data),
        error: None,
    })
}

/// The Go type a request's options decode into, named in its decoding errors.
fn struct_name(ask: &Ask) -> &'static str {
    match ask {
        Ask::Server(e) => match e {
            Endpoint::Statsz => "StatszEventOptions",
            Endpoint::Idz => "EventFilterOptions",
            Endpoint::Varz => "VarzEventOptions",
            Endpoint::Connz => "ConnzEventOptions",
            Endpoint::Subsz => "SubszEventOptions",
            Endpoint::Routez => "RoutezEventOptions",
            Endpoint::Gatewayz => "GatewayzEventOptions",
            Endpoint::Leafz => "LeafzEventOptions",
            Endpoint::Accountz => "AccountzEventOptions",
            Endpoint::Jsz => "JszEventOptions",
            Endpoint::Healthz => "HealthzEventOptions",
        },
        Ask::Account(_, e) => match e {
            AccountEndpoint::Connz => "ConnzEventOptions",
            AccountEndpoint::Subsz => "SubszEventOptions",
            AccountEndpoint::Leafz => "LeafzEventOptions",
            AccountEndpoint::Statz => "AccountStatzEventOptions",
            AccountEndpoint::Conns => "accNumConnsReq",
        },
        Ask::AccountsStatz => "AccountStatzEventOptions",
        Ask::UserInfo => "EventFilterOptions",
    }
}

/// What a request option is, as its Go field is typed.
#[derive(Clone, Copy)]
enum Kind {
    Bool,
    Int,
    Str,
    StrList,
    /// `ConnState`: 0 open, 1 closed, 2 all.
    State,
}

/// Request options: (JSON key, monitoring parameter, kind). Keys that no endpoint of
/// Riptide reads are accepted and ignored, as `json.Unmarshal` ignores unknown keys.
const OPTIONS: &[(&str, &str, Kind)] = &[
    ("sort", "sort", Kind::Str),
    ("auth", "auth", Kind::Bool),
    ("subscriptions", "subs", Kind::Bool),
    ("subscriptions_detail", "subs_detail", Kind::Bool),
    ("offset", "offset", Kind::Int),
    ("limit", "limit", Kind::Int),
    ("cid", "cid", Kind::Int),
    ("state", "state", Kind::State),
    ("user", "user", Kind::Str),
    ("acc", "acc", Kind::Str),
    ("account", "acc", Kind::Str),
    ("test", "test", Kind::Str),
    ("accounts", "accs", Kind::StrList),
    ("include_unused", "unused", Kind::Bool),
    ("js-enabled-only", "js-enabled-only", Kind::Bool),
    ("js-server-only", "js-server-only", Kind::Bool),
    ("details", "details", Kind::Bool),
];

/// A request's options: the server filter (`EventFilterOptions`) and the endpoint's
/// parameters.
#[derive(Default)]
struct Options {
    server_name: String,
    cluster: String,
    host: String,
    exact: bool,
    tags: Vec<String>,
    domain: String,
    query: Vec<(String, String)>,
}

fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

impl Options {
    /// Decodes the JSON body as Go's `json.Unmarshal` into the options struct would,
    /// with its error texts for a value of the wrong type.
    fn parse(body: &[u8], go_struct: &str) -> Result<Options, String> {
        let mut o = Options::default();
        if body.is_empty() {
            return Ok(o);
        }
        let v: Value = serde_json::from_slice(body).map_err(|e| e.to_string())?;
        let Value::Object(fields) = v else {
            return Err(format!(
                "json: cannot unmarshal {} into Go value of type server.{go_struct}",
                json_type(&v)
            ));
        };
        let mismatch = |key: &str, v: &Value, go_type: &str| {
            format!(
                "json: cannot unmarshal {} into Go struct field {go_struct}.{key} of type {go_type}",
                json_type(v)
            )
        };
        for (key, v) in &fields {
            if v.is_null() {
                continue;
            }
            let text = |go_type: &str| {
                v.as_str()
                    .map(str::to_string)
                    .ok_or_else(|| mismatch(key, v, go_type))
            };
            match key.as_str() {
                "server_name" => o.server_name = text("string")?,
                "cluster" => o.cluster = text("string")?,
                "host" => o.host = text("string")?,
                "domain" => o.domain = text("string")?,
                "exact_match" => o.exact = v.as_bool().ok_or_else(|| mismatch(key, v, "bool"))?,
                "tags" => {
                    o.tags = serde_json::from_value(v.clone())
                        .map_err(|_| mismatch(key, v, "jwt.TagList"))?;
                }
                _ => {}
            }
            let Some(&(_, param, kind)) = OPTIONS.iter().find(|(k, _, _)| k == key) else {
                continue;
            };
            let value = match kind {
                Kind::Bool => v
                    .as_bool()
                    .ok_or_else(|| mismatch(key, v, "bool"))?
                    .to_string(),
                Kind::Int => v
                    .as_i64()
                    .ok_or_else(|| mismatch(key, v, "int"))?
                    .to_string(),
                Kind::Str => text("string")?,
                Kind::StrList => serde_json::from_value::<Vec<String>>(v.clone())
                    .map_err(|_| mismatch(key, v, "[]string"))?
                    .join(","),
                Kind::State => match v.as_i64() {
                    Some(0) => "open".into(),
                    Some(1) => "closed".into(),
                    Some(2) => "all".into(),
                    Some(_) => continue,
                    None => return Err(mismatch(key, v, "server.ConnState")),
                },
            };
            o.query.push((param.to_string(), value));
        }
        // `subscriptions_detail` is `subs=detail` on the monitoring port.
        if o.query
            .iter()
            .any(|(k, v)| k == "subs_detail" && v == "true")
        {
            o.query.retain(|(k, _)| k != "subs");
            o.query.push(("subs".into(), "detail".into()));
        }
        o.query.retain(|(k, _)| k != "subs_detail");
        Ok(o)
    }

    /// Whether the request's filter selects this server (Go's `filterRequest` inverted): a
    /// name or host contained in ours (or equal with `exact_match`); a cluster, tags or a
    /// JetStream domain, none of which a Riptide server has, select none.
    fn for_server(&self, server: &Server) -> bool {
        let matches = |want: &str, ours: &str| {
            want.is_empty()
                || if self.exact {
                    want == ours
                } else {
                    ours.contains(want)
                }
        };
        matches(&self.server_name, server.name())
            && matches(&self.host, &server.cfg.host)
            && self.cluster.is_empty()
            && self.tags.is_empty()
            && self.domain.is_empty()
    }
}
