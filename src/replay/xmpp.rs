//! The XMPP side of a replay: scripted users bound in the router like real sessions, who
//! answer the gateway's capability query, and accept, refuse or ignore its calls as the
//! fixture says; and the calls they place towards SIP.

use std::sync::Arc;
use std::time::Duration;

use jid::FullJid;
use tandem_translations::jingle::{
    self, Action, JinglePayload, RawUdpCandidate, RawUdpTransport, Transport,
};
use tandem_xmpp::Element;

use super::fixture::{Answer, Fixture, OutgoingCall, User};
use crate::server::mailbox::Mailbox;
use crate::server::{SessionCommand, SessionHandle, Shared};

const JINGLE_NS: &str = "urn:xmpp:jingle:1";
const JMI_NS: &str = "urn:xmpp:jingle-message:0";
const DISCO_INFO_NS: &str = "http://jabber.org/protocol/disco#info";

/// Something a scripted user does later (virtual seconds from now).
#[derive(Debug, Clone)]
pub enum Later {
    /// Send this stanza to the gateway.
    Send(String),
    /// Place this call.
    Call(OutgoingCall),
}

/// One bound resource of a scripted user.
pub struct Device {
    pub jid: FullJid,
    user: User,
    mailbox: Arc<Mailbox>,
    /// Sessions this device accepted (to hang up) and JMI proposals it proceeded with.
    proceeded: Vec<String>,
}

pub struct XmppSide {
    pub devices: Vec<Device>,
    sip_domain: String,
    next_id: u64,
}

impl XmppSide {
    /// Binds every resource of every user, available at priority 0.
    pub fn bind(shared: &Shared, fixture: &Fixture) -> anyhow::Result<XmppSide> {
        let mut devices = Vec::new();
        for user in &fixture.users {
            for resource in &user.resources {
                let jid = FullJid::new(&format!("{}@{}/{resource}", user.name, fixture.domain))?;
                let (handle, mailbox) = SessionHandle::detached(shared);
                let id = handle.id;
                shared.routes.bind(jid.clone(), handle);
                let presence = Element::new("presence", "jabber:client");
                shared.routes.set_presence(
                    &jid,
                    &|h: &SessionHandle| h.id == id,
                    Some((0, Arc::new(presence))),
                );
                devices.push(Device {
                    jid,
                    user: user.clone(),
                    mailbox,
                    proceeded: Vec::new(),
                });
            }
        }
        Ok(XmppSide {
            devices,
            sip_domain: fixture.sip_domain(),
            next_id: 0,
        })
    }

    /// What tandem delivered to the devices since the last call: (device, stanza).
    pub fn delivered(&self) -> Vec<(usize, Element)> {
        let mut out = Vec::new();
        for (i, d) in self.devices.iter().enumerate() {
            while let Some(command) = d.mailbox.try_recv() {
                if let SessionCommand::Deliver(stanza) = command {
                    out.push((i, *stanza));
                }
            }
        }
        out
    }

    fn id(&mut self) -> String {
        self.next_id += 1;
        format!("r{}", self.next_id)
    }

    /// How device `i` reacts to `stanza`: stanzas to send now, and things to do later.
    pub fn react(&mut self, i: usize, stanza: &Element) -> (Vec<String>, Vec<(Duration, Later)>) {
        let mut now = Vec::new();
        let mut later = Vec::new();
        let jid = self.devices[i].jid.to_string();
        let user = self.devices[i].user.clone();
        let from = stanza.attr("from").unwrap_or_default().to_owned();
        let id = stanza.attr("id").unwrap_or_default().to_owned();
        match (stanza.name(), stanza.attr("type")) {
            ("iq", Some("get")) if stanza.get_child("query", DISCO_INFO_NS).is_some() => {
                let jmi = if user.jmi {
                    format!("<feature var='{JMI_NS}'/>")
                } else {
                    String::new()
                };
                now.push(format!(
                    "<iq type='result' id='{}' from='{jid}' to='{}'><query xmlns='{DISCO_INFO_NS}'>\
                     <feature var='{JINGLE_NS}'/><feature var='urn:xmpp:jingle:apps:rtp:1'/>\
                     <feature var='urn:xmpp:jingle:apps:rtp:audio'/>\
                     <feature var='urn:xmpp:jingle:transports:raw-udp:1'/>{jmi}</query></iq>",
                    attr(&id),
                    attr(&from)
                ));
            }
            ("iq", Some("set")) => {
                now.push(format!(
                    "<iq type='result' id='{}' from='{jid}' to='{}'/>",
                    attr(&id),
                    attr(&from)
                ));
                let Some(j) = jingle_of(stanza) else {
                    return (now, later);
                };
                match j.action {
                    Action::SessionInitiate => {
                        if user.ringing {
                            let id = self.id();
                            now.push(format!(
                                "<iq type='set' id='{id}' from='{jid}' to='{}'>\
                                 <jingle xmlns='{JINGLE_NS}' action='session-info' sid='{}'>\
                                 <ringing xmlns='urn:xmpp:jingle:apps:rtp:info:1'/></jingle></iq>",
                                attr(&from),
                                attr(&j.sid)
                            ));
                        }
                        let proceeded = self.devices[i].proceeded.contains(&j.sid);
                        let wait = if proceeded { 0.0 } else { user.answer_after };
                        if let Some(reply) = self.answer_initiate(i, &from, &j) {
                            later.push((seconds(wait), Later::Send(reply)));
                            if let (Answer::Accept, Some(h)) = (user.answer, user.hangup_after) {
                                later.push((
                                    seconds(wait + h),
                                    Later::Send(self.terminate(i, &from, &j.sid)),
                                ));
                            }
                        }
                    }
                    Action::SessionAccept => {
                        // Our own call was answered: hang up when the fixture says.
                        if let Some(h) = self.hangup_of_call(i) {
                            later.push((seconds(h), Later::Send(self.terminate(i, &from, &j.sid))));
                        }
                    }
                    _ => {}
                }
            }
            ("message", _) => {
                let Some(m) = stanza.children().find(|c| c.ns() == JMI_NS) else {
                    return (now, later);
                };
                if m.name() != "propose" || !user.jmi {
                    return (now, later);
                }
                let proposal = m.attr("id").unwrap_or_default().to_owned();
                now.push(self.jmi(i, &from, "ringing", &proposal, ""));
                let reply = match user.answer {
                    Answer::Accept => {
                        self.devices[i].proceeded.push(proposal.clone());
                        Some(self.jmi(i, &from, "proceed", &proposal, ""))
                    }
                    Answer::Busy => Some(self.jmi(
                        i,
                        &from,
                        "reject",
                        &proposal,
                        "<reason xmlns='urn:xmpp:jingle:1'><busy/></reason>",
                    )),
                    Answer::Decline => Some(self.jmi(
                        i,
                        &from,
                        "reject",
                        &proposal,
                        "<reason xmlns='urn:xmpp:jingle:1'><decline/></reason>",
                    )),
                    Answer::Ignore => None,
                };
                if let Some(reply) = reply {
                    later.push((seconds(user.answer_after), Later::Send(reply)));
                }
            }
            _ => {}
        }
        (now, later)
    }

    fn jmi(&mut self, i: usize, to: &str, kind: &str, proposal: &str, body: &str) -> String {
        format!(
            "<message type='chat' id='{}' from='{}' to='{}'><{kind} xmlns='{JMI_NS}' id='{}'>{body}</{kind}></message>",
            self.id(),
            self.devices[i].jid,
            attr(to),
            attr(proposal)
        )
    }

    /// The device's answer to a session-initiate, as its fixture says.
    fn answer_initiate(&mut self, i: usize, to: &str, initiate: &jingle::Jingle) -> Option<String> {
        let user = &self.devices[i].user;
        let body = match user.answer {
            Answer::Ignore => return None,
            Answer::Busy => terminate_xml(&initiate.sid, "busy"),
            Answer::Decline => terminate_xml(&initiate.sid, "decline"),
            Answer::Accept => {
                let mut accept = initiate.clone();
                accept.action = Action::SessionAccept;
                accept.responder = Some(self.devices[i].jid.to_string());
                accept.initiator = None;
                for (n, content) in accept.contents.iter_mut().enumerate() {
                    content.transport = Some(Transport::RawUdp(RawUdpTransport {
                        candidates: vec![RawUdpCandidate {
                            component: Some(1),
                            generation: 0,
                            id: format!("r{n}"),
                            ip: "198.51.100.7".into(),
                            port: 40000 + 2 * n as u16,
                            candidate_type: None,
                            unknown_attrs: Vec::new(),
                            unknown: Vec::new(),
                        }],
                        unknown_attrs: Vec::new(),
                        unknown: Vec::new(),
                    }));
                }
                accept.to_xml()
            }
        };
        let id = self.id();
        Some(format!(
            "<iq type='set' id='{id}' from='{}' to='{}'>{body}</iq>",
            self.devices[i].jid,
            attr(to)
        ))
    }

    fn terminate(&mut self, i: usize, to: &str, sid: &str) -> String {
        let id = self.id();
        format!(
            "<iq type='set' id='{id}' from='{}' to='{}'>{}</iq>",
            self.devices[i].jid,
            attr(to),
            terminate_xml(sid, "success")
        )
    }

    fn hangup_of_call(&self, i: usize) -> Option<f64> {
        self.devices[i].user.hangup_after
    }

    /// The session-initiate of a call the fixture places, from `device`.
    pub fn place(&mut self, call: &OutgoingCall, n: usize) -> Option<(usize, String)> {
        let i = self.devices.iter().position(|d| {
            format!(
                "{}/{}",
                d.jid.node().map(|n| n.as_str()).unwrap_or(""),
                d.jid.resource()
            ) == call.from
        })?;
        if let Some(h) = call.hangup_after {
            self.devices[i].user.hangup_after = Some(h);
        }
        let id = self.id();
        let jid = self.devices[i].jid.clone();
        Some((
            i,
            format!(
                "<iq type='set' id='{id}' from='{jid}' to='{}@{}'>\
                 <jingle xmlns='{JINGLE_NS}' action='session-initiate' sid='call{n}' initiator='{jid}'>\
                 <content creator='initiator' name='audio' senders='both'>\
                 <description xmlns='urn:xmpp:jingle:apps:rtp:1' media='audio'>\
                 <payload-type id='0' name='PCMU' clockrate='8000'/>\
                 <payload-type id='8' name='PCMA' clockrate='8000'/>\
                 <payload-type id='101' name='telephone-event' clockrate='8000'/></description>\
                 <transport xmlns='urn:xmpp:jingle:transports:raw-udp:1'>\
                 <candidate component='1' generation='0' id='c1' ip='198.51.100.7' port='{}'/></transport>\
                 </content></jingle></iq>",
                attr(&call.to),
                self.sip_domain,
                41000 + 2 * n as u16
            ),
        ))
    }
}

fn terminate_xml(sid: &str, reason: &str) -> String {
    format!(
        "<jingle xmlns='{JINGLE_NS}' action='session-terminate' sid='{}'><reason><{reason}/></reason></jingle>",
        attr(sid)
    )
}

fn jingle_of(stanza: &Element) -> Option<jingle::Jingle> {
    let child = stanza.get_child("jingle", JINGLE_NS)?;
    let mut xml = String::new();
    child.write_to(&mut xml, "");
    match jingle::parse(&xml).ok()? {
        JinglePayload::Jingle(j) => Some(j),
        JinglePayload::Message(_) => None,
    }
}

fn seconds(s: f64) -> Duration {
    Duration::from_secs_f64(s.max(0.0))
}

fn attr(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('\'', "&apos;")
        .replace('<', "&lt;")
}
