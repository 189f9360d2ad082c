//! Many transactions at once: matching, lifetimes, and one multiplexed timer.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::time::Instant;

use super::client::{ClientEvent, ClientTransaction};
use super::key::{ClientKey, ServerKey};
use super::server::{ServerEvent, ServerState, ServerTransaction};
use super::{Kind, Timers, TxMessage};

/// Which transaction an event is about.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TxId {
    Client(ClientKey),
    Server(ServerKey),
}

/// What the layer asks of the transport and the transaction user. `D` is whatever the caller
/// needs to reach the peer (an address, a connection id), given when the transaction began.
#[derive(Debug, Clone, PartialEq)]
pub enum LayerEvent<M, D> {
    Transmit {
        to: D,
        message: M,
    },
    /// A response for a request we sent.
    Response {
        key: ClientKey,
        response: M,
    },
    /// Our request got no final response in time: the TU acts as on a 408.
    RequestTimeout {
        key: ClientKey,
    },
    /// Our non-2xx final response was never acknowledged (Timer H).
    AckTimeout {
        key: ServerKey,
    },
    /// The ACK for a 2xx we sent, for the dialog layer.
    AckFor2xx {
        key: ServerKey,
        ack: M,
    },
    TransportError {
        id: TxId,
    },
    Terminated {
        id: TxId,
    },
}

/// What became of an incoming request.
#[derive(Debug, Clone, PartialEq)]
pub enum RequestDisposition<M> {
    /// A new request: a server transaction now exists under this key and the TU must
    /// answer it through [`TransactionLayer::send_response`].
    New(M),
    /// A retransmission, answered or absorbed by its transaction.
    Retransmission,
    /// An ACK that matched a transaction (absorbed, or reported as `AckFor2xx`).
    Ack,
    /// An ACK matching no transaction: for the dialog layer (a 2xx ACK arriving after the
    /// transaction ended) or to be dropped.
    StrayAck(M),
    /// Too many live server transactions: no state was created. The caller answers
    /// statelessly (503 with Retry-After) so a flood cannot grow memory without bound.
    Overloaded(M),
}

/// Default bound on live server transactions. Each costs a few KiB for up to 64*T1 on UDP
/// (Timer J), so an OPTIONS flood at 20k/s would otherwise hold ~700k of them.
pub const DEFAULT_MAX_SERVER_TRANSACTIONS: usize = 100_000;

/// The transaction layer of one SIP endpoint.
pub struct TransactionLayer<M, D> {
    timers: Timers,
    /// Each transaction with its peer and the deadline its heap entry stands for.
    clients: HashMap<ClientKey, (ClientTransaction<M>, D, Option<Instant>)>,
    servers: HashMap<ServerKey, (ServerTransaction<M>, D, Option<Instant>)>,
    /// One live entry per transaction (see `schedule`); superseded entries are skipped.
    wakeups: BinaryHeap<Reverse<(Instant, TxId)>>,
    events: VecDeque<LayerEvent<M, D>>,
    max_server_transactions: usize,
}

/// Keeps one heap entry per transaction: a new entry only when the deadline moves earlier
/// (or none is scheduled); a later deadline is picked up when the earlier entry fires.
/// Returns the deadline the caller must push, if any.
fn schedule(scheduled: &mut Option<Instant>, next: Option<Instant>) -> Option<Instant> {
    match next {
        Some(at) if scheduled.is_none_or(|s| at < s) => {
            *scheduled = Some(at);
            Some(at)
        }
        _ => None,
    }
}

impl<M: TxMessage, D: Clone> TransactionLayer<M, D> {
    pub fn new(timers: Timers) -> Self {
        TransactionLayer {
            timers,
            clients: HashMap::new(),
            servers: HashMap::new(),
            wakeups: BinaryHeap::new(),
            events: VecDeque::new(),
            max_server_transactions: DEFAULT_MAX_SERVER_TRANSACTIONS,
        }
    }

    /// Changes the bound on live server transactions (see [`RequestDisposition::Overloaded`]).
    pub fn with_max_server_transactions(mut self, max: usize) -> Self {
        self.max_server_transactions = max;
        self
    }

    pub fn timers(&self) -> Timers {
        self.timers
    }

    /// Number of live transactions (for metrics and tests).
    pub fn len(&self) -> usize {
        self.clients.len() + self.servers.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Starts a client transaction for `request`. False if one with this key exists (the
    /// caller generated a duplicate branch).
    pub fn send_request(
        &mut self,
        now: Instant,
        key: ClientKey,
        request: M,
        to: D,
        reliable: bool,
    ) -> bool {
        if self.clients.contains_key(&key) {
            return false;
        }
        let kind = Kind::of_method(&key.method);
        let tx = ClientTransaction::new(kind, request, reliable, self.timers, now);
        self.clients.insert(key.clone(), (tx, to, None));
        self.after_client(&key);
        true
    }

    /// A response arrived. False when it matches no transaction (§17.1.3): the caller hands a
    /// stray 2xx to INVITE to the dialog layer (forked 2xx after Accepted ended) and drops
    /// anything else (§18.1.2).
    pub fn handle_response(
        &mut self,
        now: Instant,
        key: &ClientKey,
        status: u16,
        response: M,
    ) -> bool {
        let Some((tx, _, _)) = self.clients.get_mut(key) else {
            return false;
        };
        tx.handle_response(now, status, response);
        self.after_client(key);
        true
    }

    /// A request arrived under `key` (see [`ServerKey::for_request`]).
    pub fn handle_request(
        &mut self,
        now: Instant,
        key: ServerKey,
        method: &str,
        request: M,
        from: D,
        reliable: bool,
    ) -> RequestDisposition<M> {
        if method.eq_ignore_ascii_case("ACK") {
            return match self.servers.get_mut(&key) {
                Some((tx, _, _)) => {
                    tx.handle_ack(now, request);
                    self.after_server(&key);
                    RequestDisposition::Ack
                }
                None => RequestDisposition::StrayAck(request),
            };
        }
        if let Some((tx, _, _)) = self.servers.get_mut(&key) {
            tx.handle_request_retransmission();
            self.after_server(&key);
            return RequestDisposition::Retransmission;
        }
        if self.servers.len() >= self.max_server_transactions {
            return RequestDisposition::Overloaded(request);
        }
        let tx = ServerTransaction::new(Kind::of_method(method), reliable, self.timers);
        self.servers.insert(key, (tx, from, None));
        RequestDisposition::New(request)
    }

    /// The TU answers the request of server transaction `key`. False if it no longer exists.
    pub fn send_response(
        &mut self,
        now: Instant,
        key: &ServerKey,
        status: u16,
        response: M,
    ) -> bool {
        let Some((tx, _, _)) = self.servers.get_mut(key) else {
            return false;
        };
        tx.send_response(now, status, response);
        self.after_server(key);
        true
    }

    /// State of a server transaction, e.g. the INVITE a CANCEL targets (§9.2).
    pub fn server_state(&self, key: &ServerKey) -> Option<ServerState> {
        self.servers.get(key).map(|(tx, _, _)| tx.state())
    }

    pub fn handle_transport_error(&mut self, id: &TxId) {
        match id {
            TxId::Client(key) => {
                if let Some((tx, _, _)) = self.clients.get_mut(key) {
                    tx.handle_transport_error();
                    self.after_client(key);
                }
            }
            TxId::Server(key) => {
                if let Some((tx, _, _)) = self.servers.get_mut(key) {
                    tx.handle_transport_error();
                    self.after_server(key);
                }
            }
        }
    }

    /// Runs every timer due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some(Reverse((at, _))) = self.wakeups.peek() {
            if *at > now {
                break;
            }
            let Some(Reverse((at, id))) = self.wakeups.pop() else {
                break;
            };
            match id {
                TxId::Client(key) => {
                    let Some((tx, _, scheduled)) = self.clients.get_mut(&key) else {
                        continue;
                    };
                    if *scheduled != Some(at) {
                        continue; // superseded by an earlier entry
                    }
                    *scheduled = None;
                    if tx.poll_timeout().is_some_and(|d| d <= now) {
                        tx.handle_timeout(now);
                    }
                    self.after_client(&key);
                }
                TxId::Server(key) => {
                    let Some((tx, _, scheduled)) = self.servers.get_mut(&key) else {
                        continue;
                    };
                    if *scheduled != Some(at) {
                        continue;
                    }
                    *scheduled = None;
                    if tx.poll_timeout().is_some_and(|d| d <= now) {
                        tx.handle_timeout(now);
                    }
                    self.after_server(&key);
                }
            }
        }
    }

    /// When [`TransactionLayer::handle_timeout`] should next run (possibly early: a stale
    /// deadline only costs a wake-up that finds nothing to do).
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.wakeups.peek().map(|Reverse((at, _))| *at)
    }

    pub fn poll_event(&mut self) -> Option<LayerEvent<M, D>> {
        self.events.pop_front()
    }

    /// Collects a client transaction's events, schedules its next deadline, drops it once
    /// terminated.
    fn after_client(&mut self, key: &ClientKey) {
        let Some((tx, to, scheduled)) = self.clients.get_mut(key) else {
            return;
        };
        while let Some(event) = tx.poll_event() {
            self.events.push_back(match event {
                ClientEvent::Transmit(message) => LayerEvent::Transmit {
                    to: to.clone(),
                    message,
                },
                ClientEvent::Response(response) => LayerEvent::Response {
                    key: key.clone(),
                    response,
                },
                ClientEvent::Timeout => LayerEvent::RequestTimeout { key: key.clone() },
                ClientEvent::TransportError => LayerEvent::TransportError {
                    id: TxId::Client(key.clone()),
                },
                ClientEvent::Terminated => LayerEvent::Terminated {
                    id: TxId::Client(key.clone()),
                },
            });
        }
        if tx.is_terminated() {
            self.clients.remove(key);
        } else if let Some(at) = schedule(scheduled, tx.poll_timeout()) {
            self.wakeups.push(Reverse((at, TxId::Client(key.clone()))));
        }
    }

    fn after_server(&mut self, key: &ServerKey) {
        let Some((tx, from, scheduled)) = self.servers.get_mut(key) else {
            return;
        };
        while let Some(event) = tx.poll_event() {
            self.events.push_back(match event {
                ServerEvent::Transmit(message) => LayerEvent::Transmit {
                    to: from.clone(),
                    message,
                },
                ServerEvent::AckFor2xx(ack) => LayerEvent::AckFor2xx {
                    key: key.clone(),
                    ack,
                },
                ServerEvent::Timeout => LayerEvent::AckTimeout { key: key.clone() },
                ServerEvent::TransportError => LayerEvent::TransportError {
                    id: TxId::Server(key.clone()),
                },
                ServerEvent::Terminated => LayerEvent::Terminated {
                    id: TxId::Server(key.clone()),
                },
            });
        }
        if tx.is_terminated() {
            self.servers.remove(key);
        } else if let Some(at) = schedule(scheduled, tx.poll_timeout()) {
            self.wakeups.push(Reverse((at, TxId::Server(key.clone()))));
        }
    }
}
