//! `credits.*`: the credits ledger.
//!
//! The original's credits module was a stub emitting only `credits.health_checked` (original-modules.md
//! §5). The ledger types `allocated`, `consumed`, `refunded` and `depleted` are new: every balance change
//! is an event carrying the amount and the balance after it, so the ledger can be rebuilt and audited from
//! the stream. Amounts are credits (fractions allowed) and always positive; the type says the direction.

use eventstream_core::Event;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::consumers::{SECURITY_MONITORING, SUPERVISOR};
use crate::envelope_fill::set_mission;

/// The credits health endpoint was called.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
pub struct CreditsHealthChecked {
    /// The status reported (`ok`).
    pub status: String,
    /// When (epoch seconds).
    pub checked_at: f64,
}

event_payload!(CreditsHealthChecked {
    type: "credits.health_checked",
    module: "credits",
    source: "credits_service",
    version: 1,
    criticality: Low,
    consumers: [],
    description: "The credits module's health was checked.",
});

macro_rules! ledger_payload {
    ($(#[$doc:meta])* $name:ident, $mission_doc:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
        pub struct $name {
            /// The agent whose balance changed.
            pub agent_id: String,
            /// The amount (positive).
            pub amount: f64,
            /// The balance after the change.
            pub balance_after: f64,
            /// Why (`initial_grant`, `mission_execution`, `mission_cancelled`, ...).
            pub reason: String,
            #[doc = $mission_doc]
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub mission_id: Option<String>,
        }

        impl $name {
            fn envelope(&self, event: &mut Event) {
                if let Some(id) = &self.mission_id {
                    set_mission(event, id);
                }
            }
        }
    };
}

ledger_payload!(
    /// Credits were added to an agent's balance.
    CreditsAllocated,
    "The mission the allocation is for, if any."
);
event_payload!(CreditsAllocated {
    type: "credits.allocated",
    module: "credits",
    source: "credits_service",
    version: 1,
    criticality: High,
    consumers: [],
    envelope: CreditsAllocated::envelope,
    description: "Credits were added to an agent's balance.",
});

ledger_payload!(
    /// Credits were spent from an agent's balance.
    CreditsConsumed,
    "The mission that spent them, if any."
);
event_payload!(CreditsConsumed {
    type: "credits.consumed",
    module: "credits",
    source: "credits_service",
    version: 1,
    criticality: High,
    consumers: [],
    envelope: CreditsConsumed::envelope,
    description: "Credits were spent from an agent's balance.",
});

ledger_payload!(
    /// Spent credits were given back (a cancelled or failed mission).
    CreditsRefunded,
    "The mission the refund is for, if any."
);
event_payload!(CreditsRefunded {
    type: "credits.refunded",
    module: "credits",
    source: "credits_service",
    version: 1,
    criticality: High,
    consumers: [],
    envelope: CreditsRefunded::envelope,
    description: "Spent credits were given back.",
});

ledger_payload!(
    /// An agent's balance reached zero (or could not cover a charge): `amount` is the charge that
    /// depleted it and `balance_after` the remaining balance.
    CreditsDepleted,
    "The mission whose charge depleted the balance, if any."
);
event_payload!(CreditsDepleted {
    type: "credits.depleted",
    module: "credits",
    source: "credits_service",
    version: 1,
    criticality: Critical,
    consumers: [SUPERVISOR, SECURITY_MONITORING],
    envelope: CreditsDepleted::envelope,
    description: "An agent's credit balance is exhausted.",
});
