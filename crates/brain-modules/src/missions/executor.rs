//! How a mission is executed: the [`MissionExecutor`] trait the worker pool calls, and the built-in
//! [`SimulatedExecutor`] that simulates work as the original's stub did.

use std::time::Duration;

use async_trait::async_trait;
use serde_json::{Value, json};

use super::model::Mission;

/// Why an attempt failed: a kind (the original sent the exception class name as `error_type`) and a
/// message. The worker counts the attempt and retries or ends the mission `FAILED`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{error_type}: {message}")]
pub struct ExecutionError {
    /// The kind of failure (`SimulatedFailure`, `Timeout`, ...).
    pub error_type: String,
    /// What went wrong.
    pub message: String,
}

impl ExecutionError {
    /// An error of `error_type` saying `message`.
    pub fn new(error_type: impl Into<String>, message: impl Into<String>) -> Self {
        Self { error_type: error_type.into(), message: message.into() }
    }
}

/// Executes missions for the worker pool.
///
/// # Contract
/// - Called once per attempt, with `attempt` = 1 for the first try, 2 for the first retry, ...
/// - `Ok(result)` completes the mission with `result`; `Err` counts a failed attempt.
/// - May be called concurrently for different missions (one call per worker).
/// - Must not panic; a panic is treated like an error of type `Panic`.
/// - Should return within a bounded time; the worker does not cancel a running attempt.
#[async_trait]
pub trait MissionExecutor: Send + Sync + 'static {
    /// A short name for the worker status (`simulated`, ...).
    fn name(&self) -> &'static str;

    /// Runs one attempt of `mission`.
    ///
    /// # Errors
    /// An [`ExecutionError`] when the attempt failed.
    async fn execute(&self, mission: &Mission, attempt: u32) -> Result<Value, ExecutionError>;
}

/// The built-in executor: sleeps instead of working, and fails when told to.
///
/// - Duration: `data.simulate.duration_ms` when given, else the configured duration (the original slept
///   0.1 s for `agent.chat` and 0.05 s otherwise).
/// - Failure: `data.simulate.fail_attempts = n` fails the first `n` attempts; `data.simulate.always_fail =
///   true` fails every attempt; otherwise an attempt fails with the configured probability.
/// - Result: `{"status": "OK", "attempt": n}`, plus `agent_id` and `message` for `agent.chat` missions.
#[derive(Debug, Clone)]
pub struct SimulatedExecutor {
    duration: Duration,
    failure_rate: f64,
}

impl SimulatedExecutor {
    /// Sleeps `duration` per attempt and fails with probability `failure_rate` (clamped to 0..=1).
    pub fn new(duration: Duration, failure_rate: f64) -> Self {
        let failure_rate = if failure_rate.is_finite() { failure_rate.clamp(0.0, 1.0) } else { 0.0 };
        Self { duration, failure_rate }
    }
}

#[async_trait]
impl MissionExecutor for SimulatedExecutor {
    fn name(&self) -> &'static str {
        "simulated"
    }

    async fn execute(&self, mission: &Mission, attempt: u32) -> Result<Value, ExecutionError> {
        let sim = mission.data.get("simulate").and_then(Value::as_object);
        let duration = sim
            .and_then(|s| s.get("duration_ms"))
            .and_then(Value::as_u64)
            .map_or(self.duration, |ms| Duration::from_millis(ms.min(60_000)));
        tokio::time::sleep(duration).await;
        let fail_attempts = sim.and_then(|s| s.get("fail_attempts")).and_then(Value::as_u64).unwrap_or(0);
        let always = sim.and_then(|s| s.get("always_fail")).and_then(Value::as_bool).unwrap_or(false);
        if always || u64::from(attempt) <= fail_attempts {
            return Err(ExecutionError::new("SimulatedFailure", format!("simulated failure on attempt {attempt}")));
        }
        if self.failure_rate > 0.0 && rand::random::<f64>() < self.failure_rate {
            return Err(ExecutionError::new("SimulatedFailure", format!("random simulated failure on attempt {attempt}")));
        }
        let mut result = json!({"status": "OK", "attempt": attempt});
        if mission.mission_type == "agent.chat" {
            let agent = mission.data.get("agent_id").and_then(Value::as_str).unwrap_or("default");
            result["agent_id"] = Value::from(agent);
            result["message"] = mission.data.get("message").cloned().unwrap_or(Value::Null);
        }
        Ok(result)
    }
}
