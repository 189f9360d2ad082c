//! The rules SDP <-> Jingle translation is built from (`design/sdp-jingle-mapping.md` §1),
//! each a small pure function with its decision written into tests. The whole-document
//! translation (offer/answer in both directions) is assembled from these.

mod direction;
mod fmtp;
mod profile;

pub use direction::{direction_from_senders, senders_from_direction, Role};
pub use fmtp::{fmtp_from_parameters, implied_parameters, parameters_from_fmtp};
pub use profile::{profile_of, Profile};
