//! SIP stack (RFC 3261). Built in issue 3; empty until then.
