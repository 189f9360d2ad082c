//! Every timer path of the four machines, on a virtual clock.

use std::time::{Duration, Instant};

use super::key::{ClientKey, RequestIds, ServerKey};
use super::*;

/// A stand-in message: just a label.
#[derive(Debug, Clone, PartialEq)]
struct Msg(String);

impl TxMessage for Msg {
    fn ack_for(invite: &Self, response: &Self) -> Self {
        Msg(format!("ACK for {} after {}", invite.0, response.0))
    }
}

fn m(s: &str) -> Msg {
    Msg(s.into())
}

const MS: fn(u64) -> Duration = Duration::from_millis;

/// Drives a client transaction until `until`, recording when each event happened.
fn run_client(
    tx: &mut ClientTransaction<Msg>,
    start: Instant,
    until: Duration,
) -> Vec<(Duration, ClientEvent<Msg>)> {
    let mut log = Vec::new();
    let drain = |tx: &mut ClientTransaction<Msg>, at: Instant, log: &mut Vec<_>| {
        while let Some(e) = tx.poll_event() {
            log.push((at - start, e));
        }
    };
    drain(tx, start, &mut log);
    while let Some(at) = tx.poll_timeout() {
        if at - start > until {
            break;
        }
        tx.handle_timeout(at);
        drain(tx, at, &mut log);
    }
    log
}

fn transmit_times<M>(log: &[(Duration, ClientEvent<M>)]) -> Vec<u64> {
    log.iter()
        .filter(|(_, e)| matches!(e, ClientEvent::Transmit(_)))
        .map(|(t, _)| t.as_millis() as u64)
        .collect()
}

#[test]
fn invite_over_udp_retransmits_with_timer_a_and_times_out_with_timer_b() {
    let t0 = Instant::now();
    let mut tx = ClientTransaction::new(Kind::Invite, m("INVITE"), false, Timers::default(), t0);
    let log = run_client(&mut tx, t0, Duration::from_secs(60));
    // Sent at 0, then Timer A doubling from T1 without a cap (§17.1.1.2).
    assert_eq!(
        transmit_times(&log),
        [0, 500, 1500, 3500, 7500, 15500, 31500]
    );
    let tail: Vec<_> = log
        .iter()
        .rev()
        .take(2)
        .map(|(t, e)| (t.as_millis(), e.clone()))
        .collect();
    assert_eq!(
        tail,
        [
            (32000, ClientEvent::Terminated),
            (32000, ClientEvent::Timeout)
        ]
    );
}

#[test]
fn invite_over_tcp_is_sent_once() {
    let t0 = Instant::now();
    let mut tx = ClientTransaction::new(Kind::Invite, m("INVITE"), true, Timers::default(), t0);
    let log = run_client(&mut tx, t0, Duration::from_secs(60));
    assert_eq!(transmit_times(&log), [0]);
    assert!(log
        .iter()
        .any(|(t, e)| *t == Duration::from_secs(32) && *e == ClientEvent::Timeout));
}

#[test]
fn provisional_stops_retransmissions_and_timer_b() {
    let t0 = Instant::now();
    let mut tx = ClientTransaction::new(Kind::Invite, m("INVITE"), false, Timers::default(), t0);
    tx.poll_event();
    tx.handle_response(t0 + MS(100), 180, m("180"));
    assert_eq!(tx.state(), ClientState::Proceeding);
    assert_eq!(tx.poll_event(), Some(ClientEvent::Response(m("180"))));
    assert_eq!(
        tx.poll_timeout(),
        None,
        "Proceeding waits for the TU (it may CANCEL)"
    );
}

#[test]
fn non_2xx_final_is_acked_and_retransmissions_reacked_until_timer_d() {
    let t0 = Instant::now();
    let mut tx = ClientTransaction::new(Kind::Invite, m("INVITE"), false, Timers::default(), t0);
    tx.poll_event();
    tx.handle_response(t0 + MS(10), 486, m("486"));
    assert_eq!(tx.poll_event(), Some(ClientEvent::Response(m("486"))));
    let ack = Msg::ack_for(&m("INVITE"), &m("486"));
    assert_eq!(tx.poll_event(), Some(ClientEvent::Transmit(ack.clone())));
    assert_eq!(tx.state(), ClientState::Completed);
    tx.handle_response(t0 + MS(600), 486, m("486"));
    assert_eq!(
        tx.poll_event(),
        Some(ClientEvent::Transmit(ack)),
        "the retransmitted 486 gets the ACK again"
    );
    assert_eq!(tx.poll_event(), None, "and is not passed to the TU");
    assert_eq!(
        tx.poll_timeout(),
        Some(t0 + MS(10) + Duration::from_secs(32))
    );
    tx.handle_timeout(t0 + MS(10) + Duration::from_secs(32));
    assert_eq!(tx.poll_event(), Some(ClientEvent::Terminated));
}

#[test]
fn non_2xx_over_tcp_terminates_at_once() {
    let t0 = Instant::now();
    let mut tx = ClientTransaction::new(Kind::Invite, m("INVITE"), true, Timers::default(), t0);
    tx.handle_response(t0, 603, m("603"));
    assert!(tx.is_terminated());
}

#[test]
fn accepted_passes_every_2xx_until_timer_m() {
    let t0 = Instant::now();
    let mut tx = ClientTransaction::new(Kind::Invite, m("INVITE"), false, Timers::default(), t0);
    tx.poll_event();
    tx.handle_response(t0, 200, m("200 a"));
    tx.handle_response(t0 + MS(5), 200, m("200 b (another fork)"));
    tx.handle_response(t0 + MS(6), 180, m("late 180"));
    let got: Vec<_> = std::iter::from_fn(|| tx.poll_event()).collect();
    assert_eq!(
        got,
        [
            ClientEvent::Response(m("200 a")),
            ClientEvent::Response(m("200 b (another fork)"))
        ]
    );
    assert_eq!(tx.state(), ClientState::Accepted);
    tx.handle_timeout(t0 + Duration::from_secs(32));
    assert_eq!(tx.poll_event(), Some(ClientEvent::Terminated));
}

#[test]
fn non_invite_over_udp_backs_off_to_t2_and_times_out_with_timer_f() {
    let t0 = Instant::now();
    let mut tx =
        ClientTransaction::new(Kind::NonInvite, m("OPTIONS"), false, Timers::default(), t0);
    let log = run_client(&mut tx, t0, Duration::from_secs(60));
    assert_eq!(
        transmit_times(&log),
        [0, 500, 1500, 3500, 7500, 11500, 15500, 19500, 23500, 27500, 31500]
    );
    assert!(log
        .iter()
        .any(|(t, e)| *t == Duration::from_secs(32) && *e == ClientEvent::Timeout));
}

#[test]
fn non_invite_proceeding_retransmits_every_t2_then_completes_with_timer_k() {
    let t0 = Instant::now();
    let mut tx =
        ClientTransaction::new(Kind::NonInvite, m("REGISTER"), false, Timers::default(), t0);
    tx.poll_event();
    tx.handle_response(t0 + MS(100), 100, m("100"));
    tx.poll_event();
    tx.handle_timeout(t0 + MS(500));
    assert_eq!(tx.poll_event(), Some(ClientEvent::Transmit(m("REGISTER"))));
    assert_eq!(
        tx.poll_timeout(),
        Some(t0 + MS(4500)),
        "every T2 in Proceeding"
    );
    tx.handle_response(t0 + MS(1000), 200, m("200"));
    assert_eq!(tx.poll_event(), Some(ClientEvent::Response(m("200"))));
    tx.handle_response(t0 + MS(1100), 200, m("200"));
    assert_eq!(
        tx.poll_event(),
        None,
        "retransmitted final absorbed in Completed"
    );
    assert_eq!(
        tx.poll_timeout(),
        Some(t0 + MS(1000) + Duration::from_secs(5)),
        "Timer K = T4"
    );
    tx.handle_timeout(t0 + MS(6000));
    assert_eq!(tx.poll_event(), Some(ClientEvent::Terminated));
}

#[test]
fn transport_error_reaches_the_tu() {
    let t0 = Instant::now();
    let mut tx = ClientTransaction::new(Kind::NonInvite, m("BYE"), true, Timers::default(), t0);
    tx.poll_event();
    tx.handle_transport_error();
    assert_eq!(tx.poll_event(), Some(ClientEvent::TransportError));
    assert_eq!(tx.poll_event(), Some(ClientEvent::Terminated));
}

#[test]
fn configurable_t1_scales_every_timer() {
    let timers = Timers {
        t1: MS(100),
        t2: MS(400),
        t4: MS(1000),
    };
    let t0 = Instant::now();
    let mut tx = ClientTransaction::new(Kind::NonInvite, m("OPTIONS"), false, timers, t0);
    let log = run_client(&mut tx, t0, Duration::from_secs(60));
    assert_eq!(&transmit_times(&log)[..5], [0, 100, 300, 700, 1100]);
    assert!(log
        .iter()
        .any(|(t, e)| *t == MS(6400) && *e == ClientEvent::Timeout));
}

fn drain_server(tx: &mut ServerTransaction<Msg>) -> Vec<ServerEvent<Msg>> {
    std::iter::from_fn(|| tx.poll_event()).collect()
}

#[test]
fn invite_server_retransmits_error_with_timer_g_until_ack_then_waits_timer_i() {
    let t0 = Instant::now();
    let mut tx = ServerTransaction::new(Kind::Invite, false, Timers::default());
    tx.send_response(t0, 100, m("100"));
    tx.handle_request_retransmission();
    assert_eq!(
        drain_server(&mut tx),
        [
            ServerEvent::Transmit(m("100")),
            ServerEvent::Transmit(m("100"))
        ]
    );
    tx.send_response(t0, 486, m("486"));
    drain_server(&mut tx);
    let mut resent = Vec::new();
    while let Some(at) = tx.poll_timeout() {
        if at - t0 > Duration::from_secs(12) {
            break;
        }
        tx.handle_timeout(at);
        if !drain_server(&mut tx).is_empty() {
            resent.push((at - t0).as_millis() as u64);
        }
    }
    // Timer G from T1, doubling, capped at T2 (§17.2.1).
    assert_eq!(resent, [500, 1500, 3500, 7500, 11500]);
    tx.handle_ack(t0 + Duration::from_secs(12), m("ACK"));
    assert_eq!(tx.state(), ServerState::Confirmed);
    tx.handle_ack(t0 + Duration::from_secs(12), m("ACK"));
    assert!(
        drain_server(&mut tx).is_empty(),
        "retransmitted ACKs are absorbed"
    );
    assert_eq!(
        tx.poll_timeout(),
        Some(t0 + Duration::from_secs(17)),
        "Timer I = T4"
    );
    tx.handle_timeout(t0 + Duration::from_secs(17));
    assert_eq!(drain_server(&mut tx), [ServerEvent::Terminated]);
}

#[test]
fn invite_server_without_ack_times_out_with_timer_h() {
    let t0 = Instant::now();
    let mut tx = ServerTransaction::new(Kind::Invite, true, Timers::default());
    tx.send_response(t0, 404, m("404"));
    drain_server(&mut tx);
    assert_eq!(
        tx.poll_timeout(),
        Some(t0 + Duration::from_secs(32)),
        "no Timer G on TCP, only H"
    );
    tx.handle_timeout(t0 + Duration::from_secs(32));
    assert_eq!(
        drain_server(&mut tx),
        [ServerEvent::Timeout, ServerEvent::Terminated]
    );
}

#[test]
fn invite_server_accepted_hands_the_2xx_ack_to_the_dialog_until_timer_l() {
    let t0 = Instant::now();
    let mut tx = ServerTransaction::new(Kind::Invite, false, Timers::default());
    tx.send_response(t0, 200, m("200"));
    tx.send_response(t0 + MS(500), 200, m("200"));
    tx.handle_request_retransmission();
    assert_eq!(
        drain_server(&mut tx),
        [
            ServerEvent::Transmit(m("200")),
            ServerEvent::Transmit(m("200"))
        ]
    );
    tx.handle_ack(t0 + MS(700), m("ACK"));
    assert_eq!(drain_server(&mut tx), [ServerEvent::AckFor2xx(m("ACK"))]);
    tx.send_response(t0 + MS(800), 486, m("486"));
    assert!(drain_server(&mut tx).is_empty(), "no final after a 2xx");
    tx.handle_timeout(t0 + Duration::from_secs(32));
    assert_eq!(drain_server(&mut tx), [ServerEvent::Terminated]);
}

#[test]
fn non_invite_server_absorbs_in_trying_resends_final_and_ends_with_timer_j() {
    let t0 = Instant::now();
    let mut tx = ServerTransaction::new(Kind::NonInvite, false, Timers::default());
    tx.handle_request_retransmission();
    assert!(drain_server(&mut tx).is_empty());
    tx.send_response(t0, 200, m("200"));
    tx.handle_request_retransmission();
    assert_eq!(
        drain_server(&mut tx),
        [
            ServerEvent::Transmit(m("200")),
            ServerEvent::Transmit(m("200"))
        ]
    );
    assert_eq!(tx.poll_timeout(), Some(t0 + Duration::from_secs(32)));
    tx.handle_timeout(t0 + Duration::from_secs(32));
    assert_eq!(drain_server(&mut tx), [ServerEvent::Terminated]);

    let mut tcp = ServerTransaction::new(Kind::NonInvite, true, Timers::default());
    tcp.send_response(t0, 200, m("200"));
    assert!(
        tcp.is_terminated(),
        "Timer J is zero on reliable transports"
    );
}

fn ids(method: &str) -> RequestIds<'_> {
    RequestIds {
        method,
        branch: Some("z9hG4bKabc"),
        sent_by: "10.0.0.1:5060",
        top_via: "SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKabc",
        request_uri: "sip:alice@example.test",
        from_tag: "f",
        call_id: "c",
        cseq: 1,
    }
}

#[test]
fn layer_matches_requests_acks_and_cancels_and_multiplexes_timers() {
    let t0 = Instant::now();
    let mut layer: TransactionLayer<Msg, &str> = TransactionLayer::new(Timers::default());
    let invite_key = ServerKey::for_request(&ids("INVITE"));
    assert_eq!(
        layer.handle_request(t0, invite_key.clone(), "INVITE", m("INVITE"), "peer", false),
        RequestDisposition::New(m("INVITE"))
    );
    assert_eq!(
        layer.handle_request(t0, invite_key.clone(), "INVITE", m("INVITE"), "peer", false),
        RequestDisposition::Retransmission
    );
    // CANCEL: own transaction, finds its INVITE (§9.2).
    let cancel = ids("CANCEL");
    assert_eq!(
        layer.server_state(&ServerKey::cancelled_invite(&cancel)),
        Some(ServerState::Proceeding)
    );
    let cancel_key = ServerKey::for_request(&cancel);
    assert!(matches!(
        layer.handle_request(t0, cancel_key.clone(), "CANCEL", m("CANCEL"), "peer", false),
        RequestDisposition::New(_)
    ));
    layer.send_response(t0, &cancel_key, 200, m("200 CANCEL"));
    layer.send_response(t0, &invite_key, 487, m("487"));
    let ack_key = ServerKey::for_request(&ids("ACK"));
    assert_eq!(
        layer.handle_request(t0 + MS(100), ack_key, "ACK", m("ACK"), "peer", false),
        RequestDisposition::Ack
    );
    let stray = ServerKey::for_request(&RequestIds {
        branch: Some("z9hG4bKother"),
        ..ids("ACK")
    });
    assert_eq!(
        layer.handle_request(t0, stray, "ACK", m("ACK2"), "peer", false),
        RequestDisposition::StrayAck(m("ACK2"))
    );

    // A client transaction alongside; one timer drives both.
    let ckey = ClientKey {
        branch: "z9hG4bKmine".into(),
        method: "OPTIONS".into(),
    };
    assert!(layer.send_request(t0, ckey.clone(), m("OPTIONS"), "trunk", false));
    assert!(
        !layer.send_request(t0, ckey.clone(), m("OPTIONS"), "trunk", false),
        "duplicate branch refused"
    );
    assert!(!layer.handle_response(
        t0,
        &ClientKey {
            branch: "z9hG4bKnope".into(),
            method: "OPTIONS".into()
        },
        200,
        m("x")
    ));
    let mut now = t0;
    let mut timed_out = false;
    while let Some(at) = layer.poll_timeout() {
        now = at;
        layer.handle_timeout(now);
        while let Some(e) = layer.poll_event() {
            if e == (LayerEvent::RequestTimeout { key: ckey.clone() }) {
                timed_out = true;
            }
        }
    }
    assert!(timed_out);
    assert_eq!(
        now - t0,
        Duration::from_secs(32),
        "the last transaction (CANCEL's Timer J) ends at 64*T1"
    );
    assert!(
        layer.is_empty(),
        "every transaction ended and was forgotten"
    );
}

#[test]
fn layer_refuses_new_server_transactions_beyond_its_bound() {
    let t0 = Instant::now();
    let mut layer: TransactionLayer<Msg, ()> =
        TransactionLayer::new(Timers::default()).with_max_server_transactions(1);
    let first = ServerKey::for_request(&ids("OPTIONS"));
    assert!(matches!(
        layer.handle_request(t0, first.clone(), "OPTIONS", m("a"), (), false),
        RequestDisposition::New(_)
    ));
    let second = ServerKey::for_request(&RequestIds {
        branch: Some("z9hG4bKsecond"),
        ..ids("OPTIONS")
    });
    assert_eq!(
        layer.handle_request(t0, second, "OPTIONS", m("b"), (), false),
        RequestDisposition::Overloaded(m("b"))
    );
    // Retransmissions of the existing one are still absorbed.
    assert_eq!(
        layer.handle_request(t0, first, "OPTIONS", m("a"), (), false),
        RequestDisposition::Retransmission
    );
}
