//! The call bridge's edge: one [`Call`] per bridged call, driven from the SIP endpoint task
//! (which owns the transaction layer) and from stanzas XMPP users send to the gateway
//! domain. The call decides; this module turns its outputs into SIP messages and iqs.
//!
//! Both ways: a phone or trunk calls a local user (`alice`), and a local user's session-initiate
//! to `number@<gateway domain>` becomes an INVITE to that user's registered phone, or to
//! `sip:number@<sip domain>` through `[sip] outbound_proxy`.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use jid::{BareJid, FullJid};
use tandem_sip::dialog::{Dialog, DialogSeed};
use tandem_sip::message::{default_reason, Method, Request, Response};
use tandem_sip::transaction::{ClientKey, ServerKey};
use tandem_translations::call::{
    Call, CallConfig, CallRecord, Decision, Fork, JingleRefusal, Origin, Output, SipAction,
    SipEvent, COMPLETED_ELSEWHERE,
};
use tandem_translations::jingle::{self, Action, Jingle, JinglePayload, Reason, ReasonCondition};
use tandem_translations::sdp::SessionDescription;
use tandem_xmpp::stanza::{error_reply, iq_result, StanzaErrorCondition};
use tandem_xmpp::Element;

use super::cdr::{line as cdr_line, CallClock, CdrWriter};
use super::clock;
use super::core::{random_token, Endpoint};
use super::transport::Destination;
use crate::config::Config;
use crate::im::delivery;
use crate::metrics::CallMetrics;
use crate::server::Shared;

const JINGLE_NS: &str = "urn:xmpp:jingle:1";
const JINGLE_ERRORS_NS: &str = "urn:xmpp:jingle:errors:1";
const DISCO_INFO_NS: &str = "http://jabber.org/protocol/disco#info";
const JMI_NS: &str = "urn:xmpp:jingle-message:0";

/// What the gateway domain really does (XEP-0030), nothing ahead of the code: Jingle RTP
/// audio/video over ICE-UDP (with DTLS fingerprints) or Raw UDP, full offers rather than
/// trickle towards SIP (`urn:ietf:rfc:3264`, XEP-0176 §support-sdp), and XEP-0353 proposals.
const GATEWAY_FEATURES: &[&str] = &[
    DISCO_INFO_NS,
    JINGLE_NS,
    "urn:xmpp:jingle:apps:rtp:1",
    "urn:xmpp:jingle:apps:rtp:audio",
    "urn:xmpp:jingle:apps:rtp:video",
    "urn:xmpp:jingle:transports:ice-udp:1",
    "urn:xmpp:jingle:transports:raw-udp:1",
    "urn:xmpp:jingle:apps:dtls:0",
    "urn:ietf:rfc:3264",
    JMI_NS,
];

/// The bridge's state inside the SIP endpoint.
pub struct Bridge {
    sip_domain: String,
    /// `[sip] domain`: the host part of the SIP URIs tandem writes.
    server_sip_domain: String,
    outbound_proxy: Option<String>,
    /// Digest credentials for a trunk's 401/407.
    outbound_credentials: Option<(String, String)>,
    cdr: CdrWriter,
    shared: Arc<Shared>,
    config: CallConfig,
    legs: HashMap<String, Leg>,
    probes: HashMap<String, Probe>,
    by_call_id: HashMap<String, String>,
    /// SIP calls ringing several devices, by the caller's Call-ID.
    forks: HashMap<String, Forked>,
    /// Our INVITEs forwarded to a callee's registered phones: the fork and branch.
    phone_branches: HashMap<ClientKey, (String, usize)>,
}

/// One SIP call ringing all the callee's devices: her XMPP devices (each a [`Leg`]) and her
/// registered SIP phones, to which the caller's INVITE is forwarded as a proxy would
/// (RFC 3261 §16). The first to answer wins ([`Fork`]).
struct Forked {
    fork: Fork,
    /// The caller's INVITE, and its transaction.
    request: Request,
    key: ServerKey,
    destination: Destination,
    branches: Vec<ForkBranch>,
    /// The callee, for the CDR of a call no XMPP device took.
    callee: String,
    sid: String,
    clock: CallClock,
    setup: Instant,
    ringing: Option<Instant>,
    /// Phones' failure responses, our Via removed: the chosen one is passed on as it came
    /// (its Contact for a 3xx, its challenge for a 401/407; RFC 3261 §16.7 step 7).
    failures: Vec<Response>,
}

#[derive(Clone)]
enum ForkBranch {
    /// An XMPP device (or the JMI proposal to all that speak it): the leg's sid.
    Jingle(String),
    /// A registered phone: our forwarded INVITE.
    Phone {
        key: ClientKey,
        invite: Box<Request>,
        destination: Destination,
        /// A provisional response came: a CANCEL may be sent (RFC 3261 §9.1).
        provisional: bool,
        /// A CANCEL waiting for that provisional response, with its Reason.
        cancel: Option<String>,
        /// Its final response came (or Timer B fired): nothing more will.
        done: bool,
    },
}

/// How long a SIP call waits for the callee's devices to say whether they speak XEP-0353.
const CAPS_WAIT: Duration = Duration::from_millis(500);

/// A SIP call waiting for the callee's devices' capabilities before it rings them.
struct Probe {
    request: Request,
    key: ServerKey,
    destination: Destination,
    offer: SessionDescription,
    caller: String,
    /// Available resources, highest priority first.
    resources: Vec<FullJid>,
    /// disco#info queries not answered yet.
    pending: Vec<String>,
    /// Resources that advertise `urn:xmpp:jingle-message:0`.
    jmi: Vec<FullJid>,
    /// Resources whose disco#info answer showed no Jingle RTP: not rung.
    no_jingle: Vec<FullJid>,
    /// The callee's registered phones (contact, where to send), rung alongside.
    phones: Vec<(String, Destination)>,
    callee: String,
    deadline: Instant,
    /// The caller's RFC 4028 session interval, if it asked for one.
    session_expires: Option<Duration>,
}

/// One bridged call, either way.
struct Leg {
    call: Call,
    /// The INVITE: the phone's (SIP caller), or ours (XMPP caller).
    invite: Request,
    /// The phone's INVITE transaction, when the call came from SIP.
    server_key: Option<ServerKey>,
    /// Our INVITE transaction, when the call came from XMPP.
    client_key: Option<ClientKey>,
    destination: Destination,
    local_tag: String,
    dialog: Option<Dialog>,
    /// The SIP party as the XMPP user sees it: `number@<gateway domain>[/<call>]`.
    gateway_jid: String,
    xmpp_party: FullJid,
    /// The callee's devices a JMI proposal went to (empty: direct Jingle).
    jmi_devices: Vec<FullJid>,
    /// Our INVITE was already re-sent with credentials (a second challenge is a refusal).
    authenticated: bool,
    /// The id of our session-initiate iq: an error to it means the callee refused.
    initiate_id: Option<String>,
    /// Our re-INVITE in flight.
    reinvite_client: Option<ClientKey>,
    /// The peer's re-INVITE we owe an answer.
    reinvite_server: Option<(ServerKey, Request)>,
    /// When the call started, to write its CDR in wall-clock time.
    clock: CallClock,
    /// The answer has been counted in the metrics.
    answer_counted: bool,
    /// Its branch in the fork of the caller's INVITE (SIP callers only).
    branch: Option<usize>,
    /// The leg stands for the whole call in metrics and the CDR: every XMPP caller's leg,
    /// and the branch of a fork that answered first.
    counted: bool,
}

impl Leg {
    fn direction(&self) -> &'static str {
        match self.call.origin() {
            Origin::Sip => "sip-to-xmpp",
            Origin::Jingle => "xmpp-to-sip",
        }
    }
}

impl Bridge {
    pub fn new(config: &Config, sip_domain: String, shared: Arc<Shared>) -> Bridge {
        let gateway = &config.gateway;
        Bridge {
            sip_domain,
            server_sip_domain: config.sip_domain().to_owned(),
            outbound_proxy: config.sip.outbound_proxy.clone(),
            outbound_credentials: config
                .sip
                .outbound_username
                .clone()
                .zip(config.sip.outbound_password.clone()),
            cdr: CdrWriter::new(&config.server.data_dir),
            shared,
            config: CallConfig {
                ring_timeout: Duration::from_secs(gateway.ring_timeout as u64),
                trickle_wait: Duration::from_millis(gateway.trickle_wait_ms as u64),
                max_duration: Duration::from_secs(gateway.max_call_duration as u64),
                sip_trickle: false,
            },
            legs: HashMap::new(),
            probes: HashMap::new(),
            by_call_id: HashMap::new(),
            forks: HashMap::new(),
            phone_branches: HashMap::new(),
        }
    }

    fn count_start(&self, leg: &Leg) {
        let calls = &self.shared.metrics.calls;
        calls.active.inc();
        calls
            .attempts
            .get_or_create(&CallMetrics::direction(leg.direction()))
            .inc();
    }

    /// Counts the answer once, with its setup time.
    fn count_answer(&mut self, sid: &str) {
        let calls = self.shared.metrics.calls.clone();
        let Some(leg) = self.legs.get_mut(sid) else {
            return;
        };
        if leg.answer_counted || !leg.call.is_answered() {
            return;
        }
        leg.answer_counted = true;
        calls
            .setups
            .get_or_create(&CallMetrics::direction(leg.direction()))
            .inc();
        calls
            .setup_seconds
            .observe(leg.clock.elapsed().as_secs_f64());
    }

    fn count_end(&self, record: &CallRecord) {
        let calls = &self.shared.metrics.calls;
        calls.active.dec();
        if record.answer.is_none() {
            calls
                .failures
                .get_or_create(&CallMetrics::reason(record.reason.as_str()))
                .inc();
        }
    }

    /// A forked call that ended without a device of the bridge in it: no XMPP device
    /// answered (`status` ≥ 300), or the callee's own phone did (2xx, and tandem leaves the
    /// signalling path: the dialog is between the phones). Counted and recorded once.
    fn fork_over(&mut self, call_id: &str, status: u16, callee: Option<&str>) {
        let Some(forked) = self.forks.get(call_id) else {
            return;
        };
        let now = clock::now();
        let answered = (200..300).contains(&status);
        let reason = tandem_translations::errors::sip_status_to_jingle_reason(status)
            .as_str()
            .parse()
            .unwrap_or(ReasonCondition::GeneralError);
        let record = CallRecord {
            origin: Origin::Sip,
            sid: forked.sid.clone(),
            setup: forked.setup,
            ringing: forked.ringing,
            answer: answered.then_some(now),
            end: now,
            reason,
            status,
        };
        let calls = &self.shared.metrics.calls;
        if answered {
            calls
                .setups
                .get_or_create(&CallMetrics::direction("sip-to-sip"))
                .inc();
            calls
                .setup_seconds
                .observe(forked.clock.elapsed().as_secs_f64());
        }
        self.count_end(&record);
        log_call(&record);
        self.cdr.write(&cdr_line(
            &record,
            &forked.clock,
            forked.request.from().uri().as_str(),
            callee.unwrap_or(&forked.callee),
            call_id,
        ));
    }

    /// The earliest deadline of any call, fork or capability wait.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let calls = self.legs.values().filter_map(|l| l.call.poll_timeout());
        let forks = self.forks.values().filter_map(|f| f.fork.poll_timeout());
        calls
            .chain(forks)
            .chain(self.probes.values().map(|p| p.deadline))
            .min()
    }
}

/// How a new INVITE for the bridge is answered right away.
pub enum InviteOutcome {
    /// The call is ringing the XMPP side: answer 100 and keep the transaction.
    Proceeding,
    /// Refused with this status (404 unknown user, 480 offline, 488 bad SDP, ...).
    Refused(u16, &'static str),
    /// RFC 4028 §6: the Session-Expires asked for is below what we accept: 422 with Min-SE.
    IntervalTooBrief { min_se: u64 },
}

/// RFC 4028 §4: the smallest session interval allowed (and ours).
const MIN_SE: u64 = 90;

/// The interval of a `Session-Expires` (compact `x`) header, if the request has one.
fn session_expires(request: &Request) -> Option<u64> {
    let value = request
        .headers()
        .get("Session-Expires")
        .or_else(|| request.headers().get("x"))?;
    value.split(';').next()?.trim().parse().ok()
}

impl Endpoint {
    /// A new INVITE from an allowed caller: find the callee, start the call.
    pub(super) async fn bridge_invite(
        &mut self,
        request: &Request,
        key: &ServerKey,
        from: &Destination,
    ) -> InviteOutcome {
        let Some(bridge) = self.bridge.as_ref() else {
            return InviteOutcome::Refused(480, "calls are not bridged on this server");
        };
        let Some(user) = request.uri().user_decoded().map(|u| u.into_owned()) else {
            return InviteOutcome::Refused(404, "no user in the Request-URI");
        };
        match self.storage.get_user(&user).await {
            Ok(Some(_)) => {}
            Ok(None) => return InviteOutcome::Refused(404, "no such user"),
            Err(e) => {
                tracing::error!(error = %e, "user lookup failed");
                return InviteOutcome::Refused(500, "user store unavailable");
            }
        }
        let Ok(bare) = BareJid::new(&format!("{user}@{}", bridge.shared.domain)) else {
            return InviteOutcome::Refused(404, "not a valid account name");
        };
        // Every device of hers rings: each available resource, each registered phone.
        let phones = self.registered_phones(&user).await;
        let bridge = self.bridge.as_ref().expect("checked above");
        // Her available resources here and in other clusters, highest priority first.
        let mut resources: Vec<(Option<i8>, FullJid)> = delivery::available(&bridge.shared, &bare)
            .into_iter()
            .map(|r| (r.priority, r.jid))
            .collect();
        let elsewhere = delivery::remote(&bridge.shared, &bare)
            .await
            .unwrap_or_default();
        resources.extend(elsewhere.into_iter().filter_map(|l| {
            let jid = bare.clone().with_resource_str(&l.resource).ok()?;
            l.priority.map(|p| (Some(p), jid))
        }));
        if resources.is_empty() && phones.is_empty() {
            return InviteOutcome::Refused(480, "the user is offline");
        }
        let is_sdp = request
            .content_type()
            .is_some_and(|t| t.is("application", "sdp"));
        let offer = match std::str::from_utf8(request.body()) {
            Ok(text) if is_sdp && !text.trim().is_empty() => SessionDescription::parse(text),
            // A late offer (SDP in the ACK) is not bridged yet.
            _ => return InviteOutcome::Refused(488, "an SDP offer is required"),
        };
        let offer = match offer {
            Ok(o) => o,
            Err(e) => {
                tracing::info!(error = %e, "INVITE with bad SDP");
                return InviteOutcome::Refused(488, "the SDP offer is not valid");
            }
        };
        let interval = session_expires(request);
        if interval.is_some_and(|i| i < MIN_SE) {
            return InviteOutcome::IntervalTooBrief { min_se: MIN_SE };
        }
        let sid = random_token();
        // With several clusters, the caller's resource names this one, so the callee's
        // answers come back to this gateway from wherever she is connected.
        let resource = match &bridge.shared.cluster {
            Some(cluster) => cluster.call_resource(&sid),
            None => sid.clone(),
        };
        let caller_user = request
            .from()
            .uri()
            .user_decoded()
            .map_or_else(|| "anonymous".to_string(), |u| u.into_owned());
        let caller = match tandem_translations::address::sip_to_jid(&format!(
            "sip:{caller_user}@{}",
            bridge.sip_domain
        )) {
            Ok(jid) => format!("{jid}/{resource}"),
            Err(_) => format!("anonymous@{}/{resource}", bridge.sip_domain),
        };
        // Which devices speak XEP-0353? Ask each available resource (disco#info, from the
        // caller's JID so the answers come back to the bridge); the call starts when all
        // answered or after a short wait, whichever comes first.
        resources.sort_by_key(|(priority, _)| std::cmp::Reverse(*priority));
        let resources: Vec<FullJid> = resources.into_iter().map(|(_, jid)| jid).collect();
        let mut pending = Vec::new();
        for (i, resource) in resources.iter().enumerate() {
            let id = format!("{sid}-caps-{i}");
            let xml = format!(
                "<iq type='get' id='{id}' from='{}' to='{}'><query xmlns='{DISCO_INFO_NS}'/></iq>",
                xml_attr(&caller),
                xml_attr(&resource.to_string())
            );
            if let Ok(iq) = tandem_xmpp::stream::parse_stanza(&xml) {
                if delivery::to_full_or_queue(&bridge.shared, resource, iq) {
                    pending.push(id);
                }
            }
        }
        tracing::info!(%sid, %caller, callee = %bare, phones = phones.len(), call_id = request.call_id(), "bridging a SIP call");
        let probe = Probe {
            request: request.clone(),
            key: key.clone(),
            destination: from.clone(),
            offer,
            caller,
            resources,
            pending,
            jmi: Vec::new(),
            no_jingle: Vec::new(),
            phones,
            callee: bare.to_string(),
            deadline: clock::now() + CAPS_WAIT,
            session_expires: interval.map(Duration::from_secs),
        };
        let bridge = self.bridge.as_mut().expect("checked above");
        bridge
            .by_call_id
            .insert(request.call_id().to_owned(), sid.clone());
        bridge.probes.insert(sid.clone(), probe);
        self.finish_probe_if_done(&sid, clock::now());
        InviteOutcome::Proceeding
    }

    /// Starts the call once every device answered its capability query (or the wait ran
    /// out): it rings all of the callee's devices at once (a [`Fork`]). One JMI proposal
    /// goes to the devices that speak XEP-0353, a session-initiate to each other device
    /// that does Jingle, and the INVITE to each registered phone.
    fn finish_probe_if_done(&mut self, sid: &str, now: Instant) {
        let Some(bridge) = self.bridge.as_mut() else {
            return;
        };
        let done = bridge
            .probes
            .get(sid)
            .is_some_and(|p| p.pending.is_empty() || p.deadline <= now);
        if !done {
            return;
        }
        let probe = bridge.probes.remove(sid).expect("checked");
        let call_id = probe.request.call_id().to_owned();
        bridge.by_call_id.remove(&call_id);
        let mut direct: Vec<FullJid> = probe
            .resources
            .iter()
            .filter(|r| !probe.jmi.contains(r) && !probe.no_jingle.contains(r))
            .cloned()
            .collect();
        if probe.jmi.is_empty() && direct.is_empty() && probe.phones.is_empty() {
            // Nobody said they do Jingle: the top resource is still worth a try.
            direct.extend(probe.resources.first().cloned());
        }
        let mut calls = Vec::new();
        let config = bridge.config;
        if !probe.jmi.is_empty() {
            let call = Call::from_sip_proposed(now, config, sid, &probe.caller, &probe.offer);
            calls.push((
                sid.to_owned(),
                call,
                probe.jmi[0].clone(),
                probe.jmi.clone(),
            ));
        }
        for device in direct {
            let leg_sid = if calls.is_empty() {
                sid.to_owned()
            } else {
                random_token()
            };
            let call = Call::from_sip(
                now,
                config,
                &leg_sid,
                &probe.caller,
                &device.to_string(),
                &probe.offer,
            );
            calls.push((leg_sid, call, device, Vec::new()));
        }
        let mut legs = Vec::new();
        for (_, call, party, jmi_devices) in calls {
            let mut call = match call {
                Ok(call) => call,
                Err(e) => {
                    // Checked when the INVITE arrived; kept as a refusal, not a panic.
                    tracing::warn!(error = %e, "SDP offer has no Jingle translation");
                    if let Ok(r) =
                        Response::from_request(&probe.request, 488, default_reason(488), None)
                    {
                        self.layer.send_response(
                            now,
                            &probe.key,
                            488,
                            tandem_sip::message::Message::Response(r),
                        );
                    }
                    return;
                }
            };
            if let Some(interval) = probe.session_expires {
                call.set_session_expires(interval);
            }
            call.set_sip_trickle(takes_trickle_info(probe.request.headers()));
            legs.push(Leg {
                call,
                invite: probe.request.clone(),
                server_key: Some(probe.key.clone()),
                client_key: None,
                destination: probe.destination.clone(),
                local_tag: random_token(),
                dialog: None,
                gateway_jid: probe.caller.clone(),
                xmpp_party: party,
                jmi_devices,
                authenticated: false,
                initiate_id: None,
                reinvite_client: None,
                reinvite_server: None,
                clock: CallClock::now(),
                answer_counted: false,
                branch: Some(0),
                counted: false,
            });
        }
        let mut branches: Vec<ForkBranch> = Vec::new();
        for (i, leg) in legs.iter_mut().enumerate() {
            leg.branch = Some(i);
            branches.push(ForkBranch::Jingle(leg.call.sid().to_owned()));
        }
        for (contact, destination) in &probe.phones {
            if let Some(branch) = self.forward_to_phone(&probe.request, contact, destination) {
                branches.push(branch);
            }
        }
        let Some(bridge) = self.bridge.as_mut() else {
            return;
        };
        let calls = &bridge.shared.metrics.calls;
        calls.active.inc();
        calls
            .attempts
            .get_or_create(&CallMetrics::direction("sip-to-xmpp"))
            .inc();
        for (i, branch) in branches.iter().enumerate() {
            if let ForkBranch::Phone { key, .. } = branch {
                bridge
                    .phone_branches
                    .insert(key.clone(), (call_id.clone(), i));
            }
        }
        let forked = Forked {
            fork: Fork::new(now, branches.len(), config.ring_timeout),
            request: probe.request,
            key: probe.key,
            destination: probe.destination,
            branches,
            callee: probe.callee,
            sid: sid.to_owned(),
            clock: CallClock::now(),
            setup: now,
            ringing: None,
            failures: Vec::new(),
        };
        let nobody = forked.branches.is_empty();
        bridge.forks.insert(call_id.clone(), forked);
        if nobody {
            self.fork_decided(
                &call_id,
                Decision::Fail {
                    status: 480,
                    others: Vec::new(),
                },
            );
            return;
        }
        let sids: Vec<String> = legs.iter().map(|l| l.call.sid().to_owned()).collect();
        let bridge = self.bridge.as_mut().expect("checked");
        for leg in legs {
            bridge.legs.insert(leg.call.sid().to_owned(), leg);
        }
        for leg_sid in sids {
            self.drive(&leg_sid);
        }
    }

    /// Forwards the caller's INVITE to a registered phone as a stateful proxy would
    /// (RFC 3261 §16.6): new Request-URI, our Via on top, Max-Forwards less one, and our
    /// own credentials removed (§22.3).
    fn forward_to_phone(
        &mut self,
        request: &Request,
        contact: &str,
        destination: &Destination,
    ) -> Option<ForkBranch> {
        let local = self.transports.local_addr(&destination.flow)?;
        let mut invite = request.clone();
        invite.set_uri(contact).ok()?;
        let branch = fresh_branch();
        let transport = transport_param(destination).to_ascii_uppercase();
        invite
            .push_via(&format!(
                "SIP/2.0/{transport} {local};branch={branch};rport"
            ))
            .ok()?;
        let hops = request.max_forwards().unwrap_or(70).saturating_sub(1);
        invite.set_header("Max-Forwards", &hops.to_string()).ok()?;
        let _ = invite.remove_header("Proxy-Authorization");
        let key = ClientKey {
            branch,
            method: "INVITE".into(),
        };
        tracing::debug!(%contact, "forking the call to a registered phone");
        self.send_client_request(key.clone(), invite.clone(), destination.clone());
        Some(ForkBranch::Phone {
            key,
            invite: Box::new(invite),
            destination: destination.clone(),
            provisional: false,
            cancel: None,
            done: false,
        })
    }

    /// Carries out what the fork decided about the branch that just spoke; the branch's
    /// own response is passed on (or not) by the caller of this function.
    fn fork_decided(&mut self, call_id: &str, decision: Decision) {
        match decision {
            Decision::Won { others } => self.end_branches(call_id, &others, 200),
            Decision::Fail { status, others } => {
                self.fork_final(call_id, status);
                // Recorded before the branches end: the last one to end forgets the fork.
                if let Some(bridge) = self.bridge.as_mut() {
                    bridge.fork_over(call_id, status, None);
                }
                self.end_branches(call_id, &others, status);
            }
            Decision::Forward | Decision::Absorb | Decision::TooLate => {}
        }
        self.fork_cleanup(call_id);
    }

    /// The caller's final failure response, for the whole fork.
    fn fork_final(&mut self, call_id: &str, status: u16) {
        let Some(forked) = self.bridge.as_ref().and_then(|b| b.forks.get(call_id)) else {
            return;
        };
        let passed_on = forked
            .failures
            .iter()
            .find(|r| r.status() == status)
            .cloned();
        // A redirect or a challenge means nothing without its Contact or challenge, which
        // only a phone's own response has.
        let status = match status {
            300..=399 | 401 | 407 if passed_on.is_none() => 480,
            other => other,
        };
        let response = match passed_on {
            Some(r) => Ok(r),
            None => Response::from_request(
                &forked.request,
                status,
                default_reason(status),
                Some(&random_token()),
            ),
        };
        let Ok(response) = response else {
            return;
        };
        let key = forked.key.clone();
        self.layer.send_response(
            clock::now(),
            &key,
            status,
            tandem_sip::message::Message::Response(response),
        );
    }

    /// Ends branches that lost: XMPP devices hear why (retract or terminate), phones get a
    /// CANCEL with an RFC 3326 reason ("Call completed elsewhere" after an answer).
    fn end_branches(&mut self, call_id: &str, others: &[usize], status: u16) {
        let branches: Vec<ForkBranch> =
            match self.bridge.as_ref().and_then(|b| b.forks.get(call_id)) {
                Some(forked) => others
                    .iter()
                    .filter_map(|b| forked.branches.get(*b).cloned())
                    .collect(),
                None => return,
            };
        let reason = if status < 300 {
            COMPLETED_ELSEWHERE.to_owned()
        } else {
            tandem_translations::errors::reason_header(status, default_reason(status))
        };
        for (index, branch) in others.iter().zip(branches) {
            match branch {
                ForkBranch::Jingle(sid) => {
                    if let Some(leg) = self.bridge.as_mut().and_then(|b| b.legs.get_mut(&sid)) {
                        leg.call.handle_fork_ended(clock::now(), status);
                    }
                    self.drive(&sid);
                }
                ForkBranch::Phone {
                    provisional: false,
                    done: false,
                    ..
                } => {
                    // §9.1: no CANCEL before a provisional response; it goes with the first.
                    if let Some(ForkBranch::Phone { cancel, .. }) = self
                        .bridge
                        .as_mut()
                        .and_then(|b| b.forks.get_mut(call_id))
                        .and_then(|f| f.branches.get_mut(*index))
                    {
                        *cancel = Some(reason.clone());
                    }
                }
                ForkBranch::Phone { done: true, .. } => {}
                ForkBranch::Phone {
                    key,
                    invite,
                    destination,
                    ..
                } => self.cancel_phone(&key, &invite, destination, &reason),
            }
        }
    }

    fn cancel_phone(&mut self, key: &ClientKey, invite: &Request, to: Destination, reason: &str) {
        if let Some(cancel) = cancel_request(invite, reason) {
            self.send_client_request(
                ClientKey {
                    branch: key.branch.clone(),
                    method: "CANCEL".into(),
                },
                cancel,
                to,
            );
        }
    }

    /// Forgets a fork once nothing more can come of it: the caller has its answer, every
    /// branch is done, and no leg of the bridge is still in the call.
    fn fork_cleanup(&mut self, call_id: &str) {
        let Some(bridge) = self.bridge.as_mut() else {
            return;
        };
        let Some(forked) = bridge.forks.get(call_id) else {
            return;
        };
        // A phone still owes its final response (its 487, a late 2xx to pass on).
        let leg_alive = forked.branches.iter().any(|b| match b {
            ForkBranch::Jingle(sid) => bridge.legs.contains_key(sid),
            ForkBranch::Phone { done, .. } => !done,
        });
        if !forked.fork.is_decided() || !forked.fork.is_settled() || leg_alive {
            return;
        }
        if let Some(forked) = bridge.forks.remove(call_id) {
            for branch in forked.branches {
                if let ForkBranch::Phone { key, .. } = branch {
                    bridge.phone_branches.remove(&key);
                }
            }
        }
    }

    /// A response from a registered phone the call was forked to.
    fn phone_response(&mut self, call_id: &str, branch: usize, mut response: Response) {
        let status = response.status();
        let Some(forked) = self.bridge.as_mut().and_then(|b| b.forks.get_mut(call_id)) else {
            return;
        };
        let mut deferred = None;
        if let Some(ForkBranch::Phone {
            key,
            invite,
            destination,
            provisional,
            cancel,
            done,
        }) = forked.branches.get_mut(branch)
        {
            if status < 200 {
                *provisional = true;
                if let Some(reason) = cancel.take() {
                    deferred = Some((key.clone(), invite.clone(), destination.clone(), reason));
                }
            } else {
                *done = true;
            }
        }
        if let Some((key, invite, destination, reason)) = deferred {
            self.cancel_phone(&key, &invite, destination, &reason);
            return;
        }
        let Some(forked) = self.bridge.as_mut().and_then(|b| b.forks.get_mut(call_id)) else {
            return;
        };
        let decision = match status {
            100 => return,
            101..=199 => forked.fork.provisional(branch, status),
            200..=299 => forked.fork.answered(branch),
            _ => forked.fork.failed(branch, status),
        };
        if decision == Decision::Forward && status < 200 {
            forked.ringing.get_or_insert_with(clock::now);
        }
        if status >= 300 {
            let mut failure = response.clone();
            if failure.pop_via() {
                forked.failures.push(failure);
            }
        }
        let passes = match &decision {
            Decision::Forward | Decision::Won { .. } => true,
            // §16.7 item 9: every 2xx reaches the caller, whose UA ends the extra dialog.
            Decision::TooLate => status < 300,
            _ => false,
        };
        if passes && response.pop_via() {
            let now = clock::now();
            let bytes = response.to_bytes();
            let key = forked.key.clone();
            let to = forked.destination.clone();
            let first_final = matches!(decision, Decision::Won { .. }) || status < 200;
            if first_final {
                self.layer.send_response(
                    now,
                    &key,
                    status,
                    tandem_sip::message::Message::Response(response),
                );
            } else {
                // A retransmitted or late 2xx: the INVITE transaction is over (§16.7 item 9).
                self.transports.send_now(&to, bytes);
            }
        }
        if matches!(decision, Decision::Won { .. }) {
            let contact = self.bridge.as_ref().and_then(|b| {
                match b.forks.get(call_id)?.branches.get(branch)? {
                    ForkBranch::Phone { invite, .. } => Some(invite.uri().as_str().to_owned()),
                    ForkBranch::Jingle(_) => None,
                }
            });
            tracing::info!(
                call_id,
                ?contact,
                "the callee's SIP phone answered; the dialog is between the phones"
            );
            if let Some(bridge) = self.bridge.as_mut() {
                bridge.fork_over(call_id, status, contact.as_deref());
            }
        }
        self.fork_decided(call_id, decision);
    }

    /// The fork's say on what a Jingle branch's call wants to tell the SIP caller: `true` to
    /// send it. A loser that answered is ended here; a failure that ends the fork is answered
    /// by [`Self::fork_decided`] with the best status of all branches.
    fn fork_allows(&mut self, sid: &str, action: &SipAction) -> bool {
        let Some(bridge) = self.bridge.as_mut() else {
            return true;
        };
        let Some(leg) = bridge.legs.get(sid) else {
            return true;
        };
        let Some(branch) = leg.branch else {
            return true;
        };
        let call_id = leg.invite.call_id().to_owned();
        let Some(forked) = bridge.forks.get_mut(&call_id) else {
            return true;
        };
        let decision = match action {
            SipAction::Provisional { status } => forked.fork.provisional(branch, *status),
            SipAction::Accept { .. } => forked.fork.answered(branch),
            SipAction::Reject { status } => forked.fork.failed(branch, *status),
            _ => return true,
        };
        if decision == Decision::Forward {
            forked.ringing.get_or_insert_with(clock::now);
        }
        let allowed = match &decision {
            Decision::Forward => true,
            Decision::Won { .. } => {
                bridge.by_call_id.insert(call_id.clone(), sid.to_owned());
                if let Some(leg) = bridge.legs.get_mut(sid) {
                    leg.counted = true;
                }
                true
            }
            Decision::TooLate => {
                if let Some(leg) = bridge.legs.get_mut(sid) {
                    leg.call.handle_fork_ended(clock::now(), 200);
                }
                false
            }
            Decision::Absorb | Decision::Fail { .. } => false,
        };
        self.fork_decided(&call_id, decision);
        allowed
    }

    /// The caller cancelled a bridged INVITE (already answered 200/487 by the caller).
    pub(super) fn bridge_cancelled(&mut self, call_id: &str) {
        let cancelled = self
            .bridge
            .as_mut()
            .and_then(|b| b.forks.get_mut(call_id))
            .map(|f| f.fork.cancel());
        if let Some(others) = cancelled {
            // The caller has its 487 already; every device still ringing stops.
            if !others.is_empty() {
                if let Some(bridge) = self.bridge.as_mut() {
                    bridge.fork_over(call_id, 487, None);
                }
            }
            self.end_branches(call_id, &others, 487);
            self.fork_cleanup(call_id);
            return;
        }
        if let Some(sid) = self.sid_for(call_id) {
            if let Some(bridge) = self.bridge.as_mut() {
                if bridge.probes.remove(&sid).is_some() {
                    // Nobody was rung yet: nothing to tell the XMPP side.
                    bridge.by_call_id.remove(call_id);
                    return;
                }
            }
        }
        self.bridge_sip_event(call_id, SipEvent::Cancelled);
    }

    /// The ACK for our 2xx.
    pub(super) fn bridge_acked(&mut self, call_id: &str) {
        self.bridge_sip_event(call_id, SipEvent::Acked);
    }

    /// A BYE: 200 if it ends a bridged call, else 481 (RFC 3261 §15.1.2).
    pub(super) fn bridge_bye(&mut self, request: &Request) -> u16 {
        if self.dialog_call(request).is_none() {
            return 481;
        }
        let cause = request
            .headers()
            .get("Reason")
            .and_then(tandem_translations::errors::parse_reason_header);
        self.bridge_sip_event(request.call_id(), SipEvent::Bye { cause });
        200
    }

    /// An INFO in a bridged call's dialog. RFC 8840 trickle-ice fragments reach the call
    /// (415 for another Info-Package body, 400 for a bad fragment, 481 outside a dialog).
    pub(super) fn bridge_info(&mut self, request: &Request) -> u16 {
        if self.dialog_call(request).is_none() {
            return 481;
        }
        let is_sdpfrag = request
            .content_type()
            .is_some_and(|t| t.is("application", "trickle-ice-sdpfrag"));
        if !is_sdpfrag {
            return 415;
        }
        let fragment = std::str::from_utf8(request.body())
            .ok()
            .and_then(|t| tandem_translations::sdp::SdpFragment::parse(t).ok());
        let Some(fragment) = fragment else {
            return 400;
        };
        self.bridge_sip_event(request.call_id(), SipEvent::Info { fragment });
        200
    }

    /// The call whose established dialog an in-dialog request belongs to (Call-ID and both
    /// tags, RFC 3261 §12.2.2).
    fn dialog_call(&self, request: &Request) -> Option<String> {
        let sid = self.sid_for(request.call_id())?;
        let leg = self.bridge.as_ref()?.legs.get(&sid)?;
        let d = leg.dialog.as_ref()?;
        let matches = request.from().tag() == Some(d.id.remote_tag.as_str())
            && request.to().tag() == Some(d.id.local_tag.as_str());
        matches.then_some(sid)
    }

    fn sid_for(&self, call_id: &str) -> Option<String> {
        self.bridge.as_ref()?.by_call_id.get(call_id).cloned()
    }

    fn bridge_sip_event(&mut self, call_id: &str, event: SipEvent) {
        let Some(sid) = self.sid_for(call_id) else {
            return;
        };
        if let Some(leg) = self.bridge.as_mut().and_then(|b| b.legs.get_mut(&sid)) {
            leg.call.handle_sip(clock::now(), event);
        }
        self.drive(&sid);
    }

    /// Fire due call deadlines.
    pub(super) fn bridge_timeout(&mut self, now: Instant) {
        let Some(bridge) = self.bridge.as_mut() else {
            return;
        };
        let waited: Vec<String> = bridge
            .probes
            .iter()
            .filter(|(_, p)| p.deadline <= now)
            .map(|(sid, _)| sid.clone())
            .collect();
        for sid in waited {
            self.finish_probe_if_done(&sid, now);
        }
        let Some(bridge) = self.bridge.as_mut() else {
            return;
        };
        let mut unanswered = Vec::new();
        for (call_id, forked) in bridge.forks.iter_mut() {
            if let Some(decision) = forked.fork.handle_timeout(now) {
                unanswered.push((call_id.clone(), decision));
            }
        }
        for (call_id, decision) in unanswered {
            self.fork_decided(&call_id, decision);
        }
        let Some(bridge) = self.bridge.as_mut() else {
            return;
        };
        let due: Vec<String> = bridge
            .legs
            .iter()
            .filter(|(_, l)| l.call.poll_timeout().is_some_and(|t| t <= now))
            .map(|(sid, _)| sid.clone())
            .collect();
        for sid in due {
            if let Some(leg) = self.bridge.as_mut().and_then(|b| b.legs.get_mut(&sid)) {
                leg.call.handle_timeout(now);
            }
            self.drive(&sid);
        }
    }

    /// A stanza an XMPP user sent to the gateway domain.
    pub(super) async fn bridge_stanza(&mut self, stanza: Element) {
        let Some(bridge) = self.bridge.as_ref() else {
            return;
        };
        let shared = bridge.shared.clone();
        let from = stanza.attr("from").and_then(|f| FullJid::new(f).ok());
        if stanza.name() == "message" {
            if let Some(from) = from {
                self.bridge_jmi(&stanza, &from);
            }
            return;
        }
        if stanza.name() == "presence" {
            if let (Some("unavailable"), Some(from)) = (stanza.attr("type"), from) {
                self.xmpp_party_gone(&from);
            }
            return;
        }
        if stanza.name() != "iq" {
            return;
        }
        if matches!(stanza.attr("type"), Some("result") | Some("error")) {
            if let Some(from) = &from {
                if self.caps_answer(&stanza, from) {
                    return;
                }
            }
        }
        match stanza.attr("type") {
            Some("set") => {
                let outcome = match self.outgoing_initiate(&stanza, from.as_ref()) {
                    Some(initiate) => self.bridge_outgoing(&stanza, from.clone(), initiate).await,
                    None => self.bridge_jingle_set(&stanza, from.as_ref()),
                };
                let reply = match outcome {
                    Ok(()) => Some(iq_result(&stanza, None)),
                    Err(refusal) => jingle_error(&stanza, &refusal),
                };
                if let (Some(reply), Some(from)) = (reply, from) {
                    delivery::to_full_or_queue(&shared, &from, reply);
                }
            }
            Some("error") => {
                // The callee's client refused our session-initiate outright.
                let id = stanza.attr("id").unwrap_or_default();
                let sid = self.bridge.as_ref().and_then(|b| {
                    b.legs
                        .iter()
                        .find(|(_, l)| l.initiate_id.as_deref() == Some(id))
                        .map(|(sid, _)| sid.clone())
                });
                if let Some(sid) = sid {
                    let mut terminate = Jingle::new(Action::SessionTerminate, sid.clone());
                    terminate.reason = Some(Reason::new(ReasonCondition::UnsupportedApplications));
                    if let Some(leg) = self.bridge.as_mut().and_then(|b| b.legs.get_mut(&sid)) {
                        let _ = leg.call.handle_jingle(clock::now(), &terminate);
                    }
                    self.drive(&sid);
                }
            }
            Some("get") => {
                let reply = match disco_info(&stanza) {
                    Some(info) => Some(info),
                    None => error_reply(&stanza, StanzaErrorCondition::ServiceUnavailable, None),
                };
                if let (Some(reply), Some(from)) = (reply, from) {
                    delivery::to_full_or_queue(&shared, &from, reply);
                }
            }
            _ => {}
        }
    }

    /// A resource's session ended: the calls it was in end on the SIP side too.
    fn xmpp_party_gone(&mut self, gone: &FullJid) {
        let Some(bridge) = self.bridge.as_mut() else {
            return;
        };
        let sids: Vec<String> = bridge
            .legs
            .iter()
            .filter(|(_, l)| &l.xmpp_party == gone)
            .map(|(sid, _)| sid.clone())
            .collect();
        for sid in sids {
            if let Some(leg) = self.bridge.as_mut().and_then(|b| b.legs.get_mut(&sid)) {
                leg.call.handle_xmpp_gone(clock::now());
            }
            self.drive(&sid);
        }
    }

    /// A device's answer to our capability query; true if it was one.
    fn caps_answer(&mut self, stanza: &Element, from: &FullJid) -> bool {
        let id = stanza.attr("id").unwrap_or_default();
        let Some(sid) = id.split("-caps-").next().filter(|_| id.contains("-caps-")) else {
            return false;
        };
        let Some(probe) = self.bridge.as_mut().and_then(|b| b.probes.get_mut(sid)) else {
            return true; // a late answer for a call that started or ended
        };
        let Some(at) = probe.pending.iter().position(|p| p == id) else {
            return true;
        };
        probe.pending.remove(at);
        let speaks_jmi = stanza.attr("type") == Some("result")
            && stanza.get_child("query", DISCO_INFO_NS).is_some_and(|q| {
                q.children()
                    .any(|f| f.name() == "feature" && f.attr("var") == Some(JMI_NS))
            });
        let speaks_jingle = stanza.attr("type") == Some("result")
            && stanza.get_child("query", DISCO_INFO_NS).is_some_and(|q| {
                q.children()
                    .any(|f| f.name() == "feature" && f.attr("var") == Some(JINGLE_NS))
            });
        if speaks_jmi {
            probe.jmi.push(from.clone());
        } else if !speaks_jingle {
            probe.no_jingle.push(from.clone());
        }
        let sid = sid.to_owned();
        self.finish_probe_if_done(&sid, clock::now());
        true
    }

    /// A XEP-0353 message from one of the callee's devices.
    fn bridge_jmi(&mut self, stanza: &Element, from: &FullJid) {
        let Some(child) = stanza.children().find(|c| c.ns() == JMI_NS) else {
            return;
        };
        let mut xml = String::new();
        child.write_to(&mut xml, "");
        let Ok(message) = tandem_translations::jingle::JingleMessage::from_xml(&xml) else {
            return;
        };
        let sid = message.id.clone();
        let known = self
            .bridge
            .as_ref()
            .is_some_and(|b| b.legs.contains_key(&sid));
        if !known {
            if message.kind == tandem_translations::jingle::JmiKind::Propose {
                self.proceed_for_sip(stanza, from, &sid);
            }
            return;
        }
        let Some(leg) = self.bridge.as_mut().and_then(|b| b.legs.get_mut(&sid)) else {
            return;
        };
        if !leg.jmi_devices.contains(from) {
            return;
        }
        let outcome = leg
            .call
            .handle_jmi(clock::now(), &from.to_string(), &message);
        if outcome.is_ok() && message.kind == tandem_translations::jingle::JmiKind::Proceed {
            // The session-initiate goes to the device that proceeded.
            leg.xmpp_party = from.clone();
        }
        if let Err(refusal) = outcome {
            tracing::debug!(%sid, %from, %refusal, "JMI message refused");
        }
        self.drive(&sid);
    }

    /// An XMPP user proposes a call to a SIP address (XEP-0353). A SIP peer can only be
    /// rung with an offer, which the session-initiate carries: the gateway proceeds at once
    /// on the SIP side's behalf, and the call starts with the session-initiate that follows
    /// (SIP ringing then arrives as session-info ringing).
    fn proceed_for_sip(&mut self, stanza: &Element, from: &FullJid, id: &str) {
        let Some(bridge) = self.bridge.as_ref() else {
            return;
        };
        let to = stanza.attr("to").unwrap_or_default();
        let xml = format!(
            "<message type='chat' id='{}' from='{}' to='{}'><proceed xmlns='{JMI_NS}' id='{}'/></message>",
            random_token(),
            xml_attr(to),
            xml_attr(&from.to_string()),
            xml_attr(id)
        );
        if let Ok(proceed) = tandem_xmpp::stream::parse_stanza(&xml) {
            delivery::to_full_or_queue(&bridge.shared, from, proceed);
        }
    }

    /// A session-initiate for a session we do not have yet: a new call to SIP.
    fn outgoing_initiate(&self, stanza: &Element, from: Option<&FullJid>) -> Option<Jingle> {
        from?;
        let j = parse_jingle(stanza).ok()?;
        let known = self.bridge.as_ref()?.legs.contains_key(&j.sid);
        (j.action == Action::SessionInitiate && !known).then_some(j)
    }

    /// An XMPP user calls a SIP address: her registered phone if `number` is a local account
    /// with bindings, else `sip:number@<sip domain>` through the outbound proxy.
    async fn bridge_outgoing(
        &mut self,
        stanza: &Element,
        from: Option<FullJid>,
        initiate: Jingle,
    ) -> Result<(), JingleRefusal> {
        // Only local, authenticated users reach this point: the c2s core stamps `from`.
        let from = from.ok_or(JingleRefusal::OutOfOrder)?;
        let to = stanza.attr("to").unwrap_or_default().to_owned();
        let bridge = self
            .bridge
            .as_ref()
            .expect("stanzas only arrive with a bridge");
        let bare_to = to.split('/').next().unwrap_or_default();
        let user = tandem_translations::address::jid_to_sip(bare_to)
            .ok()
            .and_then(|uri| {
                tandem_sip::message::Uri::parse(&uri)
                    .and_then(|u| u.user_decoded().map(|u| u.into_owned()))
            })
            .ok_or(JingleRefusal::NoRoute)?;
        // A local account's JID: only its registered phone, never the trunk.
        let local = bare_to.split_once('@').map(|(_, d)| d) == Some(bridge.shared.domain.as_str());
        let (request_uri, destination) = match self.registered_phone(&user).await {
            Some(found) => found,
            None if local => return Err(JingleRefusal::NoRoute),
            None => {
                let Some(proxy) = bridge.outbound_proxy.clone() else {
                    return Err(JingleRefusal::NoRoute);
                };
                let uri = format!("sip:{user}@{}", bridge.server_sip_domain);
                (
                    uri,
                    self.resolve(&proxy).await.ok_or(JingleRefusal::NoRoute)?,
                )
            }
        };
        let bridge = self.bridge.as_ref().expect("checked");
        let call = Call::from_jingle(clock::now(), bridge.config, initiate.clone())?;
        let sid = initiate.sid.clone();
        let caller_uri = format!(
            "sip:{}@{}",
            from.node().map(|n| n.as_str()).unwrap_or("anonymous"),
            bridge.server_sip_domain
        );
        let callee_uri = format!("sip:{user}@{}", bridge.server_sip_domain);
        tracing::info!(%sid, caller = %from, %request_uri, "bridging a Jingle call to SIP");
        // The INVITE itself is built when the call has gathered its candidates.
        let placeholder = Request::builder(Method::Invite, &request_uri)
            .header("From", &format!("<{caller_uri}>;tag={}", random_token()))
            .header("To", &format!("<{callee_uri}>"))
            .header(
                "Call-ID",
                &format!("{}@{}", random_token(), bridge.server_sip_domain),
            )
            .header("CSeq", "1 INVITE")
            .header("Via", "SIP/2.0/UDP 0.0.0.0:9;branch=z9hG4bKpending")
            .header("Max-Forwards", "70")
            .build()
            .map_err(|e| JingleRefusal::BadRequest(e.to_string()))?;
        let leg = Leg {
            call,
            invite: placeholder,
            server_key: None,
            client_key: None,
            destination,
            local_tag: String::new(),
            dialog: None,
            gateway_jid: to,
            xmpp_party: from,
            jmi_devices: Vec::new(),
            authenticated: false,
            initiate_id: None,
            reinvite_client: None,
            reinvite_server: None,
            clock: CallClock::now(),
            answer_counted: false,
            branch: None,
            counted: true,
        };
        let bridge = self.bridge.as_mut().expect("checked");
        bridge.count_start(&leg);
        if local {
            if let Some(gateway) = &bridge.shared.gateway {
                gateway.speak_for(leg.gateway_jid.split('/').next().unwrap_or_default());
            }
        }
        bridge
            .by_call_id
            .insert(leg.invite.call_id().to_owned(), sid.clone());
        bridge.legs.insert(sid.clone(), leg);
        self.drive(&sid);
        Ok(())
    }

    /// The best registered, unexpired binding of a local account: its contact, and where its
    /// REGISTER came from (the way back to a phone behind NAT).
    async fn registered_phone(&self, user: &str) -> Option<(String, Destination)> {
        self.registered_phones(user).await.into_iter().next()
    }

    /// Every registered, unexpired binding of a local account we can reach, best q first.
    async fn registered_phones(&self, user: &str) -> Vec<(String, Destination)> {
        let aor = format!("sip:{user}@{}", self.domain);
        let now = super::core::unix_now();
        let Ok(mut bindings) = self.storage.bindings(&aor).await else {
            return Vec::new();
        };
        bindings.retain(|b| b.expires_at > now);
        bindings.sort_by(|a, b| b.q.unwrap_or(1.0).total_cmp(&a.q.unwrap_or(1.0)));
        bindings
            .into_iter()
            .filter_map(|b| {
                let (transport, addr) = b.source.split_once(':')?;
                let addr = addr.parse().ok()?;
                // UDP phones are reached at the address they registered from (the way
                // back through NAT); TCP and TLS phones on the connection they keep open.
                let flow = match transport {
                    "udp" => super::transport::Flow::Udp(0),
                    other => self.transports.stream_to(other, addr)?,
                };
                Some((b.contact, Destination { flow, addr }))
            })
            .collect()
    }

    /// `sip:host[:port]` -> a UDP destination.
    async fn resolve(&self, uri: &str) -> Option<Destination> {
        let parsed = tandem_sip::message::Uri::parse(uri)?;
        let host = parsed.host().trim_start_matches('[').trim_end_matches(']');
        let port = parsed.port().unwrap_or(5060);
        let addr = tokio::net::lookup_host((host, port)).await.ok()?.next()?;
        Some(Destination {
            flow: super::transport::Flow::Udp(0),
            addr,
        })
    }

    /// A response to one of our requests.
    pub(super) fn bridge_response(&mut self, key: &ClientKey, response: Response) {
        let phone = self
            .bridge
            .as_ref()
            .and_then(|b| b.phone_branches.get(key).cloned());
        if let Some((call_id, branch)) = phone {
            return self.phone_response(&call_id, branch, response);
        }
        let Some((sid, reinvite)) = self.bridge.as_ref().and_then(|b| {
            b.legs.iter().find_map(|(sid, l)| {
                if l.client_key.as_ref() == Some(key) {
                    Some((sid.clone(), false))
                } else if l.reinvite_client.as_ref() == Some(key) {
                    Some((sid.clone(), true))
                } else {
                    None
                }
            })
        }) else {
            return;
        };
        let status = response.status();
        let answer = std::str::from_utf8(response.body())
            .ok()
            .and_then(|t| SessionDescription::parse(t).ok());
        let event = match (reinvite, status) {
            (_, 100) | (true, 101..=199) => return,
            (true, 200..=299) => {
                self.send_ack(&sid);
                match answer {
                    Some(sdp) => SipEvent::ReInviteAnswered { sdp },
                    None => SipEvent::ReInviteRejected { status: 488 },
                }
            }
            (true, _) => SipEvent::ReInviteRejected { status },
            (false, 101..=199) => SipEvent::Provisional { status },
            (false, 200..=299) => {
                let first = self.create_uac_dialog(&sid, &response);
                if let Some(leg) = self.bridge.as_mut().and_then(|b| b.legs.get_mut(&sid)) {
                    leg.call
                        .set_sip_trickle(takes_trickle_info(response.headers()));
                }
                self.send_ack(&sid);
                if !first {
                    return; // a retransmitted 2xx: re-ACKed, nothing new
                }
                match answer {
                    Some(sdp) => SipEvent::Answered { sdp },
                    None => {
                        self.send_bye(
                            &sid,
                            &tandem_translations::errors::reason_header(
                                488,
                                "no usable SDP answer",
                            ),
                        );
                        SipEvent::Rejected { status: 488 }
                    }
                }
            }
            (false, 401 | 407) if self.answer_challenge(&sid, &response) => return,
            (false, _) => SipEvent::Rejected { status },
        };
        if let Some(leg) = self.bridge.as_mut().and_then(|b| b.legs.get_mut(&sid)) {
            leg.call.handle_sip(clock::now(), event);
        }
        self.drive(&sid);
    }

    /// One of our requests got no response at all (Timer B/F, RFC 3261 §17.1): a phone the
    /// call was forked to counts as 408, our INVITE to SIP fails the call with 408, a
    /// re-INVITE leaves the session as it was.
    pub(super) fn bridge_request_timeout(&mut self, key: &ClientKey) {
        let Some(bridge) = self.bridge.as_mut() else {
            return;
        };
        if let Some((call_id, branch)) = bridge.phone_branches.get(key).cloned() {
            let decision = match bridge.forks.get_mut(&call_id) {
                Some(forked) => {
                    if let Some(ForkBranch::Phone { done, .. }) = forked.branches.get_mut(branch) {
                        *done = true;
                    }
                    forked.fork.failed(branch, 408)
                }
                None => return,
            };
            return self.fork_decided(&call_id, decision);
        }
        let found = bridge.legs.iter().find_map(|(sid, l)| {
            if l.client_key.as_ref() == Some(key) {
                Some((sid.clone(), SipEvent::Rejected { status: 408 }))
            } else if l.reinvite_client.as_ref() == Some(key) {
                Some((sid.clone(), SipEvent::ReInviteRejected { status: 408 }))
            } else {
                None
            }
        });
        let Some((sid, event)) = found else {
            return;
        };
        tracing::info!(%sid, "no response from the SIP side");
        if let Some(leg) = bridge.legs.get_mut(&sid) {
            leg.call.handle_sip(clock::now(), event);
        }
        self.drive(&sid);
    }

    /// A trunk challenged our INVITE: send it again with credentials, once (RFC 3261
    /// §22.2). False when there is nothing to answer with, or the answer was refused already.
    fn answer_challenge(&mut self, sid: &str, response: &Response) -> bool {
        let Some(bridge) = self.bridge.as_ref() else {
            return false;
        };
        let Some((username, password)) = bridge.outbound_credentials.clone() else {
            return false;
        };
        let Some(leg) = bridge.legs.get(sid) else {
            return false;
        };
        if leg.authenticated {
            return false;
        }
        let answer_header = if response.status() == 407 {
            "Proxy-Authorization"
        } else {
            "Authorization"
        };
        let uri = leg.invite.uri().as_str().to_owned();
        let challenges: Vec<_> = if response.status() == 407 {
            response.proxy_authenticates().collect()
        } else {
            response.www_authenticates().collect()
        };
        let answer = challenges.iter().find_map(|challenge| {
            tandem_sip::digest::client::authorization(
                challenge,
                "INVITE",
                &uri,
                &username,
                &password,
                &random_token(),
                1,
            )
            .ok()
        });
        let Some(answer) = answer else {
            tracing::info!(%sid, "trunk challenge we cannot answer");
            return false;
        };
        let body = leg.invite.body().to_vec();
        let cseq = leg.invite.cseq().seq + 1;
        if let Some(leg) = self.bridge.as_mut().and_then(|b| b.legs.get_mut(sid)) {
            leg.authenticated = true;
        }
        self.send_invite(sid, body, cseq, Some((answer_header, answer)));
        true
    }

    /// A re-INVITE in a bridged call's dialog (RFC 3261 §14.2): its offer goes to the call,
    /// which answers through [`SipAction::AcceptReInvite`] / `RejectReInvite`. 481 outside
    /// any bridged dialog, 500 for a CSeq going backwards (§12.2.2), 488 without an offer.
    pub(super) fn bridge_reinvite(&mut self, request: &Request, key: &ServerKey) -> u16 {
        let Some(sid) = self.sid_for(request.call_id()) else {
            return 481;
        };
        let Some(leg) = self.bridge.as_mut().and_then(|b| b.legs.get_mut(&sid)) else {
            return 481;
        };
        let Some(dialog) = leg.dialog.as_mut().filter(|d| {
            request.from().tag() == Some(d.id.remote_tag.as_str())
                && request.to().tag() == Some(d.id.local_tag.as_str())
        }) else {
            return 481;
        };
        let contact = request.contacts().find_map(|c| match c {
            tandem_sip::message::Contact::Address(a) => Some(a.uri().as_str().to_owned()),
            tandem_sip::message::Contact::Wildcard => None,
        });
        if let Err(e) =
            dialog.handle_remote_request("INVITE", request.cseq().seq, contact.as_deref())
        {
            return match e {
                tandem_sip::dialog::DialogError::CseqOutOfOrder => 500,
                tandem_sip::dialog::DialogError::Terminated => 481,
            };
        }
        let Some(offer) = std::str::from_utf8(request.body())
            .ok()
            .and_then(|t| SessionDescription::parse(t).ok())
        else {
            return 488;
        };
        leg.reinvite_server = Some((key.clone(), request.clone()));
        leg.call
            .handle_sip(clock::now(), SipEvent::ReInvite { sdp: offer });
        self.drive(&sid);
        // Answered by the call already (or 100 until it does).
        100
    }

    /// Creates the UAC dialog from our INVITE's 2xx (RFC 3261 §13.2.2.4). False when it exists
    /// already: the 2xx is a retransmission.
    fn create_uac_dialog(&mut self, sid: &str, response: &Response) -> bool {
        let Some(leg) = self.bridge.as_mut().and_then(|b| b.legs.get_mut(sid)) else {
            return false;
        };
        if leg.dialog.is_some() {
            return false;
        }
        let record_route: Vec<String> = response
            .record_routes()
            .map(|r| r.as_str().to_owned())
            .collect();
        let remote_contact = response
            .contacts()
            .find_map(|c| match c {
                tandem_sip::message::Contact::Address(a) => Some(a.uri().as_str().to_owned()),
                tandem_sip::message::Contact::Wildcard => None,
            })
            .unwrap_or_else(|| leg.invite.uri().as_str().to_owned());
        leg.dialog = Some(Dialog::uac(&DialogSeed {
            call_id: leg.invite.call_id(),
            from_tag: leg.invite.from().tag().unwrap_or_default(),
            to_tag: response.to().tag().unwrap_or_default(),
            from_uri: leg.invite.from().uri().as_str(),
            to_uri: leg.invite.to().uri().as_str(),
            cseq: leg.invite.cseq().seq,
            remote_contact: &remote_contact,
            record_route: &record_route,
            status: response.status(),
            secure: false,
        }));
        true
    }

    /// ACKs the 2xx to our last INVITE or re-INVITE in the dialog: the TU's own request,
    /// outside any transaction (§13.2.2.4, §17.1.1.3), sent again for each retransmitted 2xx.
    fn send_ack(&mut self, sid: &str) {
        let Some(leg) = self.bridge.as_mut().and_then(|b| b.legs.get_mut(sid)) else {
            return;
        };
        let Some(dialog) = leg.dialog.as_mut() else {
            return;
        };
        let target = dialog.next_request("ACK");
        let Some(local) = self.transports.local_addr(&leg.destination.flow) else {
            return;
        };
        let via = transport_param(&leg.destination).to_ascii_uppercase();
        let (_, builder) = in_dialog_request(dialog, Method::Ack, &target, local, &via);
        if let Ok(ack) = builder.build() {
            self.transports.send_now(&leg.destination, ack.to_bytes());
        }
    }

    fn bridge_jingle_set(
        &mut self,
        stanza: &Element,
        from: Option<&FullJid>,
    ) -> Result<(), JingleRefusal> {
        let j = parse_jingle(stanza)?;
        let sid = j.sid.clone();
        let leg = self
            .bridge
            .as_mut()
            .and_then(|b| b.legs.get_mut(&sid))
            .ok_or(JingleRefusal::UnknownSession)?;
        // Only the callee's resource speaks for the session.
        if from != Some(&leg.xmpp_party) {
            return Err(JingleRefusal::UnknownSession);
        }
        let result = leg.call.handle_jingle(clock::now(), &j);
        self.drive(&sid);
        result
    }

    /// Carry out everything the call asked for.
    fn drive(&mut self, sid: &str) {
        loop {
            if let Some(bridge) = self.bridge.as_mut() {
                bridge.count_answer(sid);
            }
            let Some(output) = self
                .bridge
                .as_mut()
                .and_then(|b| b.legs.get_mut(sid))
                .and_then(|l| l.call.poll_output())
            else {
                return;
            };
            match output {
                Output::Jingle(j) => self.send_jingle(sid, j),
                Output::Message(m) => self.send_jmi(sid, &m),
                Output::Sip(action) => self.send_sip(sid, action),
                Output::Ended(record) => {
                    log_call(&record);
                    let mut forked_call = None;
                    if let Some(bridge) = self.bridge.as_mut() {
                        if let Some(leg) = bridge.legs.remove(sid) {
                            let call_id = leg.invite.call_id();
                            if leg.counted {
                                bridge.count_end(&record);
                                write_cdr(&bridge.cdr, &leg, &record);
                            }
                            if bridge.by_call_id.get(call_id).map(String::as_str) == Some(sid) {
                                bridge.by_call_id.remove(call_id);
                            }
                            if let Some(gateway) = &bridge.shared.gateway {
                                gateway.release(leg.gateway_jid.split('/').next().unwrap_or(""));
                            }
                            if leg.branch.is_some() {
                                forked_call = Some(call_id.to_owned());
                            }
                        }
                    }
                    if let Some(call_id) = forked_call {
                        self.fork_cleanup(&call_id);
                    }
                    return;
                }
            }
        }
    }

    /// A XEP-0353 message to each device the proposal went to, addressed to the bare JID.
    fn send_jmi(&mut self, sid: &str, m: &tandem_translations::jingle::JingleMessage) {
        let Some(bridge) = self.bridge.as_ref() else {
            return;
        };
        let Some(leg) = bridge.legs.get(sid) else {
            return;
        };
        for device in &leg.jmi_devices {
            let xml = format!(
                "<message type='chat' id='{}' from='{}' to='{}'>{}<store xmlns='urn:xmpp:hints'/></message>",
                random_token(),
                xml_attr(&leg.gateway_jid),
                xml_attr(&device.to_bare().to_string()),
                m.to_xml()
            );
            if let Ok(message) = tandem_xmpp::stream::parse_stanza(&xml) {
                delivery::to_full_or_queue(&bridge.shared, device, message);
            }
        }
    }

    fn send_jingle(&mut self, sid: &str, j: Jingle) {
        let Some(bridge) = self.bridge.as_mut() else {
            return;
        };
        let shared = bridge.shared.clone();
        let Some(leg) = bridge.legs.get_mut(sid) else {
            return;
        };
        let id = random_token();
        if j.action == Action::SessionInitiate {
            leg.initiate_id = Some(id.clone());
        }
        let xml = format!(
            "<iq type='set' id='{id}' from='{}' to='{}'>{}</iq>",
            xml_attr(&leg.gateway_jid),
            xml_attr(&leg.xmpp_party.to_string()),
            j.to_xml()
        );
        let delivered = match tandem_xmpp::stream::parse_stanza(&xml) {
            Ok(iq) => delivery::to_full_or_queue(&shared, &leg.xmpp_party, iq),
            Err(e) => {
                tracing::error!(error = %e, "a Jingle element we wrote does not parse");
                false
            }
        };
        if !delivered {
            // The callee's session is gone: the call ends on the SIP side too.
            leg.call.handle_xmpp_gone(clock::now());
        }
    }

    fn send_sip(&mut self, sid: &str, action: SipAction) {
        if !self.fork_allows(sid, &action) {
            return;
        }
        let Some(leg) = self.bridge.as_mut().and_then(|b| b.legs.get_mut(sid)) else {
            return;
        };
        let now = clock::now();
        let local = self.transports.local_addr(&leg.destination.flow);
        let transport = transport_param(&leg.destination);
        let contact = local.map(|addr| format!("<sip:tandem@{addr};transport={transport}>"));
        match action {
            SipAction::Provisional { status } | SipAction::Reject { status } => {
                let Ok(mut response) = Response::from_request(
                    &leg.invite,
                    status,
                    default_reason(status),
                    Some(&leg.local_tag),
                ) else {
                    return;
                };
                if let Some(contact) = &contact {
                    let _ = response.set_header("Contact", contact);
                }
                if let Some(key) = &leg.server_key {
                    self.layer.send_response(
                        now,
                        key,
                        status,
                        tandem_sip::message::Message::Response(response),
                    );
                }
            }
            SipAction::Accept { sdp } => {
                let Ok(mut response) = Response::from_request(
                    &leg.invite,
                    200,
                    default_reason(200),
                    Some(&leg.local_tag),
                ) else {
                    return;
                };
                if let Some(contact) = &contact {
                    let _ = response.set_header("Contact", contact);
                }
                let _ = response.set_header("Allow", super::core::ALLOW);
                let _ = response.set_header("Recv-Info", TRICKLE_ICE);
                if let Some(interval) = leg.call.session_expires() {
                    // RFC 4028 §9: the caller refreshes; tandem watches for the refreshes.
                    let _ = response.set_header(
                        "Session-Expires",
                        &format!("{};refresher=uac", interval.as_secs()),
                    );
                    let _ = response.set_header("Require", "timer");
                }
                let _ = response.set_body(sdp.to_string().into_bytes(), Some("application/sdp"));
                let record_route: Vec<String> = leg
                    .invite
                    .record_routes()
                    .map(|r| r.as_str().to_owned())
                    .collect();
                let remote_contact = leg
                    .invite
                    .contacts()
                    .find_map(|c| match c {
                        tandem_sip::message::Contact::Address(a) => {
                            Some(a.uri().as_str().to_owned())
                        }
                        tandem_sip::message::Contact::Wildcard => None,
                    })
                    .unwrap_or_else(|| leg.invite.from().uri().as_str().to_owned());
                leg.dialog = Some(Dialog::uas(&DialogSeed {
                    call_id: leg.invite.call_id(),
                    from_tag: leg.invite.from().tag().unwrap_or_default(),
                    to_tag: &leg.local_tag,
                    from_uri: leg.invite.from().uri().as_str(),
                    to_uri: leg.invite.to().uri().as_str(),
                    cseq: leg.invite.cseq().seq,
                    remote_contact: &remote_contact,
                    record_route: &record_route,
                    status: 200,
                    secure: false,
                }));
                if let Some(key) = &leg.server_key {
                    self.layer.send_response(
                        now,
                        key,
                        200,
                        tandem_sip::message::Message::Response(response),
                    );
                }
            }
            SipAction::Bye { reason } => self.send_bye(sid, &reason),
            SipAction::Invite { sdp } => {
                self.send_invite(sid, sdp.to_string().into_bytes(), 1, None)
            }
            SipAction::ReInvite { sdp } => self.send_reinvite(sid, sdp),
            SipAction::AcceptReInvite { sdp } => self.answer_reinvite(sid, 200, Some(sdp)),
            SipAction::RejectReInvite { status } => self.answer_reinvite(sid, status, None),
            SipAction::Cancel { reason } => self.send_cancel(sid, &reason),
            SipAction::Info { fragment } => self.send_info(sid, &fragment.to_string()),
        }
    }

    /// Our INVITE for a Jingle caller, now that its candidates are gathered.
    /// `auth`: the header (Authorization or Proxy-Authorization) answering a challenge.
    fn send_invite(&mut self, sid: &str, body: Vec<u8>, cseq: u32, auth: Option<(&str, String)>) {
        let Some(leg) = self.bridge.as_mut().and_then(|b| b.legs.get_mut(sid)) else {
            return;
        };
        let Some(local) = self.transports.local_addr(&leg.destination.flow) else {
            return;
        };
        let branch = fresh_branch();
        let from = leg.invite.from().as_str().to_owned();
        let transport = transport_param(&leg.destination);
        let contact = format!(
            "<sip:{}@{local};transport={transport}>",
            leg.invite.from().uri().user().unwrap_or("tandem")
        );
        let via = transport.to_ascii_uppercase();
        let request = Request::builder(Method::Invite, leg.invite.uri().as_str())
            .header(
                "Via",
                &format!("SIP/2.0/{via} {local};branch={branch};rport"),
            )
            .header("Max-Forwards", "70")
            .header("From", &from)
            .header("To", leg.invite.to().as_str())
            .header("Call-ID", leg.invite.call_id())
            .header("CSeq", &format!("{cseq} INVITE"))
            .header("Contact", &contact)
            .header("Allow", super::core::ALLOW)
            .header("Recv-Info", TRICKLE_ICE);
        let request = match auth {
            Some((name, value)) => request.header(name, &value),
            None => request,
        };
        let request = request.body("application/sdp", body).build();
        let request = match request {
            Ok(r) => r,
            Err(e) => return tracing::warn!(error = %e, "cannot build INVITE"),
        };
        leg.local_tag = leg.invite.from().tag().unwrap_or_default().to_owned();
        leg.invite = request.clone();
        let key = ClientKey {
            branch,
            method: "INVITE".into(),
        };
        leg.client_key = Some(key.clone());
        let destination = leg.destination.clone();
        self.send_client_request(key, request, destination);
    }

    /// A new request in a call's dialog: its branch, the builder with every dialog header,
    /// and where it goes. `None` without a dialog.
    fn dialog_request(
        &mut self,
        sid: &str,
        method: Method,
    ) -> Option<(
        String,
        tandem_sip::message::RequestBuilder,
        std::net::SocketAddr,
    )> {
        let leg = self.bridge.as_mut()?.legs.get_mut(sid)?;
        let dialog = leg.dialog.as_mut()?;
        let local = self.transports.local_addr(&leg.destination.flow)?;
        let target = dialog.next_request(method.as_str());
        let via_transport = transport_param(&leg.destination).to_ascii_uppercase();
        let (branch, builder) = in_dialog_request(dialog, method, &target, local, &via_transport);
        Some((branch, builder, local))
    }

    /// A re-INVITE with our new offer (hold, resume, new candidates), in the dialog.
    fn send_reinvite(&mut self, sid: &str, sdp: SessionDescription) {
        let Some((branch, builder, local)) = self.dialog_request(sid, Method::Invite) else {
            return;
        };
        let Some(leg) = self.bridge.as_mut().and_then(|b| b.legs.get_mut(sid)) else {
            return;
        };
        let contact = format!(
            "<sip:tandem@{local};transport={}>",
            transport_param(&leg.destination)
        );
        let request = builder
            .header("Contact", &contact)
            .header("Allow", super::core::ALLOW)
            .body("application/sdp", sdp.to_string().into_bytes())
            .build();
        let Ok(request) = request else {
            return;
        };
        let key = ClientKey {
            branch,
            method: "INVITE".into(),
        };
        leg.reinvite_client = Some(key.clone());
        let destination = leg.destination.clone();
        self.send_client_request(key, request, destination);
    }

    /// The response to the peer's re-INVITE.
    fn answer_reinvite(&mut self, sid: &str, status: u16, sdp: Option<SessionDescription>) {
        let Some(leg) = self.bridge.as_mut().and_then(|b| b.legs.get_mut(sid)) else {
            return;
        };
        let Some((key, request)) = leg.reinvite_server.take() else {
            return;
        };
        let Ok(mut response) = Response::from_request(
            &request,
            status,
            default_reason(status),
            Some(&leg.local_tag),
        ) else {
            return;
        };
        if let Some(local) = self.transports.local_addr(&leg.destination.flow) {
            let contact = format!(
                "<sip:tandem@{local};transport={}>",
                transport_param(&leg.destination)
            );
            let _ = response.set_header("Contact", &contact);
        }
        if let Some(sdp) = sdp {
            let _ = response.set_body(sdp.to_string().into_bytes(), Some("application/sdp"));
        }
        self.layer.send_response(
            clock::now(),
            &key,
            status,
            tandem_sip::message::Message::Response(response),
        );
    }

    /// CANCEL our INVITE (RFC 3261 §9.1: same Request-URI, Call-ID, From, To, Via branch).
    fn send_cancel(&mut self, sid: &str, reason: &str) {
        let Some(leg) = self.bridge.as_mut().and_then(|b| b.legs.get_mut(sid)) else {
            return;
        };
        let Some(key) = leg.client_key.clone() else {
            return;
        };
        let Some(request) = cancel_request(&leg.invite, reason) else {
            return;
        };
        let destination = leg.destination.clone();
        self.send_client_request(
            ClientKey {
                branch: key.branch,
                method: "CANCEL".into(),
            },
            request,
            destination,
        );
    }

    /// Trickled candidates for a peer that takes them in INFO (RFC 8840 §6.1).
    fn send_info(&mut self, sid: &str, fragment: &str) {
        let Some((branch, builder, _)) = self.dialog_request(sid, Method::Info) else {
            return;
        };
        let request = builder
            .header("Info-Package", TRICKLE_ICE)
            .body(
                "application/trickle-ice-sdpfrag",
                fragment.as_bytes().to_vec(),
            )
            .build();
        let request = match request {
            Ok(r) => r,
            Err(e) => return tracing::warn!(error = %e, "cannot build INFO"),
        };
        let Some(destination) = self
            .bridge
            .as_ref()
            .and_then(|b| b.legs.get(sid))
            .map(|l| l.destination.clone())
        else {
            return;
        };
        self.send_client_request(
            ClientKey {
                branch,
                method: "INFO".into(),
            },
            request,
            destination,
        );
    }

    fn send_client_request(&mut self, key: ClientKey, request: Request, to: Destination) {
        let reliable = to.flow.is_reliable();
        self.layer.send_request(
            clock::now(),
            key,
            tandem_sip::message::Message::Request(request),
            to,
            reliable,
        );
    }

    fn send_bye(&mut self, sid: &str, reason: &str) {
        let Some((branch, builder, _)) = self.dialog_request(sid, Method::Bye) else {
            return;
        };
        let Some(leg) = self.bridge.as_mut().and_then(|b| b.legs.get_mut(sid)) else {
            return;
        };
        let builder = builder.header("Reason", reason);
        if let Some(dialog) = leg.dialog.as_mut() {
            dialog.terminate();
        }
        let request = match builder.build() {
            Ok(r) => r,
            Err(e) => return tracing::warn!(error = %e, "cannot build BYE"),
        };
        let destination = leg.destination.clone();
        self.send_client_request(
            ClientKey {
                branch,
                method: "BYE".into(),
            },
            request,
            destination,
        );
    }
}

/// RFC 8840's Info-Package: tandem takes trickled candidates in INFO, and sends them so
/// to peers that list it in their Recv-Info (RFC 6086 §5.2.3).
const TRICKLE_ICE: &str = "trickle-ice";

fn takes_trickle_info(headers: &tandem_sip::message::Headers) -> bool {
    headers
        .values("Recv-Info")
        .any(|package| package.trim().eq_ignore_ascii_case(TRICKLE_ICE))
}

/// The CANCEL of one of our INVITEs (RFC 3261 §9.1: same Request-URI, Call-ID, From, To,
/// CSeq number and top Via), with an RFC 3326 `Reason:`.
fn cancel_request(invite: &Request, reason: &str) -> Option<Request> {
    Request::builder(Method::Cancel, invite.uri().as_str())
        .header("Via", invite.top_via().as_str())
        .header("Max-Forwards", "70")
        .header("From", invite.from().as_str())
        .header("To", invite.to().as_str())
        .header("Call-ID", invite.call_id())
        .header("CSeq", &format!("{} CANCEL", invite.cseq().seq))
        .header("Reason", reason)
        .build()
        .ok()
}

/// An in-dialog request (RFC 3261 §12.2.1.1) with a fresh branch, which it returns.
fn in_dialog_request(
    dialog: &Dialog,
    method: Method,
    target: &tandem_sip::dialog::RequestTarget,
    local: std::net::SocketAddr,
    via_transport: &str,
) -> (String, tandem_sip::message::RequestBuilder) {
    let branch = fresh_branch();
    let cseq = format!("{} {}", target.cseq, method.as_str());
    let mut builder = Request::builder(method, &target.request_uri)
        .header(
            "Via",
            &format!("SIP/2.0/{via_transport} {local};branch={branch};rport"),
        )
        .header("Max-Forwards", "70")
        .header(
            "From",
            &format!("<{}>;tag={}", dialog.local_uri, dialog.id.local_tag),
        )
        .header(
            "To",
            &format!("<{}>;tag={}", dialog.remote_uri, dialog.id.remote_tag),
        )
        .header("Call-ID", &dialog.id.call_id)
        .header("CSeq", &cseq);
    for route in &target.route {
        builder = builder.header("Route", route);
    }
    (branch, builder)
}

/// A new RFC 3261 branch (`z9hG4bK` + randomness) for a request we originate.
fn fresh_branch() -> String {
    let mut random = [0u8; 12];
    let _ = getrandom::fill(&mut random);
    tandem_sip::transaction::key::new_branch(random)
}

fn transport_param(destination: &Destination) -> &'static str {
    match destination.flow.transport_name() {
        "tls" => "tls",
        "tcp" => "tcp",
        _ => "udp",
    }
}

/// disco#info for the gateway domain or any SIP address behind it (no node).
fn disco_info(request: &Element) -> Option<Element> {
    let query = request.get_child("query", DISCO_INFO_NS)?;
    if query.attr("node").is_some() {
        return None;
    }
    let mut info = Element::new("query", DISCO_INFO_NS).with_child(
        Element::new("identity", DISCO_INFO_NS)
            .with_attr("category", "gateway")
            .with_attr("type", "sip")
            .with_attr("name", "Tandem SIP gateway"),
    );
    for feature in GATEWAY_FEATURES {
        info.push_child(Element::new("feature", DISCO_INFO_NS).with_attr("var", *feature));
    }
    Some(iq_result(request, Some(info)))
}

/// The `<jingle>` payload of an iq.
fn parse_jingle(stanza: &Element) -> Result<Jingle, JingleRefusal> {
    let Some(child) = stanza.get_child("jingle", JINGLE_NS) else {
        return Err(JingleRefusal::BadRequest("not a Jingle request".into()));
    };
    let mut xml = String::new();
    child.write_to(&mut xml, "");
    match jingle::parse(&xml) {
        Ok(JinglePayload::Jingle(j)) => Ok(j),
        Ok(JinglePayload::Message(_)) => {
            Err(JingleRefusal::BadRequest("not a Jingle request".into()))
        }
        Err(e) => Err(JingleRefusal::BadRequest(e.to_string())),
    }
}

/// XEP-0166 §7.3: the stanza error and the Jingle condition for a refused request.
fn jingle_error(request: &Element, refusal: &JingleRefusal) -> Option<Element> {
    let (condition, jingle_condition) = match refusal {
        JingleRefusal::UnknownSession => {
            (StanzaErrorCondition::ItemNotFound, Some("unknown-session"))
        }
        JingleRefusal::OutOfOrder => (
            StanzaErrorCondition::UnexpectedRequest,
            Some("out-of-order"),
        ),
        JingleRefusal::TieBreak => (StanzaErrorCondition::Conflict, Some("tie-break")),
        JingleRefusal::BadRequest(_) => (StanzaErrorCondition::BadRequest, None),
        JingleRefusal::NoRoute => (StanzaErrorCondition::ItemNotFound, None),
    };
    let mut reply = error_reply(request, condition, None)?;
    if let (Some(name), Some(error)) = (
        jingle_condition,
        reply.children_mut().find(|c| c.name() == "error"),
    ) {
        error.push_child(Element::new(name, JINGLE_ERRORS_NS));
    }
    Some(reply)
}

fn write_cdr(cdr: &CdrWriter, leg: &Leg, record: &CallRecord) {
    let xmpp = leg.xmpp_party.to_string();
    let (caller, callee) = match record.origin {
        Origin::Sip => (leg.invite.from().uri().as_str(), xmpp.as_str()),
        Origin::Jingle => (xmpp.as_str(), leg.invite.uri().as_str()),
    };
    cdr.write(&cdr_line(
        record,
        &leg.clock,
        caller,
        callee,
        leg.invite.call_id(),
    ));
}

/// Also a structured log event, for operators reading logs.
fn log_call(record: &CallRecord) {
    let ms = |t: Option<Instant>| t.map(|t| t.duration_since(record.setup).as_millis());
    tracing::info!(
        sid = %record.sid,
        origin = ?record.origin,
        reason = record.reason.as_str(),
        status = record.status,
        ringing_ms = ?ms(record.ringing),
        answer_ms = ?ms(record.answer),
        duration_ms = record.end.duration_since(record.setup).as_millis() as u64,
        "call ended"
    );
}

fn xml_attr(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('\'', "&apos;")
        .replace('<', "&lt;")
}
