//! Parse and validation errors. Every error names the 1-based line number and the line text,
//! so a bad SDP from a SIP peer can be logged and answered (488) with a useful reason.

/// An SDP or sdpfrag could not be parsed or failed validation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("SDP line {line} `{text}`: {kind}")]
pub struct SdpError {
    /// 1-based line number; one past the last line when something is missing at the end.
    pub line: usize,
    /// The offending line without its line ending (empty when the input ended early).
    pub text: String,
    /// What is wrong.
    pub kind: SdpErrorKind,
}

/// What is wrong with a line (RFC 8866 §5, §9).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SdpErrorKind {
    #[error("empty SDP")]
    Empty,
    #[error("not a `<type>=<value>` line")]
    MalformedLine,
    #[error("control character inside a line (SDP excludes NUL and CR; XML, where it would go, the rest)")]
    ForbiddenByte,
    #[error("missing v= (must be the first line)")]
    MissingVersion,
    #[error("unsupported SDP version `{0}` (only 0)")]
    UnsupportedVersion(String),
    #[error("missing o= (must follow v=)")]
    MissingOrigin,
    #[error("missing s= (must follow o=)")]
    MissingSessionName,
    #[error("missing t= (at least one before the first m=)")]
    MissingTiming,
    #[error("bad o= line: {0}")]
    BadOrigin(&'static str),
    #[error("bad c= line: {0}")]
    BadConnection(&'static str),
    #[error("bad b= line: {0}")]
    BadBandwidth(&'static str),
    #[error("bad t= line: {0}")]
    BadTiming(&'static str),
    #[error("bad r= line: {0}")]
    BadRepeat(&'static str),
    #[error("bad m= line: {0}")]
    BadMedia(&'static str),
    #[error("bad number in {0}")]
    BadNumber(&'static str),
    #[error("`{0}=` line not allowed here")]
    Unexpected(char),
    #[error("duplicate `{0}=` line")]
    Duplicate(char),
    #[error("bad a={name}: {reason}")]
    BadAttribute {
        name: String,
        reason: AttributeError,
    },
}

/// Why a typed attribute value does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AttributeError {
    #[error("value missing")]
    MissingValue,
    #[error("field `{0}` missing")]
    MissingField(&'static str),
    #[error("bad number in `{0}`")]
    BadNumber(&'static str),
    #[error("bad value for `{0}`")]
    BadValue(&'static str),
}
