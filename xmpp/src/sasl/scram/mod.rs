//! Server side of SCRAM-SHA-1 (RFC 5802) and SCRAM-SHA-256 (RFC 7677), with the -PLUS
//! variants' channel binding (RFC 5802 §6; `tls-exporter` per RFC 9266,
//! `tls-server-end-point` per RFC 5929).
//!
//! Steps, each consuming the previous state so a step run out of order (or after a failure)
//! is an error rather than a second chance:
//! `handle_client_first` → caller looks up the user → `handle_credentials` →
//! `handle_client_final`.

mod parse;
#[cfg(test)]
mod tests;

use base64::{engine::general_purpose::STANDARD, Engine};
use subtle::{Choice, ConstantTimeEq};

use super::credentials::ScramCredentials;
use super::error::SaslError;
use super::hash::ScramHash;
use super::saslprep::saslprep;
use parse::CbindFlag;

/// What the client asked for in its first message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientFirst {
    /// Unescaped and SASLprep'd; look the user up by this.
    pub username: String,
    /// Unescaped, otherwise raw; the caller decides whether `username` may act as it
    /// (RFC 6120 §6.3.8, `invalid-authzid`).
    pub authzid: Option<String>,
}

/// One SCRAM exchange, server side.
pub struct ScramServer {
    hash: ScramHash,
    server_nonce: String,
    state: State,
    binding: ChannelBinding,
}

/// What this connection can bind to, and whether the mechanism in use is a -PLUS one.
#[derive(Debug, Clone, Default)]
pub struct ChannelBinding {
    /// The client chose SCRAM-*-PLUS.
    pub plus: bool,
    /// Binding types this server offers on this connection, with their data
    /// (e.g. `("tls-exporter", 32 bytes)`). Non-empty means -PLUS was advertised.
    pub available: Vec<(String, Vec<u8>)>,
}

enum State {
    AwaitingClientFirst,
    AwaitingCredentials {
        /// What c= must decode to: the gs2 header plus any channel binding data.
        gs2_header: Vec<u8>,
        client_first_bare: String,
        combined_nonce: String,
        username: String,
    },
    AwaitingClientFinal {
        gs2_header: Vec<u8>,
        /// client-first-message-bare "," server-first-message.
        auth_message_prefix: String,
        combined_nonce: String,
        creds: ScramCredentials,
        /// False when `creds` is a decoy: the proof must then fail whatever it is.
        user_exists: bool,
    },
    /// Succeeded or failed; nothing more to do.
    Finished,
}

impl ScramServer {
    /// Server with a nonce part made from caller-supplied random bytes (base64-encoded,
    /// so it is valid nonce text).
    pub fn new(hash: ScramHash, server_nonce: [u8; 18]) -> Self {
        Self::unchecked(hash, STANDARD.encode(server_nonce))
    }

    /// Server with a fresh random nonce part.
    pub fn with_random_nonce(hash: ScramHash) -> Result<Self, SaslError> {
        let mut bytes = [0u8; 18];
        getrandom::fill(&mut bytes)
            .map_err(|e| SaslError::temporary(format!("no randomness: {e}")))?;
        Ok(Self::new(hash, bytes))
    }

    /// Server with an exact nonce part (test vectors); it must be printable ASCII without ','.
    pub fn with_nonce(hash: ScramHash, server_nonce: String) -> Result<Self, SaslError> {
        if !parse::is_nonce(&server_nonce) {
            return Err(SaslError::temporary(
                "server nonce is not valid SCRAM nonce text",
            ));
        }
        Ok(Self::unchecked(hash, server_nonce))
    }

    fn unchecked(hash: ScramHash, server_nonce: String) -> Self {
        Self {
            hash,
            server_nonce,
            state: State::AwaitingClientFirst,
            binding: ChannelBinding::default(),
        }
    }

    /// Channel binding for this exchange; call before `handle_client_first`.
    pub fn with_channel_binding(mut self, binding: ChannelBinding) -> Self {
        self.binding = binding;
        self
    }

    /// Parses client-first-message (gs2 header + client-first-message-bare).
    pub fn handle_client_first(&mut self, msg: &[u8]) -> Result<ClientFirst, SaslError> {
        let State::AwaitingClientFirst = std::mem::replace(&mut self.state, State::Finished) else {
            return Err(out_of_order("client-first"));
        };
        let m = parse::client_first(parse::utf8(msg)?)?;
        let binding_data = match (&m.cbind, self.binding.plus) {
            (CbindFlag::Required(name), true) => {
                match self.binding.available.iter().find(|(n, _)| n == name) {
                    Some((_, data)) => data.clone(),
                    None => {
                        return Err(SaslError::not_authorized(format!(
                            "channel binding type {name:?} not offered"
                        )))
                    }
                }
            }
            (CbindFlag::Required(_), false) => {
                return Err(SaslError::not_authorized(
                    "channel binding asked for with a non-PLUS mechanism",
                ))
            }
            (_, true) => {
                return Err(SaslError::not_authorized(
                    "SCRAM-*-PLUS without channel binding",
                ))
            }
            // RFC 5802 §6: 'y' says the client could bind but saw no -PLUS; if we offered
            // it, something stripped it from the features (a downgrade).
            (CbindFlag::NotAdvertised, false) if !self.binding.available.is_empty() => {
                return Err(SaslError::not_authorized(
                    "client saw no channel binding, but it was offered (downgrade)",
                ))
            }
            (CbindFlag::None | CbindFlag::NotAdvertised, false) => Vec::new(),
        };
        let username = saslprep(&m.username, "SCRAM username")?;
        // c= must carry the gs2 header followed by the binding data (RFC 5802 §7).
        let mut cbind_input = m.gs2_header.as_bytes().to_vec();
        cbind_input.extend_from_slice(&binding_data);
        self.state = State::AwaitingCredentials {
            gs2_header: cbind_input,
            client_first_bare: m.bare.to_owned(),
            combined_nonce: format!("{}{}", m.client_nonce, self.server_nonce),
            username: username.clone(),
        };
        Ok(ClientFirst {
            username,
            authzid: m.authzid,
        })
    }

    /// Builds server-first-message from the user's stored credentials for this hash, or
    /// from a decoy when the user is unknown (`None`), so the reply looks the same either
    /// way and the exchange fails only at the proof.
    pub fn handle_credentials(
        &mut self,
        creds: Option<&ScramCredentials>,
    ) -> Result<Vec<u8>, SaslError> {
        let State::AwaitingCredentials {
            gs2_header,
            client_first_bare,
            combined_nonce,
            username,
        } = std::mem::replace(&mut self.state, State::Finished)
        else {
            return Err(out_of_order("credentials"));
        };
        let (creds, user_exists) = match creds {
            Some(c) if c.hash == self.hash => (c.clone(), true),
            Some(c) => {
                return Err(SaslError::temporary(format!(
                    "stored SCRAM-{} credentials given to SCRAM-{}",
                    c.hash.label(),
                    self.hash.label()
                )));
            }
            None => (ScramCredentials::decoy(self.hash, &username)?, false),
        };
        let server_first = format!(
            "r={combined_nonce},s={},i={}",
            STANDARD.encode(&creds.salt),
            creds.iterations
        );
        self.state = State::AwaitingClientFinal {
            gs2_header,
            auth_message_prefix: format!("{client_first_bare},{server_first}"),
            combined_nonce,
            creds,
            user_exists,
        };
        Ok(server_first.into_bytes())
    }

    /// Checks client-final-message; on success returns server-final-message (`v=...`).
    pub fn handle_client_final(&mut self, msg: &[u8]) -> Result<Vec<u8>, SaslError> {
        let State::AwaitingClientFinal {
            gs2_header,
            auth_message_prefix,
            combined_nonce,
            creds,
            user_exists,
        } = std::mem::replace(&mut self.state, State::Finished)
        else {
            return Err(out_of_order("client-final"));
        };
        let m = parse::client_final(parse::utf8(msg)?)?;
        if m.proof.len() != self.hash.output_len() {
            return Err(SaslError::malformed("client proof has the wrong length"));
        }
        if m.cbind_input != gs2_header {
            return Err(SaslError::not_authorized(
                "c= does not match the gs2 header",
            ));
        }
        if m.nonce != combined_nonce {
            return Err(SaslError::not_authorized("nonce does not match"));
        }

        let auth_message = format!("{auth_message_prefix},{}", m.without_proof);
        let client_signature = self.hash.hmac(&creds.stored_key, auth_message.as_bytes());
        let client_key: Vec<u8> = m
            .proof
            .iter()
            .zip(&client_signature)
            .map(|(p, s)| p ^ s)
            .collect();
        // Same work for decoys, and no early exit on which check failed.
        let proof_ok = self.hash.h(&client_key).ct_eq(&creds.stored_key);
        if !bool::from(proof_ok & Choice::from(u8::from(user_exists))) {
            return Err(SaslError::not_authorized(if user_exists {
                "wrong SCRAM proof"
            } else {
                "unknown user"
            }));
        }
        let server_signature = self.hash.hmac(&creds.server_key, auth_message.as_bytes());
        Ok(format!("v={}", STANDARD.encode(server_signature)).into_bytes())
    }
}

fn out_of_order(step: &str) -> SaslError {
    SaslError::malformed(format!("SCRAM {step} step out of order"))
}
