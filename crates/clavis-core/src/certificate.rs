//! Client certificates of mutual TLS (RFC 8705): what Clavis reads from one — its SHA-256
//! thumbprint (`x5t#S256`, §3.1), its subject DN and SANs (§2.1.2) — and whether it
//! chains to a CA the operator trusts (§2.1). Nothing here does I/O.

use std::net::IpAddr;
use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;
use rustls_pki_types::{CertificateDer, UnixTime};
use x509_parser::prelude::{FromDer, GeneralName, X509Certificate};

/// The largest certificate read (DER), from a TLS handshake or a proxy's header.
pub const MAX_CERT_BYTES: usize = 16 * 1024;

/// The certificate a client presented, with the intermediates it sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientCertificate {
    pub der: Vec<u8>,
    pub intermediates: Vec<Vec<u8>>,
}

impl ClientCertificate {
    /// `x5t#S256`: base64url SHA-256 of the DER certificate.
    pub fn thumbprint(&self) -> String {
        B64.encode(ring::digest::digest(&ring::digest::SHA256, &self.der))
    }

    /// Whether it chains to one of `roots` (DER CA certificates) for client
    /// authentication at `now` (seconds since the epoch).
    pub fn chains_to(&self, roots: &[Vec<u8>], now: i64) -> bool {
        let anchors: Vec<_> = roots
            .iter()
            .filter_map(|der| webpki::anchor_from_trusted_cert(&CertificateDer::from(der.as_slice())).ok().map(|a| a.to_owned()))
            .collect();
        if anchors.is_empty() {
            return false;
        }
        let der = CertificateDer::from(self.der.as_slice());
        let Ok(ee) = webpki::EndEntityCert::try_from(&der) else { return false };
        let intermediates: Vec<CertificateDer<'_>> = self.intermediates.iter().map(|c| CertificateDer::from(c.as_slice())).collect();
        let time = UnixTime::since_unix_epoch(Duration::from_secs(now.max(0) as u64));
        ee.verify_for_usage(webpki::ALL_VERIFICATION_ALGS, &anchors, &intermediates, time, webpki::KeyUsage::client_auth(), None, None).is_ok()
    }

    /// Its subject and subject alternative names; `None` if it does not parse.
    pub fn names(&self) -> Option<CertNames> {
        let (_, cert) = X509Certificate::from_der(&self.der).ok()?;
        let mut subject = Vec::new();
        for rdn in cert.subject().iter_rdn() {
            for attr in rdn.iter() {
                let value = attr.as_str().ok()?;
                subject.push((attribute_name(&attr.attr_type().to_id_string()), normalize_value(value)));
            }
        }
        let mut names = CertNames { subject, ..CertNames::default() };
        if let Ok(Some(san)) = cert.subject_alternative_name() {
            for name in &san.value.general_names {
                match name {
                    GeneralName::DNSName(d) => names.dns.push(d.to_ascii_lowercase()),
                    GeneralName::URI(u) => names.uris.push((*u).to_owned()),
                    GeneralName::RFC822Name(e) => names.emails.push((*e).to_owned()),
                    GeneralName::IPAddress(ip) => {
                        let ip = match ip.len() {
                            4 => <[u8; 4]>::try_from(*ip).ok().map(IpAddr::from),
                            16 => <[u8; 16]>::try_from(*ip).ok().map(IpAddr::from),
                            _ => None,
                        };
                        names.ips.extend(ip);
                    }
                    _ => {}
                }
            }
        }
        Some(names)
    }
}

/// A certificate's names, normalized for comparison: the subject's attributes in the
/// certificate's order (most general first), each as (short type name, value).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CertNames {
    pub subject: Vec<(String, String)>,
    pub dns: Vec<String>,
    pub uris: Vec<String>,
    pub ips: Vec<IpAddr>,
    pub emails: Vec<String>,
}

impl CertNames {
    /// Whether the subject is the DN `registered` (an RFC 4514 string, most specific RDN
    /// first as RFC 4514 writes it, or in the certificate's order): the same attributes
    /// with the same values, types by name or OID, values compared without case and with
    /// inner spaces collapsed (RFC 4517 distinguishedNameMatch under caseIgnoreMatch).
    pub fn subject_is(&self, registered: &str) -> bool {
        let Some(mut dn) = parse_dn(registered) else { return false };
        if dn.is_empty() {
            return false;
        }
        if dn == self.subject {
            return true;
        }
        dn.reverse();
        dn == self.subject
    }
}

/// Short names of the attribute types RFC 4514 §3 lists, and a few more in use; others
/// stay dotted OIDs.
const ATTRIBUTE_NAMES: &[(&str, &str)] = &[
    ("2.5.4.3", "CN"),
    ("2.5.4.7", "L"),
    ("2.5.4.8", "ST"),
    ("2.5.4.10", "O"),
    ("2.5.4.11", "OU"),
    ("2.5.4.6", "C"),
    ("2.5.4.9", "STREET"),
    ("0.9.2342.19200300.100.1.25", "DC"),
    ("0.9.2342.19200300.100.1.1", "UID"),
    ("2.5.4.5", "SERIALNUMBER"),
    ("1.2.840.113549.1.9.1", "EMAILADDRESS"),
    ("2.5.4.97", "ORGANIZATIONIDENTIFIER"),
];

fn attribute_name(oid: &str) -> String {
    ATTRIBUTE_NAMES.iter().find(|(o, _)| *o == oid).map(|(_, n)| (*n).to_owned()).unwrap_or_else(|| oid.to_owned())
}

fn normalize_type(t: &str) -> String {
    let t = t.trim();
    let upper = t.to_ascii_uppercase();
    let upper = if upper == "E" { "EMAILADDRESS".to_owned() } else { upper };
    if t.chars().next().is_some_and(|c| c.is_ascii_digit()) {
        return attribute_name(t);
    }
    upper
}

fn normalize_value(v: &str) -> String {
    v.split_whitespace().collect::<Vec<_>>().join(" ").to_lowercase()
}

/// An RFC 4514 DN string as (type, value) pairs in its order; `None` if malformed.
/// Escapes (`\,`, `\+`, `\"`, `\\`, `\XX`) are honoured; a multi-valued RDN (`+`)
/// contributes its attributes in order.
pub fn parse_dn(s: &str) -> Option<Vec<(String, String)>> {
    if s.len() > 1024 {
        return None;
    }
    let mut out = Vec::new();
    let (mut current, mut chars) = (String::new(), s.chars().peekable());
    let mut parts: Vec<String> = Vec::new();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                let next = chars.next()?;
                if next.is_ascii_hexdigit() {
                    let low = chars.next().filter(char::is_ascii_hexdigit)?;
                    let byte = u8::from_str_radix(&format!("{next}{low}"), 16).ok()?;
                    current.push(char::from(byte));
                } else {
                    current.push('\u{0}');
                    current.push(next);
                }
            }
            ',' | '+' => parts.push(std::mem::take(&mut current)),
            other => current.push(other),
        }
    }
    parts.push(current);
    for part in parts {
        let (t, v) = part.split_once('=')?;
        if t.trim().is_empty() {
            return None;
        }
        out.push((normalize_type(t), normalize_value(&v.replace('\u{0}', ""))));
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dns_parse_with_escapes_and_compare_loosely() {
        assert_eq!(
            parse_dn("CN=Client\\, One,O=Example+OU=Banking, C=GB").unwrap(),
            vec![("CN".into(), "client, one".into()), ("O".into(), "example".into()), ("OU".into(), "banking".into()), ("C".into(), "gb".into())]
        );
        assert_eq!(parse_dn("2.5.4.3=x").unwrap(), vec![("CN".into(), "x".into())]);
        assert_eq!(parse_dn("CN=a\\2Cb").unwrap(), vec![("CN".into(), "a,b".into())]);
        assert!(parse_dn("CN").is_none() && parse_dn("=x").is_none() && parse_dn("CN=x\\").is_none());
        let names = CertNames {
            subject: vec![("C".into(), "gb".into()), ("O".into(), "example".into()), ("CN".into(), "client".into())],
            ..Default::default()
        };
        assert!(names.subject_is("CN=Client, O=Example, C=GB"));
        assert!(names.subject_is("C=GB,O=Example,CN=client"));
        assert!(!names.subject_is("CN=Client, O=Example"));
        assert!(!names.subject_is("CN=Other, O=Example, C=GB"));
        assert!(!names.subject_is(""));
    }
}
