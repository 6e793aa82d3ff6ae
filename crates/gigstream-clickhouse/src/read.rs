//! Reading service tables back as [`Value`]s: RowBinary decoding (the inverse of
//! [`crate::rowbinary`]) and the query that returns a table's current rows.
//!
//! RowBinary is exact for every column type, floats included (the IEEE bits travel as they
//! are), which is what lets `gigstream verify` compare stored rows bit for bit with rows it
//! recomputes.

use crate::client::{ClickHouseError, Connection};
use crate::ddl::{quote_ident, quote_str, VERSION_COLUMN};
use gigstream_core::money::Decimal;
use gigstream_core::table::{ColumnDef, ColumnType, TableDef, Value};

/// RowBinary bytes that do not match the expected columns: the table's schema differs from the
/// definition (run the migrations) or the answer was cut short.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot decode {table}.{column} from RowBinary at byte {at}: {message}; does the table's schema match this version (migrations applied)?")]
pub struct DecodeError {
    pub table: String,
    pub column: String,
    pub at: usize,
    pub message: String,
}

/// A cursor over RowBinary bytes.
struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|e| *e <= self.buf.len())
            .ok_or_else(|| format!("needs {n} bytes, {} left", self.buf.len() - self.pos))?;
        let s = &self.buf[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], String> {
        let s = self.take(N)?;
        let mut a = [0u8; N];
        a.copy_from_slice(s);
        Ok(a)
    }

    fn leb128(&mut self) -> Result<u64, String> {
        let mut n = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.take(1)?[0];
            n |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(n);
            }
        }
        Err("length prefix longer than 64 bits".to_string())
    }

    fn len(&mut self) -> Result<usize, String> {
        let n = self.leb128()?;
        usize::try_from(n)
            .ok()
            .filter(|n| *n <= self.buf.len() - self.pos)
            .ok_or_else(|| {
                format!(
                    "length {n} exceeds the {} bytes left",
                    self.buf.len() - self.pos
                )
            })
    }

    fn u64(&mut self) -> Result<u64, String> {
        Ok(u64::from_le_bytes(self.array()?))
    }
}

fn get_value(r: &mut Reader<'_>, ty: ColumnType) -> Result<Value, String> {
    Ok(match ty {
        ColumnType::String => {
            let n = r.len()?;
            let b = r.take(n)?;
            Value::Str(
                String::from_utf8(b.to_vec()).map_err(|e| format!("string is not UTF-8: {e}"))?,
            )
        }
        ColumnType::UInt8 => Value::U8(r.take(1)?[0]),
        ColumnType::UInt32 => Value::U32(u32::from_le_bytes(r.array()?)),
        ColumnType::UInt64 => Value::U64(r.u64()?),
        ColumnType::Int64 => Value::I64(i64::from_le_bytes(r.array()?)),
        ColumnType::Float64 => Value::F64(f64::from_le_bytes(r.array()?)),
        ColumnType::Money | ColumnType::Quantity => {
            let scale = ty.decimal_scale().map_or(0, u32::from);
            Value::Dec(Decimal::new(i64::from_le_bytes(r.array()?), scale))
        }
        ColumnType::Date => Value::Date(i32::from(u16::from_le_bytes(r.array()?))),
        ColumnType::DateTime => Value::DateTime(i64::from(u32::from_le_bytes(r.array()?))),
        ColumnType::ArrayUInt32 => {
            let n = r.len()?;
            let mut xs = Vec::with_capacity(n.min(1 << 16));
            for _ in 0..n {
                xs.push(u32::from_le_bytes(r.array()?));
            }
            Value::ArrU32(xs)
        }
        ColumnType::ArrayUInt64 => {
            let n = r.len()?;
            let mut xs = Vec::with_capacity(n.min(1 << 16));
            for _ in 0..n {
                xs.push(r.u64()?);
            }
            Value::ArrU64(xs)
        }
    })
}

fn get_cell(r: &mut Reader<'_>, c: &ColumnDef) -> Result<Value, String> {
    if c.nullable {
        match r.take(1)?[0] {
            0 => {}
            1 => return Ok(Value::Null),
            b => return Err(format!("null marker {b} is neither 0 nor 1")),
        }
    }
    get_value(r, c.ty)
}

/// Decodes RowBinary rows of `def`'s columns, each followed by `_version` when
/// `with_version`, until the bytes end. Rows come back with their version (0 without).
pub fn decode_rows(
    bytes: &[u8],
    def: &TableDef,
    with_version: bool,
) -> Result<Vec<(Vec<Value>, u64)>, DecodeError> {
    let mut r = Reader { buf: bytes, pos: 0 };
    let mut out = Vec::new();
    while r.pos < bytes.len() {
        let mut row = Vec::with_capacity(def.columns.len());
        for c in def.columns {
            let at = r.pos;
            let v = get_cell(&mut r, c).map_err(|message| DecodeError {
                table: def.name.to_string(),
                column: c.name.to_string(),
                at,
                message,
            })?;
            row.push(v);
        }
        let version = if with_version {
            let at = r.pos;
            r.u64().map_err(|message| DecodeError {
                table: def.name.to_string(),
                column: VERSION_COLUMN.to_string(),
                at,
                message,
            })?
        } else {
            0
        };
        out.push((row, version));
    }
    Ok(out)
}

/// The `SELECT` returning the current rows of table `def` (per key the row of the highest
/// `_version`, via `FINAL`) with their `_version`, ordered by the key; `service` restricts a
/// table shared by every service (its `service` column) to one service's rows.
pub fn select_current(def: &TableDef, service: Option<&str>) -> String {
    let mut cols: Vec<String> = def.columns.iter().map(|c| quote_ident(c.name)).collect();
    cols.push(quote_ident(VERSION_COLUMN));
    let filter = service
        .map(|s| format!(" WHERE {} = {}", quote_ident("service"), quote_str(s)))
        .unwrap_or_default();
    let key: Vec<String> = def.key.iter().map(|k| quote_ident(k)).collect();
    format!(
        "SELECT {} FROM {} FINAL{filter} ORDER BY {}",
        cols.join(", "),
        quote_ident(def.name),
        key.join(", ")
    )
}

/// The current rows of table `def` with their versions, ordered by key (see
/// [`select_current`]).
pub fn read_current(
    conn: &Connection,
    def: &TableDef,
    service: Option<&str>,
) -> Result<Vec<(Vec<Value>, u64)>, ClickHouseError> {
    let doing = format!("reading table {}", def.name);
    let bytes = conn.query_bytes(&doing, &select_current(def, service), "RowBinary")?;
    decode_rows(&bytes, def, true).map_err(|e| ClickHouseError::BadAnswer {
        doing,
        message: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rowbinary::put_row;
    use gigstream_testkit::fixtures::{dec, ALL_TYPES as ALL};

    fn rows() -> Vec<Vec<Value>> {
        vec![
            vec![
                Value::U64(u64::MAX),
                "héllo, 世界".into(),
                Value::U8(1),
                Value::U32(u32::MAX),
                Value::I64(i64::MIN),
                Value::F64(0.1 + 0.2),
                dec("-9999999999999999.99"),
                dec("12.3456"),
                Value::Date(65_535),
                Value::DateTime(4_294_967_295),
                Value::ArrU32(vec![1, 2, 3]),
                Value::ArrU64(vec![u64::MAX, 0]),
                Value::Null,
            ],
            vec![
                Value::U64(0),
                Value::Str("x".repeat(300)),
                Value::U8(0),
                Value::U32(0),
                Value::I64(-1),
                Value::F64(-0.0),
                dec("0.5"),
                Value::Null,
                Value::Date(0),
                Value::Null,
                Value::ArrU32(vec![]),
                Value::ArrU64(vec![]),
                "note".into(),
            ],
        ]
    }

    #[test]
    fn every_type_roundtrips() {
        let mut buf = Vec::new();
        for (i, row) in rows().iter().enumerate() {
            put_row(&mut buf, &ALL, row, 10 + i as u64).unwrap();
        }
        let back = decode_rows(&buf, &ALL, true).unwrap();
        let (got, versions): (Vec<_>, Vec<_>) = back.into_iter().unzip();
        assert_eq!(got, rows());
        assert_eq!(versions, [10, 11]);
        let Value::F64(z) = got[1][5] else { panic!() };
        assert!(z.is_sign_negative(), "the sign of zero survives");
        assert_eq!(got[1][6], dec("0.50"));
    }

    #[test]
    fn truncated_or_bad_input_names_the_column() {
        let mut buf = Vec::new();
        put_row(&mut buf, &ALL, &rows()[0], 1).unwrap();
        let e = decode_rows(&buf[..buf.len() - 3], &ALL, true).unwrap_err();
        assert_eq!(e.column, "_version");
        let e = decode_rows(&buf[..25], &ALL, true).unwrap_err();
        assert_eq!(e.column, "n32", "{e}");
        // Without the version column, the version bytes start a row that is too short.
        assert!(decode_rows(&buf, &ALL, false).is_err());
        let mut bad = buf.clone();
        // The null marker of `qty`: after id (8), s (1 + 14), flag, n32, i, f, money.
        let qty = 8 + 1 + "héllo, 世界".len() + 1 + 4 + 8 + 8 + 8;
        assert_eq!(bad[qty], 0);
        bad[qty] = 7;
        let e = decode_rows(&bad, &ALL, true).unwrap_err();
        assert_eq!(e.column, "qty", "{e}");
    }

    #[test]
    fn select_uses_final_the_key_and_the_service() {
        assert_eq!(
            select_current(&ALL, None),
            "SELECT `id`, `s`, `flag`, `n32`, `i`, `f`, `money`, `qty`, `day`, `at`, `a32`, `a64`, `note`, `_version` FROM `all_types` FINAL ORDER BY `id`"
        );
        assert!(
            select_current(&ALL, Some("o'k")).contains(" FINAL WHERE `service` = 'o\\'k' ORDER BY")
        );
    }
}
