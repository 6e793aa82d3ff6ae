//! The compact schema tree the codec runs on.
//!
//! apache-avro parses and validates the schema text once at registry load; this module then
//! compiles the JSON into a [`Node`] tree that the serde `Deserializer` / `Serializer` walk per
//! datum. Named types are inlined where they are referenced (gigstream's schemas are not
//! recursive), so the hot path never looks a name up.

use serde_json::{Map, Value};
use std::collections::HashMap;

/// One Avro type, with the logical types the codec maps to Rust values.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Node {
    Null,
    Boolean,
    Int,
    Long,
    Float,
    Double,
    Bytes,
    String,
    Fixed(usize),
    /// `int` with logicalType `date`: days since 1970-01-01.
    Date,
    /// `long` with logicalType `timestamp-millis`.
    TimestampMillis,
    /// `bytes` with logicalType `decimal`: big-endian two's complement of the unscaled value.
    Decimal {
        precision: u32,
        scale: u32,
    },
    Record(Box<RecordNode>),
    Enum(Box<EnumNode>),
    Array(Box<Node>),
    Map(Box<Node>),
    Union(Box<UnionNode>),
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct RecordNode {
    /// Short name: what a payload union branch is called in Rust (`LeadPosted`).
    pub name: String,
    pub fullname: String,
    pub fields: Vec<FieldNode>,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct FieldNode {
    pub name: String,
    pub node: Node,
    /// The union branch index to write when the value lacks this field (`"default": null`).
    pub null_default: Option<usize>,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct EnumNode {
    pub name: String,
    pub symbols: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct UnionNode {
    pub branches: Vec<Node>,
    pub null_index: Option<usize>,
    /// For `["null", T]` (either order): the index of `T`, so an option maps onto it directly.
    pub single: Option<usize>,
}

impl Node {
    /// The name a union branch is selected by: a named type's short name, else the type name.
    pub(crate) fn branch_name(&self) -> &str {
        match self {
            Node::Record(r) => &r.name,
            Node::Enum(e) => &e.name,
            Node::Null => "null",
            Node::Boolean => "boolean",
            Node::Int | Node::Date => "int",
            Node::Long | Node::TimestampMillis => "long",
            Node::Float => "float",
            Node::Double => "double",
            Node::Bytes | Node::Decimal { .. } => "bytes",
            Node::String => "string",
            Node::Fixed(_) => "fixed",
            Node::Array(_) => "array",
            Node::Map(_) => "map",
            Node::Union(_) => "union",
        }
    }

    /// The fewest bytes a datum of this type takes; guards block counts against tiny inputs.
    pub(crate) fn min_size(&self) -> usize {
        match self {
            Node::Null => 0,
            Node::Fixed(n) => *n,
            Node::Float => 4,
            Node::Double => 8,
            Node::Record(r) => r.fields.iter().map(|f| f.node.min_size()).sum(),
            _ => 1,
        }
    }
}

/// Compiles a parsed schema JSON into a [`Node`] tree.
pub(crate) fn compile(schema: &Value) -> Result<Node, String> {
    Compiler::default().node(schema, "")
}

#[derive(Default)]
struct Compiler {
    named: HashMap<String, Node>,
}

impl Compiler {
    fn node(&mut self, v: &Value, ns: &str) -> Result<Node, String> {
        match v {
            Value::String(name) => self.reference(name, ns),
            Value::Array(branches) => self.union(branches, ns),
            Value::Object(obj) => self.complex(obj, ns),
            other => Err(format!("unexpected schema element {other}")),
        }
    }

    fn reference(&self, name: &str, ns: &str) -> Result<Node, String> {
        if let Some(p) = primitive(name) {
            return Ok(p);
        }
        let qualified = if name.contains('.') || ns.is_empty() {
            name.to_string()
        } else {
            format!("{ns}.{name}")
        };
        self.named
            .get(&qualified)
            .or_else(|| self.named.get(name))
            .cloned()
            .ok_or_else(|| format!("unknown or recursive type reference '{name}'"))
    }

    fn union(&mut self, branches: &[Value], ns: &str) -> Result<Node, String> {
        let branches = branches
            .iter()
            .map(|b| self.node(b, ns))
            .collect::<Result<Vec<_>, _>>()?;
        let null_index = branches.iter().position(|b| *b == Node::Null);
        let single = match (null_index, branches.len()) {
            (Some(n), 2) => Some(1 - n),
            _ => None,
        };
        Ok(Node::Union(Box::new(UnionNode {
            branches,
            null_index,
            single,
        })))
    }

    fn complex(&mut self, obj: &Map<String, Value>, ns: &str) -> Result<Node, String> {
        let ty = obj
            .get("type")
            .ok_or_else(|| "schema object without 'type'".to_string())?;
        let ty = match ty {
            Value::String(s) => s.as_str(),
            nested => return self.node(nested, ns),
        };
        let logical = obj.get("logicalType").and_then(Value::as_str);
        match (ty, logical) {
            ("int", Some("date")) => return Ok(Node::Date),
            ("long", Some("timestamp-millis")) => return Ok(Node::TimestampMillis),
            ("bytes", Some("decimal")) => {
                let precision = uint(obj, "precision")?.ok_or("decimal without precision")?;
                let scale = uint(obj, "scale")?.unwrap_or(0);
                if precision == 0 || precision > 38 || scale > precision {
                    return Err(format!(
                        "decimal({precision},{scale}) is outside what the codec supports (precision 1..=38, scale <= precision)"
                    ));
                }
                return Ok(Node::Decimal { precision, scale });
            }
            ("fixed", Some("decimal")) => {
                return Err("decimal on fixed is not supported: use bytes".into())
            }
            _ => {}
        }
        match ty {
            "record" | "error" => self.record(obj, ns),
            "enum" => {
                let (short, full, _) = names(obj, ns)?;
                let symbols = obj
                    .get("symbols")
                    .and_then(Value::as_array)
                    .ok_or_else(|| format!("enum {full} without symbols"))?
                    .iter()
                    .map(|s| s.as_str().map(str::to_string))
                    .collect::<Option<Vec<_>>>()
                    .ok_or_else(|| format!("enum {full} has a non-string symbol"))?;
                let node = Node::Enum(Box::new(EnumNode {
                    name: short,
                    symbols,
                }));
                self.named.insert(full, node.clone());
                Ok(node)
            }
            "fixed" => {
                let (_, full, _) = names(obj, ns)?;
                let size =
                    uint(obj, "size")?.ok_or_else(|| format!("fixed {full} without size"))?;
                let node = Node::Fixed(size as usize);
                self.named.insert(full, node.clone());
                Ok(node)
            }
            "array" => {
                let items = obj.get("items").ok_or("array without items")?;
                Ok(Node::Array(Box::new(self.node(items, ns)?)))
            }
            "map" => {
                let values = obj.get("values").ok_or("map without values")?;
                Ok(Node::Map(Box::new(self.node(values, ns)?)))
            }
            other => self.reference(other, ns),
        }
    }

    fn record(&mut self, obj: &Map<String, Value>, ns: &str) -> Result<Node, String> {
        let (short, full, own_ns) = names(obj, ns)?;
        let raw_fields = obj
            .get("fields")
            .and_then(Value::as_array)
            .ok_or_else(|| format!("record {full} without fields"))?;
        let mut fields = Vec::with_capacity(raw_fields.len());
        for f in raw_fields {
            let name = f
                .get("name")
                .and_then(Value::as_str)
                .ok_or_else(|| format!("a field of record {full} has no name"))?;
            let ty = f
                .get("type")
                .ok_or_else(|| format!("field {full}.{name} has no type"))?;
            let node = self
                .node(ty, &own_ns)
                .map_err(|e| format!("field {full}.{name}: {e}"))?;
            let null_default = match (f.get("default"), &node) {
                (Some(Value::Null), Node::Union(u)) => u.null_index,
                _ => None,
            };
            fields.push(FieldNode {
                name: name.to_string(),
                node,
                null_default,
            });
        }
        let node = Node::Record(Box::new(RecordNode {
            name: short,
            fullname: full.clone(),
            fields,
        }));
        self.named.insert(full, node.clone());
        Ok(node)
    }
}

fn primitive(name: &str) -> Option<Node> {
    Some(match name {
        "null" => Node::Null,
        "boolean" => Node::Boolean,
        "int" => Node::Int,
        "long" => Node::Long,
        "float" => Node::Float,
        "double" => Node::Double,
        "bytes" => Node::Bytes,
        "string" => Node::String,
        _ => return None,
    })
}

fn uint(obj: &Map<String, Value>, key: &str) -> Result<Option<u32>, String> {
    match obj.get(key) {
        None => Ok(None),
        Some(v) => v
            .as_u64()
            .and_then(|n| u32::try_from(n).ok())
            .map(Some)
            .ok_or_else(|| format!("'{key}' must be a small non-negative integer")),
    }
}

/// (short name, full name, namespace for nested definitions) of a named type.
fn names(obj: &Map<String, Value>, ns: &str) -> Result<(String, String, String), String> {
    let name = obj
        .get("name")
        .and_then(Value::as_str)
        .ok_or("named type without a name")?;
    if let Some((space, short)) = name.rsplit_once('.') {
        return Ok((short.to_string(), name.to_string(), space.to_string()));
    }
    let space = obj
        .get("namespace")
        .and_then(Value::as_str)
        .unwrap_or(ns)
        .to_string();
    let full = if space.is_empty() {
        name.to_string()
    } else {
        format!("{space}.{name}")
    };
    Ok((name.to_string(), full, space))
}

/// CRC-64-AVRO (Rabin) fingerprint, as the Avro spec defines it for single-object encoding.
pub(crate) fn rabin(bytes: &[u8]) -> u64 {
    let mut fp = RABIN_EMPTY;
    for &b in bytes {
        fp = (fp >> 8) ^ RABIN_TABLE[((fp ^ u64::from(b)) & 0xff) as usize];
    }
    fp
}

const RABIN_EMPTY: u64 = 0xc15d_213a_a4d7_a795;

const RABIN_TABLE: [u64; 256] = {
    let mut table = [0u64; 256];
    let mut i = 0;
    while i < 256 {
        let mut fp = i as u64;
        let mut j = 0;
        while j < 8 {
            fp = (fp >> 1) ^ (RABIN_EMPTY & 0u64.wrapping_sub(fp & 1));
            j += 1;
        }
        table[i] = fp;
        i += 1;
    }
    table
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rabin_matches_the_spec_vector() {
        // Canonical form of "null" is `"null"`; the Avro spec lists 0x63dd24e7cc258f8a.
        assert_eq!(rabin(br#""null""#), 0x63dd_24e7_cc25_8f8a);
    }

    #[test]
    fn named_references_are_inlined() {
        let v: Value = serde_json::from_str(
            r#"{"type":"record","name":"R","namespace":"a.b","fields":[
                {"name":"x","type":{"type":"enum","name":"E","symbols":["p","q"]}},
                {"name":"y","type":["null","E"],"default":null}]}"#,
        )
        .unwrap();
        let Node::Record(r) = compile(&v).unwrap() else {
            panic!("not a record")
        };
        assert_eq!(r.fullname, "a.b.R");
        let Node::Union(u) = &r.fields[1].node else {
            panic!("not a union")
        };
        assert_eq!(u.branches[1], r.fields[0].node);
        assert_eq!(r.fields[1].null_default, Some(0));
        assert!(compile(&serde_json::json!("Nope")).is_err());
    }
}
