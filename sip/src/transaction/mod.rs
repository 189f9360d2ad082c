//! The RFC 3261 §17 transaction layer, Sans-IO.
//!
//! Four state machines (INVITE and non-INVITE, client and server) with RFC 6026's Accepted
//! state, driven by events and the current time; timers A–M come out as deadlines
//! ([`ClientTransaction::poll_timeout`], [`ServerTransaction::poll_timeout`]), never as sleeps.
//! The machines are generic over the message type: they store and hand back whole messages
//! and only need the [`TxMessage`] trait to build the one message they create themselves, the
//! ACK for a non-2xx final response.
//!
//! Matching incoming messages to transactions (§17.1.3, §17.2.3, RFC 2543 fallback, CANCEL
//! per §9.2) is [`key`]; [`TransactionLayer`] keeps many transactions and multiplexes their
//! timers.

mod client;
pub mod key;
mod layer;
mod server;
mod timers;

pub use client::{ClientEvent, ClientState, ClientTransaction};
pub use key::{ClientKey, RequestIds, ServerKey};
pub use layer::{LayerEvent, RequestDisposition, TransactionLayer, TxId};
pub use server::{ServerEvent, ServerState, ServerTransaction};
pub use timers::Timers;

/// What the machines need from a message type.
pub trait TxMessage: Clone {
    /// The ACK a client INVITE transaction sends for a 300–699 final response (§17.1.1.3):
    /// Request-URI, Call-ID, From, top Via and CSeq number of the INVITE, To of the response,
    /// method ACK.
    fn ack_for(invite: &Self, response: &Self) -> Self;
}

/// INVITE transactions differ from all others (§17).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    Invite,
    NonInvite,
}

impl Kind {
    /// The transaction kind a request method creates. ACK never creates one (§17).
    pub fn of_method(method: &str) -> Kind {
        if method.eq_ignore_ascii_case("INVITE") {
            Kind::Invite
        } else {
            Kind::NonInvite
        }
    }
}

#[cfg(test)]
mod tests;

/// The message layer's messages run through the transactions as they are.
impl TxMessage for crate::message::Message {
    fn ack_for(invite: &Self, response: &Self) -> Self {
        match (invite, response) {
            (
                crate::message::Message::Request(invite),
                crate::message::Message::Response(response),
            ) => crate::message::Message::Request(invite.ack_for(response)),
            // The machines only ever pass the INVITE and its response.
            _ => invite.clone(),
        }
    }
}
