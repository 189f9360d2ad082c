//! XEP-0167 §7 session-info payloads (INFO namespace).

use super::action::{string_enum, Creator};
use super::xml::{self, Attrs, Element, XmlWriter};
use super::{ns, JingleError};

string_enum! {
    /// Which informational message.
    SessionInfoKind {
        /// active (resume after hold)
        Active = "active",
        /// hold
        Hold = "hold",
        /// mute
        Mute = "mute",
        /// ringing
        Ringing = "ringing",
        /// unmute
        Unmute = "unmute",
    }
}

/// One session-info payload; mute/unmute may name a content by creator + name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionInfo {
    /// The element.
    pub kind: SessionInfoKind,
    /// @creator (mute/unmute).
    pub creator: Option<Creator>,
    /// @name (mute/unmute).
    pub name: Option<String>,
    /// Unknown attributes.
    pub unknown_attrs: Vec<(String, String)>,
    /// Unknown children, raw XML.
    pub unknown: Vec<String>,
}

impl SessionInfo {
    /// A payload without attributes.
    pub fn new(kind: SessionInfoKind) -> Self {
        SessionInfo {
            kind,
            creator: None,
            name: None,
            unknown_attrs: Vec::new(),
            unknown: Vec::new(),
        }
    }

    pub(crate) fn is_known(el: &Element<'_>) -> bool {
        el.ns == ns::RTP_INFO && el.name.parse::<SessionInfoKind>().is_ok()
    }

    pub(crate) fn from_element(el: &Element<'_>) -> Result<Self, JingleError> {
        let kind = el
            .name
            .parse()
            .map_err(|_| JingleError::UnexpectedElement {
                expected: "ringing",
                found: el.name.to_string(),
                ns: el.ns.to_string(),
            })?;
        let mut a = Attrs::new(el);
        let creator = a.opt_parse("session-info", "creator")?;
        let name = a.opt("name");
        Ok(SessionInfo {
            kind,
            creator,
            name,
            unknown_attrs: a.rest(),
            unknown: xml::raw_children(el),
        })
    }

    pub(crate) fn write<'a>(&'a self, w: &mut XmlWriter<'a>) {
        w.start(ns::RTP_INFO, self.kind.as_str());
        w.attr_opt("creator", &self.creator);
        w.attr_opt("name", &self.name);
        w.attrs(&self.unknown_attrs);
        w.raws(&self.unknown);
        w.end();
    }
}
