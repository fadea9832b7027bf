//! The simulated robots: velocities set by commands, poses integrated from them.

use brain_events::EventPayload;
use brain_events::hardware::{HardwareCommandSent, HardwareInfoQueried, HardwareStateQueried, MovementCommand};
use eventstream::EventStream;
use eventstream::store::StoreError;
use eventstream::store::sqlx::{self, Row};
use serde::Serialize;

use crate::sql::db;
use crate::web::{Origin, ms_to_secs, now_ms};

/// The layer's version.
pub(crate) const VERSION: &str = "1.0.0";

/// Where a simulated robot is (metres, radians), from integrating its commanded velocities.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Default)]
pub struct Pose {
    /// Metres along the start frame's x axis.
    pub x: f64,
    /// Metres along the start frame's y axis.
    pub y: f64,
    /// Radians from the start frame's x axis.
    pub heading: f64,
}

/// A robot's simulated state.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RobotState {
    /// The robot.
    pub robot_id: String,
    /// `moving` or `idle`.
    pub status: String,
    /// The commanded velocity.
    pub velocity: MovementCommand,
    /// The pose now.
    pub pose: Pose,
    /// Commands received.
    pub commands_received: u64,
    /// When the last command arrived (epoch seconds).
    pub last_command_at: f64,
}

/// The hardware service.
#[derive(Debug)]
pub struct HardwareService {
    events: EventStream,
}

/// Moves `pose` for `secs` seconds at `v` (body-frame velocities, constant turn rate).
fn integrate(pose: Pose, v: &MovementCommand, secs: f64) -> Pose {
    let secs = secs.max(0.0);
    let heading = pose.heading + v.angular_z * secs;
    let mid = pose.heading + v.angular_z * secs / 2.0;
    let (s, c) = mid.sin_cos();
    Pose { x: pose.x + (v.linear_x * c - v.linear_y * s) * secs, y: pose.y + (v.linear_x * s + v.linear_y * c) * secs, heading }
}

impl HardwareService {
    /// The service over `events`.
    pub fn new(events: EventStream) -> Self {
        Self { events }
    }

    /// Reports an info query.
    pub async fn info(&self, origin: &Origin) {
        let e = HardwareInfoQueried { version: VERSION.into(), queried_at: crate::web::now_secs() }.to_event();
        self.events.emit(origin.stamp(e)).await;
    }

    /// Applies a (checked) movement command: integrates the pose up to now, sets the new velocity, and
    /// writes `hardware.command_sent` in the same transaction.
    ///
    /// # Errors
    /// The store's error.
    pub async fn command(&self, origin: &Origin, robot_id: &str, cmd: MovementCommand) -> Result<RobotState, StoreError> {
        let now = now_ms();
        let mut tx = self.events.store().begin().await?;
        let prev = load(tx.conn(), origin.tenant(), robot_id).await?;
        let (pose, commands) = match &prev {
            Some(p) => (integrate(p.pose, &p.velocity, ms_to_secs(now) - p.last_command_at), p.commands_received),
            None => (Pose::default(), 0),
        };
        sqlx::query(
            "INSERT INTO hardware_robots (tenant, robot_id, linear_x, linear_y, angular_z, pos_x, pos_y, heading, commands, last_command_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT (tenant, robot_id) DO UPDATE SET \
             linear_x = excluded.linear_x, linear_y = excluded.linear_y, angular_z = excluded.angular_z, pos_x = excluded.pos_x, \
             pos_y = excluded.pos_y, heading = excluded.heading, commands = excluded.commands, last_command_at = excluded.last_command_at",
        )
        .bind(origin.tenant().to_owned())
        .bind(robot_id.to_owned())
        .bind(cmd.linear_x)
        .bind(cmd.linear_y)
        .bind(cmd.angular_z)
        .bind(pose.x)
        .bind(pose.y)
        .bind(pose.heading)
        .bind(i64::try_from(commands + 1).unwrap_or(i64::MAX))
        .bind(now)
        .execute(tx.conn())
        .await
        .map_err(db("storing a robot command"))?;
        let event =
            HardwareCommandSent { robot_id: robot_id.to_owned(), command_type: "movement".into(), command: cmd, sent_at: ms_to_secs(now) }
                .to_event();
        self.events.outbox_in_tx(&mut tx, &[origin.stamp(event)]).await?;
        tx.commit().await?;
        self.events.wake_relay();
        Ok(state(robot_id, cmd, pose, commands + 1, ms_to_secs(now)))
    }

    /// A robot's state now (`None` for a robot that never got a command); reports the query.
    ///
    /// # Errors
    /// The store's error.
    pub async fn state(&self, origin: &Origin, robot_id: &str) -> Result<Option<RobotState>, StoreError> {
        let mut conn = self.events.store().pool().acquire().await.map_err(db("reading a robot"))?;
        let Some(mut st) = load(&mut conn, origin.tenant(), robot_id).await? else { return Ok(None) };
        st.pose = integrate(st.pose, &st.velocity, crate::web::now_secs() - st.last_command_at);
        let e = HardwareStateQueried { robot_id: robot_id.to_owned(), queried_at: crate::web::now_secs() }.to_event();
        self.events.emit(origin.stamp(e)).await;
        Ok(Some(st))
    }
}

fn state(robot_id: &str, v: MovementCommand, pose: Pose, commands: u64, last: f64) -> RobotState {
    let moving = v.linear_x != 0.0 || v.linear_y != 0.0 || v.angular_z != 0.0;
    RobotState {
        robot_id: robot_id.to_owned(),
        status: if moving { "moving" } else { "idle" }.into(),
        velocity: v,
        pose,
        commands_received: commands,
        last_command_at: last,
    }
}

async fn load(conn: &mut sqlx::AnyConnection, tenant: &str, robot_id: &str) -> Result<Option<RobotState>, StoreError> {
    let row = sqlx::query(
        "SELECT linear_x, linear_y, angular_z, pos_x, pos_y, heading, commands, last_command_at FROM hardware_robots \
         WHERE tenant = $1 AND robot_id = $2",
    )
    .bind(tenant.to_owned())
    .bind(robot_id.to_owned())
    .fetch_optional(conn)
    .await
    .map_err(db("reading a robot"))?;
    let Some(r) = row else { return Ok(None) };
    let e = || db("reading a robot");
    let v = MovementCommand {
        linear_x: r.try_get(0).map_err(e())?,
        linear_y: r.try_get(1).map_err(e())?,
        angular_z: r.try_get(2).map_err(e())?,
    };
    let pose = Pose { x: r.try_get(3).map_err(e())?, y: r.try_get(4).map_err(e())?, heading: r.try_get(5).map_err(e())? };
    let commands: i64 = r.try_get(6).map_err(e())?;
    let last: i64 = r.try_get(7).map_err(e())?;
    Ok(Some(state(robot_id, v, pose, u64::try_from(commands).unwrap_or(0), ms_to_secs(last))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn straight_motion_integrates() {
        let p = integrate(Pose::default(), &MovementCommand { linear_x: 0.5, linear_y: 0.0, angular_z: 0.0 }, 2.0);
        assert!((p.x - 1.0).abs() < 1e-9 && p.y.abs() < 1e-9);
    }
}
