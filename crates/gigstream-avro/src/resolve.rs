//! Schema resolution of a writer schema the catalog does not know (a schema registry's) against
//! the reader: the topic's newest catalog schema, which the Rust types follow.
//!
//! The decoder is driven by the writer schema and hands values to serde (the `de` module),
//! so most of Avro's resolution rules already hold: writer fields the reader lacks are skipped,
//! reader fields with a default the writer lacks take it, `int` widens to `long`, `float` or
//! `double`, and so on. What serde cannot tell apart, and what would fail late or silently, is
//! decided here, once per writer schema:
//!
//! - a reader field without a default that the writer lacks makes the writer's record
//!   unreadable;
//! - a type the reader cannot take at a field (`string` for `int`, `long` for
//!   `timestamp-millis`, a decimal of another scale, ...) makes that field unreadable;
//! - a union branch the reader's union lacks, and an enum symbol the reader's enum lacks, make
//!   only the data that uses them unreadable: records of the other branches decode.
//!
//! The unreadable parts are wrapped in an *unreadable* node in the writer's tree; decoding a
//! datum that reaches one fails with `incompatible_schema` (skipping it, for a field the reader
//! ignores, works). Every such place is also reported as an [`Incompatibility`] in plain words:
//! [`check_compatibility`] gives them for any two schema texts.
//!
//! Not supported (reported, not guessed): aliases (a renamed field is a removed and an added
//! one), a non-union writer where the reader has a union other than `["null", T]` (except a
//! record that is one of the reader's branches).

use crate::error::CodecError;
use crate::schema::{self, EnumNode, FieldNode, Node, RecordNode, UnionNode, UnreadableNode};
use std::fmt;

/// One place where data of a writer schema cannot be read with a reader schema.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Incompatibility {
    /// Field and union-branch names from the top-level record, dot-separated
    /// (`payload.LeadPosted.budget_min`); empty for the top-level record itself.
    pub path: String,
    /// What does not fit, in plain words.
    pub message: String,
    /// Only data that reaches this place fails (a union branch, enum symbol, or array/map
    /// item); other records of the same writer schema decode.
    pub partial: bool,
}

impl fmt::Display for Incompatibility {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "at {}: {}", self.path, self.message)
        }
    }
}

/// Checks whether data written with `writer` can be read with `reader` (two Avro schema texts)
/// by Avro's resolution rules as gigstream's decoder applies them (see the module docs).
/// Returns every incompatibility found; empty means compatible. Errors when a text is not a
/// valid schema or uses what the codec does not support (recursive types, decimals on fixed).
pub fn check_compatibility(writer: &str, reader: &str) -> Result<Vec<Incompatibility>, CodecError> {
    let compile = |which: &str, text: &str| -> Result<Node, CodecError> {
        let bad = |message: String| CodecError::Schema {
            file: format!("the {which} schema"),
            message,
        };
        apache_avro::Schema::parse_str(text).map_err(|e| bad(e.to_string()))?;
        let value: serde_json::Value =
            serde_json::from_str(text).map_err(|e| bad(e.to_string()))?;
        schema::compile(&value).map_err(bad)
    };
    let w = compile("writer", writer)?;
    let r = compile("reader", reader)?;
    Ok(resolve(&w, &r).findings)
}

/// The writer's tree with what the reader cannot take wrapped in [`Node::Unreadable`], and the
/// findings.
pub(crate) struct Resolved {
    pub node: Node,
    pub findings: Vec<Incompatibility>,
}

pub(crate) fn resolve(writer: &Node, reader: &Node) -> Resolved {
    let mut r = Resolver {
        path: Vec::new(),
        conditional: 0,
        findings: Vec::new(),
    };
    let node = match (writer, reader) {
        (Node::Record(w), Node::Record(rd)) if w.name != rd.name => r.unreadable(
            writer,
            format!(
                "the writer's top-level record is {}, the reader's is {}",
                w.fullname, rd.fullname
            ),
        ),
        _ => r.node(writer, reader),
    };
    Resolved {
        node,
        findings: r.findings,
    }
}

struct Resolver {
    path: Vec<String>,
    /// How many unions, arrays and maps enclose the current place.
    conditional: usize,
    findings: Vec<Incompatibility>,
}

impl Resolver {
    fn unreadable(&mut self, w: &Node, reason: String) -> Node {
        self.findings.push(Incompatibility {
            path: self.path.join("."),
            message: reason.clone(),
            partial: self.conditional > 0,
        });
        Node::Unreadable(Box::new(UnreadableNode {
            node: w.clone(),
            reason,
        }))
    }

    fn nested<T>(&mut self, step: Option<&str>, f: impl FnOnce(&mut Self) -> T) -> T {
        if let Some(s) = step {
            self.path.push(s.to_string());
        }
        self.conditional += 1;
        let out = f(self);
        self.conditional -= 1;
        if step.is_some() {
            self.path.pop();
        }
        out
    }

    fn node(&mut self, w: &Node, r: &Node) -> Node {
        match (w, r) {
            (Node::Union(wu), Node::Union(ru)) => self.union_to_union(wu, ru),
            (Node::Union(wu), _) => self.union_to_single(w, wu, r),
            (_, Node::Union(ru)) => self.single_to_union(w, ru),
            (Node::Record(wr), Node::Record(rr)) => self.record(wr, rr),
            (Node::Enum(we), Node::Enum(re)) => self.enumeration(we, re),
            (Node::Array(wi), Node::Array(ri)) => {
                let items = self.nested(None, |s| s.node(wi, ri));
                Node::Array(Box::new(items))
            }
            (Node::Map(wv), Node::Map(rv)) => {
                let values = self.nested(None, |s| s.node(wv, rv));
                Node::Map(Box::new(values))
            }
            _ if readable_as(w, r) => w.clone(),
            _ => {
                let reason = mismatch(w, r);
                self.unreadable(w, reason)
            }
        }
    }

    fn record(&mut self, wr: &RecordNode, rr: &RecordNode) -> Node {
        let mut fields = Vec::with_capacity(wr.fields.len());
        for wf in &wr.fields {
            let node = match rr.fields.iter().find(|rf| rf.name == wf.name) {
                Some(rf) => {
                    self.path.push(wf.name.clone());
                    let n = self.node(&wf.node, &rf.node);
                    self.path.pop();
                    n
                }
                // Skipped by the reader (serde ignores unknown fields).
                None => wf.node.clone(),
            };
            fields.push(FieldNode { node, ..wf.clone() });
        }
        let missing: Vec<&str> = rr
            .fields
            .iter()
            .filter(|rf| !rf.has_default && !wr.fields.iter().any(|wf| wf.name == rf.name))
            .map(|rf| rf.name.as_str())
            .collect();
        let resolved = Node::Record(Box::new(RecordNode {
            name: wr.name.clone(),
            fullname: wr.fullname.clone(),
            fields,
        }));
        if missing.is_empty() {
            return resolved;
        }
        let (s, them) = if missing.len() == 1 {
            ("", "it has")
        } else {
            ("s", "they have")
        };
        self.unreadable(
            &resolved,
            format!(
                "the writer's record {} lacks field{s} {}, which the reader's record {} needs ({them} no default)",
                wr.fullname,
                missing.join(", "),
                rr.fullname
            ),
        )
    }

    fn enumeration(&mut self, we: &EnumNode, re: &EnumNode) -> Node {
        let unknown: Vec<usize> = we
            .symbols
            .iter()
            .enumerate()
            .filter(|(_, s)| !re.symbols.contains(s))
            .map(|(i, _)| i)
            .collect();
        if !unknown.is_empty() {
            let names: Vec<&str> = unknown.iter().map(|&i| we.symbols[i].as_str()).collect();
            self.findings.push(Incompatibility {
                path: self.path.join("."),
                message: format!(
                    "the writer's enum {} has symbol{} {} that the reader's enum {} lacks (records using {} cannot be read)",
                    we.name,
                    if names.len() == 1 { "" } else { "s" },
                    names.join(", "),
                    re.name,
                    if names.len() == 1 { "it" } else { "them" }
                ),
                partial: true,
            });
        }
        Node::Enum(Box::new(EnumNode {
            name: we.name.clone(),
            symbols: we.symbols.clone(),
            unknown,
        }))
    }

    fn union_to_union(&mut self, wu: &UnionNode, ru: &UnionNode) -> Node {
        let branches = if let Some(t) = option_of(ru) {
            // The reader is an `Option<T>`: null is null, every other branch must read as T.
            wu.branches
                .iter()
                .map(|wb| match wb {
                    Node::Null => Node::Null,
                    _ => self.nested(None, |s| s.node(wb, t)),
                })
                .collect()
        } else {
            // The reader is a Rust enum whose variants are the branches' names.
            wu.branches
                .iter()
                .map(|wb| {
                    let name = wb.branch_name();
                    self.nested(Some(name), |s| match find_branch(wb, ru) {
                        Some(rb) => s.node(wb, rb),
                        None => {
                            let reason = format!(
                                "the writer's union branch {name} is not one of the reader's [{}] (records using it cannot be read)",
                                branch_names(ru)
                            );
                            s.unreadable(wb, reason)
                        }
                    })
                })
                .collect()
        };
        Node::Union(Box::new(union_of(branches)))
    }

    fn union_to_single(&mut self, w: &Node, wu: &UnionNode, r: &Node) -> Node {
        if matches!(r, Node::Enum(_)) {
            // The decoder reads a union as a Rust enum of its branches, not an Avro enum.
            let reason = format!(
                "the writer has a union [{}] where the reader expects {} (not supported)",
                branch_names(wu),
                describe(r)
            );
            return self.unreadable(w, reason);
        }
        let branches = wu
            .branches
            .iter()
            .map(|wb| self.nested(None, |s| s.node(wb, r)))
            .collect();
        Node::Union(Box::new(union_of(branches)))
    }

    fn single_to_union(&mut self, w: &Node, ru: &UnionNode) -> Node {
        if let Some(t) = option_of(ru) {
            return match w {
                Node::Null => Node::Null,
                _ => self.node(w, t),
            };
        }
        match (w, find_branch(w, ru)) {
            // A record read as the reader's union branch of the same name.
            (Node::Record(_), Some(rb)) => {
                let name = w.branch_name().to_string();
                self.path.push(name);
                let n = self.node(w, rb);
                self.path.pop();
                n
            }
            _ => {
                let reason = format!(
                    "the writer has {} where the reader expects a union [{}]",
                    describe(w),
                    branch_names(ru)
                );
                self.unreadable(w, reason)
            }
        }
    }
}

/// `T` of a reader union `["null", T]` (either order).
fn option_of(u: &UnionNode) -> Option<&Node> {
    match (u.null_index, u.single) {
        (Some(_), Some(t)) => Some(&u.branches[t]),
        _ => None,
    }
}

/// The reader's branch a writer branch selects: the same name (short name for named types)
/// and kind.
fn find_branch<'r>(wb: &Node, ru: &'r UnionNode) -> Option<&'r Node> {
    ru.branches.iter().find(|rb| {
        rb.branch_name() == wb.branch_name()
            && std::mem::discriminant(*rb) == std::mem::discriminant(wb)
    })
}

fn union_of(branches: Vec<Node>) -> UnionNode {
    let null_index = branches.iter().position(|b| *b == Node::Null);
    let single = match (null_index, branches.len()) {
        (Some(n), 2) => Some(1 - n),
        _ => None,
    };
    UnionNode {
        branches,
        null_index,
        single,
    }
}

fn branch_names(u: &UnionNode) -> String {
    u.branches
        .iter()
        .map(|b| b.branch_name())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Whether a datum of writer type `w` reads as reader type `r` (non-composite types): Avro's
/// promotions, with logical types kept apart where a silent reading would change the value.
fn readable_as(w: &Node, r: &Node) -> bool {
    use Node::*;
    match (w, r) {
        (Null, Null) | (Boolean, Boolean) => true,
        (Int, Int | Long | Float | Double) => true,
        (Long, Long | Float | Double) => true,
        (Float, Float | Double) => true,
        (Double, Double) => true,
        (String, String | Bytes) | (Bytes, Bytes | String) => true,
        // A logical type reads as its plain type (the reader has no unit to confuse).
        (Date, Date | Int | Long) => true,
        (TimestampMillis, TimestampMillis | Long) => true,
        (Decimal { .. }, Bytes) => true,
        // The decoder gives the writer's exact decimal text; the reader must take its scale
        // and every value of the writer's precision.
        (
            Decimal {
                precision: wp,
                scale: ws,
            },
            Decimal {
                precision: rp,
                scale: rs,
            },
        ) => ws == rs && wp <= rp,
        (Fixed(a), Fixed(b)) => a == b,
        _ => false,
    }
}

fn mismatch(w: &Node, r: &Node) -> String {
    let hint = match (w, r) {
        (Node::Long, Node::TimestampMillis) => {
            " (a plain long, or another unit such as timestamp-micros, is not milliseconds)"
        }
        (Node::Int, Node::Date) => " (a plain int is not a date)",
        (Node::Decimal { .. }, Node::Decimal { .. }) => {
            " (the scales must be equal and the writer's precision at most the reader's)"
        }
        (Node::Bytes, Node::Decimal { .. }) => " (plain bytes are not a decimal)",
        _ => "",
    };
    format!(
        "the writer has {} where the reader expects {}{hint}",
        describe(w),
        describe(r)
    )
}

/// A type in words, as in messages: `string`, `decimal(18,2)`, `record gigstream.x.Y`, ...
pub(crate) fn describe(n: &Node) -> String {
    match n {
        Node::Date => "int (date)".into(),
        Node::TimestampMillis => "long (timestamp-millis)".into(),
        Node::Decimal { precision, scale } => format!("decimal({precision},{scale})"),
        Node::Fixed(size) => format!("fixed({size})"),
        Node::Record(r) => format!("record {}", r.fullname),
        Node::Enum(e) => format!("enum {}", e.name),
        Node::Array(i) => format!("array of {}", describe(i)),
        Node::Map(v) => format!("map of {}", describe(v)),
        Node::Union(u) => format!("union [{}]", branch_names(u)),
        Node::Unreadable(u) => describe(&u.node),
        other => other.branch_name().to_string(),
    }
}
