//! `gigstream sql`: SQL over the embedded tables with DataFusion.
//!
//! Every committed table under `<data-dir>/tables` is registered under its own name (the name
//! the ClickHouse table has); a table several services write (`dead_letters`, `positions`) is
//! registered once over all their files. `SHOW TABLES` works (information_schema is on).

use anyhow::{Context, Result};
use arrow::record_batch::RecordBatch;
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::{
    ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl,
};
use datafusion::prelude::{SessionConfig, SessionContext};
use std::path::Path;
use std::sync::Arc;

/// Output formats of `gigstream sql`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Table,
    Csv,
    Json,
}

/// A DataFusion session with every committed table registered.
pub async fn session(tables_dir: &Path) -> Result<SessionContext> {
    let config = SessionConfig::new().with_information_schema(true);
    let ctx = SessionContext::new_with_config(config);
    let tables = gigstream_parquet::committed_tables(tables_dir)?;
    for (name, files) in tables {
        let urls = files
            .iter()
            .map(|f| {
                let abs = std::fs::canonicalize(f)
                    .with_context(|| format!("cannot resolve {}", f.display()))?;
                ListingTableUrl::parse(abs.to_string_lossy())
                    .with_context(|| format!("bad table path {}", abs.display()))
            })
            .collect::<Result<Vec<_>>>()?;
        let opts =
            ListingOptions::new(Arc::new(ParquetFormat::default())).with_file_extension(".parquet");
        let config = ListingTableConfig::new_with_multi_paths(urls)
            .with_listing_options(opts)
            .infer_schema(&ctx.state())
            .await
            .with_context(|| format!("cannot read the schema of table {name}"))?;
        let table = ListingTable::try_new(config)?;
        ctx.register_table(name.as_str(), Arc::new(table))?;
    }
    Ok(ctx)
}

/// Runs one query and returns its batches.
pub async fn query(ctx: &SessionContext, sql: &str) -> Result<Vec<RecordBatch>> {
    let df = ctx
        .sql(sql)
        .await
        .with_context(|| format!("query failed: {sql}"))?;
    df.collect()
        .await
        .with_context(|| format!("query failed: {sql}"))
}

/// Renders batches in the chosen format.
pub fn render(batches: &[RecordBatch], format: Format) -> Result<String> {
    Ok(match format {
        Format::Table => arrow::util::pretty::pretty_format_batches(batches)?.to_string(),
        Format::Csv => {
            let mut buf = Vec::new();
            {
                let mut w = arrow::csv::WriterBuilder::new()
                    .with_header(true)
                    .build(&mut buf);
                for b in batches {
                    w.write(&nested_as_text(b)?)?;
                }
            }
            String::from_utf8(buf)?
        }
        Format::Json => {
            let mut buf = Vec::new();
            {
                let mut w = arrow::json::LineDelimitedWriter::new(&mut buf);
                for b in batches {
                    w.write(b)?;
                }
                w.finish()?;
            }
            String::from_utf8(buf)?
        }
    })
}

/// CSV has no arrays: nested columns (the latency histograms) are written as text like `[1, 2]`.
fn nested_as_text(batch: &RecordBatch) -> Result<RecordBatch> {
    use arrow::array::{ArrayRef, StringBuilder};
    use arrow::datatypes::{DataType, Field, Schema};
    use arrow::util::display::{ArrayFormatter, FormatOptions};
    if !batch
        .schema()
        .fields()
        .iter()
        .any(|f| f.data_type().is_nested())
    {
        return Ok(batch.clone());
    }
    let mut fields = Vec::new();
    let mut columns: Vec<ArrayRef> = Vec::new();
    for (f, c) in batch.schema().fields().iter().zip(batch.columns()) {
        if f.data_type().is_nested() {
            let fmt = ArrayFormatter::try_new(c.as_ref(), &FormatOptions::default())?;
            let mut b = StringBuilder::new();
            for i in 0..c.len() {
                if c.is_null(i) {
                    b.append_null();
                } else {
                    b.append_value(fmt.value(i).to_string());
                }
            }
            fields.push(Field::new(f.name(), DataType::Utf8, true));
            columns.push(Arc::new(b.finish()));
        } else {
            fields.push(f.as_ref().clone());
            columns.push(c.clone());
        }
    }
    Ok(RecordBatch::try_new(
        Arc::new(Schema::new(fields)),
        columns,
    )?)
}

/// `gigstream sql QUERY`.
pub fn run(tables_dir: &Path, sql: &str, format: Format) -> Result<String> {
    if !tables_dir.exists() {
        anyhow::bail!(
            "no tables at {}: run `gigstream demo` (or the services) first, or point --data-dir at a data directory",
            tables_dir.display()
        );
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let ctx = session(tables_dir).await?;
        let batches = query(&ctx, sql).await?;
        render(&batches, format)
    })
}
