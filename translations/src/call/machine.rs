//! The call state machine. See the module docs of [`super`] for the shape.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use super::events::{CallRecord, JingleRefusal, Output, SipAction, SipEvent};
use super::{CallConfig, Origin};
use crate::errors::{jingle_reason_to_sip_status, reason_header, sip_status_to_jingle_reason};
use crate::errors::{JingleReason, Target};
use crate::jingle::{
    Action, Content, Creator, Description, Jingle, JingleMessage, JmiKind, Reason, ReasonCondition,
    Senders, SessionInfo, SessionInfoKind, Transport,
};
use crate::mapping::{
    jingle_changes, jingle_to_sdp, sdp_to_jingle, sdpfrag_from_transport_info,
    transport_info_from_sdpfrag, MappingError, Role,
};
use crate::sdp::{Attribute, Direction, SessionDescription};

/// How long a SIP re-offer that adds streams waits for the XMPP side's content-accept or
/// content-reject before the new streams are refused (SIP's own re-INVITE gives up at 32 s).
const CONTENT_ADD_WAIT: Duration = Duration::from_secs(10);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// A session-initiate (Jingle caller) or session-accept (Jingle callee) waits for its
    /// trickled candidates before it becomes the INVITE or the 200.
    Gathering,
    /// The callee is being alerted; no answer yet.
    Alerting,
    /// Answered on both legs.
    Active,
    Ended,
}

/// One Jingle session bridged to one SIP dialog.
#[derive(Debug)]
pub struct Call {
    origin: Origin,
    config: CallConfig,
    sid: String,
    phase: Phase,
    /// The XMPP side's description in Jingle terms (its initiate or accept, with every
    /// trickled candidate merged in): the source of every SDP sent to SIP.
    xmpp_view: Option<Jingle>,
    /// The SIP side's latest description in Jingle terms (to diff re-offers against).
    sip_view: Option<Jingle>,
    /// The SIP side's latest SDP (names sdpfrag sections without `a=mid` by position).
    sip_sdp: Option<SessionDescription>,
    /// A SIP caller's session-initiate, held back until a callee device proceeds (XEP-0353).
    proposed: Option<Jingle>,
    /// The SDP last sent to SIP, and its o= version.
    local_sdp: Option<SessionDescription>,
    sdp_version: u64,
    gather_until: Option<Instant>,
    ring_deadline: Option<Instant>,
    end_deadline: Option<Instant>,
    /// RFC 4028 session interval the SIP caller asked for (it refreshes; we watch).
    session_expires: Option<Duration>,
    expiry_deadline: Option<Instant>,
    reinvite_in_flight: bool,
    /// Candidates arrived that SIP has not seen and cannot take by INFO: re-offer once the
    /// call is answered and no re-INVITE is in flight.
    reoffer_needed: bool,
    /// A SIP re-offer that adds streams, unanswered until the XMPP side accepts or rejects
    /// the content-add it became (XEP-0166 §7.2.1-7.2.4).
    pending_sip_add: Option<SessionDescription>,
    /// The contents that held re-offer proposed (withdrawn if the XMPP side never answers).
    pending_sip_contents: Vec<(Creator, String)>,
    /// Our SDP before the re-INVITE that carries the XMPP side's content-add: the session
    /// as it stays if SIP refuses it (RFC 3261 §14.1).
    local_before_add: Option<SessionDescription>,
    /// Contents the XMPP side added that our re-INVITE offers; accepted or rejected when
    /// SIP answers.
    pending_xmpp_add: Vec<Content>,
    /// When a held SIP re-offer stops waiting for the XMPP side's content-accept.
    add_deadline: Option<Instant>,
    /// Contents of the XMPP side's description that were removed: their m-lines stay,
    /// with port 0 (RFC 3264 §8.2).
    removed: Vec<String>,
    setup: Instant,
    ringing: Option<Instant>,
    answer: Option<Instant>,
    outputs: VecDeque<Output>,
}

impl Call {
    /// A SIP caller's INVITE with `offer`, to the XMPP user `responder`: sends the Jingle
    /// session-initiate and starts the ring timer. `initiator` is the caller's JID
    /// (RFC 7247 §4 mapping of the From URI).
    pub fn from_sip(
        now: Instant,
        config: CallConfig,
        sid: &str,
        initiator: &str,
        responder: &str,
        offer: &SessionDescription,
    ) -> Result<Call, MappingError> {
        let mut initiate =
            sdp_to_jingle(offer, Role::Initiator, Action::SessionInitiate, sid, 0)?.jingle;
        initiate.initiator = Some(initiator.to_string());
        initiate.responder = Some(responder.to_string());
        let mut call = Call::new(now, Origin::Sip, config, sid);
        call.sip_view = Some(initiate.clone());
        call.sip_sdp = Some(offer.clone());
        call.phase = Phase::Alerting;
        call.ring_deadline = Some(now + config.ring_timeout);
        call.outputs.push_back(Output::Jingle(initiate));
        Ok(call)
    }

    /// [`Call::from_sip`] for a callee whose devices speak Jingle Message Initiation
    /// (XEP-0353): a `<propose/>` goes to her bare JID first; the session-initiate goes to
    /// the device that proceeds ([`Call::handle_jmi`]), with `responder` set to it then.
    pub fn from_sip_proposed(
        now: Instant,
        config: CallConfig,
        sid: &str,
        initiator: &str,
        offer: &SessionDescription,
    ) -> Result<Call, MappingError> {
        let mut call = Call::from_sip(now, config, sid, initiator, "", offer)?;
        let Some(Output::Jingle(initiate)) = call.outputs.pop_back() else {
            unreachable!("from_sip queues exactly the session-initiate")
        };
        let mut propose = JingleMessage::new(JmiKind::Propose, sid);
        // XEP-0353 §3.1: the descriptions say what kind of call rings (audio, video).
        for content in &initiate.contents {
            if let Some(Description::Rtp(d)) = &content.description {
                let kind_only = crate::jingle::RtpDescription {
                    media: d.media.clone(),
                    ..Default::default()
                };
                propose
                    .descriptions
                    .push(Description::Rtp(Box::new(kind_only)));
            }
        }
        call.proposed = Some(initiate);
        call.outputs.push_back(Output::Message(propose));
        Ok(call)
    }

    /// A XEP-0353 message from one of the callee's devices (`from`: its full JID).
    pub fn handle_jmi(
        &mut self,
        now: Instant,
        from: &str,
        message: &JingleMessage,
    ) -> Result<(), JingleRefusal> {
        if message.id != self.sid || self.phase == Phase::Ended {
            return Err(JingleRefusal::UnknownSession);
        }
        match message.kind {
            JmiKind::Ringing if self.phase == Phase::Alerting && self.ringing.is_none() => {
                self.ringing = Some(now);
                self.sip(SipAction::Provisional { status: 180 });
            }
            JmiKind::Ringing => {}
            JmiKind::Proceed => {
                let mut initiate = self.proposed.take().ok_or(JingleRefusal::OutOfOrder)?;
                initiate.responder = Some(from.to_string());
                self.jingle(initiate);
            }
            JmiKind::Reject if self.proposed.is_some() => {
                let reason = message
                    .reason
                    .as_ref()
                    .map_or(ReasonCondition::Decline, |r| r.condition);
                let status = sip_status(reason);
                self.proposed = None;
                self.sip(SipAction::Reject { status });
                self.end(now, reason, status);
            }
            _ => return Err(JingleRefusal::OutOfOrder),
        }
        Ok(())
    }

    /// An XMPP caller's session-initiate: the INVITE goes out once its candidates are
    /// gathered (end-of-candidates on every ICE transport, or the trickle wait).
    pub fn from_jingle(
        now: Instant,
        config: CallConfig,
        initiate: Jingle,
    ) -> Result<Call, JingleRefusal> {
        if initiate.action != Action::SessionInitiate {
            return Err(JingleRefusal::OutOfOrder);
        }
        // Refuse now what could never become an INVITE, rather than after the wait.
        jingle_to_sdp(&initiate, Role::Initiator, 1)
            .map_err(|e| JingleRefusal::BadRequest(e.to_string()))?;
        let mut call = Call::new(now, Origin::Jingle, config, &initiate.sid.clone());
        call.xmpp_view = Some(initiate);
        call.phase = Phase::Gathering;
        call.gather_until = Some(now + config.trickle_wait);
        call.flush_if_gathered(now);
        Ok(call)
    }

    fn new(now: Instant, origin: Origin, config: CallConfig, sid: &str) -> Call {
        Call {
            origin,
            config,
            sid: sid.to_string(),
            phase: Phase::Gathering,
            xmpp_view: None,
            sip_view: None,
            sip_sdp: None,
            proposed: None,
            local_sdp: None,
            sdp_version: 0,
            gather_until: None,
            ring_deadline: None,
            end_deadline: None,
            session_expires: None,
            expiry_deadline: None,
            reinvite_in_flight: false,
            reoffer_needed: false,
            pending_sip_add: None,
            pending_sip_contents: Vec::new(),
            local_before_add: None,
            pending_xmpp_add: Vec::new(),
            add_deadline: None,
            removed: Vec::new(),
            setup: now,
            ringing: None,
            answer: None,
            outputs: VecDeque::new(),
        }
    }

    /// Whether the SIP peer takes trickled candidates in INFO (RFC 8840 §4: it listed
    /// `trickle-ice` in Recv-Info). Learnt from its INVITE or its 2xx.
    pub fn set_sip_trickle(&mut self, supported: bool) {
        self.config.sip_trickle = supported;
    }

    /// RFC 4028: the SIP caller asked for session refreshes every `interval` and refreshes
    /// them itself (`refresher=uac`, written into the 200 by the edge). If no refresh arrives
    /// in time the call is hung up (§10: before expiry, less min(32 s, interval / 3)).
    pub fn set_session_expires(&mut self, interval: Duration) {
        self.session_expires = Some(interval);
    }

    /// The session interval agreed with the SIP caller, for the 200's Session-Expires.
    pub fn session_expires(&self) -> Option<Duration> {
        self.session_expires
    }

    fn arm_session_expiry(&mut self, now: Instant) {
        if let Some(interval) = self.session_expires {
            let margin = (interval / 3).min(Duration::from_secs(32));
            self.expiry_deadline = Some(now + interval - margin);
        }
    }

    /// The Jingle session id.
    pub fn sid(&self) -> &str {
        &self.sid
    }

    /// Who placed the call.
    pub fn origin(&self) -> Origin {
        self.origin
    }

    /// Both legs answered (whatever happened since).
    pub fn is_answered(&self) -> bool {
        self.answer.is_some()
    }

    /// Both legs are over.
    pub fn is_ended(&self) -> bool {
        self.phase == Phase::Ended
    }

    /// The next thing for the edge to do.
    pub fn poll_output(&mut self) -> Option<Output> {
        self.outputs.pop_front()
    }

    /// When [`Call::handle_timeout`] must be called next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        [
            self.gather_until,
            self.ring_deadline,
            self.end_deadline,
            self.expiry_deadline,
            self.add_deadline,
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Fire whatever deadline has passed.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.gather_until.is_some_and(|t| t <= now) {
            self.gather_until = None;
            self.flush(now);
        }
        if self.ring_deadline.is_some_and(|t| t <= now) {
            self.ring_deadline = None;
            self.unanswered(now);
        }
        if self.add_deadline.is_some_and(|t| t <= now) {
            self.add_deadline = None;
            self.content_add_unanswered(now);
        }
        if self.expiry_deadline.is_some_and(|t| t <= now) {
            self.expiry_deadline = None;
            self.end_deadline = None;
            self.jingle(terminate(&self.sid, ReasonCondition::ConnectivityError));
            self.sip(SipAction::Bye {
                reason: reason_header(408, "Session timer expired"),
            });
            self.end(now, ReasonCondition::ConnectivityError, 408);
        }
        if self.end_deadline.is_some_and(|t| t <= now) {
            self.end_deadline = None;
            self.jingle(terminate(&self.sid, ReasonCondition::Timeout));
            self.sip(SipAction::Bye {
                reason: reason_header(200, "Maximum call duration"),
            });
            self.end(now, ReasonCondition::Timeout, 200);
        }
    }

    /// This device's branch of a forked SIP call ([`super::Fork`]) ends because of the
    /// others: another device answered (`status` 200, "Call completed elsewhere"), one
    /// declined for all (6xx), the caller cancelled (487), or nobody answered in time (480).
    /// Only the XMPP side is told; the fork answers the SIP caller. A device that accepted
    /// just after another won gets its session terminated.
    pub fn handle_fork_ended(&mut self, now: Instant, status: u16) {
        if self.phase == Phase::Ended || self.origin != Origin::Sip {
            return;
        }
        let mut reason = match status {
            200..=299 => Reason::new(ReasonCondition::Cancel),
            480 => Reason::new(ReasonCondition::Timeout),
            487 => Reason::new(ReasonCondition::Cancel),
            _ => Reason::new(jingle_reason(status)),
        };
        if status < 300 {
            reason.text = Some(super::fork::COMPLETED_ELSEWHERE_TEXT.to_owned());
        }
        let condition = reason.condition;
        self.tell_callee_why(reason);
        self.end(now, condition, status);
    }

    /// The XMPP peer went away (its stream closed or it went unavailable) mid-call.
    pub fn handle_xmpp_gone(&mut self, now: Instant) {
        match self.phase {
            Phase::Ended => return,
            Phase::Active => self.sip(SipAction::Bye {
                reason: reason_header(480, "XMPP client disconnected"),
            }),
            _ => self.sip_abandon(480, "XMPP client disconnected"),
        }
        self.end(now, ReasonCondition::Gone, 480);
    }

    /// A Jingle request from the XMPP peer. `Err` is the iq error the edge answers with;
    /// `Ok` means answer with an iq result.
    pub fn handle_jingle(&mut self, now: Instant, j: &Jingle) -> Result<(), JingleRefusal> {
        if j.sid != self.sid || self.phase == Phase::Ended {
            return Err(JingleRefusal::UnknownSession);
        }
        match j.action {
            Action::SessionInfo => self.jingle_session_info(now, j),
            Action::SessionAccept => self.jingle_accept(now, j),
            Action::SessionTerminate => {
                self.jingle_terminate(now, j);
                Ok(())
            }
            Action::TransportInfo => self.jingle_transport_info(now, j),
            Action::ContentModify => self.jingle_content_modify(j),
            Action::ContentAdd => self.jingle_content_add(j),
            Action::ContentRemove => self.jingle_content_remove(j),
            Action::ContentAccept => self.jingle_content_answer(now, j, true),
            Action::ContentReject => self.jingle_content_answer(now, j, false),
            Action::SessionInitiate => Err(JingleRefusal::OutOfOrder),
            _ => Err(JingleRefusal::BadRequest(format!(
                "{} is not bridged to SIP yet",
                j.action.as_str()
            ))),
        }
    }

    /// Something the SIP leg did.
    pub fn handle_sip(&mut self, now: Instant, event: SipEvent) {
        if self.phase == Phase::Ended {
            return;
        }
        match event {
            SipEvent::Provisional { status } => {
                // Forward only the first provisional (stox-media §early-media); a 183 with
                // early media is never a session-accept.
                if self.origin == Origin::Jingle
                    && self.phase == Phase::Alerting
                    && status > 100
                    && self.ringing.is_none()
                {
                    self.ringing = Some(now);
                    let mut info = Jingle::new(Action::SessionInfo, self.sid.clone());
                    info.info.push(SessionInfo::new(SessionInfoKind::Ringing));
                    self.jingle(info);
                }
            }
            SipEvent::Answered { sdp } => self.sip_answered(now, sdp),
            SipEvent::Rejected { status } => {
                let reason = jingle_reason(status);
                self.jingle(terminate(&self.sid, reason));
                self.end(now, reason, status);
            }
            SipEvent::Cancelled => {
                self.tell_callee_it_is_over(ReasonCondition::Cancel);
                self.end(now, ReasonCondition::Cancel, 487);
            }
            SipEvent::Acked => {}
            SipEvent::Bye { cause } => {
                let reason = cause
                    .filter(|c| *c >= 300)
                    .map_or(ReasonCondition::Success, jingle_reason);
                self.jingle(terminate(&self.sid, reason));
                self.end(now, reason, 200);
            }
            SipEvent::ReInvite { sdp } => self.sip_reinvite(now, sdp),
            SipEvent::ReInviteAnswered { sdp } => {
                self.reinvite_in_flight = false;
                self.settle_xmpp_add(Some(&sdp));
                if let Ok(t) =
                    sdp_to_jingle(&sdp, self.sip_role(), Action::SessionAccept, &self.sid, 0)
                {
                    self.sip_view = Some(t.jingle);
                }
                self.sip_sdp = Some(sdp);
                self.reoffer_if_needed();
            }
            SipEvent::ReInviteRejected { .. } => {
                // RFC 3261 §14.1: the session is as before the re-INVITE.
                self.reinvite_in_flight = false;
                self.settle_xmpp_add(None);
            }
            SipEvent::Info { fragment } => {
                if let Ok(info) =
                    transport_info_from_sdpfrag(&fragment, self.sip_sdp.as_ref(), &self.sid, 0)
                {
                    self.jingle(info);
                }
            }
            SipEvent::Failed => {
                self.jingle(terminate(&self.sid, ReasonCondition::ConnectivityError));
                self.end(now, ReasonCondition::ConnectivityError, 408);
            }
        }
    }

    // ---- Jingle side ----

    fn jingle_session_info(&mut self, now: Instant, j: &Jingle) -> Result<(), JingleRefusal> {
        for info in &j.info {
            match info.kind {
                SessionInfoKind::Ringing => {
                    if self.origin == Origin::Sip
                        && self.phase == Phase::Alerting
                        && self.ringing.is_none()
                    {
                        self.ringing = Some(now);
                        self.sip(SipAction::Provisional { status: 180 });
                    }
                }
                SessionInfoKind::Hold | SessionInfoKind::Active => {
                    if self.phase != Phase::Active {
                        return Err(JingleRefusal::OutOfOrder);
                    }
                    let hold = info.kind == SessionInfoKind::Hold;
                    let senders = if hold {
                        Some(self.xmpp_senders_on_hold())
                    } else {
                        None
                    };
                    self.set_xmpp_senders(None, senders)?;
                    self.reoffer()?;
                }
                // Mute is informational (XEP-0167 §mute): SIP has nothing for it.
                SessionInfoKind::Mute | SessionInfoKind::Unmute => {}
            }
        }
        Ok(())
    }

    fn jingle_accept(&mut self, now: Instant, j: &Jingle) -> Result<(), JingleRefusal> {
        if self.origin != Origin::Sip || self.phase != Phase::Alerting {
            return Err(JingleRefusal::OutOfOrder);
        }
        jingle_to_sdp(j, Role::Responder, 1)
            .map_err(|e| JingleRefusal::BadRequest(e.to_string()))?;
        self.ring_deadline = None;
        self.xmpp_view = Some(j.clone());
        self.phase = Phase::Gathering;
        self.gather_until = Some(now + self.config.trickle_wait);
        self.flush_if_gathered(now);
        Ok(())
    }

    fn jingle_terminate(&mut self, now: Instant, j: &Jingle) {
        let reason = j
            .reason
            .as_ref()
            .map_or(ReasonCondition::Success, |r| r.condition);
        let status = sip_status(reason);
        let text = j.reason.as_ref().and_then(|r| r.text.as_deref());
        match (self.phase, self.origin) {
            // A normal hang-up is cause 200; only a failure carries its status.
            (Phase::Active, _) => self.sip(SipAction::Bye {
                reason: reason_header(
                    if reason == ReasonCondition::Success {
                        200
                    } else {
                        status
                    },
                    text.unwrap_or(reason.as_str()),
                ),
            }),
            (_, Origin::Sip) => self.sip(SipAction::Reject { status }),
            // The INVITE is not out yet: nothing to tell SIP.
            (Phase::Gathering, Origin::Jingle) => {}
            (_, Origin::Jingle) => self.sip(SipAction::Cancel {
                reason: reason_header(status, text.unwrap_or(reason.as_str())),
            }),
        }
        let status = if self.phase == Phase::Active {
            200
        } else {
            status
        };
        self.end(now, reason, status);
    }

    fn jingle_transport_info(&mut self, now: Instant, j: &Jingle) -> Result<(), JingleRefusal> {
        let Some(view) = self.xmpp_view.as_mut() else {
            // A callee trickling before its accept: its candidates come with the accept.
            return Err(JingleRefusal::OutOfOrder);
        };
        merge_candidates(view, j);
        match self.phase {
            Phase::Gathering => self.flush_if_gathered(now),
            Phase::Alerting | Phase::Active if self.config.sip_trickle => {
                let fragment = sdpfrag_from_transport_info(j, self.local_sdp.as_ref())
                    .map_err(|e| JingleRefusal::BadRequest(e.to_string()))?;
                self.sip(SipAction::Info { fragment });
            }
            Phase::Alerting | Phase::Active => {
                self.reoffer_needed = true;
                self.reoffer_if_needed();
            }
            Phase::Ended => {}
        }
        Ok(())
    }

    fn jingle_content_modify(&mut self, j: &Jingle) -> Result<(), JingleRefusal> {
        if self.phase != Phase::Active {
            return Err(JingleRefusal::OutOfOrder);
        }
        for c in &j.contents {
            self.set_xmpp_senders(Some(&c.name), Some(c.senders.unwrap_or(Senders::Both)))?;
        }
        self.reoffer()
    }

    /// The XMPP side adds streams: they go to SIP as new m-lines in a re-INVITE; SIP's
    /// answer decides between content-accept and content-reject ([`Self::settle_xmpp_add`]).
    fn jingle_content_add(&mut self, j: &Jingle) -> Result<(), JingleRefusal> {
        if self.phase != Phase::Active || self.pending_sip_add.is_some() {
            return Err(JingleRefusal::OutOfOrder);
        }
        if self.reinvite_in_flight {
            return Err(JingleRefusal::TieBreak);
        }
        let view = self.xmpp_view.as_ref().ok_or(JingleRefusal::OutOfOrder)?;
        if j.contents.is_empty()
            || j.contents
                .iter()
                .any(|c| view.contents.iter().any(|k| k.name == c.name))
        {
            return Err(JingleRefusal::BadRequest(
                "content-add needs new content names".into(),
            ));
        }
        let mut next = view.clone();
        next.contents.extend(j.contents.iter().cloned());
        jingle_to_sdp(&next, self.xmpp_role(), 1)
            .map_err(|e| JingleRefusal::BadRequest(e.to_string()))?;
        self.xmpp_view = Some(next);
        self.pending_xmpp_add = j.contents.clone();
        self.local_before_add = self.local_sdp.clone();
        self.reoffer()
    }

    /// The XMPP side removes streams: their m-lines get port 0 in a re-INVITE (RFC 3264
    /// §8.2); nothing is answered in Jingle (XEP-0166 §7.2.7).
    fn jingle_content_remove(&mut self, j: &Jingle) -> Result<(), JingleRefusal> {
        if self.phase != Phase::Active {
            return Err(JingleRefusal::OutOfOrder);
        }
        if self.reinvite_in_flight {
            return Err(JingleRefusal::TieBreak);
        }
        let view = self.xmpp_view.as_ref().ok_or(JingleRefusal::OutOfOrder)?;
        for c in &j.contents {
            if !view.contents.iter().any(|k| k.name == c.name) {
                return Err(JingleRefusal::BadRequest("no such content".into()));
            }
        }
        let live = view
            .contents
            .iter()
            .filter(|k| !self.removed.contains(&k.name))
            .count();
        let removing = j
            .contents
            .iter()
            .filter(|c| !self.removed.contains(&c.name))
            .count();
        if removing >= live {
            // XEP-0166 §7.2.7: removing every content is a session-terminate.
            return Err(JingleRefusal::BadRequest(
                "removing every content ends the session: send session-terminate".into(),
            ));
        }
        for c in &j.contents {
            if !self.removed.contains(&c.name) {
                self.removed.push(c.name.clone());
            }
        }
        self.reoffer()
    }

    /// The XMPP side answered the content-add a SIP re-offer became: the held re-INVITE gets
    /// its 200, with the accepted streams, or port 0 for the rejected ones.
    fn jingle_content_answer(
        &mut self,
        now: Instant,
        j: &Jingle,
        accepted: bool,
    ) -> Result<(), JingleRefusal> {
        let Some(offer) = self.pending_sip_add.take() else {
            return Err(JingleRefusal::OutOfOrder);
        };
        if accepted {
            let mut next = self.xmpp_view.clone().ok_or(JingleRefusal::OutOfOrder)?;
            next.contents.extend(j.contents.iter().cloned());
            if let Err(e) = jingle_to_sdp(&next, self.xmpp_role(), 1) {
                self.pending_sip_add = Some(offer);
                return Err(JingleRefusal::BadRequest(e.to_string()));
            }
            self.xmpp_view = Some(next);
        }
        self.answer_reinvite(now, offer);
        Ok(())
    }

    /// SIP answered our re-INVITE carrying the XMPP side's content-add (or refused it):
    /// content-accept with SIP's side of each new stream, or content-reject.
    fn settle_xmpp_add(&mut self, answer: Option<&SessionDescription>) {
        let added = std::mem::take(&mut self.pending_xmpp_add);
        if added.is_empty() {
            return;
        }
        let first = self
            .xmpp_view
            .as_ref()
            .map_or(0, |v| v.contents.len().saturating_sub(added.len()));
        let sip_side = answer.and_then(|sdp| {
            sdp_to_jingle(sdp, self.sip_role(), Action::ContentAccept, &self.sid, 0)
                .ok()
                .map(|t| (sdp, t.jingle))
        });
        let mut accept = Jingle::new(Action::ContentAccept, self.sid.clone());
        let mut reject = Jingle::new(Action::ContentReject, self.sid.clone());
        for (i, content) in added.iter().enumerate() {
            let theirs = sip_side.as_ref().and_then(|(sdp, jingle)| {
                sdp.media.get(first + i).filter(|m| m.port != 0)?;
                // sdp_to_jingle leaves port-0 m-lines out: count the live ones before it.
                let live_before = sdp.media[..first + i]
                    .iter()
                    .filter(|m| m.port != 0)
                    .count();
                jingle.contents.get(live_before).cloned()
            });
            match theirs {
                Some(mut c) => {
                    c.name = content.name.clone();
                    c.creator = content.creator;
                    c.senders = content.senders;
                    accept.contents.push(c);
                }
                None => {
                    reject
                        .contents
                        .push(Content::new(content.creator, content.name.clone()));
                    self.removed.push(content.name.clone());
                }
            }
        }
        if answer.is_none() {
            // The re-INVITE failed: the streams never existed (RFC 3261 §14.1).
            if let Some(view) = self.xmpp_view.as_mut() {
                view.contents.truncate(first);
            }
            if let Some(before) = self.local_before_add.take() {
                self.local_sdp = Some(before);
            }
            self.removed.retain(|n| !added.iter().any(|c| &c.name == n));
        }
        for j in [accept, reject] {
            if !j.contents.is_empty() {
                self.jingle(j);
            }
        }
    }

    /// Senders for a hold by the XMPP party: it stops receiving, keeps sending (RFC 6337
    /// §5.3: the holder offers sendonly), seen from the Jingle roles.
    fn xmpp_senders_on_hold(&self) -> Senders {
        match self.origin {
            Origin::Jingle => Senders::Initiator,
            Origin::Sip => Senders::Responder,
        }
    }

    /// Set `senders` on one content (or all, `name` None; `senders` None restores both).
    fn set_xmpp_senders(
        &mut self,
        name: Option<&str>,
        senders: Option<Senders>,
    ) -> Result<(), JingleRefusal> {
        let view = self.xmpp_view.as_mut().ok_or(JingleRefusal::OutOfOrder)?;
        let mut found = false;
        for c in view
            .contents
            .iter_mut()
            .filter(|c| name.is_none_or(|n| c.name == n))
        {
            c.senders = senders.filter(|s| *s != Senders::Both);
            found = true;
        }
        if found {
            Ok(())
        } else {
            Err(JingleRefusal::BadRequest("no such content".into()))
        }
    }

    // ---- SIP side ----

    fn sip_answered(&mut self, now: Instant, sdp: SessionDescription) {
        if self.origin != Origin::Jingle || self.phase != Phase::Alerting {
            return;
        }
        self.ring_deadline = None;
        match sdp_to_jingle(&sdp, Role::Responder, Action::SessionAccept, &self.sid, 0) {
            Ok(t) => {
                let mut accept = t.jingle;
                accept.responder = self.xmpp_view.as_ref().and_then(|v| v.responder.clone());
                self.sip_view = Some(accept.clone());
                self.sip_sdp = Some(sdp);
                self.jingle(accept);
                self.activate(now);
                self.reoffer_if_needed();
            }
            Err(e) => {
                // Answered with something Jingle cannot carry: hang up both legs.
                self.sip(SipAction::Bye {
                    reason: reason_header(488, &e.to_string()),
                });
                self.jingle(terminate(
                    &self.sid,
                    ReasonCondition::IncompatibleParameters,
                ));
                self.end(now, ReasonCondition::IncompatibleParameters, 488);
            }
        }
    }

    fn sip_reinvite(&mut self, now: Instant, offer: SessionDescription) {
        if self.phase != Phase::Active || self.reinvite_in_flight || self.pending_sip_add.is_some()
        {
            // Not now, or glare (RFC 3261 §14.1).
            self.sip(SipAction::RejectReInvite { status: 491 });
            return;
        }
        let mut next =
            match sdp_to_jingle(&offer, self.sip_role(), Action::SessionAccept, &self.sid, 0) {
                Ok(t) => t.jingle,
                Err(_) => {
                    self.sip(SipAction::RejectReInvite { status: 488 });
                    return;
                }
            };
        let known = self.local_sdp.as_ref().map_or(0, |l| l.media.len());
        let mut added = None;
        if let Some(current) = &self.sip_view {
            for mut change in jingle_changes(current, &next, self.sip_role()) {
                change.sid = self.sid.clone();
                if change.action == Action::ContentAdd {
                    // Streams appended after the session's m-lines become a content-add; a
                    // stream put in a port-0 slot (RFC 3264 §8.1) is refused with port 0.
                    let appended = &offer.media[known.min(offer.media.len())..];
                    if appended.len() == change.contents.len()
                        && appended.iter().all(|m| m.port != 0)
                    {
                        added = Some(change);
                    }
                    continue;
                }
                self.outputs.push_back(Output::Jingle(change));
            }
            if added.is_none() {
                next.contents
                    .retain(|c| current.contents.iter().any(|k| k.name == c.name));
            }
        }
        // Streams SIP set to port 0 are gone on our side too, and stay port 0.
        if let Some(view) = &self.xmpp_view {
            for (media, content) in offer.media.iter().zip(&view.contents) {
                if media.port == 0 && !self.removed.contains(&content.name) {
                    self.removed.push(content.name.clone());
                }
            }
        }
        self.sip_view = Some(next);
        self.sip_sdp = Some(offer.clone());
        // A re-INVITE is a session refresh (RFC 4028 §10).
        self.arm_session_expiry(now);
        match added {
            Some(add) => {
                // The answer waits for the XMPP side's content-accept or content-reject.
                self.pending_sip_add = Some(offer);
                self.pending_sip_contents = add
                    .contents
                    .iter()
                    .map(|c| (c.creator, c.name.clone()))
                    .collect();
                self.add_deadline = Some(now + CONTENT_ADD_WAIT);
                self.jingle(add);
            }
            None => self.answer_reinvite(now, offer),
        }
    }

    /// The 200 to SIP's re-offer: the XMPP side's description as it now stands, each m-line
    /// mirroring the offered direction, streams we do not have refused with port 0.
    fn answer_reinvite(&mut self, _now: Instant, offer: SessionDescription) {
        self.add_deadline = None;
        match self.next_local_sdp() {
            Some(local) => {
                let sdp = answer_directions(&local, &offer, local.origin.session_version);
                self.local_sdp = Some(sdp.clone());
                self.sip(SipAction::AcceptReInvite { sdp });
            }
            None => self.sip(SipAction::RejectReInvite { status: 500 }),
        }
        // Candidates that came while SIP's offer was held go now.
        self.reoffer_if_needed();
    }

    /// The XMPP side never answered the content-add: SIP's new streams are refused, and the
    /// content-add is withdrawn with a content-remove.
    fn content_add_unanswered(&mut self, now: Instant) {
        let Some(offer) = self.pending_sip_add.take() else {
            return;
        };
        let mut remove = Jingle::new(Action::ContentRemove, self.sid.clone());
        for (creator, name) in std::mem::take(&mut self.pending_sip_contents) {
            remove.contents.push(Content::new(creator, name));
        }
        if !remove.contents.is_empty() {
            self.jingle(remove);
        }
        self.answer_reinvite(now, offer);
    }

    // ---- shared ----

    /// The Jingle role the SIP side's SDP speaks for.
    fn sip_role(&self) -> Role {
        match self.origin {
            Origin::Sip => Role::Initiator,
            Origin::Jingle => Role::Responder,
        }
    }

    fn xmpp_role(&self) -> Role {
        match self.origin {
            Origin::Sip => Role::Responder,
            Origin::Jingle => Role::Initiator,
        }
    }

    fn flush_if_gathered(&mut self, now: Instant) {
        if self.xmpp_view.as_ref().is_some_and(all_gathered) {
            self.gather_until = None;
            self.flush(now);
        }
    }

    /// The XMPP side's description goes to SIP: the INVITE, or the 200 to the caller.
    fn flush(&mut self, now: Instant) {
        if self.phase != Phase::Gathering {
            return;
        }
        let Some(sdp) = self.next_local_sdp() else {
            // Validated when it arrived; a later merge cannot make it unwritable.
            return;
        };
        match self.origin {
            Origin::Jingle => {
                self.sip(SipAction::Invite { sdp });
                self.phase = Phase::Alerting;
                self.ring_deadline = Some(now + self.config.ring_timeout);
            }
            Origin::Sip => {
                self.sip(SipAction::Accept { sdp });
                self.activate(now);
            }
        }
    }

    fn next_local_sdp(&mut self) -> Option<SessionDescription> {
        let view = self.xmpp_view.as_ref()?;
        let mut sdp = jingle_to_sdp(view, self.xmpp_role(), self.sdp_version + 1).ok()?;
        for (content, media) in view.contents.iter().zip(sdp.media.iter_mut()) {
            if self.removed.contains(&content.name) {
                media.port = 0;
            }
        }
        self.sdp_version += 1;
        self.local_sdp = Some(sdp.clone());
        Some(sdp)
    }

    fn activate(&mut self, now: Instant) {
        self.phase = Phase::Active;
        self.answer = Some(now);
        self.end_deadline = Some(now + self.config.max_duration);
        self.arm_session_expiry(now);
    }

    /// A new offer from the XMPP side's current description (hold, senders, candidates).
    fn reoffer(&mut self) -> Result<(), JingleRefusal> {
        // One offer at a time (RFC 3261 §14.1): ours in flight, or SIP's held for a
        // content-accept.
        if self.reinvite_in_flight || self.pending_sip_add.is_some() {
            return Err(JingleRefusal::TieBreak);
        }
        match self.next_local_sdp() {
            Some(sdp) => {
                self.reinvite_in_flight = true;
                self.reoffer_needed = false;
                self.sip(SipAction::ReInvite { sdp });
                Ok(())
            }
            None => Err(JingleRefusal::BadRequest("cannot be written as SDP".into())),
        }
    }

    fn reoffer_if_needed(&mut self) {
        if self.reoffer_needed && self.phase == Phase::Active && !self.reinvite_in_flight {
            let _ = self.reoffer();
        }
    }

    fn unanswered(&mut self, now: Instant) {
        if self.phase != Phase::Alerting {
            return;
        }
        self.tell_callee_it_is_over(ReasonCondition::Timeout);
        self.sip_abandon(480, "No answer");
        self.end(now, ReasonCondition::Timeout, 480);
    }

    /// End the SIP leg before answer: reject the caller's INVITE, or cancel ours.
    fn sip_abandon(&mut self, status: u16, text: &str) {
        match (self.origin, self.phase) {
            (Origin::Sip, _) => self.sip(SipAction::Reject { status }),
            (Origin::Jingle, Phase::Alerting) => self.sip(SipAction::Cancel {
                reason: reason_header(status, text),
            }),
            _ => {}
        }
    }

    /// Before a device proceeded, the devices were only proposed to: retract the proposal
    /// (XEP-0353 §3.3); afterwards the Jingle session ends.
    fn tell_callee_it_is_over(&mut self, reason: ReasonCondition) {
        self.tell_callee_why(Reason::new(reason));
    }

    fn tell_callee_why(&mut self, reason: Reason) {
        if self.proposed.take().is_some() {
            let mut retract = JingleMessage::new(JmiKind::Retract, self.sid.clone());
            retract.reason = Some(reason);
            self.outputs.push_back(Output::Message(retract));
        } else {
            let mut j = Jingle::new(Action::SessionTerminate, self.sid.clone());
            j.reason = Some(reason);
            self.jingle(j);
        }
    }

    fn end(&mut self, now: Instant, reason: ReasonCondition, status: u16) {
        self.phase = Phase::Ended;
        self.gather_until = None;
        self.ring_deadline = None;
        self.end_deadline = None;
        self.expiry_deadline = None;
        self.add_deadline = None;
        self.pending_sip_add = None;
        self.outputs.push_back(Output::Ended(CallRecord {
            origin: self.origin,
            sid: self.sid.clone(),
            setup: self.setup,
            ringing: self.ringing,
            answer: self.answer,
            end: now,
            reason,
            status,
        }));
    }

    fn sip(&mut self, action: SipAction) {
        self.outputs.push_back(Output::Sip(action));
    }

    fn jingle(&mut self, j: Jingle) {
        self.outputs.push_back(Output::Jingle(j));
    }
}

fn terminate(sid: &str, reason: ReasonCondition) -> Jingle {
    let mut j = Jingle::new(Action::SessionTerminate, sid);
    j.reason = Some(Reason::new(reason));
    j
}

/// The final response for a Jingle reason (mapping doc §1.3).
fn sip_status(reason: ReasonCondition) -> u16 {
    JingleReason::parse(reason.as_str())
        .map_or(500, |r| jingle_reason_to_sip_status(r, Target::FullJid))
}

fn jingle_reason(status: u16) -> ReasonCondition {
    sip_status_to_jingle_reason(status)
        .as_str()
        .parse()
        .unwrap_or(ReasonCondition::GeneralError)
}

/// Every ICE transport said end-of-candidates (Raw UDP has nothing to trickle).
fn all_gathered(j: &Jingle) -> bool {
    j.contents.iter().all(|c| match &c.transport {
        Some(Transport::IceUdp(ice)) => ice.gathering_complete,
        _ => true,
    })
}

/// Add a transport-info's candidates (and end-of-candidates) to the matching contents.
fn merge_candidates(view: &mut Jingle, info: &Jingle) {
    for c in &info.contents {
        let Some(Transport::IceUdp(add)) = &c.transport else {
            continue;
        };
        let target: Option<&mut Content> = view.contents.iter_mut().find(|v| v.name == c.name);
        if let Some(Transport::IceUdp(ice)) = target.and_then(|t| t.transport.as_mut()) {
            for cand in &add.candidates {
                if !ice.candidates.iter().any(|x| x.id == cand.id) {
                    ice.candidates.push(cand.clone());
                }
            }
            ice.gathering_complete |= add.gathering_complete;
        }
    }
}

/// The answer to a re-offer: our last SDP, next version, each m-line's direction the
/// mirror of the offer's (RFC 3264 §6.1); m-lines the offer adds are refused with port 0
/// until the XMPP side accepts them (RFC 3264 §6).
fn answer_directions(
    local: &SessionDescription,
    offer: &SessionDescription,
    version: u64,
) -> SessionDescription {
    let mut answer = local.clone();
    answer.origin.session_version = version;
    for (i, offered) in offer.media.iter().enumerate() {
        let mirrored = match offered.effective_direction(offer) {
            Direction::SendOnly => Direction::RecvOnly,
            Direction::RecvOnly => Direction::SendOnly,
            Direction::Inactive => Direction::Inactive,
            Direction::SendRecv => Direction::SendRecv,
        };
        match answer.media.get_mut(i) {
            // RFC 3264 §8.2: a stream offered with port 0 is answered with port 0.
            Some(m) if offered.port == 0 => m.port = 0,
            Some(m) => {
                keep_offered_formats(m, offered);
                m.attributes
                    .retain(|a| Direction::from_name(&a.name).is_none());
                m.attributes.push(Attribute::flag(mirrored.as_str()));
            }
            None => {
                let mut refused = offered.clone();
                refused.port = 0;
                answer.media.push(refused);
            }
        }
    }
    answer
}

/// RFC 3264 §6.1: an answer lists only formats the offer has. The XMPP side's formats that
/// the re-offer dropped go, with their rtpmap/fmtp/rtcp-fb lines; with none left in common
/// the stream is refused (port 0, the offered formats listed as §6 asks).
fn keep_offered_formats(answer: &mut crate::sdp::Media, offered: &crate::sdp::Media) {
    let common: Vec<String> = answer
        .formats
        .iter()
        .filter(|f| offered.formats.contains(f))
        .cloned()
        .collect();
    if common.is_empty() {
        answer.port = 0;
        answer.formats = offered.formats.clone();
        return;
    }
    answer.formats = common;
    let formats = answer.formats.clone();
    answer.attributes.retain(|a| {
        if !matches!(a.name.as_str(), "rtpmap" | "fmtp" | "rtcp-fb") {
            return true;
        }
        let pt = a
            .value
            .as_deref()
            .and_then(|v| v.split_whitespace().next())
            .unwrap_or("");
        pt == "*" || formats.iter().any(|f| f == pt)
    });
}
