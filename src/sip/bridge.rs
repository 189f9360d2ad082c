//! The call bridge's edge: one [`Call`] per bridged call, driven from the SIP endpoint task
//! (which owns the transaction layer) and from stanzas XMPP users send to the gateway
//! domain. The call decides; this module turns its outputs into SIP messages and iqs.
//!
//! This step bridges calls from SIP to XMPP users (a phone or trunk calls `alice`); calls
//! from XMPP to SIP arrive in a later step.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use jid::{BareJid, FullJid};
use tandem_sip::dialog::{Dialog, DialogSeed};
use tandem_sip::message::{default_reason, Method, Request, Response};
use tandem_sip::transaction::{ClientKey, ServerKey};
use tandem_translations::call::{
    Call, CallConfig, CallRecord, JingleRefusal, Output, SipAction, SipEvent,
};
use tandem_translations::jingle::{self, Action, Jingle, JinglePayload, Reason, ReasonCondition};
use tandem_translations::sdp::SessionDescription;
use tandem_xmpp::stanza::{error_reply, iq_result, StanzaErrorCondition};
use tandem_xmpp::Element;

use super::core::{random_token, Endpoint};
use super::transport::Destination;
use crate::config::GatewayConfig;
use crate::im::delivery;
use crate::server::Shared;

const JINGLE_NS: &str = "urn:xmpp:jingle:1";
const JINGLE_ERRORS_NS: &str = "urn:xmpp:jingle:errors:1";

/// The bridge's state inside the SIP endpoint.
pub struct Bridge {
    sip_domain: String,
    shared: Arc<Shared>,
    config: CallConfig,
    legs: HashMap<String, Leg>,
    by_call_id: HashMap<String, String>,
}

/// One call from a SIP caller to an XMPP user.
struct Leg {
    call: Call,
    invite: Request,
    invite_key: ServerKey,
    destination: Destination,
    local_tag: String,
    dialog: Option<Dialog>,
    /// The caller as the XMPP user sees it: `number@<gateway domain>/<call>`.
    caller: String,
    callee: FullJid,
    /// The id of our session-initiate iq: an error to it means the callee refused.
    initiate_id: Option<String>,
}

impl Bridge {
    pub fn new(config: &GatewayConfig, sip_domain: String, shared: Arc<Shared>) -> Bridge {
        Bridge {
            sip_domain,
            shared,
            config: CallConfig {
                ring_timeout: Duration::from_secs(config.ring_timeout as u64),
                trickle_wait: Duration::from_millis(config.trickle_wait_ms as u64),
                max_duration: Duration::from_secs(config.max_call_duration as u64),
                sip_trickle: false,
            },
            legs: HashMap::new(),
            by_call_id: HashMap::new(),
        }
    }

    /// The earliest deadline of any call.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.legs
            .values()
            .filter_map(|l| l.call.poll_timeout())
            .min()
    }
}

/// How a new INVITE for the bridge is answered right away.
pub enum InviteOutcome {
    /// The call is ringing the XMPP side: answer 100 and keep the transaction.
    Proceeding,
    /// Refused with this status (404 unknown user, 480 offline, 488 bad SDP, ...).
    Refused(u16, &'static str),
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
        // RFC 6121 §8.5.2.1.1 applied to calls: the highest-priority available resource.
        let Some(callee) = delivery::available(&bridge.shared, &bare)
            .into_iter()
            .max_by_key(|r| r.priority)
            .map(|r| r.jid)
        else {
            return InviteOutcome::Refused(480, "the user is offline");
        };
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
        let sid = random_token();
        let caller_user = request
            .from()
            .uri()
            .user_decoded()
            .map_or_else(|| "anonymous".to_string(), |u| u.into_owned());
        let caller = match tandem_translations::address::sip_to_jid(&format!(
            "sip:{caller_user}@{}",
            bridge.sip_domain
        )) {
            Ok(jid) => format!("{jid}/{sid}"),
            Err(_) => format!("anonymous@{}/{sid}", bridge.sip_domain),
        };
        let now = Instant::now();
        let call = match Call::from_sip(
            now,
            bridge.config,
            &sid,
            &caller,
            &callee.to_string(),
            &offer,
        ) {
            Ok(call) => call,
            Err(e) => {
                tracing::info!(error = %e, "SDP offer has no Jingle translation");
                return InviteOutcome::Refused(488, "the SDP offer cannot be bridged");
            }
        };
        tracing::info!(%sid, %caller, %callee, call_id = request.call_id(), "bridging a SIP call");
        let leg = Leg {
            call,
            invite: request.clone(),
            invite_key: key.clone(),
            destination: from.clone(),
            local_tag: random_token(),
            dialog: None,
            caller,
            callee,
            initiate_id: None,
        };
        let bridge = self.bridge.as_mut().expect("checked above");
        bridge
            .by_call_id
            .insert(request.call_id().to_owned(), sid.clone());
        bridge.legs.insert(sid.clone(), leg);
        self.drive(&sid);
        InviteOutcome::Proceeding
    }

    /// The caller cancelled a bridged INVITE (already answered 200/487 by the caller).
    pub(super) fn bridge_cancelled(&mut self, call_id: &str) {
        self.bridge_sip_event(call_id, SipEvent::Cancelled);
    }

    /// The ACK for our 2xx.
    pub(super) fn bridge_acked(&mut self, call_id: &str) {
        self.bridge_sip_event(call_id, SipEvent::Acked);
    }

    /// A BYE: 200 if it ends a bridged call, else 481 (RFC 3261 §15.1.2).
    pub(super) fn bridge_bye(&mut self, request: &Request) -> u16 {
        let Some(sid) = self.sid_for(request.call_id()) else {
            return 481;
        };
        let leg = &self.bridge.as_ref().expect("sid found").legs[&sid];
        let in_dialog = leg.dialog.as_ref().is_some_and(|d| {
            request.from().tag() == Some(d.id.remote_tag.as_str())
                && request.to().tag() == Some(d.id.local_tag.as_str())
        });
        if !in_dialog {
            return 481;
        }
        let cause = request
            .headers()
            .get("Reason")
            .and_then(tandem_translations::errors::parse_reason_header);
        self.bridge_sip_event(request.call_id(), SipEvent::Bye { cause });
        200
    }

    fn sid_for(&self, call_id: &str) -> Option<String> {
        self.bridge.as_ref()?.by_call_id.get(call_id).cloned()
    }

    fn bridge_sip_event(&mut self, call_id: &str, event: SipEvent) {
        let Some(sid) = self.sid_for(call_id) else {
            return;
        };
        if let Some(leg) = self.bridge.as_mut().and_then(|b| b.legs.get_mut(&sid)) {
            leg.call.handle_sip(Instant::now(), event);
        }
        self.drive(&sid);
    }

    /// Fire due call deadlines.
    pub(super) fn bridge_timeout(&mut self, now: Instant) {
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
    pub(super) fn bridge_stanza(&mut self, stanza: Element) {
        let Some(bridge) = self.bridge.as_ref() else {
            return;
        };
        if stanza.name() != "iq" {
            return;
        }
        let shared = bridge.shared.clone();
        let from = stanza.attr("from").and_then(|f| FullJid::new(f).ok());
        match stanza.attr("type") {
            Some("set") => {
                let outcome = self.bridge_jingle_set(&stanza, from.as_ref());
                let reply = match outcome {
                    Ok(()) => Some(iq_result(&stanza, None)),
                    Err(refusal) => jingle_error(&stanza, &refusal),
                };
                if let (Some(reply), Some(from)) = (reply, from) {
                    delivery::to_full(&shared, &from, reply);
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
                        let _ = leg.call.handle_jingle(Instant::now(), &terminate);
                    }
                    self.drive(&sid);
                }
            }
            Some("get") => {
                if let (Some(reply), Some(from)) = (
                    error_reply(&stanza, StanzaErrorCondition::ServiceUnavailable, None),
                    from,
                ) {
                    delivery::to_full(&shared, &from, reply);
                }
            }
            _ => {}
        }
    }

    fn bridge_jingle_set(
        &mut self,
        stanza: &Element,
        from: Option<&FullJid>,
    ) -> Result<(), JingleRefusal> {
        let Some(child) = stanza.get_child("jingle", JINGLE_NS) else {
            return Err(JingleRefusal::BadRequest("not a Jingle request".into()));
        };
        let mut xml = String::new();
        child.write_to(&mut xml, "");
        let j = match jingle::parse(&xml) {
            Ok(JinglePayload::Jingle(j)) => j,
            Ok(JinglePayload::Message(_)) => {
                return Err(JingleRefusal::BadRequest("not a Jingle request".into()))
            }
            Err(e) => return Err(JingleRefusal::BadRequest(e.to_string())),
        };
        let sid = j.sid.clone();
        let leg = self
            .bridge
            .as_mut()
            .and_then(|b| b.legs.get_mut(&sid))
            .ok_or(JingleRefusal::UnknownSession)?;
        // Only the callee's resource speaks for the session.
        if from != Some(&leg.callee) {
            return Err(JingleRefusal::UnknownSession);
        }
        let result = leg.call.handle_jingle(Instant::now(), &j);
        self.drive(&sid);
        result
    }

    /// Carry out everything the call asked for.
    fn drive(&mut self, sid: &str) {
        loop {
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
                Output::Sip(action) => self.send_sip(sid, action),
                Output::Ended(record) => {
                    log_call(&record);
                    if let Some(bridge) = self.bridge.as_mut() {
                        if let Some(leg) = bridge.legs.remove(sid) {
                            bridge.by_call_id.remove(leg.invite.call_id());
                        }
                    }
                    return;
                }
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
            xml_attr(&leg.caller),
            xml_attr(&leg.callee.to_string()),
            j.to_xml()
        );
        let delivered = match tandem_xmpp::stream::parse_stanza(&xml) {
            Ok(iq) => delivery::to_full(&shared, &leg.callee, iq),
            Err(e) => {
                tracing::error!(error = %e, "a Jingle element we wrote does not parse");
                false
            }
        };
        if !delivered {
            // The callee's session is gone: the call ends on the SIP side too.
            leg.call.handle_xmpp_gone(Instant::now());
        }
    }

    fn send_sip(&mut self, sid: &str, action: SipAction) {
        let Some(leg) = self.bridge.as_mut().and_then(|b| b.legs.get_mut(sid)) else {
            return;
        };
        let now = Instant::now();
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
                self.layer.send_response(
                    now,
                    &leg.invite_key,
                    status,
                    tandem_sip::message::Message::Response(response),
                );
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
                self.layer.send_response(
                    now,
                    &leg.invite_key,
                    200,
                    tandem_sip::message::Message::Response(response),
                );
            }
            SipAction::Bye { reason } => self.send_bye(sid, &reason),
            other => tracing::warn!(?other, "SIP action not bridged yet"),
        }
    }

    fn send_bye(&mut self, sid: &str, reason: &str) {
        let Some(leg) = self.bridge.as_mut().and_then(|b| b.legs.get_mut(sid)) else {
            return;
        };
        let Some(dialog) = leg.dialog.as_mut() else {
            return;
        };
        let Some(local) = self.transports.local_addr(&leg.destination.flow) else {
            return;
        };
        let target = dialog.next_request("BYE");
        let mut random = [0u8; 12];
        let _ = getrandom::fill(&mut random);
        let branch = tandem_sip::transaction::key::new_branch(random);
        let via_transport = transport_param(&leg.destination).to_ascii_uppercase();
        let mut builder = Request::builder(Method::Bye, &target.request_uri)
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
            .header("CSeq", &format!("{} BYE", target.cseq))
            .header("Reason", reason);
        for route in &target.route {
            builder = builder.header("Route", route);
        }
        dialog.terminate();
        let request = match builder.build() {
            Ok(r) => r,
            Err(e) => return tracing::warn!(error = %e, "cannot build BYE"),
        };
        let destination = leg.destination.clone();
        let reliable = destination.flow.is_reliable();
        self.layer.send_request(
            Instant::now(),
            ClientKey {
                branch,
                method: "BYE".into(),
            },
            tandem_sip::message::Message::Request(request),
            destination,
            reliable,
        );
    }
}

fn transport_param(destination: &Destination) -> &'static str {
    match destination.flow.transport_name() {
        "tls" => "tls",
        "tcp" => "tcp",
        _ => "udp",
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

/// The CDR line for now: a structured log event (the JSON file comes with the CDR step).
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
