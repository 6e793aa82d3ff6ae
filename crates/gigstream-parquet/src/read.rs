//! Parquet back to [`Value`]s: the inverse of [`crate::to_record_batch`], for tools that compare
//! what is stored with what a projection computes (`gigstream verify`).
//!
//! Every column is read as the Arrow type [`crate::arrow_schema`] gives it (the files carry
//! that schema, so no cast happens for files this crate wrote; a file written with another
//! physical type is cast first), then converted cell by cell: exact for every type, floats
//! included, because Parquet stores the IEEE bits.

use crate::arrow_conv::arrow_schema;
use crate::store::{ParquetStore, StoreError};
use arrow::array::{
    Array, ArrayRef, AsArray, Date32Array, Decimal128Array, Float64Array, Int64Array,
    TimestampSecondArray, UInt32Array, UInt64Array, UInt8Array,
};
use arrow::datatypes::{DataType, UInt32Type, UInt64Type};
use arrow::record_batch::RecordBatch;
use gigstream_core::table::{ColumnType, TableDef, Value};
use gigstream_core::Decimal;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use std::fs::File;
use std::path::Path;

fn damaged(path: &Path, message: String) -> StoreError {
    StoreError::Damaged {
        path: path.to_path_buf(),
        message,
    }
}

/// Rows of a table, each in column order.
pub type Rows = Vec<Vec<Value>>;

/// Every row of the Parquet file at `path`, read as table `def` (columns by name, in the
/// definition's order), in file order.
pub fn read_table(path: &Path, def: &TableDef) -> Result<Rows, StoreError> {
    let file = File::open(path).map_err(|source| StoreError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let reader = ParquetRecordBatchReaderBuilder::try_new(file)
        .and_then(|b| b.with_batch_size(64 * 1024).build())
        .map_err(|e| damaged(path, format!("cannot read it as Parquet: {e}")))?;
    let mut rows = Vec::new();
    for batch in reader {
        let batch = batch.map_err(|e| damaged(path, format!("cannot decode a batch: {e}")))?;
        append_rows(&batch, def, &mut rows).map_err(|m| damaged(path, m))?;
    }
    Ok(rows)
}

/// The committed generation of `service` and the rows of table `def` in it, sorted by key;
/// `None` when the service has committed nothing yet.
pub fn read_committed(
    store: &ParquetStore,
    service: &str,
    def: &TableDef,
) -> Result<Option<(u64, Rows)>, StoreError> {
    let Some(snap) = store.snapshot(service)? else {
        return Ok(None);
    };
    let rows = snap.read(def)?;
    Ok(Some((snap.generation, rows)))
}

/// Converts one batch into rows of `def` and appends them to `out`.
pub fn append_rows(
    batch: &RecordBatch,
    def: &TableDef,
    out: &mut Vec<Vec<Value>>,
) -> Result<(), String> {
    let schema = arrow_schema(def);
    let mut columns: Vec<ArrayRef> = Vec::with_capacity(def.columns.len());
    for (c, field) in def.columns.iter().zip(schema.fields()) {
        let array = batch
            .column_by_name(c.name)
            .ok_or_else(|| format!("table {} has no column {}", def.name, c.name))?;
        let array = if array.data_type() == field.data_type() {
            array.clone()
        } else {
            arrow::compute::cast(array, field.data_type()).map_err(|e| {
                format!(
                    "column {} is {} and cannot be read as {}: {e}",
                    c.name,
                    array.data_type(),
                    field.data_type()
                )
            })?
        };
        columns.push(array);
    }
    let start = out.len();
    out.extend((0..batch.num_rows()).map(|_| Vec::with_capacity(def.columns.len())));
    for (c, array) in def.columns.iter().zip(&columns) {
        let rows = &mut out[start..];
        fill_column(c.ty, array.as_ref(), rows)
            .map_err(|m| format!("column {} of {}: {m}", c.name, def.name))?;
    }
    Ok(())
}

/// Pushes the cells of one column onto the rows (one row per array element).
fn fill_column(ty: ColumnType, array: &dyn Array, rows: &mut [Vec<Value>]) -> Result<(), String> {
    fn each<A: Array + 'static>(
        array: &dyn Array,
        rows: &mut [Vec<Value>],
        mut cell: impl FnMut(&A, usize) -> Value,
    ) -> Result<(), String> {
        let a = array
            .as_any()
            .downcast_ref::<A>()
            .ok_or_else(|| format!("unexpected array type {}", array.data_type()))?;
        for (i, row) in rows.iter_mut().enumerate() {
            row.push(if a.is_null(i) {
                Value::Null
            } else {
                cell(a, i)
            });
        }
        Ok(())
    }
    match ty {
        ColumnType::String => {
            let a = array.as_string_opt::<i32>().ok_or_else(|| {
                format!("unexpected array type {} for a string", array.data_type())
            })?;
            for (i, row) in rows.iter_mut().enumerate() {
                row.push(if a.is_null(i) {
                    Value::Null
                } else {
                    Value::Str(a.value(i).to_string())
                });
            }
            Ok(())
        }
        ColumnType::UInt8 => each::<UInt8Array>(array, rows, |a, i| Value::U8(a.value(i))),
        ColumnType::UInt32 => each::<UInt32Array>(array, rows, |a, i| Value::U32(a.value(i))),
        ColumnType::UInt64 => each::<UInt64Array>(array, rows, |a, i| Value::U64(a.value(i))),
        ColumnType::Int64 => each::<Int64Array>(array, rows, |a, i| Value::I64(a.value(i))),
        ColumnType::Float64 => each::<Float64Array>(array, rows, |a, i| Value::F64(a.value(i))),
        ColumnType::Money | ColumnType::Quantity => {
            let scale = match array.data_type() {
                DataType::Decimal128(_, s) => u32::try_from(*s).map_err(|e| e.to_string())?,
                other => return Err(format!("unexpected array type {other} for a decimal")),
            };
            let mut bad = None;
            each::<Decimal128Array>(array, rows, |a, i| match Decimal::try_from_i128_with_scale(
                a.value(i),
                scale,
            ) {
                Ok(d) => Value::Dec(d),
                Err(e) => {
                    bad.get_or_insert_with(|| format!("decimal {}: {e}", a.value(i)));
                    Value::Null
                }
            })?;
            bad.map_or(Ok(()), Err)
        }
        ColumnType::Date => each::<Date32Array>(array, rows, |a, i| Value::Date(a.value(i))),
        ColumnType::DateTime => {
            each::<TimestampSecondArray>(array, rows, |a, i| Value::DateTime(a.value(i)))
        }
        ColumnType::ArrayUInt32 => {
            let a = array
                .as_list_opt::<i32>()
                .ok_or_else(|| format!("unexpected array type {} for a list", array.data_type()))?;
            for (i, row) in rows.iter_mut().enumerate() {
                row.push(if a.is_null(i) {
                    Value::Null
                } else {
                    Value::ArrU32(a.value(i).as_primitive::<UInt32Type>().values().to_vec())
                });
            }
            Ok(())
        }
        ColumnType::ArrayUInt64 => {
            let a = array
                .as_list_opt::<i32>()
                .ok_or_else(|| format!("unexpected array type {} for a list", array.data_type()))?;
            for (i, row) in rows.iter_mut().enumerate() {
                row.push(if a.is_null(i) {
                    Value::Null
                } else {
                    Value::ArrU64(a.value(i).as_primitive::<UInt64Type>().values().to_vec())
                });
            }
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gigstream_core::table::{col, TableData};
    use gigstream_testkit::fixtures::{dec, ALL_TYPES as ALL};

    #[test]
    fn every_type_survives_a_commit() {
        let mut t = TableData::new(&ALL);
        t.push(vec![
            Value::U64(u64::MAX),
            "héllo".into(),
            Value::U8(1),
            Value::U32(u32::MAX),
            Value::I64(i64::MIN),
            Value::F64(0.1 + 0.2),
            dec("-1234567.89"),
            dec("0.0001"),
            Value::Date(20_000),
            Value::DateTime(1_700_000_000),
            Value::ArrU32(vec![1, 2, 3]),
            Value::ArrU64(vec![u64::MAX]),
            Value::Null,
        ]);
        t.push(vec![
            Value::U64(0),
            "".into(),
            Value::U8(0),
            Value::U32(0),
            Value::I64(7),
            Value::F64(-0.0),
            dec("0"),
            Value::Null,
            Value::Date(0),
            Value::Null,
            Value::ArrU32(vec![]),
            Value::ArrU64(vec![]),
            "note".into(),
        ]);
        let dir = tempfile::tempdir().unwrap();
        let mut store = ParquetStore::new(dir.path());
        assert!(read_committed(&store, "svc", &ALL).unwrap().is_none());
        store
            .commit("svc", std::slice::from_ref(&t), b"ck")
            .unwrap();
        let (_, rows) = read_committed(&store, "svc", &ALL).unwrap().unwrap();
        // Read back sorted by key (id 0 first).
        t.rows.reverse();
        assert_eq!(rows, t.rows);
        // Bit-exact floats, the sign of zero included.
        assert_eq!(rows[1][5], Value::F64(0.30000000000000004));
        let Value::F64(z) = rows[0][5] else { panic!() };
        assert!(z.is_sign_negative());
        // Decimals come back at the column's scale.
        let Value::Dec(m) = &rows[1][6] else { panic!() };
        assert_eq!(m.to_string(), "-1234567.89");
    }

    #[test]
    fn a_missing_column_is_reported() {
        static FEWER: TableDef = TableDef {
            name: "all_types",
            doc: "",
            columns: &[col("id", ColumnType::UInt64, "")],
            key: &["id"],
        };
        static MORE: TableDef = TableDef {
            name: "all_types",
            doc: "",
            columns: &[
                col("id", ColumnType::UInt64, ""),
                col("extra", ColumnType::String, ""),
            ],
            key: &["id"],
        };
        let mut t = TableData::new(&FEWER);
        t.push(vec![Value::U64(3)]);
        let dir = tempfile::tempdir().unwrap();
        let mut store = ParquetStore::new(dir.path());
        store.commit("svc", &[t], b"ck").unwrap();
        let err = read_committed(&store, "svc", &MORE)
            .unwrap_err()
            .to_string();
        assert!(err.contains("no column extra"), "{err}");
    }
}
