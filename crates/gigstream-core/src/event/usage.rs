use super::symbols;
use crate::money::{serde_decimal, Decimal};
use serde::{Deserialize, Serialize};

symbols!(
    /// A subscription's state: created -> active -> grace_period -> cancelled; grace_period
    /// returns to active on payment.
    SubscriptionStatus {
        Created = "created",
        Active = "active",
        GracePeriod = "grace_period",
        Cancelled = "cancelled",
    }
);

symbols!(
    /// How often usage is charged and the revenue share settled.
    Settlement {
        Daily = "daily",
        Weekly = "weekly",
        Monthly = "monthly",
    }
);

/// The events of the `usage` topic.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum UsageEvent {
    SubscriptionChanged(SubscriptionChanged),
    UsageRecorded(UsageRecorded),
}

impl UsageEvent {
    pub fn type_name(&self) -> &'static str {
        match self {
            UsageEvent::SubscriptionChanged(_) => "SubscriptionChanged",
            UsageEvent::UsageRecorded(_) => "UsageRecorded",
        }
    }
}

/// A subscription was created or changed state, plan or terms.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SubscriptionChanged {
    pub tenant_id: String,
    pub client_id: String,
    /// The delivered service the tenant pays for; its SLA credits reduce this charge.
    pub service_id: String,
    /// Plan id as in `reference/plans.toml`.
    pub plan_id: String,
    pub status: SubscriptionStatus,
    /// The tenant's share of the subscription's revenue, in percent (70 means 70%).
    #[serde(with = "serde_decimal")]
    pub revenue_share_pct: Decimal,
    pub settlement: Settlement,
}

/// Metered usage of a subscription.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UsageRecorded {
    pub tenant_id: String,
    /// Meter name as in the plan (`api_calls`, `compute_hours`, `seats`, `licenses`).
    pub meter: String,
    #[serde(with = "serde_decimal")]
    pub quantity: Decimal,
}
