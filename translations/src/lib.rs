//! SDP <-> Jingle translation. Built in issue 4; empty until then.
