//! Operator mode: the trusted operators, the account JWTs the resolver knows, and the check of
//! a client's user JWT at CONNECT (`auth.go` `processClientOrLeafAuthentication`, its JWT
//! branch; `accounts.go` `checkUserRevoked`, `jwt.go` `validateSrc`, `validateTimes`,
//! `client.go` `applyAccountLimits`, `setExpiration`).
//!
//! Every refusal is an `Authorization Violation` on the wire; [`Refusal`] says which check
//! failed, in the words of Go's debug log.

use std::collections::HashMap;
use std::fmt;
use std::net::IpAddr;
use std::time::Duration;

use nkeys::KeyPairType;

use super::claims::{
    AccountClaims, OperatorClaims, Permission, Permissions as JwtPermissions, UserClaims,
    UserPermissionLimits, NO_LIMIT,
};
use super::{decode, is_public_key, JwtError};
use crate::permissions::{Permissions, ResponsePermission, SubjectPermission};

/// `allowed_connection_types` values of the NATS client protocol (`jwt.ConnectionType*`).
pub const CONNECTION_TYPE_STANDARD: &str = "STANDARD";
pub const CONNECTION_TYPE_WEBSOCKET: &str = "WEBSOCKET";
pub const CONNECTION_TYPE_LEAFNODE: &str = "LEAFNODE";

/// Seconds in a day, for connect time windows.
const DAY_SECS: i64 = 24 * 3600;

/// How a client reached the server, for `allowed_connection_types`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectionType {
    Standard,
    Websocket,
    /// A leaf node logging in to its hub.
    Leafnode,
}

impl ConnectionType {
    fn name(self) -> &'static str {
        match self {
            ConnectionType::Standard => CONNECTION_TYPE_STANDARD,
            ConnectionType::Websocket => CONNECTION_TYPE_WEBSOCKET,
            ConnectionType::Leafnode => CONNECTION_TYPE_LEAFNODE,
        }
    }
}

/// Why a user JWT was refused, for the log; the client is told `Authorization Violation`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    NoJwt,
    BadJwt(JwtError),
    /// The user JWT fails validation (expired, not yet valid, malformed content).
    Invalid(String),
    ConnectionType,
    UnknownAccount,
    /// The account JWT fails validation or names another account than the one looked up.
    AccountInvalid,
    UntrustedAccount,
    UnknownIssuer,
    /// A user signed by a scoped key carries its own permissions or limits.
    ScopedUser,
    Bearer,
    NoSignature,
    BadSignature,
    Revoked,
    Source,
    Times,
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::NoJwt => f.write_str("Authentication requires a user JWT"),
            Refusal::BadJwt(e) => write!(f, "User JWT not valid: {e}"),
            Refusal::Invalid(e) => write!(f, "User JWT no longer valid: {e}"),
            Refusal::ConnectionType => f.write_str("Connection type not allowed"),
            Refusal::UnknownAccount => f.write_str("Account JWT lookup error: missing account"),
            Refusal::AccountInvalid => {
                f.write_str("Account JWT lookup error: account validation failed")
            }
            Refusal::UntrustedAccount => f.write_str("Account JWT not signed by trusted operator"),
            Refusal::UnknownIssuer => f.write_str("User JWT issuer is not known"),
            Refusal::ScopedUser => f.write_str(
                "User JWT is not valid: scoped users require no permissions or limits set",
            ),
            Refusal::Bearer => f.write_str("Account does not allow bearer tokens"),
            Refusal::NoSignature => f.write_str("Signature missing"),
            Refusal::BadSignature => f.write_str("Signature not verified"),
            Refusal::Revoked => f.write_str("User authentication revoked"),
            Refusal::Source => f.write_str("Bad src Ip"),
            Refusal::Times => f.write_str("Outside connect times"),
        }
    }
}

/// Operator mode settings (`operator`, `resolver`, `resolver_preload`): operator mode is on
/// when `operators` is not empty.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OperatorConfig {
    /// The trusted operators, decoded and self-consistent.
    pub operators: Vec<OperatorClaims>,
    /// `resolver: MEMORY` was given (the only resolver Riptide has).
    pub memory_resolver: bool,
    /// `resolver_preload`: account JWTs by the public key they are stored under, decoded
    /// and signed by their issuer; whether that issuer is trusted is checked at login, as Go
    /// does.
    pub preload: Vec<(String, AccountClaims)>,
}

impl OperatorConfig {
    pub fn enabled(&self) -> bool {
        !self.operators.is_empty()
    }

    /// The trust these settings describe.
    pub fn trust(&self) -> Trust {
        Trust::new(&self.operators, self.preload.iter().cloned())
    }
}

/// The operators trusted and the accounts known, ready to check user JWTs.
#[derive(Debug, Clone, Default)]
pub struct Trust {
    /// Operator identity and signing keys (Go's expanded `TrustedKeys`).
    keys: Vec<String>,
    /// Account JWTs by the public key they were stored under (the `MEMORY` resolver).
    accounts: HashMap<String, AccountClaims>,
}

/// What CONNECT presents, and where from.
#[derive(Debug, Clone, Copy)]
pub struct Presented<'a> {
    pub jwt: Option<&'a str>,
    pub sig: Option<&'a str>,
    /// The nonce this connection's INFO carried.
    pub nonce: Option<&'a str>,
    pub kind: ConnectionType,
    /// The client's address, for `src`.
    pub ip: Option<IpAddr>,
}

/// The clock of a check: Unix seconds, and seconds since local midnight for connect time
/// windows without a `times_location`.
#[derive(Debug, Clone, Copy)]
pub struct Now {
    pub unix: i64,
    pub local_secs_of_day: i64,
}

impl Now {
    /// The system clock, with the local time zone (`time.Local`).
    pub fn system() -> Now {
        let unix = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64);
        let t = unix as libc::time_t;
        // SAFETY: `localtime_r` only reads `t` and writes the `tm` it is given.
        let mut tm: libc::tm = unsafe { std::mem::zeroed() };
        let local = unsafe { !libc::localtime_r(&t, &mut tm).is_null() };
        let local_secs_of_day = if local {
            i64::from(tm.tm_hour) * 3600 + i64::from(tm.tm_min) * 60 + i64::from(tm.tm_sec)
        } else {
            unix.rem_euclid(DAY_SECS)
        };
        Now {
            unix,
            local_secs_of_day,
        }
    }
}

/// A user logged in with a JWT.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JwtLogin {
    /// The account's public key.
    pub account: String,
    /// The user's public key.
    pub user: String,
    /// The user JWT's `name`.
    pub name: String,
    /// The account signing key that issued the user JWT, when not the account's own key.
    pub signing_key: Option<String>,
    /// `None`: no user permissions and no account `default_permissions`.
    pub permissions: Option<Permissions>,
    /// Most subscriptions of this connection, the smaller of the user's and the account's.
    pub max_subs: Option<usize>,
    /// Largest payload of this connection, the smaller of the user's and the account's; the
    /// server's `max_payload` still applies on top.
    pub max_payload: Option<usize>,
    /// Most connections of the account (`conn`), checked when the connection joins it.
    pub account_max_connections: Option<usize>,
    /// When the login runs out (JWT `exp`, or the end of its connect time window): the
    /// connection is then closed with `User Authentication Expired`.
    pub expires_in: Option<Duration>,
}

/// A JWT limit: -1 (`NoLimit`) is none; other negative values allow nothing.
fn limit(n: i64) -> Option<usize> {
    (n != NO_LIMIT).then(|| usize::try_from(n).unwrap_or(0))
}

/// The smaller of two limits, `None` being unlimited (`minLimit`).
fn min_limit(a: Option<usize>, b: Option<usize>) -> Option<usize> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// JWT permissions as the server's (`buildPermissionsFromJwt`): a direction only when it
/// lists something, an allow list only when non-empty; `resp` zero values take the defaults
/// and negative ones mean unlimited (`validateResponsePermissions`).
pub fn permissions(p: &JwtPermissions) -> Option<Permissions> {
    let direction = |d: &Permission| {
        (!d.allow.is_empty() || !d.deny.is_empty()).then(|| SubjectPermission {
            allow: (!d.allow.is_empty()).then(|| d.allow.clone()),
            deny: d.deny.clone(),
        })
    };
    let response = p.resp.as_ref().map(|r| {
        let d = ResponsePermission::default();
        ResponsePermission {
            max_msgs: match r.max {
                0 => d.max_msgs,
                n => u64::try_from(n).ok(),
            },
            expires: match r.ttl {
                0 => d.expires,
                n => u64::try_from(n).ok().map(Duration::from_nanos),
            },
        }
    });
    let out = Permissions {
        publish: direction(&p.publish),
        subscribe: direction(&p.subscribe),
        response,
    };
    (out != Permissions::default()).then_some(out)
}

/// Go's `Subject.Validate`.
fn subject_issue(s: &str) -> Option<String> {
    if s.is_empty() {
        Some("subject cannot be empty".into())
    } else if s.contains(' ') {
        Some(format!("subject {s:?} cannot have spaces"))
    } else if s.starts_with('.') || s.ends_with('.') {
        Some(format!("subject {s:?} cannot start or end with a `.`"))
    } else if s.contains("..") {
        Some(format!("subject {s:?} cannot contain consecutive `.`"))
    } else {
        None
    }
}

/// Go's `checkPermission` of one entry; queue groups only in subscribe entries.
fn permission_issue(entry: &str, queue_ok: bool) -> Option<String> {
    let tokens: Vec<&str> = entry.split(' ').collect();
    match tokens[..] {
        [s] => subject_issue(s),
        [s, q] => subject_issue(s).or_else(|| subject_issue(q)).or_else(|| {
            (!queue_ok)
                .then(|| format!("Permission Subject \"{entry}\" is not allowed to contain queue"))
        }),
        _ => Some(format!(
            "Permission Subject \"{entry}\" contains too many spaces"
        )),
    }
}

/// A CIDR block (`net.ParseCIDR`): the network and its prefix length.
fn parse_cidr(s: &str) -> Option<(IpAddr, u8)> {
    let (ip, bits) = s.split_once('/')?;
    let ip: IpAddr = ip.parse().ok()?;
    let bits: u8 = bits.parse().ok()?;
    let max = if ip.is_ipv4() { 32 } else { 128 };
    (bits <= max).then_some((ip, bits))
}

fn ip_bits(ip: IpAddr) -> (u128, u8) {
    match ip {
        IpAddr::V4(v4) => (u128::from(u32::from(v4)) << 96, 32),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => (u128::from(u32::from(v4)) << 96, 32),
            None => (u128::from(v6), 128),
        },
    }
}

/// Whether `cidr` contains `ip` (`IPNet.Contains`: IPv4 in IPv6 form counts as IPv4).
fn cidr_contains((net, bits): (IpAddr, u8), ip: IpAddr) -> bool {
    let ((n, n_len), (a, a_len)) = (ip_bits(net), ip_bits(ip));
    if n_len != a_len {
        return false;
    }
    let mask = if bits == 0 {
        0
    } else {
        u128::MAX << (128 - u32::from(bits))
    };
    n & mask == a & mask
}

/// `HH:MM:SS` as seconds of the day (`time.Parse("15:04:05")`).
fn clock_secs(s: &str) -> Option<i64> {
    let mut parts = s.split(':');
    let mut field = |max: i64| -> Option<i64> {
        let p = parts.next()?;
        if p.len() != 2 {
            return None;
        }
        p.parse::<i64>().ok().filter(|v| (0..=max).contains(v))
    };
    let secs = field(23)? * 3600 + field(59)? * 60 + field(59)?;
    parts.next().is_none().then_some(secs)
}

/// Validation of a user JWT at `now` (`UserClaims.Validate`, blocking issues only).
fn validate_user(u: &UserClaims, now: i64) -> Result<(), String> {
    if let Some(issue) = u.claims.time_issue(now) {
        return Err(issue.into());
    }
    let p = &u.nats.limits.permissions;
    let pubs = p
        .publish
        .allow
        .iter()
        .chain(&p.publish.deny)
        .map(|e| (e, false));
    let subs = p
        .subscribe
        .allow
        .iter()
        .chain(&p.subscribe.deny)
        .map(|e| (e, true));
    if let Some(issue) = pubs.chain(subs).find_map(|(e, q)| permission_issue(e, q)) {
        return Err(issue);
    }
    let l = &u.nats.limits.limits;
    if let Some(bad) = l.src.iter().find(|c| parse_cidr(c).is_none()) {
        return Err(format!("invalid cidr {bad:?} in user src limits"));
    }
    for t in &l.times {
        if clock_secs(&t.start).is_none() {
            return Err(format!("start in time range is invalid {:?}", t.start));
        }
        if clock_secs(&t.end).is_none() {
            return Err(format!("end in time range is invalid {:?}", t.end));
        }
    }
    let issuer_account = &u.nats.issuer_account;
    if !issuer_account.is_empty() && !is_public_key(issuer_account, KeyPairType::Account) {
        return Err("account_id is not an account public key".into());
    }
    Ok(())
}

/// The connect time windows (`validateTimes`): whether `now` is inside one, and for how much
/// longer. A window whose start is after its end runs past midnight, but only from the start
/// on, as in Go.
fn within_times(l: &super::claims::UserLimits, now: &Now) -> Result<Option<Duration>, Refusal> {
    if l.times.is_empty() {
        return Ok(None);
    }
    let secs_of_day = match l.locale.as_str() {
        "" | "Local" => now.local_secs_of_day,
        "UTC" => now.unix.rem_euclid(DAY_SECS),
        // Riptide has no time zone database to place other locations.
        _ => return Err(Refusal::Times),
    };
    for t in &l.times {
        let (Some(start), Some(end)) = (clock_secs(&t.start), clock_secs(&t.end)) else {
            return Err(Refusal::Times);
        };
        let end = if start > end { end + DAY_SECS } else { end };
        if start < secs_of_day && end > secs_of_day {
            return Ok(Some(Duration::from_secs((end - secs_of_day) as u64)));
        }
    }
    Err(Refusal::Times)
}

/// `setExpiration`: the JWT's expiry or the end of the time window, whichever comes first.
fn expires_in(exp: i64, window: Option<Duration>, now: i64) -> Option<Duration> {
    if exp == 0 {
        return window;
    }
    let until_exp = Duration::from_secs(u64::try_from(exp - now).unwrap_or(0));
    Some(match window {
        Some(w) if w < until_exp => w,
        _ => until_exp,
    })
}

/// Replaces a scoped signing key's template macros in one list (`processUserPermissionsTemplate`
/// without the tag macros): entries that become invalid subjects are dropped from allow lists
/// and refuse the login in deny lists.
fn apply_template(
    list: &[String],
    u: &UserClaims,
    account_name: &str,
    deny: bool,
) -> Result<Vec<String>, Refusal> {
    let mut out = Vec::with_capacity(list.len());
    for entry in list {
        let tokens: Vec<String> = entry
            .split('.')
            .map(
                |tk| match tk.strip_prefix("{{").and_then(|t| t.strip_suffix("}}")) {
                    Some(op) => match op.to_lowercase().as_str() {
                        "name()" => u.claims.name.clone(),
                        "subject()" => u.claims.subject.clone(),
                        "account-name()" => account_name.to_string(),
                        "account-subject()" => u.nats.issuer_account.clone(),
                        // Unknown macros (tag macros included) make the subject invalid on purpose.
                        _ => " ".to_string(),
                    },
                    None => tk.to_string(),
                },
            )
            .collect();
        let subject = tokens.join(".");
        if crate::subject::is_valid_subscription(subject.as_bytes()) && !subject.contains(' ') {
            out.push(subject);
        } else if deny {
            return Err(Refusal::ScopedUser);
        }
    }
    Ok(out)
}

fn template(
    scope: &UserPermissionLimits,
    u: &UserClaims,
    account_name: &str,
) -> Result<UserPermissionLimits, Refusal> {
    let mut lim = scope.clone();
    let p = &mut lim.permissions;
    let had_sub_allow = !p.subscribe.allow.is_empty();
    let had_pub_allow = !p.publish.allow.is_empty();
    p.subscribe.allow = apply_template(&p.subscribe.allow, u, account_name, false)?;
    p.subscribe.deny = apply_template(&p.subscribe.deny, u, account_name, true)?;
    p.publish.allow = apply_template(&p.publish.allow, u, account_name, false)?;
    p.publish.deny = apply_template(&p.publish.deny, u, account_name, true)?;
    // An allow list emptied by the templates denies everything rather than nothing.
    if had_sub_allow && p.subscribe.allow.is_empty() && !p.subscribe.deny.iter().any(|d| d == ">") {
        p.subscribe.deny.push(">".into());
    }
    if had_pub_allow && p.publish.allow.is_empty() && !p.publish.deny.iter().any(|d| d == ">") {
        p.publish.deny.push(">".into());
    }
    Ok(lim)
}

impl Trust {
    /// Trusts `operators` (their own keys and signing keys) and knows `accounts`, each under
    /// the public key it was stored with.
    pub fn new<'a>(
        operators: impl IntoIterator<Item = &'a OperatorClaims>,
        accounts: impl IntoIterator<Item = (String, AccountClaims)>,
    ) -> Trust {
        let keys = operators
            .into_iter()
            .flat_map(|o| std::iter::once(&o.claims.issuer).chain(&o.nats.signing_keys))
            .cloned()
            .collect();
        Trust {
            keys,
            accounts: accounts.into_iter().collect(),
        }
    }

    /// Whether an operator key or operator signing key is trusted (`isTrustedIssuer`).
    pub fn trusts(&self, issuer: &str) -> bool {
        self.keys.iter().any(|k| k == issuer)
    }

    /// The account stored under `key`, when it is valid at `now` (`fetchAccountClaims`,
    /// `verifyAccountClaims`).
    pub fn account(&self, key: &str, now: i64) -> Result<&AccountClaims, Refusal> {
        let acc = self.accounts.get(key).ok_or(Refusal::UnknownAccount)?;
        if !self.trusts(&acc.claims.issuer) {
            return Err(Refusal::UntrustedAccount);
        }
        if acc.claims.subject != key || acc.claims.time_issue(now).is_some() {
            return Err(Refusal::AccountInvalid);
        }
        Ok(acc)
    }

    /// Checks a CONNECT's user JWT, in the order of Go's checks.
    pub fn login(&self, c: &Presented<'_>, now: &Now) -> Result<JwtLogin, Refusal> {
        let token = c.jwt.filter(|j| !j.is_empty()).ok_or(Refusal::NoJwt)?;
        let mut user: UserClaims = decode(token).map_err(Refusal::BadJwt)?;
        validate_user(&user, now.unix).map_err(Refusal::Invalid)?;
        connection_type_allowed(&user.nats.limits.allowed_connection_types, c.kind)?;
        let issuer = &user.claims.issuer;
        let account_key = match user.nats.issuer_account.as_str() {
            "" => issuer.clone(),
            a => a.to_string(),
        };
        let acc = self.account(&account_key, now.unix)?;
        let signing_key = (issuer != &acc.claims.subject).then(|| issuer.clone());
        if let Some(key) = &signing_key {
            match acc.nats.signing_keys.get(key) {
                None => return Err(Refusal::UnknownIssuer),
                Some(None) => {}
                Some(Some(scope)) => {
                    if !user.nats.limits.is_empty() {
                        return Err(Refusal::ScopedUser);
                    }
                    user.nats.limits = template(&scope.template, &user, &acc.claims.name)?;
                }
            }
        }
        let lim = &user.nats.limits;
        if lim.bearer_token && acc.nats.limits.disallow_bearer {
            return Err(Refusal::Bearer);
        }
        if !lim.bearer_token {
            let sig = c
                .sig
                .filter(|s| !s.is_empty())
                .ok_or(Refusal::NoSignature)?;
            let nonce = c.nonce.ok_or(Refusal::BadSignature)?;
            if !crate::auth::nonce_signed(&user.claims.subject, sig, nonce.as_bytes()) {
                return Err(Refusal::BadSignature);
            }
        }
        if acc.user_revoked(&user.claims.subject, user.claims.issued_at) {
            return Err(Refusal::Revoked);
        }
        if !lim.limits.src.is_empty() {
            let ip = c.ip.ok_or(Refusal::Source)?;
            let inside = lim
                .limits
                .src
                .iter()
                .filter_map(|s| parse_cidr(s))
                .any(|n| cidr_contains(n, ip));
            if !inside {
                return Err(Refusal::Source);
            }
        }
        let window = within_times(&lim.limits, now)?;
        let acc_limits = &acc.nats.limits;
        Ok(JwtLogin {
            account: account_key,
            user: user.claims.subject.clone(),
            name: user.claims.name.clone(),
            signing_key,
            permissions: permissions(&lim.permissions)
                .or_else(|| permissions(&acc.nats.default_permissions)),
            max_subs: min_limit(limit(lim.limits.subs), limit(acc_limits.subs)),
            max_payload: min_limit(limit(lim.limits.payload), limit(acc_limits.payload)),
            account_max_connections: limit(acc_limits.conn),
            expires_in: expires_in(user.claims.expires, window, now.unix),
        })
    }
}

/// `convertAllowedConnectionTypes` and `connectionTypeAllowed`: an empty list allows every
/// type, names are compared in upper case, and unknown names allow nothing.
fn connection_type_allowed(allowed: &[String], kind: ConnectionType) -> Result<(), Refusal> {
    if allowed.is_empty() || allowed.iter().any(|t| t.to_uppercase() == kind.name()) {
        Ok(())
    } else {
        Err(Refusal::ConnectionType)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jwt::claims::{
        ResponsePermission as JwtResp, TimeRange, UserScope, USER_SCOPE_KIND,
    };
    use crate::jwt::testkit::{self, unix_now};

    const NOW_SECS_OF_DAY: i64 = 12 * 3600;

    fn now() -> Now {
        Now {
            unix: unix_now(),
            local_secs_of_day: NOW_SECS_OF_DAY,
        }
    }

    struct World {
        op: testkit::Operator,
        acc: testkit::Account,
        user: testkit::User,
        nonce: String,
    }

    impl World {
        fn new() -> World {
            World {
                op: testkit::Operator::new("op"),
                acc: testkit::Account::new("acc"),
                user: testkit::User::new("u"),
                nonce: crate::auth::new_nonce(),
            }
        }

        fn trust(&self) -> Trust {
            let jwt = self.op.sign_account(&self.acc.claims());
            let claims: AccountClaims = decode(&jwt).unwrap();
            let op: OperatorClaims = decode(&self.op.jwt()).unwrap();
            Trust::new([&op], [(self.acc.public_key(), claims)])
        }

        fn login_with(
            &self,
            jwt: &str,
            key: &nkeys::KeyPair,
            kind: ConnectionType,
        ) -> Result<JwtLogin, Refusal> {
            let sig =
                data_encoding::BASE64URL_NOPAD.encode(&key.sign(self.nonce.as_bytes()).unwrap());
            let c = Presented {
                jwt: Some(jwt),
                sig: Some(&sig),
                nonce: Some(&self.nonce),
                kind,
                ip: Some("127.0.0.1".parse().unwrap()),
            };
            self.trust().login(&c, &now())
        }

        fn login(&self, jwt: &str) -> Result<JwtLogin, Refusal> {
            self.login_with(jwt, self.user.key_pair(), ConnectionType::Standard)
        }
    }

    #[test]
    fn account_signed_user_logs_in() {
        let w = World::new();
        let jwt = w.acc.sign_user(&w.user.claims());
        let l = w.login(&jwt).unwrap();
        assert_eq!(l.account, w.acc.public_key());
        assert_eq!(l.user, w.user.public_key());
        assert_eq!((l.name.as_str(), l.signing_key), ("u", None));
        assert_eq!(
            (l.permissions, l.max_subs, l.max_payload),
            (None, None, None)
        );
        assert_eq!((l.account_max_connections, l.expires_in), (None, None));
        // Signed with another user's key, or over another nonce.
        let other = nkeys::KeyPair::new_user();
        assert_eq!(
            w.login_with(&jwt, &other, ConnectionType::Standard),
            Err(Refusal::BadSignature)
        );
        let c = Presented {
            jwt: Some(&jwt),
            sig: None,
            nonce: Some(&w.nonce),
            kind: ConnectionType::Standard,
            ip: None,
        };
        assert_eq!(w.trust().login(&c, &now()), Err(Refusal::NoSignature));
        let c = Presented { jwt: None, ..c };
        assert_eq!(w.trust().login(&c, &now()), Err(Refusal::NoJwt));
        let c = Presented {
            jwt: Some("x.y.z"),
            ..c
        };
        assert!(matches!(
            w.trust().login(&c, &now()),
            Err(Refusal::BadJwt(_))
        ));
    }

    #[test]
    fn issuers_must_chain_to_the_operator() {
        let mut w = World::new();
        // A user of an account nobody preloaded.
        let stranger = testkit::Account::new("x");
        assert_eq!(
            w.login(&stranger.sign_user(&w.user.claims())),
            Err(Refusal::UnknownAccount)
        );
        // An account signed by another operator.
        let other_op = testkit::Operator::new("other");
        let acc_jwt = other_op.sign_account(&w.acc.claims());
        let op: OperatorClaims = decode(&w.op.jwt()).unwrap();
        let trust = Trust::new([&op], [(w.acc.public_key(), decode(&acc_jwt).unwrap())]);
        assert_eq!(
            trust.account(&w.acc.public_key(), unix_now()).unwrap_err(),
            Refusal::UntrustedAccount
        );
        // Stored under another key than its subject.
        let trust = Trust::new(
            [&op],
            [(
                stranger.public_key(),
                decode(&w.op.sign_account(&w.acc.claims())).unwrap(),
            )],
        );
        assert_eq!(
            trust
                .account(&stranger.public_key(), unix_now())
                .unwrap_err(),
            Refusal::AccountInvalid
        );
        // A user signed by a signing key the account does not list.
        let rogue = nkeys::KeyPair::new_account();
        let mut claims = w.user.claims();
        claims.nats.issuer_account = w.acc.public_key();
        assert_eq!(
            w.login(&testkit::encode(&claims, &rogue)),
            Err(Refusal::UnknownIssuer)
        );
        // Once listed, it may; the login names the account and the key.
        let sk = w.acc.add_signing_key();
        let l = w.login(&testkit::encode(&claims, &sk)).unwrap();
        assert_eq!(l.account, w.acc.public_key());
        assert_eq!(l.signing_key, Some(sk.public_key()));
        // An operator signing key may sign accounts.
        let osk = w.op.add_signing_key();
        let op: OperatorClaims = decode(&w.op.jwt()).unwrap();
        let acc: AccountClaims = decode(&testkit::encode(&w.acc.claims(), &osk)).unwrap();
        let trust = Trust::new([&op], [(w.acc.public_key(), acc)]);
        assert!(trust.account(&w.acc.public_key(), unix_now()).is_ok());
    }

    #[test]
    fn expiry_revocation_and_bearer() {
        let mut w = World::new();
        let mut c = w.user.claims();
        c.claims.expires = unix_now() - 10;
        assert_eq!(
            w.login(&w.acc.sign_user(&c)),
            Err(Refusal::Invalid("claim is expired".into()))
        );
        c.claims.expires = 0;
        c.claims.not_before = unix_now() + 1000;
        assert_eq!(
            w.login(&w.acc.sign_user(&c)),
            Err(Refusal::Invalid("claim is not yet valid".into()))
        );
        c.claims.not_before = 0;
        c.claims.expires = unix_now() + 100;
        let l = w.login(&w.acc.sign_user(&c)).unwrap();
        assert!(l.expires_in.unwrap() <= Duration::from_secs(100));
        // Revoked at or after the issue time.
        c.claims.issued_at = unix_now() - 50;
        let jwt = w.acc.sign_user(&c);
        w.acc
            .claims
            .nats
            .revocations
            .insert(w.user.public_key(), unix_now() - 50);
        assert_eq!(w.login(&jwt), Err(Refusal::Revoked));
        w.acc
            .claims
            .nats
            .revocations
            .insert(w.user.public_key(), unix_now() - 51);
        assert!(w.login(&jwt).is_ok());
        // An expired account lets nobody in.
        w.acc.claims.claims.expires = unix_now() - 1;
        assert_eq!(w.login(&jwt), Err(Refusal::AccountInvalid));
        w.acc.claims.claims.expires = 0;
        // A bearer token needs no signature, unless the account refuses bearers.
        c.nats.limits.bearer_token = true;
        let jwt = w.acc.sign_user(&c);
        let p = Presented {
            jwt: Some(&jwt),
            sig: None,
            nonce: None,
            kind: ConnectionType::Standard,
            ip: None,
        };
        assert!(w.trust().login(&p, &now()).is_ok());
        w.acc.claims.nats.limits.disallow_bearer = true;
        assert_eq!(w.trust().login(&p, &now()), Err(Refusal::Bearer));
    }

    #[test]
    fn connection_types_sources_and_times() {
        let w = World::new();
        let mut c = w.user.claims();
        c.nats.limits.allowed_connection_types = vec!["websocket".into()];
        let jwt = w.acc.sign_user(&c);
        assert_eq!(w.login(&jwt), Err(Refusal::ConnectionType));
        assert!(w
            .login_with(&jwt, w.user.key_pair(), ConnectionType::Websocket)
            .is_ok());
        c.nats.limits.allowed_connection_types = vec!["MQTT".into()];
        let jwt = w.acc.sign_user(&c);
        assert_eq!(
            w.login_with(&jwt, w.user.key_pair(), ConnectionType::Websocket),
            Err(Refusal::ConnectionType)
        );
        c.nats.limits.allowed_connection_types.clear();
        c.nats.limits.limits.src = vec!["10.0.0.0/8".into()];
        assert_eq!(w.login(&w.acc.sign_user(&c)), Err(Refusal::Source));
        c.nats.limits.limits.src.push("127.0.0.0/24".into());
        assert!(w.login(&w.acc.sign_user(&c)).is_ok());
        c.nats.limits.limits.src = vec!["bad".into()];
        assert_eq!(
            w.login(&w.acc.sign_user(&c)),
            Err(Refusal::Invalid(
                "invalid cidr \"bad\" in user src limits".into()
            ))
        );
        c.nats.limits.limits.src.clear();
        let window = |start: &str, end: &str| TimeRange {
            start: start.into(),
            end: end.into(),
        };
        c.nats.limits.limits.times = vec![window("13:00:00", "14:00:00")];
        assert_eq!(w.login(&w.acc.sign_user(&c)), Err(Refusal::Times));
        c.nats
            .limits
            .limits
            .times
            .push(window("11:00:00", "12:30:00"));
        let l = w.login(&w.acc.sign_user(&c)).unwrap();
        assert_eq!(l.expires_in, Some(Duration::from_secs(1800)));
        // Past midnight, counted from the start on.
        c.nats.limits.limits.times = vec![window("11:00:00", "01:00:00")];
        let l = w.login(&w.acc.sign_user(&c)).unwrap();
        assert_eq!(l.expires_in, Some(Duration::from_secs(13 * 3600)));
        c.nats.limits.limits.times = vec![window("25:00:00", "01:00:00")];
        assert!(matches!(
            w.login(&w.acc.sign_user(&c)),
            Err(Refusal::Invalid(_))
        ));
    }

    #[test]
    fn permissions_and_limits() {
        let mut w = World::new();
        let mut c = w.user.claims();
        c.nats.limits.permissions.publish.allow = vec!["a.>".into()];
        c.nats.limits.permissions.subscribe.deny = vec!["b".into()];
        c.nats.limits.permissions.resp = Some(JwtResp { max: 0, ttl: -1 });
        c.nats.limits.limits.subs = 10;
        c.nats.limits.limits.payload = 2048;
        w.acc.claims.nats.limits.subs = 5;
        w.acc.claims.nats.limits.conn = 3;
        let l = w.login(&w.acc.sign_user(&c)).unwrap();
        let p = l.permissions.unwrap();
        assert_eq!(
            p.publish,
            Some(SubjectPermission {
                allow: Some(vec!["a.>".into()]),
                deny: vec![]
            })
        );
        assert_eq!(
            p.subscribe,
            Some(SubjectPermission {
                allow: None,
                deny: vec!["b".into()]
            })
        );
        assert_eq!(
            p.response,
            Some(ResponsePermission {
                max_msgs: Some(1),
                expires: None
            })
        );
        assert_eq!(
            (l.max_subs, l.max_payload, l.account_max_connections),
            (Some(5), Some(2048), Some(3))
        );
        // Without its own permissions a user gets the account's defaults.
        w.acc.claims.nats.default_permissions.subscribe.allow = vec!["x".into()];
        let l = w.login(&w.acc.sign_user(&w.user.claims())).unwrap();
        assert_eq!(
            l.permissions.unwrap().subscribe.unwrap().allow,
            Some(vec!["x".into()])
        );
        // Publish entries may not name a queue.
        c.nats.limits.permissions.publish.allow = vec!["a q".into()];
        assert_eq!(
            w.login(&w.acc.sign_user(&c)),
            Err(Refusal::Invalid(
                "Permission Subject \"a q\" is not allowed to contain queue".into()
            ))
        );
    }

    #[test]
    fn scoped_signing_keys_impose_their_template() {
        let mut w = World::new();
        let sk = nkeys::KeyPair::new_account();
        let mut template = UserPermissionLimits::default();
        template.permissions.publish.allow =
            vec!["in.{{name()}}.>".into(), "bad.{{tag(x)}}".into()];
        template.permissions.subscribe.allow = vec!["{{account-name()}}.{{subject()}}".into()];
        template.limits.subs = 7;
        template.limits.payload = NO_LIMIT;
        let scope = UserScope {
            kind: USER_SCOPE_KIND.into(),
            key: sk.public_key(),
            role: "r".into(),
            template,
        };
        w.acc
            .claims
            .nats
            .signing_keys
            .0
            .insert(sk.public_key(), Some(scope));
        let mut c = w.user.claims();
        c.nats.limits = UserPermissionLimits::default();
        c.nats.issuer_account = w.acc.public_key();
        let l = w.login(&testkit::encode(&c, &sk)).unwrap();
        let p = l.permissions.unwrap();
        assert_eq!(p.publish.unwrap().allow, Some(vec!["in.u.>".to_string()]));
        assert_eq!(
            p.subscribe.unwrap().allow,
            Some(vec![format!("acc.{}", w.user.public_key())])
        );
        assert_eq!((l.max_subs, l.max_payload), (Some(7), None));
        // A scoped user may not bring its own permissions or limits.
        c.nats.limits.limits.subs = 1;
        assert_eq!(w.login(&testkit::encode(&c, &sk)), Err(Refusal::ScopedUser));
    }

    #[test]
    fn cidrs() {
        let net = |s| parse_cidr(s).unwrap();
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert!(cidr_contains(net("192.168.0.0/16"), ip("192.168.3.4")));
        assert!(!cidr_contains(net("192.168.0.0/16"), ip("192.169.3.4")));
        assert!(cidr_contains(net("0.0.0.0/0"), ip("8.8.8.8")));
        assert!(cidr_contains(net("10.0.0.1/32"), ip("::ffff:10.0.0.1")));
        assert!(cidr_contains(net("2001:db8::/32"), ip("2001:db8::1")));
        assert!(!cidr_contains(net("2001:db8::/32"), ip("10.0.0.1")));
        assert!(parse_cidr("10.0.0.0/33").is_none());
        assert!(parse_cidr("10.0.0.0").is_none());
    }
}
