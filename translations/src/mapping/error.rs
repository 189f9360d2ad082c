//! Why an SDP or Jingle value could not be translated; names the value at fault.

/// A translation failure.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MappingError {
    /// Jingle candidate components are 1-255 (XEP-0176 schema: unsignedByte).
    #[error("a=candidate `{foundation}`: component {component} is out of Jingle's range 1-255")]
    ComponentOutOfRange { foundation: String, component: u16 },
    /// XEP-0176 knows host, srflx, prflx and relay only.
    #[error("a=candidate `{foundation}`: candidate type `{typ}` has no Jingle equivalent")]
    UnknownCandidateType { foundation: String, typ: String },
    /// SDP priorities are 1 to 2^31-1 (RFC 8839 §5.1).
    #[error("candidate `{id}`: priority {priority} is outside SDP's 1 to 2^31-1")]
    PriorityOutOfRange { id: String, priority: u64 },
    /// A Jingle value that would break the SDP line it goes into (a peer injecting lines).
    #[error("{what} contains a control character; it cannot be written into SDP")]
    ControlCharacter { what: String },
    /// The Jingle holds a value SDP cannot carry (an empty fingerprint, a space in a token,
    /// ...): the SDP we would send does not pass our own SDP validation.
    #[error("the Jingle cannot be written as valid SDP: {0}")]
    InvalidSdp(String),
    /// An RTP m-line whose formats are not payload type numbers.
    #[error("m={media} uses an RTP profile but lists no payload type numbers")]
    NoPayloadTypes { media: String },
    /// A content with neither an RTP description nor a data channel transport: nothing to
    /// put on an m-line (content-modify and transport-replace change a description the
    /// call already has).
    #[error("content {content:?} has no RTP description and no data channel: no m-line for it")]
    NoDescription { content: String },
    /// A transport tandem does not speak (an old namespace such as ice-udp:0): writing the
    /// m-line with placeholders would black-hole the stream for a non-ICE peer.
    #[error("content {content:?}: transport {namespace:?} has no SDP mapping")]
    UnsupportedTransport { content: String, namespace: String },
    /// Something an INFO trickle fragment (RFC 8840) cannot do: restart ICE with new
    /// credentials or nominate remote candidates; both need a new offer (RFC 8839 §4.4).
    #[error("content {content:?}: {what} needs a new offer, not a trickle fragment")]
    NeedsOffer { content: String, what: &'static str },
    /// Neither RTP nor an SCTP data channel: Jingle has no description for it here.
    #[error(
        "m={media} with transport {proto} has no Jingle mapping (RTP and SCTP data channels only)"
    )]
    UnsupportedMedia { media: String, proto: String },
}
