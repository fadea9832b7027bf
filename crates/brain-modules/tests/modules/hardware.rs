//! hardware: commands within bounds move the simulated robot; out-of-range values are 422.

use brain_events::EventPayload;
use brain_events::hardware::{HardwareCommandSent, HardwareInfoQueried, HardwareStateQueried};
use reqwest::Method;
use serde_json::json;

use crate::helpers::{App, TENANT, assert_envelope, fast_config, field, of_type};

#[tokio::test]
async fn robot_commands_move_the_simulated_robot_and_emit_events() {
    let app = App::start(fast_config()).await;
    let corr = Some("corr-hw");
    let (status, info) = app.call(Method::GET, "/api/hardware/info", TENANT, corr, None).await;
    assert_eq!((status, info["version"].as_str()), (200, Some("1.0.0")));
    let (status, r) = app.call(Method::GET, "/api/hardware/robots/go2-7/state", TENANT, corr, None).await;
    assert_eq!((status, r["code"].as_str()), (404, Some("robot_not_found")));
    let (status, r) = app
        .call(
            Method::POST,
            "/api/hardware/robots/go2-7/command",
            TENANT,
            corr,
            Some(json!({"linear_x": 1.5, "linear_y": 0, "angular_z": 0})),
        )
        .await;
    assert_eq!((status, r["field"].as_str()), (422, Some("linear_x")));
    let (status, r) = app
        .call(
            Method::POST,
            "/api/hardware/robots/go2-7/command",
            TENANT,
            corr,
            Some(json!({"linear_x": 0.5, "linear_y": -1.0, "angular_z": 2.0})),
        )
        .await;
    assert_eq!((status, r["status"].as_str()), (200, Some("command_sent")));
    let (status, st) = app.call(Method::GET, "/api/hardware/robots/go2-7/state", TENANT, corr, None).await;
    assert_eq!(status, 200);
    assert_eq!(
        (st["status"].as_str(), st["velocity"]["linear_x"].as_f64(), st["commands_received"].as_u64()),
        (Some("moving"), Some(0.5), Some(1))
    );
    app.post("/api/hardware/robots/go2-7/command", json!({"linear_x": 0, "linear_y": 0, "angular_z": 0})).await;
    let (_, st) = app.get("/api/hardware/robots/go2-7/state").await;
    assert_eq!((st["status"].as_str(), st["commands_received"].as_u64()), (Some("idle"), Some(2)));

    let events = app
        .wait_events("hardware events", |ev| {
            of_type(ev, HardwareCommandSent::TYPE).len() == 2 && of_type(ev, HardwareStateQueried::TYPE).len() == 2
        })
        .await;
    let sent = of_type(&events, HardwareCommandSent::TYPE)[0];
    assert_envelope(sent, HardwareCommandSent::SOURCE, TENANT, corr);
    assert_eq!((field(sent, "robot_id"), field(sent, "command_type")), (&json!("go2-7"), &json!("movement")));
    assert_eq!(field(sent, "command"), &json!({"linear_x": 0.5, "linear_y": -1.0, "angular_z": 2.0}));
    assert!(field(sent, "sent_at").is_f64());
    let queried = of_type(&events, HardwareStateQueried::TYPE)[0];
    assert_envelope(queried, HardwareStateQueried::SOURCE, TENANT, corr);
    assert_eq!(field(queried, "robot_id"), "go2-7");
    let info = of_type(&events, HardwareInfoQueried::TYPE)[0];
    assert_envelope(info, HardwareInfoQueried::SOURCE, TENANT, corr);
    assert_eq!(field(info, "version"), "1.0.0");
    app.stop().await;
}
