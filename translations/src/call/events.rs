//! What goes into and comes out of a [`super::Call`].

use std::time::Instant;

use super::Origin;
use crate::jingle::{Jingle, JingleMessage, ReasonCondition};
use crate::sdp::{SdpFragment, SessionDescription};

/// Something the SIP leg did, already parsed and matched to this call's dialog by the edge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SipEvent {
    /// A provisional response (180, 183, …) to our INVITE.
    Provisional { status: u16 },
    /// A 2xx to our INVITE, with the answer (the edge sends the ACK).
    Answered { sdp: SessionDescription },
    /// A final failure to our INVITE (≥ 300; 487 after our CANCEL).
    Rejected { status: u16 },
    /// The caller cancelled its INVITE (the transaction layer already sent 200 and 487).
    Cancelled,
    /// The ACK for our 2xx.
    Acked,
    /// A BYE in the dialog; `cause` is the SIP cause of its `Reason:` header, if any.
    Bye { cause: Option<u16> },
    /// A re-INVITE with an offer.
    ReInvite { sdp: SessionDescription },
    /// The 2xx to our re-INVITE.
    ReInviteAnswered { sdp: SessionDescription },
    /// A failure to our re-INVITE: the session stays as it was (RFC 3261 §14.1).
    ReInviteRejected { status: u16 },
    /// An INFO with a trickle-ice sdpfrag (RFC 8840).
    Info { fragment: SdpFragment },
    /// The SIP leg is gone without a BYE (transaction timeout, transport failure).
    Failed,
}

/// What the edge must do on the SIP leg.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SipAction {
    /// Send the INVITE for a Jingle-originated call.
    Invite { sdp: SessionDescription },
    /// Answer the caller's INVITE provisionally (180 Ringing).
    Provisional { status: u16 },
    /// Answer the caller's INVITE with 200 and this SDP.
    Accept { sdp: SessionDescription },
    /// Answer the caller's INVITE with a failure.
    Reject { status: u16 },
    /// CANCEL our INVITE, with an RFC 3326 `Reason:` value.
    Cancel { reason: String },
    /// End the dialog, with an RFC 3326 `Reason:` value.
    Bye { reason: String },
    /// Send a re-INVITE with this offer.
    ReInvite { sdp: SessionDescription },
    /// Answer the peer's re-INVITE with 200 and this SDP.
    AcceptReInvite { sdp: SessionDescription },
    /// Answer the peer's re-INVITE with a failure (491 on glare, RFC 3261 §14.1).
    RejectReInvite { status: u16 },
    /// Send an INFO with a trickle-ice sdpfrag.
    Info { fragment: SdpFragment },
}

/// Why a Jingle request was refused; the edge answers the iq with this error
/// (XEP-0166 §7.3: `unknown-session`, `out-of-order`, `tie-break`, `bad-request`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JingleRefusal {
    /// Another sid: not this call's session.
    #[error("unknown-session")]
    UnknownSession,
    /// An action that makes no sense in the call's state (a second session-initiate, a
    /// session-accept from the initiator, ...).
    #[error("out-of-order")]
    OutOfOrder,
    /// A renegotiation while ours is still in flight (XEP-0166 §7.2.16 tie-break).
    #[error("tie-break")]
    TieBreak,
    /// A description tandem cannot put on the SIP leg.
    #[error("bad-request: {0}")]
    BadRequest(String),
    /// No SIP destination for the address called (no registered phone, no outbound proxy).
    #[error("item-not-found: no route to this SIP address")]
    NoRoute,
}

/// One CDR line's worth: who, when, how it ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallRecord {
    pub origin: Origin,
    pub sid: String,
    pub setup: Instant,
    pub ringing: Option<Instant>,
    pub answer: Option<Instant>,
    pub end: Instant,
    /// The Jingle reason the call ended with.
    pub reason: ReasonCondition,
    /// The SIP status that ended it (200 for a BYE after answer).
    pub status: u16,
}

/// One thing for the edge to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// Act on the SIP leg.
    Sip(SipAction),
    /// Send this Jingle element (an iq set) to the XMPP peer.
    Jingle(Jingle),
    /// Send this XEP-0353 message to the callee's bare JID (propose, retract).
    Message(JingleMessage),
    /// The call is over; both legs have been told.
    Ended(CallRecord),
}
