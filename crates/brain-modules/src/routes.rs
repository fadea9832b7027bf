//! The modules' HTTP routes as data, for the server's OpenAPI document. A test in the `brain` crate
//! checks that every route here is served and documented.

/// One route of a module.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RouteDoc {
    /// `get`, `post`.
    pub method: &'static str,
    /// The axum path, with `{param}` segments.
    pub path: &'static str,
    /// The module (OpenAPI tag).
    pub module: &'static str,
    /// What it does.
    pub summary: &'static str,
}

const fn r(method: &'static str, path: &'static str, module: &'static str, summary: &'static str) -> RouteDoc {
    RouteDoc { method, path, module, summary }
}

/// Every route the modules serve (the WebSocket upgrade included, as a `get`).
pub const ROUTES: &[RouteDoc] = &[
    r("post", "/api/missions", "missions", "Create a mission (queued for the worker pool)"),
    r("get", "/api/missions", "missions", "List missions with filters"),
    r("get", "/api/missions/info", "missions", "Module information"),
    r("get", "/api/missions/health", "missions", "Module health"),
    r("post", "/api/missions/enqueue", "missions", "Legacy: enqueue a mission with a priority"),
    r("get", "/api/missions/queue", "missions", "Legacy: preview the queue in execution order"),
    r("get", "/api/missions/worker/status", "missions", "Legacy: worker pool status"),
    r("get", "/api/missions/stats/overview", "missions", "Mission counts by status"),
    r("get", "/api/missions/{mission_id}", "missions", "One mission"),
    r("post", "/api/missions/{mission_id}/status", "missions", "Change a mission's status (409 on an illegal transition)"),
    r("post", "/api/missions/{mission_id}/cancel", "missions", "Cancel a mission"),
    r("post", "/api/missions/{mission_id}/execute", "missions", "Queue a pending mission for execution now"),
    r("get", "/api/missions/{mission_id}/log", "missions", "A mission's log entries"),
    r("post", "/api/missions/{mission_id}/log", "missions", "Append a log entry to a mission"),
    r("get", "/api/supervisor/health", "supervisor", "Supervisor health"),
    r("get", "/api/supervisor/status", "supervisor", "Mission statistics from the supervisor's projection of events"),
    r("get", "/api/supervisor/agents", "supervisor", "Agents from agent.* events (offline after missed heartbeats)"),
    r("get", "/api/credits/health", "credits", "Credits health"),
    r("get", "/api/credits/info", "credits", "Credits module information"),
    r("get", "/api/credits/accounts", "credits", "The tenant's credit accounts"),
    r("post", "/api/credits/agents/{agent_id}/allocate", "credits", "Allocate credits to an agent"),
    r("post", "/api/credits/agents/{agent_id}/consume", "credits", "Consume credits (409 when the balance does not cover it)"),
    r("post", "/api/credits/agents/{agent_id}/refund", "credits", "Refund consumed credits"),
    r("get", "/api/credits/agents/{agent_id}/balance", "credits", "An agent's balance"),
    r("get", "/api/credits/agents/{agent_id}/history", "credits", "An agent's ledger entries"),
    r("get", "/api/hardware/info", "hardware", "Hardware module information and command bounds"),
    r("post", "/api/hardware/robots/{robot_id}/command", "hardware", "Send a movement command (422 outside the bounds)"),
    r("get", "/api/hardware/robots/{robot_id}/state", "hardware", "The simulated robot's state"),
    r("get", "/api/telemetry/info", "telemetry", "Telemetry module information"),
    r("get", "/api/telemetry/ws/{robot_id}", "telemetry", "WebSocket: a robot's telemetry connection (metrics frames become events)"),
    r("get", "/api/telemetry/robots/{robot_id}/metrics", "telemetry", "A robot's latest metrics"),
    r("post", "/api/metrics/aggregate", "metrics", "Run the mission metrics aggregation now"),
    r("get", "/api/metrics/results", "metrics", "Aggregated mission metrics"),
    r("post", "/api/dna/snapshot", "dna", "Create an agent DNA snapshot"),
    r("post", "/api/dna/agents/{agent_id}/mutate", "dna", "Mutate an agent's DNA (new version)"),
    r("post", "/api/dna/agents/{agent_id}/karma", "dna", "Update an agent's KARMA score"),
    r("get", "/api/dna/agents/{agent_id}/history", "dna", "An agent's DNA versions"),
    r("get", "/api/ir/info", "ir_governance", "IR governance module information"),
    r("post", "/api/ir/validate", "ir_governance", "Validate an IR: PASS, ESCALATE or REJECT with risk tiers and the IR hash"),
    r("post", "/api/ir/dag-diff", "ir_governance", "Audit a DAG against its IR (missing steps, extra nodes, changed hashes)"),
    r("post", "/api/ir/approvals", "ir_governance", "Issue a single-use approval token for an IR hash (shown once)"),
    r("post", "/api/ir/approvals/consume", "ir_governance", "Consume an approval token (single use; invalid, expired or consumed)"),
    r("get", "/api/ir/approvals/pending", "ir_governance", "The tenant's pending approvals with counts by status"),
    r("get", "/api/ir/approvals/stats", "ir_governance", "Approval counts by status"),
    r("get", "/api/ir/approvals/health", "ir_governance", "Approval store health"),
    r("get", "/api/ir/approvals/ws", "ir_governance", "WebSocket: the tenant's approval notifications (created, consumed, expired)"),
    r("get", "/api/ir/approvals/{approval_id}", "ir_governance", "One approval (never its token hash)"),
    r("get", "/api/ir/approvals/{approval_id}/status", "ir_governance", "An approval's status"),
    r("post", "/api/ir/approvals/{approval_id}/acknowledge", "ir_governance", "Record who acknowledged an approval"),
    r("get", "/api/analytics/rates", "analytics", "Event rates by type, module and tenant over a window (?window=1m|1h|24h)"),
    r("get", "/api/analytics/modules", "analytics", "Created/completed/failed counts and failure ratio per module"),
    r("get", "/api/security/alerts", "security", "Security alerts (system.alert raised by the rules), newest first, paginated"),
    r("get", "/api/security/rules", "security", "The security monitoring rules and their thresholds"),
    r("get", "/api/policy/health", "policy", "Policy module health"),
    r("get", "/api/policy/info", "policy", "Policy module information"),
    r("get", "/api/policy/stats", "policy", "Policy counts and evaluation counters"),
    r("post", "/api/policy/evaluate", "policy", "Evaluate an action against the policies (403 policy_denied on a deny)"),
    r("post", "/api/policy/test-rule", "policy", "Evaluate without counting or emitting (never 403)"),
    r("get", "/api/policy/policies", "policy", "The tenant's policies in order"),
    r("post", "/api/policy/policies", "policy", "Create a policy"),
    r("get", "/api/policy/policies/{policy_id}", "policy", "One policy"),
    r("put", "/api/policy/policies/{policy_id}", "policy", "Update a policy's given fields"),
    r("delete", "/api/policy/policies/{policy_id}", "policy", "Delete a policy"),
    r("get", "/api/policy/default-policies", "policy", "The ids of the default policies"),
    r("get", "/api/threats/health", "threats", "Threats module health"),
    r("get", "/api/threats", "threats", "The tenant's threats (?status=&severity=), latest change first"),
    r("post", "/api/threats", "threats", "Report a threat (threat.detected)"),
    r("get", "/api/threats/stats/overview", "threats", "Threat counts by severity and status"),
    r("get", "/api/threats/{threat_id}", "threats", "One threat"),
    r(
        "post",
        "/api/threats/{threat_id}/status",
        "threats",
        "Change a threat's status (?status=); escalations and mitigations emit their events",
    ),
    r("post", "/api/immune/event", "immune", "Record an immune event (answers its id; CRITICAL ones raise immune.critical_event)"),
    r("get", "/api/immune/health", "immune", "Immune summary of the last 60 minutes"),
];
