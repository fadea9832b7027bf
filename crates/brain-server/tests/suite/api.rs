//! The event API in-process: publishing and history, the SSE tail, CloudEvents in and out (with the SDK as
//! the client), bad input, tenant isolation, keys, the OpenAPI document, catalog and metrics.

mod bad_input;
mod cloudevents_out;
mod cloudevents_sdk;
mod event_ids;
mod events;
mod ingest;
mod isolation;
mod keys;
mod openapi;
mod sse;
