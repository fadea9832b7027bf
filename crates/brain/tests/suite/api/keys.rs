//! API keys: the first-start admin key printed by `brain serve`, `brain keys create|list|revoke`. (401 without a
//! valid key is tested in-process in the `brain-server` crate.)

use super::helpers::{Api, send};
use crate::suite::support::{Server, brain, ok_stdout};

#[tokio::test]
async fn first_start_prints_the_admin_key_once_and_stores_it_privately() {
    let api = Api::start();
    let file = api.dir.path().join("brain-data/admin.key");
    assert_eq!(std::fs::read_to_string(&file).unwrap().trim(), api.admin);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&file).unwrap().permissions().mode() & 0o777, 0o600);
    }
    let (status, _) = api.get("/api/catalog", &api.admin).await;
    assert_eq!(status, 200);
    let Api { server, dir, admin, client } = api;
    drop(server);
    let again = Server::start(dir.path(), &[]);
    assert_eq!(again.admin_key(), None, "a later start prints no key: {:?}", again.startup);
    let (status, _) = send(client.get(again.url("/api/catalog")).bearer_auth(&admin)).await;
    assert_eq!(status, 200, "the key survives a restart");
}

#[tokio::test]
async fn keys_can_be_created_listed_and_revoked() {
    let api = Api::start();
    let key = api.key("acme", "writer");
    let (status, _) = api.get("/api/events", &key).await;
    assert_eq!(status, 200);

    let listed: serde_json::Value = serde_json::from_str(&ok_stdout(brain(api.dir.path()).args(["keys", "list", "--json"]))).unwrap();
    let rows = listed.as_array().unwrap();
    assert_eq!(rows.len(), 2);
    let text = listed.to_string();
    assert!(!text.contains(&key) && !text.contains(&api.admin), "list never shows secrets");
    let acme = rows.iter().find(|r| r["tenant"] == "acme").unwrap();
    assert_eq!(acme["role"], "writer");
    assert!(acme["revoked"].is_null());
    let table = ok_stdout(brain(api.dir.path()).args(["keys", "list"]));
    assert!(table.contains("acme") && table.contains("writer"), "{table}");

    let id = acme["id"].as_str().unwrap();
    ok_stdout(brain(api.dir.path()).args(["keys", "revoke", id]));
    let (status, v) = api.get("/api/events", &key).await;
    assert_eq!((status, v["code"].as_str()), (401, Some("unauthorized")));
    let out = brain(api.dir.path()).args(["keys", "revoke", id]).output().unwrap();
    assert!(!out.status.success(), "revoking twice fails");
    let out = brain(api.dir.path()).args(["keys", "create", "--tenant", "acme", "--role", "owner"]).output().unwrap();
    assert!(!out.status.success(), "unknown role is rejected");
}
