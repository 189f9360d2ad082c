//! XEP-0339 source-specific media attributes: `<source>` and `<ssrc-group>`.

use super::xml::{self, Attrs, Element};
use super::{ns, JingleError};

/// A `<parameter name [value]>` whose value is optional (XEP-0339, XEP-0294).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceParameter {
    /// @name.
    pub name: String,
    /// @value (absent when the SDP attribute had none).
    pub value: Option<String>,
}

impl SourceParameter {
    pub(crate) fn from_element(el: &Element) -> Result<Self, JingleError> {
        let mut a = Attrs::new(el);
        Ok(SourceParameter {
            name: a.req("parameter", "name")?,
            value: a.opt("value"),
        })
    }

    pub(crate) fn to_element(&self, ns: &str) -> Element {
        let mut el = Element::new(ns, "parameter");
        el.set("name", self.name.clone());
        el.set_opt("value", &self.value);
        el
    }
}

/// `<source xmlns='urn:xmpp:jingle:apps:rtp:ssma:0' ssrc>` (SDP a=ssrc).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    /// @ssrc.
    pub ssrc: u32,
    /// `<parameter>` children.
    pub parameters: Vec<SourceParameter>,
    /// Unknown attributes.
    pub unknown_attrs: Vec<(String, String)>,
    /// Unknown children, raw XML.
    pub unknown: Vec<String>,
}

impl Source {
    pub(crate) fn from_element(el: &Element) -> Result<Self, JingleError> {
        let mut a = Attrs::new(el);
        let ssrc = a.req_parse("source", "ssrc")?;
        let mut s = Source {
            ssrc,
            parameters: Vec::new(),
            unknown_attrs: a.rest(),
            unknown: Vec::new(),
        };
        for c in el.elements() {
            if c.is(ns::SSMA, "parameter") && xml::only(c, &["name", "value"]) {
                s.parameters.push(SourceParameter::from_element(c)?);
            } else {
                s.unknown.push(xml::raw(c));
            }
        }
        Ok(s)
    }

    pub(crate) fn to_element(&self) -> Element {
        let mut el = Element::new(ns::SSMA, "source");
        el.set("ssrc", self.ssrc.to_string());
        el.extend_attrs(&self.unknown_attrs);
        for p in &self.parameters {
            el.push(p.to_element(ns::SSMA));
        }
        el.push_raw(&self.unknown);
        el
    }
}

/// `<ssrc-group semantics>` of `<source ssrc/>` (SDP a=ssrc-group).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SsrcGroup {
    /// @semantics (FID, SIM, FEC-FR).
    pub semantics: String,
    /// The member SSRCs, in order.
    pub sources: Vec<u32>,
    /// Unknown attributes.
    pub unknown_attrs: Vec<(String, String)>,
    /// Unknown children, raw XML.
    pub unknown: Vec<String>,
}

impl SsrcGroup {
    pub(crate) fn from_element(el: &Element) -> Result<Self, JingleError> {
        let mut a = Attrs::new(el);
        let semantics = a.req("ssrc-group", "semantics")?;
        let mut g = SsrcGroup {
            semantics,
            sources: Vec::new(),
            unknown_attrs: a.rest(),
            unknown: Vec::new(),
        };
        for c in el.elements() {
            if c.is(ns::SSMA, "source") && c.attrs.len() == 1 && c.elements().next().is_none() {
                g.sources.push(Attrs::new(c).req_parse("source", "ssrc")?);
            } else {
                g.unknown.push(xml::raw(c));
            }
        }
        Ok(g)
    }

    pub(crate) fn to_element(&self) -> Element {
        let mut el = Element::new(ns::SSMA, "ssrc-group");
        el.set("semantics", self.semantics.clone());
        el.extend_attrs(&self.unknown_attrs);
        for s in &self.sources {
            let mut c = Element::new(ns::SSMA, "source");
            c.set("ssrc", s.to_string());
            el.push(c);
        }
        el.push_raw(&self.unknown);
        el
    }
}
