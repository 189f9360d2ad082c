//! Identities in a verified TLS client certificate (XEP-0178, RFC 6120 §13.7.1.4).

use tandem_xmpp::sasl::CertIdentity;
use x509_parser::extensions::{GeneralName, ParsedExtension};

/// id-on-xmppAddr.
const XMPP_ADDR_OID: &str = "1.3.6.1.5.5.7.8.5";

/// The xmppAddr otherName SANs and the subject CN of a DER certificate. Unparseable parts
/// yield no identity rather than an error: the login then fails with not-authorized.
pub fn identity_of(der: &[u8]) -> CertIdentity {
    let Ok((_, cert)) = x509_parser::parse_x509_certificate(der) else {
        return CertIdentity::default();
    };
    let mut identity = CertIdentity {
        common_name: cert
            .subject()
            .iter_common_name()
            .next()
            .and_then(|cn| cn.as_str().ok())
            .map(str::to_owned),
        ..Default::default()
    };
    for extension in cert.extensions() {
        if let ParsedExtension::SubjectAlternativeName(san) = extension.parsed_extension() {
            for name in &san.general_names {
                if let GeneralName::OtherName(oid, value) = name {
                    if oid.to_id_string() == XMPP_ADDR_OID {
                        if let Some(addr) = explicit_utf8_string(value) {
                            identity.xmpp_addrs.push(addr);
                        }
                    }
                }
            }
        }
    }
    identity
}

/// The value of an otherName is `[0] EXPLICIT UTF8String` (RFC 6120 §13.7.1.4): unwrap both
/// DER headers.
fn explicit_utf8_string(value: &[u8]) -> Option<String> {
    let inner = der_content(value, 0xa0)?;
    let text = der_content(inner, 0x0c)?;
    String::from_utf8(text.to_vec()).ok()
}

fn der_content(bytes: &[u8], tag: u8) -> Option<&[u8]> {
    let (&first, rest) = bytes.split_first()?;
    if first != tag {
        return None;
    }
    let (&len0, rest) = rest.split_first()?;
    let (len, rest) = match len0 {
        0..=0x7f => (usize::from(len0), rest),
        0x81 => (usize::from(*rest.first()?), rest.get(1..)?),
        0x82 => (
            usize::from(*rest.first()?) << 8 | usize::from(*rest.get(1)?),
            rest.get(2..)?,
        ),
        _ => return None,
    };
    rest.get(..len)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_xmpp_addr_and_cn_from_a_generated_certificate() {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params.subject_alt_names = vec![
            rcgen::SanType::OtherName((
                vec![1, 3, 6, 1, 5, 5, 7, 8, 5],
                rcgen::OtherNameValue::Utf8String("alice@example.test".into()),
            )),
            rcgen::SanType::DnsName("client.example.test".try_into().unwrap()),
        ];
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "alice");
        let cert = params.self_signed(&key).unwrap();
        let identity = identity_of(cert.der());
        assert_eq!(identity.xmpp_addrs, vec!["alice@example.test".to_string()]);
        assert_eq!(identity.common_name.as_deref(), Some("alice"));
        assert_eq!(identity_of(b"not a certificate"), CertIdentity::default());
    }
}
