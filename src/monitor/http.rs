//! The small part of HTTP/1.1 the monitor needs: parse a request head, write a response
//! and close, as the Go server does for `Connection: close` requests. Sans-IO parsing.

use std::io::Write;
use std::time::SystemTime;

/// Largest request head we read; monitoring requests are a line and a few headers.
pub const MAX_REQUEST_HEAD: usize = 16 * 1024;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub method: String,
    pub path: String,
    pub query: Vec<(String, String)>,
    /// The query as sent, for a redirect to carry it on.
    pub raw_query: String,
}

impl Request {
    /// The first value of a query parameter, as Go's `URL.Query().Get` (empty if absent).
    pub fn param(&self, name: &str) -> &str {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map_or("", |(_, v)| v.as_str())
    }
}

/// Parses a request head once it is complete: `None` while the blank line has not arrived,
/// `Some(Err)` for a head that is not HTTP.
pub fn parse_request(buf: &[u8]) -> Option<Result<Request, ()>> {
    let end = buf.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = std::str::from_utf8(&buf[..end]).map_err(|_| ());
    Some(head.and_then(|head| {
        let line = head.lines().next().ok_or(())?;
        let mut parts = line.split(' ');
        let (method, target, version) = (parts.next(), parts.next(), parts.next());
        let (Some(method), Some(target), Some(version)) = (method, target, version) else {
            return Err(());
        };
        if !version.starts_with("HTTP/1.") || method.is_empty() {
            return Err(());
        }
        let (path, query) = target.split_once('?').unwrap_or((target, ""));
        // Go's `url.ParseRequestURI` refuses a bad escape in the path (the query's are
        // only dropped later, by `ParseQuery`): 400 before any handler.
        if !escapes_valid(path) {
            return Err(());
        }
        Ok(Request {
            method: method.to_string(),
            path: percent_decode(path),
            query: parse_query(query),
            raw_query: query.to_string(),
        })
    }))
}

/// Go's `cleanPath` (net/http's ServeMux): `.` and `..` resolved, repeated slashes
/// merged, a trailing slash kept.
pub fn clean_path(p: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for seg in p.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            s => parts.push(s),
        }
    }
    let mut out = format!("/{}", parts.join("/"));
    if p.ends_with('/') && out != "/" {
        out.push('/');
    }
    out
}

/// `a=1&b=x%2Ey` into pairs, `+` as space, as Go's `url.ParseQuery`.
fn parse_query(q: &str) -> Vec<(String, String)> {
    q.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (
                percent_decode(&k.replace('+', " ")),
                percent_decode(&v.replace('+', " ")),
            )
        })
        .collect()
}

/// Every `%` starts two hex digits.
fn escapes_valid(s: &str) -> bool {
    let b = s.as_bytes();
    b.iter().enumerate().all(|(i, &c)| {
        c != b'%'
            || (b.get(i + 1).is_some_and(u8::is_ascii_hexdigit)
                && b.get(i + 2).is_some_and(u8::is_ascii_hexdigit))
    })
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        if b[i] == b'%' && i + 2 < b.len() {
            if let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

pub const JSON: &str = "application/json";
pub const HTML: &str = "text/html; charset=utf-8";
pub const TEXT: &str = "text/plain; charset=utf-8";
/// Prometheus text exposition format 0.0.4.
pub const PROMETHEUS: &str = "text/plain; version=0.0.4; charset=utf-8";

#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub content_type: &'static str,
    pub body: Vec<u8>,
    /// The `Location` of a redirect.
    pub location: Option<String>,
}

impl Response {
    pub fn json(body: Vec<u8>) -> Response {
        Response {
            status: 200,
            content_type: JSON,
            body,
            location: None,
        }
    }

    /// A plain-text error, as Go's handlers write them (`w.WriteHeader(400)` and the text).
    pub fn error(status: u16, text: impl Into<String>) -> Response {
        Response {
            status,
            content_type: TEXT,
            body: text.into().into_bytes(),
            location: None,
        }
    }

    /// Go's ServeMux answer to a path that is not clean: 307 to the clean one, query kept.
    pub fn redirect(path: &str, raw_query: &str) -> Response {
        let location = if raw_query.is_empty() {
            path.to_string()
        } else {
            format!("{path}?{raw_query}")
        };
        Response {
            status: 307,
            content_type: HTML,
            body: format!("<a href=\"{location}\">Temporary Redirect</a>.\n\n").into_bytes(),
            location: Some(location),
        }
    }

    pub fn not_found() -> Response {
        Response::error(404, "404 page not found\n")
    }

    /// The response as bytes; `head_only` for HEAD requests.
    pub fn write_to(&self, w: &mut impl Write, head_only: bool) -> std::io::Result<()> {
        let reason = match self.status {
            200 => "OK",
            400 => "Bad Request",
            404 => "Not Found",
            307 => "Temporary Redirect",
            403 => "Forbidden",
            405 => "Method Not Allowed",
            503 => "Service Unavailable",
            _ => "Error",
        };
        let mut head = format!("HTTP/1.1 {} {reason}\r\n", self.status);
        if let Some(location) = &self.location {
            head.push_str(&format!("Location: {location}\r\n"));
        }
        // JSON answers carry CORS `*` so browser dashboards on other origins can read them
        // (`ResponseHandler`, monitor.go).
        if self.content_type == JSON {
            head.push_str("Access-Control-Allow-Origin: *\r\n");
        }
        head.push_str(&format!(
            "Content-Type: {}\r\nDate: {}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            self.content_type,
            crate::timefmt::http_date(SystemTime::now()),
            self.body.len()
        ));
        w.write_all(head.as_bytes())?;
        if !head_only {
            w.write_all(&self.body)?;
        }
        w.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests() {
        assert_eq!(parse_request(b"GET /varz HTTP/1.1\r\nHost: x\r\n"), None);
        let r =
            parse_request(b"GET /connz?subs=detail&sort=bytes_to&x HTTP/1.1\r\nHost: x\r\n\r\n")
                .unwrap()
                .unwrap();
        assert_eq!(r.method, "GET");
        assert_eq!(r.path, "/connz");
        assert_eq!(r.param("subs"), "detail");
        assert_eq!(r.param("sort"), "bytes_to");
        assert_eq!(r.param("x"), "");
        assert_eq!(r.param("missing"), "");
        let r = parse_request(b"GET /subsz?test=a%2Eb+c%zz HTTP/1.0\r\n\r\n")
            .unwrap()
            .unwrap();
        assert_eq!(r.param("test"), "a.b c%zz");
        assert_eq!(parse_request(b"garbage\r\n\r\n"), Some(Err(())));
        assert_eq!(parse_request(b"GET / SPDY\r\n\r\n"), Some(Err(())));
        assert_eq!(parse_request(b"\xff\xfe\r\n\r\n"), Some(Err(())));
        for bad_escape in ["/%", "/a%2", "/%zz/varz"] {
            let head = format!("GET {bad_escape} HTTP/1.1\r\n\r\n");
            assert_eq!(
                parse_request(head.as_bytes()),
                Some(Err(())),
                "{bad_escape}"
            );
        }
    }

    #[test]
    fn clean_paths_as_go() {
        for (raw, clean) in [
            ("/varz", "/varz"),
            ("//varz", "/varz"),
            ("/a/./b/../varz", "/a/varz"),
            ("/../..", "/"),
            ("/base/", "/base/"),
            ("/varz/.", "/varz"),
            ("", "/"),
        ] {
            assert_eq!(clean_path(raw), clean, "{raw}");
        }
        let mut out = Vec::new();
        Response::redirect("/varz", "x=1")
            .write_to(&mut out, false)
            .unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.starts_with("HTTP/1.1 307 Temporary Redirect\r\nLocation: /varz?x=1\r\n"));
        assert!(text.ends_with("<a href=\"/varz?x=1\">Temporary Redirect</a>.\n\n"));
    }

    #[test]
    fn responses() {
        let mut out = Vec::new();
        Response::json(b"{}".to_vec())
            .write_to(&mut out, false)
            .unwrap();
        let s = String::from_utf8(out).unwrap();
        assert!(s.starts_with("HTTP/1.1 200 OK\r\nAccess-Control-Allow-Origin: *\r\nContent-Type: application/json\r\n"));
        assert!(s.ends_with("Content-Length: 2\r\nConnection: close\r\n\r\n{}"));
    }
}
