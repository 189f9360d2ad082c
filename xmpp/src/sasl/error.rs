//! SASL failure conditions (RFC 6120 §6.5) and the error type every step returns.

/// The `<failure/>` child element sent to the client (RFC 6120 §6.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SaslCondition {
    Aborted,
    /// RFC 6120 §6.5.4: SASL attempted before the required TLS.
    EncryptionRequired,
    IncorrectEncoding,
    InvalidAuthzid,
    InvalidMechanism,
    MalformedRequest,
    MechanismTooWeak,
    NotAuthorized,
    TemporaryAuthFailure,
}

impl SaslCondition {
    /// The XML element name, e.g. `"not-authorized"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Aborted => "aborted",
            Self::EncryptionRequired => "encryption-required",
            Self::IncorrectEncoding => "incorrect-encoding",
            Self::InvalidAuthzid => "invalid-authzid",
            Self::InvalidMechanism => "invalid-mechanism",
            Self::MalformedRequest => "malformed-request",
            Self::MechanismTooWeak => "mechanism-too-weak",
            Self::NotAuthorized => "not-authorized",
            Self::TemporaryAuthFailure => "temporary-auth-failure",
        }
    }
}

/// A failed SASL step: the condition goes to the client, the reason only to logs
/// (it may say "unknown user", which the client must not learn).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}: {}", .condition.as_str(), .reason)]
pub struct SaslError {
    condition: SaslCondition,
    reason: String,
}

impl SaslError {
    pub fn new(condition: SaslCondition, reason: impl Into<String>) -> Self {
        Self {
            condition,
            reason: reason.into(),
        }
    }

    pub fn condition(&self) -> SaslCondition {
        self.condition
    }

    /// Free text for logs; never send it to the client.
    pub fn reason(&self) -> &str {
        &self.reason
    }

    pub(crate) fn malformed(reason: impl Into<String>) -> Self {
        Self::new(SaslCondition::MalformedRequest, reason)
    }

    pub(crate) fn not_authorized(reason: impl Into<String>) -> Self {
        Self::new(SaslCondition::NotAuthorized, reason)
    }

    pub(crate) fn temporary(reason: impl Into<String>) -> Self {
        Self::new(SaslCondition::TemporaryAuthFailure, reason)
    }
}
