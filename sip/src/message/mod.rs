//! SIP messages (RFC 3261 §7, §20, §25): parsing, typed access, building, serialising, and
//! framing on byte streams. Sans-IO: bytes in, values and bytes out.
//!
//! ```
//! use tandem_sip::message::{parse, Message, Response};
//!
//! let bytes = b"OPTIONS sip:bob@example.test SIP/2.0\r\n\
//!     v: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK776asdhds;rport\r\n\
//!     t: <sip:bob@example.test>\r\n\
//!     f: \"Alice\" <sip:alice@example.test>;tag=1928301774\r\n\
//!     i: a84b4c76e66710\r\n\
//!     CSeq: 63104 OPTIONS\r\n\
//!     Max-Forwards: 70\r\n\
//!     l: 0\r\n\r\n";
//! let Message::Request(request) = parse(bytes)? else { unreachable!() };
//! assert_eq!(request.call_id(), "a84b4c76e66710");
//! assert_eq!(request.top_via().branch(), Some("z9hG4bK776asdhds"));
//!
//! let ok = Response::from_request(&request, 200, "OK", Some("a6c85cf"))?;
//! assert_eq!(ok.to().tag(), Some("a6c85cf"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! The parser is hand-written rather than a wrapper over `rsip` 0.4: rsip rejects valid
//! messages that RFC 4475 requires us to accept (folded lines, compact header names, unusual
//! but legal tokens) and accepts invalid ones (Content-Length is ignored, so a body runs to
//! the end of the datagram). Every parsed value is checked once at parse time and then read
//! through borrowed views ([`Via`], [`NameAddr`], [`Uri`], [`AuthHeader`]) that re-scan the
//! stored text on demand and allocate nothing.

mod addr;
mod auth;
mod error;
mod framer;
mod headers;
mod method;
mod name;
mod parse;
mod request;
mod response;
mod syntax;
mod uri;
mod via;

#[cfg(test)]
mod proptests;

pub use addr::{Contact, NameAddr};
pub use auth::{Algorithm, AuthHeader};
pub use error::{BuildError, FramingError, Origin, ParseError};
pub use framer::{FramerConfig, KeepAlive, StreamFramer};
pub use headers::{CSeq, Field, Headers, MediaType, Values};
pub use method::Method;
pub use name::HeaderName;
pub use parse::parse;
pub use request::{Request, RequestBuilder};
pub use response::{default_reason, Response};
pub use syntax::{percent_decode, split_list, unquote, Param, ParamIter, Params, SplitList};
pub use uri::{Scheme, Uri};
pub use via::{Rport, Transport, Via, BRANCH_COOKIE};

/// Generates the typed header accessors on a type with `fn headers(&self) -> &Headers`.
macro_rules! header_accessors {
    () => {
        /// Every value of header `name` (long or compact form, any case), comma lists split;
        /// see [`Headers::values`].
        pub fn header(&self, name: &str) -> $crate::message::Values<'_> {
            self.headers().values(name)
        }
        /// All Via values, top first.
        pub fn vias(&self) -> impl Iterator<Item = $crate::message::Via<'_>> + '_ {
            self.headers().vias()
        }
        /// The top Via.
        pub fn top_via(&self) -> $crate::message::Via<'_> {
            self.headers().top_via()
        }
        /// From.
        pub fn from(&self) -> $crate::message::NameAddr<'_> {
            self.headers().from()
        }
        /// To.
        pub fn to(&self) -> $crate::message::NameAddr<'_> {
            self.headers().to()
        }
        /// Call-ID.
        pub fn call_id(&self) -> &str {
            self.headers().call_id()
        }
        /// CSeq.
        pub fn cseq(&self) -> $crate::message::CSeq {
            self.headers().cseq()
        }
        /// Max-Forwards, if present.
        pub fn max_forwards(&self) -> Option<u8> {
            self.headers().max_forwards()
        }
        /// Contact values, `*` included.
        pub fn contacts(&self) -> impl Iterator<Item = $crate::message::Contact<'_>> + '_ {
            self.headers().contacts()
        }
        /// The Expires header, in seconds.
        pub fn expires(&self) -> Option<u32> {
            self.headers().expires()
        }
        /// Content-Type.
        pub fn content_type(&self) -> Option<$crate::message::MediaType<'_>> {
            self.headers().content_type()
        }
        /// The first Authorization value.
        pub fn authorization(&self) -> Option<$crate::message::AuthHeader<'_>> {
            self.headers().authorization()
        }
        /// The first Proxy-Authorization value.
        pub fn proxy_authorization(&self) -> Option<$crate::message::AuthHeader<'_>> {
            self.headers().proxy_authorization()
        }
        /// Route values.
        pub fn routes(&self) -> impl Iterator<Item = $crate::message::NameAddr<'_>> + '_ {
            self.headers().routes()
        }
        /// Record-Route values.
        pub fn record_routes(&self) -> impl Iterator<Item = $crate::message::NameAddr<'_>> + '_ {
            self.headers().record_routes()
        }
        /// Supported option tags.
        pub fn supported(&self) -> $crate::message::Values<'_> {
            self.headers().supported()
        }
        /// Require option tags.
        pub fn require(&self) -> $crate::message::Values<'_> {
            self.headers().require()
        }
        /// Allowed methods.
        pub fn allow(&self) -> $crate::message::Values<'_> {
            self.headers().allow()
        }
        /// Body length; Content-Length always equals it.
        pub fn content_length(&self) -> usize {
            self.body().len()
        }
    };
}
pub(crate) use header_accessors;

/// A request or a response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// A request.
    Request(Request),
    /// A response.
    Response(Response),
}

impl Message {
    /// Same as [`parse`].
    pub fn parse(bytes: &[u8]) -> Result<Message, ParseError> {
        parse(bytes)
    }

    /// The wire form: start line, headers (known names in long form), `Content-Length`, body.
    pub fn to_bytes(&self) -> Vec<u8> {
        match self {
            Message::Request(r) => r.to_bytes(),
            Message::Response(r) => r.to_bytes(),
        }
    }

    /// The header fields.
    pub fn headers(&self) -> &Headers {
        match self {
            Message::Request(r) => r.headers(),
            Message::Response(r) => r.headers(),
        }
    }

    /// The body.
    pub fn body(&self) -> &[u8] {
        match self {
            Message::Request(r) => r.body(),
            Message::Response(r) => r.body(),
        }
    }

    /// True for a request.
    pub fn is_request(&self) -> bool {
        matches!(self, Message::Request(_))
    }

    header_accessors!();
}

impl From<Request> for Message {
    fn from(r: Request) -> Message {
        Message::Request(r)
    }
}

impl From<Response> for Message {
    fn from(r: Response) -> Message {
        Message::Response(r)
    }
}

/// Shared editing rules for requests and responses.
pub(crate) mod edit {
    use super::error::BuildError;
    use super::headers::{check_value, rejects_duplicates, Headers, MediaType};
    use super::name::HeaderName;
    use super::syntax::is_token;

    pub(crate) fn name(name: &str) -> Result<HeaderName, BuildError> {
        if !is_token(name) {
            return Err(BuildError::InvalidName(name.to_owned()));
        }
        let parsed = HeaderName::parse(name);
        if parsed == HeaderName::ContentLength {
            return Err(BuildError::ContentLength);
        }
        Ok(parsed)
    }

    pub(crate) fn value(name: &HeaderName, value: &str) -> Result<String, BuildError> {
        let v = super::syntax::trim_ws(value);
        if v.bytes().any(|b| b == b'\r' || b == b'\n') || !check_value(name, v) {
            return Err(BuildError::InvalidValue(name.clone()));
        }
        Ok(v.to_owned())
    }

    pub(crate) fn push(h: &mut Headers, name: &str, value: &str) -> Result<(), BuildError> {
        let name = self::name(name)?;
        let value = self::value(&name, value)?;
        if rejects_duplicates(&name) && h.count(&name) > 0 {
            return Err(BuildError::Duplicate(name));
        }
        h.push_raw(name, &value);
        Ok(())
    }

    pub(crate) fn set(h: &mut Headers, name: &str, value: &str) -> Result<(), BuildError> {
        let name = self::name(name)?;
        let value = self::value(&name, value)?;
        h.set_raw(name, &value);
        Ok(())
    }

    pub(crate) fn remove(h: &mut Headers, name: &str) -> Result<usize, BuildError> {
        let name = self::name(name)?;
        if matches!(
            name,
            HeaderName::Via
                | HeaderName::From
                | HeaderName::To
                | HeaderName::CallId
                | HeaderName::CSeq
        ) {
            return Err(BuildError::Required(name));
        }
        Ok(h.remove_raw(&name))
    }

    pub(crate) fn set_body(
        h: &mut Headers,
        body: &mut Vec<u8>,
        new: Vec<u8>,
        content_type: Option<&str>,
    ) -> Result<(), BuildError> {
        match content_type {
            Some(ct) => {
                if MediaType::parse(ct).is_none() || ct.bytes().any(|b| b == b'\r' || b == b'\n') {
                    return Err(BuildError::InvalidValue(HeaderName::ContentType));
                }
                h.set_raw(HeaderName::ContentType, ct.trim());
            }
            None if new.is_empty() => {
                h.remove_raw(&HeaderName::ContentType);
            }
            None => {}
        }
        *body = new;
        sync_content_length(h, body.len());
        Ok(())
    }

    /// Makes the Content-Length line say `len`, appending one if there is none.
    pub(crate) fn sync_content_length(h: &mut Headers, len: usize) {
        let current = h.values_of(HeaderName::ContentLength).next();
        if current.is_some_and(|v| {
            v.parse::<usize>().ok() == Some(len) && !(v.starts_with('0') && v.len() > 1)
        }) {
            return;
        }
        let text = len.to_string();
        if !h.replace_first(&HeaderName::ContentLength, &text) {
            h.push_raw(HeaderName::ContentLength, &text);
        }
    }
}
