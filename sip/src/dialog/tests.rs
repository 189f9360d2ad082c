use super::*;

fn seed<'a>(record_route: &'a [String], status: u16) -> DialogSeed<'a> {
    DialogSeed {
        call_id: "c1",
        from_tag: "ft",
        to_tag: "tt",
        from_uri: "sip:alice@example.test",
        to_uri: "sip:bob@example.test",
        cseq: 10,
        remote_contact: "<sip:peer@10.0.0.9:5060>",
        record_route,
        status,
        secure: false,
    }
}

fn routes() -> Vec<String> {
    vec!["<sip:p1.example;lr>".into(), "<sip:p2.example;lr>".into()]
}

#[test]
fn uas_keeps_record_route_order_and_uac_reverses_it() {
    let rr = routes();
    let uas = Dialog::uas(&seed(&rr, 200));
    assert_eq!(uas.route_set, rr);
    assert_eq!(uas.id.local_tag, "tt");
    assert_eq!(uas.remote_seq, Some(10));
    assert_eq!(uas.local_seq, None);
    let uac = Dialog::uac(&seed(&rr, 200));
    assert_eq!(
        uac.route_set,
        vec![
            "<sip:p2.example;lr>".to_string(),
            "<sip:p1.example;lr>".to_string()
        ]
    );
    assert_eq!(uac.id.local_tag, "ft");
    assert_eq!(uac.local_seq, Some(10));
}

#[test]
fn in_dialog_requests_go_to_the_remote_target_via_the_loose_route_set() {
    let rr = routes();
    let mut d = Dialog::uac(&seed(&rr, 200));
    let bye = d.next_request("BYE");
    assert_eq!(
        bye,
        RequestTarget {
            request_uri: "sip:peer@10.0.0.9:5060".into(),
            route: d.route_set.clone(),
            cseq: 11
        }
    );
    assert_eq!(d.next_request("INFO").cseq, 12);
    assert_eq!(
        d.next_request("ACK").cseq,
        12,
        "ACK takes the CSeq of its INVITE"
    );
}

#[test]
fn strict_router_first_becomes_request_uri() {
    let rr = vec!["<sip:old-proxy.example>".to_string()];
    let mut d = Dialog::uas(&seed(&rr, 200));
    let req = d.next_request("BYE");
    assert_eq!(req.request_uri, "sip:old-proxy.example");
    assert_eq!(req.route, vec!["<sip:peer@10.0.0.9:5060>".to_string()]);
    assert_eq!(req.cseq, 1, "the UAS starts its own sequence");
}

#[test]
fn remote_cseq_must_not_go_back_and_reinvite_refreshes_the_target() {
    let mut d = Dialog::uas(&seed(&[], 200));
    assert_eq!(
        d.handle_remote_request("INFO", 9, None),
        Err(DialogError::CseqOutOfOrder)
    );
    assert_eq!(d.handle_remote_request("ACK", 10, None), Ok(()));
    assert_eq!(
        d.handle_remote_request("INVITE", 11, Some("<sip:peer@10.0.0.10>")),
        Ok(())
    );
    assert_eq!(d.remote_target, "<sip:peer@10.0.0.10>");
    assert_eq!(
        d.handle_remote_request("INFO", 12, Some("<sip:ignored@x>")),
        Ok(())
    );
    assert_eq!(
        d.remote_target, "<sip:peer@10.0.0.10>",
        "INFO does not refresh the target"
    );
    d.terminate();
    assert_eq!(
        d.handle_remote_request("BYE", 13, None),
        Err(DialogError::Terminated)
    );
}

#[test]
fn early_dialog_is_confirmed_by_the_2xx() {
    let rr = routes();
    let mut d = Dialog::uac(&seed(&rr, 180));
    assert_eq!(d.state, DialogState::Early);
    let final_rr = vec!["<sip:p3.example;lr>".to_string()];
    d.confirm(Some("<sip:peer@10.0.0.11>"), Some(&final_rr));
    assert_eq!(d.state, DialogState::Confirmed);
    assert_eq!(d.remote_target, "<sip:peer@10.0.0.11>");
    assert_eq!(d.route_set, final_rr);
}
