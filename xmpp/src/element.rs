//! A small owned XML element tree: what the stream reader builds and the router moves around.
//!
//! Kept deliberately plain (no parent links, no shared strings) so a stanza is cheap to move
//! between tasks and its serialised form is predictable.

use std::fmt::Write as _;

/// Namespace of `xml:lang` and other `xml:` attributes.
pub const XML_NS: &str = "http://www.w3.org/XML/1998/namespace";

/// A child of an element.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node {
    Element(Element),
    Text(String),
}

/// An attribute name: local name plus namespace (empty for the usual unqualified attributes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttrName {
    pub ns: String,
    pub local: String,
}

/// An XML element with its namespace resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Element {
    name: String,
    ns: String,
    attrs: Vec<(AttrName, String)>,
    children: Vec<Node>,
}

impl Element {
    pub fn new(name: impl Into<String>, ns: impl Into<String>) -> Self {
        Element {
            name: name.into(),
            ns: ns.into(),
            attrs: Vec::new(),
            children: Vec::new(),
        }
    }

    /// Builder form of [`Element::set_attr`].
    pub fn with_attr(mut self, name: &str, value: impl Into<String>) -> Self {
        self.set_attr(name, value);
        self
    }

    /// Builder form of [`Element::push_child`].
    pub fn with_child(mut self, child: Element) -> Self {
        self.children.push(Node::Element(child));
        self
    }

    /// Builder form of [`Element::push_text`].
    pub fn with_text(mut self, text: impl Into<String>) -> Self {
        self.push_text(text);
        self
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn ns(&self) -> &str {
        &self.ns
    }

    pub fn is(&self, name: &str, ns: &str) -> bool {
        self.name == name && self.ns == ns
    }

    /// Value of an unqualified attribute.
    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(n, _)| n.ns.is_empty() && n.local == name)
            .map(|(_, v)| v.as_str())
    }

    /// Value of a namespace-qualified attribute (e.g. `xml:lang`).
    pub fn attr_ns(&self, ns: &str, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(n, _)| n.ns == ns && n.local == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn attrs(&self) -> impl Iterator<Item = (&AttrName, &str)> {
        self.attrs.iter().map(|(n, v)| (n, v.as_str()))
    }

    /// Sets (or replaces) an unqualified attribute.
    pub fn set_attr(&mut self, name: &str, value: impl Into<String>) {
        self.set_attr_ns("", name, value);
    }

    pub fn set_attr_ns(&mut self, ns: &str, name: &str, value: impl Into<String>) {
        let value = value.into();
        match self
            .attrs
            .iter_mut()
            .find(|(n, _)| n.ns == ns && n.local == name)
        {
            Some((_, v)) => *v = value,
            None => self.attrs.push((
                AttrName {
                    ns: ns.into(),
                    local: name.into(),
                },
                value,
            )),
        }
    }

    pub fn remove_attr(&mut self, name: &str) -> Option<String> {
        let pos = self
            .attrs
            .iter()
            .position(|(n, _)| n.ns.is_empty() && n.local == name)?;
        Some(self.attrs.remove(pos).1)
    }

    pub fn push_child(&mut self, child: Element) {
        self.children.push(Node::Element(child));
    }

    pub fn push_text(&mut self, text: impl Into<String>) {
        let text = text.into();
        if text.is_empty() {
            return;
        }
        // Merge adjacent text so readers see one node, as the parser may split text.
        if let Some(Node::Text(last)) = self.children.last_mut() {
            last.push_str(&text);
        } else {
            self.children.push(Node::Text(text));
        }
    }

    pub fn nodes(&self) -> &[Node] {
        &self.children
    }

    pub fn children(&self) -> impl Iterator<Item = &Element> {
        self.children.iter().filter_map(|n| match n {
            Node::Element(e) => Some(e),
            Node::Text(_) => None,
        })
    }

    pub fn children_mut(&mut self) -> impl Iterator<Item = &mut Element> {
        self.children.iter_mut().filter_map(|n| match n {
            Node::Element(e) => Some(e),
            Node::Text(_) => None,
        })
    }

    /// First child with this name and namespace.
    pub fn get_child(&self, name: &str, ns: &str) -> Option<&Element> {
        self.children().find(|e| e.is(name, ns))
    }

    pub fn has_child(&self, name: &str, ns: &str) -> bool {
        self.get_child(name, ns).is_some()
    }

    /// Removes children matching the predicate; returns how many were removed.
    pub fn remove_children(&mut self, mut pred: impl FnMut(&Element) -> bool) -> usize {
        let before = self.children.len();
        self.children
            .retain(|n| !matches!(n, Node::Element(e) if pred(e)));
        before - self.children.len()
    }

    /// Concatenated direct text content.
    pub fn text(&self) -> String {
        let mut out = String::new();
        for n in &self.children {
            if let Node::Text(t) = n {
                out.push_str(t);
            }
        }
        out
    }

    /// Serialises with `parent_ns` as the namespace already in scope (so `xmlns` is only
    /// written where it changes; stanzas inside a `jabber:client` stream need none).
    pub fn write_to(&self, out: &mut String, parent_ns: &str) {
        out.push('<');
        out.push_str(&self.name);
        if self.ns != parent_ns {
            out.push_str(" xmlns='");
            escape_into(out, &self.ns);
            out.push('\'');
        }
        let mut prefix_counter = 0;
        for (name, value) in &self.attrs {
            out.push(' ');
            if name.ns == XML_NS {
                out.push_str("xml:");
            } else if !name.ns.is_empty() {
                // Foreign-namespace attributes are rare in XMPP; a fresh prefix per use is enough.
                let _ = write!(out, "xmlns:a{prefix_counter}='");
                escape_into(out, &name.ns);
                let _ = write!(out, "' a{prefix_counter}:");
                prefix_counter += 1;
            }
            out.push_str(&name.local);
            out.push_str("='");
            escape_into(out, value);
            out.push('\'');
        }
        if self.children.is_empty() {
            out.push_str("/>");
            return;
        }
        out.push('>');
        for child in &self.children {
            match child {
                Node::Element(e) => e.write_to(out, &self.ns),
                Node::Text(t) => escape_into(out, t),
            }
        }
        out.push_str("</");
        out.push_str(&self.name);
        out.push('>');
    }

    /// Serialises as a stanza inside a stream whose default namespace is `stream_ns`.
    pub fn to_xml_in(&self, stream_ns: &str) -> String {
        let mut out = String::with_capacity(128);
        self.write_to(&mut out, stream_ns);
        out
    }

    /// Serialises as a standalone document fragment (namespace always declared).
    pub fn to_xml(&self) -> String {
        self.to_xml_in("")
    }
}

/// Escapes text for both attribute values (quoted with `'`) and character data.
pub fn escape_into(out: &mut String, s: &str) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\'' => out.push_str("&apos;"),
            '"' => out.push_str("&quot;"),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_namespace_only_where_it_changes() {
        let e = Element::new("iq", "jabber:client")
            .with_attr("type", "result")
            .with_child(
                Element::new("query", "jabber:iq:roster")
                    .with_child(Element::new("item", "jabber:iq:roster")),
            );
        assert_eq!(
            e.to_xml_in("jabber:client"),
            "<iq type='result'><query xmlns='jabber:iq:roster'><item/></query></iq>"
        );
    }

    #[test]
    fn escapes_text_and_attributes() {
        let e = Element::new("body", "jabber:client")
            .with_attr("a", "x'<&")
            .with_text("1 < 2 & 'q'");
        assert_eq!(
            e.to_xml_in("jabber:client"),
            "<body a='x&apos;&lt;&amp;'>1 &lt; 2 &amp; &apos;q&apos;</body>"
        );
    }

    #[test]
    fn xml_lang_keeps_its_prefix() {
        let mut e = Element::new("message", "jabber:client");
        e.set_attr_ns(XML_NS, "lang", "en");
        assert_eq!(e.to_xml_in("jabber:client"), "<message xml:lang='en'/>");
        assert_eq!(e.attr_ns(XML_NS, "lang"), Some("en"));
    }
}
