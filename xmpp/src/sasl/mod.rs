//! SASL for c2s authentication (RFC 6120 §6), Sans-IO: bytes in (already base64-decoded by
//! the caller), bytes or a typed error out; no I/O, no clock.
//!
//! - SCRAM-SHA-1 (RFC 5802) and SCRAM-SHA-256 (RFC 7677): [`ScramServer`].
//! - PLAIN (RFC 4616): [`PlainServer`] and [`verify_plain`].
//! - Stored verifiers instead of passwords: [`PasswordRecord`], [`ScramCredentials`]
//!   (SASLprep per RFC 4013; HA1 per RFC 7616 / RFC 8760 for SIP digest).
//! - Failures map to RFC 6120 §6.5 conditions: [`SaslCondition`].

mod credentials;
mod decoy;
mod error;
mod external;
mod hash;
mod plain;
mod saslprep;
mod scram;

#[cfg(test)]
mod fuzz_tests;
#[cfg(test)]
mod interop_tests;

pub use credentials::{PasswordRecord, ScramCredentials, DEFAULT_ITERATIONS};
pub use error::{SaslCondition, SaslError};
pub use external::{resolve_external, CertIdentity, ExternalMode};
pub use hash::ScramHash;
pub use plain::{verify_plain, PlainRequest, PlainServer};
pub use scram::{ChannelBinding, ClientFirst, ScramServer};

/// The mechanisms this server implements.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Mechanism {
    /// XEP-0178: the verified TLS client certificate is the credential.
    External,
    /// SCRAM with channel binding (RFC 5802 §6, RFC 9266).
    ScramSha256Plus,
    ScramSha1Plus,
    ScramSha256,
    ScramSha1,
    Plain,
}

impl Mechanism {
    /// True for the -PLUS variants, which bind to the TLS channel.
    pub fn is_plus(self) -> bool {
        matches!(self, Self::ScramSha256Plus | Self::ScramSha1Plus)
    }

    /// All of them, strongest first (the order to advertise them in).
    pub const ALL: [Mechanism; 6] = [
        Self::External,
        Self::ScramSha256Plus,
        Self::ScramSha1Plus,
        Self::ScramSha256,
        Self::ScramSha1,
        Self::Plain,
    ];

    /// IANA name, e.g. `"SCRAM-SHA-256"`.
    pub fn name(self) -> &'static str {
        match self {
            Self::External => "EXTERNAL",
            Self::ScramSha256Plus => "SCRAM-SHA-256-PLUS",
            Self::ScramSha1Plus => "SCRAM-SHA-1-PLUS",
            Self::ScramSha256 => "SCRAM-SHA-256",
            Self::ScramSha1 => "SCRAM-SHA-1",
            Self::Plain => "PLAIN",
        }
    }

    /// Parses the `mechanism` attribute of `<auth/>`; names are matched exactly
    /// (RFC 4422 §3.1 names are upper case).
    pub fn from_name(name: &str) -> Result<Self, SaslError> {
        Self::ALL
            .into_iter()
            .find(|m| m.name() == name)
            .ok_or_else(|| {
                SaslError::new(
                    SaslCondition::InvalidMechanism,
                    "unsupported SASL mechanism",
                )
            })
    }

    /// The SCRAM hash, or `None` for PLAIN and EXTERNAL.
    pub fn scram_hash(self) -> Option<ScramHash> {
        match self {
            Self::ScramSha256 | Self::ScramSha256Plus => Some(ScramHash::Sha256),
            Self::ScramSha1 | Self::ScramSha1Plus => Some(ScramHash::Sha1),
            Self::Plain | Self::External => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mechanism_names_round_trip() {
        for m in Mechanism::ALL {
            assert_eq!(Mechanism::from_name(m.name()).unwrap(), m);
        }
        for bad in [
            "",
            "scram-sha-256",
            "SCRAM-SHA-512-PLUS",
            "DIGEST-MD5",
            "PLAIN ",
        ] {
            let e = Mechanism::from_name(bad).unwrap_err();
            assert_eq!(e.condition(), SaslCondition::InvalidMechanism);
        }
    }

    #[test]
    fn condition_element_names() {
        assert_eq!(SaslCondition::NotAuthorized.as_str(), "not-authorized");
        assert_eq!(
            SaslCondition::TemporaryAuthFailure.as_str(),
            "temporary-auth-failure"
        );
        assert_eq!(SaslCondition::InvalidAuthzid.as_str(), "invalid-authzid");
        let e = SaslError::new(SaslCondition::Aborted, "client aborted");
        assert_eq!(e.to_string(), "aborted: client aborted");
    }
}
