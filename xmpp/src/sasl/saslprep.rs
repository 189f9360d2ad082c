//! SASLprep (RFC 4013) for usernames and passwords.

use super::error::SaslError;

/// Prepares `s` with SASLprep. `what` names the field for the log reason; the offending
/// character is deliberately left out, since the field may be a password.
///
/// An empty result is refused too: every field prepared here (username, authcid, password)
/// must be non-empty, and mapping can empty a non-empty input (e.g. a lone soft hyphen).
pub(crate) fn saslprep(s: &str, what: &str) -> Result<String, SaslError> {
    match stringprep::saslprep(s) {
        Ok(prepared) if !prepared.is_empty() => Ok(prepared.into_owned()),
        Ok(_) => Err(SaslError::malformed(format!(
            "{what} is empty after SASLprep"
        ))),
        Err(_) => Err(SaslError::malformed(format!(
            "{what} is refused by SASLprep"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::saslprep;

    #[test]
    fn rfc4013_examples() {
        // RFC 4013 §3: soft hyphen maps to nothing, U+00AA to "a", roman numeral IX to "IX".
        assert_eq!(saslprep("I\u{00AD}X", "t").unwrap(), "IX");
        assert_eq!(saslprep("user", "t").unwrap(), "user");
        assert_eq!(saslprep("USER", "t").unwrap(), "USER");
        assert_eq!(saslprep("\u{00AA}", "t").unwrap(), "a");
        assert_eq!(saslprep("\u{2168}", "t").unwrap(), "IX");
        // Non-ASCII space maps to ASCII space.
        assert_eq!(saslprep("a\u{00A0}b", "t").unwrap(), "a b");
    }

    #[test]
    fn rfc4013_prohibited() {
        assert!(saslprep("\u{0007}", "t").is_err()); // control
        assert!(saslprep("a\u{0000}b", "t").is_err()); // NUL
        assert!(saslprep("\u{0627}\u{0031}", "t").is_err()); // bidi: RandAL then L-less end
        assert!(saslprep("\u{E000}", "t").is_err()); // private use
        assert!(saslprep("", "t").is_err());
        assert!(saslprep("\u{00AD}", "t").is_err()); // maps to nothing
    }
}
