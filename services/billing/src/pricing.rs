//! Usage pricing: a period's total quantity of one meter becomes a charge.
//!
//! The charge is computed on the period's total, never per event (DOMAIN.md), so the fold keeps
//! the aggregated quantity and re-prices it whenever it changes. Results are exact: the caller
//! rounds to the cent once, when rendering. No usage means no charge in every model, flat fees
//! included.

use gigstream_core::refdata::{PriceTier, Pricing};
use gigstream_core::Decimal;

/// Why a plan's pricing cannot price a quantity; a reference-data problem, not bad input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PricingError {
    #[error(
        "package pricing has package_size {0}; set a positive package_size in reference/plans.toml"
    )]
    BadPackageSize(Decimal),
    #[error(
        "tier up_to values are not increasing at {0}; order the tiers in reference/plans.toml"
    )]
    TiersOutOfOrder(Decimal),
    #[error(
        "tiers end at {0} with no open last tier; add a tier without up_to in reference/plans.toml"
    )]
    NoTierFor(Decimal),
    #[error("the charge for quantity {0} overflows; check the quantity and the plan's prices")]
    Overflow(Decimal),
}

/// The model's name as written in `reference/plans.toml`, for the tables.
pub fn model_name(p: &Pricing) -> &'static str {
    match p {
        Pricing::PerUnit { .. } => "per_unit",
        Pricing::Graduated { .. } => "graduated",
        Pricing::Volume { .. } => "volume",
        Pricing::Package { .. } => "package",
        Pricing::Percentage { .. } => "percentage",
    }
}

/// The exact charge for a period total `quantity` (non-negative) under `pricing`.
///
/// - per_unit: quantity × unit_price.
/// - graduated: each tier prices the units inside it (tier bounds are inclusive upper limits);
///   a tier's flat fee is added once the quantity enters the tier.
/// - volume: the tier the total falls in prices every unit, plus that tier's flat fee.
/// - package: ceil(quantity / package_size) × package_price.
/// - percentage: quantity × pct / 100 (the quantity is an amount of money).
pub fn charge(pricing: &Pricing, quantity: Decimal) -> Result<Decimal, PricingError> {
    if quantity <= Decimal::ZERO {
        return Ok(Decimal::ZERO);
    }
    let overflow = || PricingError::Overflow(quantity);
    match pricing {
        Pricing::PerUnit { unit_price } => quantity.checked_mul(*unit_price).ok_or_else(overflow),
        Pricing::Graduated { tiers } => graduated(tiers, quantity),
        Pricing::Volume { tiers } => volume(tiers, quantity),
        Pricing::Package {
            package_size,
            package_price,
        } => {
            if *package_size <= Decimal::ZERO {
                return Err(PricingError::BadPackageSize(*package_size));
            }
            let packages = quantity
                .checked_div(*package_size)
                .ok_or_else(overflow)?
                .ceil();
            packages.checked_mul(*package_price).ok_or_else(overflow)
        }
        Pricing::Percentage { pct } => quantity
            .checked_mul(*pct)
            .map(|v| v / Decimal::ONE_HUNDRED)
            .ok_or_else(overflow),
    }
}

fn graduated(tiers: &[PriceTier], quantity: Decimal) -> Result<Decimal, PricingError> {
    let overflow = || PricingError::Overflow(quantity);
    let mut total = Decimal::ZERO;
    let mut lower = Decimal::ZERO;
    for tier in tiers {
        if quantity <= lower {
            return Ok(total);
        }
        let upper = match tier.up_to {
            Some(u) if u < lower => return Err(PricingError::TiersOutOfOrder(u)),
            Some(u) => u.min(quantity),
            None => quantity,
        };
        let part = (upper - lower)
            .checked_mul(tier.unit_price)
            .ok_or_else(overflow)?;
        total = total
            .checked_add(part)
            .and_then(|t| t.checked_add(tier.flat_fee))
            .ok_or_else(overflow)?;
        match tier.up_to {
            Some(u) => lower = u,
            None => return Ok(total),
        }
    }
    if quantity <= lower {
        Ok(total)
    } else {
        Err(PricingError::NoTierFor(lower))
    }
}

fn volume(tiers: &[PriceTier], quantity: Decimal) -> Result<Decimal, PricingError> {
    let mut lower = Decimal::ZERO;
    for tier in tiers {
        match tier.up_to {
            Some(u) if u < lower => return Err(PricingError::TiersOutOfOrder(u)),
            Some(u) if quantity > u => lower = u,
            _ => {
                return quantity
                    .checked_mul(tier.unit_price)
                    .and_then(|c| c.checked_add(tier.flat_fee))
                    .ok_or(PricingError::Overflow(quantity));
            }
        }
    }
    Err(PricingError::NoTierFor(lower))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Decimal {
        s.parse().unwrap()
    }

    fn tier(up_to: Option<&str>, price: &str, flat: &str) -> PriceTier {
        PriceTier {
            up_to: up_to.map(d),
            unit_price: d(price),
            flat_fee: d(flat),
        }
    }

    /// api-growth's api_calls: first 100k free, then 0.0008 to 1M, then 0.0005.
    fn graduated_tiers() -> Pricing {
        Pricing::Graduated {
            tiers: vec![
                tier(Some("100000"), "0", "0"),
                tier(Some("1000000"), "0.0008", "0"),
                tier(None, "0.0005", "0"),
            ],
        }
    }

    /// api-scale's api_calls: the tier of the total prices every call.
    fn volume_tiers() -> Pricing {
        Pricing::Volume {
            tiers: vec![
                tier(Some("1000000"), "0.0006", "0"),
                tier(Some("10000000"), "0.0004", "0"),
                tier(None, "0.0003", "0"),
            ],
        }
    }

    #[test]
    fn per_unit() {
        let p = Pricing::PerUnit {
            unit_price: d("0.12"),
        };
        assert_eq!(charge(&p, d("250.5")).unwrap(), d("30.06"));
        assert_eq!(charge(&p, Decimal::ZERO).unwrap(), Decimal::ZERO);
        assert_eq!(model_name(&p), "per_unit");
    }

    #[test]
    fn graduated_prices_each_tier_separately() {
        let p = graduated_tiers();
        assert_eq!(charge(&p, d("100000")).unwrap(), Decimal::ZERO);
        // One unit into the second tier.
        assert_eq!(charge(&p, d("100001")).unwrap(), d("0.0008"));
        // The whole second tier: 900,000 × 0.0008 = 720.
        assert_eq!(charge(&p, d("1000000")).unwrap(), d("720"));
        // 720 + 500,000 × 0.0005 = 970.
        assert_eq!(charge(&p, d("1500000")).unwrap(), d("970"));
    }

    #[test]
    fn graduated_flat_fees_apply_once_a_tier_is_entered() {
        let p = Pricing::Graduated {
            tiers: vec![tier(Some("10"), "1", "5"), tier(None, "0.5", "20")],
        };
        assert_eq!(charge(&p, d("10")).unwrap(), d("15"));
        // 5 + 10 + 20 + 0.5 × 2.
        assert_eq!(charge(&p, d("12")).unwrap(), d("36"));
        assert_eq!(charge(&p, Decimal::ZERO).unwrap(), Decimal::ZERO);
    }

    #[test]
    fn volume_prices_every_unit_at_the_tier_of_the_total() {
        let p = volume_tiers();
        // Exactly at the first bound: still the first tier.
        assert_eq!(charge(&p, d("1000000")).unwrap(), d("600"));
        // One over: every call at 0.0004.
        assert_eq!(charge(&p, d("1000001")).unwrap(), d("400.0004"));
        assert_eq!(charge(&p, d("10000000")).unwrap(), d("4000"));
        assert_eq!(charge(&p, d("20000000")).unwrap(), d("6000"));
        let with_fee = Pricing::Volume {
            tiers: vec![tier(Some("10"), "60", "0"), tier(None, "50", "100")],
        };
        assert_eq!(charge(&with_fee, d("11")).unwrap(), d("650"));
    }

    #[test]
    fn package_rounds_up_to_whole_packages() {
        let p = Pricing::Package {
            package_size: d("10"),
            package_price: d("99"),
        };
        assert_eq!(charge(&p, d("1")).unwrap(), d("99"));
        assert_eq!(charge(&p, d("10")).unwrap(), d("99"));
        assert_eq!(charge(&p, d("10.5")).unwrap(), d("198"));
        assert_eq!(charge(&p, d("20")).unwrap(), d("198"));
        assert_eq!(charge(&p, Decimal::ZERO).unwrap(), Decimal::ZERO);
        let bad = Pricing::Package {
            package_size: Decimal::ZERO,
            package_price: d("1"),
        };
        assert_eq!(
            charge(&bad, d("1")),
            Err(PricingError::BadPackageSize(Decimal::ZERO))
        );
    }

    #[test]
    fn percentage_of_an_amount() {
        let p = Pricing::Percentage { pct: d("2.5") };
        assert_eq!(charge(&p, d("1234.56")).unwrap(), d("30.864"));
    }

    #[test]
    fn malformed_tiers_are_errors_not_panics() {
        let closed = Pricing::Volume {
            tiers: vec![tier(Some("10"), "1", "0")],
        };
        assert_eq!(
            charge(&closed, d("11")),
            Err(PricingError::NoTierFor(d("10")))
        );
        let closed = Pricing::Graduated {
            tiers: vec![tier(Some("10"), "1", "0")],
        };
        assert_eq!(charge(&closed, d("10")).unwrap(), d("10"));
        assert_eq!(
            charge(&closed, d("11")),
            Err(PricingError::NoTierFor(d("10")))
        );
        let unordered = Pricing::Graduated {
            tiers: vec![tier(Some("10"), "1", "0"), tier(Some("5"), "1", "0")],
        };
        assert_eq!(
            charge(&unordered, d("20")),
            Err(PricingError::TiersOutOfOrder(d("5")))
        );
        let huge = Pricing::PerUnit {
            unit_price: Decimal::MAX,
        };
        assert!(matches!(
            charge(&huge, d("10")),
            Err(PricingError::Overflow(_))
        ));
    }
}
