//! The command-line contracts: check-config and user management, through the real binary.

use std::io::Write;
use std::process::{Command, Stdio};

fn tandem() -> Command {
    Command::new(env!("CARGO_BIN_EXE_tandem"))
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
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
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
    let mut child = tandem()
        .args(["user", "add", "bob", "--data-dir", data])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"from-stdin\n")
        .unwrap();
    assert!(child.wait().unwrap().success());
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
