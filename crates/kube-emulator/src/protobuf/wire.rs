//! The protobuf wire format, read-only: varints, field keys and the four wire types
//! kube's messages use (varint, 64-bit, length-delimited, 32-bit), plus packed
//! repeated varints. It knows nothing about what the fields mean (see `decode`).

use std::fmt;

/// A malformed message: truncated, an over-long varint, or a wire type kube never
/// writes (the deprecated groups 3 and 4, or 6 and 7).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WireError(pub String);

impl fmt::Display for WireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for WireError {}

/// One field's value as it appears on the wire.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Value<'a> {
    /// Wire type 0 (int32, int64, uint*, bool, enum; negative int32 are sign-extended).
    Varint(u64),
    /// Wire type 1 (fixed64, sfixed64, double).
    Fixed64(u64),
    /// Wire type 2 (string, bytes, embedded message, map entry, packed repeated).
    Bytes(&'a [u8]),
    /// Wire type 5 (fixed32, sfixed32, float).
    Fixed32(u32),
}

impl Value<'_> {
    /// The wire type's name, for error messages.
    pub fn wire_type(&self) -> &'static str {
        match self {
            Value::Varint(_) => "varint",
            Value::Fixed64(_) => "fixed64",
            Value::Bytes(_) => "length-delimited",
            Value::Fixed32(_) => "fixed32",
        }
    }
}

/// Read one base-128 varint from the front of `buf`.
pub fn varint(buf: &mut &[u8]) -> Result<u64, WireError> {
    let mut value = 0u64;
    for shift in (0..64).step_by(7) {
        let (&byte, rest) = buf.split_first().ok_or_else(|| WireError("truncated varint".to_owned()))?;
        *buf = rest;
        value |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Ok(value);
        }
    }
    Err(WireError("varint longer than 10 bytes".to_owned()))
}

fn take<'a>(buf: &mut &'a [u8], n: usize, what: &str) -> Result<&'a [u8], WireError> {
    if buf.len() < n {
        return Err(WireError(format!("truncated {what}: {n} bytes announced, {} left", buf.len())));
    }
    let (head, rest) = buf.split_at(n);
    *buf = rest;
    Ok(head)
}

/// The fields of one message in wire order, as (field number, value).
pub fn fields(mut buf: &[u8]) -> Result<Vec<(u64, Value<'_>)>, WireError> {
    let mut out = Vec::new();
    while !buf.is_empty() {
        let key = varint(&mut buf)?;
        let number = key >> 3;
        if number == 0 {
            return Err(WireError("field number 0".to_owned()));
        }
        let value = match key & 7 {
            0 => Value::Varint(varint(&mut buf)?),
            1 => Value::Fixed64(u64::from_le_bytes(take(&mut buf, 8, "fixed64")?.try_into().expect("8 bytes"))),
            2 => {
                let len = usize::try_from(varint(&mut buf)?).map_err(|_| WireError("length overflows".to_owned()))?;
                Value::Bytes(take(&mut buf, len, "length-delimited field")?)
            }
            5 => Value::Fixed32(u32::from_le_bytes(take(&mut buf, 4, "fixed32")?.try_into().expect("4 bytes"))),
            other => return Err(WireError(format!("unsupported wire type {other} (field {number})"))),
        };
        out.push((number, value));
    }
    Ok(out)
}

/// The varints of a packed repeated field.
pub fn packed_varints(mut buf: &[u8]) -> Result<Vec<u64>, WireError> {
    let mut out = Vec::new();
    while !buf.is_empty() {
        out.push(varint(&mut buf)?);
    }
    Ok(out)
}

/// Encoders used by the unit tests of this module and of the decoder: they build
/// messages byte by byte, the way Go's generated marshallers do.
#[cfg(test)]
pub mod encode {
    /// Append a varint.
    pub fn varint(out: &mut Vec<u8>, mut v: u64) {
        while v >= 0x80 {
            out.push(u8::try_from(v & 0x7f).unwrap() | 0x80);
            v >>= 7;
        }
        out.push(u8::try_from(v).unwrap());
    }

    /// A length-delimited field.
    pub fn bytes(out: &mut Vec<u8>, number: u64, v: &[u8]) {
        varint(out, (number << 3) | 2);
        varint(out, v.len() as u64);
        out.extend_from_slice(v);
    }

    /// A varint field.
    pub fn int(out: &mut Vec<u8>, number: u64, v: u64) {
        varint(out, number << 3);
        varint(out, v);
    }

    /// A message built from a closure.
    pub fn msg(build: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
        let mut out = Vec::new();
        build(&mut out);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_of_every_length_round_trip() {
        for v in [0, 1, 127, 128, 300, 1 << 35, u64::MAX, (-1i64).cast_unsigned()] {
            let mut buf = Vec::new();
            encode::varint(&mut buf, v);
            let mut slice = buf.as_slice();
            assert_eq!(varint(&mut slice).unwrap(), v);
            assert!(slice.is_empty());
        }
        // 300 is the protobuf documentation's example: 0xAC 0x02.
        assert_eq!(varint(&mut [0xac, 0x02].as_slice()).unwrap(), 300);
        assert!(varint(&mut [0x80, 0x80].as_slice()).is_err());
        assert!(varint(&mut [0xff; 11].as_slice()).is_err());
    }

    #[test]
    fn every_wire_type_is_read_in_order() {
        let mut buf = Vec::new();
        encode::int(&mut buf, 1, 150);
        buf.extend([(2 << 3) | 1, 1, 0, 0, 0, 0, 0, 0, 0]);
        encode::bytes(&mut buf, 3, b"hi");
        buf.extend([(4 << 3) | 5, 2, 0, 0, 0]);
        encode::bytes(&mut buf, 17, b"");
        assert_eq!(
            fields(&buf).unwrap(),
            vec![
                (1, Value::Varint(150)),
                (2, Value::Fixed64(1)),
                (3, Value::Bytes(b"hi")),
                (4, Value::Fixed32(2)),
                (17, Value::Bytes(b"")),
            ]
        );
    }

    #[test]
    fn packed_varints_are_split() {
        let mut packed = Vec::new();
        for v in [3, 270, 86942] {
            encode::varint(&mut packed, v);
        }
        assert_eq!(packed_varints(&packed).unwrap(), vec![3, 270, 86942]);
    }

    #[test]
    fn malformed_messages_are_errors() {
        // A length past the end, a truncated fixed64, a group, field number 0.
        for bad in [&[0x0a, 0x05, b'a'][..], &[0x09, 1, 2], &[0x0b], &[0x00, 0x01], &[0x0a]] {
            assert!(fields(bad).is_err(), "{bad:?} must not parse");
        }
    }
}
