//! Mapping client errors to [`LogError`]: a server that cannot be reached or does not answer in time is
//! `Unavailable` (retry later); a JetStream API error the server answered with is `Storage`.

use std::future::Future;
use std::time::Duration;

use eventstream_core::LogError;

/// Runs `fut`, failing with [`LogError::Unavailable`] when it takes longer than `limit`.
pub(crate) async fn bounded<T>(what: &str, limit: Duration, fut: impl Future<Output = Result<T, LogError>>) -> Result<T, LogError> {
    match tokio::time::timeout(limit, fut).await {
        Ok(r) => r,
        Err(elapsed) => Err(LogError::unavailable(format!("{what}: no answer within {limit:?}"), elapsed)),
    }
}

/// A client error as [`LogError::Unavailable`] with context.
pub(crate) fn unavailable<E>(what: &str) -> impl FnOnce(E) -> LogError + '_
where
    E: std::error::Error + Send + Sync + 'static,
{
    move |e| LogError::unavailable(what.to_owned(), e)
}

/// A client error as [`LogError::Storage`] with context (the server answered, retrying will not help).
pub(crate) fn storage<E>(what: &str) -> impl FnOnce(E) -> LogError + '_
where
    E: std::error::Error + Send + Sync + 'static,
{
    move |e| LogError::storage(what.to_owned(), e)
}

/// Why a stored pending record could not be used.
#[derive(Debug, thiserror::Error)]
#[error("pending record `{subject}` is malformed")]
pub(crate) struct BadRecord {
    pub(crate) subject: String,
    #[source]
    pub(crate) source: serde_json::Error,
}

/// A position this backend never issued.
pub(crate) fn invalid_position(p: &str, reason: &str) -> LogError {
    LogError::InvalidPosition { position: p.to_owned(), reason: reason.to_owned() }
}

/// The stream asks for more replicas than the JetStream cluster can place.
#[derive(Debug, thiserror::Error)]
#[error(
    "JetStream cannot place {replicas} replicas of stream `{stream}` (nats_replicas = {replicas}): the server or cluster has \
     fewer JetStream nodes than that; set nats_replicas to at most the number of nodes (1 for a single server)"
)]
pub(crate) struct TooFewNodes {
    pub(crate) stream: String,
    pub(crate) replicas: usize,
    #[source]
    pub(crate) source: async_nats::jetstream::context::CreateStreamError,
}

/// Whether a stream creation failed because the cluster cannot place that many replicas.
pub(crate) fn is_too_few_nodes(e: &async_nats::jetstream::context::CreateStreamError) -> bool {
    use async_nats::jetstream::ErrorCode;
    use async_nats::jetstream::context::CreateStreamErrorKind;
    match e.kind() {
        CreateStreamErrorKind::JetStream(err) => matches!(
            err.error_code(),
            ErrorCode::STREAM_REPLICAS_NOT_SUPPORTED | ErrorCode::INSUFFICIENT_RESOURCES | ErrorCode::CLUSTER_NO_PEERS
        ),
        _ => false,
    }
}
