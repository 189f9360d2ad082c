//! SIP domain identities of a verified TLS peer certificate (RFC 5922 §7.1), for
//! `[sip] trusted_certs`.

use x509_parser::extensions::{GeneralName, ParsedExtension};

/// The DNS SANs, and the host of `sip:`/`sips:` URI SANs, lower-cased. The subject CN is
/// not used (RFC 5922 §7.1 ignores it once SANs exist, and trunks without SANs are not worth
/// the ambiguity), and wildcard names are never an identity (§7.2).
pub fn sip_identities(der: &[u8]) -> Vec<String> {
    let Ok((_, cert)) = x509_parser::parse_x509_certificate(der) else {
        return Vec::new();
    };
    let mut names = Vec::new();
    for extension in cert.extensions() {
        let ParsedExtension::SubjectAlternativeName(san) = extension.parsed_extension() else {
            continue;
        };
        for name in &san.general_names {
            let identity = match name {
                GeneralName::DNSName(dns) => Some(dns.to_ascii_lowercase()),
                GeneralName::URI(uri) => sip_uri_host(uri),
                _ => None,
            };
            if let Some(identity) = identity.filter(|n| !n.is_empty() && !n.contains('*')) {
                names.push(identity);
            }
        }
    }
    names
}

/// `sip:example.net` -> `example.net`. RFC 5922 §7.1 takes only URIs without a user part.
fn sip_uri_host(uri: &str) -> Option<String> {
    let (scheme, rest) = uri.split_once(':')?;
    if !scheme.eq_ignore_ascii_case("sip") && !scheme.eq_ignore_ascii_case("sips") {
        return None;
    }
    if rest.contains('@') {
        return None;
    }
    let host = rest.split([';', '?']).next()?;
    let host = match host.strip_prefix('[') {
        Some(v6) => v6.split(']').next()?,
        None => host.rsplit_once(':').map_or(host, |(h, _port)| h),
    };
    Some(host.to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cert_with(sans: Vec<rcgen::SanType>) -> Vec<u8> {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params.subject_alt_names = sans;
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "cn.example.net");
        params.self_signed(&key).unwrap().der().to_vec()
    }

    #[test]
    fn dns_and_sip_uri_sans_are_identities_cn_and_wildcards_are_not() {
        let der = cert_with(vec![
            rcgen::SanType::DnsName("Trunk.Example.NET".try_into().unwrap()),
            rcgen::SanType::DnsName("*.example.org".try_into().unwrap()),
            rcgen::SanType::URI(
                "sip:edge.example.com:5061;transport=tls"
                    .try_into()
                    .unwrap(),
            ),
            rcgen::SanType::URI("sip:alice@example.com".try_into().unwrap()),
            rcgen::SanType::URI("https://example.com".try_into().unwrap()),
        ]);
        assert_eq!(
            sip_identities(&der),
            vec![
                "trunk.example.net".to_string(),
                "edge.example.com".to_string()
            ]
        );
        assert!(sip_identities(b"not a certificate").is_empty());
    }
}
