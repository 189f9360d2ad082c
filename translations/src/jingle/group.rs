//! XEP-0338 `<group semantics>` of content names (SDP a=group, e.g. BUNDLE).

use super::xml::{self, Attrs, Element, XmlWriter};
use super::{ns, JingleError};

/// `<group xmlns='urn:xmpp:jingle:apps:grouping:0' semantics='BUNDLE'>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    /// @semantics (BUNDLE, LS, FID, …).
    pub semantics: String,
    /// `<content name>` children, in order.
    pub contents: Vec<String>,
    /// Unknown attributes.
    pub unknown_attrs: Vec<(String, String)>,
    /// Unknown children, raw XML.
    pub unknown: Vec<String>,
}

impl Group {
    pub(crate) fn from_element(el: &Element<'_>) -> Result<Self, JingleError> {
        let mut a = Attrs::new(el);
        let semantics = a.req("group", "semantics")?;
        let mut g = Group {
            semantics,
            contents: Vec::new(),
            unknown_attrs: a.rest(),
            unknown: Vec::new(),
        };
        for c in el.elements() {
            match (c.is(ns::GROUPING, "content"), c.attr("name")) {
                (true, Some(n)) if c.attrs.len() == 1 && c.elements().next().is_none() => {
                    g.contents.push(n.to_owned())
                }
                (true, None) => {
                    return Err(JingleError::MissingAttribute {
                        element: "content",
                        attribute: "name",
                    })
                }
                _ => g.unknown.push(xml::raw(c)),
            }
        }
        Ok(g)
    }

    pub(crate) fn write<'a>(&'a self, w: &mut XmlWriter<'a>) {
        w.start(ns::GROUPING, "group");
        w.attr("semantics", &self.semantics);
        w.attrs(&self.unknown_attrs);
        for n in &self.contents {
            w.start(ns::GROUPING, "content");
            w.attr("name", n);
            w.end();
        }
        w.raws(&self.unknown);
        w.end();
    }
}
