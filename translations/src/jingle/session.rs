//! XEP-0166 `<jingle>` element.

use super::action::Action;
use super::content::Content;
use super::group::Group;
use super::info::SessionInfo;
use super::reason::Reason;
use super::xml::{self, Attrs, Element, XmlWriter};
use super::{ns, JingleError};

/// One `<jingle xmlns='urn:xmpp:jingle:1'>` element.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Jingle {
    /// @action (required).
    pub action: Action,
    /// @sid (required).
    pub sid: String,
    /// @initiator.
    pub initiator: Option<String>,
    /// @responder.
    pub responder: Option<String>,
    /// `<content>` children, in order.
    pub contents: Vec<Content>,
    /// `<reason>`.
    pub reason: Option<Reason>,
    /// XEP-0338 `<group>` children.
    pub groups: Vec<Group>,
    /// XEP-0167 session-info payloads (ringing, hold, …).
    pub info: Vec<SessionInfo>,
    /// Unknown attributes, in order.
    pub unknown_attrs: Vec<(String, String)>,
    /// Unknown child elements as raw XML.
    pub unknown: Vec<String>,
}

impl Jingle {
    /// A minimal element with the two required attributes.
    pub fn new(action: Action, sid: impl Into<String>) -> Self {
        Jingle {
            action,
            sid: sid.into(),
            initiator: None,
            responder: None,
            contents: Vec::new(),
            reason: None,
            groups: Vec::new(),
            info: Vec::new(),
            unknown_attrs: Vec::new(),
            unknown: Vec::new(),
        }
    }

    /// Parse a `<jingle>` element, or an `<iq>` wrapping one.
    pub fn from_xml(xml: &str) -> Result<Self, JingleError> {
        let root = xml::parse(xml)?;
        if root.name == "iq" {
            let j = root.elements().find(|c| c.is(ns::JINGLE, "jingle")).ok_or(
                JingleError::MissingChild {
                    element: "iq",
                    child: "jingle",
                },
            )?;
            return Self::from_element(j);
        }
        Self::from_element(&root)
    }

    /// Write the `<jingle>` element.
    pub fn to_xml(&self) -> String {
        let hint = 256 + self.contents.iter().map(Content::size_hint).sum::<usize>();
        let mut w = XmlWriter::with_capacity(hint);
        self.write(&mut w);
        w.finish()
    }

    pub(crate) fn from_element(el: &Element<'_>) -> Result<Self, JingleError> {
        xml::expect(el, ns::JINGLE, "jingle")?;
        let mut a = Attrs::new(el);
        let action_s = a.req("jingle", "action")?;
        let action = action_s
            .parse()
            .map_err(|_| JingleError::InvalidAttribute {
                element: "jingle",
                attribute: "action",
                value: action_s,
            })?;
        let mut j = Jingle::new(action, a.req("jingle", "sid")?);
        j.initiator = a.opt("initiator");
        j.responder = a.opt("responder");
        j.unknown_attrs = a.rest();
        for c in el.elements() {
            match (&*c.ns, &*c.name) {
                (ns::JINGLE, "content") => j.contents.push(Content::from_element(c)?),
                (ns::JINGLE, "reason") if j.reason.is_none() => {
                    j.reason = Some(Reason::from_element(c)?)
                }
                (ns::GROUPING, "group") => j.groups.push(Group::from_element(c)?),
                (ns::RTP_INFO, _) if SessionInfo::is_known(c) => {
                    j.info.push(SessionInfo::from_element(c)?)
                }
                _ => j.unknown.push(xml::raw(c)),
            }
        }
        Ok(j)
    }

    pub(crate) fn write<'a>(&'a self, w: &mut XmlWriter<'a>) {
        w.start(ns::JINGLE, "jingle");
        w.attr("action", self.action.as_str());
        w.attr_opt("initiator", &self.initiator);
        w.attr_opt("responder", &self.responder);
        w.attr("sid", &self.sid);
        w.attrs(&self.unknown_attrs);
        for c in &self.contents {
            c.write(w);
        }
        if let Some(r) = &self.reason {
            r.write(w);
        }
        for g in &self.groups {
            g.write(w);
        }
        for i in &self.info {
            i.write(w);
        }
        w.raws(&self.unknown);
        w.end();
    }
}
