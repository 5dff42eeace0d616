//! Client authentication as the Go server does it without accounts: a token, one user and
//! password, a list of users, or nkey users who sign the INFO nonce; passwords in plain text or
//! as bcrypt hashes; `no_auth_user` for clients that present nothing. A user's permissions
//! are compiled once here and shared by its connections.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use crate::accounts::{AccountId, Accounts, GLOBAL};
use crate::config::{AuthConfig, DEFAULT_AUTH_TIMEOUT};
use crate::conn::ConnectMsg;
use crate::jwt::trust::{ConnectionType, Now, Presented, Trust};
use crate::permissions::UserPermissions;
use crate::transport::cert::CertSubject;

/// Random bytes in a nonce (`nonceRawLen`); base64url without padding makes 15 characters.
const NONCE_RAW_LEN: usize = 11;

/// The outcome of checking a CONNECT.
#[derive(Debug, Clone)]
pub enum Login {
    /// Accepted, as this user (empty for a token, the public key for an nkey user), with its
    /// permissions if it has any.
    User {
        name: String,
        account: AccountId,
        permissions: Option<Arc<UserPermissions>>,
        limits: UserLimits,
    },
    Refused,
}

/// What a user JWT and its account JWT limit a connection to; nothing for other logins.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UserLimits {
    /// Most subscriptions; the server's `max_subscriptions` applies too.
    pub max_subs: Option<usize>,
    /// Largest payload; the server's `max_payload` applies too.
    pub max_payload: Option<usize>,
    /// When the login runs out: the connection is then closed with
    /// `User Authentication Expired`.
    pub expires_in: Option<Duration>,
    /// Most connections of the user's account (its JWT's `conn`).
    pub account_connections: Option<usize>,
}

/// Operator mode: the trusted operators and account JWTs, and the numbers of those accounts.
#[derive(Debug)]
struct Operator {
    trust: Trust,
    accounts: HashMap<String, AccountId>,
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

/// A fresh nonce for one connection's INFO: 11 random bytes, base64url without padding
/// (`generateNonce`).
pub fn new_nonce() -> String {
    let mut raw = [0u8; NONCE_RAW_LEN];
    getrandom::getrandom(&mut raw).expect("the OS random source works");
    data_encoding::BASE64URL_NOPAD.encode(&raw)
}

/// Whether `sig` (base64url without padding, or standard base64) is `nkey`'s signature of
/// `nonce`.
pub(crate) fn nonce_signed(nkey: &str, sig: &str, nonce: &[u8]) -> bool {
    let sig = data_encoding::BASE64URL_NOPAD
        .decode(sig.as_bytes())
        .or_else(|_| data_encoding::BASE64.decode(sig.as_bytes()));
    let (Ok(sig), Ok(key)) = (sig, nkeys::KeyPair::from_public_key(nkey)) else {
        return false;
    };
    key.verify(nonce, &sig).is_ok()
}

/// Whether `key` is a public nkey of a user (`nkeys.IsValidPublicUserKey`).
pub fn is_user_nkey(key: &str) -> bool {
    crate::jwt::is_public_key(key, nkeys::KeyPairType::User)
}

#[derive(Debug)]
struct Credential {
    name: String,
    password: String,
    account: AccountId,
    permissions: Option<Arc<UserPermissions>>,
}

impl Credential {
    fn login(&self) -> Login {
        Login::User {
            name: self.name.clone(),
            account: self.account,
            permissions: self.permissions.clone(),
            limits: UserLimits::default(),
        }
    }
}

/// The configured credentials, ready to check CONNECTs against.
#[derive(Debug)]
pub struct Authenticator {
    token: Option<String>,
    users: Vec<Credential>,
    /// Nkey users: `name` is the public key, `password` unused.
    nkeys: Vec<Credential>,
    no_auth_user: Option<String>,
    operator: Option<Operator>,
    required: bool,
    timeout: Duration,
}

impl Authenticator {
    /// `accounts` numbers the accounts users name; a name it lacks (which a validated
    /// configuration does not have) means the global account.
    pub fn new(cfg: &AuthConfig, accounts: &Accounts) -> Authenticator {
        let compile = |p: &Option<crate::permissions::Permissions>| {
            p.as_ref().map(|p| Arc::new(UserPermissions::new(p)))
        };
        let account =
            |a: &Option<String>| a.as_deref().and_then(|n| accounts.id(n)).unwrap_or(GLOBAL);
        Authenticator {
            token: cfg.token.clone(),
            users: cfg
                .users
                .iter()
                .map(|u| Credential {
                    name: u.user.clone(),
                    password: u.password.clone(),
                    account: account(&u.account),
                    permissions: compile(&u.permissions),
                })
                .collect(),
            nkeys: cfg
                .nkeys
                .iter()
                .map(|u| Credential {
                    name: u.nkey.clone(),
                    password: String::new(),
                    account: account(&u.account),
                    permissions: compile(&u.permissions),
                })
                .collect(),
            no_auth_user: cfg.no_auth_user.clone(),
            operator: None,
            required: cfg.required(),
            timeout: cfg
                .timeout
                .filter(|t| !t.is_zero())
                .unwrap_or(DEFAULT_AUTH_TIMEOUT),
        }
    }

    /// In operator mode (`trust` given), clients log in with user JWTs of the accounts
    /// `trust` knows, which `accounts` numbers by public key.
    pub fn with_operator(mut self, trust: Option<Trust>, accounts: &Accounts) -> Authenticator {
        self.required |= trust.is_some();
        self.operator = trust.map(|trust| Operator {
            trust,
            accounts: accounts
                .iter()
                .map(|(id, a)| (a.name.clone(), id))
                .collect(),
        });
        self
    }

    /// Whether clients log in with user JWTs.
    pub fn operator_mode(&self) -> bool {
        self.operator.is_some()
    }

    /// Whether clients must authenticate (INFO `auth_required`).
    pub fn required(&self) -> bool {
        self.required
    }

    /// How long a client has to send its CONNECT when authentication is required.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Whether INFO carries a nonce for nkey users or user JWTs to sign (`nonceRequired`).
    pub fn nonce_required(&self) -> bool {
        !self.nkeys.is_empty() || self.operator.is_some()
    }

    /// Checks a CONNECT's user JWT in operator mode: signed by an account the resolver
    /// knows, its `sig` over this connection's nonce, and the JWT's own conditions (where
    /// from, how, when). Refusals are logged with Go's debug reason.
    pub fn check_jwt(
        &self,
        m: &ConnectMsg,
        nonce: Option<&str>,
        ip: IpAddr,
        kind: ConnectionType,
    ) -> Login {
        let Some(op) = &self.operator else {
            return Login::Refused;
        };
        let presented = Presented {
            jwt: m.jwt.as_deref(),
            sig: m.sig.as_deref(),
            nonce,
            kind,
            ip: Some(ip),
        };
        match op.trust.login(&presented, &Now::system()) {
            Ok(l) => match op.accounts.get(&l.account) {
                Some(&account) => Login::User {
                    name: l.user,
                    account,
                    permissions: l.permissions.map(|p| Arc::new(UserPermissions::new(&p))),
                    limits: UserLimits {
                        max_subs: l.max_subs,
                        max_payload: l.max_payload,
                        expires_in: l.expires_in,
                        account_connections: l.account_max_connections,
                    },
                },
                None => Login::Refused,
            },
            Err(why) => {
                crate::log_at!(Debug, "{why}");
                Login::Refused
            }
        }
    }

    /// The login of a client that presents no credentials: `no_auth_user`, when it names a
    /// configured user.
    pub fn no_auth_login(&self) -> Option<Login> {
        let name = self.no_auth_user.as_deref()?;
        self.users
            .iter()
            .find(|u| u.name == name)
            .map(Credential::login)
    }

    /// Checks CONNECT credentials against the configured ones; `nonce` is the one this
    /// connection's INFO carried. An nkey, when nkey users exist, is checked before anything
    /// else (`processClientOrLeafAuthentication`).
    pub fn check(&self, m: &ConnectMsg, nonce: Option<&str>) -> Login {
        if let Some(key) = m
            .nkey
            .as_deref()
            .filter(|k| !k.is_empty() && !self.nkeys.is_empty())
        {
            let Some(u) = self.nkeys.iter().find(|u| u.name == key) else {
                return Login::Refused;
            };
            return match (m.sig.as_deref(), nonce) {
                (Some(sig), Some(nonce)) if nonce_signed(key, sig, nonce.as_bytes()) => u.login(),
                _ => Login::Refused,
            };
        }
        let presented = m.auth_token.is_some() || m.user.is_some() || m.pass.is_some();
        if !presented {
            return self.no_auth_login().unwrap_or(Login::Refused);
        }
        if let Some(token) = &self.token {
            return match &m.auth_token {
                Some(t) if password_ok(token, t) => Login::User {
                    name: String::new(),
                    account: GLOBAL,
                    permissions: None,
                    limits: UserLimits::default(),
                },
                _ => Login::Refused,
            };
        }
        let (Some(user), Some(pass)) = (&m.user, &m.pass) else {
            return Login::Refused;
        };
        match self.users.iter().find(|u| &u.name == user) {
            Some(u) if password_ok(&u.password, pass) => u.login(),
            _ => Login::Refused,
        }
    }

    /// `check` for a listener with `verify_and_map`: when users are configured (and the
    /// client is not an nkey user), the one its certificate names is the user, whose
    /// password, usually none, must still match the CONNECT's (`processClientOrLeafAuthentication`).
    pub fn check_mapped(
        &self,
        m: &ConnectMsg,
        nonce: Option<&str>,
        cert: Option<&CertSubject>,
    ) -> Login {
        let nkey_given = m.nkey.as_deref().is_some_and(|k| !k.is_empty()) && !self.nkeys.is_empty();
        if nkey_given || self.users.is_empty() {
            return self.check(m, nonce);
        }
        let names: Vec<&str> = self.users.iter().map(|u| u.name.as_str()).collect();
        let Some((name, _)) = cert.and_then(|c| c.find_user(&names)) else {
            return Login::Refused;
        };
        if let Some(given) = m.user.as_deref().filter(|u| !u.is_empty()) {
            crate::log_at!(
                Warn,
                "User {given:?} found in connect proto, but user required from cert"
            );
        }
        match self.users.iter().find(|u| u.name == name) {
            Some(u) if password_ok(&u.password, m.pass.as_deref().unwrap_or("")) => u.login(),
            _ => Login::Refused,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{NkeyUserConfig, UserConfig};
    use crate::permissions::Permissions;

    fn connect(json: &str) -> ConnectMsg {
        serde_json::from_str(json).unwrap()
    }

    /// The user a CONNECT logs in as, `None` when refused.
    fn login(auth: &Authenticator, json: &str, nonce: Option<&str>) -> Option<String> {
        match auth.check(&connect(json), nonce) {
            Login::User { name, .. } => Some(name),
            Login::Refused => None,
        }
    }

    fn user(name: &str, password: &str) -> UserConfig {
        UserConfig {
            user: name.into(),
            password: password.into(),
            ..UserConfig::default()
        }
    }

    #[test]
    fn users_tokens_bcrypt_and_no_auth_user() {
        let hash = bcrypt::hash("s3cret", 4).unwrap();
        let cfg = AuthConfig {
            users: vec![user("a", "pa"), user("b", &hash)],
            ..AuthConfig::default()
        };
        let auth = Authenticator::new(&cfg, &Accounts::default());
        let a = Some("a".to_string());
        assert_eq!(login(&auth, r#"{"user":"a","pass":"pa"}"#, None), a);
        assert_eq!(login(&auth, r#"{"user":"a","pass":"pb"}"#, None), None);
        assert_eq!(
            login(&auth, r#"{"user":"b","pass":"s3cret"}"#, None),
            Some("b".into())
        );
        assert_eq!(login(&auth, r#"{"user":"b","pass":"nope"}"#, None), None);
        assert_eq!(login(&auth, r#"{"user":"c","pass":"pa"}"#, None), None);
        assert_eq!(login(&auth, r#"{}"#, None), None);
        let auth = Authenticator::new(
            &AuthConfig {
                no_auth_user: Some("a".into()),
                ..cfg
            },
            &Accounts::default(),
        );
        assert_eq!(login(&auth, r#"{}"#, None), a);
        assert_eq!(login(&auth, r#"{"user":"a","pass":"x"}"#, None), None);
        let auth = Authenticator::new(
            &AuthConfig {
                token: Some("tok".into()),
                ..AuthConfig::default()
            },
            &Accounts::default(),
        );
        assert_eq!(
            login(&auth, r#"{"auth_token":"tok"}"#, None),
            Some(String::new())
        );
        assert_eq!(login(&auth, r#"{"auth_token":"tik"}"#, None), None);
        assert_eq!(login(&auth, r#"{"user":"a","pass":"pa"}"#, None), None);
    }

    #[test]
    fn nkey_users_sign_the_nonce() {
        let key = nkeys::KeyPair::new_user();
        let other = nkeys::KeyPair::new_user();
        let public = key.public_key();
        let auth = Authenticator::new(
            &AuthConfig {
                nkeys: vec![NkeyUserConfig {
                    nkey: public.clone(),
                    permissions: Some(Permissions::default()),
                    account: None,
                }],
                users: vec![user("a", "pa")],
                ..AuthConfig::default()
            },
            &Accounts::default(),
        );
        assert!(auth.nonce_required());
        let nonce = new_nonce();
        assert_eq!(nonce.len(), 15);
        assert_ne!(nonce, new_nonce());
        let sign = |k: &nkeys::KeyPair, n: &str| {
            data_encoding::BASE64URL_NOPAD.encode(&k.sign(n.as_bytes()).unwrap())
        };
        let json = |nkey: &str, sig: &str| format!(r#"{{"nkey":"{nkey}","sig":"{sig}"}}"#);
        let good = json(&public, &sign(&key, &nonce));
        assert_eq!(login(&auth, &good, Some(&nonce)), Some(public.clone()));
        match auth.check(&connect(&good), Some(&nonce)) {
            Login::User { permissions, .. } => assert!(permissions.is_some()),
            Login::Refused => panic!("refused"),
        }
        // Standard base64 with padding is accepted too.
        let padded = data_encoding::BASE64.encode(&key.sign(nonce.as_bytes()).unwrap());
        assert_eq!(
            login(&auth, &json(&public, &padded), Some(&nonce)),
            Some(public.clone())
        );
        // Another nonce, another key's signature, garbage, no signature, unknown key.
        assert_eq!(login(&auth, &good, Some(&new_nonce())), None);
        assert_eq!(
            login(&auth, &json(&public, &sign(&other, &nonce)), Some(&nonce)),
            None
        );
        assert_eq!(login(&auth, &json(&public, "!!"), Some(&nonce)), None);
        let unsigned = format!(r#"{{"nkey":"{public}"}}"#);
        assert_eq!(login(&auth, &unsigned, Some(&nonce)), None);
        let stranger = other.public_key();
        assert_eq!(
            login(&auth, &json(&stranger, &sign(&other, &nonce)), Some(&nonce)),
            None
        );
        // An nkey wins over a user and password in the same CONNECT.
        let both = format!(r#"{{"nkey":"{stranger}","user":"a","pass":"pa"}}"#);
        assert_eq!(login(&auth, &both, Some(&nonce)), None);
        assert_eq!(
            login(&auth, r#"{"user":"a","pass":"pa"}"#, Some(&nonce)),
            Some("a".into())
        );
        assert!(is_user_nkey(&public));
        assert!(!is_user_nkey("UABC"));
        assert!(!is_user_nkey(&nkeys::KeyPair::new_account().public_key()));
    }
}
