//! The SIP endpoint: one task that owns the transaction layer and answers requests as a UAS
//! and registrar. Transports feed it raw messages; it replies through them.
//!
//! What reaches call handling is decided here: only trusted peers and digest-authenticated
//! local users; everyone else is challenged and then refused (no toll fraud).

use std::sync::Arc;
use std::time::{Instant, UNIX_EPOCH};

use tandem_sip::digest::{Credentials, DigestServer, Verdict};
use tandem_sip::message::{default_reason, Message, Method, Request, Response};
use tandem_sip::transaction::key::RequestIds;
use tandem_sip::transaction::{
    ClientKey, LayerEvent, RequestDisposition, ServerKey, ServerState, TransactionLayer,
};
use tokio::sync::{mpsc, watch};

use super::clock;
use super::register;
use super::reply::error_for_raw;
use super::transport::{Destination, Inbound, Transports};
use crate::config::TrustedPeer;
use crate::storage::Storage;

/// Methods this endpoint implements, for Allow (RFC 3261 §20.5).
pub const ALLOW: &str = "INVITE, ACK, CANCEL, BYE, OPTIONS, REGISTER, INFO, UPDATE";
/// Extensions we understand in Require: RFC 4028 session timers (as the refreshee).
const SUPPORTED: &[&str] = &["timer"];

/// Everything the endpoint needs besides its transaction state.
pub struct Endpoint {
    pub domain: String,
    pub storage: Storage,
    pub transports: Arc<Transports>,
    pub trusted_peers: Vec<TrustedPeer>,
    /// `[sip] trusted_certs`: TLS peers whose verified certificate names one are trunks.
    pub trusted_certs: Vec<String>,
    pub digest: DigestServer,
    /// Algorithms to challenge with, most preferred first.
    pub digest_algorithms: Vec<String>,
    pub registrar: tandem_sip::registrar::Policy,
    pub(super) layer: TransactionLayer<Message, Destination>,
    /// The SIP <-> Jingle bridge, when `[gateway] sip_domain` is set.
    pub(super) bridge: Option<super::bridge::Bridge>,
    /// `[cluster]`: where registrations are recorded for the other clusters.
    pub cluster: Option<Arc<crate::cluster::Cluster>>,
    /// Our OPTIONS probes in flight, with the contact they probe.
    probes: std::collections::HashMap<ClientKey, String>,
}

impl Endpoint {
    pub fn new(
        domain: String,
        storage: Storage,
        transports: Arc<Transports>,
        trusted_peers: Vec<TrustedPeer>,
        trusted_certs: Vec<String>,
        digest_algorithms: Vec<String>,
        timers: tandem_sip::transaction::Timers,
    ) -> Endpoint {
        let mut secret = [0u8; 32];
        // A fresh secret per start: nonces from before a restart are refused, never replayed.
        let _ = getrandom::fill(&mut secret);
        let digest = DigestServer::new(domain.clone(), secret, std::time::Duration::from_secs(300));
        Endpoint {
            domain,
            storage,
            transports,
            trusted_peers,
            trusted_certs,
            digest,
            digest_algorithms,
            registrar: Default::default(),
            layer: TransactionLayer::new(timers),
            bridge: None,
            cluster: None,
            probes: Default::default(),
        }
    }

    /// Turns the bridge on.
    pub fn with_bridge(mut self, bridge: super::bridge::Bridge) -> Endpoint {
        self.bridge = Some(bridge);
        self
    }

    /// Runs until shutdown. `stanzas`: what XMPP users send to the gateway domain.
    pub async fn run(
        mut self,
        mut inbound: mpsc::Receiver<Inbound>,
        mut stanzas: mpsc::Receiver<tandem_xmpp::Element>,
        mut shutdown: watch::Receiver<bool>,
    ) {
        loop {
            let deadline = self.next_deadline();
            tokio::select! {
                message = inbound.recv() => match message {
                    Some(message) => self.handle_inbound(message).await,
                    None => return,
                },
                Some(stanza) = stanzas.recv() => self.bridge_stanza(stanza).await,
                _ = sleep_until(deadline) => self.fire_timers(clock::now()),
                _ = shutdown.changed() => return,
            }
            self.flush_events().await;
        }
    }

    /// Fires the transaction and call timers due at `now`.
    pub(super) fn fire_timers(&mut self, now: Instant) {
        self.layer.handle_timeout(now);
        self.bridge_timeout(now);
    }

    /// The earliest timer of the transaction layer or the bridge.
    pub(super) fn next_deadline(&self) -> Option<Instant> {
        [
            self.layer.poll_timeout(),
            self.bridge.as_ref().and_then(|b| b.poll_timeout()),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// One message from the network, and everything it causes.
    pub(super) async fn receive(&mut self, inbound: Inbound) {
        self.handle_inbound(inbound).await;
        self.flush_events().await;
    }

    /// One stanza for the gateway domain, and everything it causes.
    pub(super) async fn receive_stanza(&mut self, stanza: tandem_xmpp::Element) {
        self.bridge_stanza(stanza).await;
        self.flush_events().await;
    }

    pub(super) async fn flush(&mut self) {
        self.flush_events().await;
    }

    async fn flush_events(&mut self) {
        while let Some(event) = self.layer.poll_event() {
            match event {
                LayerEvent::Transmit { to, message } => {
                    if !self.transports.send(&to, message.to_bytes()).await {
                        tracing::debug!(to = %to.addr, "sip send failed");
                    }
                }
                LayerEvent::AckTimeout { key } => {
                    tracing::debug!(?key, "no ACK for our final response")
                }
                LayerEvent::AckFor2xx { ack, .. } => {
                    if let Message::Request(ack) = ack {
                        self.bridge_acked(ack.call_id());
                    }
                }
                LayerEvent::RequestTimeout { key } => {
                    if let Some(contact) = self.probes.remove(&key) {
                        tracing::warn!(%contact, "registered phone did not answer OPTIONS");
                    } else {
                        self.bridge_request_timeout(&key);
                    }
                }
                LayerEvent::Response { key, response } => {
                    let Message::Response(response) = response else {
                        continue;
                    };
                    if !self.probes.contains_key(&key) {
                        self.bridge_response(&key, response);
                        continue;
                    }
                    if response.status() >= 200 {
                        if let Some(contact) = self.probes.remove(&key) {
                            tracing::info!(%contact, status = response.status(), "registered phone answered OPTIONS");
                        }
                    }
                }
                LayerEvent::TransportError { .. } | LayerEvent::Terminated { .. } => {}
            }
        }
    }

    async fn handle_inbound(&mut self, inbound: Inbound) {
        let destination = Destination {
            flow: inbound.flow.clone(),
            addr: inbound.source,
        };
        match Message::parse(&inbound.bytes) {
            Err(e) => {
                tracing::debug!(source = %inbound.source, error = %e, "unparseable SIP");
                // Requests get an error when one can be addressed; responses are dropped.
                if let Some(status) = e.reply_status() {
                    if let Some(reply) =
                        error_for_raw(&inbound.bytes, status, e.reason(), &random_token())
                    {
                        self.transports.send(&destination, reply).await;
                    }
                }
            }
            Ok(Message::Response(response)) => {
                let via = response.top_via();
                let key = ClientKey::for_response(
                    via.branch().unwrap_or(""),
                    response.cseq().method.as_str(),
                );
                let status = response.status();
                // Stray responses are dropped (§18.1.2).
                self.layer
                    .handle_response(clock::now(), &key, status, Message::Response(response));
            }
            Ok(Message::Request(mut request)) => {
                request.stamp_received(inbound.source);
                // Responses go back where the request came from: on its connection, or on
                // UDP to its source address and port, with or without `rport` (what
                // RFC 3581 makes explicit, and what phones behind NAT need; RFC 3261
                // §18.2.2's sent-by port is the same for a phone that sends from its
                // listening socket). `maddr` is not followed: it would let a request aim our
                // responses at any third party.
                self.handle_request(request, destination).await;
            }
        }
    }

    async fn handle_request(&mut self, request: Request, destination: Destination) {
        let now = clock::now();
        let method = request.method().clone();
        // OPTIONS outside a dialog is answered statelessly (RFC 3261 §8.2.7): keep-alive
        // probes are the bulk of SIP traffic and need no transaction held for 64*T1. The
        // To-tag is derived from the request so a retransmission gets the same answer.
        if method == Method::Options && request.to().tag().is_none() {
            let (status, response) = self.answer(&request, &destination, None, None, None).await;
            self.send_stateless(&request, status, response, &destination)
                .await;
            return;
        }
        // The toll-fraud gate runs before any state exists: challenges and refusals of
        // INVITEs go out statelessly, so a spoofed INVITE cannot make us retransmit a 407
        // (Timer G) at its forged source (RFC 3261 §26.3.2.4).
        if method == Method::Invite && request.max_forwards() == Some(0) {
            // §16.3 step 2 comes before any authentication.
            self.send_stateless(&request, 483, None, &destination).await;
            return;
        }
        let mut caller = None;
        if method == Method::Invite && request.to().tag().is_none() {
            match self.caller_identity(&request, &destination).await {
                Caller::Refused(status, response) => {
                    self.send_stateless(&request, status, response, &destination)
                        .await;
                    return;
                }
                allowed => caller = Some(allowed),
            }
        }
        let ids_via = request.top_via();
        let from_tag = request.from().tag().unwrap_or("").to_owned();
        let request_uri = request.uri().as_str().to_owned();
        let ids = RequestIds {
            method: method.as_str(),
            branch: ids_via.branch(),
            sent_by: ids_via.sent_by(),
            top_via: ids_via.as_str(),
            request_uri: &request_uri,
            from_tag: &from_tag,
            call_id: request.call_id(),
            cseq: request.cseq().seq,
        };
        let key = ServerKey::for_request(&ids);
        let cancelled = (method == Method::Cancel).then(|| ServerKey::cancelled_invite(&ids));
        let reliable = destination.flow.is_reliable();
        let destination_copy = destination.clone();
        let disposition = self.layer.handle_request(
            now,
            key.clone(),
            method.as_str(),
            Message::Request(request),
            destination,
            reliable,
        );
        let request = match disposition {
            RequestDisposition::New(Message::Request(request)) => request,
            RequestDisposition::Overloaded(Message::Request(request)) => {
                // Stateless: no transaction to remember it by.
                if let Some(mut busy) = self.response(&request, 503) {
                    let _ = busy.set_header("Retry-After", "5");
                    self.transports
                        .send(&destination_copy, busy.to_bytes())
                        .await;
                }
                return;
            }
            // An ACK for a 2xx after its transaction ended belongs to the call's dialog.
            RequestDisposition::StrayAck(Message::Request(ack)) => {
                self.bridge_acked(ack.call_id());
                return;
            }
            // Retransmissions are answered by their transaction.
            _ => return,
        };
        let (status, mut response) = self
            .answer(&request, &destination_copy, Some(&key), cancelled, caller)
            .await;
        if status == 0 {
            return;
        }
        if response.is_none() {
            response = Response::from_request(
                &request,
                status,
                default_reason(status),
                Some(&random_token()),
            )
            .ok();
        }
        if let Some(response) = response {
            self.layer
                .send_response(now, &key, status, Message::Response(response));
        }
    }

    /// The response to a new request: its status, and the response when more than a bare
    /// status line is needed. Status 0 means "already answered".
    async fn answer(
        &mut self,
        request: &Request,
        from: &Destination,
        // The request's transaction; `None` when answered statelessly.
        key: Option<&ServerKey>,
        cancelled: Option<ServerKey>,
        caller: Option<Caller>,
    ) -> (u16, Option<Response>) {
        // §8.2.1-8.2.2: scheme, then extensions, before anything method-specific.
        let uri = request.uri();
        if matches!(uri.scheme(), tandem_sip::message::Scheme::Other(_)) {
            return (416, None);
        }
        let unsupported: Vec<String> = request
            .headers()
            .require()
            .map(|v| v.to_string())
            .filter(|ext| !SUPPORTED.contains(&ext.as_str()))
            .collect();
        if !unsupported.is_empty()
            && *request.method() != Method::Cancel
            && *request.method() != Method::Ack
        {
            let mut response = self.response(request, 420);
            if let Some(r) = response.as_mut() {
                let _ = r.set_header("Unsupported", &unsupported.join(", "));
            }
            return (420, response);
        }
        // Max-Forwards 0 on an INVITE (which tandem would pass on, as a proxy does: §16.3
        // item 2) was answered with 483 before the transaction existed; requests that end
        // here (REGISTER, OPTIONS) are processed normally, as RFC 4475 §3.3.13 (zeromf)
        // expects of an endpoint.
        match request.method() {
            Method::Options => (200, self.options_ok(request)),
            Method::Register => register::handle(self, request, from).await,
            Method::Invite => {
                let Some(key) = key else {
                    return (500, None);
                };
                // A re-INVITE belongs to its call's dialog (the dialog's tags are its
                // credentials), never to a new call.
                if request.to().tag().is_some() {
                    let status = self.bridge_reinvite(request, key);
                    return (if status == 100 { 0 } else { status }, None);
                }
                // New INVITEs were checked before their transaction existed.
                let identity = match caller {
                    Some(identity) => identity,
                    None => self.caller_identity(request, from).await,
                };
                match identity {
                    Caller::Refused(status, response) => (status, response),
                    Caller::Trusted | Caller::User(_) => {
                        match self.bridge_invite(request, key, from).await {
                            super::bridge::InviteOutcome::Proceeding => (100, None),
                            super::bridge::InviteOutcome::IntervalTooBrief { min_se } => {
                                let mut response = self.response(request, 422);
                                if let Some(r) = response.as_mut() {
                                    let _ = r.set_header("Min-SE", &min_se.to_string());
                                }
                                (422, response)
                            }
                            super::bridge::InviteOutcome::Refused(status, why) => {
                                let mut response = self.response(request, status);
                                if let Some(r) = response.as_mut() {
                                    let _ =
                                        r.set_header("Warning", &format!("399 tandem \"{why}\""));
                                }
                                (status, response)
                            }
                        }
                    }
                }
            }
            Method::Cancel => {
                match cancelled.and_then(|k| self.layer.server_state(&k).map(|s| (k, s))) {
                    // §9.2: 200 for the CANCEL, 487 for the INVITE if it is still pending.
                    Some((invite_key, ServerState::Proceeding)) => {
                        let now = clock::now();
                        // The CANCEL's 200 first, as phones expect, then the INVITE's 487.
                        let answered = key.zip(self.response(request, 200));
                        let answered_first = answered.is_some();
                        if let Some((cancel_key, ok)) = answered {
                            self.layer
                                .send_response(now, cancel_key, 200, Message::Response(ok));
                        }
                        let terminated = Response::from_request(
                            request,
                            487,
                            default_reason(487),
                            Some(&random_token()),
                        );
                        if let Ok(mut r) = terminated {
                            let _ = r.set_header("CSeq", &format!("{} INVITE", request.cseq().seq));
                            self.layer
                                .send_response(now, &invite_key, 487, Message::Response(r));
                        }
                        self.bridge_cancelled(request.call_id());
                        if answered_first {
                            (0, None)
                        } else {
                            (200, None)
                        }
                    }
                    // §9.2: a CANCEL that matches a transaction gets 200 even when the INVITE
                    // was already answered; 481 only when nothing matches.
                    Some(_) => (200, None),
                    None => (481, None),
                }
            }
            // Dialog requests without a dialog (§12.2.2).
            Method::Bye => (self.bridge_bye(request), None),
            Method::Info => (self.bridge_info(request), None),
            Method::Update | Method::Prack => (481, None),
            Method::Ack => (0, None),
            _ => {
                let mut response = self.response(request, 405);
                if let Some(r) = response.as_mut() {
                    let _ = r.set_header("Allow", ALLOW);
                }
                (405, response)
            }
        }
    }

    /// Answers without a transaction, with a To-tag derived from the request so that a
    /// retransmission gets the very same response (§8.2.7).
    async fn send_stateless(
        &mut self,
        request: &Request,
        status: u16,
        response: Option<Response>,
        to: &Destination,
    ) {
        let response = response
            .or_else(|| Response::from_request(request, status, default_reason(status), None).ok());
        if let Some(mut response) = response {
            let existing = response.to().as_str().to_owned();
            let _ = response.set_header("To", &replace_tag(&existing, &stateless_tag(request)));
            self.transports.send(to, response.to_bytes()).await;
        }
    }

    /// Sends an OPTIONS to a phone that just registered, over the flow it registered on, to
    /// learn that it is reachable (the answer is logged).
    pub(super) fn probe(&mut self, contact: &str, to: &Destination) {
        let Some(local) = self.transports.local_addr(&to.flow) else {
            return;
        };
        let mut random = [0u8; 12];
        let _ = getrandom::fill(&mut random);
        let branch = tandem_sip::transaction::key::new_branch(random);
        let transport = match to.flow.transport_name() {
            "tls" => "TLS",
            "tcp" => "TCP",
            _ => "UDP",
        };
        let request = Request::builder(Method::Options, contact)
            .header(
                "Via",
                &format!("SIP/2.0/{transport} {local};branch={branch};rport"),
            )
            .header("Max-Forwards", "70")
            .header(
                "From",
                &format!("<sip:tandem@{}>;tag={}", self.domain, random_token()),
            )
            .header("To", &format!("<{contact}>"))
            .header("Call-ID", &format!("{}@{}", random_token(), self.domain))
            .header("CSeq", "1 OPTIONS")
            .build();
        let request = match request {
            Ok(r) => r,
            Err(e) => return tracing::debug!(%contact, error = %e, "cannot probe this contact"),
        };
        let key = ClientKey {
            branch,
            method: "OPTIONS".into(),
        };
        if self.layer.send_request(
            clock::now(),
            key.clone(),
            Message::Request(request),
            to.clone(),
            to.flow.is_reliable(),
        ) {
            self.probes.insert(key, contact.to_owned());
        }
    }

    fn options_ok(&self, request: &Request) -> Option<Response> {
        let mut response = self.response(request, 200)?;
        let _ = response.set_header("Allow", ALLOW);
        let _ = response.set_header("Accept", "application/sdp");
        let _ = response.set_header("Accept-Encoding", "identity");
        let _ = response.set_header("Accept-Language", "en");
        Some(response)
    }

    pub(super) fn response(&self, request: &Request, status: u16) -> Option<Response> {
        Response::from_request(
            request,
            status,
            default_reason(status),
            Some(&random_token()),
        )
        .ok()
    }

    /// Who is calling: a trusted peer (by address, or by the verified TLS certificate it
    /// presented), a local user proven by digest (Proxy-Authorization, §22.3), or nobody
    /// allowed (407 challenge first, 403 after a failed proof).
    async fn caller_identity(&mut self, request: &Request, from: &Destination) -> Caller {
        let source = from.addr;
        if self.trusted_peers.iter().any(|p| p.matches(source)) {
            return Caller::Trusted;
        }
        if !self.trusted_certs.is_empty() {
            let names = self.transports.peer_names(&from.flow);
            if let Some(name) = names.iter().find(|n| self.trusted_certs.contains(n)) {
                tracing::debug!(%source, trunk = %name, "trusted by its TLS certificate");
                return Caller::Trusted;
            }
        }
        let header = request
            .headers()
            .get("Proxy-Authorization")
            .map(str::to_owned);
        match self.check_digest(request, header.as_deref()).await {
            DigestOutcome::Authenticated(user) => Caller::User(user),
            DigestOutcome::Challenge { stale } => {
                Caller::Refused(407, self.challenge(request, 407, stale))
            }
            DigestOutcome::Refused(reason) => {
                tracing::info!(%source, %reason, "SIP request refused");
                Caller::Refused(403, None)
            }
        }
    }

    /// Checks digest credentials from an Authorization or Proxy-Authorization value.
    pub(super) async fn check_digest(
        &mut self,
        request: &Request,
        header: Option<&str>,
    ) -> DigestOutcome {
        let Some(header) = header else {
            return DigestOutcome::Challenge { stale: false };
        };
        let credentials = match Credentials::parse(header) {
            Ok(c) => c,
            Err(e) => return DigestOutcome::Refused(format!("credentials: {e}")),
        };
        // The digest uri must name this request (RFC 7616 §3.4.6).
        if !same_uri(credentials.uri(), request.uri().as_str()) {
            return DigestOutcome::Refused("digest uri does not match the Request-URI".into());
        }
        // Cheap checks before the user store: another realm, a nonce we never issued, or an
        // algorithm we do not offer (no downgrade to MD5 when only SHA-256 is configured,
        // RFC 8760 §2.4) gets a fresh challenge and costs no lookup.
        if self.digest.precheck(&credentials).is_err()
            || !self
                .digest_algorithms
                .iter()
                .any(|a| a == credentials.algorithm().as_str())
        {
            return DigestOutcome::Challenge { stale: false };
        }
        let record = match self.storage.get_user(credentials.username()).await {
            Ok(record) => record,
            Err(e) => {
                tracing::error!(error = %e, "user lookup failed");
                return DigestOutcome::Refused("user store unavailable".into());
            }
        };
        let now = unix_now();
        let verdict = self.digest.verify(
            now,
            request.method().as_str(),
            &credentials,
            |_, algorithm| {
                record.as_ref().map(|r| match algorithm {
                    tandem_sip::digest::Algorithm::Md5 => r.ha1_md5.clone(),
                    tandem_sip::digest::Algorithm::Sha256 => r.ha1_sha256.clone(),
                })
            },
        );
        match verdict {
            Verdict::Ok(user) => DigestOutcome::Authenticated(user),
            Verdict::Stale => DigestOutcome::Challenge { stale: true },
            // A wrong password is final; a nonce we cannot vouch for (a restart changed the
            // secret, a replayed count) only needs a new challenge (RFC 7616 §3.3).
            Verdict::Unauthorized(tandem_sip::digest::Reason::BadResponse) => {
                DigestOutcome::Refused("wrong response (bad password or unknown user)".into())
            }
            Verdict::Unauthorized(reason) => {
                tracing::debug!(%reason, "re-challenging");
                DigestOutcome::Challenge { stale: false }
            }
        }
    }

    /// A 401 or 407 carrying one challenge per configured algorithm, in the configured order
    /// (RFC 8760 §2.4: most preferred first).
    pub(super) fn challenge(
        &self,
        request: &Request,
        status: u16,
        stale: bool,
    ) -> Option<Response> {
        let mut response = self.response(request, status)?;
        let name = if status == 407 {
            "Proxy-Authenticate"
        } else {
            "WWW-Authenticate"
        };
        let challenges = self.digest.challenge(unix_now(), stale);
        for algorithm in &self.digest_algorithms {
            let wanted = format!("algorithm={algorithm}");
            for value in challenges
                .iter()
                .filter(|c| c.split([',', ' ']).any(|p| p.trim() == wanted))
            {
                let _ = response.push_header(name, value);
            }
        }
        Some(response)
    }
}

enum Caller {
    Trusted,
    #[allow(dead_code)]
    User(String),
    Refused(u16, Option<Response>),
}

pub(super) enum DigestOutcome {
    Authenticated(String),
    Challenge { stale: bool },
    Refused(String),
}

/// A To-tag that is the same for every retransmission of a request (§8.2.7).
fn stateless_tag(request: &Request) -> String {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    request.call_id().hash(&mut hasher);
    request.from().tag().hash(&mut hasher);
    request.top_via().branch().hash(&mut hasher);
    request.cseq().seq.hash(&mut hasher);
    format!("{:016x}", hasher.finish())
}

/// The To header value with its tag set to `tag`.
fn replace_tag(to: &str, tag: &str) -> String {
    match to.to_ascii_lowercase().find(";tag=") {
        Some(at) => {
            let rest = &to[at + 5..];
            let end = rest.find(';').map_or(to.len(), |e| at + 5 + e);
            format!("{};tag={tag}{}", &to[..at], &to[end..])
        }
        None => format!("{to};tag={tag}"),
    }
}

fn same_uri(a: &str, b: &str) -> bool {
    a.trim().eq_ignore_ascii_case(b.trim())
}

pub(super) fn unix_now() -> u64 {
    clock::system_now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// A random token for tags (§19.3: at least 32 bits of randomness).
pub(super) fn random_token() -> String {
    let mut bytes = [0u8; 8];
    let _ = getrandom::fill(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at.into()).await,
        None => std::future::pending().await,
    }
}
