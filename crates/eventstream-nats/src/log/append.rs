//! Appending. A batch of [`EventLog::append`](eventstream_core::EventLog::append) is published
//! contiguously (`Nats-Expected-Last-Sequence` chained) and retried in full on a conflict; a single event
//! needs no expectation (it is contiguous by itself); [`NatsLog::append_interleaved_inner`] sends a whole
//! batch before it waits for the acks (one round trip, no expectation). Every publish carries the event
//! id as `Nats-Msg-Id`, so a retried event is stored once.

use async_nats::HeaderMap;
use async_nats::header::{NATS_EXPECTED_LAST_SEQUENCE, NATS_MESSAGE_ID};
use async_nats::jetstream::context::{PublishError, PublishErrorKind};
use async_nats::jetstream::publish::PublishAck;
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

/// The headers of one publish: the event id for dedup, and the stream sequence it must follow, if any.
fn headers(id: &str, expected: Option<u64>) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert(NATS_MESSAGE_ID, id);
    if let Some(expected) = expected {
        headers.insert(NATS_EXPECTED_LAST_SEQUENCE, expected.to_string().as_str());
    }
    headers
}

/// The server's refusal of a publish as a [`LogError`] (a conflict is handled by the caller first).
fn refused(id: &str, e: PublishError) -> LogError {
    match e.kind() {
        PublishErrorKind::MaxPayloadExceeded => LogError::Encode { id: id.to_owned(), reason: e.to_string() },
        PublishErrorKind::StreamNotFound => LogError::storage("publishing an event", e),
        _ => LogError::unavailable("publishing an event", e),
    }
}

impl NatsLog {
    /// The canonical JSON of each event with its id, checked against the server's `max_payload`.
    fn bodies<'e>(&self, events: &'e [Event]) -> Result<Vec<(&'e str, Vec<u8>)>, LogError> {
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
        Ok(bodies)
    }

    /// Publishes one event and waits for its ack, riding through a failover (bounded retries with the
    /// same `Nats-Msg-Id`). The outer error: it could not be sent or kept failing; the inner one: the
    /// server's final answer.
    async fn publish_one(&self, id: &str, body: &[u8], expected: Option<u64>) -> Result<Result<PublishAck, PublishError>, LogError> {
        let mut retry = Retry::new(self.config.failover);
        let acked = loop {
            let sent = bounded("publishing an event", self.config.timeout, async {
                self.js
                    .publish_with_headers(self.subject.clone(), headers(id, expected), body.to_vec().into())
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
                    return Err(e);
                }
            };
            match result {
                Err(e) if publish_retryable(&e.kind()) && retry.again("publishing an event", &e).await => continue,
                other => break other,
            }
        };
        if let Ok(ack) = &acked
            && retry.attempts() > 0
        {
            tracing::info!(stream = %self.config.stream, retries = retry.attempts(), duplicate = ack.duplicate, "an append rode through a NATS failover");
        }
        Ok(acked)
    }

    /// One attempt at storing `bodies` contiguously after `last`.
    async fn append_attempt(&self, bodies: &[(&str, Vec<u8>)], last: u64) -> Result<(Vec<u64>, u64), AttemptError> {
        let mut expected = last;
        let mut seqs = Vec::with_capacity(bodies.len());
        for (id, body) in bodies {
            match self.publish_one(id, body, Some(expected)).await.map_err(AttemptError::Failed)? {
                Ok(ack) => {
                    seqs.push(ack.sequence);
                    // A duplicate (a retried event) does not move the stream's last sequence.
                    if !ack.duplicate {
                        expected = ack.sequence;
                    }
                }
                Err(e) if e.kind() == PublishErrorKind::WrongLastSequence => return Err(AttemptError::Conflict { stored: seqs.len() }),
                Err(e) => return Err(AttemptError::Failed(refused(id, e))),
            }
        }
        Ok((seqs, expected))
    }

    pub(super) async fn append_inner(&self, events: &[Event]) -> Result<Vec<Position>, LogError> {
        let bodies = self.bodies(events)?;
        // One event is contiguous by itself: no expected sequence, so concurrent writers never conflict
        // and never wait for each other.
        if let [(id, body)] = bodies.as_slice() {
            let ack = self.publish_one(id, body, None).await?.map_err(|e| refused(id, e))?;
            return Ok(vec![Self::position(ack.sequence)?]);
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

    /// [`EventLog::append_interleaved`](eventstream_core::EventLog::append_interleaved): every event is
    /// sent (in order, on the one connection, so the server stores them in that order) before the first
    /// ack is awaited. An event whose publish or ack failed is published again on its own, with retries,
    /// after the others.
    pub(super) async fn append_interleaved_inner(&self, events: &[Event]) -> Result<Vec<Position>, LogError> {
        let bodies = self.bodies(events)?;
        let mut pending = Vec::with_capacity(bodies.len());
        for (id, body) in &bodies {
            let sent = bounded("publishing an event", self.config.timeout, async {
                self.js
                    .publish_with_headers(self.subject.clone(), headers(id, None), body.clone().into())
                    .await
                    .map_err(unavailable("publishing an event"))
            })
            .await;
            pending.push(sent.ok());
        }
        let mut seqs = Vec::with_capacity(bodies.len());
        for ((id, _), sent) in bodies.iter().zip(pending) {
            let first = match sent {
                Some(ack) => ack.await,
                None => {
                    seqs.push(None);
                    continue;
                }
            };
            seqs.push(match first {
                Ok(ack) => Some(ack.sequence),
                Err(e) if !publish_retryable(&e.kind()) => return Err(refused(id, e)),
                Err(_) => None,
            });
        }
        let mut out = Vec::with_capacity(seqs.len());
        for ((id, body), seq) in bodies.iter().zip(seqs) {
            let seq = match seq {
                Some(seq) => seq,
                None => self.publish_one(id, body, None).await?.map_err(|e| refused(id, e))?.sequence,
            };
            out.push(Self::position(seq)?);
        }
        Ok(out)
    }
}
