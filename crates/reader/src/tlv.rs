//! Just enough BER-TLV (ISO/IEC 8825-1, ISO/IEC 7816-4 §6.3) to size a certificate EF
//! from its header and to read the 券面事項 EFs: tags of up to 4 bytes, definite
//! lengths of up to 3 length bytes. Every input either parses or gives an error.

/// A parsed TLV header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Header {
    /// The tag bytes, big-endian (`0x30`, `0xFF20`, `0xDF22`).
    pub(crate) tag: u32,
    /// Bytes of tag and length fields.
    pub(crate) header_len: usize,
    /// Bytes of the value.
    pub(crate) value_len: usize,
}

impl Header {
    pub(crate) fn total_len(&self) -> usize {
        self.header_len + self.value_len
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TlvError {
    /// The bytes end inside the header.
    Incomplete,
    /// Not something this reader accepts (indefinite length, over-long fields).
    Invalid(&'static str),
}

/// Parses the tag and length at the start of `bytes`.
pub(crate) fn header(bytes: &[u8]) -> Result<Header, TlvError> {
    let first = *bytes.first().ok_or(TlvError::Incomplete)?;
    let mut tag = u32::from(first);
    let mut index = 1;
    if first & 0x1F == 0x1F {
        // High tag number form: subsequent bytes while bit 8 is set.
        loop {
            let byte = *bytes.get(index).ok_or(TlvError::Incomplete)?;
            tag = (tag << 8) | u32::from(byte);
            index += 1;
            if byte & 0x80 == 0 {
                break;
            }
            if index >= 4 {
                return Err(TlvError::Invalid("tag longer than 4 bytes"));
            }
        }
    }
    let first_length = *bytes.get(index).ok_or(TlvError::Incomplete)?;
    index += 1;
    let value_len = match first_length {
        0x00..=0x7F => usize::from(first_length),
        0x80 => return Err(TlvError::Invalid("indefinite length")),
        0x81..=0x83 => {
            let count = usize::from(first_length & 0x7F);
            let field = bytes
                .get(index..index + count)
                .ok_or(TlvError::Incomplete)?;
            index += count;
            field
                .iter()
                .fold(0usize, |length, &byte| (length << 8) | usize::from(byte))
        }
        _ => return Err(TlvError::Invalid("length field longer than 3 bytes")),
    };
    Ok(Header {
        tag,
        header_len: index,
        value_len,
    })
}

/// Parses one complete TLV: its header, its value, and the bytes after it.
pub(crate) fn split(bytes: &[u8]) -> Result<(Header, &[u8], &[u8]), TlvError> {
    let header = header(bytes)?;
    let value = bytes
        .get(header.header_len..header.total_len())
        .ok_or(TlvError::Incomplete)?;
    let rest = bytes.get(header.total_len()..).unwrap_or_default();
    Ok((header, value, rest))
}

/// Appends a definite BER length field.
pub(crate) fn push_length(out: &mut Vec<u8>, len: usize) {
    match len {
        0..=0x7F => out.push(len as u8),
        0x80..=0xFF => out.extend_from_slice(&[0x81, len as u8]),
        _ => {
            out.push(0x82);
            out.extend_from_slice(&(len.min(0xFFFF) as u16).to_be_bytes());
        }
    }
}

/// Length of the length field `push_length` writes.
pub(crate) fn length_field_len(len: usize) -> usize {
    match len {
        0..=0x7F => 1,
        0x80..=0xFF => 2,
        _ => 3,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers() {
        assert_eq!(
            header(&[0x30, 0x82, 0x05, 0x68]).unwrap(),
            Header {
                tag: 0x30,
                header_len: 4,
                value_len: 0x568
            }
        );
        assert_eq!(
            header(&[0xFF, 0x20, 0x81, 0x9F]).unwrap(),
            Header {
                tag: 0xFF20,
                header_len: 4,
                value_len: 0x9F
            }
        );
        assert_eq!(header(&[0xDF, 0x22, 0x03]).unwrap().tag, 0xDF22);
        assert_eq!(header(&[0xFF, 0x10, 0x0C]).unwrap().value_len, 12);
        assert_eq!(header(&[]), Err(TlvError::Incomplete));
        assert_eq!(header(&[0x30]), Err(TlvError::Incomplete));
        assert_eq!(header(&[0x30, 0x82, 0x05]), Err(TlvError::Incomplete));
        assert_eq!(header(&[0xFF, 0x81]), Err(TlvError::Incomplete));
        assert!(matches!(header(&[0x30, 0x80]), Err(TlvError::Invalid(_))));
        assert!(matches!(
            header(&[0x30, 0x84, 1, 2, 3, 4]),
            Err(TlvError::Invalid(_))
        ));
        assert!(matches!(
            header(&[0xFF, 0x81, 0x82, 0x83, 0x04, 0x00]),
            Err(TlvError::Invalid(_))
        ));
    }

    #[test]
    fn split_and_lengths() {
        let (parsed, value, rest) = split(&[0x04, 0x02, 0xAA, 0xBB, 0x05, 0x00]).unwrap();
        assert_eq!(parsed.tag, 0x04);
        assert_eq!(value, &[0xAA, 0xBB]);
        assert_eq!(rest, &[0x05, 0x00]);
        assert_eq!(split(&[0x04, 0x03, 0xAA]), Err(TlvError::Incomplete));
        for len in [0, 0x7F, 0x80, 0xFF, 0x100, 0xFFFF] {
            let mut out = Vec::new();
            push_length(&mut out, len);
            assert_eq!(out.len(), length_field_len(len));
            let mut tlv = vec![0x04];
            tlv.extend_from_slice(&out);
            assert_eq!(header(&tlv).unwrap().value_len, len);
        }
    }

    #[test]
    fn never_panics_on_short_inputs() {
        let alphabet = [0x00, 0x1F, 0x7F, 0x80, 0x81, 0x83, 0xFF];
        let mut inputs = vec![Vec::new()];
        for _ in 0..5 {
            let mut next = Vec::new();
            for prefix in &inputs {
                for &byte in &alphabet {
                    let mut input: Vec<u8> = prefix.clone();
                    input.push(byte);
                    let _ = split(&input);
                    next.push(input);
                }
            }
            inputs = next;
        }
    }
}
