//! The `accounts` block: accounts with their users, exports and imports, with the Go
//! server's key names, checks and error texts (`opts.go` `parseAccounts`,
//! `parseAccountImports`, `parseExportStreamOrService`, `parseImportStreamOrService`).

use std::collections::HashSet;

use super::authorization::{duplicate_user, go_type, parse_permissions, parse_users};
use super::{string, KeyError};
use crate::accounts::{
    AccountConfig, Accounts, ExportConfig, ExportKind, ImportConfig, ResponseType, GLOBAL_ACCOUNT,
};
use crate::conf::{Item, Value};
use crate::config::Config;
use crate::jetstream::AccountLimits;
use crate::permissions::go_quote;

/// Keys of an account the Go server has and Riptide does not implement yet.
const ACCOUNT_NOT_YET: &[&str] = &["mappings", "limits", "msg_trace"];
/// Keys of an export Riptide does not implement yet.
const EXPORT_NOT_YET: &[&str] = &[
    "response_threshold",
    "threshold",
    "latency",
    "account_token_position",
    "advertise",
    "allow_trace",
];
/// Keys of an import Riptide does not implement yet.
const IMPORT_NOT_YET: &[&str] = &["share", "allow_trace"];

fn not_yet(key: &str, item: &Item) -> KeyError {
    KeyError::at(
        item,
        format!("field \"{key}\" is not supported by this version of riptide yet"),
    )
}

/// `accounts { NAME { users, exports, imports, default_permissions } }` or `accounts [NAME]`.
pub(super) fn apply(item: &Item, cfg: &mut Config) -> Result<(), KeyError> {
    let mut accounts = Vec::new();
    match &item.value {
        Value::Array(names) => {
            for n in names {
                let name = string(&n.value, "accounts")?;
                accounts.push(named(n, name)?);
            }
        }
        Value::Map(entries) => {
            for (name, entry) in entries {
                let mut acc = named(entry, name.clone())?;
                let Value::Map(fields) = &entry.value else {
                    accounts.push(acc);
                    continue;
                };
                let mut users = Vec::new();
                let mut nkeys = Vec::new();
                let mut defaults = None;
                let mut users_at = entry;
                for (k, f) in fields {
                    match k.to_ascii_lowercase().as_str() {
                        "users" => {
                            (users, nkeys) = parse_users(f)?;
                            users_at = f;
                        }
                        "default_permissions" => defaults = Some(parse_permissions(f)?),
                        "exports" => acc.exports = list(f, "Exports", export)?,
                        "imports" => acc.imports = list(f, "Imports", import)?,
                        "jetstream" => acc.jetstream = account_jetstream(f)?,
                        // Without operator mode an account's nkey only has to be valid.
                        "nkey" => {
                            let key = string(&f.value, k)?;
                            if !crate::jwt::is_public_key(&key, nkeys::KeyPairType::Account) {
                                return Err(KeyError::at(
                                    f,
                                    format!(
                                        "Not a valid public nkey for an account: {}",
                                        go_quote(key.as_bytes())
                                    ),
                                ));
                            }
                        }
                        key if ACCOUNT_NOT_YET.contains(&key) => return Err(not_yet(k, f)),
                        _ if f.used => {}
                        _ => return Err(KeyError::at(f, format!("unknown field \"{k}\""))),
                    }
                }
                for u in &mut users {
                    u.account = Some(name.clone());
                    if u.permissions.is_none() {
                        u.permissions = defaults.clone();
                    }
                }
                for u in &mut nkeys {
                    u.account = Some(name.clone());
                    if u.permissions.is_none() {
                        u.permissions = defaults.clone();
                    }
                }
                cfg.auth.users.extend(users);
                cfg.auth.nkeys.extend(nkeys);
                if let Some(msg) = duplicate_user(&cfg.auth) {
                    return Err(KeyError::at(users_at, msg));
                }
                accounts.push(acc);
            }
        }
        // Go ignores any other form.
        _ => {}
    }
    let mut seen = HashSet::new();
    for a in &accounts {
        if !seen.insert(a.name.as_str()) {
            return Err(KeyError::Here(format!(
                "Duplicate Account Entry: {}",
                a.name
            )));
        }
    }
    Accounts::new(&accounts, None).map_err(KeyError::Here)?;
    cfg.accounts = accounts;
    Ok(())
}

/// An account's `jetstream`: `enabled`/`disabled`, a boolean, or a map of limits (which
/// enables it; Go's `parseJetStreamForAccount`).
fn account_jetstream(f: &Item) -> Result<Option<AccountLimits>, KeyError> {
    match &f.value {
        Value::Bool(b) => Ok(b.then(AccountLimits::default)),
        Value::Str(s) => match s.to_ascii_lowercase().as_str() {
            "enabled" | "enable" | "true" => Ok(Some(AccountLimits::default())),
            "disabled" | "disable" | "false" => Ok(None),
            _ => Err(KeyError::at(
                f,
                format!("Expected 'enabled' or 'disabled' for string value, got '{s}'"),
            )),
        },
        Value::Map(entries) => {
            let mut l = AccountLimits::default();
            for (k, item) in entries {
                let v = &item.value;
                let int = |v: &Value| match v {
                    Value::Int(n) => Ok(*n),
                    _ => Err(KeyError::at(item, format!("Expected an integer for {k}"))),
                };
                match k.to_ascii_lowercase().as_str() {
                    "max_memory" | "max_mem" | "mem" | "memory" => l.max_memory = int(v)?,
                    "max_store" | "max_file" | "max_disk" | "store" | "disk" => {
                        l.max_storage = int(v)?;
                    }
                    "max_streams" | "streams" => l.max_streams = int(v)?,
                    "max_consumers" | "consumers" => l.max_consumers = int(v)?,
                    "max_ack_pending" => l.max_ack_pending = int(v)?,
                    "mem_max_stream_bytes" | "memory_max_stream_bytes" => {
                        l.memory_max_stream_bytes = int(v)?;
                    }
                    "disk_max_stream_bytes" | "store_max_stream_bytes" => {
                        l.storage_max_stream_bytes = int(v)?;
                    }
                    "max_bytes_required" | "max_stream_bytes_required" => {
                        l.max_bytes_required = matches!(v, Value::Bool(true));
                    }
                    _ => {
                        return Err(KeyError::at(
                            item,
                            format!("Unknown key {k:?} in account jetstream limits"),
                        ))
                    }
                }
            }
            Ok(Some(l))
        }
        _ => Err(KeyError::at(
            f,
            "Expected map, bool or string to define JetStream".to_string(),
        )),
    }
}

/// A new account entry; `$G` is the global account and cannot be configured.
fn named(item: &Item, name: String) -> Result<AccountConfig, KeyError> {
    if name == GLOBAL_ACCOUNT {
        return Err(KeyError::at(
            item,
            format!("{} is a Reserved Account", go_quote(name.as_bytes())),
        ));
    }
    Ok(AccountConfig {
        name,
        ..AccountConfig::default()
    })
}

/// An `exports` or `imports` array; entries that are neither kind are skipped, as in Go.
fn list<T>(
    item: &Item,
    what: &str,
    each: fn(&Item) -> Result<Option<T>, KeyError>,
) -> Result<Vec<T>, KeyError> {
    let Value::Array(entries) = &item.value else {
        return Err(KeyError::at(
            item,
            format!("{what} should be an array, got {}", go_type(&item.value)),
        ));
    };
    let mut out = Vec::new();
    for e in entries {
        let Value::Map(_) = &e.value else {
            let singular = what.trim_end_matches('s');
            return Err(KeyError::at(
                e,
                format!(
                    "{singular} Items should be a map with type entry, got {}",
                    go_type(&e.value).trim_end_matches(" {}")
                ),
            ));
        };
        out.extend(each(e)?);
    }
    Ok(out)
}

fn fields(item: &Item) -> &[(String, Item)] {
    match &item.value {
        Value::Map(fields) => fields,
        _ => &[],
    }
}

/// `{stream: subject}` or `{service: subject, response_type}`, either with `accounts`.
fn export(item: &Item) -> Result<Option<ExportConfig>, KeyError> {
    let mut kind: Option<(ExportKind, String)> = None;
    let mut accounts = None;
    let mut response: Option<(ResponseType, &Item)> = None;
    for (k, f) in fields(item) {
        let key = k.to_ascii_lowercase();
        match key.as_str() {
            "stream" | "service" => {
                let this = if key == "stream" {
                    ExportKind::Stream
                } else {
                    ExportKind::Service
                };
                let subject = string(&f.value, k)?;
                if let Some((other, _)) = &kind {
                    let (seen, now) = match other {
                        ExportKind::Stream => ("stream", "service"),
                        ExportKind::Service => ("service", "stream"),
                    };
                    return Err(KeyError::at(
                        f,
                        format!(
                            "Detected {now} {} but already saw a {seen}",
                            go_quote(subject.as_bytes())
                        ),
                    ));
                }
                kind = Some((this, subject));
            }
            "accounts" => {
                let Value::Array(names) = &f.value else {
                    // Go's unchecked type assertion, recovered into the error.
                    return Err(KeyError::at(
                        f,
                        format!(
                            "interface conversion: interface {{}} is {}, not []interface {{}}",
                            go_type(&f.value)
                        ),
                    ));
                };
                accounts = Some(
                    names
                        .iter()
                        .map(|n| string(&n.value, "accounts").map_err(KeyError::from))
                        .collect::<Result<Vec<_>, _>>()?,
                );
            }
            "response" | "response_type" => {
                let t = string(&f.value, k)?;
                let r = match t.to_ascii_lowercase().as_str() {
                    "single" | "singleton" => ResponseType::Singleton,
                    "stream" => ResponseType::Stream,
                    "chunk" | "chunked" => ResponseType::Chunked,
                    _ => {
                        return Err(KeyError::at(
                            f,
                            format!("Unknown response type: {}", go_quote(t.as_bytes())),
                        ))
                    }
                };
                response = Some((r, f));
            }
            _ if EXPORT_NOT_YET.contains(&key.as_str()) => return Err(not_yet(k, f)),
            _ => return Err(KeyError::at(f, format!("unknown field \"{k}\""))),
        }
    }
    let Some((kind, subject)) = kind else {
        return Ok(None);
    };
    if let (ExportKind::Stream, Some((_, at))) = (kind, response) {
        return Err(KeyError::at(
            at,
            "Detected response directive on non-service".into(),
        ));
    }
    Ok(Some(ExportConfig {
        kind,
        subject,
        accounts,
        response: response.map(|(r, _)| r).unwrap_or_default(),
    }))
}

/// `{stream: {account, subject}, prefix | to}` or `{service: {account, subject}, to}`.
fn import(item: &Item) -> Result<Option<ImportConfig>, KeyError> {
    let mut source: Option<(ExportKind, String, String)> = None;
    let mut to: Option<(String, &Item)> = None;
    let mut prefix: Option<(String, &Item)> = None;
    for (k, f) in fields(item) {
        let key = k.to_ascii_lowercase();
        match key.as_str() {
            "stream" | "service" => {
                let kind = if key == "stream" {
                    ExportKind::Stream
                } else {
                    ExportKind::Service
                };
                let account = f.value.get("account").map(|i| &i.value);
                let subject = f.value.get("subject").map(|i| &i.value);
                let (Some(Value::Str(account)), Some(Value::Str(subject))) = (account, subject)
                else {
                    return Err(KeyError::at(
                        f,
                        "Expect an account name and a subject".into(),
                    ));
                };
                source = Some((kind, account.clone(), subject.clone()));
            }
            "to" | "local_subject" => to = Some((string(&f.value, k)?, f)),
            "prefix" => prefix = Some((string(&f.value, k)?, f)),
            _ if IMPORT_NOT_YET.contains(&key.as_str()) => return Err(not_yet(k, f)),
            _ => return Err(KeyError::at(f, format!("unknown field \"{k}\""))),
        }
    }
    let Some((kind, account, subject)) = source else {
        return Ok(None);
    };
    let mut to_subject = to.as_ref().map(|(t, _)| t.clone());
    if let Some((prefix, prefix_at)) = prefix.filter(|_| kind == ExportKind::Stream) {
        if let Some((_, to_at)) = to {
            // Go names whichever of the two keys it read last.
            let at = if (to_at.line, to_at.col) > (prefix_at.line, prefix_at.col) {
                to_at
            } else {
                prefix_at
            };
            return Err(KeyError::at(
                at,
                "Stream import can not have a 'prefix' and a 'to' property".into(),
            ));
        }
        to_subject = Some(format!("{prefix}.{subject}"));
    }
    Ok(Some(ImportConfig {
        kind,
        account,
        subject,
        to: to_subject,
    }))
}

#[cfg(test)]
mod tests {
    use crate::accounts::{ExportKind, ResponseType};
    use crate::config::Config;
    use crate::config_file::load_str;

    fn load(text: &str) -> Result<Config, String> {
        let mut cfg = Config::default();
        load_str(text, &mut cfg, true).map(|_| cfg).map_err(|e| e.0)
    }

    #[test]
    fn accounts_users_exports_imports() {
        let c = load(
            "accounts {\n  A: {\n    users: [{user: a, password: a}, {user: a2, password: x, permissions: {publish: \"p\"}}]\n    default_permissions: {subscribe: \"s\"}\n    exports: [{stream: \"foo.>\"}, {service: \"req.*\", response_type: stream, accounts: [B]}]\n  }\n  B: {\n    users: [{user: b, password: b}]\n    imports: [{stream: {account: A, subject: \"foo.>\"}, prefix: p}, {service: {account: A, subject: \"req.*\"}, to: \"ask.*\"}]\n  }\n}\nno_auth_user: b\n",
        )
        .unwrap();
        assert_eq!(c.accounts.len(), 2);
        let a = &c.accounts[0];
        assert_eq!(a.exports[1].kind, ExportKind::Service);
        assert_eq!(a.exports[1].response, ResponseType::Stream);
        assert_eq!(a.exports[1].accounts, Some(vec!["B".to_string()]));
        let b = &c.accounts[1];
        assert_eq!(b.imports[0].to.as_deref(), Some("p.foo.>"));
        assert_eq!(b.imports[1].to.as_deref(), Some("ask.*"));
        let users: Vec<(&str, Option<&str>)> = c
            .auth
            .users
            .iter()
            .map(|u| (u.user.as_str(), u.account.as_deref()))
            .collect();
        assert_eq!(
            users,
            [("a", Some("A")), ("a2", Some("A")), ("b", Some("B"))]
        );
        // The account's default permissions go to its users without their own.
        assert!(c.auth.users[0]
            .permissions
            .as_ref()
            .unwrap()
            .subscribe
            .is_some());
        assert!(c.auth.users[1]
            .permissions
            .as_ref()
            .unwrap()
            .subscribe
            .is_none());
        assert_eq!(load("accounts [A, B]\n").unwrap().accounts.len(), 2);
        // Forms Go accepts and ignores.
        assert!(load("accounts: 5\n").unwrap().accounts.is_empty());
        let c =
            load("accounts {\n A { exports [{accounts: [B]}], imports [{to: x}] }\n}\n").unwrap();
        assert!(c.accounts[0].exports.is_empty() && c.accounts[0].imports.is_empty());
    }

    /// The texts and positions nats-server 2.15.1 gives for the same files (`-t`).
    #[test]
    fn go_errors() {
        let cases = [
            ("accounts {\n A { users [{user:a,password:a}] }\n B { imports [{stream: {account: Z, subject: \"x\"}}] }\n}\n", "1:0: \"Z\" account not defined for stream import"),
            ("# c\nport: 4222\naccounts: {\n A { users [{user:a,password:a}] }\n B { imports [\n{stream: {account: A, subject: \"x\"}}] }\n}\n", "3:1: Error adding stream import \"x\": stream import not authorized"),
            ("accounts {\n A { exports [{stream: \"x\"}] }\n B { imports [{service: {account: A, subject: \"x\"}}] }\n}\n", "Error adding service import \"x\": service import not authorized"),
            ("accounts {\n A { users [{user:a,password:a}] }\n B { users [{user:a,password:b}] }\n}\n", "3:6: Duplicate user \"a\" detected"),
            ("accounts {\n A { users [{user:a,password:a}] }\n}\nauthorization { users [{user:a, password:x}] }\n", "4:1: Duplicate user \"a\" detected"),
            ("accounts {\n A { foo: 1 }\n}\n", "2:6: unknown field \"foo\""),
            ("accounts {\n A { exports [{bogus: \"x\"}] }\n}\n", "unknown field \"bogus\""),
            ("accounts {\n $G { }\n}\n", "\"$G\" is a Reserved Account"),
            ("accounts {\n A { exports [{stream: \"x.>\"}] }\n B { imports [{stream: {account: A, subject: \"x.*\"}, to: \"y.$2\"}] }\n}\n", "Error adding stream import \"x.*\": failed to create mapping transform for stream import subject from \"x.*\" to \"y.$2\": invalid mapping destination: wildcard index out of range in $2: [2]"),
            ("accounts {\n A { exports [{stream: \"x.>\"}] }\n B { imports [{stream: {account: A, subject: \"x.*\"}, prefix: \"p\", to: \"q\"}] }\n}\n", "3:67: Stream import can not have a 'prefix' and a 'to' property"),
            ("accounts {\n A { exports [{stream: \"x.>\"}] }\n B { imports [{stream: {account: A}}] }\n}\n", "3:16: Expect an account name and a subject"),
            ("accounts {\n A { exports [{stream: \"x.>\", service: \"y\"}] }\n}\n", "Detected service \"y\" but already saw a stream"),
            ("accounts {\n A { exports [{service: \"x.>\", response_type: \"bogus\"}] }\n}\n", "Unknown response type: \"bogus\""),
            ("accounts {\n A { users [{user:a,password:a, account: B}] }\n}\n", "unknown field \"account\""),
            ("accounts {\n A { exports [{stream: \"x.>\", response_type: \"stream\"}] }\n}\n", "2:31: Detected response directive on non-service"),
            ("accounts {\n A { exports {stream: x} }\n}\n", "2:6: Exports should be an array, got map[string]interface {}"),
            ("accounts {\n A { imports [ x ] }\n}\n", "2:16: Import Items should be a map with type entry, got string"),
            ("accounts {\n A { exports [{stream: x, accounts: B}] }\n}\n", "2:27: interface conversion: interface {} is string, not []interface {}"),
            ("accounts {\n A { nkey: x }\n}\n", "2:6: Not a valid public nkey for an account: \"x\""),
        ];
        for (text, want) in cases {
            let e = load(text).unwrap_err();
            assert!(e.ends_with(want), "{text}\n got {e}\nwant {want}");
        }
    }
}
