//! SASL EXTERNAL with client certificates (XEP-0178, RFC 6120 §13.7.1.4): which account a
//! verified certificate may log in as.

use super::{SaslCondition, SaslError};

/// Where identities come from, in order of preference.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExternalMode {
    /// The id-on-xmppAddr otherName SANs (XEP-0178).
    Standard,
    /// The subject CN: a bare user name, or a JID of this domain.
    CommonName,
}

/// The identities a verified client certificate carries.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CertIdentity {
    /// id-on-xmppAddr values, as written in the certificate.
    pub xmpp_addrs: Vec<String>,
    pub common_name: Option<String>,
}

/// The local username `identity` may log in as, per XEP-0178 §6 and the operator's modes:
/// - no authzid and exactly one usable identity: that account;
/// - no authzid and several: `invalid-authzid` (the client must name one);
/// - an authzid matching one usable identity: that account; matching none: `invalid-authzid`;
/// - no usable identity at all (none, or only other domains'): `not-authorized`.
///
/// The reason in the error is for logs only; it never reaches the client.
pub fn resolve_external(
    identity: &CertIdentity,
    modes: &[ExternalMode],
    domain: &str,
    authzid: Option<&str>,
) -> Result<String, SaslError> {
    let mut usable: Vec<String> = Vec::new();
    for mode in modes {
        let found: Vec<String> = match mode {
            ExternalMode::Standard => identity
                .xmpp_addrs
                .iter()
                .filter_map(|a| local_user(a, domain))
                .collect(),
            ExternalMode::CommonName => identity
                .common_name
                .iter()
                .filter_map(|cn| {
                    if cn.contains('@') {
                        local_user(cn, domain)
                    } else {
                        local_user(&format!("{cn}@{domain}"), domain)
                    }
                })
                .collect(),
        };
        // The first mode that yields anything decides; later modes are fallbacks.
        if !found.is_empty() {
            usable = found;
            break;
        }
    }
    usable.dedup();
    if usable.is_empty() {
        return Err(SaslError::new(
            SaslCondition::NotAuthorized,
            "certificate carries no identity of this domain",
        ));
    }
    match authzid.filter(|a| !a.is_empty()) {
        None if usable.len() == 1 => Ok(usable.remove(0)),
        None => Err(SaslError::new(
            SaslCondition::InvalidAuthzid,
            "certificate names several accounts; an authzid must choose",
        )),
        Some(authzid) => match local_user(authzid, domain) {
            Some(user) if usable.contains(&user) => Ok(user),
            _ => Err(SaslError::new(
                SaslCondition::InvalidAuthzid,
                format!("authzid {authzid:?} is not in the certificate"),
            )),
        },
    }
}

/// The normalized localpart of a bare JID of `domain`, if it is one.
fn local_user(jid: &str, domain: &str) -> Option<String> {
    let bare = jid::BareJid::new(jid.trim()).ok()?;
    if !bare.domain().as_str().eq_ignore_ascii_case(domain) {
        return None;
    }
    bare.node().map(|n| n.as_str().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    const STANDARD: &[ExternalMode] = &[ExternalMode::Standard];
    const BOTH: &[ExternalMode] = &[ExternalMode::Standard, ExternalMode::CommonName];

    fn ident(addrs: &[&str], cn: Option<&str>) -> CertIdentity {
        CertIdentity {
            xmpp_addrs: addrs.iter().map(|s| s.to_string()).collect(),
            common_name: cn.map(str::to_owned),
        }
    }

    fn condition(r: Result<String, SaslError>) -> SaslCondition {
        r.unwrap_err().condition()
    }

    #[test]
    fn one_identity_without_authzid_is_that_account() {
        assert_eq!(
            resolve_external(
                &ident(&["Alice@Example.Test"], None),
                STANDARD,
                "example.test",
                None
            )
            .unwrap(),
            "alice"
        );
    }

    #[test]
    fn several_identities_need_an_authzid_that_matches_one() {
        let id = ident(&["alice@example.test", "bob@example.test"], None);
        assert_eq!(
            condition(resolve_external(&id, STANDARD, "example.test", None)),
            SaslCondition::InvalidAuthzid
        );
        assert_eq!(
            resolve_external(&id, STANDARD, "example.test", Some("bob@example.test")).unwrap(),
            "bob"
        );
        assert_eq!(
            condition(resolve_external(
                &id,
                STANDARD,
                "example.test",
                Some("carol@example.test")
            )),
            SaslCondition::InvalidAuthzid
        );
    }

    #[test]
    fn other_domains_and_empty_certificates_are_not_authorized() {
        assert_eq!(
            condition(resolve_external(
                &ident(&["alice@evil.test"], None),
                STANDARD,
                "example.test",
                None
            )),
            SaslCondition::NotAuthorized
        );
        assert_eq!(
            condition(resolve_external(
                &ident(&[], Some("alice")),
                STANDARD,
                "example.test",
                None
            )),
            SaslCondition::NotAuthorized
        );
    }

    #[test]
    fn common_name_is_a_fallback_only_when_enabled() {
        let cn_only = ident(&[], Some("alice"));
        assert_eq!(
            resolve_external(&cn_only, BOTH, "example.test", None).unwrap(),
            "alice"
        );
        assert_eq!(
            resolve_external(
                &ident(&[], Some("alice@example.test")),
                BOTH,
                "example.test",
                None
            )
            .unwrap(),
            "alice"
        );
        assert_eq!(
            condition(resolve_external(
                &ident(&[], Some("alice@evil.test")),
                BOTH,
                "example.test",
                None
            )),
            SaslCondition::NotAuthorized
        );
        // With an xmppAddr present, the CN is not consulted.
        let both = ident(&["bob@example.test"], Some("alice"));
        assert_eq!(
            resolve_external(&both, BOTH, "example.test", None).unwrap(),
            "bob"
        );
        assert_eq!(
            condition(resolve_external(
                &both,
                BOTH,
                "example.test",
                Some("alice@example.test")
            )),
            SaslCondition::InvalidAuthzid
        );
    }
}
