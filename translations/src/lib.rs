//! Tandem's translations between SIP and XMPP, pure: no tokio, no I/O.
//!
//! So far: addresses (RFC 7247 §4) and error/reason mapping (RFC 7247 §6, Jingle reasons).
//! The SDP <-> Jingle engine and the call state machine come next (issue 4, issue 5).

pub mod address;
pub mod call;
pub mod errors;
pub mod jingle;
pub mod mapping;
pub mod sdp;
