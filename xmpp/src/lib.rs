//! Tandem's XMPP server core (RFC 6120, RFC 6121), Sans-IO.
//!
//! Everything here is a pure state machine or pure logic: bytes and stanzas in, bytes, stanzas
//! and events out. Sockets, TLS, timers and storage live in the `tandem` binary, which drives
//! these cores.

pub mod c2s;
pub mod element;
pub mod roster;
pub mod router;
pub mod sasl;
pub mod stanza;
pub mod stream;

pub use element::{Element, Node};
pub use jid::{BareJid, FullJid, Jid};
