//! Appending: each batch is published contiguously (`Nats-Expected-Last-Sequence` chained), retried in full on a conflict.

use async_nats::HeaderMap;
use async_nats::header::{NATS_EXPECTED_LAST_SEQUENCE, NATS_MESSAGE_ID};
use async_nats::jetstream::context::PublishErrorKind;
use eventstream_core::{Event, LogError, Position};

use super::NatsLog;
use crate::error::{bounded, unavailable};
use crate::failover::{Retry, publish_retryable};

/// How often `append` retries after another writer appended in between (see [`NatsLog::append`]).
const APPEND_ATTEMPTS: usize = 8;
/// Room left for headers when checking an event against the server's `max_payload`.
const HEADER_ROOM: usize = 512;

/// Why one attempt at appending a batch stopped.
enum AttemptError {
    /// Another writer appended in between; `stored` events of this attempt were stored first.
    Conflict { stored: usize },
    /// Anything else.
    Failed(LogError),
}

impl NatsLog {
    /// One attempt at storing `bodies` contiguously after `last`.
    async fn append_attempt(&self, bodies: &[(&str, Vec<u8>)], last: u64) -> Result<(Vec<u64>, u64), AttemptError> {
        let mut expected = last;
        let mut seqs = Vec::with_capacity(bodies.len());
        for (id, body) in bodies {
            let mut retry = Retry::new(self.config.failover);
            let acked = loop {
                let mut headers = HeaderMap::new();
                headers.insert(NATS_MESSAGE_ID, *id);
                headers.insert(NATS_EXPECTED_LAST_SEQUENCE, expected.to_string().as_str());
                let sent = bounded("publishing an event", self.config.timeout, async {
                    self.js
                        .publish_with_headers(self.subject.clone(), headers, body.clone().into())
                        .await
                        .map_err(unavailable("publishing an event"))
                })
                .await;
                let result = match sent {
                    Ok(ack) => ack.await,
                    Err(e) => {
                        // Not even sent (the connection is down): the same event goes again.
                        if retry.again("publishing an event", &e).await {
                            continue;
                        }
                        return Err(AttemptError::Failed(e));
                    }
                };
                match result {
                    Err(e) if publish_retryable(&e.kind()) && retry.again("publishing an event", &e).await => continue,
                    other => break other,
                }
            };
            match acked {
                Ok(ack) => {
                    if retry.attempts() > 0 {
                        tracing::info!(stream = %self.config.stream, retries = retry.attempts(), duplicate = ack.duplicate, "an append rode through a NATS failover");
                    }
                    seqs.push(ack.sequence);
                    // A duplicate (a retried event) does not move the stream's last sequence.
                    if !ack.duplicate {
                        expected = ack.sequence;
                    }
                }
                Err(e) if e.kind() == PublishErrorKind::WrongLastSequence => return Err(AttemptError::Conflict { stored: seqs.len() }),
                Err(e) if e.kind() == PublishErrorKind::MaxPayloadExceeded => {
                    return Err(AttemptError::Failed(LogError::Encode { id: (*id).to_owned(), reason: e.to_string() }));
                }
                Err(e) if e.kind() == PublishErrorKind::StreamNotFound => {
                    return Err(AttemptError::Failed(LogError::storage("publishing an event", e)));
                }
                Err(e) => return Err(AttemptError::Failed(LogError::unavailable("publishing an event", e))),
            }
        }
        Ok((seqs, expected))
    }

    pub(super) async fn append_inner(&self, events: &[Event]) -> Result<Vec<Position>, LogError> {
        let max_payload = self.client.server_info().max_payload;
        let mut bodies = Vec::with_capacity(events.len());
        for e in events {
            let body = e.to_json_vec();
            if max_payload > 0 && body.len() + HEADER_ROOM > max_payload {
                return Err(LogError::Encode {
                    id: e.id.to_string(),
                    reason: format!("{} bytes exceed the server's max_payload of {max_payload}", body.len()),
                });
            }
            bodies.push((e.id.as_str(), body));
        }
        let mut last = self.last_seq.lock().await;
        for _ in 0..APPEND_ATTEMPTS {
            let known = match *last {
                Some(n) => n,
                None => self.state().await?.1,
            };
            match self.append_attempt(&bodies, known).await {
                Ok((seqs, new_last)) => {
                    *last = Some(new_last);
                    return seqs.into_iter().map(Self::position).collect();
                }
                Err(AttemptError::Conflict { stored }) => {
                    if stored > 0 {
                        tracing::warn!(stream = %self.config.stream, stored, "another writer interleaved a batch; retrying it (stored events are deduplicated)");
                    }
                    *last = None;
                }
                Err(AttemptError::Failed(e)) => {
                    *last = None;
                    return Err(e);
                }
            }
        }
        Err(LogError::unavailable(
            "appending a batch",
            std::io::Error::other(format!("other writers kept appending in between for {APPEND_ATTEMPTS} attempts")),
        ))
    }
}
