//! Global distribution with a real `redis-server`: tandem instances run as different
//! clusters of one domain (one shared database), and real XMPP clients (tokio-xmpp) on
//! different clusters talk to each other.

#[path = "common/cluster.rs"]
mod cluster;
mod common;
#[path = "common/im_client.rs"]
mod im_client;
#[path = "common/redis.rs"]
mod redis;

use cluster::Deployment;
use common::{Server, DOMAIN, STEP};
use im_client::{available, body_of, chat, expect, presence_from};
use tokio_xmpp::parsers::jid::Jid;
use tokio_xmpp::parsers::message::MessageType;
use tokio_xmpp::parsers::presence::Type as PresenceType;
use tokio_xmpp::Client;
use tokio_xmpp::Stanza;

#[tokio::test]
async fn users_on_different_clusters_subscribe_see_presence_and_chat() {
    let d = Deployment::new();
    let Pair {
        eu,
        us: _us,
        mut alice,
        alice_jid,
        mut bob,
        bob_jid,
        ..
    } = alice_and_bob(&d, d.cluster("eu-1"), d.cluster("us-1")).await;

    // Messages both ways: to the bare JID (eu-1 -> us-1) and to the full JID (back).
    alice
        .send_stanza(chat("bob@localhost", "hello from eu-1"))
        .await
        .unwrap();
    let (from, body) = expect(&mut bob, "alice's message", body_of).await;
    assert_eq!(
        (from.as_str(), body.as_str()),
        (alice_jid.to_string().as_str(), "hello from eu-1")
    );
    bob.send_stanza(chat(&alice_jid.to_string(), "hello from us-1"))
        .await
        .unwrap();
    let (from, body) = expect(&mut alice, "bob's message", body_of).await;
    assert_eq!(
        (from.as_str(), body.as_str()),
        (bob_jid.to_string().as_str(), "hello from us-1")
    );

    // An iq to a full JID in the other cluster, and its result back.
    let ping = tokio_xmpp::parsers::iq::Iq::from_get("ping-1", tokio_xmpp::parsers::ping::Ping)
        .with_to(bob_jid.clone());
    alice.send_stanza(ping.into()).await.unwrap();
    let request = expect(&mut bob, "alice's ping", |s| match s {
        Stanza::Iq(iq) if iq.id() == "ping-1" => Some(iq.clone()),
        _ => None,
    })
    .await;
    assert_eq!(request.from(), Some(&alice_jid));
    let result = tokio_xmpp::parsers::iq::Iq::empty_result(alice_jid.clone(), "ping-1");
    bob.send_stanza(result.into()).await.unwrap();
    expect(&mut alice, "bob's pong", |s| match s {
        Stanza::Iq(iq) if iq.id() == "ping-1" && iq.from() == Some(&bob_jid) => Some(()),
        _ => None,
    })
    .await;

    // A subscription across clusters, then presence follows it.
    im_client::subscribe(&mut alice, "alice@localhost", &mut bob, "bob@localhost").await;
    // alice logs in again: her probe for bob is answered by bob's cluster (RFC 6121 §4.3).
    alice.send_end().await.unwrap();
    let (mut alice, _) = online(&eu, "alice").await;
    expect(&mut alice, "bob's presence, answering the probe", |s| {
        presence_from(s, "bob@localhost", PresenceType::None).then_some(())
    })
    .await;
    bob.send_end().await.unwrap();
    expect(&mut alice, "bob unavailable", |s| {
        presence_from(s, "bob@localhost", PresenceType::Unavailable).then_some(())
    })
    .await;
}

/// alice available at eu-1 and bob at us-1, both visible in Redis. Bind both servers when
/// destructuring: a field left to `..` is dropped, and its tandem with it.
struct Pair {
    eu: Server,
    us: Server,
    alice: Client,
    alice_jid: Jid,
    bob: Client,
    bob_jid: Jid,
}

async fn alice_and_bob(d: &Deployment, eu: Server, us: Server) -> Pair {
    eu.add_user("alice", "pw");
    eu.add_user("bob", "pw");
    let (alice, alice_jid) = online(&eu, "alice").await;
    let (bob, bob_jid) = online(&us, "bob").await;
    d.wait_available("alice", "eu-1");
    d.wait_available("bob", "us-1");
    Pair {
        eu,
        us,
        alice,
        alice_jid,
        bob,
        bob_jid,
    }
}

/// Logged in on `server` and available.
async fn online(server: &Server, user: &str) -> (Client, Jid) {
    let (mut client, jid) = im_client::connect(server, user, false).await;
    available(&mut client).await;
    (client, jid)
}

fn error_of(stanza: &Stanza) -> Option<String> {
    match stanza {
        Stanza::Message(m) if m.type_ == MessageType::Error => {
            let payload = m.payloads.iter().find(|p| p.name() == "error")?;
            payload.children().next().map(|c| c.name().to_string())
        }
        _ => None,
    }
}

#[tokio::test]
async fn messages_sent_while_the_recipient_moves_arrive_once_and_in_order() {
    let d = Deployment::new();
    let Pair {
        eu,
        us: _us,
        mut alice,
        mut bob,
        ..
    } = alice_and_bob(&d, d.cluster("eu-1"), d.cluster("us-1")).await;

    const N: usize = 60;
    let sender = tokio::spawn(async move {
        for i in 0..N {
            alice
                .send_stanza(chat("bob@localhost", &format!("m{i:03}")))
                .await
                .unwrap();
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        alice
    });
    // bob leaves us-1 mid-stream and comes back on eu-1.
    let mut got = Vec::new();
    while got.len() < 15 {
        let (_, body) = expect(&mut bob, "messages before the move", body_of).await;
        got.push(body);
    }
    bob.send_end().await.unwrap();
    let (mut bob, _) = online(&eu, "bob").await;
    let mut alice = sender.await.unwrap();
    while got.len() < N {
        let (_, body) = expect(&mut bob, "messages after the move", body_of).await;
        got.push(body);
    }
    let expected: Vec<String> = (0..N).map(|i| format!("m{i:03}")).collect();
    assert_eq!(got, expected, "each message once, in the order sent");
    // A later message goes straight to eu-1, and nothing else is still on its way.
    alice
        .send_stanza(chat("bob@localhost", "after"))
        .await
        .unwrap();
    let (_, body) = expect(&mut bob, "a later message", body_of).await;
    assert_eq!(body, "after");
}

#[tokio::test]
async fn without_redis_local_users_still_talk_remote_ones_fail_fast_and_it_heals() {
    let mut d = Deployment::new();
    let eu = d.cluster("eu-1");
    let us = d.cluster("us-1");
    eu.add_user("alice", "pw");
    eu.add_user("bob", "pw");
    eu.add_user("carol", "pw");
    let (mut alice, _) = online(&eu, "alice").await;
    let (mut carol, _) = online(&eu, "carol").await;
    let (mut bob, _) = online(&us, "bob").await;
    d.wait_available("bob", "us-1");
    d.redis.kill();
    // Outlive the lookup cache: the table itself must be asked.
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;

    alice
        .send_stanza(chat("carol@localhost", "local still works"))
        .await
        .unwrap();
    let (_, body) = expect(&mut carol, "a local message", body_of).await;
    assert_eq!(body, "local still works");
    let asked = std::time::Instant::now();
    alice
        .send_stanza(chat("bob@localhost", "to nowhere"))
        .await
        .unwrap();
    let condition = expect(&mut alice, "an error for bob's message", error_of).await;
    assert_eq!(condition, "remote-server-timeout");
    assert!(
        asked.elapsed() < std::time::Duration::from_secs(3),
        "failed fast"
    );

    // Redis comes back empty; the clusters write their users again.
    d.redis.restart();
    d.wait_available("bob", "us-1");
    d.wait_available("alice", "eu-1");
    alice
        .send_stanza(chat("bob@localhost", "healed"))
        .await
        .unwrap();
    let (_, body) = expect(&mut bob, "a message after Redis returned", body_of).await;
    assert_eq!(body, "healed");
}

/// A TCP relay between clusters that the test can cut: every connection through it is
/// closed at once, as a network failure would.
struct CuttableLink {
    addr: std::net::SocketAddr,
    cut: tokio::sync::watch::Sender<u64>,
}

impl CuttableLink {
    async fn start(
        target: std::sync::Arc<std::sync::Mutex<Option<std::net::SocketAddr>>>,
    ) -> CuttableLink {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (cut, cuts) = tokio::sync::watch::channel(0u64);
        tokio::spawn(async move {
            loop {
                let Ok((mut inbound, _)) = listener.accept().await else {
                    return;
                };
                let Some(to) = *target.lock().unwrap() else {
                    continue;
                };
                let mut cuts = cuts.clone();
                // Only cuts after this connection opened close it.
                cuts.borrow_and_update();
                tokio::spawn(async move {
                    let Ok(mut outbound) = tokio::net::TcpStream::connect(to).await else {
                        return;
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                        _ = cuts.changed() => {}
                    }
                });
            }
        });
        CuttableLink { addr, cut }
    }

    fn cut(&self) {
        self.cut.send_modify(|n| *n += 1);
    }
}

#[tokio::test]
async fn a_link_cut_mid_stream_loses_and_duplicates_nothing() {
    let d = Deployment::new();
    let target = std::sync::Arc::new(std::sync::Mutex::new(None));
    let relay = CuttableLink::start(target.clone()).await;
    let eu = d.cluster("eu-1");
    let us = d.cluster_advertising("us-1", &relay.addr.to_string());
    let line = us.wait_for_log("cluster links listening", STEP);
    let listening = line
        .split("addr=")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .unwrap()
        .parse()
        .unwrap();
    *target.lock().unwrap() = Some(listening);
    let Pair {
        eu,
        us: _us,
        mut alice,
        mut bob,
        ..
    } = alice_and_bob(&d, eu, us).await;

    const N: usize = 300;
    let sender = tokio::spawn(async move {
        for i in 0..N {
            alice
                .send_stanza(chat("bob@localhost", &format!("m{i:03}")))
                .await
                .unwrap();
            if i % 10 == 0 {
                tokio::time::sleep(std::time::Duration::from_millis(5)).await;
            }
        }
        alice
    });
    let mut got = Vec::new();
    let mut cuts = 0;
    while got.len() < N {
        let (_, body) = expect(&mut bob, "alice's messages", body_of).await;
        got.push(body);
        if got.len() % 70 == 0 {
            relay.cut();
            cuts += 1;
        }
    }
    let _alice = sender.await.unwrap();
    let expected: Vec<String> = (0..N).map(|i| format!("m{i:03}")).collect();
    assert_eq!(
        got, expected,
        "each message once, in order, across {cuts} cuts"
    );
    assert!(
        eu.log_lines()
            .iter()
            .filter(|l| l.contains("cluster link up"))
            .count()
            > 1,
        "the link was re-established"
    );
}

#[tokio::test]
async fn a_redis_cluster_holds_the_table_as_well_as_one_node() {
    let d = Deployment::with_redis_cluster();
    let Pair {
        eu: _eu,
        us: _us,
        mut alice,
        alice_jid,
        mut bob,
        bob_jid,
        ..
    } = alice_and_bob(&d, d.cluster("eu-1"), d.cluster("us-1")).await;
    alice
        .send_stanza(chat("bob@localhost", "through a redis cluster"))
        .await
        .unwrap();
    let (from, body) = expect(&mut bob, "alice's message", body_of).await;
    assert_eq!(
        (from, body.as_str()),
        (alice_jid.to_string(), "through a redis cluster")
    );
    bob.send_stanza(chat(&alice_jid.to_string(), "back"))
        .await
        .unwrap();
    let (from, _) = expect(&mut alice, "bob's answer", body_of).await;
    assert_eq!(from, bob_jid.to_string());
    // bob leaves: his entry goes (the removal script runs on the key's node).
    bob.send_end().await.unwrap();
    let key = "tandem:{bob@localhost}:res";
    let deadline = std::time::Instant::now() + STEP;
    while d
        .redis_cluster
        .as_ref()
        .unwrap()
        .cli(&["HLEN", key])
        .as_deref()
        != Some("0")
    {
        assert!(std::time::Instant::now() < deadline, "bob's entry stayed");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// MongooseIM's "ungraceful reconnection to a different cluster": bob's cluster dies, he
/// reconnects to the other one. What was on its way to the dead cluster reaches him there
/// once its registration lapses, and later messages go straight to him, each once.
#[tokio::test]
async fn a_dead_clusters_messages_reach_its_users_where_they_reconnect() {
    let d = Deployment::new();
    let Pair {
        eu,
        mut us,
        mut alice,
        mut bob,
        ..
    } = alice_and_bob(&d, d.cluster("eu-1"), d.cluster("us-1")).await;
    alice
        .send_stanza(chat("bob@localhost", "before"))
        .await
        .unwrap();
    let (_, body) = expect(&mut bob, "a message before the crash", body_of).await;
    assert_eq!(body, "before");

    us.kill();
    alice
        .send_stanza(chat("bob@localhost", "while down"))
        .await
        .unwrap();
    // Let eu-1 notice the link failing before bob's new session competes with the old entry.
    eu.wait_for_log("cluster link down", STEP);
    let (mut bob, _) = online(&eu, "bob").await;
    alice
        .send_stanza(chat("bob@localhost", "after"))
        .await
        .unwrap();
    let mut got = Vec::new();
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(25);
    while got.len() < 2 {
        let (_, body) =
            tokio::time::timeout_at(deadline, expect(&mut bob, "the messages", body_of))
                .await
                .expect("both messages arrive once us-1's registration lapses");
        got.push(body);
    }
    got.sort();
    assert_eq!(got, ["after", "while down"]);
    eu.wait_for_log("cluster is gone; routing what waited for it again", STEP);
    // Nothing else arrives: no second copy of either.
    alice
        .send_stanza(chat("bob@localhost", "last"))
        .await
        .unwrap();
    let (_, body) = expect(&mut bob, "the last message", body_of).await;
    assert_eq!(body, "last", "no duplicate came before it");
}

/// MongooseIM's "messages before available presence" and "offline when the user left
/// everywhere", across clusters: a connected but unavailable bob gets what is sent to his
/// full JID at once and what is sent to his bare JID when he becomes available; once he has
/// left every cluster, messages wait in (shared) offline storage for his next login, which
/// may be at the other cluster.
#[tokio::test]
async fn unavailable_and_offline_recipients_in_other_clusters_get_their_messages_later() {
    let d = Deployment::new();
    let eu = d.cluster("eu-1");
    let us = d.cluster("us-1");
    eu.add_user("alice", "pw");
    eu.add_user("bob", "pw");
    let (mut alice, _) = online(&eu, "alice").await;
    let (mut bob, bob_jid) = im_client::connect(&us, "bob", false).await;
    // bound, not available: the entry exists without a priority
    let key = format!("tandem:{{bob@{DOMAIN}}}:res");
    d.redis
        .wait_for(&["HGETALL", &key], "bob bound at us-1", |o| {
            o.lines()
                .any(|l| cluster::location_at(l, "us-1") == Some("-"))
        });
    alice
        .send_stanza(chat(&bob_jid.to_string(), "to your resource"))
        .await
        .unwrap();
    let (_, body) = expect(&mut bob, "the full-JID message", body_of).await;
    assert_eq!(body, "to your resource");
    alice
        .send_stanza(chat("bob@localhost", "to your account"))
        .await
        .unwrap();
    // Nothing to deliver it to yet: it waits until bob is available.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    available(&mut bob).await;
    let (_, body) = expect(
        &mut bob,
        "the bare-JID message at available presence",
        body_of,
    )
    .await;
    assert_eq!(body, "to your account");

    bob.send_end().await.unwrap();
    d.redis
        .wait_for(&["HLEN", &key], "bob gone everywhere", |o| o == "0");
    alice
        .send_stanza(chat("bob@localhost", "while you were away"))
        .await
        .unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let (mut bob, _) = online(&eu, "bob").await;
    let (_, body) = expect(&mut bob, "the offline message at the next login", body_of).await;
    assert_eq!(body, "while you were away");
}

/// alice on two clusters at once: a roster change made from one reaches her other session
/// (which asked for the roster: only such sessions get pushes, RFC 6121 §2.1.6) as a push
/// from its own cluster.
#[tokio::test]
async fn roster_pushes_reach_the_users_sessions_in_other_clusters() {
    let d = Deployment::new();
    let eu = d.cluster("eu-1");
    let us = d.cluster("us-1");
    eu.add_user("alice", "pw");
    let mut laptop = common::RawClient::login(eu.starttls, "alice", "pw", Some("laptop")).await;
    let mut phone = common::RawClient::login(us.starttls, "alice", "pw", Some("phone")).await;
    phone
        .send("<iq type='get' id='r1'><query xmlns='jabber:iq:roster'/></iq>")
        .await;
    phone.read_until("id='r1'").await;
    let key = format!("tandem:{{alice@{DOMAIN}}}:res");
    // Both sessions, the phone's marked as wanting roster pushes.
    d.redis.wait_for(&["HGETALL", &key], "both sessions", |o| {
        o.contains("eu-1 ")
            && o.lines()
                .any(|l| l.starts_with("us-1 ") && l.ends_with(" r"))
    });
    laptop
        .send("<iq type='set' id='add'><query xmlns='jabber:iq:roster'><item jid='carol@localhost' name='Carol'/></query></iq>")
        .await;
    laptop.read_until("id='add'").await;
    let push = phone.read_until("carol@localhost").await;
    assert!(
        push.contains("jabber:iq:roster") && push.contains("Carol"),
        "{push}"
    );
}

/// RFC 6120 §7.7.2.2 across clusters: the same full JID bound in another cluster closes the
/// older session with a `conflict` stream error, as it would within one.
#[tokio::test]
async fn binding_a_resource_in_another_cluster_closes_the_older_session() {
    let d = Deployment::new();
    let eu = d.cluster("eu-1");
    let us = d.cluster("us-1");
    eu.add_user("alice", "pw");
    let mut old = common::RawClient::login(eu.starttls, "alice", "pw", Some("laptop")).await;
    let key = format!("tandem:{{alice@{DOMAIN}}}:res");
    d.redis
        .wait_for(&["HGET", &key, "laptop"], "laptop at eu-1", |o| {
            o.starts_with("eu-1 ")
        });
    let _new = common::RawClient::login(us.starttls, "alice", "pw", Some("laptop")).await;
    let closed = old.read_until("</stream:stream>").await;
    assert!(closed.contains("<conflict"), "{closed}");
    d.redis
        .wait_for(&["HGET", &key, "laptop"], "laptop at us-1", |o| {
            o.starts_with("us-1 ")
        });
}
