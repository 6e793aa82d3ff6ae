//! A serde `Deserializer` that reads Avro binary straight into Rust types, driven by the
//! writer schema's [`Node`] tree (no intermediate `Value`).
//!
//! Resolution falls out of serde: a record is handed over as a map in writer field order, so
//! fields the reader type does not know are skipped (`deserialize_ignored_any`) and reader
//! fields the writer lacks take their `#[serde(default)]`. Unions with null are options, other
//! unions are enums whose variant is the branch's short name, Avro enums give their symbol text,
//! decimals their exact decimal text, dates (days) and timestamps (millis) an integer.

use crate::decimal;
use crate::schema::{FieldNode, Node, UnionNode};
use serde::de::{
    self, DeserializeSeed, EnumAccess, IntoDeserializer, MapAccess, SeqAccess, VariantAccess,
    Visitor,
};
use serde::forward_to_deserialize_any;
use std::fmt;

/// A decoding failure; boxed so the hot path's `Result`s stay one word.
#[derive(Debug)]
pub(crate) struct DeError(Box<DeErrorInner>);

#[derive(Debug)]
struct DeErrorInner {
    kind: Kind,
    message: String,
    path: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Invalid,
    Truncated,
    /// The datum reached a part of the writer schema the reader types cannot take.
    Incompatible,
}

impl DeError {
    fn new(kind: Kind, message: String) -> Self {
        DeError(Box::new(DeErrorInner {
            kind,
            message,
            path: String::new(),
        }))
    }

    fn invalid(message: String) -> Self {
        DeError::new(Kind::Invalid, message)
    }

    fn truncated(what: &str) -> Self {
        DeError::new(Kind::Truncated, format!("input ends inside {what}"))
    }

    #[cold]
    fn incompatible(reason: &str) -> Self {
        DeError::new(Kind::Incompatible, reason.to_string())
    }

    /// Prefixes the path with the enclosing field (errors only: the happy path never pays).
    fn in_field(mut self, name: &str) -> Self {
        let path = &mut self.0.path;
        *path = if path.is_empty() {
            name.to_string()
        } else {
            format!("{name}.{path}")
        };
        self
    }

    pub(crate) fn is_truncated(&self) -> bool {
        self.0.kind == Kind::Truncated
    }

    /// The writer schema (resolved against the reader) says the reader cannot take this datum.
    pub(crate) fn is_incompatible(&self) -> bool {
        self.0.kind == Kind::Incompatible
    }
}

impl fmt::Display for DeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.path.is_empty() {
            f.write_str(&self.0.message)
        } else {
            write!(f, "at {}: {}", self.0.path, self.0.message)
        }
    }
}

impl std::error::Error for DeError {}

impl de::Error for DeError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        DeError::invalid(msg.to_string())
    }
}

/// Decodes one datum that must span all of `datum`.
pub(crate) fn from_datum<'de, T: de::Deserialize<'de>>(
    node: &Node,
    datum: &'de [u8],
) -> Result<T, DeError> {
    let mut input = Input { buf: datum, pos: 0 };
    let value = T::deserialize(De {
        input: &mut input,
        node,
    })?;
    let rest = datum.len() - input.pos;
    if rest != 0 {
        return Err(DeError::invalid(format!(
            "{rest} trailing bytes after the datum: the writer schema does not match the data"
        )));
    }
    Ok(value)
}

/// Decodes one datum from the start of `buf`; returns it and the bytes it took.
pub(crate) fn from_prefix<T: de::DeserializeOwned>(
    node: &Node,
    buf: &[u8],
) -> Result<(T, usize), DeError> {
    let mut input = Input { buf, pos: 0 };
    let value = T::deserialize(De {
        input: &mut input,
        node,
    })?;
    Ok((value, input.pos))
}

pub(crate) struct Input<'de> {
    buf: &'de [u8],
    pos: usize,
}

impl<'de> Input<'de> {
    #[inline]
    fn byte(&mut self, what: &str) -> Result<u8, DeError> {
        let b = *self
            .buf
            .get(self.pos)
            .ok_or_else(|| DeError::truncated(what))?;
        self.pos += 1;
        Ok(b)
    }

    #[inline]
    fn long(&mut self) -> Result<i64, DeError> {
        let first = self.byte("a varint")?;
        if first & 0x80 == 0 {
            let n = u64::from(first);
            return Ok((n >> 1) as i64 ^ -((n & 1) as i64));
        }
        let mut n = u64::from(first & 0x7f);
        let mut shift = 7;
        loop {
            let b = self.byte("a varint")?;
            if shift == 63 && b > 1 {
                return Err(DeError::invalid("varint overflows 64 bits".into()));
            }
            n |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                break;
            }
            shift += 7;
        }
        Ok((n >> 1) as i64 ^ -((n & 1) as i64))
    }

    #[inline]
    fn int(&mut self) -> Result<i32, DeError> {
        let v = self.long()?;
        i32::try_from(v).map_err(|_| DeError::invalid(format!("int {v} is out of 32-bit range")))
    }

    #[inline]
    fn take(&mut self, n: usize, what: &str) -> Result<&'de [u8], DeError> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&e| e <= self.buf.len())
            .ok_or_else(|| DeError::truncated(what))?;
        let s = &self.buf[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    #[inline]
    fn bytes(&mut self, what: &str) -> Result<&'de [u8], DeError> {
        let len = self.long()?;
        let len = usize::try_from(len)
            .map_err(|_| DeError::invalid(format!("negative length {len} of {what}")))?;
        self.take(len, what)
    }

    #[inline]
    fn str(&mut self) -> Result<&'de str, DeError> {
        let raw = self.bytes("a string")?;
        std::str::from_utf8(raw).map_err(|e| DeError::invalid(format!("string is not utf-8: {e}")))
    }

    fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    fn branch<'n>(&mut self, u: &'n UnionNode) -> Result<(usize, &'n Node), DeError> {
        let i = self.long()?;
        usize::try_from(i)
            .ok()
            .and_then(|i| u.branches.get(i).map(|b| (i, b)))
            .ok_or_else(|| {
                DeError::invalid(format!(
                    "union branch index {i} is out of range (the union has {} branches)",
                    u.branches.len()
                ))
            })
    }

    /// Reads the next block count of an array or map; 0 ends it.
    fn block_count(&mut self, item: &Node) -> Result<usize, DeError> {
        let n = self.long()?;
        if n < 0 {
            self.long()?; // byte size of the block, only needed to skip
        }
        let n = usize::try_from(n.unsigned_abs())
            .map_err(|_| DeError::invalid(format!("block count {n} is too large")))?;
        if n.saturating_mul(item.min_size()) > self.remaining() {
            return Err(DeError::truncated("an array or map block"));
        }
        Ok(n)
    }

    /// Skips a datum the reader type does not want.
    fn skip(&mut self, node: &Node) -> Result<(), DeError> {
        match node {
            Node::Null => {}
            Node::Boolean => {
                self.byte("a boolean")?;
            }
            Node::Int | Node::Long | Node::Date | Node::TimestampMillis | Node::Enum(_) => {
                self.long()?;
            }
            Node::Float => {
                self.take(4, "a float")?;
            }
            Node::Double => {
                self.take(8, "a double")?;
            }
            Node::Bytes | Node::String | Node::Decimal { .. } => {
                self.bytes("bytes")?;
            }
            Node::Fixed(n) => {
                self.take(*n, "a fixed")?;
            }
            Node::Record(r) => {
                for f in &r.fields {
                    self.skip(&f.node).map_err(|e| e.in_field(&f.name))?;
                }
            }
            Node::Array(item) => loop {
                let n = self.block_count(item)?;
                if n == 0 {
                    break;
                }
                for _ in 0..n {
                    self.skip(item)?;
                }
            },
            Node::Map(value) => loop {
                let n = self.block_count(value)?;
                if n == 0 {
                    break;
                }
                for _ in 0..n {
                    self.bytes("a map key")?;
                    self.skip(value)?;
                }
            },
            Node::Union(u) => {
                let (_, b) = self.branch(u)?;
                self.skip(b)?;
            }
            Node::Unreadable(u) => self.skip(&u.node)?,
        }
        Ok(())
    }
}

/// Deserializes one datum of `node` from `input`.
pub(crate) struct De<'a, 'de> {
    input: &'a mut Input<'de>,
    node: &'a Node,
}

impl<'a, 'de> de::Deserializer<'de> for De<'a, 'de> {
    type Error = DeError;

    fn deserialize_any<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        let input = self.input;
        match self.node {
            Node::Null => v.visit_unit(),
            Node::Boolean => match input.byte("a boolean")? {
                0 => v.visit_bool(false),
                1 => v.visit_bool(true),
                b => Err(DeError::invalid(format!("boolean byte {b} is not 0 or 1"))),
            },
            Node::Int => v.visit_i32(input.int()?),
            Node::Date => v.visit_i64(i64::from(input.int()?)),
            Node::Long | Node::TimestampMillis => v.visit_i64(input.long()?),
            Node::Float => {
                let b = input.take(4, "a float")?;
                v.visit_f32(f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            }
            Node::Double => {
                let b = input.take(8, "a double")?;
                let mut a = [0u8; 8];
                a.copy_from_slice(b);
                v.visit_f64(f64::from_le_bytes(a))
            }
            Node::Bytes => v.visit_borrowed_bytes(input.bytes("bytes")?),
            Node::Fixed(n) => v.visit_borrowed_bytes(input.take(*n, "a fixed")?),
            Node::String => v.visit_borrowed_str(input.str()?),
            Node::Decimal { scale, .. } => {
                let unscaled = decimal::unscaled_from_bytes(input.bytes("a decimal")?)
                    .map_err(DeError::invalid)?;
                v.visit_str(decimal::format(unscaled, *scale).as_str())
            }
            Node::Record(r) => v.visit_map(RecordAccess {
                input,
                fields: r.fields.iter(),
                current: None,
            }),
            Node::Enum(e) => {
                let i = input.long()?;
                let index = usize::try_from(i)
                    .ok()
                    .filter(|&i| i < e.symbols.len())
                    .ok_or_else(|| {
                        DeError::invalid(format!("enum {} has no symbol index {i}", e.name))
                    })?;
                if !e.unknown.is_empty() && e.unknown.contains(&index) {
                    return Err(DeError::incompatible(&format!(
                        "the writer's symbol '{}' of enum {} is not one the reader knows",
                        e.symbols[index], e.name
                    )));
                }
                v.visit_str(&e.symbols[index])
            }
            Node::Array(item) => v.visit_seq(BlockAccess {
                input,
                node: item,
                remaining: 0,
                done: false,
            }),
            Node::Map(value) => v.visit_map(BlockAccess {
                input,
                node: value,
                remaining: 0,
                done: false,
            }),
            Node::Union(u) => {
                let (i, branch) = input.branch(u)?;
                if Some(i) == u.null_index {
                    v.visit_none()
                } else if u.single.is_some() {
                    v.visit_some(De {
                        input,
                        node: branch,
                    })
                } else {
                    De {
                        input,
                        node: branch,
                    }
                    .deserialize_any(v)
                }
            }
            Node::Unreadable(u) => Err(DeError::incompatible(&u.reason)),
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        match self.node {
            Node::Union(u) if u.null_index.is_some() => {
                let (i, branch) = self.input.branch(u)?;
                if Some(i) == u.null_index {
                    v.visit_none()
                } else {
                    v.visit_some(De {
                        input: self.input,
                        node: branch,
                    })
                }
            }
            Node::Null => v.visit_none(),
            _ => v.visit_some(self),
        }
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        v: V,
    ) -> Result<V::Value, DeError> {
        match self.node {
            Node::Union(u) => {
                let (_, branch) = self.input.branch(u)?;
                if let Node::Unreadable(u) = branch {
                    return Err(DeError::incompatible(&u.reason).in_field(branch.branch_name()));
                }
                v.visit_enum(UnionVariant {
                    input: self.input,
                    node: branch,
                })
            }
            Node::Enum(_) | Node::String => self.deserialize_any(SymbolVisitor(v)),
            // A writer that is not a union, for a reader union: the record is the branch of its
            // name (registry writer schemas; resolution checked that the reader has it).
            Node::Record(_) => v.visit_enum(UnionVariant {
                input: self.input,
                node: self.node,
            }),
            Node::Unreadable(u) => Err(DeError::incompatible(&u.reason)),
            other => Err(DeError::invalid(format!(
                "expected an enum or union in the writer schema, found {}",
                other.branch_name()
            ))),
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        v: V,
    ) -> Result<V::Value, DeError> {
        v.visit_newtype_struct(self)
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        self.input.skip(self.node)?;
        v.visit_unit()
    }

    forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        unit unit_struct seq tuple tuple_struct map struct identifier
    }
}

/// Turns an Avro enum symbol (or a string) into a unit variant of a Rust enum.
struct SymbolVisitor<V>(V);

impl<'de, V: Visitor<'de>> Visitor<'de> for SymbolVisitor<V> {
    type Value = V::Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an enum symbol")
    }

    fn visit_str<E: de::Error>(self, s: &str) -> Result<V::Value, E> {
        self.0
            .visit_enum(IntoDeserializer::<E>::into_deserializer(s))
    }
}

struct RecordAccess<'a, 'de> {
    input: &'a mut Input<'de>,
    fields: std::slice::Iter<'a, FieldNode>,
    current: Option<&'a FieldNode>,
}

impl<'a, 'de> MapAccess<'de> for RecordAccess<'a, 'de> {
    type Error = DeError;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, DeError> {
        match self.fields.next() {
            None => Ok(None),
            Some(f) => {
                self.current = Some(f);
                seed.deserialize(IntoDeserializer::<DeError>::into_deserializer(
                    f.name.as_str(),
                ))
                .map(Some)
            }
        }
    }

    fn next_value_seed<S: DeserializeSeed<'de>>(&mut self, seed: S) -> Result<S::Value, DeError> {
        let f = self
            .current
            .take()
            .ok_or_else(|| DeError::invalid("record value requested before its key".into()))?;
        seed.deserialize(De {
            input: self.input,
            node: &f.node,
        })
        .map_err(|e| e.in_field(&f.name))
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.fields.len())
    }
}

/// Arrays (as a sequence) and maps (as a map with string keys), read block by block.
struct BlockAccess<'a, 'de> {
    input: &'a mut Input<'de>,
    node: &'a Node,
    remaining: usize,
    done: bool,
}

impl BlockAccess<'_, '_> {
    fn advance(&mut self) -> Result<bool, DeError> {
        if self.remaining == 0 {
            if self.done {
                return Ok(false);
            }
            self.remaining = self.input.block_count(self.node)?;
            if self.remaining == 0 {
                self.done = true;
                return Ok(false);
            }
        }
        self.remaining -= 1;
        Ok(true)
    }
}

impl<'de> SeqAccess<'de> for BlockAccess<'_, 'de> {
    type Error = DeError;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, DeError> {
        if !self.advance()? {
            return Ok(None);
        }
        seed.deserialize(De {
            input: self.input,
            node: self.node,
        })
        .map(Some)
    }
}

impl<'de> MapAccess<'de> for BlockAccess<'_, 'de> {
    type Error = DeError;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, DeError> {
        if !self.advance()? {
            return Ok(None);
        }
        let key = self.input.str()?;
        seed.deserialize(de::value::BorrowedStrDeserializer::new(key))
            .map(Some)
    }

    fn next_value_seed<S: DeserializeSeed<'de>>(&mut self, seed: S) -> Result<S::Value, DeError> {
        seed.deserialize(De {
            input: self.input,
            node: self.node,
        })
    }
}

/// A union branch as an enum variant named after the branch.
struct UnionVariant<'a, 'de> {
    input: &'a mut Input<'de>,
    node: &'a Node,
}

impl<'a, 'de> EnumAccess<'de> for UnionVariant<'a, 'de> {
    type Error = DeError;
    type Variant = Self;

    fn variant_seed<S: DeserializeSeed<'de>>(self, seed: S) -> Result<(S::Value, Self), DeError> {
        let name = self.node.branch_name();
        let variant = seed
            .deserialize(IntoDeserializer::<DeError>::into_deserializer(name))
            .map_err(|e| e.in_field(name))?;
        Ok((variant, self))
    }
}

impl<'de> VariantAccess<'de> for UnionVariant<'_, 'de> {
    type Error = DeError;

    fn unit_variant(self) -> Result<(), DeError> {
        self.input.skip(self.node)
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<T::Value, DeError> {
        let name = self.node.branch_name();
        seed.deserialize(De {
            input: self.input,
            node: self.node,
        })
        .map_err(|e| e.in_field(name))
    }

    fn tuple_variant<V: Visitor<'de>>(self, _len: usize, v: V) -> Result<V::Value, DeError> {
        de::Deserializer::deserialize_any(
            De {
                input: self.input,
                node: self.node,
            },
            v,
        )
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        _fields: &'static [&'static str],
        v: V,
    ) -> Result<V::Value, DeError> {
        de::Deserializer::deserialize_any(
            De {
                input: self.input,
                node: self.node,
            },
            v,
        )
    }
}
