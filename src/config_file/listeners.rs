//! The `tls {}` and `websocket {}` blocks, with the Go server's keys and error texts
//! (`parseTLS` and `parseWebsocket` in `opts.go`). Errors point at the field that caused
//! them, as Go's do.

use std::collections::BTreeSet;
use std::time::Duration;

use super::authorization::go_type;
use super::{
    at, boolean, duration_or_seconds, entries, host_port, int, parse_duration, string, ConfigError,
};
use crate::conf::{Item, Value};
use crate::transport::tls::{
    parse_cipher, parse_min_version, TlsSettings, DEFAULT_HANDSHAKE_FIRST_FALLBACK,
};
use crate::transport::ws::{Origin, WsSettings};

/// Go keys of the `tls` block that Riptide does not implement yet.
const TLS_NOT_YET: &[&str] = &[
    "curve_preferences",
    "connection_rate_limit",
    "cert_store",
    "cert_match",
    "cert_match_by",
    "ocsp_peer",
    "certs",
    "verify_cert_and_check_known_urls",
];

/// A listener's `tls { cert_file, key_file, ca_file, verify, verify_and_map, timeout,
/// handshake_first, pinned_certs, min_version, cipher_suites }`. The files are read here, so
/// `-t` reports bad ones; a missing certificate or key is reported at the `tls` key, as Go
/// does.
pub(super) fn tls(block: &Item) -> Result<TlsSettings, ConfigError> {
    let t = tls_fields(block)?;
    t.server_config().map_err(|m| at(block, m))?;
    Ok(t)
}

/// The cluster's `tls {}`: this server's certificate serves both ends of a route, the
/// accepting and the dialing one, so both configurations are built (and checked) here.
pub(super) fn route_tls(block: &Item) -> Result<TlsSettings, ConfigError> {
    let t = tls_fields(block)?;
    t.route_server_config().map_err(|m| at(block, m))?;
    t.client_config().map_err(|m| at(block, m))?;
    Ok(t)
}

/// A leaf remote's `tls {}`, for dialing only: a certificate is optional (`insecure` takes
/// any hub's).
pub(super) fn dialing_tls(block: &Item) -> Result<TlsSettings, ConfigError> {
    let t = tls_fields(block)?;
    t.client_config().map_err(|m| at(block, m))?;
    Ok(t)
}

fn tls_fields(block: &Item) -> Result<TlsSettings, ConfigError> {
    let mut t = TlsSettings::default();
    for (k, item) in entries(block, "tls")? {
        let v = &item.value;
        let fail = |m: String| at(item, m);
        match k.to_ascii_lowercase().as_str() {
            "cert_file" => t.cert_file = Some(string(v, k).map_err(fail)?.into()),
            "key_file" => t.key_file = Some(string(v, k).map_err(fail)?.into()),
            "insecure" => t.insecure = boolean(v, k).map_err(fail)?,
            "ca_file" => t.ca_file = Some(string(v, k).map_err(fail)?.into()),
            "verify" => t.verify = boolean(v, k).map_err(fail)?,
            "verify_and_map" => t.verify_and_map = boolean(v, k).map_err(fail)?,
            "timeout" => {
                t.timeout = seconds_or_duration(v)
                    .map_err(|e| fail(format!("error parsing tls config, 'timeout' {e}")))?
            }
            "handshake_first" | "first" | "immediate" => {
                (t.handshake_first, t.handshake_first_fallback) =
                    handshake_first(k, v).map_err(fail)?
            }
            "pinned_certs" => t.pinned_certs = pinned_certs(item)?,
            "min_version" => {
                let s = string(v, k).map_err(fail)?;
                t.min_version = Some(
                    parse_min_version(&s)
                        .map_err(|e| fail(format!("error parsing tls config: {e}")))?,
                );
            }
            "cipher_suites" => {
                let Value::Array(names) = v else {
                    return Err(fail(
                        "error parsing tls config, 'cipher_suites' should be an array".into(),
                    ));
                };
                for n in names {
                    let name = string(&n.value, k).map_err(|m| at(n, m))?;
                    t.cipher_suites
                        .push(parse_cipher(&name).map_err(|m| at(n, m))?);
                }
            }
            other if TLS_NOT_YET.contains(&other) => {
                return Err(fail(format!(
                    "field \"{k}\" of tls is not supported by this version of riptide yet"
                )))
            }
            _ => {
                return Err(fail(format!(
                    "error parsing tls config, unknown field \"{k}\""
                )))
            }
        }
    }
    Ok(t)
}

/// `handshake_first`: a boolean, `"true"`/`"on"`, `"false"`/`"off"`, `"auto"` (TLS first,
/// INFO in the clear to a client silent for 50 ms) or a duration (the same, waiting that
/// long), as `parseTLS` in `opts.go` reads it.
fn handshake_first(key: &str, v: &Value) -> Result<(bool, Option<Duration>), String> {
    match v {
        Value::Bool(b) => Ok((*b, None)),
        Value::Str(s) => match s.to_ascii_lowercase().as_str() {
            "true" | "on" => Ok((true, None)),
            "false" | "off" => Ok((false, None)),
            "auto" | "auto_fallback" => Ok((true, Some(DEFAULT_HANDSHAKE_FIRST_FALLBACK))),
            _ => parse_duration(s)
                .map(|d| (true, Some(d)))
                .ok_or_else(|| format!("field {key:?}'s value {s:?} is invalid")),
        },
        other => Err(format!(
            "field {key:?} should be a boolean or a string, got {}",
            go_type(other)
        )),
    }
}

/// `pinned_certs: [hex, ...]`, lowercased; each must be 64 hex digits.
fn pinned_certs(item: &Item) -> Result<BTreeSet<String>, ConfigError> {
    let Value::Array(entries) = &item.value else {
        return Err(at(item, "error parsing tls config, expected 'pinned_certs' to be a list of hex-encoded sha256 of DER encoded SubjectPublicKeyInfo"));
    };
    let mut set = BTreeSet::new();
    for e in entries {
        let key = string(&e.value, "pinned_certs")
            .map_err(|m| at(e, m))?
            .to_ascii_lowercase();
        if key.len() != 64 || !key.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(at(e, format!("error parsing tls config, 'pinned_certs' key {key} does not look like hex-encoded sha256 of DER encoded SubjectPublicKeyInfo")));
        }
        set.insert(key);
    }
    Ok(set)
}

/// `timeout: 2` (seconds, may be fractional) or `timeout: "2s"`.
fn seconds_or_duration(v: &Value) -> Result<Duration, String> {
    match v {
        Value::Int(n) if *n >= 0 => Ok(Duration::from_secs(*n as u64)),
        Value::Float(f) if *f >= 0.0 => Ok(Duration::from_secs_f64(*f)),
        Value::Str(s) => parse_duration(s).ok_or_else(|| format!("time: invalid duration \"{s}\"")),
        _ => Err("expects a number of seconds or a duration".into()),
    }
}

/// `websocket { listen | host + port, advertise, no_tls, tls, compression, same_origin,
/// allowed_origins, handshake_timeout, authorization, no_auth_user, jwt_cookie, user_cookie,
/// pass_cookie, token_cookie, headers, ping_interval }`. A bare number of seconds for
/// `ping_interval` is a warning, as at the top level, and an error under `-t` (`strict`).
pub(super) fn websocket(
    block: &Item,
    strict: bool,
    warnings: &mut Vec<String>,
) -> Result<WsSettings, ConfigError> {
    let mut w = WsSettings::default();
    for (k, item) in entries(block, "websocket")? {
        let v = &item.value;
        let fail = |m: String| at(item, m);
        match k.to_ascii_lowercase().as_str() {
            "listen" => {
                let (host, port) = host_port(v, k).map_err(fail)?;
                w.host = host;
                w.port = port;
            }
            "host" | "net" => w.host = Some(string(v, k).map_err(fail)?),
            "port" => w.port = int(v, k).map_err(fail)? as i32,
            "advertise" => w.advertise = Some(string(v, k).map_err(fail)?),
            "no_tls" => w.no_tls = boolean(v, k).map_err(fail)?,
            "tls" => w.tls = Some(tls(item)?),
            "compression" => w.compression = boolean(v, k).map_err(fail)?,
            "authorization" | "authentication" => {
                super::websocket_auth::simple_auth(item, &mut w.auth)?
            }
            "no_auth_user" => w.auth.no_auth_user = Some(string(v, k).map_err(fail)?),
            "jwt_cookie" => w.cookies.jwt = Some(string(v, k).map_err(fail)?),
            "user_cookie" => w.cookies.user = Some(string(v, k).map_err(fail)?),
            "pass_cookie" => w.cookies.pass = Some(string(v, k).map_err(fail)?),
            "token_cookie" => w.cookies.token = Some(string(v, k).map_err(fail)?),
            "same_origin" => w.same_origin = boolean(v, k).map_err(fail)?,
            "allowed_origins" | "allowed_origin" | "allow_origins" | "allow_origin" | "origins"
            | "origin" => {
                let list = match v {
                    Value::Array(a) => a.iter().collect::<Vec<_>>(),
                    _ => vec![item],
                };
                for o in list {
                    let s = string(&o.value, k).map_err(|m| at(o, m))?;
                    if Origin::parse(&s).is_none() {
                        return Err(at(
                            o,
                            format!("unable to parse allowed origin: parse {s:?}: invalid URI for request"),
                        ));
                    }
                    w.allowed_origins.push(s);
                }
            }
            "handshake_timeout" => {
                w.handshake_timeout = Some(seconds_or_duration(v).map_err(|e| {
                    fail(format!(
                        "error parsing websocket config, 'handshake_timeout' {e}"
                    ))
                })?)
            }
            "headers" => w.headers = response_headers(item)?,
            "ping_interval" => {
                // Zero or negative leaves the server's `ping_interval` to these clients: Go
                // only takes a positive one.
                let negative = matches!(v, Value::Str(s)
                    if s.strip_prefix('-').is_some_and(|d| parse_duration(d).is_some()));
                if !negative {
                    let d = duration_or_seconds(item, k, strict, warnings).map_err(fail)?;
                    w.ping_interval = Some(d).filter(|d| !d.is_zero());
                }
            }
            _ => return Err(fail(format!("unknown field \"{k}\""))),
        }
    }
    if w.port != 0 && w.tls.is_none() && !w.no_tls {
        return Err(at(block, "websocket requires TLS configuration"));
    }
    Ok(w)
}

/// `headers { Name: "value", ... }`: every value must be a string; Go lists each that is not.
fn response_headers(item: &Item) -> Result<Vec<(String, String)>, ConfigError> {
    let Value::Map(entries) = &item.value else {
        let msg = format!(
            "error parsing headers: unsupported type {}",
            go_type(&item.value)
        );
        return Err(at(item, msg));
    };
    let mut headers = Vec::new();
    let mut errors = Vec::new();
    for (name, e) in entries {
        match &e.value {
            Value::Str(value) => headers.push((name.clone(), value.clone())),
            other => {
                let msg = format!(
                    "error parsing header key {name}: unsupported type {}",
                    go_type(other)
                );
                errors.push(at(e, msg).0);
            }
        }
    }
    if errors.is_empty() {
        Ok(headers)
    } else {
        Err(ConfigError(errors.join("\n")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load_err(text: &str) -> String {
        let mut cfg = crate::config::Config::default();
        super::super::load_str(text, &mut cfg, true).unwrap_err().0
    }

    /// The values and errors nats-server 2.15.1 gives (`nats-server -t`).
    #[test]
    fn handshake_first_and_pinned_certs_as_go_reads_them() {
        let auto = Some(DEFAULT_HANDSHAKE_FIRST_FALLBACK);
        let hf = |v: Value| handshake_first("handshake_first", &v);
        assert_eq!(hf(Value::Bool(true)), Ok((true, None)));
        assert_eq!(hf(Value::Str("on".into())), Ok((true, None)));
        assert_eq!(hf(Value::Str("off".into())), Ok((false, None)));
        assert_eq!(hf(Value::Str("auto".into())), Ok((true, auto)));
        assert_eq!(hf(Value::Str("auto_fallback".into())), Ok((true, auto)));
        assert_eq!(
            hf(Value::Str("300ms".into())),
            Ok((true, Some(Duration::from_millis(300))))
        );
        assert_eq!(
            hf(Value::Str("bogus".into())).unwrap_err(),
            "field \"handshake_first\"'s value \"bogus\" is invalid"
        );
        assert_eq!(
            hf(Value::Int(5)).unwrap_err(),
            "field \"handshake_first\" should be a boolean or a string, got int64"
        );
        let tls =
            |line: &str| format!("tls {{\n  cert_file: c.pem\n  key_file: k.pem\n  {line}\n}}\n");
        // A quoted string starts after its quote, as Go's lexer places it.
        assert_eq!(
            load_err(&tls("pinned_certs: [\"ZZ\"]")),
            "<text>:4:19: error parsing tls config, 'pinned_certs' key zz does not look like hex-encoded sha256 of DER encoded SubjectPublicKeyInfo"
        );
        assert_eq!(
            load_err(&tls("pinned_certs: \"abc\"")),
            "<text>:4:3: error parsing tls config, expected 'pinned_certs' to be a list of hex-encoded sha256 of DER encoded SubjectPublicKeyInfo"
        );
    }

    /// nats-server 2.15.1's answers (`-t`) to the block's `headers` and `ping_interval`.
    #[test]
    fn websocket_headers_and_ping_interval_as_go_reads_them() {
        let ws = |body: &str| format!("websocket {{\n  port: 8080\n  no_tls: true\n  {body}\n}}\n");
        let load = |text: &str, strict: bool| {
            let mut cfg = crate::config::Config::default();
            super::super::load_str(text, &mut cfg, strict)
                .map(|warnings| (cfg.websocket.unwrap(), warnings))
        };
        let (w, _) = load(
            &ws("headers {\n    X-A: \"1\"\n    b: \"2\"\n  }\n  ping_interval: \"30s\""),
            true,
        )
        .unwrap();
        assert_eq!(
            w.headers,
            [("X-A".into(), "1".into()), ("b".into(), "2".into())]
        );
        assert_eq!(w.ping_interval, Some(Duration::from_secs(30)));
        assert_eq!(
            load_err(&ws("headers: \"x\"")),
            "<text>:4:3: error parsing headers: unsupported type string"
        );
        assert_eq!(
            load_err(&ws("headers {\n    X-A: true, X-B: 2\n  }")),
            "<text>:5:5: error parsing header key X-A: unsupported type bool\n<text>:5:16: error parsing header key X-B: unsupported type int64"
        );
        assert_eq!(
            load_err(&ws("ping_interval: \"abc\"")),
            "<text>:4:3: error parsing ping_interval: time: invalid duration \"abc\""
        );
        // A bare number of seconds: an error under -t, else a warning.
        let seconds = ws("ping_interval: 5");
        assert_eq!(
            load_err(&seconds),
            "<text>:4:3: invalid use of field \"ping_interval\": ping_interval should be converted to a duration"
        );
        let (w, warnings) = load(&seconds, false).unwrap();
        assert_eq!(w.ping_interval, Some(Duration::from_secs(5)));
        assert_eq!(warnings.len(), 1);
        // Go takes only a positive interval; the server's then applies.
        for d in ["\"0s\"", "\"-5s\""] {
            let (w, _) = load(&ws(&format!("ping_interval: {d}")), true).unwrap();
            assert_eq!(w.ping_interval, None, "{d}");
        }
    }
}
