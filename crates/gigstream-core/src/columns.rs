//! Tables built column by column: [`ColumnTable`].
//!
//! [`TableData`] holds rows of [`Value`]s: simple to build and to compare, but every cell is a
//! tagged value, every string and array its own allocation, and a sink has to take the rows
//! apart again into columns. A projection with large tables (SLA: one row per service and
//! minute over months) renders them directly as typed columns instead: one vector per column,
//! strings and arrays as one buffer plus offsets, which is the layout Arrow uses, so the
//! Parquet sink hands the buffers over without visiting cells.
//!
//! The two forms convert into each other exactly ([`ColumnTable::from_rows`],
//! [`ColumnTable::to_rows`]); decimals are kept as given (a sink rescales them).

use crate::money::Decimal;
use crate::table::{ColumnType, TableData, TableDef, Value};
use std::fmt;

/// Why a table cannot be built: a projection emitted a value its column cannot hold, or
/// columns of different lengths. A bug in the projection, not bad input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableError {
    pub table: &'static str,
    pub message: String,
}

impl fmt::Display for TableError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "table {}: {}", self.table, self.message)
    }
}

impl std::error::Error for TableError {}

fn offset(len: usize) -> i32 {
    i32::try_from(len).expect("a column's strings or array values exceed 2 GiB")
}

/// The strings of a column: all their bytes one after another, and where each one starts
/// (`offsets[i]..offsets[i + 1]`, `offsets[0] == 0`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StrColumn {
    offsets: Vec<i32>,
    data: String,
}

impl Default for StrColumn {
    fn default() -> Self {
        StrColumn::with_capacity(0, 0)
    }
}

impl StrColumn {
    /// Room for `rows` strings of `bytes` bytes in all.
    pub fn with_capacity(rows: usize, bytes: usize) -> StrColumn {
        let mut offsets = Vec::with_capacity(rows + 1);
        offsets.push(0);
        StrColumn {
            offsets,
            data: String::with_capacity(bytes),
        }
    }

    #[inline]
    pub fn push(&mut self, s: &str) {
        self.data.push_str(s);
        self.offsets.push(offset(self.data.len()));
    }

    /// Adds `n` copies of `s` (a key column repeats its value over a run of rows).
    pub fn push_n(&mut self, s: &str, n: usize) {
        let start = self.data.len();
        let end = start + s.len() * n;
        // Checked once for the last offset, like every `push`.
        offset(end);
        // Copied by doubling what is already there: a few large copies instead of one small
        // copy per row, in place.
        self.data.reserve(end - start);
        if n > 0 {
            self.data.push_str(s);
        }
        while self.data.len() < end {
            let have = self.data.len() - start;
            let more = have.min(end - self.data.len());
            self.data.extend_from_within(start..start + more);
        }
        self.offsets
            .extend((1..=n).map(|i| (start + i * s.len()) as i32));
    }

    pub fn len(&self) -> usize {
        self.offsets.len() - 1
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn get(&self, i: usize) -> &str {
        &self.data[self.offsets[i] as usize..self.offsets[i + 1] as usize]
    }

    /// `len + 1` offsets into [`StrColumn::data`], starting at 0.
    pub fn offsets(&self) -> &[i32] {
        &self.offsets
    }

    pub fn data(&self) -> &str {
        &self.data
    }
}

/// The arrays of a column: all their values one after another, and where each array starts
/// (`offsets[i]..offsets[i + 1]`, `offsets[0] == 0`).
#[derive(Debug, Clone, PartialEq)]
pub struct ListColumn<T> {
    offsets: Vec<i32>,
    values: Vec<T>,
}

impl<T: Copy> Default for ListColumn<T> {
    fn default() -> Self {
        ListColumn::with_capacity(0, 0)
    }
}

impl<T: Copy> ListColumn<T> {
    /// Room for `rows` arrays of `values` values in all.
    pub fn with_capacity(rows: usize, values: usize) -> ListColumn<T> {
        let mut offsets = Vec::with_capacity(rows + 1);
        offsets.push(0);
        ListColumn {
            offsets,
            values: Vec::with_capacity(values),
        }
    }

    #[inline]
    pub fn push(&mut self, values: &[T]) {
        self.values.extend_from_slice(values);
        self.offsets.push(offset(self.values.len()));
    }

    /// Adds one array made of `values`.
    #[inline]
    pub fn push_iter(&mut self, values: impl IntoIterator<Item = T>) {
        self.values.extend(values);
        self.offsets.push(offset(self.values.len()));
    }

    pub fn len(&self) -> usize {
        self.offsets.len() - 1
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn get(&self, i: usize) -> &[T] {
        &self.values[self.offsets[i] as usize..self.offsets[i + 1] as usize]
    }

    /// `len + 1` offsets into [`ListColumn::values`], starting at 0.
    pub fn offsets(&self) -> &[i32] {
        &self.offsets
    }

    pub fn values(&self) -> &[T] {
        &self.values
    }
}

/// The values of one column, one variant per [`ColumnType`] (`Money` and `Quantity` share
/// `Dec`). Rows that are null hold a placeholder (0, "" or an empty array).
#[derive(Debug, Clone, PartialEq)]
pub enum ColumnData {
    Str(StrColumn),
    U8(Vec<u8>),
    U32(Vec<u32>),
    U64(Vec<u64>),
    I64(Vec<i64>),
    F64(Vec<f64>),
    Dec(Vec<Decimal>),
    /// Days since 1970-01-01.
    Date(Vec<i32>),
    /// Seconds since the epoch, UTC.
    DateTime(Vec<i64>),
    ArrU32(ListColumn<u32>),
    ArrU64(ListColumn<u64>),
}

impl ColumnData {
    /// An empty column for values of `ty`, with room for `rows`.
    pub fn with_capacity(ty: ColumnType, rows: usize) -> ColumnData {
        match ty {
            ColumnType::String => ColumnData::Str(StrColumn::with_capacity(rows, rows * 16)),
            ColumnType::UInt8 => ColumnData::U8(Vec::with_capacity(rows)),
            ColumnType::UInt32 => ColumnData::U32(Vec::with_capacity(rows)),
            ColumnType::UInt64 => ColumnData::U64(Vec::with_capacity(rows)),
            ColumnType::Int64 => ColumnData::I64(Vec::with_capacity(rows)),
            ColumnType::Float64 => ColumnData::F64(Vec::with_capacity(rows)),
            ColumnType::Money | ColumnType::Quantity => ColumnData::Dec(Vec::with_capacity(rows)),
            ColumnType::Date => ColumnData::Date(Vec::with_capacity(rows)),
            ColumnType::DateTime => ColumnData::DateTime(Vec::with_capacity(rows)),
            ColumnType::ArrayUInt32 => ColumnData::ArrU32(ListColumn::with_capacity(rows, rows)),
            ColumnType::ArrayUInt64 => ColumnData::ArrU64(ListColumn::with_capacity(rows, rows)),
        }
    }

    pub fn len(&self) -> usize {
        match self {
            ColumnData::Str(c) => c.len(),
            ColumnData::U8(v) => v.len(),
            ColumnData::U32(v) => v.len(),
            ColumnData::U64(v) => v.len(),
            ColumnData::I64(v) => v.len(),
            ColumnData::F64(v) => v.len(),
            ColumnData::Dec(v) => v.len(),
            ColumnData::Date(v) => v.len(),
            ColumnData::DateTime(v) => v.len(),
            ColumnData::ArrU32(c) => c.len(),
            ColumnData::ArrU64(c) => c.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether these values may stand in a column of `ty`.
    pub fn fits(&self, ty: ColumnType) -> bool {
        matches!(
            (self, ty),
            (ColumnData::Str(_), ColumnType::String)
                | (ColumnData::U8(_), ColumnType::UInt8)
                | (ColumnData::U32(_), ColumnType::UInt32)
                | (ColumnData::U64(_), ColumnType::UInt64)
                | (ColumnData::I64(_), ColumnType::Int64)
                | (ColumnData::F64(_), ColumnType::Float64)
                | (ColumnData::Dec(_), ColumnType::Money | ColumnType::Quantity)
                | (ColumnData::Date(_), ColumnType::Date)
                | (ColumnData::DateTime(_), ColumnType::DateTime)
                | (ColumnData::ArrU32(_), ColumnType::ArrayUInt32)
                | (ColumnData::ArrU64(_), ColumnType::ArrayUInt64)
        )
    }

    /// The value of row `i` (never `Null`: nulls are the [`Column`]'s business).
    pub fn value(&self, i: usize) -> Value {
        match self {
            ColumnData::Str(c) => Value::Str(c.get(i).to_string()),
            ColumnData::U8(v) => Value::U8(v[i]),
            ColumnData::U32(v) => Value::U32(v[i]),
            ColumnData::U64(v) => Value::U64(v[i]),
            ColumnData::I64(v) => Value::I64(v[i]),
            ColumnData::F64(v) => Value::F64(v[i]),
            ColumnData::Dec(v) => Value::Dec(v[i]),
            ColumnData::Date(v) => Value::Date(v[i]),
            ColumnData::DateTime(v) => Value::DateTime(v[i]),
            ColumnData::ArrU32(c) => Value::ArrU32(c.get(i).to_vec()),
            ColumnData::ArrU64(c) => Value::ArrU64(c.get(i).to_vec()),
        }
    }

    /// Appends row `i` of `src`, a column of the same type; false (and nothing appended)
    /// when it is not.
    pub fn push_from(&mut self, src: &ColumnData, i: usize) -> bool {
        match (self, src) {
            (ColumnData::Str(c), ColumnData::Str(s)) => c.push(s.get(i)),
            (ColumnData::U8(c), ColumnData::U8(s)) => c.push(s[i]),
            (ColumnData::U32(c), ColumnData::U32(s)) => c.push(s[i]),
            (ColumnData::U64(c), ColumnData::U64(s)) => c.push(s[i]),
            (ColumnData::I64(c), ColumnData::I64(s)) => c.push(s[i]),
            (ColumnData::F64(c), ColumnData::F64(s)) => c.push(s[i]),
            (ColumnData::Dec(c), ColumnData::Dec(s)) => c.push(s[i]),
            (ColumnData::Date(c), ColumnData::Date(s)) => c.push(s[i]),
            (ColumnData::DateTime(c), ColumnData::DateTime(s)) => c.push(s[i]),
            (ColumnData::ArrU32(c), ColumnData::ArrU32(s)) => c.push(s.get(i)),
            (ColumnData::ArrU64(c), ColumnData::ArrU64(s)) => c.push(s.get(i)),
            _ => return false,
        }
        true
    }

    /// Row `i` of this column against row `j` of `other`, in the order of
    /// [`Value::total_cmp`] (columns of different types: by the type, as values are).
    pub fn cmp_with(&self, i: usize, other: &ColumnData, j: usize) -> std::cmp::Ordering {
        match (self, other) {
            (ColumnData::Str(a), ColumnData::Str(b)) => a.get(i).cmp(b.get(j)),
            (ColumnData::U8(a), ColumnData::U8(b)) => a[i].cmp(&b[j]),
            (ColumnData::U32(a), ColumnData::U32(b)) => a[i].cmp(&b[j]),
            (ColumnData::U64(a), ColumnData::U64(b)) => a[i].cmp(&b[j]),
            (ColumnData::I64(a), ColumnData::I64(b)) => a[i].cmp(&b[j]),
            (ColumnData::F64(a), ColumnData::F64(b)) => a[i].total_cmp(&b[j]),
            (ColumnData::Dec(a), ColumnData::Dec(b)) => a[i].cmp(&b[j]),
            (ColumnData::Date(a), ColumnData::Date(b)) => a[i].cmp(&b[j]),
            (ColumnData::DateTime(a), ColumnData::DateTime(b)) => a[i].cmp(&b[j]),
            (ColumnData::ArrU32(a), ColumnData::ArrU32(b)) => a.get(i).cmp(b.get(j)),
            (ColumnData::ArrU64(a), ColumnData::ArrU64(b)) => a.get(i).cmp(b.get(j)),
            (a, b) => a.value(i).total_cmp(&b.value(j)),
        }
    }

    /// Appends `v`; false (and nothing appended) when it does not fit. `Null` appends the
    /// placeholder.
    fn push_value(&mut self, v: &Value) -> bool {
        match (self, v) {
            (ColumnData::Str(c), Value::Str(x)) => c.push(x),
            (ColumnData::U8(c), Value::U8(x)) => c.push(*x),
            (ColumnData::U32(c), Value::U32(x)) => c.push(*x),
            (ColumnData::U64(c), Value::U64(x)) => c.push(*x),
            (ColumnData::I64(c), Value::I64(x)) => c.push(*x),
            (ColumnData::F64(c), Value::F64(x)) => c.push(*x),
            (ColumnData::Dec(c), Value::Dec(x)) => c.push(*x),
            (ColumnData::Date(c), Value::Date(x)) => c.push(*x),
            (ColumnData::DateTime(c), Value::DateTime(x)) => c.push(*x),
            (ColumnData::ArrU32(c), Value::ArrU32(x)) => c.push(x),
            (ColumnData::ArrU64(c), Value::ArrU64(x)) => c.push(x),
            (c, Value::Null) => c.push_placeholder(),
            _ => return false,
        }
        true
    }

    fn push_placeholder(&mut self) {
        match self {
            ColumnData::Str(c) => c.push(""),
            ColumnData::U8(c) => c.push(0),
            ColumnData::U32(c) => c.push(0),
            ColumnData::U64(c) => c.push(0),
            ColumnData::I64(c) => c.push(0),
            ColumnData::F64(c) => c.push(0.0),
            ColumnData::Dec(c) => c.push(Decimal::ZERO),
            ColumnData::Date(c) => c.push(0),
            ColumnData::DateTime(c) => c.push(0),
            ColumnData::ArrU32(c) => c.push(&[]),
            ColumnData::ArrU64(c) => c.push(&[]),
        }
    }
}

/// One column of a [`ColumnTable`]: its values and, when it has null rows, which ones
/// (`nulls[i]` is true when row `i` is null).
#[derive(Debug, Clone, PartialEq)]
pub struct Column {
    pub data: ColumnData,
    pub nulls: Option<Vec<bool>>,
}

/// The values of a nullable column, built row by row: values (the default where null) and null
/// flags side by side, as [`Column`] holds them.
#[derive(Debug, Clone, Default)]
pub struct Nullable<T> {
    values: Vec<T>,
    nulls: Vec<bool>,
    any_null: bool,
}

impl<T: Default> Nullable<T> {
    pub fn with_capacity(rows: usize) -> Nullable<T> {
        Nullable {
            values: Vec::with_capacity(rows),
            nulls: Vec::with_capacity(rows),
            any_null: false,
        }
    }

    #[inline]
    pub fn push(&mut self, v: Option<T>) {
        self.any_null |= v.is_none();
        self.nulls.push(v.is_none());
        self.values.push(v.unwrap_or_default());
    }

    pub fn len(&self) -> usize {
        self.values.len()
    }

    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// Values and null flags (`None` when no row is null).
    fn into_parts(self) -> (Vec<T>, Option<Vec<bool>>) {
        (self.values, self.any_null.then_some(self.nulls))
    }
}

impl<T: Default> FromIterator<Option<T>> for Nullable<T> {
    fn from_iter<I: IntoIterator<Item = Option<T>>>(iter: I) -> Nullable<T> {
        let iter = iter.into_iter();
        let mut n = Nullable::with_capacity(iter.size_hint().0);
        for v in iter {
            n.push(v);
        }
        n
    }
}

/// Splits options into values (the default where `None`) and null flags (`None` when no value
/// is missing).
fn split<T: Default>(values: impl Into<Nullable<T>>) -> (Vec<T>, Option<Vec<bool>>) {
    values.into().into_parts()
}

impl<T: Default> From<Vec<Option<T>>> for Nullable<T> {
    fn from(v: Vec<Option<T>>) -> Nullable<T> {
        v.into_iter().collect()
    }
}

impl Column {
    pub fn new(data: ColumnData) -> Column {
        Column { data, nulls: None }
    }

    pub fn str(c: StrColumn) -> Column {
        Column::new(ColumnData::Str(c))
    }
    pub fn u8(v: Vec<u8>) -> Column {
        Column::new(ColumnData::U8(v))
    }
    /// `UInt8` 0/1 from booleans.
    pub fn bools(v: &[bool]) -> Column {
        Column::u8(v.iter().map(|b| u8::from(*b)).collect())
    }
    pub fn u32(v: Vec<u32>) -> Column {
        Column::new(ColumnData::U32(v))
    }
    pub fn u64(v: Vec<u64>) -> Column {
        Column::new(ColumnData::U64(v))
    }
    pub fn i64(v: Vec<i64>) -> Column {
        Column::new(ColumnData::I64(v))
    }
    pub fn f64(v: Vec<f64>) -> Column {
        Column::new(ColumnData::F64(v))
    }
    pub fn dec(v: Vec<Decimal>) -> Column {
        Column::new(ColumnData::Dec(v))
    }
    /// Days since 1970-01-01.
    pub fn date(v: Vec<i32>) -> Column {
        Column::new(ColumnData::Date(v))
    }
    /// Seconds since the epoch, UTC.
    pub fn datetime(v: Vec<i64>) -> Column {
        Column::new(ColumnData::DateTime(v))
    }
    pub fn arr_u32(c: ListColumn<u32>) -> Column {
        Column::new(ColumnData::ArrU32(c))
    }
    pub fn arr_u64(c: ListColumn<u64>) -> Column {
        Column::new(ColumnData::ArrU64(c))
    }
    /// A nullable `UInt32` column.
    pub fn opt_u32(v: impl Into<Nullable<u32>>) -> Column {
        let (v, nulls) = split(v);
        Column {
            data: ColumnData::U32(v),
            nulls,
        }
    }
    /// A nullable `Float64` column.
    pub fn opt_f64(v: impl Into<Nullable<f64>>) -> Column {
        let (v, nulls) = split(v);
        Column {
            data: ColumnData::F64(v),
            nulls,
        }
    }
    /// A nullable `DateTime` column (seconds).
    pub fn opt_datetime(v: impl Into<Nullable<i64>>) -> Column {
        let (v, nulls) = split(v);
        Column {
            data: ColumnData::DateTime(v),
            nulls,
        }
    }

    pub fn len(&self) -> usize {
        self.data.len()
    }

    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    pub fn is_null(&self, i: usize) -> bool {
        self.nulls.as_ref().is_some_and(|n| n[i])
    }

    /// The value of row `i`, `Null` included.
    pub fn value(&self, i: usize) -> Value {
        if self.is_null(i) {
            Value::Null
        } else {
            self.data.value(i)
        }
    }
}

/// A table as typed columns, checked against its definition when built.
#[derive(Debug, Clone, PartialEq)]
pub struct ColumnTable {
    def: &'static TableDef,
    columns: Vec<Column>,
    rows: usize,
}

impl ColumnTable {
    /// Checks that there is one column per definition column, each of its type, all of the
    /// same length, and nulls only where the definition allows them.
    pub fn new(def: &'static TableDef, columns: Vec<Column>) -> Result<ColumnTable, TableError> {
        let err = |message: String| TableError {
            table: def.name,
            message,
        };
        if columns.len() != def.columns.len() {
            return Err(err(format!(
                "{} columns for {} in the definition",
                columns.len(),
                def.columns.len()
            )));
        }
        let rows = columns.first().map_or(0, Column::len);
        for (c, d) in columns.iter().zip(def.columns) {
            if !c.data.fits(d.ty) {
                return Err(err(format!(
                    "column {} ({:?}) cannot hold {}",
                    d.name,
                    d.ty,
                    variant_name(&c.data)
                )));
            }
            if c.len() != rows {
                return Err(err(format!(
                    "column {} has {} rows, column {} has {rows}",
                    d.name,
                    c.len(),
                    def.columns[0].name
                )));
            }
            if let Some(nulls) = &c.nulls {
                if nulls.len() != rows {
                    return Err(err(format!(
                        "column {} has {} null flags for {rows} rows",
                        d.name,
                        nulls.len()
                    )));
                }
                if !d.nullable && nulls.contains(&true) {
                    return Err(err(format!("column {} is not nullable", d.name)));
                }
            }
        }
        Ok(ColumnTable { def, columns, rows })
    }

    /// A table without rows.
    pub fn empty(def: &'static TableDef) -> ColumnTable {
        ColumnTable {
            def,
            columns: def
                .columns
                .iter()
                .map(|c| Column::new(ColumnData::with_capacity(c.ty, 0)))
                .collect(),
            rows: 0,
        }
    }

    /// The same table from rows, checking every value against its column.
    pub fn from_rows(t: &TableData) -> Result<ColumnTable, TableError> {
        let def = t.def;
        let mut columns: Vec<Column> = def
            .columns
            .iter()
            .map(|c| Column::new(ColumnData::with_capacity(c.ty, t.rows.len())))
            .collect();
        for (i, row) in t.rows.iter().enumerate() {
            if row.len() != def.columns.len() {
                return Err(TableError {
                    table: def.name,
                    message: format!(
                        "row {i} has {} values for {} columns",
                        row.len(),
                        def.columns.len()
                    ),
                });
            }
            for ((col, d), v) in columns.iter_mut().zip(def.columns).zip(row) {
                let null = matches!(v, Value::Null);
                if (null && !d.nullable) || !col.data.push_value(v) {
                    return Err(TableError {
                        table: def.name,
                        message: format!(
                            "row {i}: column {} ({:?}) cannot hold {v:?}",
                            d.name, d.ty
                        ),
                    });
                }
                if null {
                    col.nulls.get_or_insert_with(|| vec![false; i]).push(true);
                } else if let Some(n) = &mut col.nulls {
                    n.push(false);
                }
            }
        }
        for c in &mut columns {
            if let Some(n) = &mut c.nulls {
                n.resize(t.rows.len(), false);
            }
        }
        Ok(ColumnTable {
            def,
            columns,
            rows: t.rows.len(),
        })
    }

    /// The table of `rows` (indices into this one), in that order.
    pub fn take(&self, rows: &[usize]) -> ColumnTable {
        let picks: Vec<(usize, usize)> = rows.iter().map(|&r| (0, r)).collect();
        ColumnTable::gather(self.def, &[self], &picks).expect("rows of one table fit it")
    }

    /// A table of `def` made of the rows `picks` names, in that order: `(source, row)`, rows
    /// of tables of `sources` of the same definition.
    pub fn gather(
        def: &'static TableDef,
        sources: &[&ColumnTable],
        picks: &[(usize, usize)],
    ) -> Result<ColumnTable, TableError> {
        if let Some(&(s, _)) = picks.iter().find(|(s, _)| sources[*s].def.name != def.name) {
            return Err(TableError {
                table: def.name,
                message: format!(
                    "rows of table {} cannot be gathered into it",
                    sources[s].def.name
                ),
            });
        }
        let mut columns = Vec::with_capacity(def.columns.len());
        for (c, d) in def.columns.iter().enumerate() {
            let mut data = ColumnData::with_capacity(d.ty, picks.len());
            let any_null = picks.iter().any(|&(s, r)| sources[s].columns[c].is_null(r));
            let mut nulls = any_null.then(|| Vec::with_capacity(picks.len()));
            for &(s, r) in picks {
                let src = &sources[s].columns[c];
                if !data.push_from(&src.data, r) {
                    return Err(TableError {
                        table: def.name,
                        message: format!(
                            "column {} of table {} holds {} where {:?} is expected",
                            d.name,
                            sources[s].def.name,
                            variant_name(&src.data),
                            d.ty
                        ),
                    });
                }
                if let Some(n) = &mut nulls {
                    n.push(src.is_null(r));
                }
            }
            columns.push(Column { data, nulls });
        }
        Ok(ColumnTable {
            def,
            columns,
            rows: picks.len(),
        })
    }

    /// Row `i` of this table against row `j` of `other` (a table of the same definition) on
    /// the columns `on`, in order: the order of [`crate::table::compare_keys`] on those
    /// columns' values (null first).
    pub fn cmp_rows(
        &self,
        on: &[usize],
        i: usize,
        other: &ColumnTable,
        j: usize,
    ) -> std::cmp::Ordering {
        for &c in on {
            let (a, b) = (&self.columns[c], &other.columns[c]);
            let o = match (a.is_null(i), b.is_null(j)) {
                (true, true) => std::cmp::Ordering::Equal,
                (true, false) => std::cmp::Ordering::Less,
                (false, true) => std::cmp::Ordering::Greater,
                (false, false) => a.data.cmp_with(i, &b.data, j),
            };
            if o.is_ne() {
                return o;
            }
        }
        std::cmp::Ordering::Equal
    }

    /// The same table as rows.
    pub fn to_rows(&self) -> TableData {
        let mut t = TableData::new(self.def);
        t.rows = (0..self.rows).map(|i| self.row(i)).collect();
        t
    }

    pub fn def(&self) -> &'static TableDef {
        self.def
    }

    pub fn num_rows(&self) -> usize {
        self.rows
    }

    /// The columns, in the definition's order.
    pub fn columns(&self) -> &[Column] {
        &self.columns
    }

    /// Row `i`, in column order.
    pub fn row(&self, i: usize) -> Vec<Value> {
        self.columns.iter().map(|c| c.value(i)).collect()
    }
}

fn variant_name(d: &ColumnData) -> &'static str {
    match d {
        ColumnData::Str(_) => "strings",
        ColumnData::U8(_) => "UInt8 values",
        ColumnData::U32(_) => "UInt32 values",
        ColumnData::U64(_) => "UInt64 values",
        ColumnData::I64(_) => "Int64 values",
        ColumnData::F64(_) => "Float64 values",
        ColumnData::Dec(_) => "decimals",
        ColumnData::Date(_) => "dates",
        ColumnData::DateTime(_) => "date-times",
        ColumnData::ArrU32(_) => "UInt32 arrays",
        ColumnData::ArrU64(_) => "UInt64 arrays",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::{col, col_null};

    static T: TableDef = TableDef {
        name: "t",
        doc: "",
        columns: &[
            col("s", ColumnType::String, ""),
            col_null("n", ColumnType::UInt32, ""),
            col("m", ColumnType::Money, ""),
            col_null("ts", ColumnType::DateTime, ""),
            col("a", ColumnType::ArrayUInt64, ""),
            col("d", ColumnType::Date, ""),
        ],
        key: &["s"],
    };

    fn rows() -> TableData {
        let mut t = TableData::new(&T);
        t.push(vec![
            "x".into(),
            Value::Null,
            Value::Dec("12.5".parse().unwrap()),
            Value::DateTime(1_700_000_000),
            Value::ArrU64(vec![1, 2]),
            Value::Date(20_000),
        ]);
        t.push(vec![
            "".into(),
            Value::U32(7),
            Value::Dec("-0.01".parse().unwrap()),
            Value::Null,
            Value::ArrU64(vec![]),
            Value::Date(-3),
        ]);
        t.push(vec![
            "yz".into(),
            Value::U32(0),
            Value::Dec("3".parse().unwrap()),
            Value::DateTime(0),
            Value::ArrU64(vec![u64::MAX]),
            Value::Date(0),
        ]);
        t
    }

    #[test]
    fn taking_and_comparing_rows_agree_with_the_rows() {
        let c = ColumnTable::from_rows(&rows()).unwrap();
        let t = c.take(&[2, 0, 0]);
        let all = rows().rows;
        assert_eq!(
            t.to_rows().rows,
            vec![all[2].clone(), all[0].clone(), all[0].clone()]
        );
        for on in [vec![0], vec![1], vec![3], vec![4, 5], vec![2, 0]] {
            for i in 0..3 {
                for j in 0..3 {
                    let a: Vec<Value> = on.iter().map(|&k| all[i][k].clone()).collect();
                    let b: Vec<Value> = on.iter().map(|&k| all[j][k].clone()).collect();
                    assert_eq!(
                        c.cmp_rows(&on, i, &c, j),
                        crate::table::compare_keys(&a, &b),
                        "columns {on:?}, rows {i} and {j}"
                    );
                }
            }
        }
    }

    #[test]
    fn rows_round_trip_exactly() {
        let t = rows();
        let c = ColumnTable::from_rows(&t).unwrap();
        assert_eq!(c.num_rows(), 3);
        assert_eq!(c.to_rows(), t);
        // The same table built column by column.
        let mut s = StrColumn::default();
        ["x", ""].iter().for_each(|x| s.push(x));
        s.push_n("yz", 1);
        s.push_n("never", 0);
        let mut repeated = StrColumn::default();
        repeated.push("a");
        repeated.push_n("bc", 3);
        repeated.push("");
        let got: Vec<&str> = (0..repeated.len()).map(|i| repeated.get(i)).collect();
        assert_eq!(got, ["a", "bc", "bc", "bc", ""]);
        let mut a = ListColumn::default();
        a.push(&[1, 2]);
        a.push(&[]);
        a.push_iter([u64::MAX]);
        let built = ColumnTable::new(
            &T,
            vec![
                Column::str(s),
                Column::opt_u32(vec![None, Some(7), Some(0)]),
                Column::dec(["12.5", "-0.01", "3"].map(|d| d.parse().unwrap()).to_vec()),
                Column::opt_datetime(vec![Some(1_700_000_000), None, Some(0)]),
                Column::arr_u64(a),
                Column::date(vec![20_000, -3, 0]),
            ],
        )
        .unwrap();
        assert_eq!(built.to_rows(), t);
        assert_eq!(
            ColumnTable::from_rows(&TableData::new(&T)).unwrap(),
            ColumnTable::empty(&T)
        );
    }

    #[test]
    fn mismatches_are_refused() {
        let mut t = rows();
        t.rows[1][0] = Value::Null;
        assert!(ColumnTable::from_rows(&t)
            .unwrap_err()
            .message
            .contains("column s"));
        let mut t = rows();
        t.rows[2][5] = Value::I64(1);
        assert!(ColumnTable::from_rows(&t).is_err());
        let cols = |n: Vec<u64>| {
            vec![
                Column::str(StrColumn::default()),
                Column::u64(n),
                Column::dec(vec![]),
                Column::datetime(vec![]),
                Column::arr_u64(ListColumn::default()),
                Column::date(vec![]),
            ]
        };
        assert!(ColumnTable::new(&T, cols(vec![]))
            .unwrap_err()
            .message
            .contains("column n"));
        let mut c = cols(vec![]);
        c[1] = Column::u32(vec![1]);
        assert!(ColumnTable::new(&T, c)
            .unwrap_err()
            .message
            .contains("rows"));
        let mut c = cols(vec![]);
        c[0] = Column::str(StrColumn::default());
        c[2] = Column::dec(vec![]).with_nulls_for_test();
        assert!(ColumnTable::new(&T, c).is_err());
    }

    impl Column {
        fn with_nulls_for_test(mut self) -> Column {
            self.nulls = Some(vec![true]);
            self
        }
    }
}
