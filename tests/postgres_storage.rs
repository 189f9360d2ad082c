//! The PostgreSQL storage backend end to end: accounts, subscriptions and offline messages
//! through the real binary on a private PostgreSQL server, across a restart.

mod common;

#[path = "common/postgres.rs"]
mod postgres;

use common::{RawClient, Server};

async fn login(server: &Server, user: &str) -> RawClient {
    RawClient::login(server.starttls, user, "pw", None).await
}

#[tokio::test]
async fn accounts_rosters_and_offline_messages_live_in_postgres() {
    let Some(pg) = postgres::Postgres::start() else {
        return;
    };
    let mut server = Server::start_with_config(&format!("[storage]\nurl = \"{}\"\n", pg.url));
    server.add_user("ann", "pw");
    server.add_user("bo", "pw");

    let mut ann = login(&server, "ann").await;
    ann.send("<presence/>").await;
    ann.send("<iq type='set' id='r1'><query xmlns='jabber:iq:roster'><item jid='bo@localhost' name='Bo'><group>Pals</group></item></query></iq>").await;
    ann.read_until("id='r1'").await;
    ann.send("<presence type='subscribe' to='bo@localhost'/>")
        .await;
    ann.send(
        "<message type='chat' to='bo@localhost' id='m1'><body>stored in postgres</body></message>",
    )
    .await;
    ann.sync().await;
    drop(ann);
    server.restart();

    let mut bo = login(&server, "bo").await;
    bo.send("<presence/>").await;
    let got = bo.read_until("stored in postgres").await;
    assert!(
        got.contains("type='subscribe'") && got.contains("from='ann@localhost'"),
        "pending request survives: {got}"
    );
    bo.send("<presence type='subscribed' to='ann@localhost'/>")
        .await;
    bo.sync().await;
    let mut ann = login(&server, "ann").await;
    ann.send("<iq type='get' id='r2'><query xmlns='jabber:iq:roster'/></iq>")
        .await;
    let got = ann.read_until("</iq>").await;
    assert!(
        got.contains("jid='bo@localhost'")
            && got.contains("name='Bo'")
            && got.contains("<group>Pals</group>"),
        "{got}"
    );
    assert!(got.contains("subscription='to'"), "{got}");
}
