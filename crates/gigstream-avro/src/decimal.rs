//! Avro `decimal` on `bytes`: text <-> unscaled integer <-> big-endian two's complement.
//!
//! The core types read and write decimals as text (`serde_decimal`), so the codec converts
//! between that text and the schema's fixed scale without going through a float or rounding.

use std::fmt;

/// Longest text a decimal of precision <= 38 formats to: sign, 39 digits, point, leading zero.
const MAX_TEXT: usize = 48;

/// A stack buffer holding a formatted decimal (no allocation on the decode path).
pub(crate) struct DecimalText {
    buf: [u8; MAX_TEXT],
    start: usize,
}

impl DecimalText {
    pub(crate) fn as_str(&self) -> &str {
        // Only ASCII digits, '-' and '.' are ever written.
        std::str::from_utf8(&self.buf[self.start..]).unwrap_or("0")
    }
}

/// Sign-extends big-endian two's complement bytes into an `i128`.
pub(crate) fn unscaled_from_bytes(raw: &[u8]) -> Result<i128, String> {
    if raw.len() > 16 {
        return Err(format!(
            "decimal of {} bytes does not fit 128 bits",
            raw.len()
        ));
    }
    let negative = raw.first().is_some_and(|b| b & 0x80 != 0);
    let mut v: i128 = if negative { -1 } else { 0 };
    for &b in raw {
        v = (v << 8) | i128::from(b);
    }
    Ok(v)
}

/// The shortest big-endian two's complement bytes of `v` (at least one byte).
pub(crate) fn unscaled_to_bytes(v: i128, out: &mut Vec<u8>) -> usize {
    let bytes = v.to_be_bytes();
    let mut start = 0;
    while start < 15 {
        let (b, next) = (bytes[start], bytes[start + 1]);
        if (b == 0x00 && next & 0x80 == 0) || (b == 0xff && next & 0x80 != 0) {
            start += 1;
        } else {
            break;
        }
    }
    out.extend_from_slice(&bytes[start..]);
    16 - start
}

/// Formats `unscaled / 10^scale` exactly, e.g. (123450, 2) -> "1234.50".
pub(crate) fn format(unscaled: i128, scale: u32) -> DecimalText {
    let mut t = DecimalText {
        buf: [0; MAX_TEXT],
        start: MAX_TEXT,
    };
    let mut abs = unscaled.unsigned_abs();
    let mut written = 0u32;
    loop {
        if written == scale && scale > 0 {
            t.start -= 1;
            t.buf[t.start] = b'.';
        }
        t.start -= 1;
        t.buf[t.start] = b'0' + (abs % 10) as u8;
        abs /= 10;
        written += 1;
        if abs == 0 && written > scale {
            break;
        }
    }
    if unscaled < 0 {
        t.start -= 1;
        t.buf[t.start] = b'-';
    }
    t
}

/// Why a decimal text does not fit a schema's decimal type.
#[derive(Debug)]
pub(crate) struct ScaleError(String);

impl fmt::Display for ScaleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Parses plain decimal text into the unscaled integer at `scale`. Never rounds: significant
/// digits beyond the scale are an error (trailing zeros beyond it are exact and accepted).
pub(crate) fn parse_scaled(text: &str, precision: u32, scale: u32) -> Result<i128, ScaleError> {
    let err = |why: &str| ScaleError(format!("'{text}' {why}"));
    let s = text.trim();
    let (negative, digits) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let (int_part, frac_part) = digits.split_once('.').unwrap_or((digits, ""));
    if int_part.is_empty() && frac_part.is_empty() {
        return Err(err("is not a decimal number"));
    }
    let mut v: i128 = 0;
    let overflow = || err(&format!("does not fit decimal({precision},{scale})"));
    let push = |v: i128, c: u8| -> Result<i128, ScaleError> {
        if !c.is_ascii_digit() {
            return Err(err("is not a plain decimal number"));
        }
        v.checked_mul(10)
            .and_then(|v| v.checked_add(i128::from(c - b'0')))
            .ok_or_else(overflow)
    };
    for c in int_part.bytes() {
        v = push(v, c)?;
    }
    let mut frac_used = 0u32;
    for (i, c) in frac_part.bytes().enumerate() {
        if (i as u32) < scale {
            v = push(v, c)?;
            frac_used += 1;
        } else if c != b'0' {
            return Err(err(&format!(
                "has more than {scale} decimals; the codec never rounds, round it before encoding"
            )));
        }
    }
    for _ in frac_used..scale {
        v = v.checked_mul(10).ok_or_else(overflow)?;
    }
    let limit = 10i128.checked_pow(precision).ok_or_else(overflow)?;
    if v >= limit {
        return Err(overflow());
    }
    Ok(if negative { -v } else { v })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_round_trips_at_scale() {
        for (text, scale, canon) in [
            ("1234.5", 2, "1234.50"),
            ("-0.05", 2, "-0.05"),
            ("0", 4, "0.0000"),
            ("7", 0, "7"),
            ("12.340000", 2, "12.34"),
            ("-99999999999999.99", 2, "-99999999999999.99"),
        ] {
            let v = parse_scaled(text, 18, scale).unwrap();
            let mut bytes = Vec::new();
            unscaled_to_bytes(v, &mut bytes);
            assert_eq!(unscaled_from_bytes(&bytes).unwrap(), v);
            assert_eq!(format(v, scale).as_str(), canon);
        }
    }

    #[test]
    fn rejects_rounding_and_overflow() {
        assert!(parse_scaled("1.005", 18, 2).is_err());
        assert!(parse_scaled("1e5", 18, 2).is_err());
        assert!(parse_scaled("", 18, 2).is_err());
        assert!(parse_scaled("1000", 5, 2).is_err());
        assert!(parse_scaled("999.99", 5, 2).is_ok());
    }

    #[test]
    fn minimal_twos_complement() {
        let enc = |v: i128| {
            let mut b = Vec::new();
            unscaled_to_bytes(v, &mut b);
            b
        };
        assert_eq!(enc(0), vec![0x00]);
        assert_eq!(enc(127), vec![0x7f]);
        assert_eq!(enc(128), vec![0x00, 0x80]);
        assert_eq!(enc(-1), vec![0xff]);
        assert_eq!(enc(-128), vec![0x80]);
        assert_eq!(enc(-129), vec![0xff, 0x7f]);
    }
}
