//! What one payment leaves after the platform fee and tax, and the tables built from payments:
//! per payment, per month, per payout date and the yearly business-income estimate.
//!
//! The aggregates are sums over the per-payment rows, rendered at output time, so they are the
//! same whatever order deals interleave in, and they add up to the rows exactly.

use crate::orders::cycle_name;
use crate::tables::{BUSINESS_INCOME, MONTHLY, PAYMENTS, SETTLEMENTS_DUE};
use crate::tax::{business_income_bracket, business_income_tax_estimate, labor_remuneration_tax};
use chrono::{Datelike, NaiveDate};
use gigstream_core::event::{IncomeType, PricingModel, TaxRegime};
use gigstream_core::money::round_cents;
use gigstream_core::refdata::{SettlementCycle, TaxTables};
use gigstream_core::table::{datetime_ms, TableData, Value};
use gigstream_core::time::month_start;
use gigstream_core::Decimal;
use rust_decimal::prelude::ToPrimitive;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One payment's split, each amount rounded to the cent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PaymentFigures {
    pub platform_fee: Decimal,
    pub tax: Decimal,
    /// gross − platform_fee − tax, exactly.
    pub net: Decimal,
}

/// Splits a gross payment: the exact fee is gross × fee_pct / 100; 劳务报酬 tax is computed on
/// gross minus that exact fee; fee and tax are rounded to the cent (half away from zero) once,
/// at the end, and net is what is left so that gross = fee + tax + net in every row.
/// `cn_business_income` and `none` owe no per-payment tax.
pub fn payment_figures(
    tax: &TaxTables,
    regime: TaxRegime,
    gross: Decimal,
    fee_pct: Decimal,
) -> PaymentFigures {
    let exact_fee = gross * fee_pct / Decimal::ONE_HUNDRED;
    let exact_tax = match regime {
        TaxRegime::CnLaborRemuneration => {
            labor_remuneration_tax(&tax.cn_labor_remuneration, gross - exact_fee)
        }
        TaxRegime::CnBusinessIncome | TaxRegime::None => Decimal::ZERO,
    };
    let platform_fee = round_cents(exact_fee);
    let tax = round_cents(exact_tax);
    PaymentFigures {
        platform_fee,
        tax,
        net: gross - platform_fee - tax,
    }
}

/// `num / den` as a float ratio for output; `None` when `den` is zero.
pub(crate) fn ratio(num: Decimal, den: Decimal) -> Option<f64> {
    if den.is_zero() {
        return None;
    }
    num.checked_div(den).and_then(|r| r.to_f64())
}

pub(crate) fn pct_f64(d: Decimal) -> f64 {
    d.to_f64().unwrap_or(f64::NAN)
}

/// A settled payment with its figures, fixed when it was applied.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Payment {
    pub deal_id: String,
    pub contract_id: String,
    pub invoice_id: String,
    pub platform: String,
    pub pricing_model: PricingModel,
    pub income_type: IncomeType,
    pub currency: String,
    pub settled_at: i64,
    pub settle_date: NaiveDate,
    pub gross: Decimal,
    pub fee_pct: Decimal,
    pub platform_fee: Decimal,
    pub tax_regime: TaxRegime,
    pub tax: Decimal,
    pub tax_withheld_by_platform: bool,
    pub net: Decimal,
    pub settlement_cycle: SettlementCycle,
    pub due_date: NaiveDate,
}

/// Sums of payments.
#[derive(Debug, Clone, Copy, Default)]
struct Totals {
    payments: u64,
    gross: Decimal,
    platform_fee: Decimal,
    tax: Decimal,
    net: Decimal,
}

impl Totals {
    fn add(&mut self, p: &Payment) {
        self.payments += 1;
        self.gross += p.gross;
        self.platform_fee += p.platform_fee;
        self.tax += p.tax;
        self.net += p.net;
    }
}

/// `billing_payments`, sorted by (settle_date, payment_event_id).
pub(crate) fn payments_table(payments: &BTreeMap<String, Payment>) -> TableData {
    let mut sorted: Vec<(&String, &Payment)> = payments.iter().collect();
    sorted.sort_by(|a, b| (a.1.settle_date, a.0).cmp(&(b.1.settle_date, b.0)));
    let mut t = TableData::new(&PAYMENTS);
    for (id, p) in sorted {
        t.push(vec![
            p.settle_date.into(),
            id.as_str().into(),
            p.deal_id.as_str().into(),
            p.contract_id.as_str().into(),
            p.invoice_id.as_str().into(),
            p.platform.as_str().into(),
            p.pricing_model.as_str().into(),
            p.income_type.as_str().into(),
            p.currency.as_str().into(),
            datetime_ms(p.settled_at),
            p.gross.into(),
            pct_f64(p.fee_pct).into(),
            p.platform_fee.into(),
            p.tax_regime.as_str().into(),
            p.tax.into(),
            p.tax_withheld_by_platform.into(),
            p.net.into(),
            ratio(p.net, p.gross).into(),
            cycle_name(p.settlement_cycle).into(),
            p.due_date.into(),
        ]);
    }
    t
}

/// `billing_monthly`: month × platform × currency.
pub(crate) fn monthly_table(payments: &BTreeMap<String, Payment>) -> TableData {
    let mut groups: BTreeMap<(NaiveDate, &str, &str), Totals> = BTreeMap::new();
    for p in payments.values() {
        groups
            .entry((month_start(p.settle_date), &p.platform, &p.currency))
            .or_default()
            .add(p);
    }
    let mut t = TableData::new(&MONTHLY);
    for ((month, platform, currency), s) in groups {
        t.push(vec![
            month.into(),
            platform.into(),
            currency.into(),
            s.payments.into(),
            s.gross.into(),
            s.platform_fee.into(),
            s.tax.into(),
            s.net.into(),
            ratio(s.net, s.gross).into(),
        ]);
    }
    t
}

/// `billing_settlements_due`: due date × platform × currency.
pub(crate) fn settlements_due_table(payments: &BTreeMap<String, Payment>) -> TableData {
    let mut groups: BTreeMap<(NaiveDate, &str, &str), Totals> = BTreeMap::new();
    for p in payments.values() {
        groups
            .entry((p.due_date, &p.platform, &p.currency))
            .or_default()
            .add(p);
    }
    let mut t = TableData::new(&SETTLEMENTS_DUE);
    for ((due, platform, currency), s) in groups {
        t.push(vec![
            due.into(),
            platform.into(),
            currency.into(),
            s.payments.into(),
            s.gross.into(),
            s.net.into(),
        ]);
    }
    t
}

/// `billing_business_income_estimate`: year × currency over `cn_business_income` payments.
pub(crate) fn business_income_table(
    payments: &BTreeMap<String, Payment>,
    tax: &TaxTables,
) -> TableData {
    let mut groups: BTreeMap<(i32, &str), Totals> = BTreeMap::new();
    for p in payments
        .values()
        .filter(|p| p.tax_regime == TaxRegime::CnBusinessIncome)
    {
        groups
            .entry((p.settle_date.year(), &p.currency))
            .or_default()
            .add(p);
    }
    let table = &tax.cn_business_income;
    let mut t = TableData::new(&BUSINESS_INCOME);
    for ((year, currency), s) in groups {
        let income = s.gross - s.platform_fee;
        let (rate, deduction, estimate, after) = if currency == table.currency {
            let estimate = round_cents(business_income_tax_estimate(table, income));
            let bracket = business_income_bracket(table, income);
            (
                bracket.map(|b| pct_f64(b.rate_pct)).into(),
                bracket.map(|b| b.quick_deduction).into(),
                Value::from(estimate),
                Value::from(income - estimate),
            )
        } else {
            (Value::Null, Value::Null, Value::Null, Value::Null)
        };
        t.push(vec![
            // Years before 0 cannot come from validated event times.
            u32::try_from(year).unwrap_or(0).into(),
            currency.into(),
            s.payments.into(),
            s.gross.into(),
            s.platform_fee.into(),
            income.into(),
            rate,
            deduction,
            estimate,
            after,
        ]);
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;
    use gigstream_core::RefData;

    fn d(s: &str) -> Decimal {
        s.parse().unwrap()
    }

    /// DOMAIN.md's seed comparison: a ¥20,000 gross payment under 劳务报酬.
    /// Upwork before 2023-05-03 (20%): fee 4,000, base 16,000, tax 12,800 × 20% = 2,560,
    /// net 13,440 = 67.2%. 码市 (25%): 5,000, 15,000, 2,400, 12,600 = 63%.
    /// 开源众包 (15%): 3,000, 17,000, 2,720, 14,280 = 71.4%. (Seed: ≈ 68 / 62 / 73.)
    #[test]
    fn seed_take_home_comparison() {
        let rd = RefData::builtin();
        let gross = d("20000");
        let before = NaiveDate::from_ymd_opt(2023, 5, 2).unwrap();
        let cases = [
            ("upwork", "4000", "2560", "13440", 0.672),
            ("codingmart", "5000", "2400", "12600", 0.63),
            ("oschina_crowd", "3000", "2720", "14280", 0.714),
        ];
        for (platform, fee, tax, net, ratio_expected) in cases {
            let pct = rd.fee_pct(platform, before).unwrap();
            let f = payment_figures(&rd.tax, TaxRegime::CnLaborRemuneration, gross, pct);
            assert_eq!(
                f,
                PaymentFigures {
                    platform_fee: d(fee),
                    tax: d(tax),
                    net: d(net)
                },
                "{platform}"
            );
            assert!(
                (ratio(f.net, gross).unwrap() - ratio_expected).abs() < 1e-12,
                "{platform}"
            );
        }
    }

    #[test]
    fn rounding_happens_once_and_the_identity_holds() {
        let rd = RefData::builtin();
        // 1,234.57 at 15%: exact fee 185.1855 → 185.19; base 1,049.3845 − 800 = 249.3845 × 20%
        // = 49.8769 → 49.88; net = 1,234.57 − 185.19 − 49.88 = 999.50.
        let f = payment_figures(
            &rd.tax,
            TaxRegime::CnLaborRemuneration,
            d("1234.57"),
            d("15"),
        );
        assert_eq!(
            f,
            PaymentFigures {
                platform_fee: d("185.19"),
                tax: d("49.88"),
                net: d("999.50")
            }
        );
        // 1,000.50 at 15%: exact fee 150.075 → 150.08; the tax uses the exact base 850.425:
        // 50.425 × 20% = 10.085 → 10.09. Rounding the fee first would give base 850.42 and
        // tax 10.084 → 10.08, which is what "round once, at the end" rules out.
        let f = payment_figures(
            &rd.tax,
            TaxRegime::CnLaborRemuneration,
            d("1000.50"),
            d("15"),
        );
        assert_eq!(
            f,
            PaymentFigures {
                platform_fee: d("150.08"),
                tax: d("10.09"),
                net: d("840.33")
            }
        );
        // 1,000.03 at 25%: exact base 750.0225 is below the 800 deduction: no tax.
        let f = payment_figures(
            &rd.tax,
            TaxRegime::CnLaborRemuneration,
            d("1000.03"),
            d("25"),
        );
        assert_eq!(
            f,
            PaymentFigures {
                platform_fee: d("250.01"),
                tax: Decimal::ZERO,
                net: d("750.02")
            }
        );
        // Half a cent of fee rounds away from zero: 0.125 → 0.13.
        let f = payment_figures(&rd.tax, TaxRegime::None, d("1.25"), d("10"));
        assert_eq!(
            f,
            PaymentFigures {
                platform_fee: d("0.13"),
                tax: Decimal::ZERO,
                net: d("1.12")
            }
        );
    }

    #[test]
    fn business_income_and_no_tax_regimes_owe_nothing_per_payment() {
        let rd = RefData::builtin();
        for regime in [TaxRegime::CnBusinessIncome, TaxRegime::None] {
            let f = payment_figures(&rd.tax, regime, d("20000"), d("10"));
            assert_eq!(
                f,
                PaymentFigures {
                    platform_fee: d("2000"),
                    tax: Decimal::ZERO,
                    net: d("18000")
                }
            );
        }
    }
}
