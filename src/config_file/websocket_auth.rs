//! The `websocket {}` block's authentication: its `authorization` block (Go's
//! `parseSimpleAuth`: `user`, `password`, `token`, `timeout` only), and the checks Go makes
//! of it against the rest of the configuration when the server starts
//! (`validateWebsocketOptions`, `validateNoAuthUser`).

use std::time::Duration;

use super::{string, ConfigError};
use crate::conf::{Item, Value};
use crate::config::{Config, WsAuthConfig};

/// The timeout Go takes when `timeout` is neither an integer nor a float (`parseSimpleAuth`).
const FALLBACK_TIMEOUT: Duration = Duration::from_secs(1);

/// `authorization { user | username, pass | password, token, timeout }` into `auth`.
pub(super) fn simple_auth(block: &Item, auth: &mut WsAuthConfig) -> Result<(), ConfigError> {
    let at = |item: &Item, m: String| ConfigError(format!("{}: {m}", item.position()));
    let Value::Map(entries) = &block.value else {
        return Err(at(
            block,
            "expected a map for websocket authorization".into(),
        ));
    };
    for (k, item) in entries {
        let v = &item.value;
        match k.to_ascii_lowercase().as_str() {
            "user" | "username" => auth.username = Some(string(v, k).map_err(|m| at(item, m))?),
            "pass" | "password" => auth.password = Some(string(v, k).map_err(|m| at(item, m))?),
            "token" => auth.token = Some(string(v, k).map_err(|m| at(item, m))?),
            "timeout" => {
                auth.timeout = Some(match v {
                    Value::Int(n) => Duration::from_secs(u64::try_from(*n).unwrap_or(0)),
                    Value::Float(f) if *f >= 0.0 => Duration::from_secs_f64(*f),
                    _ => FALLBACK_TIMEOUT,
                })
            }
            _ => return Err(at(item, format!("unknown field \"{k}\""))),
        }
    }
    Ok(())
}

/// Go's start-up checks of the WebSocket credentials, in its order and words.
pub(super) fn validate(cfg: &Config) -> Result<(), String> {
    let Some(ws) = &cfg.websocket else {
        return Ok(());
    };
    let users = (!cfg.auth.single_user && !cfg.auth.users.is_empty()) || !cfg.auth.nkeys.is_empty();
    if let Some(name) = &ws.auth.no_auth_user {
        if !users {
            return Err(format!(
                "no_auth_user: \"{name}\" present, but users/nkeys are not defined"
            ));
        }
        let known = cfg.auth.users.iter().any(|u| &u.user == name)
            || cfg.auth.nkeys.iter().any(|n| &n.nkey == name);
        if !known {
            return Err(format!("no_auth_user: \"{name}\" not present as user or nkey in authorization block or account configuration"));
        }
    }
    if users && ws.auth.username.is_some() {
        return Err(
            "websocket authentication username not compatible with presence of users/nkeys".into(),
        );
    }
    if users && ws.auth.token.is_some() {
        return Err(
            "websocket authentication token not compatible with presence of users/nkeys".into(),
        );
    }
    if let Some(name) = ws.cookies.jwt.as_ref().filter(|_| !cfg.operator.enabled()) {
        return Err(format!("trusted operators or trusted keys configuration is required for JWT authentication via cookie \"{name}\""));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::config::Config;
    use crate::config_file::load_str;

    fn load(text: &str) -> Result<Config, String> {
        let mut cfg = Config::default();
        load_str(text, &mut cfg, false).map_err(|e| e.to_string())?;
        super::validate(&cfg).map(|()| cfg)
    }

    const WS: &str = "host: 127.0.0.1, port: -1, no_tls: true";

    #[test]
    fn parses_the_block_as_go() {
        let c = load(&format!("websocket {{ {WS}, authentication {{ username: a, pass: b, timeout: 0.5 }}, no_auth_user: x, user_cookie: u, pass_cookie: p, token_cookie: t }}\nauthorization {{ users: [{{user: x, password: y}}] }}")).unwrap_err();
        assert_eq!(
            c,
            "websocket authentication username not compatible with presence of users/nkeys"
        );
        let c = load(&format!("websocket {{ {WS}, authorization {{ user: a, password: b, timeout: \"5s\" }}, user_cookie: u }}\nauthorization {{ user: x, password: y }}")).unwrap();
        let w = c.websocket.unwrap();
        assert_eq!(w.auth.username.as_deref(), Some("a"));
        assert_eq!(w.auth.timeout, Some(std::time::Duration::from_secs(1)));
        assert_eq!(w.cookies.user.as_deref(), Some("u"));
        assert_eq!(
            load(&format!(
                "websocket {{ {WS}, authorization {{ users: [] }} }}"
            ))
            .unwrap_err(),
            "<text>:1:69: unknown field \"users\""
        );
    }

    #[test]
    fn refuses_what_go_refuses_at_start() {
        let users = "authorization { users: [{user: x, password: y}] }";
        for (text, err) in [
            (format!("websocket {{ {WS}, no_auth_user: x }}"), "no_auth_user: \"x\" present, but users/nkeys are not defined"),
            (format!("{users}\nwebsocket {{ {WS}, no_auth_user: z }}"), "no_auth_user: \"z\" not present as user or nkey in authorization block or account configuration"),
            (format!("{users}\nwebsocket {{ {WS}, authorization {{ token: t }} }}"), "websocket authentication token not compatible with presence of users/nkeys"),
            (format!("websocket {{ {WS}, jwt_cookie: a }}"), "trusted operators or trusted keys configuration is required for JWT authentication via cookie \"a\""),
        ] {
            assert_eq!(load(&text).unwrap_err(), err, "{text}");
        }
        assert!(load(&format!("{users}\nwebsocket {{ {WS}, no_auth_user: x }}")).is_ok());
    }
}
