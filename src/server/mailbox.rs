//! A session's inbox: what other sessions deliver to it.
//!
//! A tokio mpsc channel preallocates a block of slots and a cache-padded header, over 1 KiB
//! per idle session; this queue allocates only while something is queued.

use std::collections::VecDeque;
use std::sync::Mutex;

use tokio::sync::Notify;

use super::SessionCommand;

#[derive(Debug, Default)]
pub struct Mailbox {
    state: Mutex<State>,
    notify: Notify,
}

#[derive(Debug, Default)]
struct State {
    queue: VecDeque<SessionCommand>,
    closed: bool,
}

impl Mailbox {
    /// Queues a command; false once the owner stopped receiving.
    pub fn send(&self, command: SessionCommand) -> bool {
        {
            let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
            if state.closed {
                return false;
            }
            state.queue.push_back(command);
        }
        // Stores a permit when the owner is not waiting, so no wake-up is lost.
        self.notify.notify_one();
        true
    }

    /// Next command, waiting for one. Cancel-safe: nothing is taken until it is returned.
    pub async fn recv(&self) -> SessionCommand {
        loop {
            if let Some(command) = self.try_recv() {
                return command;
            }
            self.notify.notified().await;
        }
    }

    pub fn try_recv(&self) -> Option<SessionCommand> {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let command = state.queue.pop_front();
        if command.is_none() && state.queue.capacity() > 0 {
            state.queue = VecDeque::new();
        }
        command
    }

    /// Refuses further commands; what is queued can still be taken with `try_recv`.
    pub fn close(&self) {
        self.state.lock().unwrap_or_else(|p| p.into_inner()).closed = true;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tandem_xmpp::stream::StreamErrorCondition;

    #[tokio::test]
    async fn delivers_in_order_wakes_the_receiver_and_refuses_after_close() {
        let mailbox = std::sync::Arc::new(Mailbox::default());
        let waiting = tokio::spawn({
            let mailbox = mailbox.clone();
            async move { mailbox.recv().await }
        });
        tokio::task::yield_now().await;
        assert!(mailbox.send(SessionCommand::Evict(StreamErrorCondition::Conflict)));
        assert!(matches!(
            waiting.await.unwrap(),
            SessionCommand::Evict(StreamErrorCondition::Conflict)
        ));
        mailbox.send(SessionCommand::Evict(StreamErrorCondition::Reset));
        mailbox.send(SessionCommand::Evict(StreamErrorCondition::SystemShutdown));
        mailbox.close();
        assert!(!mailbox.send(SessionCommand::Evict(StreamErrorCondition::Conflict)));
        assert!(matches!(
            mailbox.recv().await,
            SessionCommand::Evict(StreamErrorCondition::Reset)
        ));
        assert!(matches!(
            mailbox.try_recv(),
            Some(SessionCommand::Evict(StreamErrorCondition::SystemShutdown))
        ));
        assert!(mailbox.try_recv().is_none());
    }
}
