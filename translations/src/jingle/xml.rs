//! A minimal namespace-resolved XML tree over quick-xml, plus the helpers the typed
//! parsers share. Typed code never sees prefixes: every element carries its resolved
//! namespace, and the writer re-declares namespaces with plain `xmlns='…'`.

use quick_xml::events::attributes::Attribute;
use quick_xml::events::{BytesEnd, BytesStart, BytesText, Event};
use quick_xml::name::ResolveResult;
use quick_xml::reader::NsReader;
use quick_xml::Writer;

use super::JingleError;

/// Deeper nesting is refused so recursion (parse, write) stays bounded on hostile input.
pub(crate) const MAX_DEPTH: usize = 64;

const XML_NS: &str = "http://www.w3.org/XML/1998/namespace";

/// One element with resolved namespace (empty string = no namespace).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Element {
    pub ns: String,
    pub name: String,
    /// Attributes in document order. Namespaced ones are spelled `{ns}local`.
    pub attrs: Vec<(String, String)>,
    pub children: Vec<Node>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Node {
    Element(Element),
    Text(String),
    /// Already-serialised XML written verbatim (unknown children kept raw).
    Raw(String),
}

impl Element {
    pub fn new(ns: &str, name: &str) -> Self {
        Element {
            ns: ns.to_owned(),
            name: name.to_owned(),
            attrs: Vec::new(),
            children: Vec::new(),
        }
    }

    pub fn is(&self, ns: &str, name: &str) -> bool {
        self.ns == ns && self.name == name
    }

    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Child elements, skipping text.
    pub fn elements(&self) -> impl Iterator<Item = &Element> {
        self.children.iter().filter_map(|n| match n {
            Node::Element(e) => Some(e),
            _ => None,
        })
    }

    /// Concatenated text children.
    pub fn text(&self) -> String {
        let mut s = String::new();
        for n in &self.children {
            if let Node::Text(t) = n {
                s.push_str(t);
            }
        }
        s
    }

    // --- builder helpers used by the writers ---

    pub fn set(&mut self, name: &str, value: impl Into<String>) {
        self.attrs.push((name.to_owned(), value.into()));
    }

    pub fn set_opt<T: ToString>(&mut self, name: &str, value: &Option<T>) {
        if let Some(v) = value {
            self.set(name, v.to_string());
        }
    }

    pub fn extend_attrs(&mut self, extra: &[(String, String)]) {
        self.attrs.extend(extra.iter().cloned());
    }

    pub fn push(&mut self, child: Element) {
        self.children.push(Node::Element(child));
    }

    pub fn push_text(&mut self, text: impl Into<String>) {
        self.children.push(Node::Text(text.into()));
    }

    pub fn push_raw(&mut self, raw: &[String]) {
        self.children.extend(raw.iter().cloned().map(Node::Raw));
    }

    /// Serialise with the namespace declared on the root.
    pub fn to_xml(&self) -> String {
        let mut w = Writer::new(Vec::new());
        write_element(&mut w, self, None);
        // Everything written came from `&str`s, so this is valid UTF-8.
        String::from_utf8(w.into_inner()).unwrap_or_default()
    }
}

/// Parse one root element (a leading XML declaration, comments and surrounding
/// whitespace are allowed; anything else outside the root is an error).
pub(crate) fn parse(xml: &str) -> Result<Element, JingleError> {
    let mut reader = NsReader::from_str(xml);
    let cfg = reader.config_mut();
    cfg.trim_text(false);
    cfg.check_end_names = true;
    cfg.expand_empty_elements = false;

    let mut stack: Vec<Element> = Vec::new();
    let mut root: Option<Element> = None;
    loop {
        let ev = reader
            .read_event()
            .map_err(|e| JingleError::Xml(e.to_string()))?;
        match ev {
            Event::Start(ref s) | Event::Empty(ref s) => {
                if root.is_some() {
                    return Err(JingleError::Xml("content after the root element".into()));
                }
                if stack.len() >= MAX_DEPTH {
                    return Err(JingleError::TooDeep(MAX_DEPTH));
                }
                let el = start_element(&reader, s)?;
                if matches!(ev, Event::Start(_)) {
                    stack.push(el);
                } else {
                    close(&mut stack, &mut root, el);
                }
            }
            Event::End(_) => match stack.pop() {
                Some(el) => close(&mut stack, &mut root, el),
                None => return Err(JingleError::Xml("unbalanced end tag".into())),
            },
            Event::Text(t) => {
                let text = t.unescape().map_err(|e| JingleError::Xml(e.to_string()))?;
                push_text(&mut stack, &root, &text)?;
            }
            Event::CData(c) => {
                let text = String::from_utf8(c.into_inner().into_owned())
                    .map_err(|e| JingleError::Xml(e.to_string()))?;
                push_text(&mut stack, &root, &text)?;
            }
            Event::Eof => break,
            // Comments, processing instructions, declarations and doctype carry nothing we map.
            _ => {}
        }
    }
    if !stack.is_empty() {
        return Err(JingleError::Xml("unclosed element".into()));
    }
    root.ok_or(JingleError::Empty)
}

fn push_text(stack: &mut [Element], root: &Option<Element>, text: &str) -> Result<(), JingleError> {
    match stack.last_mut() {
        Some(parent) => {
            // Merge adjacent text (entities and CDATA split it) so re-parsing is stable.
            if let Some(Node::Text(prev)) = parent.children.last_mut() {
                prev.push_str(text);
            } else {
                parent.children.push(Node::Text(text.to_owned()));
            }
            Ok(())
        }
        None if text.trim().is_empty() => Ok(()),
        None if root.is_some() => Err(JingleError::Xml("text after the root element".into())),
        None => Err(JingleError::Xml("text before the root element".into())),
    }
}

fn close(stack: &mut [Element], root: &mut Option<Element>, el: Element) {
    match stack.last_mut() {
        Some(parent) => parent.children.push(Node::Element(el)),
        None => *root = Some(el),
    }
}

fn start_element(reader: &NsReader<&[u8]>, s: &BytesStart<'_>) -> Result<Element, JingleError> {
    let (ns, local) = reader.resolve_element(s.name());
    let ns = resolved(ns)?;
    let name = ncname(utf8(local.as_ref())?)?;
    let mut el = Element {
        ns,
        name,
        attrs: Vec::new(),
        children: Vec::new(),
    };
    for a in s.attributes() {
        let a: Attribute<'_> = a.map_err(|e| JingleError::Xml(e.to_string()))?;
        let key = a.key;
        if key.as_ref() == b"xmlns" || key.as_ref().starts_with(b"xmlns:") {
            continue;
        }
        let (ans, local) = reader.resolve_attribute(key);
        let local = ncname(utf8(local.as_ref())?)?;
        let ans = resolved(ans)?;
        let value = a
            .unescape_value()
            .map_err(|e| JingleError::Xml(e.to_string()))?
            .into_owned();
        let name = if ans.is_empty() {
            local
        } else {
            format!("{{{ans}}}{local}")
        };
        if el.attrs.iter().any(|(k, _)| *k == name) {
            return Err(JingleError::Xml(format!("duplicate attribute '{name}'")));
        }
        el.attrs.push((name, value));
    }
    Ok(el)
}

/// A local name as Namespaces in XML §3 allows it (an NCName: no colon, no `xmlns:` prefix
/// left over, no control characters). quick-xml is lenient here, and a name it let through
/// would not read back the same after writing (found by the jingle_parse fuzz target).
fn ncname(name: String) -> Result<String, JingleError> {
    let mut chars = name.chars();
    let valid_start = chars
        .next()
        .is_some_and(|c| c.is_alphabetic() || c == '_' || !c.is_ascii());
    let valid_rest = chars.all(|c| {
        c.is_alphanumeric() || matches!(c, '-' | '.' | '_') || (!c.is_ascii() && !c.is_control())
    });
    if valid_start && valid_rest {
        Ok(name)
    } else {
        Err(JingleError::Xml(format!(
            "'{}' is not a valid XML name",
            name.escape_debug()
        )))
    }
}

/// The namespace name, unescaped: quick-xml hands out the attribute's raw bytes, and a name
/// written back escaped must read back the same.
fn resolved(ns: ResolveResult<'_>) -> Result<String, JingleError> {
    match ns {
        ResolveResult::Bound(n) => quick_xml::escape::unescape(&utf8(n.as_ref())?)
            .map(|n| n.into_owned())
            .map_err(|e| JingleError::Xml(e.to_string())),
        ResolveResult::Unbound => Ok(String::new()),
        ResolveResult::Unknown(p) => Err(JingleError::Xml(format!(
            "undeclared namespace prefix '{}'",
            String::from_utf8_lossy(&p)
        ))),
    }
}

fn utf8(b: &[u8]) -> Result<String, JingleError> {
    std::str::from_utf8(b)
        .map(str::to_owned)
        .map_err(|e| JingleError::Xml(e.to_string()))
}

fn write_element(w: &mut Writer<Vec<u8>>, el: &Element, parent_ns: Option<&str>) {
    let mut start = BytesStart::new(el.name.as_str());
    if parent_ns != Some(el.ns.as_str()) && !(parent_ns.is_none() && el.ns.is_empty()) {
        start.push_attribute(("xmlns", el.ns.as_str()));
    }
    let mut prefixes: Vec<String> = Vec::new();
    for (k, v) in &el.attrs {
        match split_clark(k) {
            Some((ans, local)) if ans == XML_NS => {
                start.push_attribute((format!("xml:{local}").as_str(), v.as_str()));
            }
            Some((ans, local)) => {
                let i = match prefixes.iter().position(|p| p == ans) {
                    Some(i) => i,
                    None => {
                        prefixes.push(ans.to_owned());
                        start.push_attribute((
                            format!("xmlns:a{}", prefixes.len() - 1).as_str(),
                            ans,
                        ));
                        prefixes.len() - 1
                    }
                };
                start.push_attribute((format!("a{i}:{local}").as_str(), v.as_str()));
            }
            None => start.push_attribute((k.as_str(), v.as_str())),
        }
    }
    // Writing into a Vec cannot fail.
    if el.children.is_empty() {
        let _ = w.write_event(Event::Empty(start));
        return;
    }
    let _ = w.write_event(Event::Start(start));
    for c in &el.children {
        match c {
            Node::Element(e) => write_element(w, e, Some(el.ns.as_str())),
            Node::Text(t) => {
                let _ = w.write_event(Event::Text(BytesText::new(t)));
            }
            Node::Raw(r) => {
                let _ = w.write_event(Event::Text(BytesText::from_escaped(r.as_str())));
            }
        }
    }
    let _ = w.write_event(Event::End(BytesEnd::new(el.name.as_str())));
}

fn split_clark(k: &str) -> Option<(&str, &str)> {
    let rest = k.strip_prefix('{')?;
    let end = rest.find('}')?;
    Some((&rest[..end], &rest[end + 1..]))
}

/// Consumes known attributes of one element; what is left is kept as unknown.
pub(crate) struct Attrs<'a> {
    el: &'a Element,
    used: Vec<bool>,
}

impl<'a> Attrs<'a> {
    pub fn new(el: &'a Element) -> Self {
        Attrs {
            el,
            used: vec![false; el.attrs.len()],
        }
    }

    pub fn opt(&mut self, name: &str) -> Option<String> {
        let i = self.el.attrs.iter().position(|(k, _)| k == name)?;
        self.used[i] = true;
        Some(self.el.attrs[i].1.clone())
    }

    pub fn req(
        &mut self,
        element: &'static str,
        name: &'static str,
    ) -> Result<String, JingleError> {
        self.opt(name).ok_or(JingleError::MissingAttribute {
            element,
            attribute: name,
        })
    }

    pub fn opt_parse<T: std::str::FromStr>(
        &mut self,
        element: &'static str,
        name: &'static str,
    ) -> Result<Option<T>, JingleError> {
        match self.opt(name) {
            None => Ok(None),
            Some(v) => v
                .parse()
                .map(Some)
                .map_err(|_| JingleError::InvalidAttribute {
                    element,
                    attribute: name,
                    value: v,
                }),
        }
    }

    pub fn req_parse<T: std::str::FromStr>(
        &mut self,
        element: &'static str,
        name: &'static str,
    ) -> Result<T, JingleError> {
        self.opt_parse(element, name)?
            .ok_or(JingleError::MissingAttribute {
                element,
                attribute: name,
            })
    }

    /// The attributes nobody asked for, in document order.
    pub fn rest(self) -> Vec<(String, String)> {
        self.el
            .attrs
            .iter()
            .zip(self.used)
            .filter(|(_, used)| !used)
            .map(|(a, _)| a.clone())
            .collect()
    }
}

/// An unknown child element kept as XML with its namespace explicit.
pub(crate) fn raw(el: &Element) -> String {
    el.to_xml()
}

/// True when every attribute is one of `known` and there are no child elements:
/// only then may the element become a plain typed value without losing anything.
pub(crate) fn only(el: &Element, known: &[&str]) -> bool {
    el.attrs.iter().all(|(k, _)| known.contains(&k.as_str())) && el.elements().next().is_none()
}

/// All child elements as raw XML (for leaf elements that expect none).
pub(crate) fn raw_children(el: &Element) -> Vec<String> {
    el.elements().map(raw).collect()
}

/// Check an element's namespace and name, or say what was found.
pub(crate) fn expect(el: &Element, ns: &str, name: &'static str) -> Result<(), JingleError> {
    if el.is(ns, name) {
        Ok(())
    } else {
        Err(JingleError::UnexpectedElement {
            expected: name,
            found: el.name.clone(),
            ns: el.ns.clone(),
        })
    }
}
