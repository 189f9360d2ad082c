//! `application/trickle-ice-sdpfrag` bodies (RFC 8840 §9): no v=/o=/s=/t=, optional
//! session-level attributes (ice-options, ice-ufrag, ice-pwd), then `m=` sections carrying
//! a=mid, a=ice-ufrag/pwd, a=candidate and a=end-of-candidates.

use super::error::{SdpError, SdpErrorKind};
use super::parse::{lines, parse_attribute, parse_media_sections};
use super::{Attribute, Media};

/// An SDP fragment as carried in a SIP INFO (Info-Package: trickle-ice).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SdpFragment {
    /// Session-level attributes before the first `m=`, in order.
    pub attributes: Vec<Attribute>,
    /// The media sections (each usually `m=audio 9 RTP/AVP 0` plus a=mid and candidates).
    pub media: Vec<Media>,
}

impl SdpFragment {
    /// Typed view of the fragment's session-level attributes.
    pub fn typed_attributes(&self) -> impl Iterator<Item = super::TypedAttribute> + '_ {
        super::attributes::typed_iter(&self.attributes)
    }

    /// Parse an sdpfrag body; only `a=` lines may precede the first `m=`. An empty body
    /// is a valid (empty) fragment.
    pub fn parse(input: &str) -> Result<Self, SdpError> {
        let (lines, _) = lines(input)?;
        let mut it = lines.iter().peekable();
        let mut attributes = Vec::new();
        while let Some(l) = it.next_if(|l| l.kind != 'm') {
            if l.kind != 'a' {
                return Err(l.err(SdpErrorKind::Unexpected(l.kind)));
            }
            attributes.push(parse_attribute(l)?.0);
        }
        Ok(SdpFragment {
            attributes,
            media: parse_media_sections(&mut it)?.0,
        })
    }
}

impl std::str::FromStr for SdpFragment {
    type Err = SdpError;
    fn from_str(s: &str) -> Result<Self, SdpError> {
        Self::parse(s)
    }
}
