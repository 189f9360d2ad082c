//! A minimal namespace-resolved XML tree, plus the helpers the typed parsers share.
//! Typed code never sees prefixes: every element carries its resolved namespace.
//!
//! Reading: [`parse`] tries a strict fast reader for the plain form Jingle is usually
//! written in and falls back to the full reader over quick-xml (which also reports every
//! error); the tree borrows from the input. Writing: the model streams straight into a
//! [`XmlWriter`], which re-declares namespaces with plain `xmlns='…'` where they change.

use std::borrow::Cow;

use quick_xml::events::attributes::{Attribute, Attributes};
use quick_xml::events::Event;
use quick_xml::name::{QName, ResolveResult};
use quick_xml::reader::NsReader;

use super::{ns, JingleError};

/// Deeper nesting is refused so recursion (parse, write) stays bounded on hostile input.
pub(crate) const MAX_DEPTH: usize = 64;

const XML_NS: &str = "http://www.w3.org/XML/1998/namespace";

/// One element with resolved namespace (empty string = no namespace). Names, values and
/// text borrow from the parsed input where they need no unescaping.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Element<'x> {
    pub ns: Cow<'x, str>,
    pub name: Cow<'x, str>,
    /// Attributes in document order. Namespaced ones are spelled `{ns}local`.
    pub attrs: Vec<(Cow<'x, str>, Cow<'x, str>)>,
    pub children: Vec<Node<'x>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Node<'x> {
    Element(Element<'x>),
    Text(Cow<'x, str>),
}

impl<'x> Element<'x> {
    pub fn is(&self, ns: &str, name: &str) -> bool {
        self.ns == ns && self.name == name
    }

    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| &**v)
    }

    /// Child elements, skipping text.
    pub fn elements(&self) -> impl Iterator<Item = &Element<'x>> {
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

    /// Serialise with the namespace declared on the root.
    pub fn to_xml(&self) -> String {
        let mut w = XmlWriter::with_capacity(256);
        write_element(&mut w, self);
        w.finish()
    }

    /// The same element owning all its strings.
    fn into_owned(self) -> Element<'static> {
        Element {
            ns: Cow::Owned(self.ns.into_owned()),
            name: Cow::Owned(self.name.into_owned()),
            attrs: self
                .attrs
                .into_iter()
                .map(|(k, v)| (Cow::Owned(k.into_owned()), Cow::Owned(v.into_owned())))
                .collect(),
            children: self
                .children
                .into_iter()
                .map(|n| match n {
                    Node::Element(e) => Node::Element(e.into_owned()),
                    Node::Text(t) => Node::Text(Cow::Owned(t.into_owned())),
                })
                .collect(),
        }
    }
}

/// Parse one root element (a leading XML declaration, comments and surrounding
/// whitespace are allowed; anything else outside the root is an error).
pub(crate) fn parse(xml: &str) -> Result<Element<'_>, JingleError> {
    match parse_fast(xml) {
        Some(el) => Ok(el),
        None => parse_full(xml),
    }
}

/// The fast path: a strict reader for the plain form Jingle is usually written in
/// (default namespaces only, the five named entities, no comments, CDATA, declarations
/// or prefixes). It gives up (`None`) at the first thing outside that form, and then
/// [`parse_full`] reads the document (and reports any error), so whenever this returns
/// an element it is the one `parse_full` would have returned.
pub(crate) fn parse_fast(xml: &str) -> Option<Element<'_>> {
    let b = xml.as_bytes();
    let mut pos = skip_ws(b, 0);
    let mut stack: Vec<Element<'_>> = Vec::with_capacity(8);
    loop {
        if *b.get(pos)? != b'<' {
            // Text inside an element (text outside the root is left to the full parser).
            let parent = stack.last_mut()?;
            let end = b[pos..].iter().position(|&c| c == b'<').map(|i| pos + i)?;
            let text = unescape_fast(&xml[pos..end], false)?;
            parent.children.push(Node::Text(text));
            pos = end;
            continue;
        }
        match *b.get(pos + 1)? {
            b'/' => {
                let el = stack.pop()?;
                let name = el.name.as_bytes();
                let after = pos + 2 + name.len();
                if b.get(pos + 2..after)? != name || *b.get(after)? != b'>' {
                    return None;
                }
                pos = after + 1;
                match stack.last_mut() {
                    Some(parent) => parent.children.push(Node::Element(el)),
                    None => return (skip_ws(b, pos) == b.len()).then_some(el),
                }
            }
            b'!' | b'?' => return None,
            _ => {
                if stack.len() >= MAX_DEPTH {
                    return None;
                }
                let (el, empty, next) = start_tag_fast(xml, pos + 1, stack.last())?;
                pos = next;
                if !empty {
                    stack.push(el);
                } else {
                    match stack.last_mut() {
                        Some(parent) => parent.children.push(Node::Element(el)),
                        None => return (skip_ws(b, pos) == b.len()).then_some(el),
                    }
                }
            }
        }
    }
}

fn is_ws(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\r' | b'\n')
}

fn skip_ws(b: &[u8], mut pos: usize) -> usize {
    while b.get(pos).copied().is_some_and(is_ws) {
        pos += 1;
    }
    pos
}

/// An ASCII NCName (the subset the fast path accepts) starting at `pos`; returns its end.
fn name_fast(b: &[u8], pos: usize) -> Option<usize> {
    if !b.get(pos)?.is_ascii_alphabetic() {
        return None;
    }
    let len = b[pos + 1..]
        .iter()
        .position(|c| !(c.is_ascii_alphanumeric() || matches!(c, b'-' | b'.' | b'_')))
        .unwrap_or(b.len() - pos - 1);
    Some(pos + 1 + len)
}

/// A start tag from just after its `<`: the element, whether it was empty (`/>`), and
/// the position after the tag.
fn start_tag_fast<'i>(
    xml: &'i str,
    pos: usize,
    parent: Option<&Element<'i>>,
) -> Option<(Element<'i>, bool, usize)> {
    let b = xml.as_bytes();
    let name_end = name_fast(b, pos)?;
    let mut el = Element {
        ns: match parent {
            Some(p) => p.ns.clone(),
            None => Cow::Borrowed(""),
        },
        name: Cow::Borrowed(&xml[pos..name_end]),
        attrs: Vec::new(),
        children: Vec::new(),
    };
    let mut xmlns_seen = false;
    let mut pos = name_end;
    loop {
        let ws_end = skip_ws(b, pos);
        match *b.get(ws_end)? {
            b'>' => return Some((el, false, ws_end + 1)),
            b'/' => return (*b.get(ws_end + 1)? == b'>').then_some((el, true, ws_end + 2)),
            _ if ws_end == pos => return None,
            _ => {}
        }
        let key_end = name_fast(b, ws_end)?;
        let key = &xml[ws_end..key_end];
        if *b.get(key_end)? != b'=' {
            return None;
        }
        let quote = *b.get(key_end + 1)?;
        if quote != b'\'' && quote != b'"' {
            return None;
        }
        let value_start = key_end + 2;
        let value_end = b
            .get(value_start..)?
            .iter()
            .position(|&c| c == quote)
            .map(|i| value_start + i)?;
        let raw = &xml[value_start..value_end];
        pos = value_end + 1;
        if key == "xmlns" {
            // A default namespace declaration: plain and non-empty, else the full parser.
            if xmlns_seen || raw.is_empty() || raw.bytes().any(|c| matches!(c, b'&' | b'<' | b'>'))
            {
                return None;
            }
            xmlns_seen = true;
            el.ns = match KNOWN_NS.iter().find(|k| **k == raw) {
                Some(k) => Cow::Borrowed(*k),
                None => Cow::Borrowed(raw),
            };
            continue;
        }
        if el.attrs.iter().any(|(k, _)| *k == key) {
            return None;
        }
        if el.attrs.is_empty() {
            el.attrs.reserve(8);
        }
        el.attrs
            .push((Cow::Borrowed(key), unescape_fast(raw, true)?));
    }
}

/// Text or an attribute value with only `&lt;`, `&gt;`, `&amp;`, `&apos;` and `&quot;`
/// references; `None` for anything the fast path leaves to the full parser (other
/// references, `<`, carriage returns, and in attribute values `>` or whitespace other
/// than spaces).
fn unescape_fast(raw: &str, attribute: bool) -> Option<Cow<'_, str>> {
    let bad = |c: u8| c == b'<' || c == b'\r' || (attribute && matches!(c, b'>' | b'\t' | b'\n'));
    let b = raw.as_bytes();
    let Some(first) = b.iter().position(|&c| c == b'&' || bad(c)) else {
        return Some(Cow::Borrowed(raw));
    };
    let mut out = String::with_capacity(raw.len());
    let mut last = 0;
    let mut i = first;
    while i < b.len() {
        let c = b[i];
        if bad(c) {
            return None;
        }
        if c != b'&' {
            i += 1;
            continue;
        }
        out.push_str(&raw[last..i]);
        let rest = &raw[i..];
        let (ch, len) = if rest.starts_with("&lt;") {
            ('<', 4)
        } else if rest.starts_with("&gt;") {
            ('>', 4)
        } else if rest.starts_with("&amp;") {
            ('&', 5)
        } else if rest.starts_with("&apos;") {
            ('\'', 6)
        } else if rest.starts_with("&quot;") {
            ('"', 6)
        } else {
            return None;
        };
        out.push(ch);
        i += len;
        last = i;
    }
    out.push_str(&raw[last..]);
    Some(Cow::Owned(out))
}

/// The full reader over quick-xml: every construct it accepts, and the errors.
pub(crate) fn parse_full(xml: &str) -> Result<Element<'_>, JingleError> {
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
                let name_len = s.name().as_ref().len();
                let el = match in_input(xml, s) {
                    Some(tag) => start_element(&reader, tag, name_len)?,
                    // A `&str` reader lends slices of its input; should it ever not, copy.
                    None => start_element(&reader, utf8(s)?, name_len)?.into_owned(),
                };
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
                push_text(&mut stack, &root, text)?;
            }
            Event::CData(c) => {
                let text = match c.into_inner() {
                    Cow::Borrowed(b) => std::str::from_utf8(b)
                        .map(Cow::Borrowed)
                        .map_err(|e| JingleError::Xml(e.to_string()))?,
                    Cow::Owned(v) => String::from_utf8(v)
                        .map(Cow::Owned)
                        .map_err(|e| JingleError::Xml(e.to_string()))?,
                };
                push_text(&mut stack, &root, text)?;
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

/// `part` as a slice of `xml` with the input's lifetime, if it lies inside it (no UTF-8
/// check needed: it is a slice of a `str`).
fn in_input<'i>(xml: &'i str, part: &[u8]) -> Option<&'i str> {
    let start = (part.as_ptr() as usize).checked_sub(xml.as_ptr() as usize)?;
    let tag = xml.get(start..start.checked_add(part.len())?)?;
    (tag.as_ptr() == part.as_ptr()).then_some(tag)
}

fn push_text<'x>(
    stack: &mut [Element<'x>],
    root: &Option<Element<'x>>,
    text: Cow<'x, str>,
) -> Result<(), JingleError> {
    match stack.last_mut() {
        Some(parent) => {
            // Merge adjacent text (entities and CDATA split it) so re-parsing is stable.
            if let Some(Node::Text(prev)) = parent.children.last_mut() {
                prev.to_mut().push_str(&text);
            } else {
                parent.children.push(Node::Text(text));
            }
            Ok(())
        }
        None if text.trim().is_empty() => Ok(()),
        None if root.is_some() => Err(JingleError::Xml("text after the root element".into())),
        None => Err(JingleError::Xml("text before the root element".into())),
    }
}

fn close<'x>(stack: &mut [Element<'x>], root: &mut Option<Element<'x>>, el: Element<'x>) {
    match stack.last_mut() {
        Some(parent) => parent.children.push(Node::Element(el)),
        None => *root = Some(el),
    }
}

/// One start tag (`tag` is its content between `<` and `>` or `/>`; the qualified name is
/// its first `name_len` bytes).
fn start_element<'t>(
    reader: &NsReader<&[u8]>,
    tag: &'t str,
    name_len: usize,
) -> Result<Element<'t>, JingleError> {
    let qname = &tag.as_bytes()[..name_len];
    let (ns, _) = reader.resolve_element(QName(qname));
    let ns = resolved(ns)?;
    let name = ncname(utf8(local_part(qname))?)?;
    // Every attribute has a `=`: sized once (values may hold more, which only over-counts).
    let attr_count = tag.as_bytes()[name_len..]
        .iter()
        .filter(|&&b| b == b'=')
        .count();
    let mut el = Element {
        ns,
        name: Cow::Borrowed(name),
        attrs: Vec::with_capacity(attr_count),
        children: Vec::new(),
    };
    for a in Attributes::new(tag, name_len) {
        let a: Attribute<'t> = a.map_err(|e| JingleError::Xml(e.to_string()))?;
        let key = a.key;
        if key.as_ref() == b"xmlns" || key.as_ref().starts_with(b"xmlns:") {
            continue;
        }
        let (ans, _) = reader.resolve_attribute(key);
        let local = ncname(utf8(local_part(key.into_inner()))?)?;
        let ans = resolved(ans)?;
        let value = a
            .unescape_value()
            .map_err(|e| JingleError::Xml(e.to_string()))?;
        let name = if ans.is_empty() {
            Cow::Borrowed(local)
        } else {
            Cow::Owned(format!("{{{ans}}}{local}"))
        };
        if el.attrs.iter().any(|(k, _)| *k == name) {
            return Err(JingleError::Xml(format!("duplicate attribute '{name}'")));
        }
        el.attrs.push((name, value));
    }
    Ok(el)
}

/// The local part of a qualified name (after the first `:`), as quick-xml splits it.
fn local_part(qname: &[u8]) -> &[u8] {
    match qname.iter().position(|&b| b == b':') {
        Some(i) => &qname[i + 1..],
        None => qname,
    }
}

/// A local name as Namespaces in XML §3 allows it (an NCName: no colon, no `xmlns:` prefix
/// left over, no control characters). quick-xml is lenient here, and a name it let through
/// would not read back the same after writing (found by the jingle_parse fuzz target).
fn ncname(name: &str) -> Result<&str, JingleError> {
    // Fast path for the common all-ASCII name; the general check below decides the rest.
    if let [first, rest @ ..] = name.as_bytes() {
        if first.is_ascii_alphabetic()
            && rest
                .iter()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_'))
        {
            return Ok(name);
        }
    }
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

/// Namespaces the typed model knows, handed out without allocating.
const KNOWN_NS: &[&str] = &[
    ns::JINGLE,
    ns::RTP,
    ns::RTP_INFO,
    ns::ICE_UDP,
    ns::RAW_UDP,
    ns::RTCP_FB,
    ns::RTP_HDREXT,
    ns::DTLS,
    ns::GROUPING,
    ns::SSMA,
    ns::ZRTP,
    ns::SCTP,
    ns::JMI,
    ns::RTP_MSID,
    ns::TANDEM_SDP,
    ns::RTP_ERRORS,
    ns::CLIENT,
    XML_NS,
];

/// The namespace name, unescaped: quick-xml hands out the attribute's raw bytes, and a name
/// written back escaped must read back the same.
fn resolved(ns: ResolveResult<'_>) -> Result<Cow<'static, str>, JingleError> {
    match ns {
        ResolveResult::Bound(n) => {
            let n = n.into_inner();
            if let Some(k) = KNOWN_NS.iter().find(|k| k.as_bytes() == n) {
                return Ok(Cow::Borrowed(k));
            }
            quick_xml::escape::unescape(utf8(n)?)
                .map(|n| Cow::Owned(n.into_owned()))
                .map_err(|e| JingleError::Xml(e.to_string()))
        }
        ResolveResult::Unbound => Ok(Cow::Borrowed("")),
        ResolveResult::Unknown(p) => Err(JingleError::Xml(format!(
            "undeclared namespace prefix '{}'",
            String::from_utf8_lossy(&p)
        ))),
    }
}

fn utf8(b: &[u8]) -> Result<&str, JingleError> {
    std::str::from_utf8(b).map_err(|e| JingleError::Xml(e.to_string()))
}

fn write_element<'a>(w: &mut XmlWriter<'a>, el: &'a Element<'_>) {
    w.start(&el.ns, &el.name);
    w.attrs(&el.attrs);
    for c in &el.children {
        match c {
            Node::Element(e) => write_element(w, e),
            Node::Text(t) => w.text(t),
        }
    }
    w.end();
}

/// One open element of an [`XmlWriter`].
struct Frame<'a> {
    ns: &'a str,
    name: &'a str,
}

/// Streams XML straight into a `String`, byte-for-byte as quick-xml's writer would
/// serialise the equivalent [`Element`] tree: `xmlns='…'` only where the namespace
/// changes, double-quoted attributes, `<x/>` for elements without children, and
/// `<`, `>`, `&`, `'`, `"` escaped in attribute values and text.
pub(crate) struct XmlWriter<'a> {
    out: String,
    stack: Vec<Frame<'a>>,
    /// The innermost start tag still lacks its `>` (or `/>`).
    open: bool,
    /// Namespaces declared as `xmlns:aN` on the innermost element, index = N.
    prefixes: Vec<&'a str>,
}

impl<'a> XmlWriter<'a> {
    pub fn with_capacity(capacity: usize) -> Self {
        XmlWriter {
            out: String::with_capacity(capacity),
            stack: Vec::with_capacity(8),
            open: false,
            prefixes: Vec::new(),
        }
    }

    fn close_start_tag(&mut self) {
        if self.open {
            self.out.push('>');
            self.open = false;
        }
    }

    /// Open an element; `xmlns` is written when the namespace differs from the parent's
    /// (on the root: unless the namespace is empty).
    pub fn start(&mut self, ns: &'a str, name: &'a str) {
        self.close_start_tag();
        let parent_ns = self.stack.last().map(|f| f.ns);
        self.out.push('<');
        self.out.push_str(name);
        self.stack.push(Frame { ns, name });
        self.open = true;
        self.prefixes.clear();
        if parent_ns != Some(ns) && !(parent_ns.is_none() && ns.is_empty()) {
            self.attr("xmlns", ns);
        }
    }

    /// One attribute of the element just started (the value is escaped).
    pub fn attr(&mut self, name: &str, value: &str) {
        debug_assert!(self.open, "attribute outside a start tag");
        self.out.push(' ');
        self.out.push_str(name);
        self.out.push_str("=\"");
        escape_into(&mut self.out, value);
        self.out.push('"');
    }

    /// An attribute written with `Display` (numbers, enums), escaped.
    pub fn attr_display(&mut self, name: &str, value: impl std::fmt::Display) {
        use std::fmt::Write;
        debug_assert!(self.open, "attribute outside a start tag");
        self.out.push(' ');
        self.out.push_str(name);
        self.out.push_str("=\"");
        // Writing into a String cannot fail.
        let _ = write!(Escaper(&mut self.out), "{value}");
        self.out.push('"');
    }

    /// The attribute if present.
    pub fn attr_opt<T: std::fmt::Display>(&mut self, name: &str, value: &Option<T>) {
        if let Some(v) = value {
            self.attr_display(name, v);
        }
    }

    /// Attributes as kept by the parser: names spelled `{ns}local` get a prefix
    /// (`xml:` for the XML namespace, else `aN` declared on first use).
    pub fn attrs<K: AsRef<str>, V: AsRef<str>>(&mut self, attrs: &'a [(K, V)]) {
        for (k, v) in attrs {
            let (k, v) = (k.as_ref(), v.as_ref());
            match split_clark(k) {
                Some((ans, local)) if ans == XML_NS => {
                    self.out.push_str(" xml:");
                    self.out.push_str(local);
                    self.out.push_str("=\"");
                    escape_into(&mut self.out, v);
                    self.out.push('"');
                }
                Some((ans, local)) => {
                    let i = match self.prefixes.iter().position(|p| *p == ans) {
                        Some(i) => i,
                        None => {
                            self.prefixes.push(ans);
                            let i = self.prefixes.len() - 1;
                            self.attr(&format!("xmlns:a{i}"), ans);
                            i
                        }
                    };
                    self.attr(&format!("a{i}:{local}"), v);
                }
                None => self.attr(k, v),
            }
        }
    }

    /// Text content (escaped).
    pub fn text(&mut self, text: &str) {
        self.close_start_tag();
        escape_into(&mut self.out, text);
    }

    /// Already-serialised XML, verbatim.
    pub fn raw(&mut self, raw: &str) {
        self.close_start_tag();
        self.out.push_str(raw);
    }

    /// Each of the raw children, verbatim.
    pub fn raws(&mut self, raw: &[String]) {
        for r in raw {
            self.raw(r);
        }
    }

    /// An element without attributes or children.
    pub fn empty(&mut self, ns: &'a str, name: &'a str) {
        self.start(ns, name);
        self.end();
    }

    /// Close the innermost element (`/>` when nothing was written inside it).
    pub fn end(&mut self) {
        let Some(f) = self.stack.pop() else {
            debug_assert!(false, "end without start");
            return;
        };
        if self.open {
            self.out.push_str("/>");
            self.open = false;
        } else {
            self.out.push_str("</");
            self.out.push_str(f.name);
            self.out.push('>');
        }
    }

    /// The document written so far.
    pub fn finish(self) -> String {
        debug_assert!(self.stack.is_empty(), "unclosed element");
        self.out
    }
}

/// `fmt::Write` that escapes what goes through it.
struct Escaper<'s>(&'s mut String);

impl std::fmt::Write for Escaper<'_> {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        escape_into(self.0, s);
        Ok(())
    }
}

/// Append `s` with `<`, `>`, `&`, `'` and `"` escaped (as quick-xml's `escape`).
fn escape_into(out: &mut String, s: &str) {
    let bytes = s.as_bytes();
    let mut last = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let rep = match b {
            b'<' => "&lt;",
            b'>' => "&gt;",
            b'&' => "&amp;",
            b'\'' => "&apos;",
            b'"' => "&quot;",
            _ => continue,
        };
        out.push_str(&s[last..i]);
        out.push_str(rep);
        last = i + 1;
    }
    out.push_str(&s[last..]);
}

fn split_clark(k: &str) -> Option<(&str, &str)> {
    let rest = k.strip_prefix('{')?;
    let end = rest.find('}')?;
    Some((&rest[..end], &rest[end + 1..]))
}

/// Consumes known attributes of one element; what is left is kept as unknown.
pub(crate) struct Attrs<'a, 'x> {
    el: &'a Element<'x>,
    /// Which of the first 64 attributes were asked for (bit i = attribute i).
    used: u64,
    /// The same for attributes beyond the 64th (allocated only then).
    used_more: Vec<bool>,
}

impl<'a, 'x> Attrs<'a, 'x> {
    pub fn new(el: &'a Element<'x>) -> Self {
        Attrs {
            el,
            used: 0,
            used_more: Vec::new(),
        }
    }

    fn mark(&mut self, i: usize) {
        if i < 64 {
            self.used |= 1 << i;
        } else {
            if self.used_more.is_empty() {
                self.used_more = vec![false; self.el.attrs.len() - 64];
            }
            self.used_more[i - 64] = true;
        }
    }

    fn is_used(&self, i: usize) -> bool {
        if i < 64 {
            self.used & (1 << i) != 0
        } else {
            self.used_more.get(i - 64).copied().unwrap_or(false)
        }
    }

    /// The attribute's value, borrowed.
    pub fn opt_str(&mut self, name: &str) -> Option<&'a str> {
        let i = self.el.attrs.iter().position(|(k, _)| k == name)?;
        self.mark(i);
        Some(&self.el.attrs[i].1)
    }

    pub fn opt(&mut self, name: &str) -> Option<String> {
        self.opt_str(name).map(str::to_owned)
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
        match self.opt_str(name) {
            None => Ok(None),
            Some(v) => v
                .parse()
                .map(Some)
                .map_err(|_| JingleError::InvalidAttribute {
                    element,
                    attribute: name,
                    value: v.to_owned(),
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
        if self.el.attrs.len() <= 64 && self.used.count_ones() as usize == self.el.attrs.len() {
            return Vec::new();
        }
        self.el
            .attrs
            .iter()
            .enumerate()
            .filter(|(i, _)| !self.is_used(*i))
            .map(|(_, (k, v))| (k.to_string(), v.to_string()))
            .collect()
    }
}

/// Attributes as owned pairs.
pub(crate) fn owned_attrs(attrs: &[(Cow<'_, str>, Cow<'_, str>)]) -> Vec<(String, String)> {
    attrs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// An unknown child element kept as XML with its namespace explicit.
pub(crate) fn raw(el: &Element<'_>) -> String {
    el.to_xml()
}

/// True when every attribute is one of `known` and there are no child elements:
/// only then may the element become a plain typed value without losing anything.
pub(crate) fn only(el: &Element<'_>, known: &[&str]) -> bool {
    el.attrs.iter().all(|(k, _)| known.contains(&&**k)) && el.elements().next().is_none()
}

/// All child elements as raw XML (for leaf elements that expect none).
pub(crate) fn raw_children(el: &Element<'_>) -> Vec<String> {
    el.elements().map(raw).collect()
}

/// Check an element's namespace and name, or say what was found.
pub(crate) fn expect(el: &Element<'_>, ns: &str, name: &'static str) -> Result<(), JingleError> {
    if el.is(ns, name) {
        Ok(())
    } else {
        Err(JingleError::UnexpectedElement {
            expected: name,
            found: el.name.to_string(),
            ns: el.ns.to_string(),
        })
    }
}
