//! Operator mode keys: `operator` (also `operators`, `root`, `roots`), `resolver`,
//! `resolver_preload` and `system_account` (also `system`), with the Go server's value forms
//! and error texts (`opts.go` `processConfigFileLine`, `jwt.go` `readOperatorJWT`), and the
//! start-up checks of operator mode (`jwt.go` `validateTrustedOperators`, `auth.go`
//! `validateNoAuthUser`, `server.go` system account resolution).

use super::authorization::go_type;
use super::KeyError;
use crate::conf::{Item, Value};
use crate::config::Config;
use crate::jwt::claims::{AccountClaims, OperatorClaims};
use crate::jwt::creds::decorated_jwt;
use crate::jwt::{decode, is_public_key};

/// The top-level keys this module applies.
pub(super) const KEYS: &[&str] = &[
    "operator",
    "operators",
    "root",
    "roots",
    "resolver",
    "account_resolver",
    "accounts_resolver",
    "resolver_preload",
    "system_account",
    "system",
];

/// How an inline operator JWT starts (`jwtPrefix`: base64 of `{"`): a value that is no
/// readable file but starts so is taken as the JWT itself.
const JWT_PREFIX: &str = "eyJ";

/// Go's text for a `resolver` string that names no resolver.
const BAD_RESOLVER: &str = "error parsing account resolver, should be MEM or  URL(\"url\") or a map containing dir and type state=[FULL|CACHE])";

/// Go's `os.ReadFile` error text, `open <path>: <errno text>`.
fn read_error(path: &str, e: &std::io::Error) -> String {
    let why = match e.kind() {
        std::io::ErrorKind::NotFound => "no such file or directory".to_string(),
        std::io::ErrorKind::PermissionDenied => "permission denied".to_string(),
        std::io::ErrorKind::IsADirectory => "is a directory".to_string(),
        _ => e.to_string(),
    };
    format!("open {path}: {why}")
}

/// An operator JWT from a file (decorated or not) or inline (`readOperatorJWT`).
fn read_operator(entry: &str) -> Result<OperatorClaims, String> {
    let text = match std::fs::read_to_string(entry) {
        Ok(text) => text,
        Err(_) if entry.starts_with(JWT_PREFIX) => entry.to_string(),
        Err(e) => return Err(read_error(entry, &e)),
    };
    decode(decorated_jwt(&text)).map_err(|e| e.to_string())
}

pub(super) fn apply(key: &str, item: &Item, cfg: &mut Config) -> Result<(), KeyError> {
    let v = &item.value;
    let op = &mut cfg.operator;
    match key {
        "operator" | "operators" | "root" | "roots" => {
            let at = KeyError::Here;
            let entries: Vec<&Value> = match v {
                Value::Str(_) => vec![v],
                Value::Array(items) => items.iter().map(|i| &i.value).collect(),
                _ => {
                    let msg = format!("error parsing operators: unsupported type {}", go_type(v));
                    return Err(at(msg));
                }
            };
            op.operators.clear();
            for e in entries {
                let Value::Str(entry) = e else {
                    let msg = format!("error parsing operators: unsupported type {}", go_type(e));
                    return Err(at(msg));
                };
                let claims = read_operator(entry)
                    .map_err(|e| at(format!("error parsing operator JWT: {e}")))?;
                op.operators.push(claims);
            }
        }
        "resolver" | "account_resolver" | "accounts_resolver" => match v {
            // Go's `(?i)(MEM|MEMORY)\s*` matches anywhere in the string.
            Value::Str(s) if s.to_ascii_uppercase().contains("MEM") => op.memory_resolver = true,
            Value::Str(s) if s.to_ascii_uppercase().starts_with("URL") => {
                return Err(not_yet("resolver: URL(...)"))
            }
            Value::Str(_) => return Err(KeyError::Here(BAD_RESOLVER.into())),
            Value::Map(_) => return Err(not_yet("resolver { dir, type }")),
            _ => {
                let msg = format!("error parsing operator resolver, wrong type {}", go_type(v));
                return Err(KeyError::Here(msg));
            }
        },
        "resolver_preload" => {
            let Value::Map(entries) = v else {
                let msg = "preload should be a map of account_public_key:account_jwt";
                return Err(KeyError::Here(msg.into()));
            };
            op.preload.clear();
            for (account, value) in entries {
                let Value::Str(jwt) = &value.value else {
                    let msg = "preload map value should be a string JWT".into();
                    return Err(KeyError::at(value, msg));
                };
                let claims: AccountClaims =
                    decode(jwt).map_err(|_| KeyError::at(value, "invalid account JWT".into()))?;
                op.preload.push((account.clone(), claims));
            }
        }
        _ => match v {
            Value::Str(s) => cfg.system_account = Some(s.clone()),
            _ => {
                let msg = "system account name must be a string";
                return Err(KeyError::Here(msg.into()));
            }
        },
    }
    Ok(())
}

fn not_yet(what: &str) -> KeyError {
    KeyError::Here(format!(
        "{what} is not supported by this version of riptide yet"
    ))
}

/// After the whole file: a single operator's JWT supplies the system account when the file
/// names none (`processConfigFileLine`, `operator` case).
pub(super) fn finish(cfg: &mut Config) {
    if let [only] = &cfg.operator.operators[..] {
        let from_jwt = &only.nats.system_account;
        if cfg.system_account.is_none() && !from_jwt.is_empty() {
            cfg.system_account = Some(from_jwt.clone());
        }
    }
}

/// The start-up checks of operator mode, with the Go server's texts; nothing to check
/// without operators.
pub fn validate(cfg: &Config) -> Result<(), String> {
    let op = &cfg.operator;
    if !op.enabled() {
        return Ok(());
    }
    if !op.memory_resolver {
        return Err(match &op.operators[..] {
            // Without `resolver`, one operator's `account_server_url` is the resolver; an
            // empty one fails its first fetch.
            [only] if only.nats.account_server_url.is_empty() => {
                "could not fetch <\"/accounts/\">: Get \"/accounts/\": unsupported protocol scheme \"\"".into()
            }
            [_] => "an operator's account_server_url resolver is not supported by this version of riptide yet".into(),
            _ => "operators require an account resolver to be configured".into(),
        });
    }
    if !cfg.accounts.is_empty() {
        return Err("operators do not allow Accounts to be configured directly".into());
    }
    if !cfg.auth.users.is_empty() || !cfg.auth.nkeys.is_empty() {
        return Err("operators do not allow users to be configured directly".into());
    }
    if cfg.auth.no_auth_user.is_some() {
        return Err("no_auth_user not compatible with Trusted Operator".into());
    }
    if let Some(sys) = &cfg.system_account {
        if !is_public_key(sys, nkeys::KeyPairType::Account) {
            return Err(
                "error resolving system account: will only fetch valid account keys".into(),
            );
        }
        if !op.preload.iter().any(|(k, _)| k == sys) {
            return Err("error resolving system account: account missing".into());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config_file::load_str;
    use crate::jwt::testkit;

    fn load(text: &str) -> Result<Config, String> {
        let mut cfg = Config::default();
        load_str(text, &mut cfg, true).map_err(|e| e.0)?;
        Ok(cfg)
    }

    #[test]
    fn operator_resolver_preload_and_system_account() {
        let op = testkit::Operator::new("op");
        let sys = testkit::Account::new("SYS");
        let app = testkit::Account::new("APP");
        let dir = std::env::temp_dir().join(format!("riptide-op-conf-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("op.jwt");
        // A decorated file, as `nsc` writes it.
        std::fs::write(
            &file,
            format!(
                "-----BEGIN NATS OPERATOR JWT-----\n{}\n------END NATS OPERATOR JWT------\n",
                op.jwt()
            ),
        )
        .unwrap();
        let text = format!(
            "operator: {file:?}\nsystem_account: {sys}\nresolver: MEMORY\nresolver_preload: {{\n  {sys}: {}\n  {app}: {}\n}}\n",
            op.sign_account(&sys.claims()),
            op.sign_account(&app.claims()),
            sys = sys.public_key(),
            app = app.public_key(),
        );
        let cfg = load(&text).unwrap();
        let o = &cfg.operator;
        assert!(o.enabled() && o.memory_resolver);
        assert_eq!(o.operators[0].claims.subject, op.public_key());
        assert_eq!(cfg.system_account, Some(sys.public_key()));
        let keys: Vec<&str> = o.preload.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, [sys.public_key(), app.public_key()]);
        assert_eq!(validate(&cfg), Ok(()));
        assert!(o
            .trust()
            .account(&app.public_key(), testkit::unix_now())
            .is_ok());
        // Inline, in a list; the system account from the operator JWT.
        let mut op2 = testkit::Operator::new("op2");
        op2.claims.nats.system_account = sys.public_key();
        let cfg = load(&format!("operators: [{}]\nresolver: mem\n", op2.jwt())).unwrap();
        assert_eq!(cfg.system_account, Some(sys.public_key()));
        assert_eq!(
            validate(&cfg).unwrap_err(),
            "error resolving system account: account missing"
        );
        let cfg = load(&format!(
            "operator: {}\nresolver: MEMORY\nsystem: SYS\n",
            op.jwt()
        ))
        .unwrap();
        assert_eq!(
            validate(&cfg).unwrap_err(),
            "error resolving system account: will only fetch valid account keys"
        );
        let cfg = load(&format!("operator: {}\n", op.jwt())).unwrap();
        assert!(validate(&cfg)
            .unwrap_err()
            .starts_with("could not fetch <\"/accounts/\">"));
        let cfg = load(&format!("operator: {}\nresolver: MEMORY\nauthorization {{ users: [ {{user: a, password: b}} ] }}\n", op.jwt())).unwrap();
        assert_eq!(
            validate(&cfg).unwrap_err(),
            "operators do not allow users to be configured directly"
        );
        let cfg = load(&format!(
            "operator: {}\nresolver: MEMORY\nno_auth_user: a\n",
            op.jwt()
        ))
        .unwrap();
        assert_eq!(
            validate(&cfg).unwrap_err(),
            "no_auth_user not compatible with Trusted Operator"
        );
        // Without an operator, a resolver changes nothing.
        assert_eq!(validate(&load("resolver: MEMORY\n").unwrap()), Ok(()));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn go_error_texts() {
        let op = testkit::Operator::new("op");
        let app = testkit::Account::new("APP");
        let e = load("operator: /nonexistent/op.jwt\n").unwrap_err();
        assert_eq!(e, "<text>:1:0: error parsing operator JWT: open /nonexistent/op.jwt: no such file or directory");
        let e = load("operator: 1\n").unwrap_err();
        assert_eq!(
            e,
            "<text>:1:0: error parsing operators: unsupported type int64"
        );
        let e = load(&format!("operator: {}\n", op.sign_account(&app.claims()))).unwrap_err();
        assert_eq!(
            e,
            "<text>:1:0: error parsing operator JWT: not operator claim"
        );
        let e = load("resolver: FOO\n").unwrap_err();
        assert_eq!(e, format!("<text>:1:0: {BAD_RESOLVER}"));
        let e = load("resolver: 1\n").unwrap_err();
        assert_eq!(
            e,
            "<text>:1:0: error parsing operator resolver, wrong type int64"
        );
        let e = load("resolver_preload: 1\n").unwrap_err();
        assert_eq!(
            e,
            "<text>:1:0: preload should be a map of account_public_key:account_jwt"
        );
        let user_jwt = app.sign_user(&testkit::User::new("u").claims());
        let e = load(&format!(
            "resolver_preload: {{ {}: {user_jwt} }}\n",
            app.public_key()
        ))
        .unwrap_err();
        assert_eq!(e, "<text>:1:20: invalid account JWT");
        let e = load("system_account: 1\n").unwrap_err();
        assert_eq!(e, "<text>:1:0: system account name must be a string");
    }
}
