//! Server-side SIP digest authentication: RFC 3261 §22 on top of RFC 2617 / RFC 7616
//! digest, with SHA-256 for SIP per RFC 8760.
//!
//! Sans-IO: nothing here reads a clock, a socket or a database. The caller passes the
//! current time (`now`, seconds since the Unix epoch), looks HA1 values up itself, and
//! copies the header values in and out of SIP messages.
//!
//! * Users are stored as HA1 only ([`ha1_md5`], [`ha1_sha256`]; realm = the SIP domain).
//! * [`DigestServer::challenge`] gives the `WWW-Authenticate` (401) or
//!   `Proxy-Authenticate` (407) values: `algorithm=SHA-256` first, then `algorithm=MD5`,
//!   in separate headers (RFC 8760 §2.4), both with `qop="auth"` and the same nonce.
//! * [`Credentials::parse`] reads an `Authorization` / `Proxy-Authorization` value.
//! * [`DigestServer::verify`] checks realm, nonce (stateless, HMAC-SHA-256 authenticated,
//!   time-limited), the response (constant time, an unknown user takes the wrong-password
//!   path) and replays (`nc` must strictly increase per nonce, in bounded memory).
//!   The caller must still compare [`Credentials::uri`] with the Request-URI
//!   (RFC 3261 §22.4, RFC 7616 §3.4.6).
//!
//! Decisions:
//! * `MD5-sess` and `SHA-256-sess` are refused ([`ParseError::UnsupportedAlgorithm`]): SIP
//!   clients do not need them and we never offer them. Other algorithms are refused too.
//! * `qop=auth-int` is refused ([`ParseError::UnsupportedQop`]); we only offer `auth`.
//! * A response without `qop` (RFC 2069 form `H(HA1:nonce:H(A2))`) is accepted, because
//!   RFC 3261 §22.4 requires RFC 2069 backwards compatibility, for MD5 and SHA-256 alike;
//!   but such a nonce is good for one request only (there is no `nc` to count with).
//! * `opaque` is not sent in our challenges and is ignored when a client sends one.
//! * `Stale` is only returned when the response is right for the expired nonce
//!   (RFC 2617 §3.2.1), so a stale verdict never tells a guesser anything.
//!
//! Replay state is in memory ([`DigestServer`] owns it, so `verify` takes `&mut self`; wrap
//! the server in a mutex to share it). Nonces issued before a restart are only as safe as
//! the secret: generate `secret` randomly at each start so that old nonces are refused as
//! forged rather than replayable. When the replay table is full the oldest entries are
//! evicted and every nonce issued at or before an evicted one is answered `Stale`, so an
//! eviction costs a client one extra round trip but never reopens a replay.

pub mod client;
mod nonce;
mod parse;
mod replay;
#[cfg(test)]
mod tests;

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use hmac::{Hmac, Mac};
use md5::Md5;
use sha2::{Digest, Sha256};
use subtle::{Choice, ConstantTimeEq};

pub use parse::{Credentials, ParseError};

use replay::{NonceCounts, Outcome};

/// A digest hash algorithm we accept (the `-sess` variants are refused).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Algorithm {
    /// `MD5` (RFC 2617), the default when `algorithm` is absent.
    Md5,
    /// `SHA-256` (RFC 7616, RFC 8760).
    Sha256,
}

impl Algorithm {
    /// The token used in the `algorithm` parameter.
    pub fn as_str(self) -> &'static str {
        match self {
            Algorithm::Md5 => "MD5",
            Algorithm::Sha256 => "SHA-256",
        }
    }

    /// Lowercase hex `H(username:realm:password)`, the HA1 to store for this algorithm.
    pub fn ha1(self, username: &str, realm: &str, password: &str) -> String {
        self.hex_hash(format!("{username}:{realm}:{password}").as_bytes())
    }

    fn hex_len(self) -> usize {
        match self {
            Algorithm::Md5 => 32,
            Algorithm::Sha256 => 64,
        }
    }

    pub(crate) fn hex_hash(self, data: &[u8]) -> String {
        match self {
            Algorithm::Md5 => hex(&Md5::digest(data)),
            Algorithm::Sha256 => hex(&Sha256::digest(data)),
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Lowercase hex MD5(username:realm:password).
pub fn ha1_md5(username: &str, realm: &str, password: &str) -> String {
    Algorithm::Md5.ha1(username, realm, password)
}

/// Lowercase hex SHA-256(username:realm:password).
pub fn ha1_sha256(username: &str, realm: &str, password: &str) -> String {
    Algorithm::Sha256.ha1(username, realm, password)
}

/// One challenge, formatted (via `Display`) as a `WWW-Authenticate` /
/// `Proxy-Authenticate` header value. Always offers `qop="auth"`.
///
/// [`DigestServer::challenge`] builds these with its own nonces; `Challenge::new` takes any
/// nonce (e.g. one from an RFC example).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    pub realm: String,
    pub nonce: String,
    pub opaque: Option<String>,
    pub algorithm: Algorithm,
    pub stale: bool,
}

impl Challenge {
    /// A challenge with no `opaque` and `stale` unset.
    pub fn new(realm: impl Into<String>, nonce: impl Into<String>, algorithm: Algorithm) -> Self {
        Challenge {
            realm: realm.into(),
            nonce: nonce.into(),
            opaque: None,
            algorithm,
            stale: false,
        }
    }
}

impl fmt::Display for Challenge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Digest realm=")?;
        write_quoted(f, &self.realm)?;
        f.write_str(", nonce=")?;
        write_quoted(f, &self.nonce)?;
        if let Some(opaque) = &self.opaque {
            f.write_str(", opaque=")?;
            write_quoted(f, opaque)?;
        }
        write!(f, ", algorithm={}, qop=\"auth\"", self.algorithm)?;
        if self.stale {
            f.write_str(", stale=true")?;
        }
        Ok(())
    }
}

fn write_quoted(f: &mut fmt::Formatter<'_>, s: &str) -> fmt::Result {
    f.write_str("\"")?;
    for c in s.chars() {
        if c == '"' || c == '\\' {
            f.write_str("\\")?;
        }
        write!(f, "{c}")?;
    }
    f.write_str("\"")
}

/// Outcome of [`DigestServer::verify`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Authenticated as this username.
    Ok(String),
    /// Right password, but the nonce expired (or was forgotten): re-challenge with
    /// `stale=true`.
    Stale,
    /// Refused; re-challenge without `stale`. The reason is for logs only.
    Unauthorized(Reason),
}

/// Why credentials were refused (for logs; do not tell the client).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Reason {
    #[error("realm does not match ours")]
    RealmMismatch,
    #[error("nonce was not issued by us (forged, corrupted or from another realm/secret)")]
    InvalidNonce,
    /// Wrong password or unknown user: deliberately indistinguishable.
    #[error("wrong response (bad password or unknown user)")]
    BadResponse,
    #[error("replayed nonce count (nc not increasing, or a no-qop nonce used twice)")]
    Replayed,
}

/// Default number of nonces whose `nc` is remembered.
pub const DEFAULT_REPLAY_CAPACITY: usize = 16_384;

/// Issues challenges and verifies credentials for one realm.
pub struct DigestServer {
    realm: String,
    mac: Hmac<Sha256>,
    lifetime: u64,
    counts: NonceCounts,
    fallback_counter: AtomicU64,
    latest_now: u64,
}

impl fmt::Debug for DigestServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DigestServer")
            .field("realm", &self.realm)
            .field("lifetime", &self.lifetime)
            .finish_non_exhaustive()
    }
}

impl DigestServer {
    /// `realm` is the SIP domain; `secret` authenticates our nonces (generate it randomly
    /// at start-up); nonces are fresh for `nonce_lifetime` (whole seconds) after issue.
    /// Remembers [`DEFAULT_REPLAY_CAPACITY`] nonces.
    pub fn new(realm: impl Into<String>, secret: [u8; 32], nonce_lifetime: Duration) -> Self {
        DigestServer {
            realm: realm.into(),
            mac: Hmac::<Sha256>::new_from_slice(&secret).expect("HMAC takes any key length"),
            lifetime: nonce_lifetime.as_secs(),
            counts: NonceCounts::new(DEFAULT_REPLAY_CAPACITY),
            fallback_counter: AtomicU64::new(0),
            latest_now: 0,
        }
    }

    /// Bounds the replay table to `capacity` nonces (at least 1).
    pub fn with_replay_capacity(mut self, capacity: usize) -> Self {
        self.counts = NonceCounts::new(capacity);
        self
    }

    /// Our realm.
    pub fn realm(&self) -> &str {
        &self.realm
    }

    /// Header values for a 401 `WWW-Authenticate` / 407 `Proxy-Authenticate`: SHA-256
    /// first, then MD5, each to go in its own header. Both carry one fresh nonce.
    pub fn challenge(&self, now: u64, stale: bool) -> Vec<String> {
        let mut unique = [0u8; 8];
        if getrandom::fill(&mut unique).is_err() {
            // Uniqueness is all the nonce needs from these bytes (the MAC makes it
            // unforgeable), so a counter is a sound fallback.
            unique = self
                .fallback_counter
                .fetch_add(1, Ordering::Relaxed)
                .to_be_bytes();
        }
        let nonce = nonce::mint(&self.mac, &self.realm, now, unique);
        [Algorithm::Sha256, Algorithm::Md5]
            .into_iter()
            .map(|algorithm| {
                Challenge {
                    stale,
                    ..Challenge::new(self.realm.clone(), nonce.clone(), algorithm)
                }
                .to_string()
            })
            .collect()
    }

    /// Verifies credentials from a request with this `method` (as in the request line).
    ///
    /// `ha1_lookup(username, algorithm)` returns the stored lowercase hex HA1, or `None`
    /// for an unknown user; it is called exactly once unless the realm or nonce is bad,
    /// and an unknown user then goes through the same hashing and comparison as a wrong
    /// password. The caller must also check [`Credentials::uri`] against the Request-URI.
    ///
    /// `now` is taken as the maximum of all `now` values seen so far, so a clock stepping
    /// back cannot make an expired (and forgotten) nonce usable again.
    /// The checks that need no user record: realm, and a nonce we issued (MAC). Callers run
    /// this before looking the user up, so junk credentials cost no storage lookup.
    /// `verify` repeats them, so skipping this is never unsafe.
    pub fn precheck(&self, credentials: &Credentials) -> Result<(), Reason> {
        if credentials.realm() != self.realm {
            return Err(Reason::RealmMismatch);
        }
        if nonce::check(&self.mac, &self.realm, credentials.nonce()).is_none() {
            return Err(Reason::InvalidNonce);
        }
        Ok(())
    }

    pub fn verify(
        &mut self,
        now: u64,
        method: &str,
        credentials: &Credentials,
        ha1_lookup: impl FnOnce(&str, Algorithm) -> Option<String>,
    ) -> Verdict {
        if credentials.realm() != self.realm {
            return Verdict::Unauthorized(Reason::RealmMismatch);
        }
        let Some(nonce) = nonce::check(&self.mac, &self.realm, credentials.nonce()) else {
            return Verdict::Unauthorized(Reason::InvalidNonce);
        };
        let algorithm = credentials.algorithm();
        let stored = ha1_lookup(credentials.username(), algorithm);
        let found = Choice::from(u8::from(stored.is_some()));
        // An unknown user is compared against a dummy HA1 of the right length; `found`
        // makes sure it can never match, even if someone computed a response for it.
        let ha1 = match stored {
            Some(h) => h.to_ascii_lowercase(),
            None => "0".repeat(algorithm.hex_len()),
        };
        if !bool::from(credentials.response_choice(method, &ha1) & found) {
            return Verdict::Unauthorized(Reason::BadResponse);
        }
        // Time never goes back here: otherwise a nonce dropped from the replay table as
        // expired could look fresh again after the caller's clock stepped back.
        self.latest_now = self.latest_now.max(now);
        let now = self.latest_now;
        if now.saturating_sub(nonce.issued) > self.lifetime {
            return Verdict::Stale;
        }
        let expired_before = now.saturating_sub(self.lifetime);
        match self.counts.record(nonce, credentials.nc(), expired_before) {
            Outcome::Fresh => Verdict::Ok(credentials.username().to_owned()),
            Outcome::Replayed => Verdict::Unauthorized(Reason::Replayed),
            Outcome::Forgotten => Verdict::Stale,
        }
    }
}

/// The expected `response` (RFC 7616 §3.4.1): with `qop`,
/// `H(HA1:nonce:nc:cnonce:qop:H(A2))`, else `H(HA1:nonce:H(A2))`; `A2 = method:digest-uri`.
fn expected_response(credentials: &Credentials, method: &str, ha1: &str) -> String {
    let alg = credentials.algorithm();
    let ha2 = alg.hex_hash(format!("{method}:{}", credentials.uri()).as_bytes());
    let kd = match credentials.qop_parts() {
        Some((qop, nc, cnonce)) => {
            format!("{ha1}:{}:{nc}:{cnonce}:{qop}:{ha2}", credentials.nonce())
        }
        None => format!("{ha1}:{}:{ha2}", credentials.nonce()),
    };
    alg.hex_hash(kd.as_bytes())
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    out
}

impl Credentials {
    /// Whether `response` is right for `method` and this HA1 (lowercase hex), compared in
    /// constant time. Checks nothing else (no realm, nonce or replay check): use
    /// [`DigestServer::verify`] for requests.
    pub fn response_matches(&self, method: &str, ha1: &str) -> bool {
        self.response_choice(method, &ha1.to_ascii_lowercase())
            .into()
    }

    fn response_choice(&self, method: &str, ha1: &str) -> Choice {
        let expected = expected_response(self, method, ha1);
        let given = self.response().to_ascii_lowercase();
        expected.as_bytes().ct_eq(given.as_bytes())
    }
}
