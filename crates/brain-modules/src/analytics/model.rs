//! The analytics module's vocabulary: the sliding windows, how an event type is classified (its module and
//! whether it reports a creation, a completion or a failure), and the shapes the routes answer with.

use std::fmt;
use std::str::FromStr;

use serde::Serialize;

/// A sliding window over which rates are counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Window {
    /// The last 60 seconds, to the second (per-second buckets).
    OneMinute,
    /// The last 60 minutes, to the minute (per-minute buckets).
    OneHour,
    /// The last 24 hours, to the minute (per-minute buckets).
    OneDay,
}

impl Window {
    /// Every window, shortest first.
    pub const ALL: [Window; 3] = [Window::OneMinute, Window::OneHour, Window::OneDay];

    /// The query spelling: `1m`, `1h` or `24h`.
    pub fn as_str(self) -> &'static str {
        match self {
            Window::OneMinute => "1m",
            Window::OneHour => "1h",
            Window::OneDay => "24h",
        }
    }

    /// The window's length in seconds.
    pub fn seconds(self) -> i64 {
        match self {
            Window::OneMinute => 60,
            Window::OneHour => 3_600,
            Window::OneDay => 86_400,
        }
    }
}

impl fmt::Display for Window {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A window spelling other than `1m`, `1h` or `24h`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown window {0:?}: expected 1m, 1h or 24h")]
pub struct UnknownWindow(pub String);

impl FromStr for Window {
    type Err = UnknownWindow;
    fn from_str(s: &str) -> Result<Self, UnknownWindow> {
        Window::ALL.into_iter().find(|w| w.as_str() == s).ok_or_else(|| UnknownWindow(s.chars().take(32).collect()))
    }
}

/// What an event type reports about the thing it names, read from its last word.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// The type ends in `.created` or `_created`.
    Created,
    /// The type ends in `.completed` or `_completed`.
    Completed,
    /// The type ends in `.failed` or `_failed`.
    Failed,
}

/// The outcome an event type reports, if any: `task.created`, `ir.approval_created` -> created;
/// `course.generation.completed` -> completed; `metrics.aggregation_failed` -> failed.
pub fn outcome_of(event_type: &str) -> Option<Outcome> {
    let ends = |word: &str| event_type.strip_suffix(word).is_some_and(|head| head.ends_with('.') || head.ends_with('_'));
    if ends("created") {
        Some(Outcome::Created)
    } else if ends("completed") {
        Some(Outcome::Completed)
    } else if ends("failed") {
        Some(Outcome::Failed)
    } else {
        None
    }
}

/// The module an event type belongs to: its first segment (`task` for `task.created`).
pub fn module_of(event_type: &str) -> &str {
    event_type.split('.').next().unwrap_or(event_type)
}

/// Failures among the finished: `failed / (completed + failed)`, `None` while nothing finished.
pub fn failure_ratio(completed: u64, failed: u64) -> Option<f64> {
    let finished = completed.saturating_add(failed);
    (finished > 0).then(|| failed as f64 / finished as f64)
}

/// One line of a rate breakdown.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Rate {
    /// The event type, module or tenant.
    pub key: String,
    /// Events in the window.
    pub count: u64,
    /// Events per minute over the window.
    pub per_minute: f64,
}

/// `GET /api/analytics/rates`: events in one window, by type, module and tenant.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Rates {
    /// `1m`, `1h` or `24h`.
    pub window: &'static str,
    /// The window's length.
    pub window_seconds: i64,
    /// The tenant counted, or `None` for every tenant (admin only).
    pub tenant: Option<String>,
    /// Events in the window.
    pub total: u64,
    /// Events per second over the window.
    pub per_second: f64,
    /// By event type, most frequent first.
    pub types: Vec<Rate>,
    /// By module (first segment of the type), most frequent first.
    pub modules: Vec<Rate>,
    /// By tenant, most frequent first.
    pub tenants: Vec<Rate>,
}

/// One module's created/completed/failed counts.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModuleStats {
    /// The module (first segment of the type).
    pub module: String,
    /// Its events, of any type.
    pub events: u64,
    /// Events of types ending in `created`.
    pub created: u64,
    /// Events of types ending in `completed`.
    pub completed: u64,
    /// Events of types ending in `failed`.
    pub failed: u64,
    /// `failed / (completed + failed)`; `null` while nothing finished.
    pub failure_ratio: Option<f64>,
}

/// `GET /api/analytics/modules`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModulesReport {
    /// `1m`, `1h`, `24h`, or `all` for every event counted since the module started.
    pub window: &'static str,
    /// The tenant counted, or `None` for every tenant (admin only).
    pub tenant: Option<String>,
    /// Per module, in name order.
    pub modules: Vec<ModuleStats>,
}

/// Sorts a breakdown most frequent first (then by key), with each line's rate over `window_seconds`.
pub(crate) fn ranked(counts: impl IntoIterator<Item = (String, u64)>, window_seconds: i64) -> Vec<Rate> {
    let minutes = window_seconds as f64 / 60.0;
    let mut out: Vec<Rate> = counts.into_iter().map(|(key, count)| Rate { key, count, per_minute: count as f64 / minutes }).collect();
    out.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.key.cmp(&b.key)));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcomes_come_from_the_last_word_only() {
        assert_eq!(outcome_of("task.created"), Some(Outcome::Created));
        assert_eq!(outcome_of("ir.approval_created"), Some(Outcome::Created));
        assert_eq!(outcome_of("course.generation.completed"), Some(Outcome::Completed));
        assert_eq!(outcome_of("metrics.aggregation_failed"), Some(Outcome::Failed));
        assert_eq!(outcome_of("ir.dag_diff_failed"), Some(Outcome::Failed));
        assert_eq!(outcome_of("task.recreated"), None, "a word ending in `created` is not `_created`");
        assert_eq!(outcome_of("mission.status_changed"), None);
        assert_eq!(outcome_of("created"), None);
    }

    #[test]
    fn modules_are_first_segments() {
        assert_eq!(module_of("course.generation.completed"), "course");
        assert_eq!(module_of("broadcast"), "broadcast");
    }

    #[test]
    fn windows_parse_and_ratios_ignore_unfinished() {
        assert_eq!("24h".parse::<Window>(), Ok(Window::OneDay));
        assert!("2h".parse::<Window>().is_err());
        assert_eq!(failure_ratio(0, 0), None);
        assert_eq!(failure_ratio(3, 1), Some(0.25));
    }

    #[test]
    fn breakdowns_rank_by_count() {
        let r = ranked([("a".to_owned(), 1), ("b".to_owned(), 120)], 3_600);
        assert_eq!(r[0].key, "b");
        assert_eq!(r[0].per_minute, 2.0);
    }
}
