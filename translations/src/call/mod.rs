//! One bridged call: a Jingle session paired with a SIP dialog (ARCHITECTURE.md, "One call,
//! end to end"). Pure, in the quinn-proto shape: the edge (`src/`) feeds parsed SIP and
//! Jingle events with the time, drains [`Output`]s with [`Call::poll_output`], and calls
//! [`Call::handle_timeout`] at [`Call::poll_timeout`].
//!
//! The call does not build SIP messages or iqs: it says *what* to send ([`SipAction`], a
//! [`Jingle`] element) and the edge, which owns the dialog and the transaction layer, sends
//! it. Which side called decides who is the Jingle initiator:
//! - [`Origin::Sip`]: a SIP caller; tandem is the Jingle initiator towards the XMPP callee.
//! - [`Origin::Jingle`]: an XMPP caller (the Jingle initiator); tandem sends the INVITE.

mod events;
mod fork;
mod machine;
#[cfg(test)]
mod tests;

pub use events::{CallRecord, JingleRefusal, Output, SipAction, SipEvent};
pub use fork::{Decision, Fork, COMPLETED_ELSEWHERE, COMPLETED_ELSEWHERE_TEXT};
pub use machine::Call;

use std::time::Duration;

/// Which side placed the call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// An INVITE from a SIP phone or trunk to an XMPP user.
    Sip,
    /// A Jingle session-initiate (after JMI, if any) from an XMPP user to a SIP address.
    Jingle,
}

/// The call's timing policy (`[gateway]` config keys in the binary).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CallConfig {
    /// How long the callee may ring before the call ends as unanswered (480 / timeout).
    pub ring_timeout: Duration,
    /// How long trickled ICE candidates are gathered before the INVITE or the 200 goes
    /// out, unless every transport says end-of-candidates first (issue: default 500 ms).
    pub trickle_wait: Duration,
    /// The longest an answered call may last before tandem hangs up both legs.
    pub max_duration: Duration,
    /// The SIP peer takes trickled candidates in INFO (RFC 8840: it listed the
    /// `trickle-ice` Info-Package); otherwise late candidates go in a re-INVITE.
    pub sip_trickle: bool,
}

impl Default for CallConfig {
    fn default() -> Self {
        CallConfig {
            ring_timeout: Duration::from_secs(60),
            trickle_wait: Duration::from_millis(500),
            max_duration: Duration::from_secs(4 * 3600),
            sip_trickle: false,
        }
    }
}
