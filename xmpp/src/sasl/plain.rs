//! PLAIN (RFC 4616): one message, `[authzid] NUL authcid NUL passwd`, checked against the
//! stored SCRAM verifier so no plaintext password is ever kept.

use std::fmt;

use subtle::ConstantTimeEq;

use super::credentials::ScramCredentials;
use super::error::SaslError;
use super::saslprep::saslprep;

/// PLAIN needs no state between steps; this only groups its parser.
pub struct PlainServer;

/// A parsed PLAIN message.
#[derive(Clone, PartialEq, Eq)]
pub struct PlainRequest {
    /// Requested identity, raw (`None` when empty); the caller checks it (RFC 6120 §6.3.8).
    pub authzid: Option<String>,
    /// Authentication identity after SASLprep, like SCRAM's username.
    pub authcid: String,
    /// Password as sent; [`verify_plain`] SASLpreps it.
    pub password: String,
}

impl PlainServer {
    pub fn parse(msg: &[u8]) -> Result<PlainRequest, SaslError> {
        let text = std::str::from_utf8(msg)
            .map_err(|_| SaslError::malformed("PLAIN message not UTF-8"))?;
        let mut fields = text.split('\0');
        let (Some(authzid), Some(authcid), Some(password), None) =
            (fields.next(), fields.next(), fields.next(), fields.next())
        else {
            // Also catches NUL inside a field: that makes more than three fields.
            return Err(SaslError::malformed(
                "PLAIN message needs exactly three fields",
            ));
        };
        if authcid.is_empty() {
            return Err(SaslError::malformed("PLAIN authcid empty"));
        }
        if password.is_empty() {
            return Err(SaslError::malformed("PLAIN password empty"));
        }
        Ok(PlainRequest {
            authzid: (!authzid.is_empty()).then(|| authzid.to_owned()),
            authcid: saslprep(authcid, "PLAIN authcid")?,
            password: password.to_owned(),
        })
    }
}

/// Whether `password` matches `creds`: re-derives with the stored salt and iteration count
/// and compares StoredKey in constant time. Costs one PBKDF2 run whatever the answer.
pub fn verify_plain(password: &str, creds: &ScramCredentials) -> bool {
    match ScramCredentials::derive(creds.hash, password, &creds.salt, creds.iterations) {
        Ok(derived) => derived.stored_key.ct_eq(&creds.stored_key).into(),
        Err(_) => false,
    }
}

// Keep the password out of logs.
impl fmt::Debug for PlainRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PlainRequest")
            .field("authzid", &self.authzid)
            .field("authcid", &self.authcid)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::super::{SaslCondition, ScramHash};
    use super::*;

    fn creds(password: &str) -> ScramCredentials {
        ScramCredentials::derive(ScramHash::Sha256, password, b"0123456789abcdef", 16).unwrap()
    }

    #[test]
    fn parses_with_and_without_authzid() {
        let r = PlainServer::parse(b"\0tim\0tanstaaftanstaaf").unwrap();
        assert_eq!(r.authzid, None);
        assert_eq!(r.authcid, "tim");
        assert_eq!(r.password, "tanstaaftanstaaf");
        let r = PlainServer::parse(b"Ursel\0Kurt\0xipj3plmq").unwrap();
        assert_eq!(r.authzid.as_deref(), Some("Ursel"));
        assert_eq!(r.authcid, "Kurt");
    }

    #[test]
    fn authcid_is_saslprepped() {
        let r = PlainServer::parse("\0I\u{00AD}X\0pw".as_bytes()).unwrap();
        assert_eq!(r.authcid, "IX");
        let e = PlainServer::parse("\0a\u{0007}\0pw".as_bytes()).unwrap_err();
        assert_eq!(e.condition(), SaslCondition::MalformedRequest);
        // Found by the fuzz test: an authcid SASLprep maps to nothing.
        let e = PlainServer::parse("\0\u{00AD}\0pw".as_bytes()).unwrap_err();
        assert_eq!(e.condition(), SaslCondition::MalformedRequest);
    }

    #[test]
    fn malformed_messages() {
        for msg in [
            &b""[..],
            b"tim",
            b"\0tim",
            b"\0\0pw",      // empty authcid
            b"\0tim\0",     // empty password
            b"\0tim\0pw\0", // NUL in password
            b"\0ti\0m\0pw", // NUL in authcid
            b"a\0b\0c\0d",
            b"\0tim\0p\xffw", // not UTF-8
            b"\xc3\0tim\0pw", // truncated UTF-8 in authzid
        ] {
            let err = PlainServer::parse(msg).unwrap_err();
            assert_eq!(err.condition(), SaslCondition::MalformedRequest, "{msg:?}");
        }
    }

    #[test]
    fn verify_good_bad_and_prepped() {
        let c = creds("IX");
        assert!(verify_plain("IX", &c));
        assert!(verify_plain("I\u{00AD}X", &c)); // SASLprep maps soft hyphen to nothing
        assert!(!verify_plain("IY", &c));
        assert!(!verify_plain("", &c));
        assert!(!verify_plain("\u{00AD}", &c)); // empty after SASLprep
        assert!(!verify_plain("I\u{0007}X", &c)); // prohibited: refused, not panicking
        let other_salt =
            ScramCredentials::derive(ScramHash::Sha256, "IX", b"another salt....", 16).unwrap();
        assert!(verify_plain("IX", &other_salt));
        assert_ne!(other_salt.stored_key, c.stored_key);
    }

    #[test]
    fn verify_sha1_and_decoy() {
        let c = ScramCredentials::derive(ScramHash::Sha1, "pencil", b"salt", 16).unwrap();
        assert!(verify_plain("pencil", &c));
        let decoy = ScramCredentials::decoy(ScramHash::Sha256, "nobody").unwrap();
        assert!(!verify_plain("pencil", &decoy));
        assert!(!verify_plain("", &decoy));
    }

    #[test]
    fn debug_hides_password() {
        let r = PlainServer::parse(b"\0tim\0secret-pw").unwrap();
        assert!(!format!("{r:?}").contains("secret-pw"));
    }
}
