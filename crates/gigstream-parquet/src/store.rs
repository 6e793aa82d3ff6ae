//! The embedded tables: Parquet files per table and time bucket, plus the checkpoint, switched
//! atomically through a manifest.
//!
//! ```text
//! <tables>/<service>/CURRENT                           the name of the committed manifest
//! <tables>/<service>/manifest-00000042.json            generation 42: every table's files, the checkpoint
//! <tables>/<service>/chunks/pack-g00000042.bin        the checkpoint chunks new in generation 42, end to end
//! <tables>/<service>/<table>/<bucket>.g00000041.parquet  one bucket of a table, as written by generation 41
//! ```
//!
//! A table's rows are split into buckets by the first date or time column of its key: a UTC
//! month for a `Date`, a UTC day for a `DateTime` (`sla_minute` has a file per day), one
//! bucket for tables without one. A commit applies the changes it is given (upserts replacing
//! the row of their key, deletes) to the buckets they touch only: it reads each such bucket,
//! writes it anew under the new generation's name, then writes the checkpoint's new chunks
//! (one pack file per commit, see [`ChunkRef`]) and the new manifest, and makes the manifest
//! current by renaming `CURRENT`. A crash at any point leaves
//! the old or the new manifest, never a mix, so the tables and the offsets they were computed
//! from always agree; files no manifest names any more are removed after the switch. What a
//! commit costs follows what changed, not the size of the tables.

use crate::arrow_conv::columns_to_record_batch;
use crate::read::read_table;
use arrow::record_batch::RecordBatch;
use gigstream_core::changes::{key_of, key_positions, TableChanges};
use gigstream_core::columns::{ColumnData, ColumnTable};
use gigstream_core::table::{compare_keys, ColumnType, TableData, TableDef, Value};
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, Encoding};
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use parquet::schema::types::ColumnPath;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

const CURRENT: &str = "CURRENT";
/// The bucket of a table without rows: an empty file, so that the table exists for SQL.
const EMPTY_BUCKET: &str = "empty";

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot write {path}: {source} (is the disk full or the data directory read-only?)")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot encode table {table} as Parquet: {message}")]
    Encode { table: String, message: String },
    #[error("the tables directory {path} is damaged: {message}; remove it and run again to rebuild from the log")]
    Damaged { path: PathBuf, message: String },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> StoreError + '_ {
    move |source| StoreError::Io {
        path: path.to_path_buf(),
        source,
    }
}

fn sync_dir(path: &Path) -> Result<(), StoreError> {
    File::open(path)
        .and_then(|f| f.sync_all())
        .map_err(io(path))
}

fn write_synced(path: &Path, bytes: &[u8]) -> Result<(), StoreError> {
    let mut f = File::create(path).map_err(io(path))?;
    f.write_all(bytes)
        .and_then(|_| f.sync_all())
        .map_err(io(path))
}

/// One committed generation of a service: which file holds each bucket of each table, and the
/// checkpoint. Paths are relative to the service's directory.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub generation: u64,
    /// The checkpoint's chunks as files of their own (`chunks/<hash>.bin`), in order: the
    /// layout before packs, still read; a commit writes [`Manifest::checkpoint`] instead.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub checkpoint_chunks: Vec<String>,
    /// The checkpoint's content-defined chunks, in order, each where a pack holds it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub checkpoint: Vec<ChunkRef>,
    /// The pack files [`Manifest::checkpoint`] refers to, with their sizes in bytes.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub packs: BTreeMap<String, u64>,
    /// Table → bucket → file.
    pub tables: BTreeMap<String, BTreeMap<String, String>>,
}

/// Where one checkpoint chunk is: `(hash, pack, offset, length)`, the hash as hex.
///
/// A commit writes the chunks its checkpoint has and the previous one had not into one pack
/// file (`chunks/pack-g<generation>.bin`), one create and one fsync whatever their number,
/// and refers to the unchanged ones where they already are. A pack stays while a chunk in it
/// is referred to; when less than half of a pack is still referred to, the next commit copies
/// those chunks into its own pack, so the packs on disk stay within about twice the
/// checkpoint's size.
pub type ChunkRef = (String, String, u64, u64);

/// One chunk of a committed checkpoint: the file, and the byte range in it (`None`: the
/// whole file, the layout before packs), with the hash it must have.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChunkLocation {
    pub path: PathBuf,
    pub range: Option<(u64, u64)>,
    pub hash: Option<u128>,
}

/// A service's committed tables as of one generation: what readers read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    pub generation: u64,
    /// The checkpoint's chunks, in order.
    pub checkpoint: Vec<ChunkLocation>,
    /// Table → its files, in bucket order.
    pub tables: BTreeMap<String, Vec<PathBuf>>,
}

impl Snapshot {
    /// Every row of `def` in this generation, sorted by key.
    pub fn read(&self, def: &TableDef) -> Result<Vec<Vec<Value>>, StoreError> {
        let mut rows = Vec::new();
        for f in self.tables.get(def.name).into_iter().flatten() {
            rows.extend(read_table(f, def)?);
        }
        let keys = key_positions(def);
        rows.sort_by(|a, b| compare_keys(&key_of(a, &keys), &key_of(b, &keys)));
        Ok(rows)
    }
}

/// The bucket of a row of `def`: the UTC month of the first `Date` key column, the UTC day of
/// the first `DateTime` key column, else one bucket.
fn bucket_of(def: &TableDef, row: &[Value]) -> String {
    for k in def.key {
        let Some(i) = def.columns.iter().position(|c| c.name == *k) else {
            continue;
        };
        match (def.columns[i].ty, &row[i]) {
            (ColumnType::Date, Value::Date(d)) => {
                let date =
                    gigstream_core::time::date_of(i64::from(*d) * gigstream_core::time::DAY_MS);
                return date.format("%Y-%m").to_string();
            }
            (ColumnType::DateTime, Value::DateTime(s)) => {
                let date = gigstream_core::time::date_of(s * 1000);
                return date.format("%Y-%m-%d").to_string();
            }
            (ColumnType::Date | ColumnType::DateTime, _) => return "none".to_string(),
            _ => {}
        }
    }
    "all".to_string()
}

/// The bucket of a deleted key: the key's columns hold the bucket column (it is the first
/// date or time column of the key).
fn delete_bucket(def: &TableDef, key: &[Value]) -> String {
    let mut row = vec![Value::Null; def.columns.len()];
    for (k, v) in key_positions(def).iter().zip(key) {
        row[*k] = v.clone();
    }
    bucket_of(def, &row)
}

/// The rows of `t` by bucket ([`bucket_of`]), read from the columns.
fn bucket_rows(def: &TableDef, t: &ColumnTable) -> BTreeMap<String, Vec<usize>> {
    let mut out: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    if t.num_rows() == 0 {
        return out;
    }
    let at = def.key.iter().find_map(|k| {
        let i = def.columns.iter().position(|c| c.name == *k)?;
        matches!(def.columns[i].ty, ColumnType::Date | ColumnType::DateTime).then_some(i)
    });
    let Some(at) = at else {
        out.insert("all".to_string(), (0..t.num_rows()).collect());
        return out;
    };
    let col = &t.columns()[at];
    // A bucket per day seen (rows come in runs of the same day), named once.
    let mut slots: HashMap<Option<i64>, usize> = HashMap::new();
    let mut buckets: Vec<Vec<usize>> = Vec::new();
    let mut days: Vec<Option<i64>> = Vec::new();
    let mut last: Option<(Option<i64>, usize)> = None;
    for i in 0..t.num_rows() {
        let day = match &col.data {
            _ if col.is_null(i) => None,
            ColumnData::Date(v) => Some(i64::from(v[i])),
            ColumnData::DateTime(v) => Some(v[i].div_euclid(86_400)),
            _ => None,
        };
        let slot = match last {
            Some((d, slot)) if d == day => slot,
            _ => {
                let slot = *slots.entry(day).or_insert_with(|| {
                    buckets.push(Vec::new());
                    days.push(day);
                    buckets.len() - 1
                });
                last = Some((day, slot));
                slot
            }
        };
        buckets[slot].push(i);
    }
    for (day, rows) in days.into_iter().zip(buckets) {
        let mut row = vec![Value::Null; def.columns.len()];
        row[at] = match (&col.data, day) {
            (ColumnData::Date(_), Some(d)) => Value::Date(d as i32),
            (ColumnData::DateTime(_), Some(d)) => Value::DateTime(d * 86_400),
            _ => Value::Null,
        };
        // Several days make one month's bucket: their rows go together, in row order.
        out.entry(bucket_of(def, &row)).or_default().extend(rows);
    }
    for rows in out.values_mut() {
        if rows.windows(2).any(|w| w[0] > w[1]) {
            rows.sort_unstable();
        }
    }
    out
}

/// The committed tables of every service under `<data-dir>/tables`.
#[derive(Debug, Clone)]
pub struct ParquetStore {
    root: PathBuf,
    /// The current manifest of each service this store has committed or read.
    manifests: HashMap<String, Manifest>,
}

impl ParquetStore {
    pub fn new(tables_dir: impl Into<PathBuf>) -> ParquetStore {
        ParquetStore {
            root: tables_dir.into(),
            manifests: HashMap::new(),
        }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    fn service_dir(&self, service: &str) -> PathBuf {
        self.root.join(service)
    }

    /// The committed generation of a service (`None` before its first commit).
    pub fn snapshot(&self, service: &str) -> Result<Option<Snapshot>, StoreError> {
        let dir = self.service_dir(service);
        Ok(current_manifest(&dir)?.map(|m| snapshot_of(&dir, &m)))
    }

    /// The generation number committed now (`None` before the first commit): a reader checks
    /// it did not change while it read.
    pub fn generation(&self, service: &str) -> Result<Option<u64>, StoreError> {
        Ok(current_manifest(&self.service_dir(service))?.map(|m| m.generation))
    }

    /// The checkpoint committed with the service's current tables.
    pub fn load_checkpoint(&self, service: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let Some(s) = self.snapshot(service)? else {
            return Ok(None);
        };
        let mut out = Vec::new();
        // Each pack is read once, however many of its chunks the checkpoint has.
        let mut files: HashMap<&Path, Vec<u8>> = HashMap::new();
        for c in &s.checkpoint {
            if !files.contains_key(c.path.as_path()) {
                let bytes = fs::read(&c.path).map_err(io(&c.path))?;
                files.insert(c.path.as_path(), bytes);
            }
            let file = &files[c.path.as_path()];
            let bytes = match c.range {
                None => &file[..],
                Some((offset, len)) => usize::try_from(offset)
                    .ok()
                    .zip(usize::try_from(offset + len).ok())
                    .and_then(|(a, b)| file.get(a..b))
                    .ok_or_else(|| StoreError::Damaged {
                        path: c.path.clone(),
                        message: format!(
                            "the checkpoint pack is shorter ({} bytes) than the chunk at {offset}+{len} it should hold",
                            file.len()
                        ),
                    })?,
            };
            if let Some(h) = c.hash {
                if gigstream_runtime::chunks::name_of(bytes) != h {
                    return Err(StoreError::Damaged {
                        path: c.path.clone(),
                        message: format!(
                            "checkpoint chunk {} does not match its hash",
                            gigstream_runtime::chunks::hex(h)
                        ),
                    });
                }
            }
            out.extend_from_slice(bytes);
        }
        Ok(Some(out))
    }

    /// Applies `changes` to the tables and stores `checkpoint` with them, as one atomic step;
    /// returns the new generation. Every table in `changes` exists afterwards (an empty one as
    /// an empty file).
    pub fn commit_changes(
        &mut self,
        service: &str,
        changes: &[&TableChanges],
        checkpoint: &[u8],
    ) -> Result<u64, StoreError> {
        let dir = self.service_dir(service);
        let started = Instant::now();
        fs::create_dir_all(&dir).map_err(io(&dir))?;
        let old = match self.manifests.get(service) {
            Some(m) => m.clone(),
            None => current_manifest(&dir)?.unwrap_or_default(),
        };
        let generation = old.generation + 1;
        let mut new = Manifest {
            generation,
            tables: old.tables.clone(),
            ..Manifest::default()
        };
        // Changes per table and bucket, in order (a later change of a key wins). A bucket
        // that does not exist yet and has no delete is gathered straight from the columns of
        // the change sets that upsert into it (sorted by key); the others are merged with what
        // their file holds, row by row.
        let mut defs: BTreeMap<&'static str, &'static TableDef> = BTreeMap::new();
        let mut deleted: BTreeSet<(&'static str, String)> = BTreeSet::new();
        for c in changes {
            let def = c.def();
            defs.insert(def.name, def);
            for key in &c.deletes {
                deleted.insert((def.name, delete_bucket(def, key)));
            }
        }
        let mut touched: BTreeMap<(&'static str, String), Vec<Change>> = BTreeMap::new();
        // New buckets: (change set, row) in the order given.
        let mut fresh: BTreeMap<(&'static str, String), Vec<(usize, usize)>> = BTreeMap::new();
        for (n, c) in changes.iter().enumerate() {
            let def = c.def();
            let keys = key_positions(def);
            for (b, rows) in bucket_rows(def, &c.upserts) {
                let exists = old.tables.get(def.name).is_some_and(|m| m.contains_key(&b));
                let id = (def.name, b);
                if !exists && !deleted.contains(&id) {
                    fresh
                        .entry(id)
                        .or_default()
                        .extend(rows.into_iter().map(|r| (n, r)));
                    continue;
                }
                let list = touched.entry(id).or_default();
                for i in rows {
                    let row = c.upserts.row(i);
                    list.push(Change::Upsert(key_of(&row, &keys), row));
                }
            }
            for key in &c.deletes {
                touched
                    .entry((def.name, delete_bucket(def, key)))
                    .or_default()
                    .push(Change::Delete(key.clone()));
            }
        }
        let bucketed = started.elapsed();
        let (mut gathering, mut encoding) = (std::time::Duration::ZERO, std::time::Duration::ZERO);
        let sources: Vec<&ColumnTable> = changes.iter().map(|c| &c.upserts).collect();
        for ((table, bucket), mut picks) in fresh {
            let t0 = Instant::now();
            let def = defs[table];
            let keys = key_positions(def);
            let cmp = |a: &(usize, usize), b: &(usize, usize)| {
                sources[a.0].cmp_rows(&keys, a.1, sources[b.0], b.1)
            };
            // Sorted by key; of equal keys the last one wins (a stable sort keeps their order).
            picks.sort_by(cmp);
            let mut keep = Vec::with_capacity(picks.len());
            for (n, p) in picks.iter().enumerate() {
                if !picks.get(n + 1).is_some_and(|q| cmp(p, q).is_eq()) {
                    keep.push(*p);
                }
            }
            let columns =
                ColumnTable::gather(def, &sources, &keep).map_err(|e| StoreError::Encode {
                    table: e.table.to_string(),
                    message: e.message,
                })?;
            let file = bucket_file(table, &bucket, generation);
            let path = dir.join(&file);
            if let Some(parent) = path.parent() {
                fs::create_dir_all(parent).map_err(io(parent))?;
            }
            let t1 = Instant::now();
            gathering += t1 - t0;
            write_parquet(&path, &columns)?;
            encoding += t1.elapsed();
            let buckets = new.tables.entry(table.to_string()).or_default();
            buckets.insert(bucket, file);
            buckets.remove(EMPTY_BUCKET);
        }
        let fresh_done = started.elapsed();
        for ((table, bucket), list) in touched {
            let def = defs[table];
            let buckets = new.tables.entry(table.to_string()).or_default();
            let mut rows: BTreeMap<KeyOrd, Vec<Value>> = BTreeMap::new();
            if let Some(file) = buckets.get(&bucket) {
                let keys = key_positions(def);
                for row in read_table(&dir.join(file), def)? {
                    rows.insert(KeyOrd(key_of(&row, &keys)), row);
                }
            }
            for c in list {
                match c {
                    Change::Upsert(key, row) => {
                        rows.insert(KeyOrd(key), row);
                    }
                    Change::Delete(key) => {
                        rows.remove(&KeyOrd(key));
                    }
                }
            }
            if rows.is_empty() {
                buckets.remove(&bucket);
                continue;
            }
            let mut data = TableData::new(def);
            data.rows = rows.into_values().collect();
            let file = bucket_file(table, &bucket, generation);
            write_table(&dir, &file, &data)?;
            buckets.insert(bucket, file);
            buckets.remove(EMPTY_BUCKET);
        }
        // Every table named in the commit exists: an empty one as an empty file.
        for (table, def) in &defs {
            let buckets = new.tables.entry(table.to_string()).or_default();
            if buckets.is_empty() {
                let file = bucket_file(table, EMPTY_BUCKET, generation);
                write_table(&dir, &file, &TableData::new(def))?;
                buckets.insert(EMPTY_BUCKET.to_string(), file);
            }
        }
        let tables_done = started.elapsed();
        let chunk_dir = dir.join("chunks");
        fs::create_dir_all(&chunk_dir).map_err(io(&chunk_dir))?;
        let packed = pack_checkpoint(&old, checkpoint, generation);
        if let Some((file, bytes)) = &packed.pack {
            write_synced(&dir.join(file), bytes)?;
            sync_dir(&chunk_dir)?;
        }
        new.checkpoint = packed.refs;
        new.packs = packed.packs;
        let name = format!("manifest-{generation:08}.json");
        let json = serde_json::to_vec(&new).expect("a manifest serialises");
        write_synced(&dir.join(&name), &json)?;
        for t in new.tables.keys() {
            let d = dir.join(t);
            if d.is_dir() {
                sync_dir(&d)?;
            }
        }
        sync_dir(&dir)?;
        let cur_tmp = dir.join("CURRENT.tmp");
        write_synced(&cur_tmp, name.as_bytes())?;
        fs::rename(&cur_tmp, dir.join(CURRENT)).map_err(io(&dir))?;
        sync_dir(&dir)?;
        let switched = started.elapsed();
        remove_unreferenced(&dir, &new, &name);
        tracing::debug!(
            service,
            generation,
            bucketing_ms = bucketed.as_millis() as u64,
            new_buckets_ms = (fresh_done - bucketed).as_millis() as u64,
            of_which_sorting_and_gathering_ms = gathering.as_millis() as u64,
            of_which_writing_ms = encoding.as_millis() as u64,
            merged_buckets_ms = (tables_done - fresh_done).as_millis() as u64,
            checkpoint_and_switch_ms = (switched - tables_done).as_millis() as u64,
            cleanup_ms = (started.elapsed() - switched).as_millis() as u64,
            "tables committed"
        );
        self.manifests.insert(service.to_string(), new);
        Ok(generation)
    }

    /// Replaces the whole content of each of `tables` (and stores `checkpoint`): for tools and
    /// tests that have tables, not changes.
    pub fn commit(
        &mut self,
        service: &str,
        tables: &[TableData],
        checkpoint: &[u8],
    ) -> Result<u64, StoreError> {
        let dir = self.service_dir(service);
        let current = current_manifest(&dir)?.unwrap_or_default();
        let mut changes = Vec::new();
        for t in tables {
            let mut c = TableChanges::upserts(t).map_err(|e| StoreError::Encode {
                table: e.table.to_string(),
                message: e.message,
            })?;
            let keys = key_positions(t.def);
            let fresh: BTreeSet<KeyOrd> = t.rows.iter().map(|r| KeyOrd(key_of(r, &keys))).collect();
            for file in current
                .tables
                .get(t.def.name)
                .into_iter()
                .flat_map(|b| b.values())
            {
                for row in read_table(&dir.join(file), t.def)? {
                    let key = key_of(&row, &keys);
                    if !fresh.contains(&KeyOrd(key.clone())) {
                        c.deletes.push(key);
                    }
                }
            }
            changes.push(c);
        }
        let refs: Vec<&TableChanges> = changes.iter().collect();
        self.commit_changes(service, &refs, checkpoint)
    }
}

/// A checkpoint as a commit stores it: see [`pack_checkpoint`].
struct Packed {
    refs: Vec<ChunkRef>,
    packs: BTreeMap<String, u64>,
    /// The new pack's file name and content.
    pack: Option<(String, Vec<u8>)>,
}

/// The chunk references of `checkpoint` as generation `generation` stores it, the packs they
/// are in (with their sizes) and the new pack to write (its name and content), if any chunk
/// is new or moves out of a mostly unreferenced pack of `old`.
fn pack_checkpoint(old: &Manifest, checkpoint: &[u8], generation: u64) -> Packed {
    use gigstream_runtime::chunks::{hex, split};
    let pieces = split(checkpoint);
    // Where the previous generation has each chunk.
    let mut known: HashMap<&str, (&str, u64, u64)> = HashMap::with_capacity(old.checkpoint.len());
    for (h, pack, offset, len) in &old.checkpoint {
        known.insert(h.as_str(), (pack.as_str(), *offset, *len));
    }
    let hexes: Vec<String> = pieces.iter().map(|(h, _)| hex(*h)).collect();
    // How much of each old pack the new checkpoint still refers to (each chunk counted once).
    let mut live: HashMap<&str, u64> = HashMap::new();
    let mut seen: BTreeSet<&str> = BTreeSet::new();
    for h in &hexes {
        if let Some((pack, _, len)) = known.get(h.as_str()) {
            if seen.insert(h.as_str()) {
                *live.entry(pack).or_default() += len;
            }
        }
    }
    // Packs mostly unreferenced now: their live chunks move into the new pack.
    let sparse: BTreeSet<&str> = live
        .iter()
        .filter(|(pack, bytes)| {
            let size = old.packs.get(**pack).copied().unwrap_or(0);
            **bytes * 2 < size
        })
        .map(|(pack, _)| *pack)
        .collect();
    let name = format!("chunks/pack-g{generation:08}.bin");
    let mut out: Vec<u8> = Vec::new();
    let mut placed: HashMap<&str, (u64, u64)> = HashMap::new();
    let mut refs = Vec::with_capacity(pieces.len());
    let mut packs: BTreeMap<String, u64> = BTreeMap::new();
    for ((_, range), h) in pieces.iter().zip(&hexes) {
        if let Some(&(offset, len)) = placed.get(h.as_str()) {
            refs.push((h.clone(), name.clone(), offset, len));
            continue;
        }
        match known.get(h.as_str()) {
            Some(&(pack, offset, len)) if !sparse.contains(pack) => {
                packs.insert(pack.to_string(), old.packs.get(pack).copied().unwrap_or(0));
                refs.push((h.clone(), pack.to_string(), offset, len));
            }
            _ => {
                // New, or moved out of a sparse pack (the same bytes: they hash the same).
                let offset = out.len() as u64;
                out.extend_from_slice(&checkpoint[range.clone()]);
                let len = range.len() as u64;
                placed.insert(h.as_str(), (offset, len));
                refs.push((h.clone(), name.clone(), offset, len));
            }
        }
    }
    if out.is_empty() {
        return Packed {
            refs,
            packs,
            pack: None,
        };
    }
    packs.insert(name.clone(), out.len() as u64);
    Packed {
        refs,
        packs,
        pack: Some((name, out)),
    }
}

enum Change {
    Upsert(Vec<Value>, Vec<Value>),
    Delete(Vec<Value>),
}

/// A key ordered by [`compare_keys`].
#[derive(Debug, Clone)]
struct KeyOrd(Vec<Value>);

impl PartialEq for KeyOrd {
    fn eq(&self, other: &Self) -> bool {
        compare_keys(&self.0, &other.0).is_eq()
    }
}
impl Eq for KeyOrd {}
impl PartialOrd for KeyOrd {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for KeyOrd {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        compare_keys(&self.0, &other.0)
    }
}

fn bucket_file(table: &str, bucket: &str, generation: u64) -> String {
    format!("{table}/{bucket}.g{generation:08}.parquet")
}

fn write_table(dir: &Path, file: &str, data: &TableData) -> Result<(), StoreError> {
    let path = dir.join(file);
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).map_err(io(parent))?;
    }
    let columns = ColumnTable::from_rows(data).map_err(|e| StoreError::Encode {
        table: e.table.to_string(),
        message: e.message,
    })?;
    write_parquet(&path, &columns)
}

/// Removes what the current manifest (`current`, named `name`) does not name: older
/// manifests, checkpoints and bucket files. A failure only wastes disk.
fn remove_unreferenced(dir: &Path, current: &Manifest, name: &str) {
    let mut keep: BTreeSet<PathBuf> = current
        .tables
        .values()
        .flat_map(|b| b.values())
        .map(|f| dir.join(f))
        .collect();
    keep.extend(current.checkpoint_chunks.iter().map(|c| dir.join(c)));
    keep.extend(current.packs.keys().map(|p| dir.join(p)));
    keep.insert(dir.join(name));
    keep.insert(dir.join(CURRENT));
    let remove = |p: &Path| {
        if let Err(err) = fs::remove_file(p) {
            tracing::warn!(path = %p.display(), %err, "could not remove an old table file");
        }
    };
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        let file_name = e.file_name().to_string_lossy().into_owned();
        if p.is_dir() {
            if file_name.starts_with("gen-") {
                // The layout before buckets: one directory per generation.
                let _ = fs::remove_dir_all(&p);
                continue;
            }
            if let Ok(files) = fs::read_dir(&p) {
                for f in files.flatten() {
                    let fp = f.path();
                    let ours = fp.extension().is_some_and(|x| x == "parquet" || x == "bin");
                    if ours && !keep.contains(&fp) {
                        remove(&fp);
                    }
                }
            }
        } else if (file_name.starts_with("manifest-") || file_name.starts_with("checkpoint-"))
            && !keep.contains(&p)
        {
            remove(&p);
        }
    }
}

fn current_manifest(service_dir: &Path) -> Result<Option<Manifest>, StoreError> {
    let cur = service_dir.join(CURRENT);
    let name = match fs::read_to_string(&cur) {
        Ok(n) => n,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(StoreError::Io {
                path: cur,
                source: e,
            })
        }
    };
    let name = name.trim();
    if name.starts_with("gen-") {
        return Err(StoreError::Damaged {
            path: service_dir.to_path_buf(),
            message: format!(
                "CURRENT names {name}, a generation of an earlier layout (one directory of whole tables per commit)"
            ),
        });
    }
    let path = service_dir.join(name);
    let bytes = match fs::read(&path) {
        Ok(b) => b,
        Err(_) => {
            return Err(StoreError::Damaged {
                path: service_dir.to_path_buf(),
                message: format!("CURRENT names {name} which is missing"),
            })
        }
    };
    let m: Manifest = serde_json::from_slice(&bytes).map_err(|e| StoreError::Damaged {
        path: path.clone(),
        message: format!("the manifest cannot be read: {e}"),
    })?;
    Ok(Some(m))
}

fn snapshot_of(dir: &Path, m: &Manifest) -> Snapshot {
    Snapshot {
        generation: m.generation,
        checkpoint: if m.checkpoint_chunks.is_empty() {
            m.checkpoint
                .iter()
                .map(|(h, pack, offset, len)| ChunkLocation {
                    path: dir.join(pack),
                    range: Some((*offset, *len)),
                    hash: u128::from_str_radix(h, 16).ok(),
                })
                .collect()
        } else {
            m.checkpoint_chunks
                .iter()
                .map(|c| ChunkLocation {
                    path: dir.join(c),
                    range: None,
                    hash: None,
                })
                .collect()
        },
        tables: m
            .tables
            .iter()
            .map(|(t, buckets)| (t.clone(), buckets.values().map(|f| dir.join(f)).collect()))
            .collect(),
    }
}

fn write_parquet(path: &Path, t: &ColumnTable) -> Result<(), StoreError> {
    let name = t.def().name;
    let enc = |message: String| StoreError::Encode {
        table: name.to_string(),
        message,
    };
    let started = Instant::now();
    let batch: RecordBatch = columns_to_record_batch(t).map_err(|e| enc(e.to_string()))?;
    let file = File::create(path).map_err(io(path))?;
    let props = writer_properties(t.def());
    let mut w =
        ArrowWriter::try_new(file, batch.schema(), Some(props)).map_err(|e| enc(e.to_string()))?;
    w.write(&batch).map_err(|e| enc(e.to_string()))?;
    let file = w.into_inner().map_err(|e| enc(e.to_string()))?;
    let written = started.elapsed();
    file.sync_all().map_err(io(path))?;
    tracing::debug!(
        table = name,
        rows = t.num_rows(),
        encode_ms = written.as_millis() as u64,
        sync_ms = (started.elapsed() - written).as_millis() as u64,
        "table written"
    );
    Ok(())
}

/// How a bucket of a table is encoded:
/// - statistics per column chunk, not per page: readers prune row groups with them, and the
///   tables are small enough that page indexes would not pay for their cost;
/// - dictionary encoding (the default) for most columns: turning it off for the mostly distinct
///   ones saved no measurable time and doubled the files, which then take longer to write and
///   sync;
/// - except date and time columns of the key (a service's minutes, a day's rows): they are
///   sorted within each run of the other key columns, so delta encoding stores them in a
///   fraction of the space and faster than dictionary encoding (`sla_minute.minute`: 1.7 MB
///   to 0.1 MB, and less CPU);
/// - Snappy compression, which is cheap and keeps the files small.
fn writer_properties(def: &TableDef) -> WriterProperties {
    let mut props = WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .set_statistics_enabled(EnabledStatistics::Chunk);
    for c in def.columns {
        if def.key.contains(&c.name) && matches!(c.ty, ColumnType::Date | ColumnType::DateTime) {
            let path = ColumnPath::from(c.name);
            props = props
                .set_column_dictionary_enabled(path.clone(), false)
                .set_column_encoding(path, Encoding::DELTA_BINARY_PACKED);
        }
    }
    props.build()
}

/// Table name → Parquet files holding it, over every service's committed generation under
/// `tables_dir` (a table written by several services, like `dead_letters`, has the files of
/// each).
pub fn committed_tables(tables_dir: &Path) -> Result<BTreeMap<String, Vec<PathBuf>>, StoreError> {
    let mut out: BTreeMap<String, Vec<PathBuf>> = BTreeMap::new();
    let entries = match fs::read_dir(tables_dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
        Err(e) => {
            return Err(StoreError::Io {
                path: tables_dir.to_path_buf(),
                source: e,
            })
        }
    };
    let mut services: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    services.sort();
    for s in services {
        if let Some(m) = current_manifest(&s)? {
            for (table, files) in snapshot_of(&s, &m).tables {
                out.entry(table).or_default().extend(files);
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use gigstream_core::table::{col, col_null, ColumnType, TableDef};

    static T: TableDef = TableDef {
        name: "things",
        doc: "",
        columns: &[col("n", ColumnType::UInt64, "")],
        key: &["n"],
    };

    static DAYS: TableDef = TableDef {
        name: "days",
        doc: "",
        columns: &[
            col("s", ColumnType::String, ""),
            col("day", ColumnType::Date, ""),
            col("v", ColumnType::UInt64, ""),
        ],
        key: &["s", "day"],
    };

    fn day_rows(rows: &[(&str, i32, u64)]) -> TableData {
        let mut t = TableData::new(&DAYS);
        for (s, d, v) in rows {
            t.push(vec![Value::from(*s), Value::Date(*d), Value::U64(*v)]);
        }
        t
    }

    #[test]
    fn commits_are_atomic_generations() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = ParquetStore::new(dir.path());
        assert!(store.load_checkpoint("svc").unwrap().is_none());
        let mut t = TableData::new(&T);
        t.push(vec![1u64.into()]);
        store
            .commit("svc", std::slice::from_ref(&t), b"one")
            .unwrap();
        store.commit("svc", &[t], b"two").unwrap();
        assert_eq!(store.load_checkpoint("svc").unwrap().unwrap(), b"two");
        let manifests: Vec<_> = fs::read_dir(dir.path().join("svc"))
            .unwrap()
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().starts_with("manifest-"))
            .collect();
        assert_eq!(manifests.len(), 1, "old manifests removed");
        let tables = committed_tables(dir.path()).unwrap();
        assert_eq!(tables["things"].len(), 1);
    }

    #[test]
    fn a_commit_rewrites_only_the_buckets_it_changes() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = ParquetStore::new(dir.path());
        // Days 0 and 40 are in two months: two buckets.
        let all = day_rows(&[("a", 0, 1), ("a", 40, 2), ("b", 41, 3)]);
        store.commit("svc", &[all], b"").unwrap();
        let before = store.snapshot("svc").unwrap().unwrap();
        assert_eq!(before.tables["days"].len(), 2);

        // Change a row of the second month and delete another one of it.
        let mut c = TableChanges::upserts(&day_rows(&[("a", 40, 20)])).unwrap();
        c.deletes.push(vec![Value::from("b"), Value::Date(41)]);
        store.commit_changes("svc", &[&c], b"ck").unwrap();
        let after = store.snapshot("svc").unwrap().unwrap();
        assert_eq!(
            after.tables["days"][0], before.tables["days"][0],
            "January untouched"
        );
        assert_ne!(after.tables["days"][1], before.tables["days"][1]);
        assert!(
            !before.tables["days"][1].exists(),
            "the replaced file is removed"
        );
        assert_eq!(
            after.read(&DAYS).unwrap(),
            day_rows(&[("a", 0, 1), ("a", 40, 20)]).rows
        );

        // Deleting the last rows of a table leaves it empty, not missing.
        let mut c = TableChanges::none(&DAYS);
        c.deletes = vec![
            vec![Value::from("a"), Value::Date(0)],
            vec![Value::from("a"), Value::Date(40)],
        ];
        store.commit_changes("svc", &[&c], b"").unwrap();
        let empty = store.snapshot("svc").unwrap().unwrap();
        assert_eq!(empty.tables["days"].len(), 1);
        assert!(empty.read(&DAYS).unwrap().is_empty());
        // A reopened store sees the same.
        let reopened = ParquetStore::new(dir.path());
        assert_eq!(reopened.snapshot("svc").unwrap().unwrap(), empty);
    }

    #[test]
    fn time_keys_are_delta_encoded_and_read_back() {
        static TIMES: TableDef = TableDef {
            name: "times",
            doc: "",
            columns: &[
                col("s", ColumnType::String, ""),
                col("day", ColumnType::Date, ""),
                col("at", ColumnType::DateTime, ""),
                col_null("seen", ColumnType::DateTime, ""),
            ],
            key: &["s", "day", "at"],
        };
        let mut t = TableData::new(&TIMES);
        for i in 0..5_000i64 {
            t.push(vec![
                Value::from(if i < 2_500 { "a" } else { "b" }),
                Value::Date(3),
                Value::DateTime(1_700_000_000 + (i % 2_500) * 60),
                if i % 7 == 0 {
                    Value::Null
                } else {
                    Value::DateTime(i * 13)
                },
            ]);
        }
        let dir = tempfile::tempdir().unwrap();
        let mut store = ParquetStore::new(dir.path());
        store.commit("svc", std::slice::from_ref(&t), b"").unwrap();
        let snap = store.snapshot("svc").unwrap().unwrap();
        assert_eq!(snap.read(&TIMES).unwrap(), t.rows);
        let meta = parquet::file::reader::SerializedFileReader::new(
            File::open(&snap.tables["times"][0]).unwrap(),
        )
        .unwrap();
        let encodings = |i: usize| {
            parquet::file::reader::FileReader::metadata(&meta)
                .row_group(0)
                .column(i)
                .encodings()
                .collect::<Vec<_>>()
        };
        for key in [1, 2] {
            assert!(encodings(key).contains(&Encoding::DELTA_BINARY_PACKED));
        }
        assert!(!encodings(3).contains(&Encoding::DELTA_BINARY_PACKED));
    }

    #[test]
    fn a_dangling_current_is_reported() {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir_all(dir.path().join("svc")).unwrap();
        fs::write(dir.path().join("svc/CURRENT"), "manifest-00000009.json").unwrap();
        let err = ParquetStore::new(dir.path())
            .load_checkpoint("svc")
            .unwrap_err()
            .to_string();
        assert!(err.contains("manifest-00000009"), "{err}");
    }

    /// A checkpoint of `n` pseudo-random bytes (content-defined chunks of a few KiB each).
    fn noise(n: usize, seed: u64) -> Vec<u8> {
        let mut x = seed | 1;
        (0..n)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect()
    }

    fn chunk_files(dir: &Path) -> Vec<(String, u64)> {
        let mut out: Vec<(String, u64)> = fs::read_dir(dir.join("svc/chunks"))
            .unwrap()
            .flatten()
            .map(|e| {
                let len = e.metadata().unwrap().len();
                (e.file_name().to_string_lossy().into_owned(), len)
            })
            .collect();
        out.sort();
        out
    }

    #[test]
    fn a_commit_writes_its_new_checkpoint_chunks_as_one_pack() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = ParquetStore::new(dir.path());
        let t = TableData::new(&T);
        let mut ckpt = noise(400_000, 7);
        store
            .commit("svc", std::slice::from_ref(&t), &ckpt)
            .unwrap();
        let first = chunk_files(dir.path());
        assert_eq!(
            first.len(),
            1,
            "one pack for the whole checkpoint: {first:?}"
        );
        assert_eq!(first[0].1, 400_000);
        // A small change in the middle: one more pack, with only the chunks around it.
        ckpt[200_000..200_010].copy_from_slice(b"0123456789");
        store
            .commit("svc", std::slice::from_ref(&t), &ckpt)
            .unwrap();
        let second = chunk_files(dir.path());
        assert_eq!(second.len(), 2, "{second:?}");
        let new = second.iter().find(|f| !first.contains(f)).unwrap();
        assert!(
            new.1 < 40_000,
            "the new pack holds the changed chunks only: {new:?}"
        );
        assert_eq!(store.load_checkpoint("svc").unwrap().unwrap(), ckpt);
        // A fresh store (a restart) reads the same.
        assert_eq!(
            ParquetStore::new(dir.path())
                .load_checkpoint("svc")
                .unwrap()
                .unwrap(),
            ckpt
        );
    }

    #[test]
    fn packs_mostly_unreferenced_are_folded_into_the_next_one() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = ParquetStore::new(dir.path());
        let t = TableData::new(&T);
        let mut ckpt = noise(300_000, 11);
        for round in 0..40u64 {
            // Most of the checkpoint changes a little at a time, at a new place each round.
            let at = (round as usize * 7_919) % 290_000;
            ckpt[at..at + 8].copy_from_slice(&round.to_le_bytes());
            store
                .commit("svc", std::slice::from_ref(&t), &ckpt)
                .unwrap();
            let on_disk: u64 = chunk_files(dir.path()).iter().map(|f| f.1).sum();
            assert!(
                on_disk <= 2 * ckpt.len() as u64 + 64 * 1024,
                "round {round}: {on_disk} bytes of packs for a checkpoint of {}",
                ckpt.len()
            );
        }
        assert_eq!(store.load_checkpoint("svc").unwrap().unwrap(), ckpt);
    }

    #[test]
    fn checkpoints_of_the_layout_before_packs_still_load_and_move_to_a_pack() {
        let dir = tempfile::tempdir().unwrap();
        let svc = dir.path().join("svc");
        fs::create_dir_all(svc.join("chunks")).unwrap();
        let ckpt = noise(50_000, 3);
        let mut names = Vec::new();
        for (h, range) in gigstream_runtime::chunks::split(&ckpt) {
            let name = format!("chunks/{}.bin", gigstream_runtime::chunks::hex(h));
            fs::write(svc.join(&name), &ckpt[range]).unwrap();
            names.push(name);
        }
        let old = serde_json::json!({
            "generation": 3,
            "checkpoint_chunks": names,
            "tables": {},
        });
        fs::write(svc.join("manifest-00000003.json"), old.to_string()).unwrap();
        fs::write(svc.join("CURRENT"), "manifest-00000003.json").unwrap();
        let mut store = ParquetStore::new(dir.path());
        assert_eq!(store.load_checkpoint("svc").unwrap().unwrap(), ckpt);
        store.commit("svc", &[TableData::new(&T)], &ckpt).unwrap();
        assert_eq!(store.load_checkpoint("svc").unwrap().unwrap(), ckpt);
        let files = chunk_files(dir.path());
        assert_eq!(files, vec![("pack-g00000004.bin".to_string(), 50_000)]);
    }

    #[test]
    fn a_damaged_pack_is_reported() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = ParquetStore::new(dir.path());
        let ckpt = noise(20_000, 5);
        store.commit("svc", &[TableData::new(&T)], &ckpt).unwrap();
        let pack = dir.path().join("svc/chunks/pack-g00000001.bin");
        let mut bytes = fs::read(&pack).unwrap();
        bytes[100] ^= 1;
        fs::write(&pack, &bytes).unwrap();
        let err = store.load_checkpoint("svc").unwrap_err().to_string();
        assert!(err.contains("does not match its hash"), "{err}");
        fs::write(&pack, &bytes[..10]).unwrap();
        let err = store.load_checkpoint("svc").unwrap_err().to_string();
        assert!(err.contains("shorter"), "{err}");
    }

    #[test]
    fn a_new_bucket_written_from_columns_equals_one_merged_row_by_row() {
        // Unsorted, with a key given twice (the later one wins), over two months.
        let rows = day_rows(&[
            ("b", 20_400, 1),
            ("a", 20_401, 2),
            ("a", 20_370, 3),
            ("b", 20_400, 4),
            ("c", 20_401, 5),
        ]);
        let changes = TableChanges::upserts(&rows).unwrap();
        // Straight from the columns: the buckets do not exist yet.
        let fresh = tempfile::tempdir().unwrap();
        let mut a = ParquetStore::new(fresh.path());
        a.commit_changes("svc", &[&changes], b"").unwrap();
        // Row by row: the same changes as two sets, so they are merged.
        let merged = tempfile::tempdir().unwrap();
        let mut b = ParquetStore::new(merged.path());
        b.commit_changes("svc", &[&changes, &TableChanges::none(&DAYS)], b"")
            .unwrap();
        let read = |s: &ParquetStore| s.snapshot("svc").unwrap().unwrap().read(&DAYS).unwrap();
        let want = vec![
            vec![Value::from("a"), Value::Date(20_370), Value::U64(3)],
            vec![Value::from("a"), Value::Date(20_401), Value::U64(2)],
            vec![Value::from("b"), Value::Date(20_400), Value::U64(4)],
            vec![Value::from("c"), Value::Date(20_401), Value::U64(5)],
        ];
        assert_eq!(read(&a), want);
        assert_eq!(read(&b), want);
        let files = |d: &Path| {
            let mut f: Vec<(String, Vec<u8>)> = fs::read_dir(d.join("svc/days"))
                .unwrap()
                .flatten()
                .map(|e| {
                    (
                        e.file_name().to_string_lossy().into_owned(),
                        fs::read(e.path()).unwrap(),
                    )
                })
                .collect();
            f.sort();
            f
        };
        assert_eq!(
            files(fresh.path()),
            files(merged.path()),
            "byte for byte the same files"
        );
    }
}
