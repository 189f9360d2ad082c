//! Server transactions: INVITE (§17.2.1, with RFC 6026's Accepted state) and non-INVITE
//! (§17.2.2).

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use super::{Kind, Timers};

/// States of Figures 7 and 8, plus Accepted (RFC 6026 §7.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServerState {
    /// Non-INVITE received, the TU has not answered yet.
    Trying,
    Proceeding,
    /// A 2xx to the INVITE was sent; the TU (dialog) retransmits it until the ACK.
    Accepted,
    Completed,
    /// The ACK for a non-2xx final response arrived.
    Confirmed,
    Terminated,
}

/// Output for the transport and the transaction user.
#[derive(Debug, Clone, PartialEq)]
pub enum ServerEvent<M> {
    /// Send this response (the TU's, or a retransmission of it).
    Transmit(M),
    /// An ACK in Accepted state: the ACK for our 2xx, for the dialog (RFC 6026 §7.1).
    AckFor2xx(M),
    /// Timer H fired: no ACK came for a non-2xx final response (§17.2.1).
    Timeout,
    TransportError,
    Terminated,
}

/// One server transaction.
#[derive(Debug)]
pub struct ServerTransaction<M> {
    kind: Kind,
    state: ServerState,
    reliable: bool,
    timers: Timers,
    last_response: Option<M>,
    /// Timer G: next retransmission of a non-2xx final response and the current interval.
    retransmit: Option<(Instant, Duration)>,
    /// Timer H, I, J or L.
    deadline: Option<Instant>,
    events: VecDeque<ServerEvent<M>>,
}

impl<M: Clone> ServerTransaction<M> {
    /// Created when a request that matches no transaction arrives (§17.2.3); the TU sees the
    /// request. For INVITE the TU should answer with a provisional at once (§17.2.1: 100
    /// Trying within 200 ms), which suppresses the peer's retransmissions.
    pub fn new(kind: Kind, reliable: bool, timers: Timers) -> Self {
        ServerTransaction {
            kind,
            state: if kind == Kind::Invite {
                ServerState::Proceeding
            } else {
                ServerState::Trying
            },
            reliable,
            timers,
            last_response: None,
            retransmit: None,
            deadline: None,
            events: VecDeque::new(),
        }
    }

    pub fn state(&self) -> ServerState {
        self.state
    }

    pub fn is_terminated(&self) -> bool {
        self.state == ServerState::Terminated
    }

    /// The TU answers. Responses the state no longer allows are ignored (a bug in the TU,
    /// not something to put on the wire).
    pub fn send_response(&mut self, now: Instant, status: u16, response: M) {
        let timeout = self.timers.transaction_timeout();
        match (self.kind, self.state) {
            (Kind::Invite, ServerState::Proceeding) => {
                self.transmit(response);
                match status {
                    100..=199 => {}
                    200..=299 => {
                        self.state = ServerState::Accepted;
                        self.deadline = Some(now + timeout); // Timer L
                    }
                    _ => {
                        self.state = ServerState::Completed;
                        self.deadline = Some(now + timeout); // Timer H
                        if !self.reliable {
                            self.retransmit = Some((now + self.timers.t1, self.timers.t1));
                            // Timer G
                        }
                    }
                }
            }
            // The dialog layer retransmits its 2xx through the transaction (§13.3.1.4).
            (Kind::Invite, ServerState::Accepted) if (200..300).contains(&status) => {
                self.transmit(response)
            }
            (Kind::NonInvite, ServerState::Trying | ServerState::Proceeding) => {
                self.transmit(response);
                if status < 200 {
                    self.state = ServerState::Proceeding;
                } else {
                    self.state = ServerState::Completed;
                    // Timer J: absorb request retransmissions for 64*T1 on unreliable transports.
                    self.deadline = Some(
                        now + if self.reliable {
                            Duration::ZERO
                        } else {
                            timeout
                        },
                    );
                    self.terminate_if_due(now);
                }
            }
            _ => {}
        }
    }

    /// A retransmission of the request that created the transaction (§17.2.1, §17.2.2).
    pub fn handle_request_retransmission(&mut self) {
        match self.state {
            ServerState::Proceeding | ServerState::Completed => {
                if let Some(response) = self.last_response.clone() {
                    self.events.push_back(ServerEvent::Transmit(response));
                }
            }
            // Trying: nothing to resend yet; Accepted: the dialog retransmits the 2xx itself;
            // Confirmed: absorbed.
            _ => {}
        }
    }

    /// An ACK matched to this (INVITE) transaction.
    pub fn handle_ack(&mut self, now: Instant, ack: M) {
        match self.state {
            ServerState::Completed => {
                self.state = ServerState::Confirmed;
                self.retransmit = None;
                self.deadline = Some(now + self.timers.wait_for_stragglers(self.reliable)); // Timer I
                self.terminate_if_due(now);
            }
            ServerState::Accepted => self.events.push_back(ServerEvent::AckFor2xx(ack)),
            // Confirmed absorbs retransmitted ACKs.
            _ => {}
        }
    }

    pub fn handle_transport_error(&mut self) {
        if self.state != ServerState::Terminated {
            self.events.push_back(ServerEvent::TransportError);
            self.terminate();
        }
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        if let Some((at, interval)) = self.retransmit {
            if now >= at && self.state == ServerState::Completed {
                let next = self.timers.backoff(interval, true);
                self.retransmit = Some((now + next, next));
                if let Some(response) = self.last_response.clone() {
                    self.events.push_back(ServerEvent::Transmit(response));
                }
            }
        }
        if self.deadline.is_some_and(|d| now >= d) {
            if self.state == ServerState::Completed && self.kind == Kind::Invite {
                self.events.push_back(ServerEvent::Timeout);
            }
            self.terminate();
        }
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        match (self.retransmit.map(|(at, _)| at), self.deadline) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    pub fn poll_event(&mut self) -> Option<ServerEvent<M>> {
        self.events.pop_front()
    }

    fn transmit(&mut self, response: M) {
        self.events
            .push_back(ServerEvent::Transmit(response.clone()));
        self.last_response = Some(response);
    }

    fn terminate_if_due(&mut self, now: Instant) {
        if self.deadline.is_some_and(|d| now >= d) {
            self.terminate();
        }
    }

    fn terminate(&mut self) {
        if self.state == ServerState::Terminated {
            return;
        }
        self.state = ServerState::Terminated;
        self.retransmit = None;
        self.deadline = None;
        self.events.push_back(ServerEvent::Terminated);
    }
}
