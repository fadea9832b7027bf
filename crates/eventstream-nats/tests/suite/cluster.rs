//! The log on a private three-node JetStream cluster (`eventstream_testkit::nats_cluster`): R3 streams,
//! appends that ride through the loss of the stream leader without storing anything twice, a group that
//! keeps delivering after it, and a clear error when the cluster has fewer nodes than `replicas`.

use std::collections::BTreeSet;
use std::time::Duration;

use eventstream_core::{EventLog, StartFrom};
use eventstream_nats::{NatsConfig, NatsLog};
use eventstream_testkit::fixtures::{Must, consumer, group, read_all, sample_events};
use eventstream_testkit::nats_cluster::NatsCluster;

fn config(url: String, stream: &str, replicas: usize) -> NatsConfig {
    let mut c = NatsConfig::new(url, stream);
    c.replicas = replicas;
    c.timeout = Duration::from_secs(2);
    c
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn appends_ride_through_the_loss_of_the_stream_leader() {
    let Some(mut cluster) = NatsCluster::start(3).await else { return };
    let log = NatsLog::connect(config(cluster.url(), "failover", 3)).await.must("open an R3 log on the cluster");
    assert!(log.capabilities().replicated, "R3 is replicated");
    let (g, c) = (group("counter"), consumer("c1"));
    log.ensure_group(&g, &StartFrom::Beginning).await.must("ensure_group");

    let events = sample_events(0..300);
    let mut positions = Vec::new();
    for (i, batch) in events.chunks(20).enumerate() {
        if i == 5 {
            let leader = cluster.kill_stream_leader("failover").await;
            eprintln!("killed the stream leader n{leader}");
        }
        if i == 10 {
            let down = (0..cluster.size()).find(|&n| !cluster.is_running(n)).unwrap_or_default();
            cluster.restart(down).await;
        }
        positions.extend(log.append(batch).await.must("append through the failover"));
    }
    assert_eq!(positions.len(), 300);
    let records = read_all(&log).await;
    let ids: Vec<String> = records.iter().map(|r| r.event.as_ref().map(|e| e.id.to_string()).unwrap_or_default()).collect();
    let unique: BTreeSet<&String> = ids.iter().collect();
    assert_eq!((records.len(), unique.len()), (300, 300), "every event stored exactly once");

    // The group delivers everything after the failover, and acks settle it.
    let mut seen = BTreeSet::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while seen.len() < 300 {
        assert!(std::time::Instant::now() < deadline, "the group delivered {} of 300 within 60 s", seen.len());
        let Ok(batch) = log.read_group(&g, &c, 100, Duration::from_millis(200)).await else { continue };
        let got: Vec<_> = batch.iter().map(|d| d.record.position.clone()).collect();
        if log.ack(&g, &got).await.is_ok() {
            seen.extend(got.into_iter().map(|p| p.to_string()));
        }
    }
    let info = log.group_info(&g).await.must("group_info");
    assert_eq!(info.undelivered, 0);
    log.destroy().await.must("destroy");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn more_replicas_than_nodes_is_a_clear_error() {
    let Some(cluster) = NatsCluster::start(3).await else { return };
    let err = NatsLog::connect(config(cluster.url(), "toomany", 5)).await.err().map(|e| anyhow_chain(&e));
    let err = err.unwrap_or_else(|| panic!("R5 on three nodes must fail"));
    assert!(err.contains("nats_replicas"), "the error names the setting: {err}");
    let ok = NatsLog::connect(config(cluster.url(), "three", 3)).await.must("R3 on three nodes");
    ok.destroy().await.must("destroy");
}

/// The error with its sources, one line.
fn anyhow_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut cur = e.source();
    while let Some(s) = cur {
        out.push_str(": ");
        out.push_str(&s.to_string());
        cur = s.source();
    }
    out
}
