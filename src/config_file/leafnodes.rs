//! The `leafnodes {}` block, with the Go server's keys (`parseLeafNodes` and
//! `parseRemoteLeafNodes` in `opts.go`). Errors point at the field that caused them.

use std::time::Duration;

use super::{at, boolean, duration_string, entries, host_port, int, string, ConfigError};
use crate::cluster::leaf::{check_min_version, LeafRemote, LeafSettings, LeafUser};
use crate::cluster::settings::RouteUrl;
use crate::conf::{Item, Value};

/// Keys Go takes that Riptide's leaf nodes do not act on yet: parsed and refused clearly.
const NOT_YET: &[&str] = &["isolate_leafnode_interest"];

/// Remote keys Go takes that Riptide does not act on yet.
const REMOTE_NOT_YET: &[&str] = &[
    "hub",
    "proxy",
    "jetstream_cluster_migrate",
    "request_isolation",
    "isolate_leafnode_interest",
];

/// Keys that change nothing observable in a Riptide leaf connection.
const IGNORED: &[&str] = &["write_deadline", "write_timeout", "dial_timeout"];

const REMOTE_IGNORED: &[&str] = &["first_info_timeout", "dial_timeout", "no_randomize"];

/// `leafnodes { listen, host, port, authorization, remotes, reconnect, no_advertise, ... }`.
pub(super) fn leafnodes(block: &Item) -> Result<LeafSettings, ConfigError> {
    let mut l = LeafSettings::default();
    for (k, item) in entries(block, "leafnodes")? {
        let v = &item.value;
        let fail = |m: String| at(item, m);
        match k.to_ascii_lowercase().as_str() {
            "listen" => {
                let (host, port) = host_port(v, k).map_err(fail)?;
                l.host = host;
                l.port = port;
            }
            "host" | "net" => l.host = Some(string(v, k).map_err(fail)?),
            "port" => l.port = int(v, k).map_err(fail)? as i32,
            "authorization" => authorization(item, &mut l)?,
            "remotes" => {
                let Value::Array(remotes) = v else {
                    return Err(fail("error parsing remotes: expected an array".into()));
                };
                for r in remotes {
                    l.remotes.push(remote(r)?);
                }
            }
            "reconnect" | "reconnect_delay" | "reconnect_interval" => {
                l.reconnect = Some(match v {
                    Value::Int(n) => Duration::from_secs(u64::try_from(*n).unwrap_or(0)),
                    _ => duration_string(v, k).map_err(fail)?,
                })
            }
            "no_advertise" => l.no_advertise = boolean(v, k).map_err(fail)?,
            "advertise" => l.advertise = Some(string(v, k).map_err(fail)?),
            "min_version" => {
                let version = string(v, k).map_err(fail)?;
                check_min_version(&version).map_err(fail)?;
                l.min_version = Some(version);
            }
            "tls" => l.tls = Some(super::listeners::tls(item)?),
            "compression" => l.compression = Some(super::cluster::compression(item)?),
            key if NOT_YET.contains(&key) => return Err(not_yet(item, k)),
            key if IGNORED.contains(&key) => {}
            _ => return Err(fail(format!("unknown field \"{k}\""))),
        }
    }
    Ok(l)
}

fn not_yet(item: &Item, k: &str) -> ConfigError {
    at(
        item,
        format!("field \"{k}\" is not supported by this version of riptide yet"),
    )
}

/// `authorization { user, password, account, timeout, users [...] }`; Go refuses a single
/// user next to a users list.
fn authorization(block: &Item, l: &mut LeafSettings) -> Result<(), ConfigError> {
    let mut single = LeafUser::default();
    for (k, item) in entries(block, "leafnode authorization")? {
        let v = &item.value;
        let fail = |m: String| at(item, m);
        match k.to_ascii_lowercase().as_str() {
            "user" | "username" => single.user = string(v, k).map_err(fail)?,
            "pass" | "password" => single.pass = string(v, k).map_err(fail)?,
            "account" => l.account = Some(string(v, k).map_err(fail)?),
            "timeout" => {}
            "users" => {
                let Value::Array(users) = v else {
                    return Err(fail("error parsing users: expected an array".into()));
                };
                for u in users {
                    l.users.push(user(u)?);
                }
            }
            _ => return Err(fail(format!("unknown field \"{k}\""))),
        }
    }
    if !single.user.is_empty() {
        if !l.users.is_empty() {
            return Err(at(
                block,
                "can not have a single user/pass and a users array",
            ));
        }
        l.user = Some(single);
    }
    Ok(())
}

fn user(item: &Item) -> Result<LeafUser, ConfigError> {
    let mut u = LeafUser::default();
    for (k, field) in entries(item, "leafnode user")? {
        let v = &field.value;
        let fail = |m: String| at(field, m);
        match k.to_ascii_lowercase().as_str() {
            "user" | "username" => u.user = string(v, k).map_err(fail)?,
            "pass" | "password" => u.pass = string(v, k).map_err(fail)?,
            "account" => u.account = Some(string(v, k).map_err(fail)?),
            _ => return Err(fail(format!("unknown field \"{k}\""))),
        }
    }
    Ok(u)
}

/// One of `remotes [ { url | urls, account, deny_imports, deny_exports, ... } ]`.
fn remote(item: &Item) -> Result<LeafRemote, ConfigError> {
    let mut r = LeafRemote::default();
    for (k, field) in entries(item, "remote leafnode")? {
        let v = &field.value;
        let fail = |m: String| at(field, m);
        match k.to_ascii_lowercase().as_str() {
            "url" | "urls" => {
                let items: Vec<&Item> = match v {
                    Value::Array(a) => a.iter().collect(),
                    _ => vec![field],
                };
                for u in items {
                    let text = string(&u.value, k).map_err(|m| at(u, m))?;
                    r.urls.push(RouteUrl::parse(&text).map_err(|m| at(u, m))?);
                }
            }
            "account" | "local" => r.account = Some(string(v, k).map_err(fail)?),
            "deny_imports" | "deny_import" => r.deny_imports = subjects(field, k)?,
            "deny_exports" | "deny_export" => r.deny_exports = subjects(field, k)?,
            "credentials" | "creds" => {
                r.credentials = Some(string(v, k).map_err(fail)?.into());
            }
            "tls" => r.tls = Some(super::listeners::dialing_tls(field)?),
            "compression" => r.compression = Some(super::cluster::compression(field)?),
            "ws_no_masking" => r.ws_no_masking = boolean(v, k).map_err(fail)?,
            "disabled" => r.disabled = boolean(v, k).map_err(fail)?,
            // Per-message deflate from the dialing side is not written yet.
            "ws_compression" if boolean(v, k).map_err(fail)? => {
                return Err(not_yet(field, k));
            }
            "ws_compression" => {}
            "nkey" | "seed" => {
                let seed = string(v, k).map_err(fail)?;
                if nkeys::KeyPair::from_seed(&seed).is_err() {
                    return Err(fail(format!(
                        "Remote leafnode nkey is not a valid seed: {seed:?}"
                    )));
                }
                r.nkey_seed = Some(seed);
            }
            key if REMOTE_NOT_YET.contains(&key) => return Err(not_yet(field, k)),
            key if REMOTE_IGNORED.contains(&key) => {}
            _ => return Err(fail(format!("unknown field \"{k}\""))),
        }
    }
    Ok(r)
}

/// A subject or a list of them.
fn subjects(item: &Item, k: &str) -> Result<Vec<String>, ConfigError> {
    match &item.value {
        Value::Array(a) => a
            .iter()
            .map(|s| string(&s.value, k).map_err(|m| at(s, m)))
            .collect(),
        v => Ok(vec![string(v, k).map_err(|m| at(item, m))?]),
    }
}

#[cfg(test)]
mod tests {
    use super::super::load_text as load;

    #[test]
    fn go_leafnodes_block() {
        let cfg = load(
            "leafnodes {\n  listen: 127.0.0.1:7422\n  authorization { users [ {user: a, password: p, account: A} ] }\n  remotes [ { url: \"nats-leaf://u:p@127.0.0.1:7423\", account: A, deny_imports: [\"x.>\"], deny_exports: \"y\" }, { urls: [\"nats://127.0.0.1:1\", \"nats://127.0.0.1:2\"], credentials: \"/etc/leaf.creds\" } ]\n  reconnect: \"2s\"\n  compression: off\n}\naccounts { A {} }\n",
        )
        .unwrap();
        let l = cfg.leafnodes.unwrap();
        assert_eq!((l.host.as_deref(), l.port), (Some("127.0.0.1"), 7422));
        assert_eq!(l.users[0].account.as_deref(), Some("A"));
        assert_eq!(l.remotes.len(), 2);
        assert_eq!(l.remotes[0].urls[0].user.as_deref(), Some("u"));
        assert_eq!(l.remotes[0].deny_imports, vec!["x.>".to_string()]);
        assert_eq!(l.remotes[0].deny_exports, vec!["y".to_string()]);
        assert_eq!(l.remotes[1].urls.len(), 2);
        assert_eq!(
            l.remotes[1].credentials.as_deref(),
            Some(std::path::Path::new("/etc/leaf.creds"))
        );
        assert_eq!(l.reconnect, Some(std::time::Duration::from_secs(2)));
        let e = load("leafnodes {\n  bogus: 1\n}\n").unwrap_err();
        assert!(e.contains("unknown field \"bogus\""), "{e}");
        let e = load(
            "leafnodes {\n  remotes [ { url: \"ws://127.0.0.1:1\", ws_compression: true } ]\n}\n",
        )
        .unwrap_err();
        assert!(e.contains("\"ws_compression\" is not supported"), "{e}");
        let e = load("leafnodes {\n  remotes [ { url: \"nats://127.0.0.1:1\", account: B } ]\n}\n")
            .unwrap_err();
        assert!(
            e.contains("cannot find local account \"B\" specified in leafnode remote"),
            "{e}"
        );
    }
}
