//! A table with a column of every [`ColumnType`], nullable ones among them, for the sinks'
//! round trips (Parquet, ClickHouse RowBinary, the readers).

use gigstream_core::table::{col, col_null, ColumnType, TableDef, Value};
use gigstream_core::Decimal;
use std::str::FromStr;

/// Every column type once (`qty`, `at` and `note` nullable), keyed by `id`.
pub static ALL_TYPES: TableDef = TableDef {
    name: "all_types",
    doc: "every column type",
    columns: &[
        col("id", ColumnType::UInt64, ""),
        col("s", ColumnType::String, ""),
        col("flag", ColumnType::UInt8, ""),
        col("n32", ColumnType::UInt32, ""),
        col("i", ColumnType::Int64, ""),
        col("f", ColumnType::Float64, ""),
        col("money", ColumnType::Money, ""),
        col_null("qty", ColumnType::Quantity, ""),
        col("day", ColumnType::Date, ""),
        col_null("at", ColumnType::DateTime, ""),
        col("a32", ColumnType::ArrayUInt32, ""),
        col("a64", ColumnType::ArrayUInt64, ""),
        col_null("note", ColumnType::String, ""),
    ],
    key: &["id"],
};

/// A decimal value from a literal (`"-12.34"`).
pub fn dec(s: &str) -> Value {
    Value::Dec(Decimal::from_str(s).expect("decimal literal"))
}
