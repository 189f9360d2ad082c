//! Stand-in credentials for accounts that do not exist, so neither SCRAM's server-first
//! message nor PLAIN's timing tells a client which usernames are registered
//! (RFC 5802 §9 suggests exactly this).

use std::sync::OnceLock;

use super::credentials::{ScramCredentials, DEFAULT_ITERATIONS, SALT_LEN};
use super::error::SaslError;
use super::hash::ScramHash;

/// Per-process key; a client could recompute decoys made with a public key.
static SECRET: OnceLock<[u8; 32]> = OnceLock::new();

fn secret() -> Result<&'static [u8; 32], SaslError> {
    if let Some(secret) = SECRET.get() {
        return Ok(secret);
    }
    let mut fresh = [0u8; 32];
    getrandom::fill(&mut fresh).map_err(|e| SaslError::temporary(format!("no randomness: {e}")))?;
    // If another thread won the race, its value is kept so all decoys stay consistent.
    Ok(SECRET.get_or_init(|| fresh))
}

impl ScramCredentials {
    /// Credentials for a user that does not exist: the same for the same `(hash, username)`
    /// for the life of the process (so repeated attempts see a stable salt), shaped like a
    /// real record ([`DEFAULT_ITERATIONS`], 16-byte salt), and matching no password.
    ///
    /// PLAIN callers should run [`verify_plain`](super::verify_plain) against this for
    /// unknown users, so the PBKDF2 cost does not reveal that the account is missing.
    pub fn decoy(hash: ScramHash, username: &str) -> Result<Self, SaslError> {
        let secret = secret()?;
        let derive = |label: &str| {
            // NUL separators: labels contain none, so only the final username is open-ended.
            let input = [label, hash.label(), username].join("\0");
            ScramHash::Sha256.hmac(secret, input.as_bytes())
        };
        let mut salt = derive("salt");
        salt.truncate(SALT_LEN);
        // A key nobody knows the preimage of, so no proof or password can match it.
        let mut stored_key = derive("stored-key");
        stored_key.truncate(hash.output_len());
        let mut server_key = derive("server-key");
        server_key.truncate(hash.output_len());
        Ok(Self {
            hash,
            salt,
            iterations: DEFAULT_ITERATIONS,
            stored_key,
            server_key,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decoys_are_stable_distinct_and_well_shaped() {
        let a = ScramCredentials::decoy(ScramHash::Sha256, "nobody").unwrap();
        let b = ScramCredentials::decoy(ScramHash::Sha256, "nobody").unwrap();
        let c = ScramCredentials::decoy(ScramHash::Sha256, "someone").unwrap();
        let d = ScramCredentials::decoy(ScramHash::Sha1, "nobody").unwrap();
        assert_eq!(a.salt, b.salt);
        assert_ne!(a.salt, c.salt);
        assert_ne!(a.salt, d.salt);
        assert_eq!(a.salt.len(), SALT_LEN);
        assert_eq!(a.iterations, DEFAULT_ITERATIONS);
        assert_eq!(a.stored_key.len(), 32);
        assert_eq!(d.stored_key.len(), 20);
        assert_eq!(d.server_key.len(), 20);
    }
}
