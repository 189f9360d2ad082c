//! The client's SCRAM messages, per the grammar of RFC 5802 §7. Parsing only: no decisions
//! that depend on stored credentials, so every syntax error is reported the same way
//! whether or not the user exists.

use base64::{engine::general_purpose::STANDARD, Engine};

use crate::sasl::error::SaslError;

/// gs2-cbind-flag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum CbindFlag {
    /// `n`: client does not support channel binding.
    None,
    /// `y`: client supports it but thinks the server does not.
    NotAdvertised,
    /// `p=name`: client requires it (SCRAM-*-PLUS).
    Required(String),
}

pub(super) struct ClientFirstMessage<'a> {
    /// The raw gs2-header including its final comma, needed verbatim for the `c=` check.
    pub gs2_header: &'a str,
    pub cbind: CbindFlag,
    /// Unescaped, not SASLprep'd.
    pub authzid: Option<String>,
    /// Unescaped, not SASLprep'd yet.
    pub username: String,
    pub client_nonce: &'a str,
    /// client-first-message-bare, verbatim, for AuthMessage.
    pub bare: &'a str,
}

pub(super) struct ClientFinalMessage<'a> {
    /// Decoded `c=`: gs2-header followed by any channel-binding data.
    pub cbind_input: Vec<u8>,
    pub nonce: &'a str,
    /// client-final-message-without-proof, verbatim, for AuthMessage.
    pub without_proof: &'a str,
    pub proof: Vec<u8>,
}

pub(super) fn utf8(msg: &[u8]) -> Result<&str, SaslError> {
    std::str::from_utf8(msg).map_err(|_| SaslError::malformed("SCRAM message not UTF-8"))
}

pub(super) fn client_first(msg: &str) -> Result<ClientFirstMessage<'_>, SaslError> {
    let (flag, rest) = msg.split_once(',').ok_or_else(|| missing("gs2 header"))?;
    let cbind = match flag {
        "n" => CbindFlag::None,
        "y" => CbindFlag::NotAdvertised,
        _ => match flag.strip_prefix("p=") {
            Some(name) if is_cb_name(name) => CbindFlag::Required(name.to_owned()),
            _ => return Err(SaslError::malformed("bad gs2 channel-binding flag")),
        },
    };
    let (authzid, bare) = rest.split_once(',').ok_or_else(|| missing("gs2 header"))?;
    let authzid = match authzid {
        "" => None,
        a => match a.strip_prefix("a=") {
            Some(name) => Some(saslname(name)?),
            None => return Err(SaslError::malformed("bad gs2 authzid")),
        },
    };
    let gs2_header = &msg[..msg.len() - bare.len()];

    let mut attrs = bare.split(',');
    let first = attrs.next().unwrap_or_default();
    if first.starts_with("m=") {
        // RFC 5802 §5.1: an unsupported mandatory extension must fail the exchange.
        return Err(SaslError::malformed("mandatory SCRAM extension (m=)"));
    }
    let username = first.strip_prefix("n=").ok_or_else(|| missing("n="))?;
    let username = saslname(username)?;
    let client_nonce = attrs
        .next()
        .and_then(|a| a.strip_prefix("r="))
        .ok_or_else(|| missing("r="))?;
    if !is_nonce(client_nonce) {
        return Err(SaslError::malformed("bad client nonce"));
    }
    extensions(attrs)?;
    Ok(ClientFirstMessage {
        gs2_header,
        cbind,
        authzid,
        username,
        client_nonce,
        bare,
    })
}

pub(super) fn client_final(msg: &str) -> Result<ClientFinalMessage<'_>, SaslError> {
    // The proof is always last and covers everything before it.
    let (without_proof, proof) = msg.rsplit_once(',').ok_or_else(|| missing("p="))?;
    let proof = proof
        .strip_prefix("p=")
        .ok_or_else(|| missing("p= as last attribute"))?;
    let proof = STANDARD
        .decode(proof)
        .map_err(|_| SaslError::malformed("bad base64 in p="))?;

    let mut attrs = without_proof.split(',');
    let cbind = attrs
        .next()
        .and_then(|a| a.strip_prefix("c="))
        .ok_or_else(|| missing("c="))?;
    let cbind_input = STANDARD
        .decode(cbind)
        .map_err(|_| SaslError::malformed("bad base64 in c="))?;
    let nonce = attrs
        .next()
        .and_then(|a| a.strip_prefix("r="))
        .ok_or_else(|| missing("r="))?;
    if !is_nonce(nonce) {
        return Err(SaslError::malformed("bad nonce"));
    }
    extensions(attrs)?;
    Ok(ClientFinalMessage {
        cbind_input,
        nonce,
        without_proof,
        proof,
    })
}

/// `printable` (RFC 5802 §7): %x21-2B / %x2D-7E, at least one.
pub(super) fn is_nonce(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| matches!(b, 0x21..=0x2B | 0x2D..=0x7E))
}

fn is_cb_name(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
}

/// saslname: unescapes `=2C` and `=3D`; any other `=`, NUL or an empty name is malformed.
fn saslname(s: &str) -> Result<String, SaslError> {
    if s.is_empty() {
        return Err(SaslError::malformed("empty saslname"));
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find(['=', '\0']) {
        out.push_str(&rest[..i]);
        let tail = &rest[i..];
        if tail.starts_with("=2C") {
            out.push(',');
        } else if tail.starts_with("=3D") {
            out.push('=');
        } else {
            return Err(SaslError::malformed("bad escape or NUL in saslname"));
        }
        rest = &tail[3..];
    }
    out.push_str(rest);
    Ok(out)
}

/// Optional extensions (`ALPHA "=" 1*value-char`) are ignored once well-formed; `m` is
/// mandatory-to-understand wherever it appears, and we understand none.
fn extensions<'a>(attrs: impl Iterator<Item = &'a str>) -> Result<(), SaslError> {
    for attr in attrs {
        let b = attr.as_bytes();
        let well_formed =
            b.len() >= 3 && b[0].is_ascii_alphabetic() && b[1] == b'=' && !b.contains(&0);
        if !well_formed {
            return Err(SaslError::malformed("bad SCRAM attribute"));
        }
        if b[0] == b'm' {
            return Err(SaslError::malformed("mandatory SCRAM extension (m=)"));
        }
    }
    Ok(())
}

fn missing(what: &str) -> SaslError {
    SaslError::malformed(format!("SCRAM message lacks {what}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn saslname_escapes() {
        assert_eq!(saslname("a=2Cb=3Dc").unwrap(), "a,b=c");
        assert_eq!(saslname("=3D=3D").unwrap(), "==");
        assert_eq!(saslname("jüliet").unwrap(), "jüliet");
        for bad in ["", "=", "=2", "=2c", "=3d", "=41", "a=", "a\0b", "=2C\0"] {
            assert!(saslname(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn gs2_header_kept_verbatim() {
        let m = client_first("n,a=ju=2Cliet,n=user,r=abc").unwrap();
        assert_eq!(m.gs2_header, "n,a=ju=2Cliet,");
        assert_eq!(m.bare, "n=user,r=abc");
        assert_eq!(m.authzid.as_deref(), Some("ju,liet"));
        assert_eq!(m.cbind, CbindFlag::None);
        let m = client_first("p=tls-exporter,,n=user,r=abc").unwrap();
        assert_eq!(m.cbind, CbindFlag::Required("tls-exporter".into()));
        assert_eq!(m.gs2_header, "p=tls-exporter,,");
    }

    #[test]
    fn nonce_charset() {
        assert!(is_nonce("%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"));
        assert!(!is_nonce(""));
        assert!(!is_nonce("a,b"));
        assert!(!is_nonce("a b"));
        assert!(!is_nonce("a\x7f"));
        assert!(!is_nonce("é"));
    }

    #[test]
    fn final_proof_must_be_last() {
        assert!(client_final("c=biws,r=abc,p=AAAA").is_ok());
        assert!(client_final("c=biws,p=AAAA,r=abc").is_err());
        assert!(client_final("c=biws,r=abc").is_err());
        assert!(client_final("r=abc,c=biws,p=AAAA").is_err());
        let m = client_final("c=biws,r=abc,x=ext,p=AAAA").unwrap();
        assert_eq!(m.without_proof, "c=biws,r=abc,x=ext");
        assert!(client_final("c=biws,r=abc,m=ext,p=AAAA").is_err());
        assert!(client_final("c=biws,r=abc,p=AA=A").is_err());
    }
}
