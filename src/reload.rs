//! Configuration reload on SIGHUP (`--signal reload`), as the Go server's `reload.go` does
//! it: the file is read again and the command line applied over it (flags still win); if a
//! setting that cannot change at run time changed, the reload fails with Go's
//! `config reload not supported for <Field>: old=..., new=...` and the old settings stay.
//! Otherwise each change is logged as `Reloaded: ...`, logging is set up again, every shard
//! switches to the new settings (closing the clients they no longer authorize) and
//! `Reloaded server configuration` is logged. Connections are not dropped.

use std::fmt::Display;
use std::path::PathBuf;

use crate::config::Config;
use crate::config_file;
use crate::log_at;
use crate::runtime::Running;
use crate::timefmt::go_duration;
use crate::transport::tls::{TlsSettings, DEFAULT_TLS_TIMEOUT};

/// What a reload needs to rebuild the settings the way start-up built them.
pub(crate) struct Reloader {
    config_file: Option<PathBuf>,
    args: Vec<String>,
}

/// Go's error for a setting that cannot be reloaded, named as its `Options` field.
fn unsupported(field: &str, old: impl Display, new: impl Display) -> String {
    format!("config reload not supported for {field}: old={old}, new={new}")
}

fn name_or_empty(o: &Option<impl Display>) -> String {
    o.as_ref().map_or(String::new(), ToString::to_string)
}

impl Reloader {
    pub(crate) fn new(config_file: Option<PathBuf>, args: Vec<String>) -> Reloader {
        Reloader { config_file, args }
    }

    /// Reloads, or says why not (logged by the caller as `Failed to reload server
    /// configuration: ...`). `pid_file` is the pid file written at start, moved if the
    /// reload names another one.
    pub(crate) fn reload(
        &self,
        running: &Running,
        pid_file: &mut Option<PathBuf>,
    ) -> Result<(), String> {
        let Some(path) = &self.config_file else {
            return Err(
                "can only reload config when a file is provided using -c or --config".into(),
            );
        };
        // One log line: the file's errors without the newline Go's `-t` output ends with.
        let (mut new, _warnings) = config_file::load_with_flags(path, &self.args, false)
            .map_err(|e| e.trim_end().to_string())?;
        let server = running.server();
        let old = &server.cfg;
        check_unchangeable(old, &new, server.port, running.shards)?;
        // What start-up resolved stays: the port actually bound and the shard count.
        new.port = old.port;
        new.shards = old.shards;
        let notices = changes(old, &new);
        let logging_changed = old.debug != new.debug
            || old.trace != new.trace
            || old.logtime != new.logtime
            || old.log_file != new.log_file;
        let pid_file_changed = new.pid_file.is_some() && new.pid_file != old.pid_file;
        let new_pid_file = new.pid_file.clone();
        let reloaded = server.reloaded(new)?;
        let closed = running.reload(reloaded);
        if closed.max_connections > 0 {
            log_at!(
                Info,
                "Closed {} connections to fall within max_connections",
                closed.max_connections
            );
        }
        for n in &notices {
            log_at!(Info, "Reloaded: {n}");
        }
        if pid_file_changed {
            move_pid_file(pid_file, new_pid_file);
        }
        if logging_changed {
            crate::log::configure(&running.server().cfg)?;
        }
        log_at!(Info, "Reloaded server configuration");
        if closed.unpinned > 0 {
            log_at!(
                Info,
                "Disconnect {} clients due to pinned certs reload",
                closed.unpinned
            );
        }
        Ok(())
    }
}

/// Go's error when a setting that cannot be reloaded changed.
fn unchanged<T: PartialEq + Display>(field: &str, old: T, new: T) -> Result<(), String> {
    if old == new {
        Ok(())
    } else {
        Err(unsupported(field, old, new))
    }
}

/// Settings a running server cannot change, in the order of the Go server's `Options`
/// fields so that the same one is reported first.
fn check_unchangeable(
    old: &Config,
    new: &Config,
    bound_port: u16,
    shards: usize,
) -> Result<(), String> {
    unchanged(
        "ServerName",
        name_or_empty(&old.server_name),
        name_or_empty(&new.server_name),
    )?;
    unchanged("Host", &old.host, &new.host)?;
    // Port 0 (unset or random) keeps the bound one, as Go's RANDOM_PORT does.
    if new.port != 0 {
        unchanged("Port", i32::from(bound_port), new.port)?;
    }
    unchanged("MaxSubs", old.max_subscriptions, new.max_subscriptions)?;
    if !no_auth_user_dropped(old, new) {
        unchanged(
            "NoAuthUser",
            name_or_empty(&old.auth.no_auth_user),
            name_or_empty(&new.auth.no_auth_user),
        )?;
    }
    unchanged(
        "HTTPHost",
        name_or_empty(&old.http_host),
        name_or_empty(&new.http_host),
    )?;
    unchanged(
        "HTTPPort",
        old.http_port.unwrap_or(0),
        new.http_port.unwrap_or(0),
    )?;
    unchanged("HTTPBasePath", &old.http_base_path, &new.http_base_path)?;
    unchanged("MaxPending", old.max_pending, new.max_pending)?;
    if old.jetstream && new.jetstream && new.store_dir != old.store_dir {
        return Err("config reload not supported for jetstream storage directory".into());
    }
    // Go turns JetStream on and off on a reload; Riptide's host shard takes it at start
    // only, so a change is refused and the running JetStream stays as it is.
    unchanged("JetStream", old.jetstream, new.jetstream)?;
    unchanged("LogSizeLimit", old.log_size_limit, new.log_size_limit)?;
    unchanged("LogMaxFiles", old.log_max_num, new.log_max_num)?;
    unchanged("TLSMap", tls_map(old), tls_map(new))?;
    // The leaf node port and remotes are taken at start; Go reloads only some of their
    // fields (TLS, credentials), which Riptide's leaf connections do not use yet.
    if old.leafnodes != new.leafnodes {
        return Err("config reload not supported for LeafNode".into());
    }
    unchanged(
        "LameDuckDuration",
        go_duration(old.lame_duck_duration),
        go_duration(new.lame_duck_duration),
    )?;
    unchanged(
        "LameDuckGracePeriod",
        go_duration(old.lame_duck_grace_period),
        go_duration(new.lame_duck_grace_period),
    )?;
    // Riptide's own: the shards are threads started once.
    if new.shards != 0 {
        unchanged("Shards", shards, new.shards)?;
    }
    Ok(())
}

fn tls_map(cfg: &Config) -> bool {
    cfg.tls.as_ref().is_some_and(|t| t.verify_and_map)
}

/// Go lets `no_auth_user` go away only when its user went away too.
fn no_auth_user_dropped(old: &Config, new: &Config) -> bool {
    match (&old.auth.no_auth_user, &new.auth.no_auth_user) {
        (Some(u), None) => !new.auth.users.iter().any(|x| &x.user == u),
        _ => false,
    }
}

/// The `Reloaded: ...` lines for what changed, with the Go server's wording and order.
fn changes(old: &Config, new: &Config) -> Vec<String> {
    let mut out = Vec::new();
    if new.trace != old.trace {
        out.push(format!("trace = {}", new.trace));
    }
    if new.debug != old.debug {
        out.push(format!("debug = {}", new.debug));
    }
    if new.logtime != old.logtime {
        out.push(format!("logtime = {}", new.logtime));
    }
    if new.max_connections != old.max_connections {
        out.push(format!("max_connections = {}", new.max_connections));
    }
    if new.auth.users != old.auth.users {
        out.push("authorization users".into());
    }
    if new.auth.token != old.auth.token {
        out.push("authorization token".into());
    }
    if new.accounts != old.accounts {
        out.push("accounts".into());
    }
    if new.ping_interval != old.ping_interval {
        out.push(format!(
            "ping_interval = {}",
            go_duration(new.ping_interval)
        ));
    }
    if new.ping_max != old.ping_max {
        out.push(format!("ping_max = {}", new.ping_max));
    }
    if new.auth_timeout() != old.auth_timeout() {
        // Go's %v of a float64 number of seconds: `2`, `0.5`.
        out.push(format!(
            "authorization timeout = {}",
            new.auth_timeout().as_secs_f64()
        ));
    }
    if new.max_control_line != old.max_control_line {
        out.push(format!("max_control_line = {}", new.max_control_line));
    }
    if new.max_payload != old.max_payload {
        out.push(format!("max_payload = {}", new.max_payload));
    }
    if new.jetstream != old.jetstream {
        out.push("JetStream".into());
    }
    if new.pid_file.is_some() && new.pid_file != old.pid_file {
        out.push(format!(
            "pid_file = {}",
            name_or_empty(&path_text(&new.pid_file))
        ));
    }
    if new.log_file != old.log_file {
        out.push(format!(
            "log_file = {}",
            name_or_empty(&path_text(&new.log_file))
        ));
    }
    out.extend(tls_changes(old.tls.as_ref(), new.tls.as_ref()));
    if new.write_deadline != old.write_deadline {
        out.push(format!(
            "write_deadline = {}",
            go_duration(new.write_deadline)
        ));
    }
    out
}

/// The `Reloaded: ...` lines for the client port's TLS, in the order of Go's `Options`
/// fields. Go rebuilds its `tls.Config` on every reload and never finds two equal, so
/// `tls = enabled` is logged each time TLS is configured.
fn tls_changes(old: Option<&TlsSettings>, new: Option<&TlsSettings>) -> Vec<String> {
    let timeout = |t: Option<&TlsSettings>| t.map_or(DEFAULT_TLS_TIMEOUT, |t| t.timeout);
    let mut out = Vec::new();
    if timeout(new) != timeout(old) {
        out.push(format!("tls timeout = {}", timeout(new).as_secs_f64()));
    }
    if old.is_some() || new.is_some() {
        let state = if new.is_some() { "enabled" } else { "disabled" };
        out.push(format!("tls = {state}"));
    }
    let pins = |t: Option<&TlsSettings>| t.map(|t| t.pinned_certs.clone()).unwrap_or_default();
    if pins(new) != pins(old) {
        out.push(format!("{} pinned_certs", pins(new).len()));
    }
    let first = |t: Option<&TlsSettings>| t.is_some_and(|t| t.handshake_first);
    if first(new) != first(old) {
        out.push(format!("Client TLS handshake first: {}", first(new)));
    }
    let fallback = |t: Option<&TlsSettings>| {
        t.and_then(|t| t.handshake_first_fallback)
            .unwrap_or_default()
    };
    if fallback(new) != fallback(old) {
        out.push(format!(
            "Client TLS handshake first fallback delay: {}",
            go_duration(fallback(new))
        ));
    }
    out
}

fn path_text(p: &Option<PathBuf>) -> Option<String> {
    p.as_ref().map(|p| p.display().to_string())
}

/// Writes the pid to the reloaded pid file (`pidFileOption`) and removes the old one, which
/// this process wrote.
fn move_pid_file(current: &mut Option<PathBuf>, new: Option<PathBuf>) {
    let Some(new) = new else { return };
    if let Err(e) = std::fs::write(&new, std::process::id().to_string()) {
        log_at!(Error, "Failed to write pidfile: {e}");
        return;
    }
    if let Some(old) = current.replace(new) {
        let _ = std::fs::remove_file(old);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::UserConfig;

    #[test]
    fn unchangeable_settings_name_go_fields() {
        let old = Config::default();
        let e = |new: &Config| check_unchangeable(&old, new, 4222, 2).unwrap_err();
        let moved = Config {
            port: 4333,
            ..Config::default()
        };
        assert_eq!(
            e(&moved),
            "config reload not supported for Port: old=4222, new=4333"
        );
        let named = Config {
            server_name: Some("x".into()),
            port: 4333,
            ..Config::default()
        };
        assert_eq!(
            e(&named),
            "config reload not supported for ServerName: old=, new=x"
        );
        let subs = Config {
            max_subscriptions: 5,
            ..Config::default()
        };
        assert_eq!(
            e(&subs),
            "config reload not supported for MaxSubs: old=0, new=5"
        );
        let random = Config {
            port: 0,
            shards: 2,
            ..Config::default()
        };
        assert!(check_unchangeable(&old, &random, 4222, 2).is_ok());
    }

    #[test]
    fn notices_use_go_wording() {
        let old = Config::default();
        let new = Config {
            max_payload: 2048,
            ping_interval: std::time::Duration::from_secs(30),
            debug: true,
            ..Config::default()
        };
        assert_eq!(
            changes(&old, &new),
            ["debug = true", "ping_interval = 30s", "max_payload = 2048"]
        );
        let mut users = Config::default();
        users.auth.users.push(UserConfig {
            user: "a".into(),
            password: "p".into(),
            ..UserConfig::default()
        });
        users.auth.timeout = Some(std::time::Duration::from_millis(500));
        assert_eq!(
            changes(&old, &users),
            ["authorization users", "authorization timeout = 0.5"]
        );
    }

    /// The lines nats-server 2.15.1 logged when a reload set `timeout: 3` and
    /// `handshake_first: "200ms"` in a `tls` block that had neither, with no
    /// `authorization { timeout }` (whose default follows the TLS timeout).
    #[test]
    fn tls_notices_use_go_wording() {
        let tls = |f: &dyn Fn(&mut TlsSettings)| {
            let mut t = TlsSettings::new("c.pem".into(), "k.pem".into());
            f(&mut t);
            Config {
                tls: Some(t),
                ..Config::default()
            }
        };
        let old = tls(&|_| {});
        assert_eq!(changes(&old, &old), ["tls = enabled"]);
        let new = tls(&|t| {
            t.timeout = std::time::Duration::from_secs(3);
            t.handshake_first = true;
            t.handshake_first_fallback = Some(std::time::Duration::from_millis(200));
            t.pinned_certs.insert("ab".repeat(32));
        });
        assert_eq!(new.auth_timeout(), std::time::Duration::from_secs(4));
        assert_eq!(
            changes(&old, &new),
            [
                "authorization timeout = 4",
                "tls timeout = 3",
                "tls = enabled",
                "1 pinned_certs",
                "Client TLS handshake first: true",
                "Client TLS handshake first fallback delay: 200ms"
            ]
        );
        assert_eq!(
            changes(&old, &Config::default()),
            ["authorization timeout = 2", "tls = disabled"]
        );
        let mut mapped = old.clone();
        mapped.tls.as_mut().unwrap().verify_and_map = true;
        assert_eq!(
            check_unchangeable(&old, &mapped, 4222, 2).unwrap_err(),
            "config reload not supported for TLSMap: old=false, new=true"
        );
    }
}
