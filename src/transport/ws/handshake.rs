//! What a WebSocket client's upgrade request tells its connection besides framing: the
//! address a proxy says it forwarded for (`X-Forwarded-For`), and credentials carried in
//! the cookies named by `jwt_cookie`, `user_cookie`, `pass_cookie` and `token_cookie`
//! (`websocket.go` `wsUpgrade`, applied in `client.go` `processConnect`).

use std::net::IpAddr;

use crate::conn::ConnectMsg;

/// The configured cookie names; `None` reads no cookie.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CookieNames {
    pub jwt: Option<String>,
    pub user: Option<String>,
    pub pass: Option<String>,
    pub token: Option<String>,
}

/// What one upgrade request carried.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Handshake {
    /// The first `X-Forwarded-For` header, when it is a single IP address (Go's
    /// `net.ParseIP`); Go's log lines then name the client `ip/peer`.
    pub client_ip: Option<IpAddr>,
    pub jwt: Option<String>,
    pub user: Option<String>,
    pub pass: Option<String>,
    pub token: Option<String>,
}

impl Handshake {
    /// From the request's `X-Forwarded-For` and `Cookie` headers; `None` when they carry
    /// nothing the connection uses.
    pub(super) fn from_headers(
        forwarded_for: Option<&str>,
        cookie_headers: impl Iterator<Item = String> + Clone,
        names: &CookieNames,
    ) -> Option<Handshake> {
        let cookie = |name: &Option<String>| {
            let name = name.as_deref()?;
            cookie_headers.clone().find_map(|h| cookie_value(&h, name))
        };
        let h = Handshake {
            client_ip: forwarded_for.and_then(|v| v.trim().parse().ok()),
            jwt: cookie(&names.jwt),
            user: cookie(&names.user),
            pass: cookie(&names.pass),
            token: cookie(&names.token),
        };
        (h != Handshake::default()).then_some(h)
    }

    /// Puts the cookies' credentials into the CONNECT fields the client left empty: what the
    /// client sends itself wins, field by field.
    pub fn fill(&self, m: &mut ConnectMsg) {
        for (field, cookie) in [
            (&mut m.jwt, &self.jwt),
            (&mut m.user, &self.user),
            (&mut m.pass, &self.pass),
            (&mut m.auth_token, &self.token),
        ] {
            if cookie.is_some() && field.as_deref().is_none_or(str::is_empty) {
                field.clone_from(cookie);
            }
        }
    }
}

/// The value of cookie `name` in one `Cookie` header, as Go's `http.Request.Cookie` reads
/// it: `name=value` pairs split by `;`, a value in double quotes unquoted, and a pair whose
/// value has a byte outside printable ASCII (or `"`, `;`, `\`) skipped.
fn cookie_value(header: &str, name: &str) -> Option<String> {
    header.split(';').find_map(|pair| {
        let (n, v) = pair.trim().split_once('=')?;
        if n.trim() != name {
            return None;
        }
        let v = v
            .strip_prefix('"')
            .and_then(|v| v.strip_suffix('"'))
            .unwrap_or(v);
        v.bytes()
            .all(|b| (0x20..0x7f).contains(&b) && !matches!(b, b'"' | b';' | b'\\'))
            .then(|| v.to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names() -> CookieNames {
        CookieNames {
            jwt: Some("jwt".into()),
            user: Some("u".into()),
            pass: Some("p".into()),
            token: None,
        }
    }

    fn from(xff: Option<&str>, cookies: &[&str]) -> Option<Handshake> {
        let headers: Vec<String> = cookies.iter().map(|c| c.to_string()).collect();
        Handshake::from_headers(xff, headers.into_iter(), &names())
    }

    #[test]
    fn cookies_as_go_reads_them() {
        let h = from(None, &["a=1; u=\"alice\"", "p=s3cret; tok=x"]).unwrap();
        assert_eq!(h.user.as_deref(), Some("alice"));
        assert_eq!(h.pass.as_deref(), Some("s3cret"));
        assert_eq!(h.token, None, "no token_cookie configured");
        assert_eq!(h.jwt, None);
        // A value with a forbidden byte is skipped; a later one of the same name is taken.
        let h = from(None, &["u=a\\b; u=bob"]).unwrap();
        assert_eq!(h.user.as_deref(), Some("bob"));
        assert_eq!(from(None, &["other=1"]), None);
    }

    #[test]
    fn forwarded_for_is_one_address() {
        let ip = |v| from(Some(v), &[]).and_then(|h| h.client_ip);
        assert_eq!(ip("1.2.3.4"), Some("1.2.3.4".parse().unwrap()));
        assert_eq!(ip(" ::1 "), Some("::1".parse().unwrap()));
        assert_eq!(ip("1.2.3.4, 5.6.7.8"), None);
        assert_eq!(ip("proxy"), None);
    }

    #[test]
    fn fills_only_what_connect_left_empty() {
        let h = from(None, &["u=alice; p=pw; jwt=eyJ"]).unwrap();
        let mut m = ConnectMsg::parse(br#"{"user":"bob","pass":""}"#).unwrap();
        h.fill(&mut m);
        assert_eq!(m.user.as_deref(), Some("bob"));
        assert_eq!(m.pass.as_deref(), Some("pw"));
        assert_eq!(m.jwt.as_deref(), Some("eyJ"));
        assert_eq!(m.auth_token, None);
    }
}
