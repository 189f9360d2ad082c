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
    /// SDP priorities are 32-bit (RFC 8839 §5.1).
    #[error("candidate `{id}`: priority {priority} does not fit SDP's 32 bits")]
    PriorityOutOfRange { id: String, priority: u64 },
}
