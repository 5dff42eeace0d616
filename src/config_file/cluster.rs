//! The `cluster {}` block, with the Go server's keys (`parseCluster` in `opts.go`). Errors
//! point at the field that caused them, as Go's do.

use super::authorization::go_type;
use super::parse_duration;
use super::{at, boolean, host_port, int, string, ConfigError};
use crate::cluster::compression::CompressionConfig;
use crate::cluster::settings::{RoutePermissions, RouteUrl};
use crate::cluster::ClusterSettings;
use crate::conf::{Item, Value};

/// Keys Go takes that change nothing observable in a Riptide route.
const IGNORED: &[&str] = &[
    "ping_interval",
    "ping_max",
    "write_deadline",
    "write_timeout",
    "connect_backoff",
    "cluster_dynamic",
];

/// `cluster { name, listen, host, port, routes, authorization, advertise, no_advertise,
/// connect_retries, pool_size, ... }`.
pub(super) fn cluster(block: &Item) -> Result<ClusterSettings, ConfigError> {
    let Value::Map(entries) = &block.value else {
        return Err(at(block, "expected a map for cluster"));
    };
    let mut c = ClusterSettings::default();
    for (k, item) in entries {
        let v = &item.value;
        let fail = |m: String| at(item, m);
        match k.to_ascii_lowercase().as_str() {
            "name" => {
                let name = string(v, k).map_err(fail)?;
                if name.contains(' ') {
                    return Err(fail(
                        "cluster name cannot contain spaces or new lines".into(),
                    ));
                }
                c.name = Some(name);
            }
            "listen" => {
                let (host, port) = host_port(v, k).map_err(fail)?;
                c.host = host;
                c.port = port;
            }
            "host" | "net" => c.host = Some(string(v, k).map_err(fail)?),
            "port" => c.port = int(v, k).map_err(fail)? as i32,
            "routes" => {
                let Value::Array(urls) = v else {
                    return Err(fail("error parsing routes: expected an array".into()));
                };
                for u in urls {
                    let text = string(&u.value, k).map_err(|m| at(u, m))?;
                    c.routes.push(RouteUrl::parse(&text).map_err(|m| at(u, m))?);
                }
            }
            "authorization" => authorization(item, &mut c)?,
            "tls" => c.tls = Some(super::listeners::route_tls(item)?),
            "permissions" => c.permissions = Some(permissions(item)?),
            "compression" => c.compression = Some(compression(item)?),
            "advertise" | "cluster_advertise" => c.advertise = Some(string(v, k).map_err(fail)?),
            "no_advertise" => c.no_advertise = boolean(v, k).map_err(fail)?,
            "connect_retries" => c.connect_retries = int(v, k).map_err(fail)?.max(0) as u32,
            "pool_size" => c.pool_size = int(v, k).map_err(fail)? as i32,
            "accounts" => {
                let Value::Array(names) = v else {
                    return Err(fail("error parsing accounts: expected an array".into()));
                };
                for n in names {
                    c.accounts.push(string(&n.value, k).map_err(|m| at(n, m))?);
                }
            }
            key if IGNORED.contains(&key) => {}
            _ => return Err(fail(format!("unknown field \"{k}\""))),
        }
    }
    Ok(c)
}

/// `compression: <mode>`, `true`/`false`, or `{ mode, rtt_thresholds }` (of `cluster`,
/// `leafnodes` and a remote: `parseCompression`). The mode and thresholds are checked when
/// the server starts, as Go checks them (`-t` passes a bad mode).
pub(super) fn compression(item: &Item) -> Result<CompressionConfig, ConfigError> {
    let conversion = |item: &Item, want: &str| {
        at(
            item,
            format!(
                "interface conversion: interface {{}} is {}, not {want}",
                go_type(&item.value)
            ),
        )
    };
    let mut c = CompressionConfig::default();
    match &item.value {
        Value::Bool(on) => c.mode = if *on { "on" } else { "off" }.into(),
        Value::Str(s) => c.mode = s.clone(),
        Value::Map(entries) => {
            for (k, field) in entries {
                match k.to_ascii_lowercase().as_str() {
                    "mode" => match &field.value {
                        Value::Str(s) => c.mode = s.clone(),
                        _ => return Err(conversion(field, "string")),
                    },
                    "rtt_thresholds" | "thresholds" | "rtts" | "rtt" => {
                        let Value::Array(rtts) = &field.value else {
                            return Err(conversion(field, "[]interface {}"));
                        };
                        for r in rtts {
                            let Value::Str(s) = &r.value else {
                                return Err(conversion(r, "string"));
                            };
                            // Go points at the key here, and at the entry above.
                            let d = parse_duration(s).ok_or_else(|| {
                                at(field, format!("time: invalid duration {s:?}"))
                            })?;
                            c.rtt_thresholds.push(d);
                        }
                    }
                    _ => return Err(at(field, format!("unknown field \"{k}\""))),
                }
            }
        }
        v => {
            return Err(at(
                item,
                format!(
                    "field \"compression\" should be a boolean or a structure, got {}",
                    go_type(v)
                ),
            ))
        }
    }
    Ok(c)
}

/// `permissions { import, export }`, read as a user's `publish` and `subscribe` (their
/// aliases, and Go's texts), less what routes cannot use: responses, and queue groups.
fn permissions(item: &Item) -> Result<RoutePermissions, ConfigError> {
    if !matches!(item.value, Value::Map(_)) {
        // Go has let go of the value's position by then.
        return Err(ConfigError(format!(
            "Expected permissions to be a map/struct, got {}",
            super::authorization::go_value(&item.value)
        )));
    }
    let p = super::authorization::parse_permissions(item)
        .map_err(|e| ConfigError(super::listed(e, item)))?;
    if p.response.is_some() {
        return Err(at(
            item,
            "Cluster permissions do not support dynamic responses",
        ));
    }
    if let Some(export) = &p.subscribe {
        let lists = [
            ("allow", export.allow.as_deref().unwrap_or_default()),
            ("deny", &export.deny[..]),
        ];
        for (what, list) in lists {
            if let Some(bad) = list.iter().find(|s| s.contains(char::is_whitespace)) {
                return Err(at(
                    item,
                    format!(
                        "cluster export {what}: subject {} is not a valid subject",
                        crate::permissions::go_quote(bad.as_bytes())
                    ),
                ));
            }
        }
    }
    Ok(RoutePermissions {
        import: p.publish,
        export: p.subscribe,
    })
}

/// Routes' `authorization { user, password, timeout }`; Go refuses a token or a users list
/// there.
fn authorization(block: &Item, c: &mut ClusterSettings) -> Result<(), ConfigError> {
    let Value::Map(entries) = &block.value else {
        return Err(at(block, "expected a map for cluster authorization"));
    };
    for (k, item) in entries {
        let v = &item.value;
        let fail = |m: String| at(item, m);
        match k.to_ascii_lowercase().as_str() {
            "user" | "username" => c.user = Some(string(v, k).map_err(fail)?),
            "pass" | "password" => c.pass = Some(string(v, k).map_err(fail)?),
            "timeout" => {
                c.auth_timeout = Some(match v {
                    Value::Int(n) => std::time::Duration::from_secs(u64::try_from(*n).unwrap_or(0)),
                    Value::Float(f) if *f >= 0.0 => std::time::Duration::from_secs_f64(*f),
                    _ => return Err(fail("error parsing cluster authorization timeout".into())),
                })
            }
            "token" => return Err(fail("Cluster authorization does not support tokens".into())),
            "users" => {
                return Err(fail(
                    "Cluster authorization does not allow multiple users".into(),
                ))
            }
            _ => return Err(fail(format!("unknown field \"{k}\""))),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::load_text as load;

    #[test]
    fn go_cluster_block() {
        let cfg = load(
            "cluster {\n  name: c1\n  listen: 127.0.0.1:6222\n  routes: [nats-route://u:p@127.0.0.1:6223, nats://127.0.0.1:6224]\n  authorization { user: u, password: p, timeout: 2 }\n  no_advertise: true\n  pool_size: 3\n  compression: accept\n}\n",
        )
        .unwrap();
        let c = cfg.cluster.unwrap();
        assert_eq!(c.name.as_deref(), Some("c1"));
        assert_eq!((c.host.as_deref(), c.port), (Some("127.0.0.1"), 6222));
        assert_eq!(c.routes.len(), 2);
        assert_eq!(c.routes[0].user.as_deref(), Some("u"));
        assert_eq!(
            (c.routes[1].host.as_str(), c.routes[1].port),
            ("127.0.0.1", 6224)
        );
        assert_eq!(
            (c.user.as_deref(), c.pass.as_deref()),
            (Some("u"), Some("p"))
        );
        assert!(c.no_advertise);
        let e = load("cluster {\n  port: 1\n  authorization { token: x }\n}\n").unwrap_err();
        assert!(
            e.contains("Cluster authorization does not support tokens"),
            "{e}"
        );
        let e = load("cluster {\n  bogus: 1\n}\n").unwrap_err();
        assert!(e.contains("unknown field \"bogus\""), "{e}");
    }

    /// Route permissions with Go's texts and positions (each checked against
    /// nats-server 2.15.1 `-t`): a user's permission forms, less queue groups in `export`
    /// and responses.
    #[test]
    fn route_permissions_block() {
        let c = load("cluster { port: -1, permissions { import: \"in.>\", export: { allow: [\"out.>\"], deny: \"out.x\" } } }\n")
            .unwrap()
            .cluster
            .unwrap();
        let p = c.permissions.unwrap();
        assert!(p.can_import(b"in.a") && !p.can_import(b"out.a"));
        assert!(p.can_export(b"out.>") && !p.can_export(b"out.x") && !p.can_export(b">"));
        assert!(p.needs_deny_filter(b"out.*") && !p.needs_deny_filter(b"out.y"));
        let cases = [
            ("permissions { export: \"foo q\" }", "<text>:1:20: cluster export allow: subject \"foo q\" is not a valid subject"),
            ("permissions { export: { deny: [\"a\",\"foo q\"] } }", "<text>:1:20: cluster export deny: subject \"foo q\" is not a valid subject"),
            ("permissions { import: \"foo\", allow_responses: true }", "<text>:1:20: Cluster permissions do not support dynamic responses"),
            ("permissions { import: \"foo..bar\" }", "subject \"foo..bar\" is not a valid subject"),
            ("permissions { import: { allow: 5 } }", "<text>:1:44: Expected subject permissions to be a subject, or array of subjects, got int64"),
            ("permissions { import: \"a\", bogus: 1 }", "<text>:1:47: Unknown field \"bogus\" parsing permissions"),
            ("permissions: \"foo\"", "Expected permissions to be a map/struct, got foo"),
        ];
        for (frag, want) in cases {
            let e = load(&format!("cluster {{ port: -1, {frag} }}\n")).unwrap_err();
            assert_eq!(e, want, "{frag}");
        }
    }

    /// A route serves both ends, so its `tls {}` needs this server's certificate; a leaf
    /// remote's only dials and may go without one. Both read their files at load.
    #[test]
    fn route_and_remote_tls_blocks() {
        let e =
            load("cluster {\n  port: 1\n  tls { ca_file: /nonexistent/ca.pem }\n}\n").unwrap_err();
        assert!(
            e.ends_with(":3:3: missing 'cert_file' in TLS configuration"),
            "{e}"
        );
        let e = load(
            "leafnodes {\n  remotes [ { url: \"tls://127.0.0.1:1\", tls { ca_file: /nonexistent/ca.pem } } ]\n}\n",
        )
        .unwrap_err();
        assert!(
            e.contains("open /nonexistent/ca.pem: no such file or directory"),
            "{e}"
        );
        let e = load("leafnodes {\n  remotes [ { url: \"tls://127.0.0.1:1\", tls { cert_file: c.pem } } ]\n}\n")
            .unwrap_err();
        assert!(e.contains("missing 'key_file' in TLS configuration"), "{e}");
        // Go's text and position (nats-server 2.15.1 -t).
        let e =
            load("leafnodes { remotes [ { url: \"nats://127.0.0.1:1\", seed: \"SUBOGUS\" } ] }\n")
                .unwrap_err();
        assert!(
            e.ends_with(":1:51: Remote leafnode nkey is not a valid seed: \"SUBOGUS\""),
            "{e}"
        );
    }

    #[test]
    fn pool_and_pinned_accounts() {
        let c = load("accounts { A {} }\ncluster {\n  pool_size: 5\n  accounts: [A]\n}\n")
            .unwrap()
            .cluster
            .unwrap();
        assert_eq!(
            (c.pool(), c.accounts.as_slice()),
            (Some(5), &["A".to_string()][..])
        );
        assert_eq!(
            load("cluster { port: 1 }\n")
                .unwrap()
                .cluster
                .unwrap()
                .pool(),
            Some(3)
        );
        let c = load("cluster { pool_size: -1 }\n")
            .unwrap()
            .cluster
            .unwrap();
        assert_eq!(c.pool(), None);
    }
}
