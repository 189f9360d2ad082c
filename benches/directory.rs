//! Global route lookups per second (`[cluster]`), against a private redis-server this bench
//! starts on a free loopback port: served from the cache, and asked of Redis (a miss, as
//! after an invalidation). `cargo bench --bench directory`.

#[path = "../src/cluster/directory.rs"]
#[allow(dead_code, unused_imports)]
mod directory;

use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use directory::{Directory, Location};

fn main() {
    divan::main();
    // Statics are never dropped: stop the server here, or it outlives the bench.
    if let Some((_, _, Redis(child))) = SETUP.get() {
        if let Ok(mut child) = child.lock() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

struct Redis(std::sync::Mutex<Child>);

static SETUP: OnceLock<(tokio::runtime::Runtime, Directory, Redis)> = OnceLock::new();

/// One redis-server and one runtime for every benchmark; users `u0`..`u999` with two
/// resources each, written by "eu-1" and "us-1".
fn setup() -> &'static (tokio::runtime::Runtime, Directory, Redis) {
    SETUP.get_or_init(|| {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new("redis-server")
            .args(["--bind", "127.0.0.1", "--port", &port.to_string()])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server (scripts/install-test-peers.sh)");
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let url = vec![format!("redis://127.0.0.1:{port}")];
        let (directory, other) = runtime.block_on(async {
            let mut tries = 0;
            loop {
                let d = Directory::connect(&url, "eu-1", Duration::from_secs(300))
                    .await
                    .unwrap();
                if d.register("127.0.0.1:1").await.is_ok() {
                    let other = Directory::connect(&url, "us-1", Duration::from_secs(300))
                        .await
                        .unwrap();
                    other.register("127.0.0.1:2").await.unwrap();
                    break (d, other);
                }
                tries += 1;
                assert!(tries < 100, "redis-server did not come up");
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        });
        runtime.block_on(async {
            for (d, resource) in [(&directory, "laptop"), (&other, "phone")] {
                let entries: Vec<(String, Location)> = (0..1000)
                    .map(|i| {
                        (
                            format!("u{i}@example.test"),
                            Location {
                                resource: resource.into(),
                                cluster: d.cluster().into(),
                                node: "bench:1".into(),
                                priority: Some(0),
                                interested: true,
                            },
                        )
                    })
                    .collect();
                d.put(&entries, false).await.unwrap();
            }
        });
        (runtime, directory, Redis(std::sync::Mutex::new(child)))
    })
}

#[divan::bench]
fn lookup_cached(bencher: divan::Bencher) {
    let (runtime, directory, _) = setup();
    runtime
        .block_on(directory.locate("u1@example.test"))
        .unwrap();
    bencher.bench(|| {
        let found = runtime.block_on(directory.locate(divan::black_box("u1@example.test")));
        assert_eq!(found.unwrap().len(), 2);
    });
}

#[divan::bench]
fn lookup_from_redis(bencher: divan::Bencher) {
    let (runtime, directory, _) = setup();
    let mut i = 0usize;
    bencher.bench_local(|| {
        i = (i + 1) % 1000;
        let user = format!("u{i}@example.test");
        directory.invalidate(&user);
        let found = runtime.block_on(directory.locate(&user));
        assert_eq!(found.unwrap().len(), 2);
    });
}
