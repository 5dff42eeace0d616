//! Applies a NATS configuration file to `Config`, with the Go server's key names, value
//! forms and error messages (`unknown field "x"`, `file:line:col: ...`).

mod accounts;
mod authorization;
mod cluster;
mod leafnodes;

use std::path::Path;
use std::time::Duration;

mod listeners;
mod operator;
mod websocket_auth;

pub use operator::validate as validate_operator_mode;

use crate::cli;
use crate::conf::{self, Item, Value};
use crate::config::{Config, DEFAULT_LAME_DUCK_GRACE_PERIOD, MIN_LAME_DUCK_DURATION};
use crate::timefmt::go_duration;
use crate::transport::ws::check_response_headers;

/// Keys of the Go server that later Riptide releases implement; refused clearly for now.
const NOT_YET: &[&str] = &[
    "gateway",
    "mqtt",
    "resolver_tls",
    "trusted_keys",
    "trusted",
    "https",
    "https_port",
    "mappings",
    "client_advertise",
    "max_sub_tokens",
    "syslog",
    "remote_syslog",
    "ports_file_dir",
];

/// Keys accepted and ignored: they change nothing observable in Riptide.
const IGNORED: &[&str] = &[
    "logtime_utc",
    "prof_port",
    "disable_sublist_cache",
    "max_closed_clients",
];

/// An error in one key, and where Go's message points.
#[derive(Debug)]
enum KeyError {
    /// At the key being applied.
    Here(String),
    /// At an item nested inside its value (its `file:line:col`).
    At(String, String),
    /// Nowhere: Go words some errors about values it has already unwrapped from their
    /// position.
    Bare(String),
    /// Several errors of one block, each reported as Go lists them (unknown fields).
    Many(Vec<KeyError>),
}

impl From<String> for KeyError {
    fn from(msg: String) -> Self {
        KeyError::Here(msg)
    }
}

impl KeyError {
    fn at(item: &Item, msg: String) -> KeyError {
        KeyError::At(item.position(), msg)
    }
}

/// A configuration error, already worded as the Go server words it.
#[derive(Debug)]
pub struct ConfigError(pub String);

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Loads `path` over `cfg`. Warnings (e.g. a bare number for a duration) are returned to be
/// logged; with `strict` (the `-t` check) they are errors, as in the Go server.
pub fn load(path: &Path, cfg: &mut Config, strict: bool) -> Result<Vec<String>, ConfigError> {
    let root = conf::parse_file(path).map_err(|e| ConfigError(e.0))?;
    apply_document(&root, &path.display().to_string(), cfg, strict)
}

/// Loads `path` over the defaults, then applies the command line `args` again so that flags
/// win, as the Go server does at start and on every reload. Returns the settings and the
/// file's warnings.
pub fn load_with_flags(
    path: &Path,
    args: &[String],
    strict: bool,
) -> Result<(Config, Vec<String>), String> {
    let mut base = Config::default();
    let root = conf::parse_file(path).map_err(|e| e.0)?;
    // Go's `processConfigErr` ends each error of the file's keys with a newline, so `-t`
    // prints an empty line after them; syntax errors come from its lexer without one.
    let warnings = apply_document(&root, &path.display().to_string(), &mut base, strict)
        .map_err(|e| format!("{e}\n"))?;
    match cli::parse_onto(args.iter().cloned(), base) {
        // As in Go, `-t` checks the file alone; starting (or reloading) checks the whole.
        Ok(cli::Command::Run { cfg, .. }) if !strict => {
            websocket_auth::validate(&cfg)?;
            if let Some(ws) = &cfg.websocket {
                check_response_headers(&ws.headers)?;
            }
            Ok((*cfg, warnings))
        }
        Ok(cli::Command::Run { cfg, .. }) => Ok((*cfg, warnings)),
        Ok(_) => Err("the command line does not run a server".into()),
        Err(e) => Err(e.to_string()),
    }
}

/// Loads configuration text with no file behind it (`include` is then an error).
pub fn load_str(text: &str, cfg: &mut Config, strict: bool) -> Result<Vec<String>, ConfigError> {
    let root = conf::parse(text).map_err(|e| ConfigError(e.0))?;
    apply_document(&root, "<text>", cfg, strict)
}

/// Applies a parsed document's keys to `cfg`; errors name `file:line:col`.
fn apply_document(
    root: &Value,
    file: &str,
    cfg: &mut Config,
    strict: bool,
) -> Result<Vec<String>, ConfigError> {
    let Value::Map(entries) = root else {
        unreachable!("a document is a map")
    };
    let mut warnings = Vec::new();
    // Like Go's `processConfigErr`, the errors of every key are listed, one a line.
    let mut errors = Vec::new();
    // Go warns about a file that sets nothing, and `-t` makes its warnings errors.
    if entries.is_empty() {
        let msg = format!("{file}: config has no values or is empty");
        if strict {
            errors.push(msg);
        } else {
            warnings.push(msg);
        }
    }
    for (key, item) in entries {
        let applied = match key.to_ascii_lowercase().as_str() {
            "tls" => listeners::tls(item).map(|t| cfg.tls = Some(t)),
            // Port 0 leaves WebSocket off, as in the Go server.
            "websocket" | "ws" => listeners::websocket(item, strict, &mut warnings)
                .map(|w| cfg.websocket = Some(w).filter(|w| w.port != 0)),
            "cluster" => cluster::cluster(item).map(|c| cfg.cluster = Some(c)),
            "leafnodes" | "leaf" => leafnodes::leafnodes(item).map(|l| cfg.leafnodes = Some(l)),
            _ => apply(key, item, cfg, &mut warnings, strict)
                .map_err(|e| ConfigError(listed(e, item))),
        };
        if let Err(ConfigError(msg)) = applied {
            errors.push(msg);
        }
    }
    if errors.is_empty() {
        if let Err(ConfigError(msg)) = leaf_accounts_exist(cfg) {
            errors.push(msg);
        }
    }
    if !errors.is_empty() {
        return Err(ConfigError(errors.join("\n")));
    }
    operator::finish(cfg);
    Ok(warnings)
}

/// Every account a leaf connection binds to is one the server has (`validateLeafNode`).
fn leaf_accounts_exist(cfg: &Config) -> Result<(), ConfigError> {
    let Some(l) = &cfg.leafnodes else {
        return Ok(());
    };
    let known = |name: &str| {
        name == crate::accounts::GLOBAL_ACCOUNT
            || cfg.accounts.iter().any(|a| a.name == name)
            || cfg.system_account_name() == Some(name)
    };
    let auth = l.account.iter().chain(
        l.user
            .iter()
            .chain(&l.users)
            .filter_map(|u| u.account.as_ref()),
    );
    for a in auth {
        if !known(a) {
            return Err(ConfigError(format!(
                "cannot find local account {a:?} specified in leafnode authorization"
            )));
        }
    }
    for a in l.remotes.iter().filter_map(|r| r.account.as_ref()) {
        if !known(a) {
            return Err(ConfigError(format!(
                "cannot find local account {a:?} specified in leafnode remote"
            )));
        }
    }
    Ok(())
}

/// A key's error as Go words it, `file:line:col: ` first where it has a position; several
/// on their own lines.
fn listed(e: KeyError, item: &Item) -> String {
    match e {
        KeyError::Here(msg) => format!("{}: {msg}", item.position()),
        KeyError::At(at, msg) => format!("{at}: {msg}"),
        KeyError::Bare(msg) => msg,
        KeyError::Many(all) => all
            .into_iter()
            .map(|e| listed(e, item))
            .collect::<Vec<_>>()
            .join("\n"),
    }
}

fn apply(
    key: &str,
    item: &Item,
    cfg: &mut Config,
    warnings: &mut Vec<String>,
    strict: bool,
) -> Result<(), KeyError> {
    let v = &item.value;
    match key.to_ascii_lowercase().as_str() {
        "port" => cfg.port = int(v, key)? as i32,
        "host" | "net" => cfg.host = string(v, key)?,
        "listen" => {
            let (host, port) = host_port(v, key)?;
            if let Some(h) = host {
                cfg.host = h;
            }
            cfg.port = port;
        }
        "server_name" => {
            let name = string(v, key)?;
            if name.contains(' ') {
                return Err(KeyError::Here("server name cannot contain spaces".into()));
            }
            cfg.server_name = Some(name);
        }
        "max_payload" => cfg.max_payload = size(v, key)?,
        "max_control_line" => cfg.max_control_line = size(v, key)?,
        "max_pending" => cfg.max_pending = size(v, key)?,
        "max_connections" | "max_conn" => cfg.max_connections = size(v, key)?,
        "max_subscriptions" | "max_subs" => cfg.max_subscriptions = size(v, key)?,
        "ping_max" => cfg.ping_max = int(v, key)? as u32,
        "ping_interval" | "write_deadline" => {
            let d = duration_or_seconds(item, key, strict, warnings)?;
            if key == "ping_interval" {
                cfg.ping_interval = d;
            } else {
                cfg.write_deadline = d;
            }
        }
        "debug" => cfg.debug = boolean(v, key)?,
        "trace" | "trace_verbose" => cfg.trace = boolean(v, key)?,
        "logtime" => cfg.logtime = boolean(v, key)?,
        "logfile" | "log_file" => cfg.log_file = Some(string(v, key)?.into()),
        // Zero or less turns rotation and purging off, as in the Go server.
        "logfile_size_limit" | "log_size_limit" => {
            cfg.log_size_limit = u64::try_from(int(v, key)?).unwrap_or(0)
        }
        "logfile_max_num" | "log_max_num" => {
            cfg.log_max_num = usize::try_from(int(v, key)?).unwrap_or(0)
        }
        "lame_duck_duration" => {
            let d = duration_string(v, key)?;
            if d < MIN_LAME_DUCK_DURATION {
                return Err(format!(
                    "invalid lame_duck_duration of {}, minimum is 30 seconds",
                    go_duration(d)
                )
                .into());
            }
            cfg.lame_duck_duration = d;
        }
        "lame_duck_grace_period" => {
            if let Value::Str(s) = v {
                if s.strip_prefix('-')
                    .is_some_and(|d| parse_duration(d).is_some())
                {
                    return Err(String::from(
                        "invalid lame_duck_grace_period, needs to be positive",
                    )
                    .into());
                }
            }
            // Zero means the default, as Go's `setBaselineOptions` fills it in.
            let d = duration_string(v, key)?;
            cfg.lame_duck_grace_period = if d.is_zero() {
                DEFAULT_LAME_DUCK_GRACE_PERIOD
            } else {
                d
            };
        }
        "pidfile" | "pid_file" => cfg.pid_file = Some(string(v, key)?.into()),
        "http_port" | "monitor_port" => cfg.http_port = Some(int(v, key)? as i32),
        "http" => {
            let (host, port) = host_port(v, key)?;
            cfg.http_host = host.or(cfg.http_host.take());
            cfg.http_port = Some(port);
        }
        "http_base_path" => cfg.http_base_path = string(v, key)?,
        "jetstream" => {
            cfg.jetstream = match v {
                Value::Bool(b) => *b,
                Value::Str(s) => {
                    s.eq_ignore_ascii_case("enabled") || s.eq_ignore_ascii_case("enable")
                }
                Value::Map(entries) => {
                    jetstream_block(entries, cfg)?;
                    !matches!(v.get("enabled").map(|e| &e.value), Some(Value::Bool(false)))
                }
                _ => {
                    return Err(KeyError::Here(
                        "expected a boolean or a map for jetstream".into(),
                    ))
                }
            }
        }
        "store_dir" => cfg.store_dir = Some(string(v, key)?.into()),
        "authorization" => authorization::apply(v, cfg)?,
        "accounts" => accounts::apply(item, cfg)?,
        "no_auth_user" => cfg.auth.no_auth_user = Some(string(v, key)?),
        "no_system_account" | "no_sys_acc" | "no_system" => {
            cfg.no_system_account = boolean(v, key)?;
        }
        k if operator::KEYS.contains(&k) => operator::apply(k, item, cfg)?,
        "shards" => cfg.shards = size(v, key)?,
        k if IGNORED.contains(&k) => {}
        // A key that a `$variable` refers to is a variable, not a setting.
        _ if item.used => {}
        k if NOT_YET.contains(&k) => {
            return Err(
                format!("field \"{key}\" is not supported by this version of riptide yet").into(),
            )
        }
        _ => return Err(format!("unknown field \"{key}\"").into()),
    }
    Ok(())
}

/// Go's `parseDuration`: a duration string, or a bare number of seconds with a warning that
/// `-t` makes an error.
/// The server's `jetstream {}` block (Go's `parseJetStream`).
fn jetstream_block(entries: &[(String, Item)], cfg: &mut Config) -> Result<(), KeyError> {
    let o = &mut cfg.jetstream_opts;
    for (k, f) in entries {
        let v = &f.value;
        match k.to_ascii_lowercase().as_str() {
            "store_dir" | "store" | "storedir" => cfg.store_dir = Some(string(v, k)?.into()),
            "max_memory_store" | "max_mem_store" | "max_mem" => o.max_memory = int(v, k)?,
            "max_file_store" | "max_file" => o.max_store = int(v, k)?,
            "domain" => o.domain = string(v, k)?,
            "strict" => o.strict = boolean(v, k)?,
            "sync_interval" | "sync" => match v {
                Value::Str(s) if s.eq_ignore_ascii_case("always") => o.sync_always = true,
                _ => {
                    o.sync_interval = duration_string(v, k)?;
                    o.sync_always = false;
                }
            },
            "enabled"
            | "enable"
            | "unique_tag"
            | "max_outstanding_catchup"
            | "request_queue_limit"
            | "max_buffered_msgs"
            | "max_buffered_size"
            | "max_catchup"
            | "limits"
            | "cipher"
            | "key"
            | "prev_key"
            | "extension_hint"
            | "tpm"
            | "max_ack_pending"
            | "max_ha_assets"
            | "compress_ok" => {}
            _ => return Err(KeyError::at(f, format!("unknown field \"{k}\""))),
        }
    }
    Ok(())
}

fn duration_or_seconds(
    item: &Item,
    key: &str,
    strict: bool,
    warnings: &mut Vec<String>,
) -> Result<Duration, String> {
    let Value::Int(secs) = item.value else {
        return duration_string(&item.value, key);
    };
    let msg = format!("invalid use of field \"{key}\": {key} should be converted to a duration");
    if strict {
        return Err(msg);
    }
    warnings.push(format!("{}: {msg}", item.position()));
    u64::try_from(secs)
        .map(Duration::from_secs)
        .map_err(|_| format!("invalid {key}"))
}

/// A duration given as a Go duration string (`"30s"`).
fn duration_string(v: &Value, key: &str) -> Result<Duration, String> {
    match v {
        Value::Str(s) => parse_duration(s)
            .ok_or_else(|| format!("error parsing {key}: time: invalid duration \"{s}\"")),
        _ => Err(format!("error parsing {key}: expected a duration string")),
    }
}

/// An error at `item`'s position, as Go points at the field.
fn at(item: &Item, msg: impl std::fmt::Display) -> ConfigError {
    ConfigError(format!("{}: {msg}", item.position()))
}

/// The entries of a block that must be a map.
fn entries<'a>(block: &'a Item, what: &str) -> Result<&'a [(String, Item)], ConfigError> {
    match &block.value {
        Value::Map(e) => Ok(e),
        _ => Err(at(block, format!("expected a map for {what}"))),
    }
}

/// Loads a configuration's text onto the defaults, for unit tests of a block.
#[cfg(test)]
fn load_text(text: &str) -> Result<Config, String> {
    let mut cfg = Config::default();
    load_str(text, &mut cfg, false)
        .map(|_| cfg)
        .map_err(|e| e.0)
}

fn int(v: &Value, key: &str) -> Result<i64, String> {
    match v {
        Value::Int(n) => Ok(*n),
        _ => Err(format!("error parsing {key}: expected an integer")),
    }
}

fn size(v: &Value, key: &str) -> Result<usize, String> {
    usize::try_from(int(v, key)?).map_err(|_| format!("error parsing {key}: must not be negative"))
}

fn string(v: &Value, key: &str) -> Result<String, String> {
    match v {
        Value::Str(s) => Ok(s.clone()),
        Value::Int(n) => Ok(n.to_string()),
        _ => Err(format!("error parsing {key}: expected a string")),
    }
}

fn boolean(v: &Value, key: &str) -> Result<bool, String> {
    match v {
        Value::Bool(b) => Ok(*b),
        _ => Err(format!("error parsing {key}: expected a boolean")),
    }
}

/// `host:port`, `:port` or a bare port.
fn host_port(v: &Value, key: &str) -> Result<(Option<String>, i32), String> {
    match v {
        Value::Int(p) => Ok((None, *p as i32)),
        Value::Str(s) => {
            let (h, p) = s
                .rsplit_once(':')
                .ok_or_else(|| format!("could not parse address string {s:?}"))?;
            let port = p
                .parse()
                .map_err(|_| format!("could not parse port {p:?} of {key}"))?;
            let h = h.trim_start_matches('[').trim_end_matches(']');
            Ok(((!h.is_empty()).then(|| h.to_string()), port))
        }
        _ => Err(format!("error parsing {key}: expected host:port")),
    }
}

/// Go's `time.ParseDuration`: a sequence of decimal numbers with units ns, us/µs, ms, s, m, h.
pub fn parse_duration(s: &str) -> Option<Duration> {
    if s == "0" {
        return Some(Duration::ZERO);
    }
    let mut rest = s;
    let mut total = 0f64;
    while !rest.is_empty() {
        let num_end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        if num_end == 0 {
            return None;
        }
        let n: f64 = rest[..num_end].parse().ok()?;
        rest = &rest[num_end..];
        let unit_end = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let secs = match &rest[..unit_end] {
            "ns" => 1e-9,
            "us" | "µs" | "μs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return None,
        };
        total += n * secs;
        rest = &rest[unit_end..];
    }
    Some(Duration::from_secs_f64(total))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load_text(text: &str, strict: bool) -> Result<(Config, Vec<String>), ConfigError> {
        let mut cfg = Config::default();
        load_str(text, &mut cfg, strict).map(|w| (cfg, w))
    }

    #[test]
    fn keys_map_to_settings() {
        let (c, w) = load_text(
            "listen: 127.0.0.1:5222\nserver_name: edge-1\nmax_payload: 2MB\nmax_pending: 100MB\nmax_connections: 10\nmax_subs: 5\nping_interval: \"30s\"\nping_max: 3\nwrite_deadline: \"1.5s\"\ndebug: true\nshards: 2\nlogtime: false\n",
            true,
        )
        .unwrap();
        assert!(w.is_empty());
        assert_eq!((c.host.as_str(), c.port), ("127.0.0.1", 5222));
        assert_eq!(c.server_name.as_deref(), Some("edge-1"));
        assert_eq!((c.max_payload, c.max_pending), (2 << 20, 100 << 20));
        assert_eq!(
            (c.max_connections, c.max_subscriptions, c.ping_max),
            (10, 5, 3)
        );
        assert_eq!(c.ping_interval, Duration::from_secs(30));
        assert_eq!(c.write_deadline, Duration::from_millis(1500));
        assert!(c.debug);
        assert_eq!(c.shards, 2);
    }

    #[test]
    fn variables_are_not_fields_and_every_unknown_field_is_listed() {
        let (c, _) = load_text(
            "password = \"s3\"\nauthorization { ADMIN { publish: x }\n users: [{user: a, password: $password, permissions: $ADMIN}] }\n",
            true,
        )
        .unwrap();
        assert_eq!(c.auth.users.len(), 1);
        let e = load_text("a: 1\nport: 1\nb: 2\nauthorization { c: 1, d: 2 }\n", true)
            .unwrap_err()
            .0;
        assert_eq!(
            e,
            "<text>:1:0: unknown field \"a\"\n<text>:3:1: unknown field \"b\"\n<text>:4:17: unknown field \"c\"\n<text>:4:23: unknown field \"d\""
        );
    }

    #[test]
    fn go_error_messages() {
        let e = load_text("port: 4333\nfoo: 1\n", false).unwrap_err().0;
        assert!(e.ends_with(":2:1: unknown field \"foo\""), "{e}");
        let e = load_text("port: 4333\nping_interval: 5\n", true)
            .unwrap_err()
            .0;
        assert!(e.ends_with(":2:1: invalid use of field \"ping_interval\": ping_interval should be converted to a duration"), "{e}");
        let (c, w) = load_text("ping_interval: 5\n", false).unwrap();
        assert_eq!(c.ping_interval, Duration::from_secs(5));
        assert_eq!(w.len(), 1);
        let e = load_text("server_name: \"a b\"\n", false).unwrap_err().0;
        assert!(e.ends_with("server name cannot contain spaces"), "{e}");
        let e = load_text("port: 1\nmax_payload: {\n", false).unwrap_err().0;
        assert_eq!(e, "Parse error on line 3: 'Unexpected EOF processing map.'");
        // A file that sets nothing: a warning, an error under `-t` (nats-server 2.15.1).
        let (_, w) = load_text("# nothing\n", false).unwrap();
        assert_eq!(w, ["<text>: config has no values or is empty"]);
        let e = load_text("", true).unwrap_err().0;
        assert_eq!(e, "<text>: config has no values or is empty");
        let e = load_text("gateway { port: 1 }\n", false).unwrap_err().0;
        assert!(e.contains("\"gateway\" is not supported"), "{e}");
    }

    #[test]
    fn monitoring_keys() {
        let (c, _) = load_text("http: \"127.0.0.1:8333\"\nhttp_base_path: /mon\n", false).unwrap();
        assert_eq!(c.http_host.as_deref(), Some("127.0.0.1"));
        assert_eq!(c.http_port, Some(8333));
        assert_eq!(c.http_base_path, "/mon");
        let (c, _) = load_text("http_port: 8222\n", false).unwrap();
        assert_eq!((c.http_host, c.http_port), (None, Some(8222)));
        let e = load_text("https_port: 8443\n", false).unwrap_err().0;
        assert!(e.contains("\"https_port\" is not supported"), "{e}");
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("2m"), Some(Duration::from_secs(120)));
        assert_eq!(parse_duration("1h30m"), Some(Duration::from_secs(5400)));
        assert_eq!(parse_duration("500ms"), Some(Duration::from_millis(500)));
        assert_eq!(parse_duration("1.5s"), Some(Duration::from_millis(1500)));
        assert_eq!(parse_duration("10"), None);
        assert_eq!(parse_duration("x"), None);
    }
}
