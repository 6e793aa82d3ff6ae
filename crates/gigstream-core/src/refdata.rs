//! Reference data: fee schedules, settlement cycles, tax tables, SLA targets and credit tiers,
//! plans and price tiers. They change, so they live in files (`reference/*.toml` in the repo),
//! not in code. The repo's files are built into the binaries as the defaults; a directory given
//! with `--reference-dir` (or `GIGSTREAM_REFERENCE_DIR`) replaces them file by file.

use crate::event::{PricingModel, Settlement};
use crate::money::Decimal;
use chrono::{Duration, NaiveDate};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

/// Every reference table the rules read.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RefData {
    pub currencies: Vec<Currency>,
    pub platforms: Vec<Platform>,
    pub tax: TaxTables,
    pub sla: SlaConfig,
    pub plans: Vec<Plan>,
    /// Allowed lateness and other pipeline-wide rules.
    pub pipeline: PipelineRules,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Currency {
    /// ISO 4217 code.
    pub code: String,
    /// Digits after the decimal point of the minor unit (2 for CNY, USD, EUR).
    pub minor_units: u32,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Platform {
    /// Id used in events (`upwork`, `codingmart`, ...).
    pub id: String,
    pub name: String,
    /// Fee schedule: each entry applies from its date until the next one's.
    pub fee: Vec<FeePeriod>,
    /// Default settlement cycle (`T+N`, `weekly`, `monthly`), when the contract names none.
    pub settlement: String,
    /// Settlement cycle for hourly contracts, if different.
    #[serde(default)]
    pub settlement_hourly: Option<String>,
    /// Whether the platform withholds the tax (otherwise it is self-declared).
    pub tax_withheld: bool,
    /// Where the figures come from (`seed`, `public`, `placeholder`).
    #[serde(default)]
    pub source: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeePeriod {
    /// First UTC date this fee applies to.
    pub from: NaiveDate,
    /// Fee in percent of the gross payment.
    pub pct: Decimal,
    #[serde(default)]
    pub source: String,
}

/// A settlement cycle: when a payment settled on date T is paid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum SettlementCycle {
    /// T + N calendar days.
    Days(u32),
    /// The Monday after T (weekly payout).
    Weekly,
    /// The first day of the next calendar month.
    Monthly,
}

impl SettlementCycle {
    pub fn parse(s: &str) -> Result<SettlementCycle, String> {
        let t = s.trim();
        match t.to_ascii_lowercase().as_str() {
            "weekly" => return Ok(SettlementCycle::Weekly),
            "monthly" => return Ok(SettlementCycle::Monthly),
            _ => {}
        }
        let n = t
            .strip_prefix("T+")
            .or_else(|| t.strip_prefix("t+"))
            .and_then(|n| n.parse::<u32>().ok())
            .ok_or_else(|| format!("settlement cycle '{s}' is not T+N, weekly or monthly"))?;
        Ok(SettlementCycle::Days(n))
    }

    /// The payout date for a payment settled on `t`.
    pub fn due_date(self, t: NaiveDate) -> NaiveDate {
        match self {
            SettlementCycle::Days(n) => t + Duration::days(n as i64),
            SettlementCycle::Weekly => crate::time::week_start(t) + Duration::days(7),
            SettlementCycle::Monthly => crate::time::next_month_start(t),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaxTables {
    pub cn_labor_remuneration: LaborRemunerationTable,
    pub cn_business_income: ProgressiveTable,
}

/// China 劳务报酬 withholding per payment.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LaborRemunerationTable {
    pub currency: String,
    /// Payments up to this amount deduct `fixed_deduction`; larger ones keep `pct_kept`%.
    pub small_payment_limit: Decimal,
    pub fixed_deduction: Decimal,
    pub pct_kept: Decimal,
    pub brackets: Vec<Bracket>,
}

/// A progressive table: the first bracket whose `up_to` is at least the base applies (the last
/// has no `up_to`); tax = base × rate − quick deduction.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProgressiveTable {
    pub currency: String,
    pub brackets: Vec<Bracket>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Bracket {
    #[serde(default)]
    pub up_to: Option<Decimal>,
    pub rate_pct: Decimal,
    pub quick_deduction: Decimal,
}

impl Bracket {
    /// The bracket that applies to `base` in a table ordered by `up_to`.
    pub fn find(brackets: &[Bracket], base: Decimal) -> Option<&Bracket> {
        brackets.iter().find(|b| b.up_to.is_none_or(|u| base <= u))
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlaConfig {
    pub targets: SlaTargets,
    /// Per-service overrides of the targets, by service id.
    #[serde(default)]
    pub services: BTreeMap<String, SlaTargets>,
    pub violation: ViolationRule,
    pub credit_tiers: Vec<CreditTier>,
    pub burn_alerts: Vec<BurnAlert>,
}

impl SlaConfig {
    pub fn targets_for(&self, service_id: &str) -> &SlaTargets {
        self.services.get(service_id).unwrap_or(&self.targets)
    }

    /// Credit percent owed for a month with `uptime_pct` against `target_pct`.
    pub fn credit_pct(&self, uptime_pct: f64, target_pct: f64) -> u32 {
        if uptime_pct >= target_pct {
            return 0;
        }
        self.credit_tiers
            .iter()
            .find(|t| uptime_pct >= t.min_uptime_pct)
            .map(|t| t.credit_pct)
            .unwrap_or_else(|| self.credit_tiers.last().map(|t| t.credit_pct).unwrap_or(0))
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlaTargets {
    pub p95_ms: u32,
    pub p99_ms: u32,
    /// Error rate ceiling in percent (0.5 means 0.5%).
    pub error_rate_pct: f64,
    /// Monthly availability target in percent (99.95).
    pub availability_pct: f64,
    /// Request success SLO in percent whose complement is the error budget for burn rates.
    pub request_slo_pct: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ViolationRule {
    /// The stricter internal rule: P95 above this for `consecutive_windows` windows in a row.
    pub p95_alert_ms: u32,
    pub consecutive_windows: u32,
    /// Window width, e.g. "5m".
    pub window: String,
}

impl ViolationRule {
    pub fn window_ms(&self) -> Result<i64, String> {
        parse_duration_ms(&self.window)
    }
}

/// Uptime at or above `min_uptime_pct` (and below target) owes `credit_pct` of the month's charge;
/// tiers ordered from the highest `min_uptime_pct` down.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreditTier {
    pub min_uptime_pct: f64,
    pub credit_pct: u32,
}

/// A multiwindow burn-rate alert: fires when both windows burn faster than `factor`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BurnAlert {
    pub name: String,
    pub factor: f64,
    pub long_window: String,
    pub short_window: String,
    /// `page` or `ticket`.
    pub severity: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Plan {
    pub id: String,
    pub currency: String,
    /// The tenant's revenue share is paid for a period only when its revenue exceeds this.
    #[serde(default)]
    pub payout_threshold: Decimal,
    pub meters: Vec<MeterPrice>,
}

impl Plan {
    pub fn meter(&self, meter: &str) -> Option<&MeterPrice> {
        self.meters.iter().find(|m| m.meter == meter)
    }
}

/// How a meter's usage in a period becomes a quantity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Aggregation {
    /// Add every record (api calls, compute hours).
    Sum,
    /// The largest value seen (seats, licenses).
    Max,
}

/// How a period's total quantity becomes a charge. The charge is computed on the period's total,
/// never per event.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "model", rename_all = "snake_case", deny_unknown_fields)]
pub enum Pricing {
    /// quantity × unit_price.
    PerUnit { unit_price: Decimal },
    /// Each tier prices the units that fall in it (like income tax brackets).
    Graduated { tiers: Vec<PriceTier> },
    /// The tier the total falls in prices every unit.
    Volume { tiers: Vec<PriceTier> },
    /// ceil(quantity / package_size) × package_price.
    Package {
        package_size: Decimal,
        package_price: Decimal,
    },
    /// pct% of the quantity (the quantity is an amount of money, such as GMV).
    Percentage { pct: Decimal },
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PriceTier {
    /// Upper bound of the tier (inclusive); absent for the last tier.
    #[serde(default)]
    pub up_to: Option<Decimal>,
    pub unit_price: Decimal,
    /// A flat fee added when the tier is reached.
    #[serde(default)]
    pub flat_fee: Decimal,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MeterPrice {
    pub meter: String,
    pub aggregation: Aggregation,
    pub pricing: Pricing,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PipelineRules {
    /// Events older than the partition's watermark by more than this go to the dead letters.
    pub allowed_lateness: String,
    /// Events whose time is ahead of the record's append time by more than this are invalid.
    pub max_future_skew: String,
    /// The two durations above in ms, parsed once at load (validation reads them per event).
    #[serde(skip)]
    parsed_ms: (i64, i64),
}

impl PipelineRules {
    pub fn allowed_lateness_ms(&self) -> i64 {
        self.parsed_ms.0
    }
    pub fn max_future_skew_ms(&self) -> i64 {
        self.parsed_ms.1
    }
}

/// Parses durations like `500ms`, `30s`, `5m`, `6h`, `35d`, `2w`.
pub fn parse_duration_ms(s: &str) -> Result<i64, String> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: i64 = num
        .parse()
        .map_err(|_| format!("duration '{s}' must be a number and a unit, like 10s or 35d"))?;
    let mult = match unit {
        "ms" => 1,
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        "w" => 7 * 86_400_000,
        _ => {
            return Err(format!(
                "duration '{s}' has unknown unit '{unit}' (ms, s, m, h, d, w)"
            ))
        }
    };
    Ok(n * mult)
}

/// The file names that make up reference data, and the defaults built from the repo's files.
const FILES: [(&str, &str); 5] = [
    (
        "currencies.toml",
        include_str!("../../../reference/currencies.toml"),
    ),
    (
        "platforms.toml",
        include_str!("../../../reference/platforms.toml"),
    ),
    ("tax.toml", include_str!("../../../reference/tax.toml")),
    ("sla.toml", include_str!("../../../reference/sla.toml")),
    ("plans.toml", include_str!("../../../reference/plans.toml")),
];

#[derive(Debug, thiserror::Error)]
pub enum RefDataError {
    #[error("cannot read reference file {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("reference file {file} is invalid: {message}")]
    Invalid { file: String, message: String },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CurrenciesFile {
    currency: Vec<Currency>,
}
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PlatformsFile {
    platform: Vec<Platform>,
}
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PlansFile {
    plan: Vec<Plan>,
    pipeline: PipelineRules,
}

impl RefData {
    /// The reference data built into the binary from the repo's `reference/` files.
    pub fn builtin() -> RefData {
        RefData::load(None).expect("the repo's reference files are valid (checked by tests)")
    }

    /// Loads reference data; files present in `dir` replace the built-in ones.
    pub fn load(dir: Option<&Path>) -> Result<RefData, RefDataError> {
        let mut texts = BTreeMap::new();
        for (name, builtin) in FILES {
            let text = match dir.map(|d| d.join(name)) {
                Some(path) if path.exists() => {
                    std::fs::read_to_string(&path).map_err(|source| RefDataError::Read {
                        path: path.display().to_string(),
                        source,
                    })?
                }
                _ => builtin.to_string(),
            };
            texts.insert(name, text);
        }
        fn parse<T: serde::de::DeserializeOwned>(
            name: &str,
            text: &str,
        ) -> Result<T, RefDataError> {
            toml::from_str(text).map_err(|e| RefDataError::Invalid {
                file: name.to_string(),
                message: e.to_string(),
            })
        }
        let currencies: CurrenciesFile = parse("currencies.toml", &texts["currencies.toml"])?;
        let platforms: PlatformsFile = parse("platforms.toml", &texts["platforms.toml"])?;
        let tax: TaxTables = parse("tax.toml", &texts["tax.toml"])?;
        let sla: SlaConfig = parse("sla.toml", &texts["sla.toml"])?;
        let plans: PlansFile = parse("plans.toml", &texts["plans.toml"])?;
        let mut rd = RefData {
            currencies: currencies.currency,
            platforms: platforms.platform,
            tax,
            sla,
            plans: plans.plan,
            pipeline: plans.pipeline,
        };
        let ms = |s: &str| {
            parse_duration_ms(s).map_err(|message| RefDataError::Invalid {
                file: "plans.toml".to_string(),
                message,
            })
        };
        rd.pipeline.parsed_ms = (
            ms(&rd.pipeline.allowed_lateness)?,
            ms(&rd.pipeline.max_future_skew)?,
        );
        rd.check()?;
        Ok(rd)
    }

    fn check(&self) -> Result<(), RefDataError> {
        let bad = |file: &str, message: String| RefDataError::Invalid {
            file: file.to_string(),
            message,
        };
        for p in &self.platforms {
            if p.fee.is_empty() {
                return Err(bad(
                    "platforms.toml",
                    format!("platform '{}' has no fee entry", p.id),
                ));
            }
            if p.fee.windows(2).any(|w| w[0].from >= w[1].from) {
                return Err(bad(
                    "platforms.toml",
                    format!("platform '{}' fee dates are not increasing", p.id),
                ));
            }
            SettlementCycle::parse(&p.settlement).map_err(|e| bad("platforms.toml", e))?;
            if let Some(h) = &p.settlement_hourly {
                SettlementCycle::parse(h).map_err(|e| bad("platforms.toml", e))?;
            }
        }
        for plan in &self.plans {
            if !self.currency_known(&plan.currency) {
                return Err(bad(
                    "plans.toml",
                    format!(
                        "plan '{}' uses unknown currency '{}'",
                        plan.id, plan.currency
                    ),
                ));
            }
        }
        self.sla
            .violation
            .window_ms()
            .map_err(|e| bad("sla.toml", e))?;
        for a in &self.sla.burn_alerts {
            parse_duration_ms(&a.long_window).map_err(|e| bad("sla.toml", e))?;
            parse_duration_ms(&a.short_window).map_err(|e| bad("sla.toml", e))?;
        }
        Ok(())
    }

    pub fn currency_known(&self, code: &str) -> bool {
        self.currencies.iter().any(|c| c.code == code)
    }

    pub fn platform(&self, id: &str) -> Option<&Platform> {
        self.platforms.iter().find(|p| p.id == id)
    }

    pub fn plan(&self, id: &str) -> Option<&Plan> {
        self.plans.iter().find(|p| p.id == id)
    }

    /// The platform's fee percent on `date` (the last schedule entry starting on or before it).
    pub fn fee_pct(&self, platform: &str, date: NaiveDate) -> Option<Decimal> {
        let p = self.platform(platform)?;
        p.fee
            .iter()
            .rev()
            .find(|f| f.from <= date)
            .or(p.fee.first())
            .map(|f| f.pct)
    }

    /// The settlement cycle for a contract: its own if it names one, else the platform's default
    /// for its pricing model.
    pub fn settlement_cycle(
        &self,
        platform: &str,
        pricing: PricingModel,
        contract_cycle: Option<&str>,
    ) -> Result<SettlementCycle, String> {
        if let Some(c) = contract_cycle.filter(|c| !c.trim().is_empty()) {
            return SettlementCycle::parse(c);
        }
        let p = self
            .platform(platform)
            .ok_or_else(|| format!("unknown platform '{platform}'"))?;
        let text = match (pricing, &p.settlement_hourly) {
            (PricingModel::Hourly, Some(h)) => h,
            _ => &p.settlement,
        };
        SettlementCycle::parse(text)
    }
}

/// Start of the settlement period containing `date`.
pub fn period_start(s: Settlement, date: NaiveDate) -> NaiveDate {
    match s {
        Settlement::Daily => date,
        Settlement::Weekly => crate::time::week_start(date),
        Settlement::Monthly => crate::time::month_start(date),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_reference_data_loads() {
        let rd = RefData::builtin();
        assert!(rd.currency_known("CNY"));
        assert!(rd.platform("upwork").is_some());
        assert_eq!(rd.pipeline.allowed_lateness_ms(), 35 * 86_400_000);
        // TOML floats must arrive as the exact decimals written in the file.
        let Pricing::Graduated { tiers } = &rd
            .plan("api-growth")
            .unwrap()
            .meter("api_calls")
            .unwrap()
            .pricing
        else {
            panic!("api-growth api_calls is graduated")
        };
        assert_eq!(tiers[1].unit_price.to_string(), "0.0008");
        assert_eq!(
            rd.fee_pct("upwork", NaiveDate::from_ymd_opt(2026, 1, 1).unwrap())
                .unwrap(),
            Decimal::from(10)
        );
        assert_eq!(
            rd.fee_pct("upwork", NaiveDate::from_ymd_opt(2022, 1, 1).unwrap())
                .unwrap(),
            Decimal::from(20)
        );
    }

    #[test]
    fn settlement_cycles() {
        let t = NaiveDate::from_ymd_opt(2026, 1, 30).unwrap();
        assert_eq!(
            SettlementCycle::parse("T+1")
                .unwrap()
                .due_date(t)
                .to_string(),
            "2026-01-31"
        );
        assert_eq!(
            SettlementCycle::parse("T+7")
                .unwrap()
                .due_date(t)
                .to_string(),
            "2026-02-06"
        );
        assert_eq!(
            SettlementCycle::parse("monthly")
                .unwrap()
                .due_date(t)
                .to_string(),
            "2026-02-01"
        );
        assert!(SettlementCycle::parse("soon").is_err());
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration_ms("5m").unwrap(), 300_000);
        assert_eq!(parse_duration_ms("35d").unwrap(), 35 * 86_400_000);
        assert!(parse_duration_ms("5 minutes").is_err());
    }

    #[test]
    fn unknown_keys_are_rejected_with_their_name() {
        let dir = std::env::temp_dir().join(format!("gs-refdata-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("currencies.toml"),
            "[[currency]]\ncode = \"CNY\"\nminor_units = 2\ncolour = 1\n",
        )
        .unwrap();
        let err = RefData::load(Some(&dir)).unwrap_err().to_string();
        assert!(err.contains("colour"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
