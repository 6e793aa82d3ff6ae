//! Exact money and quantities.
//!
//! Amounts are [`rust_decimal::Decimal`]: never a float. On the wire an amount is an Avro
//! `decimal` (see `schemas/`) or, in JSON lines, a string such as `"1234.56"`. A JSON number is
//! accepted too and read through its shortest decimal form, so `1234.56` means exactly 1234.56.

pub use rust_decimal::Decimal;
use rust_decimal::RoundingStrategy;

/// Rounds to the cent, half away from zero (the rule DOMAIN.md gives for tax and fees).
pub fn round_cents(d: Decimal) -> Decimal {
    d.round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero)
}

/// Parses a decimal from text, rejecting anything that is not a plain decimal number.
pub fn parse_decimal(s: &str) -> Result<Decimal, String> {
    s.trim()
        .parse::<Decimal>()
        .map_err(|e| format!("'{s}' is not a decimal number: {e}"))
}

/// Serde for a [`Decimal`] field: serialises as a string, reads a string, an integer or a JSON
/// number (through its shortest decimal representation, which is exact for what a person typed).
pub mod serde_decimal {
    use super::Decimal;
    use serde::de::{self, Visitor};
    use serde::{Deserializer, Serializer};
    use std::fmt;

    pub fn serialize<S: Serializer>(d: &Decimal, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(d)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Decimal, D::Error> {
        d.deserialize_any(DecimalVisitor)
    }

    pub(crate) struct DecimalVisitor;

    impl Visitor<'_> for DecimalVisitor {
        type Value = Decimal;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a decimal number as a string or number")
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Decimal, E> {
            super::parse_decimal(v).map_err(E::custom)
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<Decimal, E> {
            Ok(Decimal::from(v))
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<Decimal, E> {
            Ok(Decimal::from(v))
        }
        fn visit_f64<E: de::Error>(self, v: f64) -> Result<Decimal, E> {
            if !v.is_finite() {
                return Err(E::custom(format!("{v} is not a finite number")));
            }
            // `{}` prints the shortest string that reads back as the same f64: the digits typed.
            super::parse_decimal(&format!("{v}")).map_err(E::custom)
        }
    }

    /// The same for `Option<Decimal>`.
    pub mod option {
        use super::{Decimal, DecimalVisitor};
        use serde::de::{self, Visitor};
        use serde::{Deserializer, Serializer};
        use std::fmt;

        pub fn serialize<S: Serializer>(d: &Option<Decimal>, s: S) -> Result<S::Ok, S::Error> {
            match d {
                Some(d) => s.serialize_some(&d.to_string()),
                None => s.serialize_none(),
            }
        }

        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Decimal>, D::Error> {
            struct Opt;
            impl<'de> Visitor<'de> for Opt {
                type Value = Option<Decimal>;
                fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                    f.write_str("null or a decimal number")
                }
                fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
                    Ok(None)
                }
                fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                    Ok(None)
                }
                fn visit_some<D2: Deserializer<'de>>(
                    self,
                    d: D2,
                ) -> Result<Self::Value, D2::Error> {
                    d.deserialize_any(DecimalVisitor).map(Some)
                }
            }
            d.deserialize_option(Opt)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounds_half_away_from_zero() {
        assert_eq!(round_cents("0.125".parse().unwrap()).to_string(), "0.13");
        assert_eq!(round_cents("-0.125".parse().unwrap()).to_string(), "-0.13");
        assert_eq!(round_cents("0.124".parse().unwrap()).to_string(), "0.12");
    }

    #[test]
    fn json_numbers_are_read_exactly() {
        #[derive(serde::Deserialize)]
        struct A {
            #[serde(with = "serde_decimal")]
            a: Decimal,
        }
        let a: A = serde_json::from_str(r#"{"a": 1234.56}"#).unwrap();
        assert_eq!(a.a.to_string(), "1234.56");
        let a: A = serde_json::from_str(r#"{"a": "0.1"}"#).unwrap();
        assert_eq!(a.a.to_string(), "0.1");
        let a: A = serde_json::from_str(r#"{"a": 7}"#).unwrap();
        assert_eq!(a.a, Decimal::from(7));
    }
}
