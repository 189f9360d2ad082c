//! Tandem's SIP stack (RFC 3261), Sans-IO: message layer, transactions, digest
//! authentication. Sockets and timers live in the `tandem` binary.
pub mod dialog;
pub mod digest;
pub mod message;
pub mod registrar;
pub mod trace;
pub mod transaction;
