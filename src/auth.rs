//! Client authentication as the Go server does it without accounts: a token, one user and
//! password, a list of users, or nkey users who sign the INFO nonce; passwords in plain text or
//! as bcrypt hashes; `no_auth_user` for clients that present nothing. A user's permissions
//! are compiled once here and shared by its connections.

use std::sync::Arc;

use crate::config::AuthConfig;
use crate::conn::ConnectMsg;
use crate::permissions::UserPermissions;

/// Random bytes in a nonce (`nonceRawLen`); base64url without padding makes 15 characters.
const NONCE_RAW_LEN: usize = 11;

/// The outcome of checking a CONNECT.
#[derive(Debug, Clone)]
pub enum Login {
    /// Accepted, as this user (empty for a token, the public key for an nkey user), with its
    /// permissions if it has any.
    User {
        name: String,
        permissions: Option<Arc<UserPermissions>>,
    },
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

/// A fresh nonce for one connection's INFO: 11 random bytes, base64url without padding
/// (`generateNonce`).
pub fn new_nonce() -> String {
    let mut raw = [0u8; NONCE_RAW_LEN];
    getrandom::getrandom(&mut raw).expect("the OS random source works");
    data_encoding::BASE64URL_NOPAD.encode(&raw)
}

/// Whether `sig` (base64url without padding, or standard base64) is `nkey`'s signature of
/// `nonce`.
fn nonce_signed(nkey: &str, sig: &str, nonce: &[u8]) -> bool {
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
    nkeys::KeyPair::from_public_key(key)
        .is_ok_and(|k| matches!(k.key_pair_type(), nkeys::KeyPairType::User))
}

#[derive(Debug)]
struct Credential {
    name: String,
    password: String,
    permissions: Option<Arc<UserPermissions>>,
}

impl Credential {
    fn login(&self) -> Login {
        Login::User {
            name: self.name.clone(),
            permissions: self.permissions.clone(),
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
    required: bool,
    timeout: std::time::Duration,
}

impl Authenticator {
    pub fn new(cfg: &AuthConfig) -> Authenticator {
        let compile = |p: &Option<crate::permissions::Permissions>| {
            p.as_ref().map(|p| Arc::new(UserPermissions::new(p)))
        };
        Authenticator {
            token: cfg.token.clone(),
            users: cfg
                .users
                .iter()
                .map(|u| Credential {
                    name: u.user.clone(),
                    password: u.password.clone(),
                    permissions: compile(&u.permissions),
                })
                .collect(),
            nkeys: cfg
                .nkeys
                .iter()
                .map(|u| Credential {
                    name: u.nkey.clone(),
                    password: String::new(),
                    permissions: compile(&u.permissions),
                })
                .collect(),
            no_auth_user: cfg.no_auth_user.clone(),
            required: cfg.required(),
            timeout: cfg.timeout,
        }
    }

    /// Whether clients must authenticate (INFO `auth_required`).
    pub fn required(&self) -> bool {
        self.required
    }

    /// How long a client has to send its CONNECT when authentication is required.
    pub fn timeout(&self) -> std::time::Duration {
        self.timeout
    }

    /// Whether INFO carries a nonce for nkey users to sign (`nonceRequired`).
    pub fn nonce_required(&self) -> bool {
        !self.nkeys.is_empty()
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
                    permissions: None,
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
            permissions: None,
        }
    }

    #[test]
    fn users_tokens_bcrypt_and_no_auth_user() {
        let hash = bcrypt::hash("s3cret", 4).unwrap();
        let cfg = AuthConfig {
            users: vec![user("a", "pa"), user("b", &hash)],
            ..AuthConfig::default()
        };
        let auth = Authenticator::new(&cfg);
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
        let auth = Authenticator::new(&AuthConfig {
            no_auth_user: Some("a".into()),
            ..cfg
        });
        assert_eq!(login(&auth, r#"{}"#, None), a);
        assert_eq!(login(&auth, r#"{"user":"a","pass":"x"}"#, None), None);
        let auth = Authenticator::new(&AuthConfig {
            token: Some("tok".into()),
            ..AuthConfig::default()
        });
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
        let auth = Authenticator::new(&AuthConfig {
            nkeys: vec![NkeyUserConfig {
                nkey: public.clone(),
                permissions: Some(Permissions::default()),
            }],
            users: vec![user("a", "pa")],
            ..AuthConfig::default()
        });
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
