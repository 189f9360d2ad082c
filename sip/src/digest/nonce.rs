//! Stateless nonces: `base64url(timestamp || unique || HMAC-SHA-256(secret, timestamp ||
//! unique || realm)[..16])`, 32 bytes, 43 characters. `timestamp` is the issue time (u64
//! seconds, big-endian) and `unique` 8 random bytes so that every challenge gets its own
//! nonce (needed to count `nc` per nonce).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;

const HEAD_LEN: usize = 16;
const TAG_LEN: usize = 16;
const RAW_LEN: usize = HEAD_LEN + TAG_LEN;
const ENCODED_LEN: usize = 43;

/// A nonce that we issued: when, and its identity for replay counting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Nonce {
    pub issued: u64,
    pub id: [u8; HEAD_LEN],
}

fn tag(mac: &Hmac<Sha256>, head: &[u8; HEAD_LEN], realm: &str) -> Hmac<Sha256> {
    let mut mac = mac.clone();
    mac.update(head);
    mac.update(realm.as_bytes());
    mac
}

pub(crate) fn mint(mac: &Hmac<Sha256>, realm: &str, now: u64, unique: [u8; 8]) -> String {
    let mut raw = [0u8; RAW_LEN];
    raw[..8].copy_from_slice(&now.to_be_bytes());
    raw[8..HEAD_LEN].copy_from_slice(&unique);
    let head: [u8; HEAD_LEN] = raw[..HEAD_LEN].try_into().expect("16 bytes");
    let full = tag(mac, &head, realm).finalize().into_bytes();
    raw[HEAD_LEN..].copy_from_slice(&full[..TAG_LEN]);
    URL_SAFE_NO_PAD.encode(raw)
}

/// `Some` iff `nonce` was minted by `mac` for `realm` (the tag is checked in constant time).
pub(crate) fn check(mac: &Hmac<Sha256>, realm: &str, nonce: &str) -> Option<Nonce> {
    if nonce.len() != ENCODED_LEN {
        return None;
    }
    let mut raw = [0u8; RAW_LEN + 2];
    let n = URL_SAFE_NO_PAD.decode_slice(nonce, &mut raw).ok()?;
    if n != RAW_LEN {
        return None;
    }
    let head: [u8; HEAD_LEN] = raw[..HEAD_LEN].try_into().expect("16 bytes");
    tag(mac, &head, realm)
        .verify_truncated_left(&raw[HEAD_LEN..RAW_LEN])
        .ok()?;
    let issued = u64::from_be_bytes(head[..8].try_into().expect("8 bytes"));
    Some(Nonce { issued, id: head })
}
