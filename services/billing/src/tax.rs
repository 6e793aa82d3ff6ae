//! Tax rules, as pure functions of reference tables (`reference/tax.toml`).
//!
//! Both functions return the exact (unrounded) amount: callers round to the cent once, at the
//! end, as DOMAIN.md requires. Negative results are clamped to zero: a small payment or a small
//! year owes no tax, never a refund.

use gigstream_core::refdata::{Bracket, LaborRemunerationTable, ProgressiveTable};
use gigstream_core::Decimal;

const HUNDRED: Decimal = Decimal::ONE_HUNDRED;

/// China 劳务报酬 withholding on one payment, from its base (what the freelancer is paid for the
/// payment: gross minus the exact platform fee).
///
/// taxable = base − fixed deduction when base ≤ the small-payment limit, else base × pct kept %;
/// tax = taxable × rate − quick deduction of the first bracket whose `up_to` ≥ taxable.
pub fn labor_remuneration_tax(table: &LaborRemunerationTable, base: Decimal) -> Decimal {
    if base <= Decimal::ZERO {
        return Decimal::ZERO;
    }
    let taxable = if base <= table.small_payment_limit {
        base - table.fixed_deduction
    } else {
        base * table.pct_kept / HUNDRED
    };
    progressive(&table.brackets, taxable)
}

/// The annual progressive estimate of China 经营所得 (business income) tax on a year's income.
/// It knows no costs or deductions, hence only an estimate.
pub fn business_income_tax_estimate(table: &ProgressiveTable, income: Decimal) -> Decimal {
    progressive(&table.brackets, income)
}

/// The bracket that applies to a year's business income, for showing its rate.
pub fn business_income_bracket(table: &ProgressiveTable, income: Decimal) -> Option<&Bracket> {
    Bracket::find(&table.brackets, income.max(Decimal::ZERO))
}

/// taxable × rate − quick deduction, clamped at zero; zero for a non-positive taxable amount or
/// a table without a matching bracket.
fn progressive(brackets: &[Bracket], taxable: Decimal) -> Decimal {
    if taxable <= Decimal::ZERO {
        return Decimal::ZERO;
    }
    match Bracket::find(brackets, taxable) {
        Some(b) => (taxable * b.rate_pct / HUNDRED - b.quick_deduction).max(Decimal::ZERO),
        None => Decimal::ZERO,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gigstream_core::RefData;

    fn d(s: &str) -> Decimal {
        s.parse().unwrap()
    }

    #[test]
    fn labor_remuneration_worked_examples() {
        let rd = RefData::builtin();
        let t = &rd.tax.cn_labor_remuneration;
        // DOMAIN.md: ¥3,000 → 2,200 × 20% = 440.
        assert_eq!(labor_remuneration_tax(t, d("3000")), d("440"));
        // ¥8,000 → 6,400 × 20% = 1,280.
        assert_eq!(labor_remuneration_tax(t, d("8000")), d("1280"));
        // ¥30,000 → 24,000 × 30% − 2,000 = 5,200.
        assert_eq!(labor_remuneration_tax(t, d("30000")), d("5200"));
        // ¥100,000 → 80,000 × 40% − 7,000 = 25,000.
        assert_eq!(labor_remuneration_tax(t, d("100000")), d("25000"));
    }

    #[test]
    fn labor_remuneration_edges() {
        let rd = RefData::builtin();
        let t = &rd.tax.cn_labor_remuneration;
        // At the small-payment limit the fixed deduction still applies: 3,200 × 20%.
        assert_eq!(labor_remuneration_tax(t, d("4000")), d("640"));
        // Just above it, 80% is kept: 4,000.01 × 0.8 × 0.2 = 640.0016.
        assert_eq!(labor_remuneration_tax(t, d("4000.01")), d("640.0016"));
        // Below the deduction: nothing.
        assert_eq!(labor_remuneration_tax(t, d("500")), Decimal::ZERO);
        assert_eq!(labor_remuneration_tax(t, Decimal::ZERO), Decimal::ZERO);
        // Taxable exactly 20,000 (base 25,000) stays in the 20% bracket: 4,000.
        assert_eq!(labor_remuneration_tax(t, d("25000")), d("4000"));
        // Taxable 50,000 (base 62,500): 30% − 2,000 = 13,000; one cent more: 40% − 7,000.
        assert_eq!(labor_remuneration_tax(t, d("62500")), d("13000"));
        assert_eq!(labor_remuneration_tax(t, d("62500.01")), d("13000.0032"));
    }

    #[test]
    fn business_income_estimate_brackets() {
        let rd = RefData::builtin();
        let t = &rd.tax.cn_business_income;
        assert_eq!(business_income_tax_estimate(t, d("30000")), d("1500"));
        // 100,000 × 20% − 10,500.
        assert_eq!(business_income_tax_estimate(t, d("100000")), d("9500"));
        // 600,000 × 35% − 65,500.
        assert_eq!(business_income_tax_estimate(t, d("600000")), d("144500"));
        assert_eq!(business_income_tax_estimate(t, d("-5")), Decimal::ZERO);
        assert_eq!(
            business_income_bracket(t, d("100000")).unwrap().rate_pct,
            d("20")
        );
    }
}
