//! The consumer runtime continues the trace an event carries: the handler runs in a span whose parent is
//! the event's `meta.traceparent`, and what the handler emits carries the handler span's context, so a
//! chain of events is one trace. Spans are recorded with the SDK's in-memory exporter.

use std::time::Duration;

use eventstream::{ConsumerRuntime, EventStream, PublisherOptions, Subscription, handler_fn};
use eventstream_core::trace::{TraceContext, TraceParent};
use eventstream_core::{Event, StartFrom, TypePattern};

use futures::FutureExt;
use opentelemetry::trace::{SpanId, TraceId, TracerProvider as _};
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider};
use tracing_subscriber::Layer as _;
use tracing_subscriber::layer::SubscriberExt as _;

use super::helpers::{embedded, eventually, fast_options, group, sqlite_store};

const ORIGIN: &str = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";

#[tokio::test]
async fn events_a_handler_emits_carry_the_handler_span_as_parent() {
    let exporter = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder().with_simple_exporter(exporter.clone()).build();
    let layer = tracing_opentelemetry::layer()
        .with_tracer(provider.tracer("t"))
        .with_filter(tracing_subscriber::filter::Targets::new().with_target(eventstream::trace::TARGET, tracing::Level::INFO));
    let _guard = tracing::subscriber::set_default(tracing_subscriber::registry().with(layer));

    let dir = tempfile::tempdir().unwrap();
    let log = embedded(dir.path()).await;
    let store = sqlite_store(dir.path()).await;
    let (stream, tasks) = EventStream::start(log.clone(), store.clone(), None, PublisherOptions::default());

    // A handler of `task.created` that emits a `task.completed` (no trace context of its own).
    let emitter = stream.clone();
    let handler = handler_fn(move |_ctx, event| {
        let emitter = emitter.clone();
        let follow = Event::new("task.completed".parse().unwrap(), "worker".parse().unwrap(), event.payload.clone());
        async move {
            emitter.emit(follow).await;
            Ok(())
        }
        .boxed()
    });
    let name = group("trace");
    let mut runtime = ConsumerRuntime::new(log.clone(), store.clone(), "r1".parse().unwrap());
    runtime
        .spawn(Subscription::new(name.clone(), vec!["task.created".parse::<TypePattern>().unwrap()], handler).with_options(fast_options()));

    // A span callsite another test thread registered while this thread's subscriber was being installed
    // can keep the interest it computed without it ("never", so the handler span would not be recorded);
    // rebuilding now, before the traced publish, gives every registered callsite this subscriber's interest.
    tracing::callsite::rebuild_interest_cache();
    let origin: TraceParent = ORIGIN.parse().unwrap();
    let mut first = Event::new("task.created".parse().unwrap(), "api".parse().unwrap(), serde_json::Map::new());
    TraceContext { parent: origin, state: Some("vendor=1".into()) }.write_to(&mut first.meta);
    stream.publish(first.clone()).await.unwrap();

    let log_ = log.clone();
    eventually(Duration::from_secs(60), "the handler's event in the log", || {
        let log = log_.clone();
        async move {
            let records = log.read(&StartFrom::Beginning, 10, Duration::ZERO).await.unwrap();
            records.iter().any(|r| r.event.as_ref().is_ok_and(|e| e.event_type.as_str() == "task.completed"))
        }
    })
    .await;
    let records = log.read(&StartFrom::Beginning, 10, Duration::ZERO).await.unwrap();
    let follow = records.into_iter().filter_map(|r| r.event.ok()).find(|e| e.event_type.as_str() == "task.completed");
    let follow = follow.unwrap();
    let exporter_ = exporter.clone();
    eventually(Duration::from_secs(20), "the handler span finished", || {
        let exporter = exporter_.clone();
        async move { exporter.get_finished_spans().unwrap().iter().any(|s| s.name == "handle task.created") }
    })
    .await;
    let spans = exporter.get_finished_spans().unwrap();
    let handler_span = spans.iter().find(|s| s.name == "handle task.created").expect("the handler span");
    assert_eq!(handler_span.span_context.trace_id(), TraceId::from_bytes(origin.trace_id), "the handler continues the event's trace");
    assert_eq!(handler_span.parent_span_id, SpanId::from_bytes(origin.span_id), "its parent is the publisher's span");
    let carried = TraceContext::from_meta(&follow.meta).expect("the emitted event carries a trace context");
    assert_eq!(carried.parent.trace_id, origin.trace_id, "same trace");
    assert_eq!(SpanId::from_bytes(carried.parent.span_id), handler_span.span_context.span_id(), "child of the handler span");
    assert_eq!(carried.state.as_deref(), Some("vendor=1"), "the vendor state travels along");

    runtime.shutdown(Duration::from_secs(5)).await;
    tasks.shutdown(Duration::from_secs(5)).await;
}
