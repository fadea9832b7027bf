//! API keys: every `/api` route answers 401 without a valid key; `/health` needs none. (Creating, listing
//! and revoking keys is the CLI's, tested in the `brain` crate.)

use reqwest::Method;

use crate::suite::helpers::{TestApp, send};

#[tokio::test]
async fn requests_without_a_valid_key_are_401() {
    let api = TestApp::start().await;
    for (method, path) in super::isolation::ROUTES {
        let method = Method::from_bytes(method.as_bytes()).unwrap();
        for auth in [None, Some("Bearer brk_0000"), Some("Basic abc"), Some("Bearer"), Some("")] {
            let mut r = api.req(method.clone(), path, None);
            if let Some(a) = auth {
                r = r.header("authorization", a);
            }
            let (status, v) = send(r.json(&serde_json::json!({}))).await;
            assert_eq!((status, v["code"].as_str()), (401, Some("unauthorized")), "{method} {path} with {auth:?}: {v}");
        }
    }
    let (status, v) = send(api.req(Method::GET, "/health", None)).await;
    assert_eq!((status, v["status"].as_str()), (200, Some("ok")), "health needs no key");
}
