use jid::BareJid;
use tandem_xmpp::roster::{RosterItem, Subscription};
use tandem_xmpp::sasl::PasswordRecord;

use super::*;

async fn open_temp() -> (tempfile::TempDir, Storage) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("t.db").display());
    (dir, Storage::open(&url).await.unwrap())
}

#[tokio::test]
async fn users_round_trip_and_survive_reopen() {
    let (dir, storage) = open_temp().await;
    let record = PasswordRecord::derive("alice", "example.test", "pw", 4096).unwrap();
    storage.add_user("alice", &record).await.unwrap();
    assert!(matches!(
        storage.add_user("alice", &record).await,
        Err(StorageError::UserExists(_))
    ));
    storage.close().await;
    let storage = Storage::open(&format!("sqlite://{}", dir.path().join("t.db").display()))
        .await
        .unwrap();
    let loaded = storage.get_user("alice").await.unwrap().unwrap();
    assert_eq!(
        loaded.scram_sha256.stored_key,
        record.scram_sha256.stored_key
    );
    assert_eq!(loaded.ha1_md5, record.ha1_md5);
    assert_eq!(
        storage.list_users().await.unwrap(),
        vec!["alice".to_string()]
    );
    assert!(storage.delete_user("alice").await.unwrap());
    assert!(storage.get_user("alice").await.unwrap().is_none());
}

#[tokio::test]
async fn roster_items_and_offline_messages() {
    let (_dir, storage) = open_temp().await;
    let mut item = RosterItem::new(BareJid::new("bob@x").unwrap());
    item.listed = true;
    item.groups = vec!["Friends".into(), "Work \"quoted\"".into()];
    item.subscription = Subscription::To;
    storage.put_roster_item("alice", &item).await.unwrap();
    assert_eq!(storage.roster("alice").await.unwrap(), vec![item.clone()]);
    // An item with nothing left is removed rather than stored.
    let empty = RosterItem::new(BareJid::new("bob@x").unwrap());
    storage.put_roster_item("alice", &empty).await.unwrap();
    assert!(storage.roster("alice").await.unwrap().is_empty());

    storage
        .store_offline("alice", "<message>1</message>")
        .await
        .unwrap();
    storage
        .store_offline("alice", "<message>2</message>")
        .await
        .unwrap();
    assert_eq!(storage.offline_count("alice").await.unwrap(), 2);
    let taken = storage.take_offline("alice").await.unwrap();
    let texts: Vec<&str> = taken.iter().map(|m| m.stanza.as_str()).collect();
    assert_eq!(texts, ["<message>1</message>", "<message>2</message>"]);
    assert_eq!(storage.offline_count("alice").await.unwrap(), 0);
    assert!(storage.take_offline("alice").await.unwrap().is_empty());
}

#[tokio::test]
async fn sip_bindings_are_replaced_whole_and_survive_reopen() {
    use tandem_sip::registrar::Binding;
    let (dir, storage) = open_temp().await;
    let binding = |contact: &str| Binding {
        contact: contact.into(),
        expires_at: 2_000_000_000,
        call_id: "c".into(),
        cseq: 3,
        q: Some(0.5),
        instance: Some("<urn:uuid:1>".into()),
        source: "udp:127.0.0.1:5080".into(),
    };
    let aor = "sip:bob@example.test";
    storage
        .replace_bindings(
            aor,
            &[binding("sip:bob@10.0.0.2"), binding("sip:bob@10.0.0.3")],
        )
        .await
        .unwrap();
    storage
        .replace_bindings(aor, &[binding("sip:bob@10.0.0.3")])
        .await
        .unwrap();
    storage.close().await;
    let storage = Storage::open(&format!("sqlite://{}", dir.path().join("t.db").display()))
        .await
        .unwrap();
    assert_eq!(
        storage.bindings(aor).await.unwrap(),
        vec![binding("sip:bob@10.0.0.3")]
    );
    assert!(storage
        .bindings("sip:nobody@example.test")
        .await
        .unwrap()
        .is_empty());
}
