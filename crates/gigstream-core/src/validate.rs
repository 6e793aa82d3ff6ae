//! Field-level validation of a decoded event against the reference data. What fails here goes to
//! the dead letters with the reason; nothing is dropped silently.

use crate::event::*;
use crate::money::Decimal;
use crate::refdata::{RefData, SettlementCycle};
use crate::time::fmt_ts;
use std::fmt;

/// Why an event is invalid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid {
    /// Stable short code: `missing_field`, `negative_amount`, `unknown_currency`,
    /// `unknown_platform`, `future_timestamp`, `out_of_range`, `unknown_plan`.
    pub code: &'static str,
    pub detail: String,
}

impl fmt::Display for Invalid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.detail)
    }
}

impl std::error::Error for Invalid {}

impl Invalid {
    /// Every code [`validate`] gives.
    pub const CODES: &'static [&'static str] = &[
        "missing_field",
        "negative_amount",
        "unknown_currency",
        "unknown_platform",
        "future_timestamp",
        "out_of_range",
        "unknown_plan",
    ];
}

fn invalid(code: &'static str, detail: impl Into<String>) -> Invalid {
    debug_assert!(
        Invalid::CODES.contains(&code),
        "validation code {code} is missing from Invalid::CODES"
    );
    Invalid {
        code,
        detail: detail.into(),
    }
}

fn nonempty(field: &str, v: &str) -> Result<(), Invalid> {
    if v.trim().is_empty() {
        return Err(invalid("missing_field", format!("{field} is empty")));
    }
    Ok(())
}

fn non_negative(field: &str, v: Decimal) -> Result<(), Invalid> {
    if v.is_sign_negative() && !v.is_zero() {
        return Err(invalid("negative_amount", format!("{field} is {v}")));
    }
    Ok(())
}

fn currency(rd: &RefData, v: &str) -> Result<(), Invalid> {
    if !rd.currency_known(v) {
        return Err(invalid(
            "unknown_currency",
            format!("currency '{v}' is not in reference/currencies.toml"),
        ));
    }
    Ok(())
}

fn platform(rd: &RefData, v: &str) -> Result<(), Invalid> {
    if rd.platform(v).is_none() {
        return Err(invalid(
            "unknown_platform",
            format!("platform '{v}' is not in reference/platforms.toml"),
        ));
    }
    Ok(())
}

/// Validates `event`, appended to the log at `append_ts` (the record timestamp).
pub fn validate(event: &Event, rd: &RefData, append_ts: i64) -> Result<(), Invalid> {
    nonempty("event_id", event.event_id())?;
    nonempty(event.topic().key_field(), event.key())?;
    let skew = rd.pipeline.max_future_skew_ms();
    if event.occurred_at() > append_ts.saturating_add(skew) {
        return Err(invalid(
            "future_timestamp",
            format!(
                "occurred_at {} is more than {} ahead of the append time {}",
                fmt_ts(event.occurred_at()),
                rd.pipeline.max_future_skew,
                fmt_ts(append_ts)
            ),
        ));
    }
    if event.occurred_at() < 0 {
        return Err(invalid(
            "out_of_range",
            format!("occurred_at {} is before 1970", event.occurred_at()),
        ));
    }
    match event {
        Event::Order(r) => order(&r.payload, rd),
        Event::Usage(r) => usage(&r.payload, rd),
        Event::Telemetry(r) => telemetry(&r.payload),
    }
}

fn order(p: &OrderEvent, rd: &RefData) -> Result<(), Invalid> {
    match p {
        OrderEvent::LeadPosted(e) => {
            platform(rd, &e.platform)?;
            currency(rd, &e.currency)?;
            nonempty("client_id", &e.client_id)?;
            non_negative("budget_min", e.budget_min)?;
            non_negative("budget_max", e.budget_max)?;
            if e.budget_min > e.budget_max {
                return Err(invalid(
                    "out_of_range",
                    format!(
                        "budget_min {} exceeds budget_max {}",
                        e.budget_min, e.budget_max
                    ),
                ));
            }
        }
        OrderEvent::ProposalSubmitted(e) => {
            currency(rd, &e.currency)?;
            nonempty("freelancer_id", &e.freelancer_id)?;
            non_negative("quote", e.quote)?;
            non_negative("estimated_hours", e.estimated_hours)?;
        }
        OrderEvent::ClientResponded(e) => nonempty("freelancer_id", &e.freelancer_id)?,
        OrderEvent::ContractSigned(e) => {
            nonempty("contract_id", &e.contract_id)?;
            platform(rd, &e.platform)?;
            currency(rd, &e.currency)?;
            if let Some(a) = e.amount {
                non_negative("amount", a)?;
            }
            if let Some(a) = e.hourly_rate {
                non_negative("hourly_rate", a)?;
            }
            if e.amount.is_none() && e.hourly_rate.is_none() {
                return Err(invalid(
                    "missing_field",
                    "contract has neither amount nor hourly_rate",
                ));
            }
            if let Some(c) = &e.settlement_cycle {
                if !c.trim().is_empty() {
                    SettlementCycle::parse(c).map_err(|m| invalid("out_of_range", m))?;
                }
            }
            if e.tax_regime == TaxRegime::CnLaborRemuneration
                && e.currency != rd.tax.cn_labor_remuneration.currency
            {
                return Err(invalid(
                    "out_of_range",
                    format!(
                        "tax regime cn_labor_remuneration applies to {} payments, not {}",
                        rd.tax.cn_labor_remuneration.currency, e.currency
                    ),
                ));
            }
        }
        OrderEvent::WorkLogged(e) => {
            nonempty("freelancer_id", &e.freelancer_id)?;
            if e.hours <= Decimal::ZERO || e.hours > Decimal::from(24) {
                return Err(invalid(
                    "out_of_range",
                    format!("hours {} is not in (0, 24]", e.hours),
                ));
            }
        }
        OrderEvent::MilestoneDelivered(e) => {
            nonempty("milestone_id", &e.milestone_id)?;
            currency(rd, &e.currency)?;
            non_negative("amount", e.amount)?;
        }
        OrderEvent::InvoiceIssued(e) => {
            nonempty("invoice_id", &e.invoice_id)?;
            currency(rd, &e.currency)?;
            non_negative("gross", e.gross)?;
            if e.due_at < e.issued_at {
                return Err(invalid(
                    "out_of_range",
                    "invoice due_at is before issued_at",
                ));
            }
        }
        OrderEvent::PaymentSettled(e) => {
            nonempty("invoice_id", &e.invoice_id)?;
            currency(rd, &e.currency)?;
            non_negative("gross", e.gross)?;
        }
        OrderEvent::ContractEnded(e) => nonempty("contract_id", &e.contract_id)?,
    }
    Ok(())
}

fn usage(p: &UsageEvent, rd: &RefData) -> Result<(), Invalid> {
    match p {
        UsageEvent::SubscriptionChanged(e) => {
            nonempty("tenant_id", &e.tenant_id)?;
            nonempty("service_id", &e.service_id)?;
            if rd.plan(&e.plan_id).is_none() {
                return Err(invalid(
                    "unknown_plan",
                    format!("plan '{}' is not in reference/plans.toml", e.plan_id),
                ));
            }
            if e.revenue_share_pct < Decimal::ZERO || e.revenue_share_pct > Decimal::from(100) {
                return Err(invalid(
                    "out_of_range",
                    format!(
                        "revenue_share_pct {} is not in [0, 100]",
                        e.revenue_share_pct
                    ),
                ));
            }
        }
        UsageEvent::UsageRecorded(e) => {
            nonempty("meter", &e.meter)?;
            non_negative("quantity", e.quantity)?;
        }
    }
    Ok(())
}

fn telemetry(p: &TelemetryEvent) -> Result<(), Invalid> {
    match p {
        TelemetryEvent::RequestObserved(e) => {
            if !(100..=599).contains(&e.status_code) {
                return Err(invalid(
                    "out_of_range",
                    format!("status_code {} is not an HTTP status", e.status_code),
                ));
            }
            if e.latency_ms < 0 {
                return Err(invalid(
                    "out_of_range",
                    format!("latency_ms {} is negative", e.latency_ms),
                ));
            }
        }
        TelemetryEvent::ProbeResult(e) => {
            nonempty("probe_region", &e.probe_region)?;
            if e.latency_ms < 0 {
                return Err(invalid(
                    "out_of_range",
                    format!("latency_ms {} is negative", e.latency_ms),
                ));
            }
        }
        TelemetryEvent::IncidentOpened(e) => nonempty("incident_id", &e.incident_id)?,
        TelemetryEvent::IncidentResolved(e) => nonempty("incident_id", &e.incident_id)?,
    }
    Ok(())
}
