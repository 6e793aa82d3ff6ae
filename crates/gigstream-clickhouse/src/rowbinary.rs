//! RowBinary encoding of [`Value`]s, the format both ClickHouse 18.16 and current releases
//! accept for inserts: little-endian fixed-width numbers, LEB128-prefixed strings and arrays,
//! a 0/1 byte before a nullable value, Decimal as its scaled integer (Int64 for precision 18),
//! Date as UInt16 days and DateTime as UInt32 seconds.

use gigstream_core::money::Decimal;
use gigstream_core::table::{ColumnDef, ColumnType, TableDef, Value};

/// A value that cannot be stored in its ClickHouse column. Retrying does not help: it is a bug
/// in the projection or a value outside what the column type holds.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("cannot encode {table}.{column} for ClickHouse: {message}")]
pub struct EncodeError {
    pub table: String,
    pub column: String,
    pub message: String,
}

/// Largest magnitude of a Decimal(18, s) mantissa.
const DECIMAL18_MAX: i128 = 999_999_999_999_999_999;

pub fn put_leb128(buf: &mut Vec<u8>, mut n: u64) {
    loop {
        let byte = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            buf.push(byte);
            return;
        }
        buf.push(byte | 0x80);
    }
}

pub fn put_bytes(buf: &mut Vec<u8>, b: &[u8]) {
    put_leb128(buf, b.len() as u64);
    buf.extend_from_slice(b);
}

/// The mantissa of `d` at `scale` decimals, refusing values that would lose digits or exceed
/// Decimal(18, scale): money is never rounded silently.
pub fn decimal_mantissa(d: Decimal, scale: u32) -> Result<i64, String> {
    let mut r = d;
    r.rescale(scale);
    if r != d {
        return Err(format!("{d} has more than {scale} decimals"));
    }
    let m = r.mantissa();
    if !(-DECIMAL18_MAX..=DECIMAL18_MAX).contains(&m) {
        return Err(format!("{d} does not fit Decimal(18, {scale})"));
    }
    i64::try_from(m).map_err(|_| format!("{d} does not fit Decimal(18, {scale})"))
}

fn put_value(buf: &mut Vec<u8>, ty: ColumnType, v: &Value) -> Result<(), String> {
    match (ty, v) {
        (ColumnType::String, Value::Str(s)) => put_bytes(buf, s.as_bytes()),
        (ColumnType::UInt8, Value::U8(x)) => buf.push(*x),
        (ColumnType::UInt32, Value::U32(x)) => buf.extend_from_slice(&x.to_le_bytes()),
        (ColumnType::UInt64, Value::U64(x)) => buf.extend_from_slice(&x.to_le_bytes()),
        (ColumnType::Int64, Value::I64(x)) => buf.extend_from_slice(&x.to_le_bytes()),
        (ColumnType::Float64, Value::F64(x)) => buf.extend_from_slice(&x.to_le_bytes()),
        (ColumnType::Money, Value::Dec(d)) => {
            buf.extend_from_slice(&decimal_mantissa(*d, 2)?.to_le_bytes())
        }
        (ColumnType::Quantity, Value::Dec(d)) => {
            buf.extend_from_slice(&decimal_mantissa(*d, 4)?.to_le_bytes())
        }
        (ColumnType::Date, Value::Date(days)) => {
            let d = u16::try_from(*days)
                .map_err(|_| format!("day {days} is outside Date (1970-01-01 to 2149-06-06)"))?;
            buf.extend_from_slice(&d.to_le_bytes());
        }
        (ColumnType::DateTime, Value::DateTime(secs)) => {
            let s = u32::try_from(*secs)
                .map_err(|_| format!("second {secs} is outside DateTime (1970 to 2106)"))?;
            buf.extend_from_slice(&s.to_le_bytes());
        }
        (ColumnType::ArrayUInt32, Value::ArrU32(xs)) => {
            put_leb128(buf, xs.len() as u64);
            for x in xs {
                buf.extend_from_slice(&x.to_le_bytes());
            }
        }
        (ColumnType::ArrayUInt64, Value::ArrU64(xs)) => {
            put_leb128(buf, xs.len() as u64);
            for x in xs {
                buf.extend_from_slice(&x.to_le_bytes());
            }
        }
        (ty, v) => return Err(format!("{v:?} does not fit a {ty:?} column")),
    }
    Ok(())
}

fn put_cell(buf: &mut Vec<u8>, c: &ColumnDef, v: &Value) -> Result<(), String> {
    if c.nullable {
        if matches!(v, Value::Null) {
            buf.push(1);
            return Ok(());
        }
        buf.push(0);
    } else if matches!(v, Value::Null) {
        return Err("null in a non-nullable column".to_string());
    }
    put_value(buf, c.ty, v)
}

/// Appends one row of `def` plus the trailing `_version` to `buf`. On error `buf` is left as it
/// was.
pub fn put_row(
    buf: &mut Vec<u8>,
    def: &TableDef,
    row: &[Value],
    version: u64,
) -> Result<(), EncodeError> {
    let start = buf.len();
    let err = |column: &str, message: String| EncodeError {
        table: def.name.to_string(),
        column: column.to_string(),
        message,
    };
    if row.len() != def.columns.len() {
        return Err(err(
            "*",
            format!("{} values for {} columns", row.len(), def.columns.len()),
        ));
    }
    for (c, v) in def.columns.iter().zip(row) {
        if let Err(m) = put_cell(buf, c, v) {
            buf.truncate(start);
            return Err(err(c.name, m));
        }
    }
    buf.extend_from_slice(&version.to_le_bytes());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use gigstream_core::table::{col, col_null};
    use std::str::FromStr;

    #[test]
    fn leb128() {
        let mut b = Vec::new();
        put_leb128(&mut b, 0);
        put_leb128(&mut b, 127);
        put_leb128(&mut b, 128);
        put_leb128(&mut b, 300);
        assert_eq!(b, [0x00, 0x7f, 0x80, 0x01, 0xac, 0x02]);
    }

    #[test]
    fn decimals_are_rescaled_never_rounded() {
        let d = |s| Decimal::from_str(s).unwrap();
        assert_eq!(decimal_mantissa(d("12.3"), 2), Ok(1230));
        assert_eq!(decimal_mantissa(d("-0.0001"), 4), Ok(-1));
        assert_eq!(decimal_mantissa(d("7"), 4), Ok(70000));
        assert!(decimal_mantissa(d("1.005"), 2).is_err());
        assert!(decimal_mantissa(d("10000000000000000"), 2).is_err());
        assert_eq!(
            decimal_mantissa(d("9999999999999999.99"), 2),
            Ok(999_999_999_999_999_999)
        );
    }

    static T: TableDef = TableDef {
        name: "t",
        doc: "",
        columns: &[
            col("s", ColumnType::String, ""),
            col_null("m", ColumnType::Money, ""),
            col("d", ColumnType::Date, ""),
            col("ts", ColumnType::DateTime, ""),
            col("a", ColumnType::ArrayUInt32, ""),
        ],
        key: &["s"],
    };

    #[test]
    fn row_layout() {
        let mut b = Vec::new();
        let row = vec![
            Value::from("ab"),
            Value::Null,
            Value::Date(2),
            Value::DateTime(256),
            Value::ArrU32(vec![1, 2]),
        ];
        put_row(&mut b, &T, &row, 5).unwrap();
        let mut want = vec![2, b'a', b'b', 1, 2, 0, 0, 1, 0, 0, 2];
        want.extend_from_slice(&[1, 0, 0, 0, 2, 0, 0, 0]);
        want.extend_from_slice(&5u64.to_le_bytes());
        assert_eq!(b, want);

        let mut b = Vec::new();
        let row = vec![
            Value::from("x"),
            Value::Dec(Decimal::from_str("1.5").unwrap()),
            Value::Date(0),
            Value::DateTime(0),
            Value::ArrU32(vec![]),
        ];
        put_row(&mut b, &T, &row, 1).unwrap();
        assert_eq!(&b[2..11], &[0, 150, 0, 0, 0, 0, 0, 0, 0]);
    }

    #[test]
    fn bad_values_leave_the_buffer_alone() {
        let mut b = vec![9];
        let row = vec![
            Value::from("x"),
            Value::Null,
            Value::Date(-1),
            Value::DateTime(0),
            Value::ArrU32(vec![]),
        ];
        let e = put_row(&mut b, &T, &row, 1).unwrap_err();
        assert_eq!(e.column, "d");
        assert_eq!(b, [9]);
        let row = vec![
            Value::Null,
            Value::Null,
            Value::Date(1),
            Value::DateTime(0),
            Value::ArrU32(vec![]),
        ];
        assert_eq!(put_row(&mut b, &T, &row, 1).unwrap_err().column, "s");
        assert!(put_row(&mut b, &T, &row[..2], 1).is_err());
    }
}
