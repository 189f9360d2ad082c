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
