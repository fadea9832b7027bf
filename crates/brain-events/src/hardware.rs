//! `hardware.*`: robot commands and queries of the hardware abstraction layer.
//!
//! Reference: original-modules.md §6. Source `hardware_router`, target null (the original's docs suggested
//! `robot_{id}`; the code and tests used none).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A movement command: velocities in the robot's frame.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
pub struct MovementCommand {
    /// Forward velocity, -1 to 1.
    pub linear_x: f64,
    /// Sideways velocity, -1 to 1.
    pub linear_y: f64,
    /// Turn rate, -2 to 2.
    pub angular_z: f64,
}

/// A command was sent to a robot.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
pub struct HardwareCommandSent {
    /// The robot.
    pub robot_id: String,
    /// The command kind (`movement`).
    pub command_type: String,
    /// The command.
    pub command: MovementCommand,
    /// When (epoch seconds).
    pub sent_at: f64,
}

event_payload!(HardwareCommandSent {
    type: "hardware.command_sent",
    module: "hardware",
    source: "hardware_router",
    version: 1,
    criticality: High,
    consumers: [],
    description: "A command was sent to a robot.",
});

/// A robot's state was queried.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
pub struct HardwareStateQueried {
    /// The robot.
    pub robot_id: String,
    /// When (epoch seconds).
    pub queried_at: f64,
}

event_payload!(HardwareStateQueried {
    type: "hardware.state_queried",
    module: "hardware",
    source: "hardware_router",
    version: 1,
    criticality: Low,
    consumers: [],
    description: "A robot's state was queried.",
});

/// The hardware layer's info was queried.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
pub struct HardwareInfoQueried {
    /// The layer's version.
    pub version: String,
    /// When (epoch seconds).
    pub queried_at: f64,
}

event_payload!(HardwareInfoQueried {
    type: "hardware.info_queried",
    module: "hardware",
    source: "hardware_router",
    version: 1,
    criticality: Low,
    consumers: [],
    description: "The hardware layer's info was queried.",
});
