//! The `authorization` block: a token, one user, or users with passwords or nkeys, their
//! permissions and `default_permissions`, with the Go server's key names, checks and error
//! texts (`opts.go` `parseAuthorization`, `parseUsers`, `parseUserPermissions`,
//! `parseAllowResponses`, `parseSubjects`).

use std::collections::HashSet;
use std::time::Duration;

use super::{parse_duration, string, KeyError};
use crate::auth::is_user_nkey;
use crate::conf::{Item, Value};
use crate::config::{AuthConfig, Config, NkeyUserConfig, UserConfig};
use crate::permissions::{go_quote, Permissions, ResponsePermission, SubjectPermission};
use crate::subject::is_valid_subscription;

/// Keys of the Go server that Riptide does not implement yet.
const NOT_YET: &[&str] = &["auth_callout"];
/// Keys of a user entry that Riptide does not implement yet.
const USER_NOT_YET: &[&str] = &["allowed_connection_types", "proxy_required"];

/// Go's `%T` of a configuration value.
pub(super) fn go_type(v: &Value) -> &'static str {
    match v {
        Value::Bool(_) => "bool",
        Value::Int(_) => "int64",
        Value::Float(_) => "float64",
        Value::Str(_) => "string",
        Value::Datetime(_) => "time.Time",
        Value::Map(_) => "map[string]interface {}",
        Value::Array(_) => "[]interface {}",
    }
}

/// Go's `%v` of a configuration value, for scalars; containers are only named.
pub(super) fn go_value(v: &Value) -> String {
    match v {
        Value::Bool(b) => b.to_string(),
        Value::Int(n) => n.to_string(),
        Value::Float(f) => f.to_string(),
        Value::Str(s) => s.clone(),
        // Go's `time.Time` prints as `2020-01-02 03:04:05 +0000 UTC`.
        Value::Datetime(s) => format!("{} {} +0000 UTC", &s[..10], &s[11..19]),
        Value::Map(_) => "map[...]".into(),
        Value::Array(_) => "[...]".into(),
    }
}

/// `authorization { token | user + password | users: [...], default_permissions, timeout }`.
pub(super) fn apply(v: &Value, cfg: &mut Config) -> Result<(), KeyError> {
    let Value::Map(entries) = v else {
        return Err(KeyError::Here("expected a map for authorization".into()));
    };
    let mut single = UserConfig::default();
    let mut users: Option<(Vec<UserConfig>, Vec<NkeyUserConfig>)> = None;
    let mut defaults = None;
    // Go lists every unknown field of the block, not only the first.
    let mut unknown = Vec::new();
    for (k, item) in entries {
        let v = &item.value;
        match k.to_ascii_lowercase().as_str() {
            "token" => cfg.auth.token = Some(string(v, k)?),
            "user" | "username" => single.user = string(v, k)?,
            "pass" | "password" => single.password = string(v, k)?,
            "timeout" => cfg.auth.timeout = Some(timeout(v)?),
            "users" => users = Some(parse_users(item)?),
            "default_permission" | "default_permissions" | "permissions" => {
                defaults = Some(parse_permissions(item)?);
            }
            key if NOT_YET.contains(&key) => {
                let msg = format!("field \"{k}\" is not supported by this version of riptide yet");
                return Err(KeyError::at(item, msg));
            }
            // A key that a `$variable` refers to is a variable (a role), not a setting.
            _ if item.used => {}
            _ => unknown.push(KeyError::at(item, format!("unknown field \"{k}\""))),
        }
    }
    if !unknown.is_empty() {
        return Err(KeyError::Many(unknown));
    }
    let has_single = !single.user.is_empty() || !single.password.is_empty();
    if has_single && cfg.auth.token.is_some() {
        return Err(KeyError::Here("Cannot have a user/pass and token".into()));
    }
    let Some((mut list, mut nkeys)) = users else {
        if has_single {
            cfg.auth.users.push(single);
            cfg.auth.single_user = true;
        }
        return Ok(());
    };
    if has_single {
        return Err(KeyError::Here(
            "Can not have a single user/pass and a users array".into(),
        ));
    }
    if cfg.auth.token.is_some() {
        return Err(KeyError::Here(
            "Can not have a token and a users array".into(),
        ));
    }
    // Only users of the array get the defaults, not a single `user` (`applyDefaultPermissions`).
    if let Some(d) = &defaults {
        let own = list.iter_mut().map(|u| &mut u.permissions);
        for p in own.chain(nkeys.iter_mut().map(|u| &mut u.permissions)) {
            p.get_or_insert_with(|| d.clone());
        }
    }
    cfg.auth.users.extend(list);
    cfg.auth.nkeys.extend(nkeys);
    match duplicate_user(&cfg.auth) {
        Some(msg) => Err(KeyError::Here(msg)),
        None => Ok(()),
    }
}

/// Go's complaint about a user or nkey configured twice, in `authorization` or any account.
pub(super) fn duplicate_user(auth: &AuthConfig) -> Option<String> {
    let mut seen = HashSet::new();
    for u in &auth.users {
        if !seen.insert(u.user.as_str()) {
            return Some(format!(
                "Duplicate user {} detected",
                go_quote(u.user.as_bytes())
            ));
        }
    }
    for u in &auth.nkeys {
        if !seen.insert(u.nkey.as_str()) {
            return Some(format!(
                "Duplicate nkey {} detected",
                go_quote(u.nkey.as_bytes())
            ));
        }
    }
    None
}

fn timeout(v: &Value) -> Result<Duration, KeyError> {
    let d = match v {
        Value::Int(n) => {
            Duration::from_secs(u64::try_from(*n).map_err(|_| "invalid timeout".to_string())?)
        }
        Value::Float(f) if *f >= 0.0 => Duration::from_secs_f64(*f),
        Value::Str(s) => parse_duration(s).ok_or_else(|| format!("invalid timeout \"{s}\""))?,
        _ => return Err(KeyError::Here("error parsing authorization timeout".into())),
    };
    Ok(d)
}

/// `users: [ {user, password, permissions} | {nkey, permissions}, ... ]`.
pub(super) fn parse_users(item: &Item) -> Result<(Vec<UserConfig>, Vec<NkeyUserConfig>), KeyError> {
    let Value::Array(entries) = &item.value else {
        let msg = format!(
            "Expected users field to be an array, got {}",
            go_value(&item.value)
        );
        return Err(KeyError::at(item, msg));
    };
    let (mut users, mut nkeys) = (Vec::new(), Vec::new());
    for entry in entries {
        let Value::Map(fields) = &entry.value else {
            let msg = format!(
                "Expected user entry to be a map/struct, got {}",
                go_value(&entry.value)
            );
            return Err(KeyError::at(entry, msg));
        };
        let mut user = UserConfig::default();
        let mut nkey = String::new();
        for (k, item) in fields {
            let v = &item.value;
            match k.to_ascii_lowercase().as_str() {
                "nkey" => nkey = string(v, k)?,
                "user" | "username" => user.user = string(v, k)?,
                "pass" | "password" => user.password = string(v, k)?,
                "permission" | "permissions" | "authorization" => {
                    user.permissions = Some(parse_permissions(item)?);
                }
                key if USER_NOT_YET.contains(&key) => {
                    let msg =
                        format!("field \"{k}\" is not supported by this version of riptide yet");
                    return Err(KeyError::at(item, msg));
                }
                _ => return Err(KeyError::at(item, format!("unknown field \"{k}\""))),
            }
        }
        // Go points these at whichever key its map walk saw last; the last one in the file
        // is as good and does not change from run to run.
        let at = fields.last().map_or(entry, |(_, item)| item);
        if nkey.is_empty() && user.user.is_empty() {
            return Err(KeyError::at(at, "User entry requires a user".into()));
        }
        if nkey.is_empty() {
            users.push(user);
            continue;
        }
        if !is_user_nkey(&nkey) {
            return Err(KeyError::at(
                at,
                "Not a valid public nkey for a user".into(),
            ));
        }
        if !user.user.is_empty() || !user.password.is_empty() {
            let msg = "Nkey users do not take usernames or passwords".into();
            return Err(KeyError::at(at, msg));
        }
        nkeys.push(NkeyUserConfig {
            nkey,
            permissions: user.permissions,
            account: None,
        });
    }
    Ok((users, nkeys))
}

/// `permissions { publish, subscribe, allow_responses }` (`parseUserPermissions`).
pub(super) fn parse_permissions(item: &Item) -> Result<Permissions, KeyError> {
    let Value::Map(fields) = &item.value else {
        let msg = format!(
            "Expected permissions to be a map/struct, got {}",
            go_value(&item.value)
        );
        return Err(KeyError::at(item, msg));
    };
    let mut p = Permissions::default();
    for (k, item) in fields {
        match k.to_ascii_lowercase().as_str() {
            "pub" | "publish" | "import" => p.publish = subject_permission(item, false)?,
            "sub" | "subscribe" | "export" => p.subscribe = subject_permission(item, true)?,
            "publish_allow_responses" | "allow_responses" => p.response = responses(item)?,
            _ => return Err(unknown_permission_field(k, item)),
        }
    }
    Ok(p)
}

fn unknown_permission_field(key: &str, item: &Item) -> KeyError {
    let msg = format!(
        "Unknown field {} parsing permissions",
        go_quote(key.as_bytes())
    );
    KeyError::at(item, msg)
}

/// A subject list, or `{ allow: ..., deny: ... }` (`parseVariablePermissions`). An empty
/// map means no restriction, as in Go.
fn subject_permission(item: &Item, subscribe: bool) -> Result<Option<SubjectPermission>, KeyError> {
    let Value::Map(fields) = &item.value else {
        let allow = subjects(item, subscribe, false)?;
        return Ok(Some(SubjectPermission {
            allow,
            deny: Vec::new(),
        }));
    };
    if fields.is_empty() {
        return Ok(None);
    }
    let mut p = SubjectPermission::default();
    for (k, item) in fields {
        match k.to_ascii_lowercase().as_str() {
            "allow" => p.allow = subjects(item, subscribe, true)?,
            "deny" => p.deny = subjects(item, subscribe, true)?.unwrap_or_default(),
            _ => {
                let msg = format!(
                    "Unknown field name {} parsing subject permissions, only 'allow' or 'deny' are permitted",
                    go_quote(k.as_bytes())
                );
                return Err(KeyError::at(item, msg));
            }
        }
    }
    Ok(Some(p))
}

/// A valid subject for a permission list (`IsValidSubject`): no empty token, nothing after
/// `>`, no blanks.
fn valid_subject(s: &str) -> bool {
    is_valid_subscription(s.as_bytes()) && !s.bytes().any(|b| b" \t\n\r\x0c".contains(&b))
}

/// Why a permission entry is invalid: subscribe entries may name a queue group after the
/// subject (`checkPermSubjectArray`).
fn invalid_entry(entry: &str, subscribe: bool) -> Option<String> {
    if valid_subject(entry) {
        return None;
    }
    let fields: Vec<&str> = entry.split_whitespace().collect();
    let bad_subject =
        |s: &str| format!("subject {} is not a valid subject", go_quote(s.as_bytes()));
    match fields[..] {
        [subject, queue] if subscribe => {
            if !valid_subject(subject) {
                Some(bad_subject(subject))
            } else if !valid_subject(queue) {
                Some(format!(
                    "queue {} is not a valid queue",
                    go_quote(queue.as_bytes())
                ))
            } else {
                None
            }
        }
        _ => Some(bad_subject(entry)),
    }
}

/// A subject or an array of subjects; `None` for an empty array, which Go reads as no list
/// (`parseSubjects`). Errors about the value itself carry a position only inside an
/// `allow`/`deny` map, as in Go.
fn subjects(
    item: &Item,
    subscribe: bool,
    positioned: bool,
) -> Result<Option<Vec<String>>, KeyError> {
    let err = |msg: String| {
        if positioned {
            KeyError::at(item, msg)
        } else {
            KeyError::Bare(msg)
        }
    };
    let list = match &item.value {
        Value::Str(s) => vec![s.clone()],
        Value::Array(items) => {
            let mut list = Vec::with_capacity(items.len());
            for i in items {
                let Value::Str(s) = &i.value else {
                    let msg = "Subject in permissions array cannot be cast to string".into();
                    return Err(KeyError::at(i, msg));
                };
                list.push(s.clone());
            }
            list
        }
        v => {
            return Err(err(format!(
                "Expected subject permissions to be a subject, or array of subjects, got {}",
                go_type(v)
            )))
        }
    };
    if let Some(msg) = list.iter().find_map(|e| invalid_entry(e, subscribe)) {
        return Err(err(msg));
    }
    Ok((!list.is_empty()).then_some(list))
}

/// `allow_responses: true | false | { max, expires }` (`parseAllowResponses`): zero keeps
/// the default, a negative value means unlimited.
fn responses(item: &Item) -> Result<Option<ResponsePermission>, KeyError> {
    let fields = match &item.value {
        Value::Bool(true) => return Ok(Some(ResponsePermission::default())),
        Value::Bool(false) => return Ok(None),
        Value::Map(fields) => fields,
        _ => {
            let msg = "error parsing response permissions, expected a boolean or a map".into();
            return Err(KeyError::at(item, msg));
        }
    };
    let mut rp = ResponsePermission::default();
    for (k, item) in fields {
        match k.to_ascii_lowercase().as_str() {
            "max" | "max_msgs" | "max_messages" | "max_responses" => {
                let Value::Int(n) = item.value else {
                    let msg = format!(
                        "interface conversion: interface {{}} is {}, not int64",
                        go_type(&item.value)
                    );
                    return Err(KeyError::at(item, msg));
                };
                if n != 0 {
                    rp.max_msgs = u64::try_from(n).ok();
                }
            }
            "expires" | "expiration" | "ttl" => {
                let Value::Str(s) = &item.value else {
                    let msg = "error parsing expires, not a duration string".into();
                    return Err(KeyError::at(item, msg));
                };
                let (negative, magnitude) = match s.strip_prefix('-') {
                    Some(rest) => (true, rest),
                    None => (false, s.as_str()),
                };
                let Some(d) = parse_duration(magnitude) else {
                    let msg = format!(
                        "error parsing expires: time: invalid duration {}",
                        go_quote(s.as_bytes())
                    );
                    return Err(KeyError::at(item, msg));
                };
                if !d.is_zero() {
                    rp.expires = (!negative).then_some(d);
                }
            }
            _ => return Err(unknown_permission_field(k, item)),
        }
    }
    Ok(Some(rp))
}

#[cfg(test)]
mod tests {
    use crate::config::{Config, UserConfig};
    use crate::config_file::load_str;
    use crate::permissions::{Permissions, ResponsePermission, SubjectPermission};
    use std::time::Duration;

    const NKEY: &str = "UDXU4RCSJNZOIQHZNWXHXORDPRTGNJAHAHFRGZNEEJCPQTT2M7NLCNF4";

    fn load(text: &str) -> Result<Config, String> {
        let mut cfg = Config::default();
        load_str(text, &mut cfg, false)
            .map(|_| cfg)
            .map_err(|e| e.0)
    }

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn users_tokens_and_timeouts() {
        let c = load("authorization {\n  users: [ {user: a, password: pa}, {username: b, pass: \"$2a$04$x\"} ]\n  timeout: 0.5\n}\nno_auth_user: a\n").unwrap();
        assert_eq!(c.auth.users.len(), 2);
        assert_eq!(c.auth.users[1].user, "b");
        assert_eq!(c.auth.timeout, Some(Duration::from_millis(500)));
        assert_eq!(c.auth.no_auth_user.as_deref(), Some("a"));
        let c = load("authorization { token: \"s3cr3t\", timeout: \"3s\" }\n").unwrap();
        assert_eq!(c.auth.token.as_deref(), Some("s3cr3t"));
        assert_eq!(c.auth.timeout, Some(Duration::from_secs(3)));
        let c = load("authorization { user: u, password: p }\n").unwrap();
        assert_eq!(
            c.auth.users,
            vec![UserConfig {
                user: "u".into(),
                password: "p".into(),
                ..UserConfig::default()
            }]
        );
    }

    #[test]
    fn permissions_forms() {
        let c = load(&format!(
            "authorization {{\n  default_permissions: {{ publish: \"pub.>\" }}\n  users: [\n    {{user: a, password: a, permissions: {{publish: {{allow: [\"foo.*\"], deny: \"foo.bad\"}}, subscribe: [\"foo.>\", \"q.* grp\"], allow_responses: {{max: 3, expires: \"1m\"}}}}}}\n    {{user: d, password: d}}\n    {{nkey: {NKEY}, permissions: {{pub: [], sub: {{}}, allow_responses: true}}}}\n  ]\n}}\n"
        ))
        .unwrap();
        let a = c.auth.users[0].permissions.clone().unwrap();
        assert_eq!(
            a,
            Permissions {
                publish: Some(SubjectPermission {
                    allow: Some(strings(&["foo.*"])),
                    deny: strings(&["foo.bad"]),
                }),
                subscribe: Some(SubjectPermission {
                    allow: Some(strings(&["foo.>", "q.* grp"])),
                    deny: vec![],
                }),
                response: Some(ResponsePermission {
                    max_msgs: Some(3),
                    expires: Some(Duration::from_secs(60)),
                }),
            }
        );
        let d = c.auth.users[1].permissions.clone().unwrap();
        assert_eq!(d.publish.unwrap().allow, Some(strings(&["pub.>"])));
        let n = &c.auth.nkeys[0];
        assert_eq!(n.nkey, NKEY);
        let n = n.permissions.clone().unwrap();
        // An empty list or map is no list at all, as in Go.
        assert_eq!(
            n.publish,
            Some(SubjectPermission {
                allow: None,
                deny: vec![]
            })
        );
        assert_eq!(n.subscribe, None);
        assert_eq!(n.response, Some(ResponsePermission::default()));
        // `permissions` next to a single user are defaults for a users array only.
        let c =
            load("authorization {\n  user: a\n  password: a\n  permissions: { publish: x }\n}\n")
                .unwrap();
        assert_eq!(c.auth.users[0].permissions, None);
        let c = load("authorization {\n  users: [ {user: a, password: a, permissions: {allow_responses: {max: -1, expires: \"-1s\"}}} ]\n}\n").unwrap();
        let r = c.auth.users[0]
            .permissions
            .clone()
            .unwrap()
            .response
            .unwrap();
        assert_eq!((r.max_msgs, r.expires), (None, None));
    }

    /// Error texts and positions as nats-server 2.15.1 prints them for the same files
    /// (`nats-server -t -c`).
    #[test]
    fn go_errors() {
        let cases: &[(&str, &str)] = &[
            ("authorization {\n  foo: 1\n}\n", "<text>:2:3: unknown field \"foo\""),
            ("authorization {\n  users = [\n    {user: a, password: a, foo: 1}\n  ]\n}\n", "<text>:3:28: unknown field \"foo\""),
            ("authorization {\n  users = [\n    {user: a, password: a,\n     permissions: {\n       publish: {bad: 1}\n       }\n    }\n  ]\n}\n", "<text>:5:18: Unknown field name \"bad\" parsing subject permissions, only 'allow' or 'deny' are permitted"),
            ("authorization {\n  users = [\n    {user: a, password: a,\n     permissions: \"x\"\n    }\n  ]\n}\n", "<text>:4:6: Expected permissions to be a map/struct, got x"),
            ("authorization {\n  users = [\n    {user: a, password: a,\n     permissions: {\n       allow_responses: {\n          expires: 5\n       }\n     }\n    }\n  ]\n}\n", "<text>:6:11: error parsing expires, not a duration string"),
            ("authorization {\n  users = [\n    {user: a, password: a}\n    {user: b}\n    x\n  ]\n}\n", "<text>:5:5: Expected user entry to be a map/struct, got x"),
            ("authorization {\n  users = [\n    {password: a}\n  ]\n}\n", "<text>:3:6: User entry requires a user"),
            ("authorization {\n  users = [\n    {nkey: \"UABC\"}\n  ]\n}\n", "<text>:3:6: Not a valid public nkey for a user"),
            ("port: 1\nauthorization {\n  user: a\n  token: b\n}\n", "<text>:2:1: Cannot have a user/pass and token"),
            ("port: 1\nauthorization {\n  user: x\n  password: y\n  users = []\n}\n", "<text>:2:1: Can not have a single user/pass and a users array"),
            ("port: 1\nauthorization {\n  token: x\n  users = [ {user: a, password: a} ]\n}\n", "<text>:2:1: Can not have a token and a users array"),
            ("port: 1\nauthorization {\n  users = [ {user: a, password: a}, {user: a, password: b} ]\n}\n", "<text>:2:1: Duplicate user \"a\" detected"),
            ("authorization {\n  users = [ {user: a, password: a, permissions: {publish: 1}} ]\n}\n", "Expected subject permissions to be a subject, or array of subjects, got int64"),
            ("authorization {\n  users = [ {user: a, password: a, permissions: {publish: \"foo..bar\"}} ]\n}\n", "subject \"foo..bar\" is not a valid subject"),
            ("authorization {\n  users = [ {user: a, password: a, permissions: {publish: \"foo baz\"}} ]\n}\n", "subject \"foo baz\" is not a valid subject"),
            ("authorization {\n  users = [ {user: a, password: a, permissions: {subscribe: \"foo bar baz\"}} ]\n}\n", "subject \"foo bar baz\" is not a valid subject"),
            ("authorization {\n  users = [ {user: a, password: a, permissions: {subscribe: \"foo baz..x\"}} ]\n}\n", "queue \"baz..x\" is not a valid queue"),
            ("authorization {\n  users = [ {user: a, password: a, permissions: {publish: {deny: [\"a\", \"b..c\"]}}} ]\n}\n", "<text>:2:60: subject \"b..c\" is not a valid subject"),
            ("authorization {\n  users = [ {user: a, password: a, permissions: {publish: [true]}} ]\n}\n", "<text>:2:60: Subject in permissions array cannot be cast to string"),
            ("authorization {\n  users = [ {user: a, password: a, permissions: {allow_responses: {max: 2.5}}} ]\n}\n", "<text>:2:68: interface conversion: interface {} is float64, not int64"),
        ];
        for (text, want) in cases {
            assert_eq!(load(text).unwrap_err(), *want, "{text}");
        }
        let e = load("authorization {\n  users = [ {user: a, password: a, permissions: {allow_responses: {expires: \"x\"}}} ]\n}\n").unwrap_err();
        assert!(
            e.ends_with("error parsing expires: time: invalid duration \"x\""),
            "{e}"
        );
        let e = load(&format!(
            "authorization {{\n  users = [ {{nkey: {NKEY}}}, {{nkey: {NKEY}}} ]\n}}\n"
        ))
        .unwrap_err();
        assert!(
            e.ends_with(&format!("Duplicate nkey \"{NKEY}\" detected")),
            "{e}"
        );
        let e = load(&format!(
            "authorization {{\n  users = [ {{nkey: {NKEY}, user: a}} ]\n}}\n"
        ))
        .unwrap_err();
        assert!(
            e.ends_with("Nkey users do not take usernames or passwords"),
            "{e}"
        );
    }
}
