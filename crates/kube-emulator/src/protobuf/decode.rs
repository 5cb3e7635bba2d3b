//! The schema-driven decoder: a message's bytes plus its static field table
//! (`Message`) become the JSON object Go's `encoding/json` would have produced for
//! the same Go struct, so a protobuf request continues down the JSON path.
//!
//! Go's protobuf marshallers write every non-pointer field, zero or not, while its
//! JSON marshaller leaves out zero `omitempty` fields. The tables therefore say which
//! scalars keep a zero value (`keep`: pointer fields and fields without `omitempty`);
//! other zero scalars are dropped. Embedded messages always stay (`{}` is what JSON
//! writes for a struct), except a zero `metav1.Time`: JSON writes null for a struct
//! (`keep`) and nothing for a nil pointer.
//! A field number a table does not list is an error, never silently dropped.

use base64::Engine as _;
use serde_json::{Map, Value, json};

use super::wire::{self, Value as Wire};

/// What a field holds and how it becomes JSON.
#[derive(Clone, Copy, Debug)]
pub enum Kind {
    /// `string`.
    Str,
    /// `bool`.
    Bool,
    /// `int32` / `int64` (varint, two's complement).
    Int,
    /// `bytes`, base64 in JSON.
    Bytes,
    /// An embedded message.
    Msg(&'static Message),
    /// `metav1.Time` {seconds(1), nanos(2)}, RFC 3339 in JSON.
    Time,
    /// `intstr.IntOrString` {type(1), intVal(2), strVal(3)}.
    IntOrString,
    /// `resource.Quantity` {string(1)}.
    Quantity,
    /// `map<string, string>`.
    MapStr,
    /// `map<string, bytes>`, values base64 in JSON.
    MapBytes,
    /// `map<string, resource.Quantity>` (`ResourceList`).
    MapQuantity,
    /// `metav1.FieldsV1` {raw(1)}: JSON bytes, embedded as JSON (`managedFields`).
    FieldsV1,
}

/// One field of a message table.
#[derive(Clone, Copy, Debug)]
pub struct Field {
    /// Protobuf field number.
    pub number: u64,
    /// JSON name.
    pub name: &'static str,
    /// Value kind.
    pub kind: Kind,
    /// `repeated` (a JSON array).
    pub repeated: bool,
    /// Keep a zero scalar (pointer fields, fields without `omitempty`).
    pub keep: bool,
}

/// A field; see [`Field::rep`] and [`Field::keep`].
#[must_use]
pub const fn f(number: u64, name: &'static str, kind: Kind) -> Field {
    Field { number, name, kind, repeated: false, keep: false }
}

impl Field {
    /// Mark the field `repeated`.
    #[must_use]
    pub const fn rep(mut self) -> Self {
        self.repeated = true;
        self
    }

    /// Keep a zero value (pointer field or no `omitempty`).
    #[must_use]
    pub const fn keep(mut self) -> Self {
        self.keep = true;
        self
    }
}

/// The table of one message type.
#[derive(Debug)]
pub struct Message {
    /// Go type name, for error messages.
    pub name: &'static str,
    /// Its fields.
    pub fields: &'static [Field],
}

/// Why a body could not be decoded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DecodeError {
    /// The bytes are not a well-formed message of the expected type (400).
    Malformed(String),
    /// A field the tables do not know (415: the data would be lost).
    UnknownField {
        /// JSON path of the message holding it (`spec.template.spec`).
        path: String,
        /// Go type of that message.
        message: &'static str,
        /// The unknown field number.
        number: u64,
    },
}

impl From<wire::WireError> for DecodeError {
    fn from(e: wire::WireError) -> Self {
        Self::Malformed(e.0)
    }
}

fn malformed(path: &str, what: impl std::fmt::Display) -> DecodeError {
    DecodeError::Malformed(format!("{}: {what}", if path.is_empty() { "<object>" } else { path }))
}

fn join(path: &str, name: &str) -> String {
    if path.is_empty() { name.to_owned() } else { format!("{path}.{name}") }
}

/// Decode one message into a JSON object.
pub fn message(table: &Message, bytes: &[u8], path: &str) -> Result<Map<String, Value>, DecodeError> {
    let mut out = Map::new();
    for (number, value) in wire::fields(bytes).map_err(|e| malformed(path, e))? {
        let field = table.fields.iter().find(|f| f.number == number).ok_or_else(|| DecodeError::UnknownField {
            path: path.to_owned(),
            message: table.name,
            number,
        })?;
        let path = join(path, field.name);
        match field.kind {
            Kind::MapStr | Kind::MapBytes | Kind::MapQuantity => {
                let (k, v) = map_entry(field.kind, value, &path)?;
                let map = out.entry(field.name).or_insert_with(|| json!({}));
                map.as_object_mut().expect("maps are objects").insert(k, v);
            }
            _ if field.repeated => {
                let items = match (field.kind, value) {
                    (Kind::Int | Kind::Bool, Wire::Bytes(packed)) => wire::packed_varints(packed)
                        .map_err(|e| malformed(&path, e))?
                        .into_iter()
                        .map(|v| scalar(field.kind, Wire::Varint(v), &path))
                        .collect::<Result<Vec<_>, _>>()?,
                    _ => vec![scalar(field.kind, value, &path)?],
                };
                let list = out.entry(field.name).or_insert_with(|| json!([]));
                list.as_array_mut().expect("repeated fields are arrays").extend(items.into_iter().flatten());
            }
            _ => match scalar(field.kind, value, &path)? {
                Some(v) if field.keep || !is_zero(&v) => {
                    out.insert(field.name.to_owned(), v);
                }
                // A zero non-pointer `metav1.Time` is JSON null (pointers are left out).
                None if field.keep => {
                    out.insert(field.name.to_owned(), Value::Null);
                }
                // Proto writes zero non-pointer fields; JSON's omitempty leaves them out.
                _ => {
                    out.remove(field.name);
                }
            },
        }
    }
    Ok(out)
}

fn is_zero(v: &Value) -> bool {
    match v {
        Value::String(s) => s.is_empty(),
        Value::Bool(b) => !b,
        Value::Number(n) => n.as_i64() == Some(0),
        _ => false,
    }
}

fn bytes<'a>(value: Wire<'a>, path: &str) -> Result<&'a [u8], DecodeError> {
    match value {
        Wire::Bytes(b) => Ok(b),
        other => Err(malformed(path, format!("expected a length-delimited field, got {}", other.wire_type()))),
    }
}

fn varint(value: Wire<'_>, path: &str) -> Result<u64, DecodeError> {
    match value {
        Wire::Varint(v) => Ok(v),
        other => Err(malformed(path, format!("expected a varint, got {}", other.wire_type()))),
    }
}

fn text(value: Wire<'_>, path: &str) -> Result<String, DecodeError> {
    String::from_utf8(bytes(value, path)?.to_vec()).map_err(|_| malformed(path, "string is not UTF-8"))
}

/// A single value; `None` for a zero `Time` (JSON null: left out).
fn scalar(kind: Kind, value: Wire<'_>, path: &str) -> Result<Option<Value>, DecodeError> {
    Ok(Some(match kind {
        Kind::Str => json!(text(value, path)?),
        Kind::Bool => json!(varint(value, path)? != 0),
        // int32 and int64 both sign-extend to 64 bits on the wire.
        Kind::Int => json!(i64::from_ne_bytes(varint(value, path)?.to_ne_bytes())),
        Kind::Bytes => json!(base64::engine::general_purpose::STANDARD.encode(bytes(value, path)?)),
        Kind::Msg(table) => Value::Object(message(table, bytes(value, path)?, path)?),
        Kind::Time => return time(bytes(value, path)?, path),
        Kind::IntOrString => int_or_string(bytes(value, path)?, path)?,
        Kind::Quantity => {
            let q = message(&QUANTITY, bytes(value, path)?, path)?;
            q.get("string").cloned().unwrap_or_else(|| json!("0"))
        }
        Kind::FieldsV1 => {
            let raw = wire::fields(bytes(value, path)?).map_err(|e| malformed(path, e))?;
            match raw.as_slice() {
                [] => json!({}),
                [(1, Wire::Bytes(json))] => serde_json::from_slice(json).map_err(|e| malformed(path, e))?,
                _ => return Err(malformed(path, "FieldsV1 holds one raw field")),
            }
        }
        Kind::MapStr | Kind::MapBytes | Kind::MapQuantity => unreachable!("maps are decoded by map_entry"),
    }))
}

static QUANTITY: Message = Message { name: "resource.Quantity", fields: &[f(1, "string", Kind::Str)] };

static TIME: Message =
    Message { name: "metav1.Time", fields: &[f(1, "seconds", Kind::Int).keep(), f(2, "nanos", Kind::Int).keep()] };

static INT_OR_STRING: Message = Message {
    name: "intstr.IntOrString",
    fields: &[f(1, "type", Kind::Int).keep(), f(2, "intVal", Kind::Int).keep(), f(3, "strVal", Kind::Str).keep()],
};

fn time(bytes: &[u8], path: &str) -> Result<Option<Value>, DecodeError> {
    let t = message(&TIME, bytes, path)?;
    let seconds = t.get("seconds").and_then(Value::as_i64).unwrap_or(0);
    let nanos = t.get("nanos").and_then(Value::as_i64).unwrap_or(0);
    if seconds == 0 && nanos == 0 {
        return Ok(None);
    }
    // metav1.Time serialises with second precision.
    let ts = jiff::Timestamp::from_second(seconds).map_err(|e| malformed(path, e))?;
    Ok(Some(json!(ts.strftime("%Y-%m-%dT%H:%M:%SZ").to_string())))
}

fn int_or_string(bytes: &[u8], path: &str) -> Result<Value, DecodeError> {
    let v = message(&INT_OR_STRING, bytes, path)?;
    match v.get("type").and_then(Value::as_i64).unwrap_or(0) {
        0 => Ok(v.get("intVal").cloned().unwrap_or_else(|| json!(0))),
        1 => Ok(v.get("strVal").cloned().unwrap_or_else(|| json!(""))),
        other => Err(malformed(path, format!("IntOrString type {other}"))),
    }
}

/// A map entry {key(1), value(2)}.
fn map_entry(kind: Kind, value: Wire<'_>, path: &str) -> Result<(String, Value), DecodeError> {
    let (mut key, mut val) = (String::new(), None);
    for (number, v) in wire::fields(bytes(value, path)?).map_err(|e| malformed(path, e))? {
        match number {
            1 => key = text(v, path)?,
            2 => {
                val = Some(match kind {
                    Kind::MapStr => json!(text(v, path)?),
                    Kind::MapBytes => json!(base64::engine::general_purpose::STANDARD.encode(bytes(v, path)?)),
                    _ => scalar(Kind::Quantity, v, path)?.unwrap_or_default(),
                });
            }
            other => return Err(malformed(path, format!("map entry field {other}"))),
        }
    }
    // An absent value is the zero value.
    let zero = match kind {
        Kind::MapQuantity => json!("0"),
        _ => json!(""),
    };
    Ok((key, val.unwrap_or(zero)))
}
