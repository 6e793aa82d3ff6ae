//! The aggregate table model shared by every projection and sink.
//!
//! A projection declares its tables as [`TableDef`]s (name, columns, meaning, unit) and emits
//! [`TableData`]: rows of [`Value`]s in column order. The embedded sink turns them into Parquet,
//! the ClickHouse sink into rows of a table with the same name and columns; docs/tables.md is
//! checked against these definitions.

use crate::money::Decimal;
use serde::{Deserialize, Serialize};

/// A column's type; each maps to one Arrow type and one ClickHouse type that 18.16 and current
/// ClickHouse both have.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ColumnType {
    /// ClickHouse `String`.
    String,
    /// `UInt8`, also used for booleans (0/1).
    UInt8,
    UInt32,
    UInt64,
    Int64,
    /// A ratio or percentage derived at output time; never money.
    Float64,
    /// Money: `Decimal(18, 2)` (Arrow Decimal128(18, 2)).
    Money,
    /// A quantity with 4 decimals: `Decimal(18, 4)`.
    Quantity,
    /// `Date` (UTC).
    Date,
    /// `DateTime` (UTC, seconds).
    DateTime,
    /// `Array(UInt32)`.
    ArrayUInt32,
    /// `Array(UInt64)`.
    ArrayUInt64,
}

impl ColumnType {
    /// Digits of every decimal column (ClickHouse `Decimal(18, s)`, Arrow `Decimal128(18, s)`).
    pub const DECIMAL_PRECISION: u8 = 18;

    /// The scale of a decimal column type (money 2, quantities 4); `None` for the others.
    pub const fn decimal_scale(self) -> Option<u8> {
        match self {
            ColumnType::Money => Some(2),
            ColumnType::Quantity => Some(4),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ColumnDef {
    pub name: &'static str,
    pub ty: ColumnType,
    pub nullable: bool,
    /// Meaning and unit, for docs/tables.md.
    pub doc: &'static str,
}

/// A non-null column.
pub const fn col(name: &'static str, ty: ColumnType, doc: &'static str) -> ColumnDef {
    ColumnDef {
        name,
        ty,
        nullable: false,
        doc,
    }
}

/// A nullable column.
pub const fn col_null(name: &'static str, ty: ColumnType, doc: &'static str) -> ColumnDef {
    ColumnDef {
        name,
        ty,
        nullable: true,
        doc,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TableDef {
    pub name: &'static str,
    /// What one row is.
    pub doc: &'static str,
    pub columns: &'static [ColumnDef],
    /// The columns that identify a row (ClickHouse ORDER BY / replacing key); rows are emitted
    /// sorted by them and unique on them.
    pub key: &'static [&'static str],
}

impl TableDef {
    pub fn column_index(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c.name == name)
    }
}

/// One cell.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Value {
    Null,
    Str(String),
    U8(u8),
    U32(u32),
    U64(u64),
    I64(i64),
    F64(f64),
    /// For `Money` (scale 2) and `Quantity` (scale 4) columns; rescaled by the sink.
    Dec(Decimal),
    /// Days since 1970-01-01.
    Date(i32),
    /// Seconds since the epoch, UTC.
    DateTime(i64),
    ArrU32(Vec<u32>),
    ArrU64(Vec<u64>),
}

/// Consistent with `==`, floats by their bits (a NaN equals itself here): for fingerprints of
/// rows ([`crate::changes::Fingerprints`]).
impl std::hash::Hash for Value {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        std::mem::discriminant(self).hash(state);
        match self {
            Value::Null => {}
            Value::Str(s) => s.hash(state),
            Value::U8(v) => v.hash(state),
            Value::U32(v) => v.hash(state),
            Value::U64(v) => v.hash(state),
            Value::I64(v) => v.hash(state),
            Value::F64(v) => v.to_bits().hash(state),
            Value::Dec(v) => v.hash(state),
            Value::Date(v) => v.hash(state),
            Value::DateTime(v) => v.hash(state),
            Value::ArrU32(v) => v.hash(state),
            Value::ArrU64(v) => v.hash(state),
        }
    }
}

impl Value {
    /// A total order over values: by kind (Null first), then by value (floats by
    /// `total_cmp`). Values of one column are all of one kind or Null, so within a column this
    /// is the natural order; it sorts a table's rows by key ([`compare_keys`]).
    pub fn total_cmp(&self, other: &Value) -> std::cmp::Ordering {
        use std::cmp::Ordering;
        fn rank(v: &Value) -> u8 {
            match v {
                Value::Null => 0,
                Value::Str(_) => 1,
                Value::U8(_) => 2,
                Value::U32(_) => 3,
                Value::U64(_) => 4,
                Value::I64(_) => 5,
                Value::F64(_) => 6,
                Value::Dec(_) => 7,
                Value::Date(_) => 8,
                Value::DateTime(_) => 9,
                Value::ArrU32(_) => 10,
                Value::ArrU64(_) => 11,
            }
        }
        match (self, other) {
            (Value::Str(a), Value::Str(b)) => a.cmp(b),
            (Value::U8(a), Value::U8(b)) => a.cmp(b),
            (Value::U32(a), Value::U32(b)) => a.cmp(b),
            (Value::U64(a), Value::U64(b)) => a.cmp(b),
            (Value::I64(a), Value::I64(b)) => a.cmp(b),
            (Value::F64(a), Value::F64(b)) => a.total_cmp(b),
            (Value::Dec(a), Value::Dec(b)) => a.cmp(b),
            (Value::Date(a), Value::Date(b)) => a.cmp(b),
            (Value::DateTime(a), Value::DateTime(b)) => a.cmp(b),
            (Value::ArrU32(a), Value::ArrU32(b)) => a.cmp(b),
            (Value::ArrU64(a), Value::ArrU64(b)) => a.cmp(b),
            (a, b) => match rank(a).cmp(&rank(b)) {
                Ordering::Equal => Ordering::Equal,
                o => o,
            },
        }
    }

    /// Whether this value may stand in a column of `ty`.
    pub fn fits(&self, ty: ColumnType, nullable: bool) -> bool {
        matches!(
            (self, ty),
            (Value::Null, _) if nullable
        ) || matches!(
            (self, ty),
            (Value::Str(_), ColumnType::String)
                | (Value::U8(_), ColumnType::UInt8)
                | (Value::U32(_), ColumnType::UInt32)
                | (Value::U64(_), ColumnType::UInt64)
                | (Value::I64(_), ColumnType::Int64)
                | (Value::F64(_), ColumnType::Float64)
                | (Value::Dec(_), ColumnType::Money | ColumnType::Quantity)
                | (Value::Date(_), ColumnType::Date)
                | (Value::DateTime(_), ColumnType::DateTime)
                | (Value::ArrU32(_), ColumnType::ArrayUInt32)
                | (Value::ArrU64(_), ColumnType::ArrayUInt64)
        )
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Value {
        Value::Str(s.to_string())
    }
}
impl From<String> for Value {
    fn from(s: String) -> Value {
        Value::Str(s)
    }
}
impl From<bool> for Value {
    fn from(b: bool) -> Value {
        Value::U8(b as u8)
    }
}
impl From<u32> for Value {
    fn from(v: u32) -> Value {
        Value::U32(v)
    }
}
impl From<u64> for Value {
    fn from(v: u64) -> Value {
        Value::U64(v)
    }
}
impl From<i64> for Value {
    fn from(v: i64) -> Value {
        Value::I64(v)
    }
}
impl From<f64> for Value {
    fn from(v: f64) -> Value {
        Value::F64(v)
    }
}
impl From<Decimal> for Value {
    fn from(v: Decimal) -> Value {
        Value::Dec(v)
    }
}
impl From<chrono::NaiveDate> for Value {
    fn from(d: chrono::NaiveDate) -> Value {
        Value::Date(crate::time::days_since_epoch(d))
    }
}
impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(v: Option<T>) -> Value {
        v.map(Into::into).unwrap_or(Value::Null)
    }
}

/// A `DateTime` cell from event-time milliseconds (truncated to the second).
pub fn datetime_ms(ts: i64) -> Value {
    Value::DateTime(ts.div_euclid(1000))
}

/// The rows of one table, in column order.
#[derive(Debug, Clone, PartialEq)]
pub struct TableData {
    pub def: &'static TableDef,
    pub rows: Vec<Vec<Value>>,
}

impl TableData {
    pub fn new(def: &'static TableDef) -> TableData {
        TableData {
            def,
            rows: Vec::new(),
        }
    }

    /// Adds a row; panics in debug builds when it does not match the definition, which is a bug
    /// in the projection, not bad input.
    pub fn push(&mut self, row: Vec<Value>) {
        debug_assert_eq!(
            row.len(),
            self.def.columns.len(),
            "row width for table {}",
            self.def.name
        );
        debug_assert!(
            row.iter()
                .zip(self.def.columns)
                .all(|(v, c)| v.fits(c.ty, c.nullable)),
            "row types for table {}: {:?}",
            self.def.name,
            row
        );
        self.rows.push(row);
    }

    /// Checks every row against the definition (width, types, key uniqueness).
    pub fn check(&self) -> Result<(), String> {
        for (i, row) in self.rows.iter().enumerate() {
            if row.len() != self.def.columns.len() {
                return Err(format!(
                    "{} row {i}: {} values for {} columns",
                    self.def.name,
                    row.len(),
                    self.def.columns.len()
                ));
            }
            for (v, c) in row.iter().zip(self.def.columns) {
                if !v.fits(c.ty, c.nullable) {
                    return Err(format!(
                        "{} row {i}: column {} ({:?}) holds {v:?}",
                        self.def.name, c.name, c.ty
                    ));
                }
            }
        }
        Ok(())
    }
}

/// Compares two keys (or rows) value by value with [`Value::total_cmp`].
pub fn compare_keys(a: &[Value], b: &[Value]) -> std::cmp::Ordering {
    for (x, y) in a.iter().zip(b) {
        let o = x.total_cmp(y);
        if o != std::cmp::Ordering::Equal {
            return o;
        }
    }
    a.len().cmp(&b.len())
}
