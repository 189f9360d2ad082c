//! Client transactions: INVITE (§17.1.1, with RFC 6026's Accepted state) and non-INVITE
//! (§17.1.2).

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use super::{Kind, Timers, TxMessage};

/// States of Figures 5 and 6, plus Accepted (RFC 6026 §7.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientState {
    /// INVITE sent, nothing heard yet.
    Calling,
    /// Non-INVITE sent, nothing heard yet.
    Trying,
    Proceeding,
    /// A 2xx to an INVITE arrived; more 2xx (forks, retransmissions) still go to the TU.
    Accepted,
    Completed,
    Terminated,
}

/// Output for the transaction user and the transport.
#[derive(Debug, Clone, PartialEq)]
pub enum ClientEvent<M> {
    /// Send this message (the request, a retransmission, or the ACK of a non-2xx).
    Transmit(M),
    /// A response for the TU: provisional, final, or a further 2xx in Accepted.
    Response(M),
    /// Timer B or F fired: the TU treats it as a 408 (§8.1.3.1).
    Timeout,
    /// The transport failed: the TU treats it as a 503 (§8.1.3.1).
    TransportError,
    /// The transaction is over and can be forgotten.
    Terminated,
}

/// One client transaction.
#[derive(Debug)]
pub struct ClientTransaction<M> {
    kind: Kind,
    state: ClientState,
    request: M,
    reliable: bool,
    timers: Timers,
    /// Timer A (INVITE) or E (non-INVITE): next retransmission and the current interval.
    retransmit: Option<(Instant, Duration)>,
    /// Timer B or F while waiting; D, K or M afterwards.
    deadline: Option<Instant>,
    ack: Option<M>,
    events: VecDeque<ClientEvent<M>>,
}

impl<M: TxMessage> ClientTransaction<M> {
    /// Starts the transaction: the request is queued for transmission at once.
    pub fn new(kind: Kind, request: M, reliable: bool, timers: Timers, now: Instant) -> Self {
        let mut events = VecDeque::new();
        events.push_back(ClientEvent::Transmit(request.clone()));
        ClientTransaction {
            kind,
            state: if kind == Kind::Invite {
                ClientState::Calling
            } else {
                ClientState::Trying
            },
            request,
            reliable,
            timers,
            // Retransmissions only where the transport may lose the request.
            retransmit: (!reliable).then(|| (now + timers.t1, timers.t1)),
            deadline: Some(now + timers.transaction_timeout()),
            ack: None,
            events,
        }
    }

    pub fn state(&self) -> ClientState {
        self.state
    }

    pub fn request(&self) -> &M {
        &self.request
    }

    pub fn is_terminated(&self) -> bool {
        self.state == ClientState::Terminated
    }

    /// A response matched to this transaction (§17.1.3), with its status code.
    pub fn handle_response(&mut self, now: Instant, status: u16, response: M) {
        match (self.kind, self.state) {
            (_, ClientState::Terminated) => {}
            (Kind::Invite, ClientState::Calling | ClientState::Proceeding) => match status {
                100..=199 => {
                    self.state = ClientState::Proceeding;
                    self.retransmit = None;
                    // Timer B only guards Calling (§17.1.1.2); Proceeding waits for the TU.
                    self.deadline = None;
                    self.events.push_back(ClientEvent::Response(response));
                }
                200..=299 => {
                    self.state = ClientState::Accepted;
                    self.retransmit = None;
                    self.deadline = Some(now + self.timers.transaction_timeout()); // Timer M
                    self.events.push_back(ClientEvent::Response(response));
                }
                _ => {
                    let ack = M::ack_for(&self.request, &response);
                    self.events.push_back(ClientEvent::Response(response));
                    self.events.push_back(ClientEvent::Transmit(ack.clone()));
                    self.ack = Some(ack);
                    self.state = ClientState::Completed;
                    self.retransmit = None;
                    self.deadline = Some(now + self.timers.timer_d(self.reliable));
                    self.terminate_if_due(now);
                }
            },
            // RFC 6026 §8.4: every 2xx in Accepted goes to the TU (forks, retransmissions).
            (Kind::Invite, ClientState::Accepted) if (200..300).contains(&status) => {
                self.events.push_back(ClientEvent::Response(response));
            }
            // §17.1.1.2: a retransmitted final response gets the ACK again, not the TU.
            (Kind::Invite, ClientState::Completed) if status >= 300 => {
                if let Some(ack) = &self.ack {
                    self.events.push_back(ClientEvent::Transmit(ack.clone()));
                }
            }
            (Kind::NonInvite, ClientState::Trying | ClientState::Proceeding) => {
                if status < 200 {
                    if self.state == ClientState::Trying {
                        self.state = ClientState::Proceeding;
                    }
                    self.events.push_back(ClientEvent::Response(response));
                } else {
                    self.events.push_back(ClientEvent::Response(response));
                    self.state = ClientState::Completed;
                    self.retransmit = None;
                    self.deadline = Some(now + self.timers.wait_for_stragglers(self.reliable)); // Timer K
                    self.terminate_if_due(now);
                }
            }
            // Completed absorbs retransmissions (§17.1.2.2).
            _ => {}
        }
    }

    pub fn handle_transport_error(&mut self) {
        if self.state != ClientState::Terminated {
            self.events.push_back(ClientEvent::TransportError);
            self.terminate();
        }
    }

    /// Runs every timer due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        if let Some((at, interval)) = self.retransmit {
            if now >= at {
                // Timer A doubles without cap; E is capped at T2, and in Proceeding it
                // fires every T2 (§17.1.2.2).
                let next = match (self.kind, self.state) {
                    (Kind::Invite, _) => self.timers.backoff(interval, false),
                    (Kind::NonInvite, ClientState::Proceeding) => self.timers.t2,
                    (Kind::NonInvite, _) => self.timers.backoff(interval, true),
                };
                self.retransmit = Some((now + next, next));
                self.events
                    .push_back(ClientEvent::Transmit(self.request.clone()));
            }
        }
        if self.deadline.is_some_and(|d| now >= d) {
            match self.state {
                ClientState::Calling | ClientState::Trying | ClientState::Proceeding => {
                    self.events.push_back(ClientEvent::Timeout);
                    self.terminate();
                }
                ClientState::Accepted | ClientState::Completed => self.terminate(),
                ClientState::Terminated => {}
            }
        }
    }

    /// The earliest instant [`ClientTransaction::handle_timeout`] must be called.
    pub fn poll_timeout(&self) -> Option<Instant> {
        match (self.retransmit.map(|(at, _)| at), self.deadline) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    pub fn poll_event(&mut self) -> Option<ClientEvent<M>> {
        self.events.pop_front()
    }

    fn terminate_if_due(&mut self, now: Instant) {
        if self.deadline.is_some_and(|d| now >= d) {
            self.terminate();
        }
    }

    fn terminate(&mut self) {
        self.state = ClientState::Terminated;
        self.retransmit = None;
        self.deadline = None;
        self.events.push_back(ClientEvent::Terminated);
    }
}
