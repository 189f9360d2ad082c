//! The command-line contracts: check-config and user management, through the real binary.

use std::io::Write;
use std::process::{Command, Stdio};

fn tandem() -> Command {
    Command::new(env!("CARGO_BIN_EXE_tandem"))
}

fn assert_ok(out: &std::process::Output) {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Runs tandem with `args`, writing `input` to its standard input.
fn with_stdin(args: &[&str], input: &[u8]) -> std::process::Output {
    let mut child = tandem()
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(input).unwrap();
    child.wait_with_output().unwrap()
}

#[test]
fn check_config_reports_every_problem_with_line_and_key() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.toml");
    std::fs::write(
        &file,
        "[server]\ndomian = \"x\"\n[xmpp]\nlisten = [\"127.0.0.1\"]\n",
    )
    .unwrap();
    let out = tandem().arg("check-config").arg(&file).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("bad.toml:2:1: server.domian") && err.contains("did you mean `domain`"),
        "{err}"
    );
    assert!(err.contains("bad.toml:4:11: xmpp.listen[0]"), "{err}");

    let good = dir.path().join("good.toml");
    std::fs::write(&good, "[server]\ndomain = \"example.test\"\n").unwrap();
    let out = tandem().arg("check-config").arg(&good).output().unwrap();
    assert_ok(&out);
    assert!(String::from_utf8_lossy(&out.stdout).contains("example.test"));
}

#[test]
fn user_add_list_del_with_data_dir_and_stdin_password() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap();
    let ok = |args: &[&str]| {
        let out = tandem()
            .args(args)
            .args(["--data-dir", data])
            .output()
            .unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).to_string()
                + &String::from_utf8_lossy(&out.stderr),
        )
    };
    assert!(ok(&["user", "add", "alice@localhost", "--password", "pw"]).0);
    let out = with_stdin(&["user", "add", "bob", "--data-dir", data], b"from-stdin\n");
    assert!(out.status.success());
    let (success, text) = ok(&["user", "add", "alice@localhost", "--password", "again"]);
    assert!(!success && text.contains("already exists"), "{text}");
    let (success, text) = ok(&["user", "add", "eve@elsewhere.test", "--password", "pw"]);
    assert!(
        !success && text.contains("not on this server's domain"),
        "{text}"
    );
    assert_eq!(ok(&["user", "list"]).1, "alice@localhost\nbob@localhost\n");
    assert!(ok(&["user", "del", "alice@localhost"]).0);
    let (success, _) = ok(&["user", "del", "alice@localhost"]);
    assert!(!success);
    assert_eq!(ok(&["user", "list"]).1, "bob@localhost\n");
    // Nothing resembling the password is stored.
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap();
        assert!(!bytes.windows(10).any(|w| w == b"from-stdin"));
    }
}

#[test]
fn cert_issue_writes_a_ca_signed_client_certificate_with_the_xmpp_addr() {
    use x509_parser::extensions::{GeneralName, ParsedExtension};
    let dir = tempfile::tempdir().unwrap();
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "operator CA");
    let ca = ca_params.self_signed(&ca_key).unwrap();
    std::fs::write(dir.path().join("ca.pem"), ca.pem()).unwrap();
    std::fs::write(dir.path().join("ca.key"), ca_key.serialize_pem()).unwrap();

    let out = tandem()
        .args(["cert", "issue", "alice@example.test", "--ca-cert"])
        .arg(dir.path().join("ca.pem"))
        .arg("--ca-key")
        .arg(dir.path().join("ca.key"))
        .arg("--out")
        .arg(dir.path().join("certs/alice"))
        .output()
        .unwrap();
    assert_ok(&out);
    let pem = std::fs::read(dir.path().join("certs/alice.pem")).unwrap();
    assert!(std::fs::read_to_string(dir.path().join("certs/alice.key"))
        .unwrap()
        .contains("PRIVATE KEY"));
    let (_, pem) = x509_parser::pem::parse_x509_pem(&pem).unwrap();
    let cert = pem.parse_x509().unwrap();
    assert_eq!(cert.issuer().to_string(), "CN=operator CA");
    let mut xmpp_addrs = Vec::new();
    let mut client_auth = false;
    for ext in cert.extensions() {
        match ext.parsed_extension() {
            ParsedExtension::SubjectAlternativeName(san) => {
                for name in &san.general_names {
                    if let GeneralName::OtherName(oid, value) = name {
                        assert_eq!(oid.to_id_string(), "1.3.6.1.5.5.7.8.5");
                        xmpp_addrs.push(value.to_vec());
                    }
                }
            }
            ParsedExtension::ExtendedKeyUsage(eku) => client_auth = eku.client_auth,
            _ => {}
        }
    }
    assert!(client_auth, "usable for TLS client authentication");
    assert_eq!(xmpp_addrs.len(), 1);
    // The otherName value is an explicitly tagged UTF8String holding the JID.
    assert!(
        xmpp_addrs[0]
            .windows(18)
            .any(|w| w == b"alice@example.test"),
        "{:?}",
        xmpp_addrs[0]
    );
    // A bare domain cannot be a user's certificate.
    let bad = tandem()
        .args(["cert", "issue", "example.test", "--ca-cert"])
        .arg(dir.path().join("ca.pem"))
        .arg("--ca-key")
        .arg(dir.path().join("ca.key"))
        .arg("--out")
        .arg(dir.path().join("x"))
        .output()
        .unwrap();
    assert!(!bad.status.success());
}

/// `tandem translate`: a phone's SDP to Jingle and, from exactly that output, back to SDP;
/// an iq around the element is accepted too; bad input exits 1 naming the line.
#[test]
fn translate_sdp_to_jingle_and_back_through_the_cli() {
    let fixture = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/fixtures/sdp/sip_phone_pcmu_pcma_dtmf.sdp"
    );
    let out = tandem()
        .args(["translate", "--to", "jingle", fixture])
        .output()
        .unwrap();
    assert_ok(&out);
    let jingle = String::from_utf8(out.stdout).unwrap();
    assert!(jingle.contains("action=\"session-initiate\""), "{jingle}");
    assert!(
        jingle.contains("urn:xmpp:jingle:transports:raw-udp:1"),
        "{jingle}"
    );
    assert!(
        jingle.contains("<parameter name=\"\" value=\"0-16\"/>"),
        "{jingle}"
    );

    let to_sdp = |input: &str, role: &str| {
        with_stdin(
            &["translate", "--to", "sdp", "--role", role, "-"],
            input.as_bytes(),
        )
    };
    let out = to_sdp(&jingle, "initiator");
    assert_ok(&out);
    let sdp = String::from_utf8(out.stdout).unwrap();
    for line in [
        "m=audio 6000 RTP/AVP 0 8 101",
        "c=IN IP4 192.0.2.55",
        "a=rtpmap:101 telephone-event/8000",
        "a=fmtp:101 0-16",
        "a=ptime:20",
    ] {
        assert!(sdp.contains(line), "{line} missing from\n{sdp}");
    }
    let iq = format!(
        "<iq xmlns='jabber:client' type='set' id='1'>{}</iq>",
        jingle.trim()
    );
    assert!(to_sdp(&iq, "responder").status.success());

    let out = to_sdp("v=0\r\nnot sdp\r\n", "initiator");
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("line 2"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Trickle: an RFC 8840 sdpfrag becomes a transport-info (end-of-candidates as
/// `<gathering-complete/>`), and that transport-info becomes the same fragment again.
#[test]
fn translate_trickle_fragments_both_ways() {
    let fragment = "a=ice-ufrag:8hhY\r\na=ice-pwd:asd88fgpdd777uzjYhagZg\r\n\
        m=audio 9 RTP/AVP 0\r\na=mid:1\r\n\
        a=candidate:1 1 UDP 1658497328 198.51.100.33 5000 typ host\r\na=end-of-candidates\r\n";
    let out = with_stdin(&["translate", "--to", "jingle", "-"], fragment.as_bytes());
    assert_ok(&out);
    let jingle = String::from_utf8(out.stdout).unwrap();
    assert!(jingle.contains("action=\"transport-info\""), "{jingle}");
    assert!(jingle.contains("<gathering-complete/>"), "{jingle}");
    let out = with_stdin(&["translate", "--to", "sdp", "-"], jingle.as_bytes());
    assert_ok(&out);
    let back = String::from_utf8(out.stdout).unwrap();
    assert!(!back.contains("v=0"), "a fragment, not a session:\n{back}");
    for line in [
        "m=audio 9 RTP/AVP 0\r\na=mid:1\r\n",
        "a=ice-ufrag:8hhY\r\n",
        "a=candidate:1 1 udp 1658497328 198.51.100.33 5000 typ host",
        "a=end-of-candidates\r\n",
    ] {
        assert!(back.contains(line), "{line:?} missing from\n{back}");
    }
    let out = with_stdin(&["translate", "--to", "jingle", "-"], b"hello\n");
    assert_eq!(out.status.code(), Some(1));
}
