//! The events on the three topics.
//!
//! Every record is an envelope (`event_id`, `occurred_at`, the entity key, `schema_version`,
//! optional `trace_id` since v2) around a payload that is one of the topic's event types. The
//! Rust types follow the newest schema version in `schemas/`; older writers are read through
//! Avro schema resolution. The serde form of these types *is* the JSON-lines format:
//!
//! ```json
//! {"event_id":"e-1","occurred_at":"2026-03-01T10:00:00Z","deal_id":"d-1","schema_version":2,
//!  "payload":{"LeadPosted":{"platform":"upwork", "...": "..."}}}
//! ```

mod orders;
mod telemetry;
mod usage;

pub use orders::*;
pub use telemetry::*;
pub use usage::*;

use serde::{Deserialize, Serialize};
use std::fmt;

/// The newest schema version of every topic; what producers here write.
pub const SCHEMA_VERSION: i32 = 2;

/// A topic and what keys it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Topic {
    Orders,
    Usage,
    Telemetry,
}

impl Topic {
    pub const ALL: [Topic; 3] = [Topic::Orders, Topic::Usage, Topic::Telemetry];

    pub fn name(self) -> &'static str {
        match self {
            Topic::Orders => "orders",
            Topic::Usage => "usage",
            Topic::Telemetry => "telemetry",
        }
    }

    /// The envelope field that holds the entity key (and the Kafka message key).
    pub fn key_field(self) -> &'static str {
        match self {
            Topic::Orders => "deal_id",
            Topic::Usage => "subscription_id",
            Topic::Telemetry => "service_id",
        }
    }

    pub fn from_name(name: &str) -> Option<Topic> {
        Topic::ALL.into_iter().find(|t| t.name() == name)
    }
}

impl fmt::Display for Topic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

macro_rules! envelope {
    ($(#[$doc:meta])* $name:ident, $key:ident, $payload:ty, $topic:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
        pub struct $name {
            /// Globally unique; the idempotency key (a repeated id is counted once).
            pub event_id: String,
            /// Event time, UTC milliseconds.
            #[serde(with = "crate::time::serde_ts")]
            pub occurred_at: i64,
            pub $key: String,
            pub schema_version: i32,
            /// Added in schema v2: the producer's trace id, if any.
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub trace_id: Option<String>,
            pub payload: $payload,
        }

        impl $name {
            pub const TOPIC: Topic = $topic;

            pub fn key(&self) -> &str {
                &self.$key
            }
        }
    };
}

envelope!(
    /// A record of the `orders` topic, keyed by `deal_id` (one opportunity from lead to end).
    OrderRecord, deal_id, OrderEvent, Topic::Orders
);
envelope!(
    /// A record of the `usage` topic, keyed by `subscription_id`.
    UsageRecord, subscription_id, UsageEvent, Topic::Usage
);
envelope!(
    /// A record of the `telemetry` topic, keyed by `service_id`.
    TelemetryRecord, service_id, TelemetryEvent, Topic::Telemetry
);

/// Any decoded event, whatever its topic. Serialises as the record itself (a JSON line).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Event {
    Order(OrderRecord),
    Usage(UsageRecord),
    Telemetry(TelemetryRecord),
}

impl Event {
    pub fn topic(&self) -> Topic {
        match self {
            Event::Order(_) => Topic::Orders,
            Event::Usage(_) => Topic::Usage,
            Event::Telemetry(_) => Topic::Telemetry,
        }
    }

    pub fn event_id(&self) -> &str {
        match self {
            Event::Order(r) => &r.event_id,
            Event::Usage(r) => &r.event_id,
            Event::Telemetry(r) => &r.event_id,
        }
    }

    pub fn occurred_at(&self) -> i64 {
        match self {
            Event::Order(r) => r.occurred_at,
            Event::Usage(r) => r.occurred_at,
            Event::Telemetry(r) => r.occurred_at,
        }
    }

    pub fn key(&self) -> &str {
        match self {
            Event::Order(r) => r.key(),
            Event::Usage(r) => r.key(),
            Event::Telemetry(r) => r.key(),
        }
    }

    pub fn schema_version(&self) -> i32 {
        match self {
            Event::Order(r) => r.schema_version,
            Event::Usage(r) => r.schema_version,
            Event::Telemetry(r) => r.schema_version,
        }
    }

    /// The event type's name as in the schema (`LeadPosted`, `RequestObserved`, ...).
    pub fn type_name(&self) -> &'static str {
        match self {
            Event::Order(r) => r.payload.type_name(),
            Event::Usage(r) => r.payload.type_name(),
            Event::Telemetry(r) => r.payload.type_name(),
        }
    }
}

/// Declares a serde-friendly enum of symbols with its text names (Avro enum symbols).
macro_rules! symbols {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        pub enum $name {
            $($(#[$vdoc])* #[serde(rename = $text)] $variant),+
        }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl std::str::FromStr for $name {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, String> {
                match s {
                    $($text => Ok($name::$variant),)+
                    _ => Err(format!("unknown {} '{}'", stringify!($name), s)),
                }
            }
        }
    };
}
pub(crate) use symbols;

/// Partitions of the topics gigstream creates when they are missing (the embedded log on first
/// use, `gigstream produce`, the dead-letter twins of topics that do not exist yet).
pub const DEFAULT_PARTITIONS: u32 = 4;
