//! XEP-0353 Jingle Message Initiation payloads (carried in `<message>`).

use super::action::string_enum;
use super::content::Description;
use super::reason::Reason;
use super::xml::{self, Attrs, Element, XmlWriter};
use super::{ns, JingleError};

string_enum! {
    /// The JMI element.
    JmiKind {
        /// propose (carries descriptions)
        Propose = "propose",
        /// ringing
        Ringing = "ringing",
        /// proceed
        Proceed = "proceed",
        /// accept (sent to own resources)
        Accept = "accept",
        /// reject (may carry a reason)
        Reject = "reject",
        /// retract (may carry a reason)
        Retract = "retract",
        /// finish (may carry a reason)
        Finish = "finish",
    }
}

/// One JMI element, e.g. `<propose xmlns='urn:xmpp:jingle-message:0' id='…'>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JingleMessage {
    /// Which element.
    pub kind: JmiKind,
    /// @id (the future Jingle sid; required).
    pub id: String,
    /// `<description>` children (propose).
    pub descriptions: Vec<Description>,
    /// `<reason xmlns='urn:xmpp:jingle:1'>`.
    pub reason: Option<Reason>,
    /// Unknown attributes.
    pub unknown_attrs: Vec<(String, String)>,
    /// Unknown children (e.g. `<tie-break/>`), raw XML.
    pub unknown: Vec<String>,
}

impl JingleMessage {
    /// A JMI element with only its id.
    pub fn new(kind: JmiKind, id: impl Into<String>) -> Self {
        JingleMessage {
            kind,
            id: id.into(),
            descriptions: Vec::new(),
            reason: None,
            unknown_attrs: Vec::new(),
            unknown: Vec::new(),
        }
    }

    /// Parse a JMI element, or a `<message>` wrapping one.
    pub fn from_xml(xml: &str) -> Result<Self, JingleError> {
        let root = xml::parse(xml)?;
        if root.ns != ns::JMI && root.name == "message" {
            let c = root
                .elements()
                .find(|c| c.ns == ns::JMI)
                .ok_or(JingleError::MissingChild {
                    element: "message",
                    child: "propose",
                })?;
            return Self::from_element(c);
        }
        Self::from_element(&root)
    }

    /// Write the JMI element.
    pub fn to_xml(&self) -> String {
        let hint = 128 + self.descriptions.len() * 1024;
        let mut w = XmlWriter::with_capacity(hint);
        self.write(&mut w);
        w.finish()
    }

    pub(crate) fn from_element(el: &Element<'_>) -> Result<Self, JingleError> {
        let kind = match (el.ns == ns::JMI, el.name.parse::<JmiKind>()) {
            (true, Ok(k)) => k,
            _ => {
                return Err(JingleError::UnexpectedElement {
                    expected: "propose",
                    found: el.name.to_string(),
                    ns: el.ns.to_string(),
                })
            }
        };
        let mut a = Attrs::new(el);
        let mut m = JingleMessage::new(kind, a.req("jmi", "id")?);
        m.unknown_attrs = a.rest();
        for c in el.elements() {
            if c.name == "description" {
                m.descriptions.push(Description::from_element(c)?);
            } else if c.is(ns::JINGLE, "reason") && m.reason.is_none() {
                m.reason = Some(Reason::from_element(c)?);
            } else {
                m.unknown.push(xml::raw(c));
            }
        }
        Ok(m)
    }

    pub(crate) fn write<'a>(&'a self, w: &mut XmlWriter<'a>) {
        w.start(ns::JMI, self.kind.as_str());
        w.attr("id", &self.id);
        w.attrs(&self.unknown_attrs);
        for d in &self.descriptions {
            d.write(w);
        }
        if let Some(r) = &self.reason {
            r.write(w);
        }
        w.raws(&self.unknown);
        w.end();
    }
}
