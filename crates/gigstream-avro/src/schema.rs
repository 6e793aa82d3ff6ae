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
    /// A part of a registry writer schema that the reader types cannot take (found by
    /// [`crate::resolve`]): decoding a datum that reaches it fails with `incompatible_schema`;
    /// skipping it (a field the reader ignores) works. Never in a catalog schema's tree.
    Unreadable(Box<UnreadableNode>),
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct UnreadableNode {
    /// The writer's type, for skipping and sizes.
    pub node: Node,
    /// Why the reader cannot take it, in plain words (the field path is added on the way up).
    pub reason: String,
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
    /// Whether the field declares a `default` (a reader may then miss it in the writer).
    pub has_default: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct EnumNode {
    pub name: String,
    pub symbols: Vec<String>,
    /// Indices of writer symbols the reader lacks (registry writer schemas only; empty
    /// otherwise, so the hot path pays one `is_empty`).
    pub unknown: Vec<usize>,
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
            Node::Unreadable(u) => u.node.branch_name(),
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
            Node::Unreadable(u) => u.node.min_size(),
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
                    unknown: Vec::new(),
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
                has_default: f.get("default").is_some(),
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

/// The Avro specification's *Parsing Canonical Form* of a schema (spec section "Parsing
/// Canonical Form for Schemas"), the text whose CRC-64-AVRO is the schema's fingerprint in
/// single-object encoding. It is what Java's `SchemaNormalization.toParsingForm` and fastavro's
/// `to_parsing_canonical_form` give:
///
/// - primitives as bare strings (`"long"`, also for `{"type": "long", "logicalType": ...}`);
/// - named types by full name, `namespace` dropped; a named type already written is referred
///   to by its full name;
/// - only `name`, `type`, `fields`, `symbols`, `items`, `values`, `size` kept, in that order
///   (no `doc`, `default`, `aliases`, `logicalType`, `precision`, `scale`, `order`, ...);
///   fields keep `name` and `type`; `error` is written as `record`;
/// - no whitespace, strings with their characters unescaped (serde_json's escaping of `"`,
///   `\` and control characters only), integers without leading zeros.
///
/// apache-avro 0.21's `Schema::canonical_form` is *not* this form (it keeps precision and
/// scale and writes `{"type":"long"}` for a logical type): gigstream before 0.2 fingerprinted
/// that text, see [`crate::Registry`] on accepting both.
pub(crate) fn parsing_canonical_form(schema: &Value) -> Result<String, String> {
    let mut out = String::with_capacity(1024);
    Canonical::default().write(schema, "", &mut out)?;
    Ok(out)
}

#[derive(Default)]
struct Canonical {
    /// Full names of the named types written so far.
    defined: std::collections::HashSet<String>,
}

impl Canonical {
    fn write(&mut self, v: &Value, ns: &str, out: &mut String) -> Result<(), String> {
        match v {
            Value::String(name) => {
                let name = self.resolve(name, ns);
                push_str(out, &name);
                Ok(())
            }
            Value::Array(branches) => {
                out.push('[');
                for (i, b) in branches.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    self.write(b, ns, out)?;
                }
                out.push(']');
                Ok(())
            }
            Value::Object(obj) => self.object(obj, ns, out),
            other => Err(format!("unexpected schema element {other}")),
        }
    }

    /// A type name as written in the canonical form: primitives bare, others full names.
    fn resolve(&self, name: &str, ns: &str) -> String {
        if primitive(name).is_some() || name.contains('.') || ns.is_empty() {
            return name.to_string();
        }
        let qualified = format!("{ns}.{name}");
        if !self.defined.contains(&qualified) && self.defined.contains(name) {
            // A type of the null namespace referred to from inside a namespace.
            return name.to_string();
        }
        qualified
    }

    fn object(
        &mut self,
        obj: &Map<String, Value>,
        ns: &str,
        out: &mut String,
    ) -> Result<(), String> {
        let ty = obj
            .get("type")
            .ok_or_else(|| "schema object without 'type'".to_string())?;
        let ty = match ty {
            Value::String(s) => s.as_str(),
            nested => return self.write(nested, ns, out),
        };
        match ty {
            "record" | "error" | "enum" | "fixed" => {
                let (_, full, own_ns) = names(obj, ns)?;
                if !self.defined.insert(full.clone()) {
                    push_str(out, &full);
                    return Ok(());
                }
                out.push_str("{\"name\":");
                push_str(out, &full);
                out.push_str(",\"type\":");
                match ty {
                    "enum" => {
                        out.push_str("\"enum\",\"symbols\":[");
                        let symbols = obj
                            .get("symbols")
                            .and_then(Value::as_array)
                            .ok_or_else(|| format!("enum {full} without symbols"))?;
                        for (i, s) in symbols.iter().enumerate() {
                            if i > 0 {
                                out.push(',');
                            }
                            let s = s
                                .as_str()
                                .ok_or_else(|| format!("enum {full} has a non-string symbol"))?;
                            push_str(out, s);
                        }
                        out.push(']');
                    }
                    "fixed" => {
                        let size = obj
                            .get("size")
                            .and_then(Value::as_u64)
                            .ok_or_else(|| format!("fixed {full} without a valid size"))?;
                        out.push_str("\"fixed\",\"size\":");
                        out.push_str(&size.to_string());
                    }
                    _ => {
                        out.push_str("\"record\",\"fields\":[");
                        let fields = obj
                            .get("fields")
                            .and_then(Value::as_array)
                            .ok_or_else(|| format!("record {full} without fields"))?;
                        for (i, f) in fields.iter().enumerate() {
                            if i > 0 {
                                out.push(',');
                            }
                            let name = f
                                .get("name")
                                .and_then(Value::as_str)
                                .ok_or_else(|| format!("a field of record {full} has no name"))?;
                            let fty = f
                                .get("type")
                                .ok_or_else(|| format!("field {full}.{name} has no type"))?;
                            out.push_str("{\"name\":");
                            push_str(out, name);
                            out.push_str(",\"type\":");
                            self.write(fty, &own_ns, out)?;
                            out.push('}');
                        }
                        out.push(']');
                    }
                }
                out.push('}');
                Ok(())
            }
            "array" => {
                let items = obj.get("items").ok_or("array without items")?;
                out.push_str("{\"type\":\"array\",\"items\":");
                self.write(items, ns, out)?;
                out.push('}');
                Ok(())
            }
            "map" => {
                let values = obj.get("values").ok_or("map without values")?;
                out.push_str("{\"type\":\"map\",\"values\":");
                self.write(values, ns, out)?;
                out.push('}');
                Ok(())
            }
            // A primitive with attributes (a logical type, `avro.java.string`, ...) or a
            // reference written as `{"type": "Name"}`.
            other => {
                let name = self.resolve(other, ns);
                push_str(out, &name);
                Ok(())
            }
        }
    }
}

fn push_str(out: &mut String, s: &str) {
    // serde_json escapes only `"`, `\` and control characters: the canonical form's strings.
    out.push_str(&serde_json::to_string(s).expect("invariant: a str serializes"));
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

    /// Schemas with every rule of the Parsing Canonical Form, and what fastavro 1.13
    /// (`to_parsing_canonical_form`, `fingerprint(.., "CRC-64-AVRO")`, which prints the
    /// little-endian bytes) gives for them.
    #[test]
    fn parsing_canonical_form_matches_fastavro() {
        let cases = [
            (r#""null""#, r#""null""#, "8a8f25cce724dd63"),
            (
                r#"{"type":"int","logicalType":"date"}"#,
                r#""int""#,
                "8f5c393f1ad57572",
            ),
            (
                r#"{"type":"record","name":"R","namespace":"a.b","doc":"d","aliases":["X"],"fields":[{"name":"f","type":{"type":"fixed","name":"F","size":16},"default":"x","doc":"z","order":"descending"},{"name":"g","type":"F"},{"name":"h","type":{"type":"map","values":{"type":"array","items":{"type":"bytes","logicalType":"decimal","precision":9,"scale":2}}}},{"name":"i","type":{"type":"record","name":"c.d.Inner","fields":[{"name":"e","type":{"type":"enum","name":"E","symbols":["A","B"],"default":"A"}}]}},{"name":"j","type":"c.d.E"},{"name":"k","type":["null",{"type":"string","avro.java.string":"String"}]}]}"#,
                r#"{"name":"a.b.R","type":"record","fields":[{"name":"f","type":{"name":"a.b.F","type":"fixed","size":16}},{"name":"g","type":"a.b.F"},{"name":"h","type":{"type":"map","values":{"type":"array","items":"bytes"}}},{"name":"i","type":{"name":"c.d.Inner","type":"record","fields":[{"name":"e","type":{"name":"c.d.E","type":"enum","symbols":["A","B"]}}]}},{"name":"j","type":"c.d.E"},{"name":"k","type":["null","string"]}]}"#,
                "5cb3dd7bcbb85061",
            ),
            (
                r#"{"type":"record","name":"Top","fields":[{"name":"a","type":{"type":"record","name":"N","namespace":"x","fields":[{"name":"b","type":{"type":"enum","name":"S","symbols":["Q"]}}]}},{"name":"c","type":"x.S"}]}"#,
                r#"{"name":"Top","type":"record","fields":[{"name":"a","type":{"name":"x.N","type":"record","fields":[{"name":"b","type":{"name":"x.S","type":"enum","symbols":["Q"]}}]}},{"name":"c","type":"x.S"}]}"#,
                "71113c28d9c099dc",
            ),
        ];
        for (schema, pcf, fp_le_hex) in cases {
            let v: Value = serde_json::from_str(schema).unwrap();
            let ours = parsing_canonical_form(&v).unwrap();
            assert_eq!(ours, pcf, "{schema}");
            let hex: String = rabin(ours.as_bytes())
                .to_le_bytes()
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect();
            assert_eq!(hex, fp_le_hex, "{schema}");
        }
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
