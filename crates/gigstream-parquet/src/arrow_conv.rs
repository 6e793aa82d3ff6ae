//! [`TableData`] and [`ColumnTable`] to Arrow: one Arrow type per [`ColumnType`].

use arrow::array::{ArrayRef, Decimal128Array, ListArray, PrimitiveArray, StringArray};
use arrow::buffer::{BooleanBuffer, Buffer, NullBuffer, OffsetBuffer, ScalarBuffer};
use arrow::datatypes::{
    ArrowNativeType, ArrowPrimitiveType, DataType, Date32Type, Field, Float64Type, Int64Type,
    Schema, SchemaRef, TimeUnit, TimestampSecondType, UInt32Type, UInt64Type, UInt8Type,
};
use arrow::error::ArrowError;
use arrow::record_batch::RecordBatch;
use gigstream_core::columns::{Column, ColumnData, ColumnTable, ListColumn};
use gigstream_core::table::{ColumnType, TableData, TableDef};
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
        ColumnType::Money | ColumnType::Quantity => DataType::Decimal128(
            ColumnType::DECIMAL_PRECISION,
            ty.decimal_scale().map_or(0, |s| s as i8),
        ),
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

fn nulls(c: &Column) -> Option<NullBuffer> {
    let n = c.nulls.as_ref()?;
    Some(NullBuffer::new(BooleanBuffer::collect_bool(n.len(), |i| {
        !n[i]
    })))
}

/// One copy of a slice into an Arrow buffer.
fn scalars<T: ArrowNativeType>(v: &[T]) -> ScalarBuffer<T> {
    ScalarBuffer::new(Buffer::from_slice_ref(v), 0, v.len())
}

fn primitive<T: ArrowPrimitiveType>(v: &[T::Native], c: &Column) -> PrimitiveArray<T> {
    PrimitiveArray::new(scalars(v), nulls(c))
}

fn offsets(o: &[i32]) -> OffsetBuffer<i32> {
    // Valid by construction: StrColumn and ListColumn only ever append.
    OffsetBuffer::new(scalars(o))
}

fn list<T: ArrowPrimitiveType>(
    l: &ListColumn<T::Native>,
    c: &Column,
    item: DataType,
) -> Result<ArrayRef, ArrowError> {
    let values = PrimitiveArray::<T>::new(scalars(l.values()), None);
    Ok(Arc::new(ListArray::try_new(
        Arc::new(Field::new("item", item, true)),
        offsets(l.offsets()),
        Arc::new(values),
        nulls(c),
    )?))
}

/// The Arrow array of one column of type `ty`.
fn array(c: &Column, ty: ColumnType) -> Result<ArrayRef, ArrowError> {
    Ok(match &c.data {
        ColumnData::Str(s) => Arc::new(StringArray::try_new(
            offsets(s.offsets()),
            Buffer::from_slice_ref(s.data().as_bytes()),
            nulls(c),
        )?),
        ColumnData::U8(v) => Arc::new(primitive::<UInt8Type>(v, c)) as ArrayRef,
        ColumnData::U32(v) => Arc::new(primitive::<UInt32Type>(v, c)),
        ColumnData::U64(v) => Arc::new(primitive::<UInt64Type>(v, c)),
        ColumnData::I64(v) => Arc::new(primitive::<Int64Type>(v, c)),
        ColumnData::F64(v) => Arc::new(primitive::<Float64Type>(v, c)),
        ColumnData::Dec(v) => {
            let scale = if ty == ColumnType::Quantity { 4 } else { 2 };
            let mantissas = v
                .iter()
                .enumerate()
                .map(|(i, d)| {
                    if c.is_null(i) {
                        Ok(0)
                    } else {
                        scaled(d, scale)
                    }
                })
                .collect::<Result<Vec<i128>, _>>()?;
            Arc::new(
                Decimal128Array::new(ScalarBuffer::from(mantissas), nulls(c))
                    .with_precision_and_scale(18, scale as i8)?,
            )
        }
        ColumnData::Date(v) => Arc::new(primitive::<Date32Type>(v, c)),
        ColumnData::DateTime(v) => {
            Arc::new(primitive::<TimestampSecondType>(v, c).with_timezone("UTC"))
        }
        ColumnData::ArrU32(l) => list::<UInt32Type>(l, c, DataType::UInt32)?,
        ColumnData::ArrU64(l) => list::<UInt64Type>(l, c, DataType::UInt64)?,
    })
}

/// Converts a column table to one Arrow batch with the table's schema: every column's buffers
/// are copied once, no cell is visited (except decimals, which are rescaled).
pub fn columns_to_record_batch(t: &ColumnTable) -> Result<RecordBatch, ArrowError> {
    let def = t.def();
    let arrays = t
        .columns()
        .iter()
        .zip(def.columns)
        .map(|(c, d)| array(c, d.ty))
        .collect::<Result<Vec<_>, _>>()?;
    RecordBatch::try_new(arrow_schema(def), arrays)
}

/// Converts rows to one Arrow batch with the table's schema.
pub fn to_record_batch(data: &TableData) -> Result<RecordBatch, ArrowError> {
    let t = ColumnTable::from_rows(data)
        .map_err(|e| ArrowError::InvalidArgumentError(e.to_string()))?;
    columns_to_record_batch(&t)
}

#[cfg(test)]
mod tests {
    use super::*;
    use gigstream_core::table::{col, col_null, Value};

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
