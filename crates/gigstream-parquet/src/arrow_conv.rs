//! [`TableData`] to Arrow: one Arrow type per [`ColumnType`].

use arrow::array::{
    ArrayRef, Date32Builder, Decimal128Builder, Float64Builder, Int64Builder, ListBuilder,
    StringBuilder, TimestampSecondBuilder, UInt32Builder, UInt64Builder, UInt8Builder,
};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use arrow::error::ArrowError;
use arrow::record_batch::RecordBatch;
use gigstream_core::table::{ColumnDef, ColumnType, TableData, TableDef, Value};
use gigstream_core::Decimal;
use std::sync::Arc;

fn data_type(ty: ColumnType) -> DataType {
    match ty {
        ColumnType::String => DataType::Utf8,
        ColumnType::UInt8 => DataType::UInt8,
        ColumnType::UInt32 => DataType::UInt32,
        ColumnType::UInt64 => DataType::UInt64,
        ColumnType::Int64 => DataType::Int64,
        ColumnType::Float64 => DataType::Float64,
        ColumnType::Money => DataType::Decimal128(18, 2),
        ColumnType::Quantity => DataType::Decimal128(18, 4),
        ColumnType::Date => DataType::Date32,
        ColumnType::DateTime => DataType::Timestamp(TimeUnit::Second, Some("UTC".into())),
        ColumnType::ArrayUInt32 => {
            DataType::List(Arc::new(Field::new("item", DataType::UInt32, true)))
        }
        ColumnType::ArrayUInt64 => {
            DataType::List(Arc::new(Field::new("item", DataType::UInt64, true)))
        }
    }
}

/// The Arrow schema of a table.
pub fn arrow_schema(def: &TableDef) -> SchemaRef {
    Arc::new(Schema::new(
        def.columns
            .iter()
            .map(|c| Field::new(c.name, data_type(c.ty), c.nullable))
            .collect::<Vec<_>>(),
    ))
}

fn scaled(d: &Decimal, scale: u32) -> Result<i128, ArrowError> {
    let mut d = *d;
    if d.scale() > scale {
        // Projections round money before emitting; more digits here is a bug upstream.
        return Err(ArrowError::InvalidArgumentError(format!(
            "decimal {d} has more than {scale} decimals"
        )));
    }
    d.rescale(scale);
    Ok(d.mantissa())
}

fn mismatch(c: &ColumnDef, v: &Value) -> ArrowError {
    ArrowError::InvalidArgumentError(format!("column {} ({:?}) cannot hold {v:?}", c.name, c.ty))
}

/// The Arrow builder of one column.
enum Builder {
    Str(StringBuilder),
    U8(UInt8Builder),
    U32(UInt32Builder),
    U64(UInt64Builder),
    I64(Int64Builder),
    F64(Float64Builder),
    Dec(Decimal128Builder, u32),
    Date(Date32Builder),
    DateTime(TimestampSecondBuilder),
    ArrU32(ListBuilder<UInt32Builder>),
    ArrU64(ListBuilder<UInt64Builder>),
}

impl Builder {
    /// A builder for `rows` values of `ty`, sized up front: the tables are large (hundreds of
    /// thousands of rows) and growing value by value costs reallocations and copies.
    fn new(ty: ColumnType, rows: usize) -> Result<Builder, ArrowError> {
        Ok(match ty {
            // Ids are short; the estimate only saves the first few doublings.
            ColumnType::String => Builder::Str(StringBuilder::with_capacity(rows, rows * 16)),
            ColumnType::UInt8 => Builder::U8(UInt8Builder::with_capacity(rows)),
            ColumnType::UInt32 => Builder::U32(UInt32Builder::with_capacity(rows)),
            ColumnType::UInt64 => Builder::U64(UInt64Builder::with_capacity(rows)),
            ColumnType::Int64 => Builder::I64(Int64Builder::with_capacity(rows)),
            ColumnType::Float64 => Builder::F64(Float64Builder::with_capacity(rows)),
            ColumnType::Money => Builder::Dec(
                Decimal128Builder::with_capacity(rows).with_precision_and_scale(18, 2)?,
                2,
            ),
            ColumnType::Quantity => Builder::Dec(
                Decimal128Builder::with_capacity(rows).with_precision_and_scale(18, 4)?,
                4,
            ),
            ColumnType::Date => Builder::Date(Date32Builder::with_capacity(rows)),
            ColumnType::DateTime => {
                Builder::DateTime(TimestampSecondBuilder::with_capacity(rows).with_timezone("UTC"))
            }
            ColumnType::ArrayUInt32 => Builder::ArrU32(ListBuilder::with_capacity(
                UInt32Builder::with_capacity(rows * 4),
                rows,
            )),
            ColumnType::ArrayUInt64 => Builder::ArrU64(ListBuilder::with_capacity(
                UInt64Builder::with_capacity(rows * 4),
                rows,
            )),
        })
    }

    /// Appends one cell; `Err` when the value does not fit the column.
    #[inline]
    fn append(&mut self, c: &ColumnDef, v: &Value) -> Result<(), ArrowError> {
        match (self, v) {
            (Builder::Str(b), Value::Str(x)) => b.append_value(x),
            (Builder::U8(b), Value::U8(x)) => b.append_value(*x),
            (Builder::U32(b), Value::U32(x)) => b.append_value(*x),
            (Builder::U64(b), Value::U64(x)) => b.append_value(*x),
            (Builder::I64(b), Value::I64(x)) => b.append_value(*x),
            (Builder::F64(b), Value::F64(x)) => b.append_value(*x),
            (Builder::Dec(b, scale), Value::Dec(x)) => b.append_value(scaled(x, *scale)?),
            (Builder::Date(b), Value::Date(x)) => b.append_value(*x),
            (Builder::DateTime(b), Value::DateTime(x)) => b.append_value(*x),
            (Builder::ArrU32(b), Value::ArrU32(xs)) => {
                b.values().append_slice(xs);
                b.append(true);
            }
            (Builder::ArrU64(b), Value::ArrU64(xs)) => {
                b.values().append_slice(xs);
                b.append(true);
            }
            (b, Value::Null) => b.append_null(),
            (_, other) => return Err(mismatch(c, other)),
        }
        Ok(())
    }

    fn append_null(&mut self) {
        match self {
            Builder::Str(b) => b.append_null(),
            Builder::U8(b) => b.append_null(),
            Builder::U32(b) => b.append_null(),
            Builder::U64(b) => b.append_null(),
            Builder::I64(b) => b.append_null(),
            Builder::F64(b) => b.append_null(),
            Builder::Dec(b, _) => b.append_null(),
            Builder::Date(b) => b.append_null(),
            Builder::DateTime(b) => b.append_null(),
            Builder::ArrU32(b) => b.append_null(),
            Builder::ArrU64(b) => b.append_null(),
        }
    }

    fn finish(self) -> ArrayRef {
        match self {
            Builder::Str(mut b) => Arc::new(b.finish()),
            Builder::U8(mut b) => Arc::new(b.finish()),
            Builder::U32(mut b) => Arc::new(b.finish()),
            Builder::U64(mut b) => Arc::new(b.finish()),
            Builder::I64(mut b) => Arc::new(b.finish()),
            Builder::F64(mut b) => Arc::new(b.finish()),
            Builder::Dec(mut b, _) => Arc::new(b.finish()),
            Builder::Date(mut b) => Arc::new(b.finish()),
            Builder::DateTime(mut b) => Arc::new(b.finish()),
            Builder::ArrU32(mut b) => Arc::new(b.finish()),
            Builder::ArrU64(mut b) => Arc::new(b.finish()),
        }
    }
}

/// Converts rows to one Arrow batch with the table's schema.
///
/// Rows are visited once, each cell appended to its column's builder: a table of a few hundred
/// thousand rows is hundreds of megabytes of cells, and reading it column by column would go
/// through all of it once per column.
pub fn to_record_batch(data: &TableData) -> Result<RecordBatch, ArrowError> {
    let columns = data.def.columns;
    let mut builders = columns
        .iter()
        .map(|c| Builder::new(c.ty, data.rows.len()))
        .collect::<Result<Vec<_>, _>>()?;
    for row in &data.rows {
        if row.len() != columns.len() {
            return Err(ArrowError::InvalidArgumentError(format!(
                "table {} has a row of {} values for {} columns",
                data.def.name,
                row.len(),
                columns.len()
            )));
        }
        for ((b, c), v) in builders.iter_mut().zip(columns).zip(row) {
            if matches!(v, Value::Null) && !c.nullable {
                return Err(mismatch(c, v));
            }
            b.append(c, v)?;
        }
    }
    let arrays = builders.into_iter().map(Builder::finish).collect();
    RecordBatch::try_new(arrow_schema(data.def), arrays)
}

#[cfg(test)]
mod tests {
    use super::*;
    use gigstream_core::table::{col, col_null};

    static T: TableDef = TableDef {
        name: "t",
        doc: "test",
        columns: &[
            col("s", ColumnType::String, ""),
            col("m", ColumnType::Money, ""),
            col_null("q", ColumnType::Quantity, ""),
            col("d", ColumnType::Date, ""),
            col("ts", ColumnType::DateTime, ""),
            col("a", ColumnType::ArrayUInt32, ""),
        ],
        key: &["s"],
    };

    #[test]
    fn converts_every_type() {
        let mut t = TableData::new(&T);
        t.push(vec![
            "x".into(),
            Value::Dec("12.5".parse().unwrap()),
            Value::Null,
            Value::Date(20_000),
            Value::DateTime(1_700_000_000),
            Value::ArrU32(vec![1, 2]),
        ]);
        let b = to_record_batch(&t).unwrap();
        assert_eq!(b.num_rows(), 1);
        let m = b
            .column(1)
            .as_any()
            .downcast_ref::<arrow::array::Decimal128Array>()
            .unwrap();
        assert_eq!(m.value(0), 1250);
        assert_eq!(m.value_as_string(0), "12.50");
    }

    #[test]
    fn refuses_money_with_sub_cent_digits() {
        let mut t = TableData::new(&T);
        t.rows.push(vec![
            "x".into(),
            Value::Dec("0.001".parse().unwrap()),
            Value::Null,
            Value::Date(0),
            Value::DateTime(0),
            Value::ArrU32(vec![]),
        ]);
        assert!(to_record_batch(&t).is_err());
    }
}
