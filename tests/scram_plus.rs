//! SCRAM-PLUS (RFC 5802 channel binding, RFC 9266 tls-exporter, XEP-0440) against the
//! `sasl` crate's client, the one tokio-xmpp uses: the binding must be this connection's,
//! and a client that says "server lacks binding" while -PLUS is offered is refused.

mod common;

use base64::Engine as _;
use common::{RawClient, Server, OPEN};
use sasl::client::mechanisms::Scram;
use sasl::client::Mechanism;
use sasl::common::scram::Sha256;
use sasl::common::ChannelBinding;

const SASL: &str = "urn:ietf:params:xml:ns:xmpp-sasl";

fn b64(data: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(data)
}

/// Element text between `<tag ...>` and `</tag>` in `xml`.
fn text_of(xml: &str, tag: &str) -> String {
    let start = xml.find(&format!("<{tag}")).expect("element present");
    let open_end = start + xml[start..].find('>').unwrap() + 1;
    let close = open_end + xml[open_end..].find(&format!("</{tag}>")).unwrap();
    xml[open_end..close].to_string()
}

/// Runs a SCRAM exchange to its end; returns the server's last SASL element.
async fn scram(client: &mut RawClient, mut mech: Scram<Sha256>) -> String {
    client.received.clear();
    let name = mech.name().to_string();
    let initial = b64(&mech.initial());
    client
        .send(&format!(
            "<auth xmlns='{SASL}' mechanism='{name}'>{initial}</auth>"
        ))
        .await;
    let got = client.read_until("urn:ietf:params:xml:ns:xmpp-sasl'").await;
    let got = if got.contains("<challenge") {
        client.read_until("</challenge>").await
    } else {
        client.read_until("</failure>").await;
        return client.received.clone();
    };
    let challenge = base64::engine::general_purpose::STANDARD
        .decode(text_of(&got, "challenge"))
        .unwrap();
    let response = mech
        .response(&challenge)
        .expect("server-first is well formed");
    client.received.clear();
    client
        .send(&format!(
            "<response xmlns='{SASL}'>{}</response>",
            b64(&response)
        ))
        .await;
    client.read_until("urn:ietf:params:xml:ns:xmpp-sasl'").await;
    client.read_until(">").await;
    client.received.clone()
}

async fn open_tls(server: &Server) -> (RawClient, String) {
    let mut client = RawClient::connect_tls(server.starttls).await;
    client.send(OPEN).await;
    let features = client.read_until("</stream:features>").await;
    (client, features)
}

#[tokio::test]
async fn tls_exporter_binding_logs_in_and_foreign_binding_fails() {
    let server = Server::start();
    server.add_user("alice", "secret");

    let (mut client, features) = open_tls(&server).await;
    assert!(
        features.contains("<mechanism>SCRAM-SHA-256-PLUS</mechanism>"),
        "{features}"
    );
    assert!(
        features.contains("urn:xmpp:sasl-cb:0") && features.contains("tls-exporter"),
        "XEP-0440 channel-binding types advertised: {features}"
    );
    let binding = ChannelBinding::TlsExporter(client.tls_exporter());
    let mech = Scram::<Sha256>::new("alice", "secret", binding).unwrap();
    let result = scram(&mut client, mech).await;
    assert!(result.contains("<success"), "{result}");

    // Binding data from another TLS connection: a man in the middle's view. Refused.
    let (other, _) = open_tls(&server).await;
    let (mut client, _) = open_tls(&server).await;
    let stolen = ChannelBinding::TlsExporter(other.tls_exporter());
    let mech = Scram::<Sha256>::new("alice", "secret", stolen).unwrap();
    let result = scram(&mut client, mech).await;
    assert!(result.contains("<failure"), "{result}");
    assert!(!result.contains("<success"), "{result}");
}

#[tokio::test]
async fn downgrade_flag_is_refused_when_plus_was_offered() {
    let server = Server::start();
    server.add_user("alice", "secret");
    let (mut client, _) = open_tls(&server).await;
    // 'y': the client claims the server offers no binding, yet -PLUS was advertised, so
    // someone stripped it (RFC 5802 §6).
    let mech = Scram::<Sha256>::new("alice", "secret", ChannelBinding::Unsupported).unwrap();
    let result = scram(&mut client, mech).await;
    assert!(result.contains("<failure"), "{result}");

    // Plain SCRAM without binding ('n') stays allowed.
    let (mut client, _) = open_tls(&server).await;
    let mech = Scram::<Sha256>::new("alice", "secret", ChannelBinding::None).unwrap();
    let result = scram(&mut client, mech).await;
    assert!(result.contains("<success"), "{result}");
}

/// `tls-server-end-point` (RFC 5929 §4.1), which the `sasl` crate does not speak: a
/// hand-written SCRAM-SHA-256-PLUS client (RFC 5802 §3) binding to the hash of the server
/// certificate it saw. A man in the middle presents another certificate, so another hash.
#[tokio::test]
async fn tls_server_end_point_binding_logs_in_and_a_wrong_hash_fails() {
    let server = Server::start();
    server.add_user("alice", "secret");
    let (mut client, features) = open_tls(&server).await;
    assert!(features.contains("tls-server-end-point"), "{features}");
    let end_point = {
        use sha2::Digest;
        sha2::Sha256::digest(client.server_certificate()).to_vec()
    };
    let result = end_point_scram(&mut client, &end_point).await;
    assert!(result.contains("<success"), "{result}");

    let (mut client, _) = open_tls(&server).await;
    let result = end_point_scram(&mut client, &[0u8; 32]).await;
    assert!(result.contains("<failure"), "{result}");
}

async fn end_point_scram(client: &mut RawClient, binding: &[u8]) -> String {
    use hmac::{Hmac, Mac};
    use sha2::{Digest, Sha256};
    let hmac = |key: &[u8], data: &[u8]| {
        let mut mac = Hmac::<Sha256>::new_from_slice(key).unwrap();
        mac.update(data);
        mac.finalize().into_bytes().to_vec()
    };
    let gs2 = "p=tls-server-end-point,,";
    let first_bare = "n=alice,r=clientnonce0123456789";
    client.received.clear();
    client
        .send(&format!(
            "<auth xmlns='{SASL}' mechanism='SCRAM-SHA-256-PLUS'>{}</auth>",
            b64(format!("{gs2}{first_bare}").as_bytes())
        ))
        .await;
    let got = client.read_until("</challenge>").await;
    let server_first = String::from_utf8(
        base64::engine::general_purpose::STANDARD
            .decode(text_of(&got, "challenge"))
            .unwrap(),
    )
    .unwrap();
    let field = |name: &str| {
        server_first
            .split(',')
            .find_map(|kv| kv.strip_prefix(&format!("{name}=")))
            .unwrap()
            .to_string()
    };
    let salt = base64::engine::general_purpose::STANDARD
        .decode(field("s"))
        .unwrap();
    let iterations: u32 = field("i").parse().unwrap();
    let mut salted = [0u8; 32];
    pbkdf2::pbkdf2_hmac::<Sha256>(b"secret", &salt, iterations, &mut salted);
    let client_key = hmac(&salted, b"Client Key");
    let stored_key = Sha256::digest(&client_key);
    let mut cbind = gs2.as_bytes().to_vec();
    cbind.extend_from_slice(binding);
    let final_bare = format!("c={},r={}", b64(&cbind), field("r"));
    let auth_message = format!("{first_bare},{server_first},{final_bare}");
    let signature = hmac(&stored_key, auth_message.as_bytes());
    let proof: Vec<u8> = client_key
        .iter()
        .zip(&signature)
        .map(|(k, s)| k ^ s)
        .collect();
    client.received.clear();
    client
        .send(&format!(
            "<response xmlns='{SASL}'>{}</response>",
            b64(format!("{final_bare},p={}", b64(&proof)).as_bytes())
        ))
        .await;
    client.read_until("urn:ietf:params:xml:ns:xmpp-sasl'").await;
    client.read_until(">").await
}
