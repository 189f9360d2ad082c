//! XEP-0339 source-specific media attributes: `<source>` and `<ssrc-group>`.

use super::xml::{self, Attrs, Element, XmlWriter};
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
    pub(crate) fn from_element(el: &Element<'_>) -> Result<Self, JingleError> {
        let mut a = Attrs::new(el);
        Ok(SourceParameter {
            name: a.req("parameter", "name")?,
            value: a.opt("value"),
        })
    }

    pub(crate) fn write<'a>(&'a self, w: &mut XmlWriter<'a>, ns: &'static str) {
        w.start(ns, "parameter");
        w.attr("name", &self.name);
        w.attr_opt("value", &self.value);
        w.end();
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
    pub(crate) fn from_element(el: &Element<'_>) -> Result<Self, JingleError> {
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

    pub(crate) fn write<'a>(&'a self, w: &mut XmlWriter<'a>) {
        w.start(ns::SSMA, "source");
        w.attr_display("ssrc", self.ssrc);
        w.attrs(&self.unknown_attrs);
        for p in &self.parameters {
            p.write(w, ns::SSMA);
        }
        w.raws(&self.unknown);
        w.end();
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
    pub(crate) fn from_element(el: &Element<'_>) -> Result<Self, JingleError> {
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

    pub(crate) fn write<'a>(&'a self, w: &mut XmlWriter<'a>) {
        w.start(ns::SSMA, "ssrc-group");
        w.attr("semantics", &self.semantics);
        w.attrs(&self.unknown_attrs);
        for s in &self.sources {
            w.start(ns::SSMA, "source");
            w.attr_display("ssrc", s);
            w.end();
        }
        w.raws(&self.unknown);
        w.end();
    }
}
