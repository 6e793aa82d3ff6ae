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

fn ok<T: Copy>(x: &T) -> Result<T, ArrowError> {
    Ok(*x)
}

fn mismatch(c: &ColumnDef, v: &Value) -> ArrowError {
    ArrowError::InvalidArgumentError(format!("column {} ({:?}) cannot hold {v:?}", c.name, c.ty))
}

fn column(data: &TableData, idx: usize) -> Result<ArrayRef, ArrowError> {
    let c = &data.def.columns[idx];
    let cells = data.rows.iter().map(|r| &r[idx]);
    macro_rules! build {
        ($builder:expr, $variant:ident, $conv:expr) => {{
            let mut b = $builder;
            for v in cells {
                match v {
                    Value::Null => b.append_null(),
                    Value::$variant(x) => b.append_value($conv(x)?),
                    other => return Err(mismatch(c, other)),
                }
            }
            Arc::new(b.finish()) as ArrayRef
        }};
    }
    Ok(match c.ty {
        ColumnType::String => build!(StringBuilder::new(), Str, |x: &String| -> Result<
            String,
            ArrowError,
        > { Ok(x.clone()) }),
        ColumnType::UInt8 => build!(UInt8Builder::new(), U8, ok),
        ColumnType::UInt32 => build!(UInt32Builder::new(), U32, ok),
        ColumnType::UInt64 => build!(UInt64Builder::new(), U64, ok),
        ColumnType::Int64 => build!(Int64Builder::new(), I64, ok),
        ColumnType::Float64 => build!(Float64Builder::new(), F64, ok),
        ColumnType::Money => build!(
            Decimal128Builder::new().with_precision_and_scale(18, 2)?,
            Dec,
            |d| scaled(d, 2)
        ),
        ColumnType::Quantity => build!(
            Decimal128Builder::new().with_precision_and_scale(18, 4)?,
            Dec,
            |d| scaled(d, 4)
        ),
        ColumnType::Date => build!(Date32Builder::new(), Date, ok),
        ColumnType::DateTime => build!(
            TimestampSecondBuilder::new().with_timezone("UTC"),
            DateTime,
            ok
        ),
        ColumnType::ArrayUInt32 => {
            let mut b = ListBuilder::new(UInt32Builder::new());
            for v in cells {
                match v {
                    Value::Null => b.append_null(),
                    Value::ArrU32(xs) => {
                        b.values().append_slice(xs);
                        b.append(true);
                    }
                    other => return Err(mismatch(c, other)),
                }
            }
            Arc::new(b.finish())
        }
        ColumnType::ArrayUInt64 => {
            let mut b = ListBuilder::new(UInt64Builder::new());
            for v in cells {
                match v {
                    Value::Null => b.append_null(),
                    Value::ArrU64(xs) => {
                        b.values().append_slice(xs);
                        b.append(true);
                    }
                    other => return Err(mismatch(c, other)),
                }
            }
            Arc::new(b.finish())
        }
    })
}

/// Converts rows to one Arrow batch with the table's schema.
pub fn to_record_batch(data: &TableData) -> Result<RecordBatch, ArrowError> {
    let columns = (0..data.def.columns.len())
        .map(|i| column(data, i))
        .collect::<Result<Vec<_>, _>>()?;
    RecordBatch::try_new(arrow_schema(data.def), columns)
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
