//! What is stored per user instead of the password: SCRAM keys (RFC 5802 §3) for both
//! hashes and HTTP-digest HA1 values (RFC 7616) for SIP.

use std::fmt;

use md5::Md5;
use sha2::{Digest, Sha256};

use super::error::SaslError;
use super::hash::ScramHash;
use super::saslprep::saslprep;

/// PBKDF2 iteration count for new records (RFC 7677 §4 asks for at least 4096).
pub const DEFAULT_ITERATIONS: u32 = 4096;

/// Salt length for new records; 16 bytes as RFC 7677's example uses.
pub(crate) const SALT_LEN: usize = 16;

/// SCRAM verifier for one hash: enough to check a proof, not enough to log in elsewhere
/// (RFC 5802 §9 "stolen verifier" aside).
#[derive(Clone)]
pub struct ScramCredentials {
    pub hash: ScramHash,
    pub salt: Vec<u8>,
    pub iterations: u32,
    /// H(ClientKey).
    pub stored_key: Vec<u8>,
    /// HMAC(SaltedPassword, "Server Key").
    pub server_key: Vec<u8>,
}

impl ScramCredentials {
    /// Derives the verifier from a password, which is SASLprep'd first (RFC 5802 §2.2);
    /// a password SASLprep refuses, or that it leaves empty, is an error.
    pub fn derive(
        hash: ScramHash,
        password: &str,
        salt: &[u8],
        iterations: u32,
    ) -> Result<Self, SaslError> {
        if iterations == 0 {
            return Err(SaslError::temporary(
                "SCRAM iteration count must be at least 1",
            ));
        }
        let password = saslprep(password, "password")?;
        let salted = hash.hi(password.as_bytes(), salt, iterations);
        let client_key = hash.hmac(&salted, b"Client Key");
        Ok(Self {
            hash,
            salt: salt.to_vec(),
            iterations,
            stored_key: hash.h(&client_key),
            server_key: hash.hmac(&salted, b"Server Key"),
        })
    }
}

// Keys are password-equivalent against this server: keep them out of logs.
impl fmt::Debug for ScramCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScramCredentials")
            .field("hash", &self.hash)
            .field("salt", &self.salt)
            .field("iterations", &self.iterations)
            .finish_non_exhaustive()
    }
}

/// Everything stored for one account's password.
#[derive(Clone)]
pub struct PasswordRecord {
    pub scram_sha1: ScramCredentials,
    pub scram_sha256: ScramCredentials,
    /// Lowercase hex MD5(username:realm:password), RFC 7616 §3.4.2 (SIP digest).
    pub ha1_md5: String,
    /// Lowercase hex SHA-256(username:realm:password), RFC 7616 / RFC 8760.
    pub ha1_sha256: String,
}

impl PasswordRecord {
    /// Derives a record with fresh random salts, one per hash so the two verifiers share
    /// nothing. `username` is the JID localpart and `realm` the domain (for HA1 only).
    ///
    /// HA1 uses the password as given, not SASLprep'd: SIP clients hash what the user typed.
    pub fn derive(
        username: &str,
        realm: &str,
        password: &str,
        iterations: u32,
    ) -> Result<Self, SaslError> {
        let scram_sha1 =
            ScramCredentials::derive(ScramHash::Sha1, password, &random_salt()?, iterations)?;
        let scram_sha256 =
            ScramCredentials::derive(ScramHash::Sha256, password, &random_salt()?, iterations)?;
        let a1 = format!("{username}:{realm}:{password}");
        Ok(Self {
            scram_sha1,
            scram_sha256,
            ha1_md5: hex(&Md5::digest(a1.as_bytes())),
            ha1_sha256: hex(&Sha256::digest(a1.as_bytes())),
        })
    }
}

// HA1 is password-equivalent for SIP digest: keep it out of logs.
impl fmt::Debug for PasswordRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PasswordRecord")
            .field("scram_sha1", &self.scram_sha1)
            .field("scram_sha256", &self.scram_sha256)
            .finish_non_exhaustive()
    }
}

fn random_salt() -> Result<Vec<u8>, SaslError> {
    let mut salt = vec![0u8; SALT_LEN];
    getrandom::fill(&mut salt).map_err(|e| SaslError::temporary(format!("no randomness: {e}")))?;
    Ok(salt)
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(DIGITS[usize::from(b >> 4)] as char);
        out.push(DIGITS[usize::from(b & 0x0f)] as char);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::{engine::general_purpose::STANDARD, Engine};

    #[test]
    fn ha1_md5_rfc2617_example() {
        // RFC 2617 §3.5: HA1 = MD5("Mufasa:testrealm@host.com:Circle Of Life").
        let rec =
            PasswordRecord::derive("Mufasa", "testrealm@host.com", "Circle Of Life", 1).unwrap();
        assert_eq!(rec.ha1_md5, "939e7578ed9e3c518a452acee763bce9");
    }

    #[test]
    fn ha1_sha256_rfc7616_example() {
        // RFC 7616 §3.9.1: SHA-256 A1 for Mufasa / http-auth@example.org / Circle of Life.
        // The RFC prints only the response, so compare against an independent hash of A1.
        let rec =
            PasswordRecord::derive("Mufasa", "http-auth@example.org", "Circle of Life", 1).unwrap();
        let expected = Sha256::digest(b"Mufasa:http-auth@example.org:Circle of Life");
        assert_eq!(rec.ha1_sha256, hex(&expected));
        assert_eq!(rec.ha1_sha256.len(), 64);
        assert!(rec
            .ha1_sha256
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)));
    }

    #[test]
    fn record_uses_fresh_separate_salts() {
        let a = PasswordRecord::derive("u", "r", "pw", 1).unwrap();
        let b = PasswordRecord::derive("u", "r", "pw", 1).unwrap();
        assert_eq!(a.scram_sha1.salt.len(), SALT_LEN);
        assert_ne!(a.scram_sha1.salt, a.scram_sha256.salt);
        assert_ne!(a.scram_sha256.salt, b.scram_sha256.salt);
        assert_ne!(a.scram_sha256.stored_key, b.scram_sha256.stored_key);
        assert_eq!(a.scram_sha1.hash, ScramHash::Sha1);
        assert_eq!(a.scram_sha256.hash, ScramHash::Sha256);
        assert_eq!(a.scram_sha1.stored_key.len(), 20);
        assert_eq!(a.scram_sha256.server_key.len(), 32);
    }

    #[test]
    fn rfc5802_keys() {
        // Keys behind the RFC 5802 §5 exchange (StoredKey, ServerKey as computed from it).
        let salt = STANDARD.decode("QSXCR+Q6sek8bf92").unwrap();
        let c = ScramCredentials::derive(ScramHash::Sha1, "pencil", &salt, 4096).unwrap();
        assert_eq!(
            STANDARD.encode(&c.stored_key),
            "6dlGYMOdZcOPutkcNY8U2g7vK9Y="
        );
        assert_eq!(
            STANDARD.encode(&c.server_key),
            "D+CSWLOshSulAsxiupA+qs2/fTE="
        );
    }

    #[test]
    fn saslprep_applies_to_password() {
        let a = ScramCredentials::derive(ScramHash::Sha256, "I\u{00AD}X", b"salt", 2).unwrap();
        let b = ScramCredentials::derive(ScramHash::Sha256, "IX", b"salt", 2).unwrap();
        assert_eq!(a.stored_key, b.stored_key);
        let err =
            ScramCredentials::derive(ScramHash::Sha256, "a\u{0007}b", b"salt", 2).unwrap_err();
        assert_eq!(
            err.condition(),
            super::super::SaslCondition::MalformedRequest
        );
        assert!(!err.reason().contains('\u{0007}'));
    }

    #[test]
    fn zero_iterations_refused() {
        assert!(ScramCredentials::derive(ScramHash::Sha1, "pw", b"s", 0).is_err());
    }

    #[test]
    fn debug_hides_secrets() {
        let rec = PasswordRecord::derive("Mufasa", "r", "Circle Of Life", 1).unwrap();
        let shown = format!("{rec:?}");
        assert!(!shown.contains(&rec.ha1_md5));
        assert!(!shown.contains("stored_key"));
    }
}
