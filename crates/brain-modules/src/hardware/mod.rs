//! hardware: the robot command API of the hardware abstraction layer, over a simulated robot.
//!
//! It owns `hardware_robots`: each robot's commanded velocity and its pose, integrated over time from the
//! commands (the original returned a constant mock state and was mounted nowhere). Commands outside the
//! reference's bounds (`linear_x`, `linear_y` in [-1, 1], `angular_z` in [-2, 2]) are 422. A command and
//! its `hardware.command_sent` commit together; queries emit `hardware.state_queried` /
//! `hardware.info_queried`. Robots that never received a command are unknown (404).

mod api;
mod service;

pub(crate) use api::router;
pub use service::{HardwareService, Pose, RobotState};
