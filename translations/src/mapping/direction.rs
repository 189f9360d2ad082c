//! `a=sendrecv|sendonly|recvonly|inactive` <-> content/@senders (XEP-0166 §def-content,
//! stox-media Table 1) and rtp-hdrext/@senders (XEP-0294).
//!
//! SDP directions are from the SDP author's viewpoint; senders name Jingle roles. So the
//! same `a=sendonly` is `initiator` in the initiator's offer and `responder` in the
//! responder's answer. MongooseIM and lib-jitsi-meet use a fixed initiator-view table and
//! get answers wrong; this follows XEP-0166 (as stanza and Conversations do). The same rule
//! is used for extmap directions, not the XEP-0294 example's fixed reading.

use crate::jingle::Senders;
use crate::sdp::Direction;

/// Which Jingle party wrote the SDP (or will receive the SDP we write).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Initiator,
    Responder,
}

impl Role {
    fn senders(self) -> Senders {
        match self {
            Role::Initiator => Senders::Initiator,
            Role::Responder => Senders::Responder,
        }
    }

    fn other(self) -> Role {
        match self {
            Role::Initiator => Role::Responder,
            Role::Responder => Role::Initiator,
        }
    }
}

/// The senders an SDP direction means when `author` wrote it.
pub fn senders_from_direction(direction: Direction, author: Role) -> Senders {
    match direction {
        Direction::SendRecv => Senders::Both,
        Direction::SendOnly => author.senders(),
        Direction::RecvOnly => author.other().senders(),
        Direction::Inactive => Senders::None,
    }
}

/// The SDP direction that says `senders` from `author`'s viewpoint.
pub fn direction_from_senders(senders: Senders, author: Role) -> Direction {
    match senders {
        Senders::Both => Direction::SendRecv,
        Senders::None => Direction::Inactive,
        s if s == author.senders() => Direction::SendOnly,
        _ => Direction::RecvOnly,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DIRECTIONS: [Direction; 4] = [
        Direction::SendRecv,
        Direction::SendOnly,
        Direction::RecvOnly,
        Direction::Inactive,
    ];

    #[test]
    fn the_same_sendonly_means_different_senders_for_each_author() {
        // A caller putting the call on hold (its re-offer says sendonly): only the
        // initiator sends. The callee answering sendonly: only the responder sends.
        let table = [
            (Direction::SendOnly, Role::Initiator, Senders::Initiator),
            (Direction::SendOnly, Role::Responder, Senders::Responder),
            (Direction::RecvOnly, Role::Initiator, Senders::Responder),
            (Direction::RecvOnly, Role::Responder, Senders::Initiator),
        ];
        for (direction, author, senders) in table {
            assert_eq!(senders_from_direction(direction, author), senders);
        }
        for role in [Role::Initiator, Role::Responder] {
            assert_eq!(
                senders_from_direction(Direction::SendRecv, role),
                Senders::Both
            );
            assert_eq!(
                senders_from_direction(Direction::Inactive, role),
                Senders::None
            );
        }
    }

    #[test]
    fn directions_round_trip_through_senders_for_both_roles() {
        for role in [Role::Initiator, Role::Responder] {
            for d in DIRECTIONS {
                let senders = senders_from_direction(d, role);
                assert_eq!(
                    direction_from_senders(senders, role),
                    d,
                    "{d:?} by {role:?}"
                );
            }
        }
    }

    #[test]
    fn an_offer_and_its_mirrored_answer_agree_on_who_sends() {
        // RFC 3264 §6.1: an answer to sendonly is recvonly. Both SDPs, each read from its
        // own author's role, must name the same Jingle senders.
        let mirror = |d| match d {
            Direction::SendOnly => Direction::RecvOnly,
            Direction::RecvOnly => Direction::SendOnly,
            other => other,
        };
        for d in DIRECTIONS {
            assert_eq!(
                senders_from_direction(d, Role::Initiator),
                senders_from_direction(mirror(d), Role::Responder)
            );
        }
    }
}
