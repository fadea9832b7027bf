//! A private NATS JetStream cluster for fault tests: `nats-server` processes clustered on free loopback
//! ports (client port and route port each), JetStream storing in their own temp dirs, started by the
//! test, killed (SIGKILL) and restarted on the same storage by index or as "the leader of stream S", and
//! killed when the [`NatsCluster`] is dropped.
//!
//! ```ignore
//! let Some(mut cluster) = NatsCluster::start(3).await else { return }; // skipped loudly without nats-server
//! let url = cluster.url();                        // "nats://127.0.0.1:p0,nats://127.0.0.1:p1,..."
//! let leader = cluster.kill_stream_leader("BRAIN_EVENTS").await;
//! cluster.restart(leader).await;
//! ```
//!
//! [`NatsCluster::start`] calls [`require_tool`](crate::require_tool): without `nats-server` the test is
//! skipped with a banner, and fails under `CI=true`.

use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::ToolProbe;

/// The server binary, looked up in `PATH`.
pub const NATS_SERVER: &str = "nats-server";
/// How long a node may take to listen, and the cluster to elect its meta leader.
const START_PATIENCE: Duration = Duration::from_secs(30);

/// One member of the cluster.
#[derive(Debug)]
struct Node {
    name: String,
    port: u16,
    config: PathBuf,
    child: Option<Child>,
}

/// A running cluster of `nats-server` processes; every process is killed on drop.
#[derive(Debug)]
pub struct NatsCluster {
    nodes: Vec<Node>,
    _dir: tempfile::TempDir,
}

/// A free loopback port (bound, then released for the server to take).
///
/// # Panics
/// When no port can be bound.
pub fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("binding a free port: {e}"));
    l.local_addr().unwrap_or_else(|e| panic!("reading a free port: {e}")).port()
}

impl NatsCluster {
    /// Starts `size` clustered nodes (`n0`, `n1`, ...) and waits until JetStream answers on each (a meta
    /// leader is elected). With `size` 1 the node is a standalone server. `None` when `nats-server` is missing outside CI (a banner says so).
    ///
    /// # Panics
    /// Under CI without `nats-server`; when a node does not start or no meta leader is elected within 30 s.
    pub async fn start(size: usize) -> Option<Self> {
        if !crate::require_tool(NATS_SERVER, ToolProbe::command(NATS_SERVER, ["--version"])) {
            return None;
        }
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("creating the cluster's temp dir: {e}"));
        let ports: Vec<(u16, u16)> = (0..size).map(|_| (free_port(), free_port())).collect();
        let routes: Vec<String> = ports.iter().map(|(_, route)| format!("\"nats-route://127.0.0.1:{route}\"")).collect();
        let mut nodes = Vec::with_capacity(size);
        for (i, (port, route)) in ports.iter().enumerate() {
            let name = format!("n{i}");
            let store = dir.path().join(&name);
            std::fs::create_dir_all(&store).unwrap_or_else(|e| panic!("creating {}: {e}", store.display()));
            let mut text =
                format!("server_name: {name}\nlisten: \"127.0.0.1:{port}\"\njetstream {{\n  store_dir: \"{}\"\n}}\n", store.display());
            // One node is a standalone server (no cluster block): what a single-node deployment runs.
            if size > 1 {
                text.push_str(&format!(
                    "cluster {{\n  name: brain-test\n  listen: \"127.0.0.1:{route}\"\n  routes: [{}]\n}}\n",
                    routes.join(", ")
                ));
            }
            let config = dir.path().join(format!("{name}.conf"));
            std::fs::write(&config, text).unwrap_or_else(|e| panic!("writing {}: {e}", config.display()));
            nodes.push(Node { name, port: *port, config, child: None });
        }
        let mut cluster = Self { nodes, _dir: dir };
        for i in 0..size {
            cluster.spawn(i);
        }
        for i in 0..size {
            cluster.wait_listening(i);
        }
        cluster.wait_jetstream().await;
        Some(cluster)
    }

    /// How many nodes the cluster has (running or not).
    pub fn size(&self) -> usize {
        self.nodes.len()
    }

    /// The client URLs of every node, comma-separated (what `--nats-url` takes).
    pub fn url(&self) -> String {
        (0..self.nodes.len()).map(|i| self.node_url(i)).collect::<Vec<_>>().join(",")
    }

    /// The client URL of node `i`.
    pub fn node_url(&self, i: usize) -> String {
        format!("nats://127.0.0.1:{}", self.nodes[i].port)
    }

    /// Whether node `i` runs.
    pub fn is_running(&self, i: usize) -> bool {
        self.nodes[i].child.is_some()
    }

    fn spawn(&mut self, i: usize) {
        let node = &mut self.nodes[i];
        let child = Command::new(NATS_SERVER)
            .arg("-c")
            .arg(&node.config)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("starting {NATS_SERVER} {}: {e}", node.name));
        node.child = Some(child);
    }

    fn wait_listening(&self, i: usize) {
        let deadline = Instant::now() + START_PATIENCE;
        let port = self.nodes[i].port;
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "nats-server {} did not listen on {port} within {START_PATIENCE:?}", self.nodes[i].name);
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Kills node `i` (SIGKILL: no goodbye to the cluster) and waits for the process to end.
    pub fn kill(&mut self, i: usize) {
        if let Some(mut child) = self.nodes[i].child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts node `i` again on its storage and ports, and waits until it listens and JetStream answers
    /// on it.
    ///
    /// # Panics
    /// When the node does not come back within 30 s.
    pub async fn restart(&mut self, i: usize) {
        assert!(!self.is_running(i), "node {i} is running");
        self.spawn(i);
        self.wait_listening(i);
        self.wait_jetstream().await;
    }

    /// Waits until every running node answers a JetStream account-info request without an error,
    /// which needs an elected meta leader.
    ///
    /// # Panics
    /// When that takes more than 30 s.
    pub async fn wait_jetstream(&self) {
        let deadline = Instant::now() + START_PATIENCE;
        for i in (0..self.nodes.len()).filter(|&i| self.is_running(i)) {
            loop {
                let answer = self.request(i, "$JS.API.INFO").await;
                if answer.as_ref().is_some_and(|v| v.get("error").is_none()) {
                    break;
                }
                assert!(
                    Instant::now() < deadline,
                    "JetStream did not answer on {} within {START_PATIENCE:?}: {answer:?}",
                    self.nodes[i].name
                );
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }

    /// A JetStream API request to node `i`, answered as JSON (`None` when the node does not answer).
    async fn request(&self, i: usize, subject: &str) -> Option<serde_json::Value> {
        let client = tokio::time::timeout(Duration::from_secs(2), async_nats::connect(self.node_url(i))).await.ok()?.ok()?;
        let reply = tokio::time::timeout(Duration::from_secs(2), client.request(subject.to_owned(), "".into())).await.ok()?.ok()?;
        serde_json::from_slice(&reply.payload).ok()
    }

    /// The index of the node leading `stream` (from `$JS.API.STREAM.INFO`'s `cluster.leader`), asked
    /// of the running nodes in turn; `None` while no leader is known.
    pub async fn stream_leader(&self, stream: &str) -> Option<usize> {
        let subject = format!("$JS.API.STREAM.INFO.{stream}");
        for i in (0..self.nodes.len()).filter(|&i| self.is_running(i)) {
            let Some(info) = self.request(i, &subject).await else { continue };
            if let Some(leader) = info.pointer("/cluster/leader").and_then(serde_json::Value::as_str)
                && let Some(idx) = self.nodes.iter().position(|n| n.name == leader)
            {
                return Some(idx);
            }
        }
        None
    }

    /// Kills the node leading `stream` and returns its index.
    ///
    /// # Panics
    /// When no leader is known within 30 s.
    pub async fn kill_stream_leader(&mut self, stream: &str) -> usize {
        let deadline = Instant::now() + START_PATIENCE;
        let leader = loop {
            if let Some(l) = self.stream_leader(stream).await {
                break l;
            }
            assert!(Instant::now() < deadline, "stream {stream} has no leader within {START_PATIENCE:?}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        self.kill(leader);
        leader
    }
}

impl Drop for NatsCluster {
    fn drop(&mut self) {
        for i in 0..self.nodes.len() {
            self.kill(i);
        }
    }
}
