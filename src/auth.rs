//! Client authentication as the Go server does it without accounts: a token, one user and
//! password, or a list of users; passwords in plain text or as bcrypt hashes; `no_auth_user`
//! for clients that present nothing.

use crate::config::AuthConfig;
use crate::conn::ConnectMsg;

/// The outcome of checking a CONNECT.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Login {
    /// Accepted, as this user (empty for a token).
    User(String),
    Refused,
}

/// True for the bcrypt hash forms the Go server accepts as passwords (`isBcrypt`).
fn is_bcrypt(p: &str) -> bool {
    ["$2a$", "$2b$", "$2x$", "$2y$"]
        .iter()
        .any(|pre| p.starts_with(pre))
}

fn password_ok(configured: &str, given: &str) -> bool {
    if is_bcrypt(configured) {
        bcrypt::verify(given, configured).unwrap_or(false)
    } else {
        // Constant-time comparison of equal-length strings, so a wrong password's timing
        // does not reveal its shared prefix.
        configured.len() == given.len()
            && configured
                .bytes()
                .zip(given.bytes())
                .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                == 0
    }
}

/// The user a client that presents no credentials is logged in as: `no_auth_user`, when it
/// names a configured user.
pub fn no_auth_login(cfg: &AuthConfig) -> Option<&str> {
    cfg.no_auth_user
        .as_deref()
        .filter(|u| cfg.users.iter().any(|x| x.user == *u))
}

/// Checks CONNECT credentials against the configured ones.
pub fn check(cfg: &AuthConfig, m: &ConnectMsg) -> Login {
    let presented = m.auth_token.is_some() || m.user.is_some() || m.pass.is_some();
    if !presented {
        return no_auth_login(cfg).map_or(Login::Refused, |u| Login::User(u.to_string()));
    }
    if let Some(token) = &cfg.token {
        return match &m.auth_token {
            Some(t) if password_ok(token, t) => Login::User(String::new()),
            _ => Login::Refused,
        };
    }
    let (Some(user), Some(pass)) = (&m.user, &m.pass) else {
        return Login::Refused;
    };
    match cfg.users.iter().find(|u| &u.user == user) {
        Some(u) if password_ok(&u.password, pass) => Login::User(u.user.clone()),
        _ => Login::Refused,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::UserConfig;

    fn connect(json: &str) -> ConnectMsg {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn users_tokens_bcrypt_and_no_auth_user() {
        let hash = bcrypt::hash("s3cret", 4).unwrap();
        let cfg = AuthConfig {
            users: vec![
                UserConfig {
                    user: "a".into(),
                    password: "pa".into(),
                },
                UserConfig {
                    user: "b".into(),
                    password: hash,
                },
            ],
            ..AuthConfig::default()
        };
        assert_eq!(
            check(&cfg, &connect(r#"{"user":"a","pass":"pa"}"#)),
            Login::User("a".into())
        );
        assert_eq!(
            check(&cfg, &connect(r#"{"user":"a","pass":"pb"}"#)),
            Login::Refused
        );
        assert_eq!(
            check(&cfg, &connect(r#"{"user":"b","pass":"s3cret"}"#)),
            Login::User("b".into())
        );
        assert_eq!(
            check(&cfg, &connect(r#"{"user":"b","pass":"nope"}"#)),
            Login::Refused
        );
        assert_eq!(
            check(&cfg, &connect(r#"{"user":"c","pass":"pa"}"#)),
            Login::Refused
        );
        assert_eq!(check(&cfg, &connect(r#"{}"#)), Login::Refused);
        let cfg = AuthConfig {
            no_auth_user: Some("a".into()),
            ..cfg
        };
        assert_eq!(check(&cfg, &connect(r#"{}"#)), Login::User("a".into()));
        assert_eq!(
            check(&cfg, &connect(r#"{"user":"a","pass":"x"}"#)),
            Login::Refused
        );
        let cfg = AuthConfig {
            token: Some("tok".into()),
            ..AuthConfig::default()
        };
        assert_eq!(
            check(&cfg, &connect(r#"{"auth_token":"tok"}"#)),
            Login::User(String::new())
        );
        assert_eq!(
            check(&cfg, &connect(r#"{"auth_token":"tik"}"#)),
            Login::Refused
        );
        assert_eq!(
            check(&cfg, &connect(r#"{"user":"a","pass":"pa"}"#)),
            Login::Refused
        );
    }
}
