//! Acks in batches: handler tasks send the positions that may be acked, one task per subscriber acks them
//! together.

use std::sync::Arc;
use std::time::Duration;

use eventstream_core::error::Chain;
use eventstream_core::{EventLog, GroupName, Position};
use tokio::sync::mpsc;

/// Acks in batches; on shutdown flushes what is queued.
pub(super) async fn acker(log: Arc<dyn EventLog>, group: GroupName, mut rx: mpsc::UnboundedReceiver<Position>) {
    let mut batch = Vec::new();
    while rx.recv_many(&mut batch, 256).await > 0 {
        let mut tries = 0;
        loop {
            match log.ack(&group, &batch).await {
                Ok(_) => break,
                Err(e) => {
                    tries += 1;
                    if tries >= 5 {
                        // Left pending: they will be redelivered and the inbox will skip them.
                        tracing::warn!(subscriber = %group, error = %Chain(&e), count = batch.len(), "ack failed; entries stay pending");
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(100 * tries)).await;
                }
            }
        }
        batch.clear();
    }
}
