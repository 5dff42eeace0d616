//! Decorated JWTs and `.creds` files, as `nsc` writes them and `nats-io/jwt` reads them
//! (`creds_utils.go`: `FormatUserConfig`, `ParseDecoratedJWT`, `ParseDecoratedNKey`):
//!
//! ```text
//! -----BEGIN NATS USER JWT-----
//! eyJ0eXAiOiJKV1QiLCJhbGciOiJlZDI1NTE5LW5rZXkifQ...
//! ------END NATS USER JWT------
//!
//! ************************* IMPORTANT *************************
//! NKEY Seed printed below can be used to sign and prove identity.
//! NKEYs are sensitive and should be treated as secrets.
//!
//! -----BEGIN USER NKEY SEED-----
//! SUAIO3FHUX5PNV2LQIIP7TZ3N4L7TX3W53MQGEIVYFIGA635OZCKEYHFLM
//! ------END USER NKEY SEED------
//!
//! *************************************************************
//! ```

use std::fmt;

/// Seed prefixes of operators, accounts and users, the seeds a decorated file may hold.
const SEED_PREFIXES: [&str; 3] = ["SO", "SA", "SU"];

/// Why a `.creds` file cannot be used, worded as `nats-io/jwt` words it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CredsError {
    NoSeed,
    NotASeed,
    NotUserSeed,
    BadSeed(String),
}

impl fmt::Display for CredsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CredsError::NoSeed => f.write_str("no nkey seed found"),
            CredsError::NotASeed => f.write_str("doesn't contain a seed nkey"),
            CredsError::NotUserSeed => f.write_str("doesn't contain an user seed nkey"),
            CredsError::BadSeed(e) => f.write_str(e),
        }
    }
}

impl std::error::Error for CredsError {}

/// A `-----...-----` marker line of a decorated block.
fn is_marker(line: &str) -> bool {
    let line = line.trim();
    line.len() >= 6 && line.starts_with("---") && line.ends_with("---")
}

/// A block's content line: word characters, `-`, `.` and `=` (`userConfigRE`'s `[\w\-.=]+`).
fn is_content(line: &str) -> bool {
    !line.is_empty()
        && line
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b'='))
}

/// The contents of the decorated blocks of `text`, in order: a marker line, one content line,
/// a marker line.
fn blocks(text: &str) -> Vec<&str> {
    let lines: Vec<&str> = text
        .split('\n')
        .map(|l| l.strip_suffix('\r').unwrap_or(l))
        .collect();
    let mut found = Vec::new();
    let mut i = 0;
    while i + 2 < lines.len() {
        if is_marker(lines[i]) && is_content(lines[i + 1]) && is_marker(lines[i + 2]) {
            found.push(lines[i + 1]);
            i += 3;
        } else {
            i += 1;
        }
    }
    found
}

/// The JWT of a decorated file, or the whole text (trimmed) when it has no blocks
/// (`ParseDecoratedJWT`).
pub fn decorated_jwt(text: &str) -> &str {
    blocks(text).first().copied().unwrap_or(text.trim())
}

/// The nkey seed of a decorated file: its second block, or else the first line that starts
/// like a seed (`ParseDecoratedNKey`).
pub fn decorated_seed(text: &str) -> Result<&str, CredsError> {
    let seed = match blocks(text).get(1) {
        Some(seed) => *seed,
        None => text
            .lines()
            .map(str::trim)
            .find(|l| SEED_PREFIXES.iter().any(|p| l.starts_with(p)))
            .ok_or(CredsError::NoSeed)?,
    };
    if !SEED_PREFIXES.iter().any(|p| seed.starts_with(p)) {
        return Err(CredsError::NotASeed);
    }
    Ok(seed)
}

/// The `sig` of a CONNECT: `nonce` signed with `key`, base64url without padding, as
/// clients send it.
pub fn sign_nonce(key: &nkeys::KeyPair, nonce: &str) -> String {
    let sig = key.sign(nonce.as_bytes()).expect("a seed key pair signs");
    data_encoding::BASE64URL_NOPAD.encode(&sig)
}

/// A user's credentials: the user JWT and the seed of its nkey.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Creds {
    pub jwt: String,
    pub seed: String,
}

impl Creds {
    /// Reads the text of a `.creds` file; the seed must be a user's
    /// (`ParseDecoratedUserNKey`).
    pub fn parse(text: &str) -> Result<Creds, CredsError> {
        let seed = decorated_seed(text)?;
        if !seed.starts_with("SU") {
            return Err(CredsError::NotUserSeed);
        }
        nkeys::KeyPair::from_seed(seed).map_err(|e| CredsError::BadSeed(e.to_string()))?;
        Ok(Creds {
            jwt: decorated_jwt(text).to_string(),
            seed: seed.to_string(),
        })
    }

    /// The user's key pair.
    pub fn key_pair(&self) -> nkeys::KeyPair {
        nkeys::KeyPair::from_seed(&self.seed).expect("checked when parsed")
    }

    /// The `sig` of a CONNECT: the nonce signed with the user's key.
    pub fn sign_nonce(&self, nonce: &str) -> String {
        sign_nonce(&self.key_pair(), nonce)
    }

    /// The file text, as `FormatUserConfig` writes it.
    pub fn format(&self) -> String {
        format!(
            "-----BEGIN NATS USER JWT-----\n{}\n------END NATS USER JWT------\n\n\
             ************************* IMPORTANT *************************\n\
             NKEY Seed printed below can be used to sign and prove identity.\n\
             NKEYs are sensitive and should be treated as secrets.\n\n\
             -----BEGIN USER NKEY SEED-----\n{}\n------END USER NKEY SEED------\n\n\
             *************************************************************\n",
            self.jwt, self.seed
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The seed of the format comment in `creds_utils.go`.
    const SEED: &str = "SUAIO3FHUX5PNV2LQIIP7TZ3N4L7TX3W53MQGEIVYFIGA635OZCKEYHFLM";

    #[test]
    fn round_trip_and_crlf() {
        let c = Creds {
            jwt: "eyJh.eyJi.c2ln".into(),
            seed: SEED.into(),
        };
        let text = c.format();
        assert_eq!(Creds::parse(&text).unwrap(), c);
        assert_eq!(Creds::parse(&text.replace('\n', "\r\n")).unwrap(), c);
        assert_eq!(decorated_jwt(&text), "eyJh.eyJi.c2ln");
        assert_eq!(decorated_jwt("  eyJh.eyJi.c2ln\n"), "eyJh.eyJi.c2ln");
        let key = c.key_pair();
        let sig = data_encoding::BASE64URL_NOPAD
            .decode(c.sign_nonce("nonce").as_bytes())
            .unwrap();
        assert!(key.verify(b"nonce", &sig).is_ok());
    }

    #[test]
    fn seeds_found_or_refused() {
        assert_eq!(decorated_seed(&format!("junk\n  {SEED}\n")), Ok(SEED));
        assert_eq!(decorated_seed("nothing here"), Err(CredsError::NoSeed));
        let account_seed = nkeys::KeyPair::new_account().seed().unwrap();
        let text = format!("-----BEGIN X-----\nJWT\n-----END X-----\n-----BEGIN Y-----\n{account_seed}\n-----END Y-----\n");
        assert_eq!(decorated_seed(&text), Ok(account_seed.as_str()));
        assert_eq!(
            Creds::parse(&text).unwrap_err().to_string(),
            "doesn't contain an user seed nkey"
        );
        let text =
            "-----BEGIN X-----\nJWT\n-----END X-----\n-----BEGIN Y-----\nXYZ\n-----END Y-----\n";
        assert_eq!(decorated_seed(text), Err(CredsError::NotASeed));
        assert!(matches!(
            Creds::parse(&format!("{}X\n", &SEED[..20])),
            Err(CredsError::BadSeed(_))
        ));
    }
}
