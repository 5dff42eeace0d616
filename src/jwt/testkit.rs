//! Builds and signs operator, account and user JWTs the way `nsc` and `nats-io/jwt` do
//! (`ClaimsData.doEncode`), for unit tests, integration tests against this server and the Go
//! server, and load generators. Not for production issuing: `jti` is random here, where Go
//! hashes the claims.

use std::time::{SystemTime, UNIX_EPOCH};

use nkeys::KeyPair;
use serde::Serialize;

use super::claims::{
    AccountClaims, ClaimsData, GenericFields, OperatorClaims, OperatorLimits, UserClaims,
    UserLimits,
};
use super::creds::Creds;
use super::{Claim, ALGORITHM, ALGORITHM_V1};

/// The claim layout written (`libVersion`).
const VERSION: i64 = 2;

/// Seconds since the Unix epoch now.
pub fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// A claim this module can encode.
pub trait Encode: Claim + Serialize + Clone {
    fn parts(&mut self) -> (&mut ClaimsData, &mut GenericFields);
}

impl Encode for OperatorClaims {
    fn parts(&mut self) -> (&mut ClaimsData, &mut GenericFields) {
        (&mut self.claims, &mut self.nats.generic)
    }
}

impl Encode for AccountClaims {
    fn parts(&mut self) -> (&mut ClaimsData, &mut GenericFields) {
        (&mut self.claims, &mut self.nats.generic)
    }
}

impl Encode for UserClaims {
    fn parts(&mut self) -> (&mut ClaimsData, &mut GenericFields) {
        (&mut self.claims, &mut self.nats.generic)
    }
}

fn b64(bytes: &[u8]) -> String {
    data_encoding::BASE64URL_NOPAD.encode(bytes)
}

/// Signs `claims` with `key`: sets the issuer, the type and version, a fresh `jti` and, when
/// unset, the issue time (Go always sets it to now; tests of revocations choose it).
pub fn encode<T: Encode>(claims: &T, key: &KeyPair) -> String {
    let mut c = claims.clone();
    let (data, generic) = c.parts();
    data.issuer = key.public_key();
    if data.issued_at == 0 {
        data.issued_at = unix_now();
    }
    data.id = random_id();
    generic.kind = T::KIND.to_string();
    generic.version = VERSION;
    let header = format!(r#"{{"typ":"JWT","alg":"{ALGORITHM}"}}"#);
    let payload = serde_json::to_vec(&c).expect("claims serialize");
    let signed = format!("{}.{}", b64(header.as_bytes()), b64(&payload));
    let sig = key.sign(signed.as_bytes()).expect("a seed key pair signs");
    format!("{signed}.{}", b64(&sig))
}

fn random_id() -> String {
    let mut raw = [0u8; 32];
    getrandom::getrandom(&mut raw).expect("the OS random source works");
    data_encoding::BASE32_NOPAD.encode(&raw)
}

/// Signs `claims`, a payload in the v1 layout (`type` at the top, no `nats.version`), as the
/// v1 library did: header `{"typ":"jwt","alg":"ed25519"}` and the signature over the payload
/// part alone. Sets `iss`, a fresh `jti` and, when absent, `iat`; the layout is the caller's.
pub fn encode_v1(claims: &serde_json::Value, key: &KeyPair) -> String {
    let mut c = claims.clone();
    c["iss"] = key.public_key().into();
    c["jti"] = random_id().into();
    if c.get("iat").is_none() {
        c["iat"] = unix_now().into();
    }
    let header = format!(r#"{{"typ":"jwt","alg":"{ALGORITHM_V1}"}}"#);
    let payload = b64(&serde_json::to_vec(&c).expect("JSON serializes"));
    let sig = key.sign(payload.as_bytes()).expect("a seed key pair signs");
    format!("{}.{payload}.{}", b64(header.as_bytes()), b64(&sig))
}

/// An operator and its key.
pub struct Operator {
    key: KeyPair,
    pub claims: OperatorClaims,
}

impl Operator {
    pub fn new(name: &str) -> Operator {
        let key = KeyPair::new_operator();
        let mut claims = OperatorClaims::default();
        claims.claims.subject = key.public_key();
        claims.claims.name = name.to_string();
        Operator { key, claims }
    }

    pub fn public_key(&self) -> String {
        self.key.public_key()
    }

    pub fn key_pair(&self) -> &KeyPair {
        &self.key
    }

    /// Adds a signing key to the operator's claims and returns it.
    pub fn add_signing_key(&mut self) -> KeyPair {
        let k = KeyPair::new_operator();
        self.claims.nats.signing_keys.push(k.public_key());
        k
    }

    /// The operator's self-signed JWT.
    pub fn jwt(&self) -> String {
        encode(&self.claims, &self.key)
    }

    /// An account JWT signed with the operator's own key.
    pub fn sign_account(&self, account: &AccountClaims) -> String {
        encode(account, &self.key)
    }
}

/// An account and its key.
pub struct Account {
    key: KeyPair,
    pub claims: AccountClaims,
}

impl Account {
    /// An account with `NewAccountClaims`' unlimited limits.
    pub fn new(name: &str) -> Account {
        let key = KeyPair::new_account();
        let mut claims = AccountClaims::default();
        claims.claims.subject = key.public_key();
        claims.claims.name = name.to_string();
        claims.nats.limits = OperatorLimits::unlimited();
        Account { key, claims }
    }

    pub fn public_key(&self) -> String {
        self.key.public_key()
    }

    pub fn key_pair(&self) -> &KeyPair {
        &self.key
    }

    pub fn claims(&self) -> AccountClaims {
        self.claims.clone()
    }

    /// Adds a plain signing key to the account's claims and returns it.
    pub fn add_signing_key(&mut self) -> KeyPair {
        let k = KeyPair::new_account();
        self.claims.nats.signing_keys.0.insert(k.public_key(), None);
        k
    }

    /// A user JWT signed with the account's own key.
    pub fn sign_user(&self, user: &UserClaims) -> String {
        encode(user, &self.key)
    }
}

/// A user and its key.
pub struct User {
    key: KeyPair,
    name: String,
}

impl User {
    pub fn new(name: &str) -> User {
        User {
            key: KeyPair::new_user(),
            name: name.to_string(),
        }
    }

    pub fn public_key(&self) -> String {
        self.key.public_key()
    }

    pub fn key_pair(&self) -> &KeyPair {
        &self.key
    }

    /// Claims for this user with `NewUserClaims`' unlimited limits. A user signed by an
    /// account's signing key must also name the account in `nats.issuer_account`.
    pub fn claims(&self) -> UserClaims {
        let mut c = UserClaims::default();
        c.claims.subject = self.public_key();
        c.claims.name = self.name.clone();
        c.nats.limits.limits = UserLimits::unlimited();
        c
    }

    /// A `.creds` of this user with `jwt`.
    pub fn creds(&self, jwt: &str) -> Creds {
        Creds {
            jwt: jwt.to_string(),
            seed: self.key.seed().expect("a generated key has a seed"),
        }
    }
}
