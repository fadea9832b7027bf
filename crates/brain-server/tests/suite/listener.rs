//! The server's doors: `/metrics` needs a metrics or admin key, foreign `Host` headers get 421, slow
//! headers and idle sockets are closed, SSE streams are capped per key, HTTPS with the configured
//! certificate, and failed key checks are limited per client address.

use std::sync::Arc;
use std::time::{Duration, Instant};

use brain_server::{HttpSettings, TlsFiles};
use reqwest::Method;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::suite::helpers::{TestApp, send};

#[tokio::test]
async fn metrics_need_a_metrics_or_admin_key() {
    let api = TestApp::start().await;
    let (status, v) = send(api.req(Method::GET, "/metrics", None)).await;
    assert_eq!((status, v["code"].as_str()), (401, Some("unauthorized")), "{v}");
    for role in ["reader", "writer"] {
        let (status, v) = api.get("/metrics", &api.key("acme", role).await).await;
        assert_eq!((status, v["code"].as_str()), (403, Some("forbidden")), "{role}: {v}");
    }
    let metrics_key = api.key("ops", "metrics").await;
    for key in [&api.admin, &metrics_key] {
        let (status, text) = api.get("/metrics", key).await;
        assert_eq!(status, 200);
        assert!(text.as_str().is_some_and(|t| t.contains("brain_up{component=\"log\"} 1")), "{text}");
    }
    // A metrics key reads nothing else.
    let (status, v) = api.get("/api/events", &metrics_key).await;
    assert_eq!((status, v["code"].as_str()), (403, Some("forbidden")), "{v}");
    api.stop().await;
}

#[tokio::test]
async fn foreign_host_headers_are_misdirected() {
    let api = TestApp::start().await;
    let port = api.base.rsplit(':').next().unwrap().to_owned();
    for path in ["/", "/metrics", "/api/events", "/api/missions"] {
        let (status, v) = send(api.req(Method::GET, path, Some(&api.admin)).header("host", format!("evil.example:{port}"))).await;
        assert_eq!((status, v["code"].as_str(), v["field"].as_str()), (421, Some("misdirected_request"), Some("Host")), "{path}: {v}");
    }
    for host in [format!("localhost:{port}"), format!("127.0.0.1:{port}"), format!("[::1]:{port}"), "LOCALHOST".to_owned()] {
        let (status, v) = send(api.req(Method::GET, "/api/events", Some(&api.admin)).header("host", host.as_str())).await;
        assert_eq!(status, 200, "{host}: {v}");
    }
    // Probes answer whatever the Host: they show nothing worth rebinding for.
    for path in ["/health", "/ready"] {
        let (status, v) = send(api.req(Method::GET, path, None).header("host", "10.1.2.3:8080")).await;
        assert_eq!(status, 200, "{path}: {v}");
    }
    api.stop().await;
    let any = TestApp::start_http(Vec::new(), HttpSettings { allowed_hosts: Some(vec!["*".into()]), ..Default::default() }).await;
    let (status, _) = send(any.req(Method::GET, "/api/events", Some(&any.admin)).header("host", "evil.example")).await;
    assert_eq!(status, 200, "\"*\" allows any host");
    any.stop().await;
}

/// Reads until the server closes the socket (EOF or reset); how long that took, bounded by `max`.
async fn closed_within(stream: &mut TcpStream, max: Duration) -> Option<Duration> {
    let started = Instant::now();
    let mut buf = [0u8; 1024];
    loop {
        match tokio::time::timeout_at((started + max).into(), stream.read(&mut buf)).await {
            Err(_) => return None,
            Ok(Ok(0) | Err(_)) => return Some(started.elapsed()),
            Ok(Ok(_)) => {}
        }
    }
}

#[tokio::test]
async fn partial_headers_and_silent_sockets_are_closed() {
    let timeout = Duration::from_secs(1);
    let api = TestApp::start_http(
        Vec::new(),
        HttpSettings { header_read_timeout: timeout, idle_timeout: Duration::from_secs(2), ..Default::default() },
    )
    .await;
    let addr = api.base.trim_start_matches("http://").to_owned();
    let mut partial = TcpStream::connect(&addr).await.unwrap();
    partial.write_all(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n").await.unwrap();
    let took = closed_within(&mut partial, timeout + Duration::from_secs(3)).await;
    assert!(took.is_some_and(|t| t <= timeout + Duration::from_secs(1)), "partial headers: closed after {took:?}");
    let mut silent = TcpStream::connect(&addr).await.unwrap();
    let took = closed_within(&mut silent, Duration::from_secs(5)).await;
    assert!(took.is_some_and(|t| t <= Duration::from_secs(3)), "silent socket: closed after {took:?}");
    // A kept-alive connection that goes quiet after a request is closed too.
    let mut kept = TcpStream::connect(&addr).await.unwrap();
    kept.write_all(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").await.unwrap();
    let took = closed_within(&mut kept, Duration::from_secs(6)).await;
    assert!(took.is_some_and(|t| t <= Duration::from_secs(4)), "idle keep-alive: closed after {took:?}");
    api.stop().await;
}

#[tokio::test]
async fn the_streams_of_one_key_are_capped() {
    let api = TestApp::start_http(Vec::new(), HttpSettings { max_streams_per_key: 3, ..Default::default() }).await;
    let reader = api.key("acme", "reader").await;
    let mut open = Vec::new();
    for _ in 0..3 {
        let resp = api.req(Method::GET, "/api/events/stream", Some(&reader)).send().await.unwrap();
        assert_eq!(resp.status(), 200);
        open.push(resp);
    }
    let (status, v) = send(api.req(Method::GET, "/api/events/stream", Some(&reader))).await;
    assert_eq!((status, v["code"].as_str()), (429, Some("too_many_streams")), "{v}");
    let other = api.key("acme", "reader").await;
    let resp = api.req(Method::GET, "/api/events/stream", Some(&other)).send().await.unwrap();
    assert_eq!(resp.status(), 200, "another key has its own streams");
    let started = Instant::now();
    let (status, v) = api.get("/api/events?limit=1", &reader).await;
    let took = started.elapsed();
    assert_eq!(status, 200, "{v}");
    assert!(took < Duration::from_millis(500), "GET /api/events took {took:?} with the streams open");
    api.stop().await;
}

#[tokio::test]
async fn https_is_served_with_the_configured_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let (cert_pem, key_pem) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    std::fs::write(&cert_pem, cert.cert.pem()).unwrap();
    std::fs::write(&key_pem, cert.signing_key.serialize_pem()).unwrap();
    let tls = TlsFiles { cert: cert_pem, key: key_pem };
    let api = TestApp::start_http(Vec::new(), HttpSettings { tls: Some(tls), ..Default::default() }).await;
    let addr = api.base.trim_start_matches("http://").to_owned();

    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert.cert.der().clone()).unwrap();
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = TcpStream::connect(&addr).await.unwrap();
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let mut tls = connector.connect(name, tcp).await.expect("the TLS handshake succeeds with the configured certificate");
    tls.write_all(b"GET /health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").await.unwrap();
    let mut answer = String::new();
    tls.read_to_string(&mut answer).await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.contains("\"status\":\"ok\""), "{answer}");
    // Plain HTTP on the TLS port gets no answer.
    assert!(api.client.get(api.url("/health")).send().await.is_err(), "plain HTTP is not served on the TLS port");
    api.stop().await;
}

#[tokio::test]
async fn failed_key_checks_are_limited_per_client_address() {
    let api = TestApp::start().await;
    for i in 0..20 {
        let (status, v) = api.get("/api/events", &format!("brk_{i:064}")).await;
        assert_eq!(status, 401, "bad key {i}: {v}");
    }
    let resp = api.req(Method::GET, "/api/events", Some("brk_one-too-many")).send().await.unwrap();
    assert_eq!(resp.status(), 429);
    let retry: u64 = resp.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry), "Retry-After {retry}");
    let v: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(v["code"], "too_many_failures");
    // Another client address is unaffected: its valid key works and its bad key is a plain 401.
    let other = reqwest::Client::builder().local_address(std::net::IpAddr::from([127, 0, 0, 2])).build().unwrap();
    let (status, v) = send(other.get(api.url("/api/events")).bearer_auth(&api.admin)).await;
    assert_eq!(status, 200, "{v}");
    let (status, _) = send(other.get(api.url("/api/events")).bearer_auth("brk_bad")).await;
    assert_eq!(status, 401);
    // The failures are counted for Prometheus.
    let (_, text) = send(other.get(api.url("/metrics")).bearer_auth(&api.admin)).await;
    assert!(text.as_str().is_some_and(|t| t.contains("brain_auth_failures_total 21")), "{text}");
    api.stop().await;
}

#[tokio::test]
async fn keys_authenticate_while_the_main_pool_is_saturated() {
    let api = TestApp::start().await;
    let pool = api.store().pool();
    let mut held = Vec::new();
    for _ in 0..pool.options().get_max_connections() {
        held.push(pool.acquire().await.unwrap());
    }
    // `/api/openapi.json` needs no database besides the key lookup.
    let answer = tokio::time::timeout(Duration::from_secs(3), api.get("/api/openapi.json", &api.admin)).await;
    assert!(matches!(answer, Ok((200, _))), "a valid key is checked while the main pool is busy");
    let answer = tokio::time::timeout(Duration::from_secs(3), api.get("/api/openapi.json", "brk_unknown")).await;
    assert!(matches!(answer, Ok((401, _))), "an unknown key is refused while the main pool is busy");
    drop(held);
    api.stop().await;
}

#[tokio::test]
async fn connections_beyond_the_cap_are_closed_at_accept() {
    let api = TestApp::start_http(Vec::new(), HttpSettings { max_connections: 2, ..Default::default() }).await;
    let addr = api.base.trim_start_matches("http://").to_owned();
    let mut held = Vec::new();
    for _ in 0..2 {
        let mut s = TcpStream::connect(&addr).await.unwrap();
        // A full request on each, so both are surely accepted before the third connects.
        s.write_all(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").await.unwrap();
        let mut buf = [0u8; 256];
        let n = s.read(&mut buf).await.unwrap();
        assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
        held.push(s);
    }
    let mut third = TcpStream::connect(&addr).await.unwrap();
    let took = closed_within(&mut third, Duration::from_secs(5)).await;
    assert!(took.is_some_and(|t| t < Duration::from_secs(1)), "the third connection: closed after {took:?}");
    drop(held);
    // Once the held connections are gone, new ones are served again.
    let answer = eventstream_testkit::fixtures::eventually("a new connection is served", Duration::from_secs(10), || async {
        api.client.get(api.url("/health")).send().await.ok().filter(|r| r.status() == 200)
    })
    .await;
    assert_eq!(answer.status(), 200);
    api.stop().await;
}
