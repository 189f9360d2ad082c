//! One incoming SIP call ringing several devices at once: the callee's XMPP devices (a JMI
//! proposal, or a session-initiate per Jingle-only resource) and her registered SIP phones.
//! The first to answer wins; the others are told "Call completed elsewhere". When none
//! answers, the caller gets the best of their failures (RFC 3261 §16.7, the response
//! context of a forking proxy).
//!
//! Pure like [`super::Call`]: the edge reports what each branch did and acts on the
//! [`Decision`]. Branches are numbered in the order the edge created them.

use std::time::{Duration, Instant};

/// The RFC 3326 `Reason:` value for branches that lose to another device's answer
/// (the text phones display, RFC 3326 §2 and common practice since SIP forking began).
pub const COMPLETED_ELSEWHERE: &str = "SIP;cause=200;text=\"Call completed elsewhere\"";
/// The same, as the `<text/>` of a Jingle reason (XEP-0166 has no condition for it).
pub const COMPLETED_ELSEWHERE_TEXT: &str = "Call completed elsewhere";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BranchState {
    Pending,
    Answered,
    /// Failed with this status, or ended by the fork (its own 487 is then ignored).
    Done(u16),
}

/// What the edge does with a branch's response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Pass it to the caller.
    Forward,
    /// Keep it from the caller (a later provisional, one failure while others still ring).
    Absorb,
    /// This branch answered first: pass its 2xx on and end these branches, "completed
    /// elsewhere".
    Won { others: Vec<usize> },
    /// It answered after another branch won: end it.
    TooLate,
    /// The call fails: answer the caller with `status` and end these branches still ringing.
    Fail { status: u16, others: Vec<usize> },
}

/// The arbiter for one forked INVITE.
#[derive(Debug, Clone)]
pub struct Fork {
    branches: Vec<BranchState>,
    winner: Option<usize>,
    final_status: Option<u16>,
    provisional_forwarded: bool,
    deadline: Option<Instant>,
}

impl Fork {
    /// `branches` devices rung at `now`; unanswered ones give up after `ring_timeout`.
    pub fn new(now: Instant, branches: usize, ring_timeout: Duration) -> Fork {
        Fork {
            branches: vec![BranchState::Pending; branches],
            winner: None,
            final_status: None,
            provisional_forwarded: false,
            deadline: Some(now + ring_timeout),
        }
    }

    /// The winning branch, once one answered.
    pub fn winner(&self) -> Option<usize> {
        self.winner
    }

    /// The caller has its final response (a 2xx or a failure).
    pub fn is_decided(&self) -> bool {
        self.winner.is_some() || self.final_status.is_some()
    }

    /// Every branch has answered or ended: nothing more will come from them.
    pub fn is_settled(&self) -> bool {
        !self.branches.contains(&BranchState::Pending)
    }

    fn pending_except(&self, branch: Option<usize>) -> Vec<usize> {
        (0..self.branches.len())
            .filter(|b| Some(*b) != branch && self.branches[*b] == BranchState::Pending)
            .collect()
    }

    /// Ends every branch still ringing (they will not be asked again) and returns them.
    fn end_pending(&mut self, except: Option<usize>, status: u16) -> Vec<usize> {
        let others = self.pending_except(except);
        for b in &others {
            self.branches[*b] = BranchState::Done(status);
        }
        others
    }

    /// A provisional response from `branch`: only the first 18x reaches the caller (one
    /// ringing, as a single device would give).
    pub fn provisional(&mut self, branch: usize, status: u16) -> Decision {
        let ringing = self.branches.get(branch) == Some(&BranchState::Pending);
        if ringing && !self.is_decided() && status > 100 && !self.provisional_forwarded {
            self.provisional_forwarded = true;
            return Decision::Forward;
        }
        Decision::Absorb
    }

    /// `branch` answered (2xx, session-accept).
    pub fn answered(&mut self, branch: usize) -> Decision {
        if branch >= self.branches.len() {
            return Decision::TooLate;
        }
        if self.winner == Some(branch) {
            // A retransmitted 2xx of the winner.
            return Decision::Forward;
        }
        if self.is_decided() || self.branches[branch] != BranchState::Pending {
            self.branches[branch] = BranchState::Answered;
            return Decision::TooLate;
        }
        self.branches[branch] = BranchState::Answered;
        self.winner = Some(branch);
        self.deadline = None;
        Decision::Won {
            others: self.end_pending(Some(branch), 200),
        }
    }

    /// `branch` failed with a final `status` (≥ 300).
    pub fn failed(&mut self, branch: usize, status: u16) -> Decision {
        if self.branches.get(branch) != Some(&BranchState::Pending) {
            return Decision::Absorb;
        }
        self.branches[branch] = BranchState::Done(status);
        if self.is_decided() {
            return Decision::Absorb;
        }
        // §16.7 step 5: a 6xx ends the search; the other branches are cancelled.
        if status >= 600 {
            return self.fail(status);
        }
        if self.is_settled() {
            let status = self.best_failure();
            return self.fail(status);
        }
        Decision::Absorb
    }

    /// The caller cancelled: every branch still ringing ends (the caller got its 487).
    pub fn cancel(&mut self) -> Vec<usize> {
        if self.is_decided() {
            return Vec::new();
        }
        self.final_status = Some(487);
        self.deadline = None;
        self.end_pending(None, 487)
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        self.deadline
    }

    /// Nobody answered in the ring time: 480 to the caller (RFC 7247 §6: no answer),
    /// every ringing branch ends.
    pub fn handle_timeout(&mut self, now: Instant) -> Option<Decision> {
        if self.deadline.is_none_or(|d| d > now) || self.is_decided() {
            return None;
        }
        Some(self.fail(480))
    }

    fn fail(&mut self, status: u16) -> Decision {
        self.final_status = Some(status);
        self.deadline = None;
        Decision::Fail {
            status,
            others: self.end_pending(None, status),
        }
    }

    /// §16.7 step 6: a 6xx if any, else the lowest class; within 4xx the answer that says
    /// most about the callee (busy before unavailable before not found); a lone 503
    /// becomes 500 so the caller does not retry elsewhere on our behalf.
    fn best_failure(&self) -> u16 {
        let statuses = self.branches.iter().filter_map(|b| match b {
            BranchState::Done(s) => Some(*s),
            _ => None,
        });
        let rank = |s: u16| -> (u16, u16) {
            let class = s / 100;
            let class_rank = if class == 6 { 0 } else { class };
            let within = match s {
                486 | 600 => 0,
                480 => 1,
                408 => 2,
                487 => 3,
                404 => 4,
                _ => 5,
            };
            (class_rank, within)
        };
        let best = statuses.min_by_key(|s| rank(*s)).unwrap_or(480);
        if best == 503 {
            500
        } else {
            best
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fork(n: usize) -> (Fork, Instant) {
        let now = Instant::now();
        (Fork::new(now, n, Duration::from_secs(30)), now)
    }

    #[test]
    fn the_first_answer_wins_and_the_others_end() {
        let (mut f, _) = fork(3);
        assert_eq!(f.provisional(2, 180), Decision::Forward);
        assert_eq!(f.provisional(0, 180), Decision::Absorb, "one ringing only");
        assert_eq!(f.answered(1), Decision::Won { others: vec![0, 2] });
        assert_eq!(f.winner(), Some(1));
        assert_eq!(f.answered(1), Decision::Forward, "a retransmitted 2xx");
        assert_eq!(f.answered(0), Decision::TooLate);
        assert_eq!(
            f.failed(2, 487),
            Decision::Absorb,
            "the cancelled branch's 487"
        );
        assert!(f.is_settled());
        assert_eq!(f.poll_timeout(), None);
    }

    #[test]
    fn a_busy_device_does_not_stop_the_others_ringing() {
        let (mut f, _) = fork(2);
        assert_eq!(f.failed(0, 486), Decision::Absorb);
        assert!(!f.is_decided());
        assert_eq!(f.answered(1), Decision::Won { others: vec![] });
    }

    #[test]
    fn when_all_fail_the_caller_gets_the_best_failure() {
        let (mut f, _) = fork(3);
        assert_eq!(f.failed(0, 404), Decision::Absorb);
        assert_eq!(f.failed(1, 486), Decision::Absorb);
        assert_eq!(
            f.failed(2, 480),
            Decision::Fail {
                status: 486,
                others: vec![]
            }
        );
        let (mut f, _) = fork(2);
        f.failed(0, 503);
        assert_eq!(
            f.failed(1, 503),
            Decision::Fail {
                status: 500,
                others: vec![]
            }
        );
        let (mut f, _) = fork(2);
        f.failed(0, 302);
        assert_eq!(
            f.failed(1, 486),
            Decision::Fail {
                status: 302,
                others: vec![]
            },
            "lowest class"
        );
    }

    #[test]
    fn a_decline_ends_every_branch() {
        let (mut f, _) = fork(3);
        assert_eq!(
            f.failed(1, 603),
            Decision::Fail {
                status: 603,
                others: vec![0, 2]
            }
        );
        assert_eq!(f.answered(0), Decision::TooLate);
    }

    #[test]
    fn the_ring_timeout_fails_with_480_and_ends_whoever_rings() {
        let (mut f, now) = fork(2);
        f.failed(0, 486);
        assert_eq!(f.handle_timeout(now + Duration::from_secs(29)), None);
        assert_eq!(
            f.handle_timeout(now + Duration::from_secs(30)),
            Some(Decision::Fail {
                status: 480,
                others: vec![1]
            })
        );
        assert_eq!(f.handle_timeout(now + Duration::from_secs(31)), None);
        assert_eq!(f.provisional(1, 180), Decision::Absorb);
    }

    #[test]
    fn a_caller_cancel_ends_every_ringing_branch_once() {
        let (mut f, _) = fork(2);
        f.failed(0, 486);
        assert_eq!(f.cancel(), vec![1]);
        assert_eq!(f.cancel(), Vec::<usize>::new());
        assert_eq!(f.failed(1, 487), Decision::Absorb);
        assert_eq!(f.answered(1), Decision::TooLate);
    }

    #[test]
    fn out_of_range_branches_change_nothing() {
        let (mut f, _) = fork(1);
        assert_eq!(f.answered(5), Decision::TooLate);
        assert_eq!(f.failed(5, 486), Decision::Absorb);
        assert_eq!(f.provisional(5, 180), Decision::Absorb);
        assert!(!f.is_decided());
    }
}
