//! A serde `Serializer` that writes Avro binary driven by the writer schema's [`Node`] tree.
//!
//! Rust fields are matched to schema fields by name in schema order: a Rust field the schema
//! lacks is skipped (so a v2 value can be written as v1), a schema field the value lacks is
//! written as its `null` default (so a skipped `None` still yields valid v2 data). Decimal text
//! is converted to the schema's scale without rounding, `YYYY-MM-DD` text to days.

use crate::decimal;
use crate::schema::{Node, RecordNode, UnionNode};
use serde::ser::{self, Serialize};
use std::fmt::{self, Write as _};

#[derive(Debug)]
pub(crate) struct SerError(Box<(String, String)>);

impl SerError {
    fn new(message: String) -> Self {
        SerError(Box::new((message, String::new())))
    }

    fn in_field(mut self, name: &str) -> Self {
        let path = &mut self.0 .1;
        *path = if path.is_empty() {
            name.to_string()
        } else {
            format!("{name}.{path}")
        };
        self
    }
}

impl fmt::Display for SerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (message, path) = &*self.0;
        if path.is_empty() {
            f.write_str(message)
        } else {
            write!(f, "at {path}: {message}")
        }
    }
}

impl std::error::Error for SerError {}

impl ser::Error for SerError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        SerError::new(msg.to_string())
    }
}

/// Encodes `value` as one datum of `node`, appended to `out`.
pub(crate) fn to_datum<T: Serialize + ?Sized>(
    node: &Node,
    value: &T,
    out: &mut Vec<u8>,
) -> Result<(), SerError> {
    value.serialize(Ser { out, node })
}

pub(crate) fn write_long(out: &mut Vec<u8>, v: i64) {
    let mut n = ((v << 1) ^ (v >> 63)) as u64;
    while n >= 0x80 {
        out.push((n as u8) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

pub(crate) fn write_bytes(out: &mut Vec<u8>, b: &[u8]) {
    write_long(out, b.len() as i64);
    out.extend_from_slice(b);
}

fn mismatch(node: &Node, what: &str) -> SerError {
    SerError::new(format!(
        "a {what} cannot be written as avro {}",
        node.branch_name()
    ))
}

struct Ser<'a> {
    out: &'a mut Vec<u8>,
    node: &'a Node,
}

impl<'a> Ser<'a> {
    /// For a present value: selects the non-null branch of `["null", T]`.
    fn present(self) -> Result<(&'a mut Vec<u8>, &'a Node), SerError> {
        match self.node {
            Node::Union(u) => match u.single {
                Some(i) => {
                    write_long(self.out, i as i64);
                    Ok((self.out, &u.branches[i]))
                }
                None => Err(SerError::new(
                    "a plain value cannot pick a branch of a union with several non-null types"
                        .into(),
                )),
            },
            node => Ok((self.out, node)),
        }
    }
}

fn date_days(s: &str) -> Result<i32, SerError> {
    chrono::NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d")
        .map(gigstream_core::time::days_since_epoch)
        .map_err(|_| SerError::new(format!("'{s}' is not a YYYY-MM-DD date")))
}

fn int_range(v: i64) -> Result<i64, SerError> {
    i32::try_from(v)
        .map(i64::from)
        .map_err(|_| SerError::new(format!("{v} does not fit an avro int")))
}

fn write_decimal(out: &mut Vec<u8>, unscaled: i128) {
    let mut tmp = Vec::with_capacity(16);
    decimal::unscaled_to_bytes(unscaled, &mut tmp);
    write_bytes(out, &tmp);
}

/// A small stack buffer for `collect_str` (decimals and dates), avoiding a heap `String`.
struct StackText {
    buf: [u8; 96],
    len: usize,
}

impl fmt::Write for StackText {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let end = self.len + s.len();
        if end > self.buf.len() {
            return Err(fmt::Error);
        }
        self.buf[self.len..end].copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

impl<'a> ser::Serializer for Ser<'a> {
    type Ok = ();
    type Error = SerError;
    type SerializeSeq = SeqSer<'a>;
    type SerializeTuple = SeqSer<'a>;
    type SerializeTupleStruct = ser::Impossible<(), SerError>;
    type SerializeTupleVariant = ser::Impossible<(), SerError>;
    type SerializeMap = MapSer<'a>;
    type SerializeStruct = StructSer<'a>;
    type SerializeStructVariant = ser::Impossible<(), SerError>;

    fn serialize_bool(self, v: bool) -> Result<(), SerError> {
        match self.present()? {
            (out, Node::Boolean) => {
                out.push(u8::from(v));
                Ok(())
            }
            (_, node) => Err(mismatch(node, "boolean")),
        }
    }

    fn serialize_i8(self, v: i8) -> Result<(), SerError> {
        self.serialize_i64(i64::from(v))
    }
    fn serialize_i16(self, v: i16) -> Result<(), SerError> {
        self.serialize_i64(i64::from(v))
    }
    fn serialize_i32(self, v: i32) -> Result<(), SerError> {
        self.serialize_i64(i64::from(v))
    }
    fn serialize_u8(self, v: u8) -> Result<(), SerError> {
        self.serialize_i64(i64::from(v))
    }
    fn serialize_u16(self, v: u16) -> Result<(), SerError> {
        self.serialize_i64(i64::from(v))
    }
    fn serialize_u32(self, v: u32) -> Result<(), SerError> {
        self.serialize_i64(i64::from(v))
    }
    fn serialize_u64(self, v: u64) -> Result<(), SerError> {
        let v = i64::try_from(v)
            .map_err(|_| SerError::new(format!("{v} does not fit an avro long")))?;
        self.serialize_i64(v)
    }

    fn serialize_i64(self, v: i64) -> Result<(), SerError> {
        let (out, node) = self.present()?;
        match node {
            Node::Int | Node::Date => write_long(out, int_range(v)?),
            Node::Long | Node::TimestampMillis => write_long(out, v),
            Node::Float => out.extend_from_slice(&(v as f32).to_le_bytes()),
            Node::Double => out.extend_from_slice(&(v as f64).to_le_bytes()),
            Node::Decimal { precision, scale } => {
                let text = v.to_string();
                let unscaled = decimal::parse_scaled(&text, *precision, *scale)
                    .map_err(|e| SerError::new(e.to_string()))?;
                write_decimal(out, unscaled);
            }
            node => return Err(mismatch(node, "integer")),
        }
        Ok(())
    }

    fn serialize_f32(self, v: f32) -> Result<(), SerError> {
        self.serialize_f64(f64::from(v))
    }

    fn serialize_f64(self, v: f64) -> Result<(), SerError> {
        match self.present()? {
            (out, Node::Float) => out.extend_from_slice(&(v as f32).to_le_bytes()),
            (out, Node::Double) => out.extend_from_slice(&v.to_le_bytes()),
            (_, node) => return Err(mismatch(node, "float")),
        }
        Ok(())
    }

    fn serialize_char(self, v: char) -> Result<(), SerError> {
        self.serialize_str(v.encode_utf8(&mut [0; 4]))
    }

    fn serialize_str(self, v: &str) -> Result<(), SerError> {
        let (out, node) = self.present()?;
        match node {
            Node::String => write_bytes(out, v.as_bytes()),
            Node::Enum(e) => {
                let i = e.symbols.iter().position(|s| s == v).ok_or_else(|| {
                    SerError::new(format!("'{v}' is not a symbol of enum {}", e.name))
                })?;
                write_long(out, i as i64);
            }
            Node::Decimal { precision, scale } => {
                let unscaled = decimal::parse_scaled(v, *precision, *scale)
                    .map_err(|e| SerError::new(e.to_string()))?;
                write_decimal(out, unscaled);
            }
            Node::Date => write_long(out, i64::from(date_days(v)?)),
            Node::TimestampMillis => {
                let ms = gigstream_core::time::parse_ts(v).map_err(SerError::new)?;
                write_long(out, ms);
            }
            node => return Err(mismatch(node, "string")),
        }
        Ok(())
    }

    fn collect_str<T: fmt::Display + ?Sized>(self, value: &T) -> Result<(), SerError> {
        let mut text = StackText {
            buf: [0; 96],
            len: 0,
        };
        if write!(text, "{value}").is_ok() {
            let s = std::str::from_utf8(&text.buf[..text.len])
                .map_err(|e| SerError::new(format!("formatted text is not utf-8: {e}")))?;
            self.serialize_str(s)
        } else {
            self.serialize_str(&value.to_string())
        }
    }

    fn serialize_bytes(self, v: &[u8]) -> Result<(), SerError> {
        match self.present()? {
            (out, Node::Bytes) => write_bytes(out, v),
            (out, Node::Fixed(n)) if *n == v.len() => out.extend_from_slice(v),
            (_, node) => return Err(mismatch(node, "byte string")),
        }
        Ok(())
    }

    fn serialize_none(self) -> Result<(), SerError> {
        match self.node {
            Node::Null => Ok(()),
            Node::Union(u) => write_null(self.out, u),
            node => Err(SerError::new(format!(
                "value is absent but avro {} is not nullable",
                node.branch_name()
            ))),
        }
    }

    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<(), SerError> {
        value.serialize(self)
    }

    fn serialize_unit(self) -> Result<(), SerError> {
        self.serialize_none()
    }

    fn serialize_unit_struct(self, _name: &'static str) -> Result<(), SerError> {
        self.serialize_none()
    }

    fn serialize_unit_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
    ) -> Result<(), SerError> {
        self.serialize_str(variant)
    }

    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        value: &T,
    ) -> Result<(), SerError> {
        value.serialize(self)
    }

    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<(), SerError> {
        let Node::Union(u) = self.node else {
            return Err(mismatch(self.node, "enum with data"));
        };
        let i = u
            .branches
            .iter()
            .position(|b| b.branch_name() == variant)
            .ok_or_else(|| SerError::new(format!("the union has no branch named {variant}")))?;
        write_long(self.out, i as i64);
        value
            .serialize(Ser {
                out: self.out,
                node: &u.branches[i],
            })
            .map_err(|e| e.in_field(variant))
    }

    fn serialize_seq(self, len: Option<usize>) -> Result<SeqSer<'a>, SerError> {
        match self.present()? {
            (out, Node::Array(item)) => Ok(SeqSer::new(out, item, len)),
            (_, node) => Err(mismatch(node, "sequence")),
        }
    }

    fn serialize_tuple(self, len: usize) -> Result<SeqSer<'a>, SerError> {
        self.serialize_seq(Some(len))
    }

    fn serialize_tuple_struct(
        self,
        _name: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeTupleStruct, SerError> {
        Err(mismatch(self.node, "tuple struct"))
    }

    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeTupleVariant, SerError> {
        Err(mismatch(self.node, "tuple variant"))
    }

    fn serialize_map(self, len: Option<usize>) -> Result<MapSer<'a>, SerError> {
        match self.present()? {
            (out, Node::Map(value)) => Ok(MapSer {
                seq: SeqSer::new(out, value, len),
            }),
            (_, node) => Err(mismatch(node, "map")),
        }
    }

    fn serialize_struct(self, _name: &'static str, _len: usize) -> Result<StructSer<'a>, SerError> {
        match self.present()? {
            (out, Node::Record(rec)) => Ok(StructSer {
                out,
                rec,
                cursor: 0,
            }),
            (_, node) => Err(mismatch(node, "struct")),
        }
    }

    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeStructVariant, SerError> {
        Err(mismatch(self.node, "struct variant"))
    }
}

fn write_null(out: &mut Vec<u8>, u: &UnionNode) -> Result<(), SerError> {
    let i = u
        .null_index
        .ok_or_else(|| SerError::new("value is absent but the union has no null branch".into()))?;
    write_long(out, i as i64);
    Ok(())
}

/// An array (or, through [`MapSer`], a map) written as one block.
pub(crate) struct SeqSer<'a> {
    out: &'a mut Vec<u8>,
    item: &'a Node,
    /// Items promised up front (count already written), or `None`: items go to `pending`.
    announced: Option<usize>,
    written: usize,
    pending: Vec<u8>,
}

impl<'a> SeqSer<'a> {
    fn new(out: &'a mut Vec<u8>, item: &'a Node, len: Option<usize>) -> Self {
        if let Some(n) = len.filter(|&n| n > 0) {
            write_long(out, n as i64);
        }
        SeqSer {
            out,
            item,
            announced: len,
            written: 0,
            pending: Vec::new(),
        }
    }

    fn target(&mut self) -> &mut Vec<u8> {
        if self.announced.is_some() {
            self.out
        } else {
            &mut self.pending
        }
    }

    fn finish(self) -> Result<(), SerError> {
        match self.announced {
            Some(n) if n != self.written => {
                return Err(SerError::new(format!(
                    "sequence announced {n} items but produced {}",
                    self.written
                )))
            }
            Some(_) => {}
            None if self.written > 0 => {
                write_long(self.out, self.written as i64);
                self.out.extend_from_slice(&self.pending);
            }
            None => {}
        }
        self.out.push(0);
        Ok(())
    }
}

impl ser::SerializeSeq for SeqSer<'_> {
    type Ok = ();
    type Error = SerError;

    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), SerError> {
        let item = self.item;
        let index = self.written;
        value
            .serialize(Ser {
                out: self.target(),
                node: item,
            })
            .map_err(|e| e.in_field(&format!("[{index}]")))?;
        self.written += 1;
        Ok(())
    }

    fn end(self) -> Result<(), SerError> {
        self.finish()
    }
}

impl ser::SerializeTuple for SeqSer<'_> {
    type Ok = ();
    type Error = SerError;

    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), SerError> {
        ser::SerializeSeq::serialize_element(self, value)
    }

    fn end(self) -> Result<(), SerError> {
        self.finish()
    }
}

pub(crate) struct MapSer<'a> {
    seq: SeqSer<'a>,
}

impl ser::SerializeMap for MapSer<'_> {
    type Ok = ();
    type Error = SerError;

    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), SerError> {
        key.serialize(Ser {
            out: self.seq.target(),
            node: &Node::String,
        })
        .map_err(|e| SerError::new(format!("map keys must be strings: {e}")))
    }

    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), SerError> {
        let node = self.seq.item;
        value.serialize(Ser {
            out: self.seq.target(),
            node,
        })?;
        self.seq.written += 1;
        Ok(())
    }

    fn end(self) -> Result<(), SerError> {
        self.seq.finish()
    }
}

pub(crate) struct StructSer<'a> {
    out: &'a mut Vec<u8>,
    rec: &'a RecordNode,
    /// The next schema field to write.
    cursor: usize,
}

impl StructSer<'_> {
    /// Writes the null default of every schema field before `upto` the value did not provide.
    fn fill_defaults(&mut self, upto: usize) -> Result<(), SerError> {
        for f in &self.rec.fields[self.cursor..upto] {
            let i = f.null_default.ok_or_else(|| {
                SerError::new(format!(
                    "field {} of {} is missing from the value and has no null default",
                    f.name, self.rec.name
                ))
            })?;
            write_long(self.out, i as i64);
        }
        self.cursor = upto;
        Ok(())
    }
}

impl ser::SerializeStruct for StructSer<'_> {
    type Ok = ();
    type Error = SerError;

    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), SerError> {
        let fields = &self.rec.fields;
        let pos = match fields.get(self.cursor) {
            Some(f) if f.name == key => Some(self.cursor),
            _ => fields.iter().position(|f| f.name == key),
        };
        let Some(pos) = pos else {
            // The writer schema has no such field (e.g. v1 and `trace_id`): not written.
            return Ok(());
        };
        if pos < self.cursor {
            return Err(SerError::new(format!(
                "field {key} of {} comes out of schema order",
                self.rec.name
            )));
        }
        self.fill_defaults(pos)?;
        value
            .serialize(Ser {
                out: self.out,
                node: &fields[pos].node,
            })
            .map_err(|e| e.in_field(key))?;
        self.cursor = pos + 1;
        Ok(())
    }

    fn end(mut self) -> Result<(), SerError> {
        self.fill_defaults(self.rec.fields.len())
    }
}
