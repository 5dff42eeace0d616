//! What a client certificate says about its holder, read once after the TLS handshake: the
//! names `verify_and_map` looks users up by, in the Go server's order and spelling
//! (`checkClientTLSCertSubject` in `auth.go`, `internal/ldap/dn.go`), and the key id
//! `pinned_certs` lists (`matchesPinnedCert` in `auth.go`).

use x509_parser::asn1_rs::Tag;
use x509_parser::prelude::{FromDer, GeneralName, X509Certificate, X509Name};
use x509_parser::x509::AttributeTypeAndValue;

/// `domainComponent`, which Go's `pkix` leaves out of a subject's string.
const OID_DC: &str = "0.9.2342.19200300.100.1.25";

/// The attributes Go's `pkix.Name` keeps as fields, in the order `ToRDNSequence` lists them
/// (`crypto/x509/pkix`), with the names its `String` gives them. Other attributes (UID,
/// emailAddress, DC, ...) are not part of that string.
const PKIX_FIELDS: [(&str, &str); 9] = [
    ("2.5.4.6", "C"),
    ("2.5.4.8", "ST"),
    ("2.5.4.7", "L"),
    ("2.5.4.9", "STREET"),
    ("2.5.4.17", "POSTALCODE"),
    ("2.5.4.10", "O"),
    ("2.5.4.11", "OU"),
    ("2.5.4.3", "CN"),
    ("2.5.4.5", "SERIALNUMBER"),
];

/// The attribute types the Go server's DN matching knows (`attributeTypeNames` in
/// `internal/ldap/dn.go`); a subject with any other cannot be matched as a DN.
const LDAP_TYPES: [(&str, &str); 10] = [
    ("2.5.4.3", "CN"),
    ("2.5.4.5", "SERIALNUMBER"),
    ("2.5.4.6", "C"),
    ("2.5.4.7", "L"),
    ("2.5.4.8", "ST"),
    ("2.5.4.9", "STREET"),
    ("2.5.4.10", "O"),
    ("2.5.4.11", "OU"),
    ("2.5.4.17", "POSTALCODE"),
    (OID_DC, "DC"),
];

/// The names a client certificate can be mapped to a user by.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct CertSubject {
    emails: Vec<String>,
    dns_names: Vec<String>,
    uris: Vec<String>,
    /// The subject has at least one attribute.
    has_subject: bool,
    /// The subject as Go's `pkix.Name.ToRDNSequence().String()` writes it.
    rdn: String,
    /// `rdn` followed by the subject's domain components, when it has any.
    rdn_with_dcs: Option<String>,
    /// The subject as a DN (last RDN first), when every attribute is one LDAP matching knows.
    dn: Option<Dn>,
    /// SHA-256 of the DER SubjectPublicKeyInfo, lowercase hex (`pinned_certs`).
    pub key_id: String,
}

/// Which of Go's rules matched a certificate to a user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MatchedBy {
    Email,
    Dns,
    Uri,
    DistinguishedName,
    RdnWithDcs,
    Subject,
}

impl CertSubject {
    /// Reads a DER certificate; one that does not parse yields no names, so it maps to no
    /// user, and an empty key id, so it matches no pin.
    pub fn from_der(der: &[u8]) -> CertSubject {
        let Ok((_, cert)) = X509Certificate::from_der(der) else {
            return CertSubject::default();
        };
        let mut s = CertSubject {
            key_id: key_id(cert.public_key().raw),
            ..CertSubject::default()
        };
        if let Ok(Some(san)) = cert.subject_alternative_name() {
            for name in &san.value.general_names {
                match name {
                    GeneralName::RFC822Name(e) => s.emails.push(e.to_string()),
                    GeneralName::DNSName(d) => s.dns_names.push(d.to_string()),
                    GeneralName::URI(u) => s.uris.push(u.to_string()),
                    _ => {}
                }
            }
        }
        let subject = cert.subject();
        s.has_subject = subject.iter_attributes().next().is_some();
        s.rdn = pkix_string(subject);
        let dcs: Vec<String> = subject
            .iter_attributes()
            .filter(|a| a.attr_type().to_id_string() == OID_DC)
            .filter_map(|a| text(a).map(|v| format!("DC={v}")))
            .collect();
        if !dcs.is_empty() {
            s.rdn_with_dcs = Some(format!("{},{}", s.rdn, dcs.join(",")));
        }
        s.dn = ldap_dn(subject);
        s
    }

    /// The subject as Go prints it in its debug lines.
    pub fn rdn(&self) -> &str {
        &self.rdn
    }

    /// The first of `users` this certificate names, tried as the Go server tries them: email
    /// SANs, DNS SANs, URI SANs, the subject as a DN (exact, then with its RDNs in any
    /// order), the subject string with its domain components, then without.
    pub fn find_user<'u>(&self, users: &[&'u str]) -> Option<(&'u str, MatchedBy)> {
        if self.emails.is_empty() && !self.has_subject && self.uris.is_empty() {
            return None;
        }
        let literal = |name: &str| users.iter().copied().find(|u| *u == name);
        for (names, how) in [
            (&self.emails, MatchedBy::Email),
            (&self.dns_names, MatchedBy::Dns),
            (&self.uris, MatchedBy::Uri),
        ] {
            if let Some(u) = names.iter().find_map(|n| literal(n)) {
                return Some((u, how));
            }
        }
        if let Some(dn) = &self.dn {
            let parsed: Vec<(&str, Dn)> = users
                .iter()
                .filter_map(|u| Dn::parse(u).map(|d| (*u, d)))
                .collect();
            let found = parsed
                .iter()
                .find(|(_, d)| d.equal(dn))
                .or_else(|| parsed.iter().find(|(_, d)| d.rdns_match(dn)));
            if let Some((u, _)) = found {
                return Some((u, MatchedBy::DistinguishedName));
            }
        }
        if let Some(u) = self.rdn_with_dcs.as_deref().and_then(literal) {
            return Some((u, MatchedBy::RdnWithDcs));
        }
        literal(&self.rdn).map(|u| (u, MatchedBy::Subject))
    }
}

/// Lowercase hex SHA-256 of a DER SubjectPublicKeyInfo, as `pinned_certs` lists keys.
fn key_id(spki: &[u8]) -> String {
    data_encoding::HEXLOWER.encode(ring::digest::digest(&ring::digest::SHA256, spki).as_ref())
}

/// An attribute's value when it is a string, as Go's `asn1` reads one into `string`.
fn text(a: &AttributeTypeAndValue<'_>) -> Option<String> {
    if let Ok(s) = a.as_str() {
        return Some(s.to_string());
    }
    let raw = a.attr_value().data;
    match a.attr_value().tag() {
        Tag::T61String => Some(String::from_utf8_lossy(raw).into_owned()),
        Tag::BmpString => {
            let units: Vec<u16> = raw
                .chunks_exact(2)
                .map(|c| u16::from_be_bytes([c[0], c[1]]))
                .collect();
            String::from_utf16(&units).ok()
        }
        _ => None,
    }
}

/// Go's `pkix.Name.ToRDNSequence().String()`: the known fields in a fixed order, all values
/// of one type in one multi-valued RDN, written last RDN first with RFC 2253 escaping.
fn pkix_string(name: &X509Name<'_>) -> String {
    let mut rdns: Vec<String> = Vec::new();
    for (oid, label) in PKIX_FIELDS {
        let mut values: Vec<String> = name
            .iter_attributes()
            .filter(|a| a.attr_type().to_id_string() == oid)
            .filter_map(text)
            .collect();
        // CN and SERIALNUMBER are single fields in pkix.Name: the last one wins.
        if matches!(label, "CN" | "SERIALNUMBER") && values.len() > 1 {
            values.drain(..values.len() - 1);
        }
        if !values.is_empty() {
            let rdn: Vec<String> = values
                .iter()
                .map(|v| format!("{label}={}", escape(v)))
                .collect();
            rdns.push(rdn.join("+"));
        }
    }
    rdns.reverse();
    rdns.join(",")
}

/// Go's `pkix` value escaping: `,+"\<>;` anywhere, a space first or last, `#` first.
fn escape(v: &str) -> String {
    let last = v.len().saturating_sub(1);
    let mut out = String::with_capacity(v.len());
    for (i, c) in v.char_indices() {
        let special = match c {
            ',' | '+' | '"' | '\\' | '<' | '>' | ';' => true,
            ' ' => i == 0 || i == last,
            '#' => i == 0,
            _ => false,
        };
        if special {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Go's `ldap.FromRawCertSubject`: RDNs last first, each RDN's attributes last first.
fn ldap_dn(name: &X509Name<'_>) -> Option<Dn> {
    let mut rdns = Vec::new();
    for rdn in name.iter_rdn() {
        let mut attrs = Vec::new();
        for a in rdn.iter() {
            let oid = a.attr_type().to_id_string();
            let (_, label) = LDAP_TYPES.iter().find(|(o, _)| *o == oid)?;
            attrs.push(Attr {
                kind: label.to_string(),
                value: text(a)?.into_bytes(),
            });
        }
        if !attrs.is_empty() {
            attrs.reverse();
            rdns.push(attrs);
        }
    }
    rdns.reverse();
    Some(Dn(rdns))
}

#[derive(Debug, Clone, PartialEq)]
struct Attr {
    kind: String,
    value: Vec<u8>,
}

impl Attr {
    /// Types compare without case, values exactly (`AttributeTypeAndValue.Equal`).
    fn equal(&self, other: &Attr) -> bool {
        self.kind.eq_ignore_ascii_case(&other.kind) && self.value == other.value
    }
}

/// A distinguished name as Go's `internal/ldap` holds it: RDNs of attributes.
#[derive(Debug, Clone, PartialEq)]
struct Dn(Vec<Vec<Attr>>);

impl Dn {
    /// Go's `ldap.ParseDN` (RFC 4514): `\` escapes a special character or two hex digits,
    /// `,` ends an RDN, `+` an attribute; unescaped leading and trailing spaces are dropped.
    /// `None` for what it refuses (a user name that is not a DN, a `#` BER value).
    fn parse(s: &str) -> Option<Dn> {
        let b = s.as_bytes();
        let mut dn = Vec::new();
        let mut rdn = Vec::new();
        let mut buf: Vec<u8> = Vec::new();
        let mut kind: Option<String> = None;
        let mut trailing_spaces = 0;
        let take = |buf: &mut Vec<u8>, trailing: &mut usize| {
            buf.truncate(buf.len() - *trailing);
            *trailing = 0;
            std::mem::take(buf)
        };
        let mut i = 0;
        while i < b.len() {
            let c = b[i];
            match c {
                b'\\' => {
                    trailing_spaces = 0;
                    let next = *b.get(i + 1)?;
                    if b" \"#+,;<=>\\".contains(&next) {
                        buf.push(next);
                        i += 2;
                        continue;
                    }
                    let hex = b.get(i + 1..i + 3)?;
                    buf.push(u8::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok()?);
                    i += 3;
                    continue;
                }
                b'=' => {
                    kind = Some(String::from_utf8(take(&mut buf, &mut trailing_spaces)).ok()?);
                    if b.get(i + 1) == Some(&b'#') {
                        return None;
                    }
                }
                b',' | b'+' => {
                    let k = kind.take().filter(|k| !k.is_empty())?;
                    let value = take(&mut buf, &mut trailing_spaces);
                    rdn.push(Attr { kind: k, value });
                    if c == b',' {
                        dn.push(std::mem::take(&mut rdn));
                    }
                }
                b' ' if buf.is_empty() => {}
                _ => {
                    trailing_spaces = if c == b' ' { trailing_spaces + 1 } else { 0 };
                    buf.push(c);
                }
            }
            i += 1;
        }
        if !buf.is_empty() {
            let k = kind.take().filter(|k| !k.is_empty())?;
            let value = take(&mut buf, &mut trailing_spaces);
            rdn.push(Attr { kind: k, value });
            dn.push(rdn);
        }
        Some(Dn(dn))
    }

    /// Same RDNs in the same order (`DN.Equal`).
    fn equal(&self, other: &Dn) -> bool {
        self.0.len() == other.0.len() && self.0.iter().zip(&other.0).all(|(a, b)| rdn_equal(a, b))
    }

    /// Same RDNs in any order, each used once (`DN.RDNsMatch`).
    fn rdns_match(&self, other: &Dn) -> bool {
        if self.0.len() != other.0.len() {
            return false;
        }
        let mut used = vec![false; other.0.len()];
        self.0.iter().all(|mine| {
            let hit = other
                .0
                .iter()
                .enumerate()
                .find(|(j, theirs)| !used[*j] && rdn_equal(mine, theirs));
            hit.map(|(j, _)| used[j] = true).is_some()
        })
    }
}

/// Same attributes in any order (`RelativeDN.Equal`).
fn rdn_equal(a: &[Attr], b: &[Attr]) -> bool {
    let covers = |x: &[Attr], y: &[Attr]| y.iter().all(|q| x.iter().any(|p| p.equal(q)));
    a.len() == b.len() && covers(a, b) && covers(b, a)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustls::pki_types::pem::PemObject;

    fn fixture(name: &str) -> CertSubject {
        let path = format!(
            "{}/tests/data/cert-names/{name}.pem",
            env!("CARGO_MANIFEST_DIR")
        );
        let der = rustls::pki_types::CertificateDer::from_pem_file(path).unwrap();
        CertSubject::from_der(&der)
    }

    /// The subject strings nats-server 2.15.1 logged for the same certificates.
    #[test]
    fn subjects_spelled_as_go_does() {
        let dn = fixture("dn");
        let rdn = "CN=bob,OU=Eng,O=Acme\\, Inc.,L=San Francisco,ST=California,C=US";
        assert_eq!(dn.rdn(), rdn);
        assert_eq!(
            dn.rdn_with_dcs.as_deref(),
            Some(format!("{rdn},DC=org,DC=example").as_str())
        );
        assert_eq!(fixture("twoou").rdn(), "CN=carol,OU=Eng+OU=Ops,O=Acme,C=US");
        assert_eq!(
            fixture("esc").rdn(),
            "CN=\\#lead\\,comma\\+plus\\;semi\\<x\\>\\\"q\\\"\\ ,O=Acme"
        );
        // UID is neither in the string nor matchable as a DN.
        let uid = fixture("uid");
        assert_eq!(uid.rdn(), "CN=erin,O=Acme");
        assert!(uid.dn.is_none());
        assert_eq!(key_id(b"").len(), 64);
    }

    /// The users nats-server 2.15.1 picked for the same certificates, with how.
    #[test]
    fn users_found_in_go_order() {
        let users = [
            "alice.example.com",
            "alice@example.com",
            "CN=bob,OU=Eng,O=Acme\\, Inc.,L=San Francisco,ST=California,C=US,DC=example,DC=org",
            "OU=Ops,CN=carol,OU=Eng,O=Acme,C=US",
            "CN=erin,O=Acme",
            "CN=emailuser,O=Acme",
        ];
        let found = |name: &str| fixture(name).find_user(&users);
        assert_eq!(found("email"), Some((users[1], MatchedBy::Email)));
        assert_eq!(found("dn"), Some((users[2], MatchedBy::DistinguishedName)));
        assert_eq!(
            found("twoou"),
            Some((users[3], MatchedBy::DistinguishedName))
        );
        assert_eq!(found("uid"), Some((users[4], MatchedBy::Subject)));
        assert_eq!(found("esc"), None);
        assert_eq!(CertSubject::from_der(b"junk").find_user(&users), None);
    }

    #[test]
    fn go_escaping() {
        assert_eq!(escape("Acme, Inc."), "Acme\\, Inc.");
        // The subject string the Go server logged for this CN (see tests/tls.rs).
        assert_eq!(
            escape("#lead,comma+plus;semi<x>\"q\" "),
            "\\#lead\\,comma\\+plus\\;semi\\<x\\>\\\"q\\\"\\ "
        );
        assert_eq!(escape(" a#b "), "\\ a#b\\ ");
    }

    #[test]
    fn dn_parse_and_compare() {
        let d = |s: &str| Dn::parse(s).unwrap();
        assert!(Dn::parse("alice").is_none());
        assert!(Dn::parse("alice@example.com").is_none());
        assert!(Dn::parse("CN=#0401").is_none());
        let a = d("CN=bob, OU=Eng,O=Acme\\, Inc.");
        assert_eq!(a.0.len(), 3);
        assert_eq!(a.0[2][0].value, b"Acme, Inc.");
        assert!(a.equal(&d("cn=bob,OU=Eng,O=Acme\\2C Inc.")));
        assert!(!a.equal(&d("OU=Eng,CN=bob,O=Acme\\, Inc.")));
        assert!(a.rdns_match(&d("OU=Eng,CN=bob,O=Acme\\, Inc.")));
        assert!(!a.rdns_match(&d("OU=Eng,CN=bob,CN=bob")));
        assert!(d("CN=dave+OU=Eng,O=Acme").equal(&d("OU=Eng+CN=dave,O=Acme")));
        assert!(!d("CN=dave+OU=Eng,O=Acme").equal(&d("CN=dave,OU=Eng,O=Acme")));
        // Unescaped trailing spaces go, escaped ones stay.
        assert_eq!(d("CN=a  ").0[0][0].value, b"a");
        assert_eq!(d("CN=a\\ ").0[0][0].value, b"a ");
    }
}
