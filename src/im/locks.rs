//! One async lock per user around read-modify-write of their roster, so that two concurrent
//! updates (a rename from one client, an approval from a contact) cannot overwrite each other.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};

use tokio::sync::OwnedMutexGuard;

#[derive(Default)]
pub struct UserLocks {
    locks: Mutex<HashMap<String, Weak<tokio::sync::Mutex<()>>>>,
}

impl UserLocks {
    /// Locks `username`. Callers never hold two users' locks at once, so no ordering is needed.
    pub async fn lock(&self, username: &str) -> OwnedMutexGuard<()> {
        let lock = {
            let mut locks = self.locks.lock().unwrap_or_else(|p| p.into_inner());
            match locks.get(username).and_then(Weak::upgrade) {
                Some(lock) => lock,
                None => {
                    // Forget locks nobody holds any more before adding one.
                    if locks.len() > 1024 {
                        locks.retain(|_, weak| weak.strong_count() > 0);
                    }
                    let lock = Arc::new(tokio::sync::Mutex::new(()));
                    locks.insert(username.to_owned(), Arc::downgrade(&lock));
                    lock
                }
            }
        };
        lock.lock_owned().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn same_user_is_serialised_others_are_not() {
        let locks = UserLocks::default();
        let held = locks.lock("alice").await;
        assert!(
            tokio::time::timeout(std::time::Duration::from_millis(20), locks.lock("alice"))
                .await
                .is_err()
        );
        let _bob = locks.lock("bob").await;
        drop(held);
        let _again = locks.lock("alice").await;
    }
}
