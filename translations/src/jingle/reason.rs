//! XEP-0166 §7.4 `<reason>`: one condition, optional text, optional app-specific children.

use super::action::string_enum;
use super::xml::{self, Attrs, Element, XmlWriter};
use super::{ns, JingleError};

string_enum! {
    /// The 17 XEP-0166 reason conditions.
    ReasonCondition {
        /// alternative-session (see [`Reason::alternative_sid`])
        AlternativeSession = "alternative-session",
        /// busy
        Busy = "busy",
        /// cancel
        Cancel = "cancel",
        /// connectivity-error
        ConnectivityError = "connectivity-error",
        /// decline
        Decline = "decline",
        /// expired
        Expired = "expired",
        /// failed-application
        FailedApplication = "failed-application",
        /// failed-transport
        FailedTransport = "failed-transport",
        /// general-error
        GeneralError = "general-error",
        /// gone
        Gone = "gone",
        /// incompatible-parameters
        IncompatibleParameters = "incompatible-parameters",
        /// media-error
        MediaError = "media-error",
        /// security-error
        SecurityError = "security-error",
        /// success
        Success = "success",
        /// timeout
        Timeout = "timeout",
        /// unsupported-applications
        UnsupportedApplications = "unsupported-applications",
        /// unsupported-transports
        UnsupportedTransports = "unsupported-transports",
    }
}

/// A `<reason>` (in session-terminate, content-reject, JMI reject/finish …).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reason {
    /// The condition element.
    pub condition: ReasonCondition,
    /// `<alternative-session><sid>…</sid></alternative-session>`.
    pub alternative_sid: Option<String>,
    /// Human-readable `<text>`.
    pub text: Option<String>,
    /// `xml:lang` (or other attributes) of `<text>`, kept as is.
    pub text_attrs: Vec<(String, String)>,
    /// App-specific children (e.g. RTPERR `<invalid-crypto/>`), as raw XML.
    pub app_specific: Vec<String>,
    /// Unknown attributes on `<reason>`.
    pub unknown_attrs: Vec<(String, String)>,
}

impl Reason {
    /// A reason with just a condition.
    pub fn new(condition: ReasonCondition) -> Self {
        Reason {
            condition,
            alternative_sid: None,
            text: None,
            text_attrs: Vec::new(),
            app_specific: Vec::new(),
            unknown_attrs: Vec::new(),
        }
    }

    pub(crate) fn from_element(el: &Element<'_>) -> Result<Self, JingleError> {
        xml::expect(el, ns::JINGLE, "reason")?;
        let unknown_attrs = Attrs::new(el).rest();
        let mut condition = None;
        let mut alternative_sid = None;
        let mut text = None;
        let mut text_attrs = Vec::new();
        let mut app_specific = Vec::new();
        for c in el.elements() {
            if c.ns == ns::JINGLE && c.name == "text" && text.is_none() {
                text = Some(c.text());
                text_attrs = xml::owned_attrs(&c.attrs);
            } else if let (true, None, Ok(cond)) = (
                c.ns == ns::JINGLE,
                condition,
                c.name.parse::<ReasonCondition>(),
            ) {
                if cond == ReasonCondition::AlternativeSession {
                    alternative_sid = c
                        .elements()
                        .find(|s| s.is(ns::JINGLE, "sid"))
                        .map(|s| s.text().trim().to_owned());
                }
                condition = Some(cond);
            } else {
                app_specific.push(xml::raw(c));
            }
        }
        let condition = condition.ok_or(JingleError::MissingChild {
            element: "reason",
            child: "condition",
        })?;
        Ok(Reason {
            condition,
            alternative_sid,
            text,
            text_attrs,
            app_specific,
            unknown_attrs,
        })
    }

    pub(crate) fn write<'a>(&'a self, w: &mut XmlWriter<'a>) {
        w.start(ns::JINGLE, "reason");
        w.attrs(&self.unknown_attrs);
        w.start(ns::JINGLE, self.condition.as_str());
        if let (ReasonCondition::AlternativeSession, Some(sid)) =
            (self.condition, &self.alternative_sid)
        {
            w.start(ns::JINGLE, "sid");
            w.text(sid);
            w.end();
        }
        w.end();
        if let Some(t) = &self.text {
            w.start(ns::JINGLE, "text");
            w.attrs(&self.text_attrs);
            if !t.is_empty() {
                w.text(t);
            }
            w.end();
        }
        w.raws(&self.app_specific);
        w.end();
    }
}
