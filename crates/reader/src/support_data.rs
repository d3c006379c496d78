//! The byte layout of the 券面事項入力補助AP's EFs, as the public clients parse it.
//!
//! ```text
//! EF 0001 (My Number), read by clients with one READ BINARY of 17 bytes:
//!   FF 10 0C <12 ASCII digits>
//!
//! EF 0002 (the 4 attributes), read by clients as header + rest:
//!   FF 20 L                               L: BER length of everything below
//!     DF 21 08 <o1 o2 o3 o4>              4 big-endian u16: offset of each TLV below
//!                                         from the start of the EF
//!     DF 22 L <name, UTF-8>
//!     DF 23 L <address, UTF-8>
//!     DF 24 08 <date of birth, ASCII YYYYMMDD>
//!     DF 25 01 <sex, ASCII "1" male, "2" female, "9" not applicable>
//! ```
//! Sources: jpki/myna `src/text.rs` (skips the first child, then reads name, address,
//! birth, sex; My Number with 17 bytes); siketyan/jpki-rs `core/src/ap/support.rs` (same
//! order; sex codes 1/2/9); AokiApp/jsapdu `packages/mynacard/src/schema.ts` (private
//! tags 0x21–0x25, first child "offsets" of big-endian u16); TRETJapanNFCReader (skips
//! the first byte of EF 0001, then a TLV with tag `10`). The meaning of the offsets and
//! the YYYYMMDD form of the date are inferred, not confirmed by a specification.
//!
//! Decoding takes the name and address as they are (no substitute forms: the card has
//! none), so the [`BasicInfo`] it returns has substitutes equal to the originals.

use jpki_model::{BasicInfo, BirthDate, MyNumber, Sex};

use crate::ReaderError;
use crate::tlv::{self, TlvError};

pub const TAG_MY_NUMBER: u32 = 0xFF10;
pub const TAG_ATTRIBUTES: u32 = 0xFF20;
pub const TAG_OFFSETS: u32 = 0xDF21;
pub const TAG_NAME: u32 = 0xDF22;
pub const TAG_ADDRESS: u32 = 0xDF23;
pub const TAG_BIRTH_DATE: u32 = 0xDF24;
pub const TAG_SEX: u32 = 0xDF25;

/// How many bytes clients read from EF 0001.
pub const MY_NUMBER_READ_LEN: usize = 17;

fn bad(what: &str) -> ReaderError {
    ReaderError::UnexpectedData(format!("the 券面事項 data: {what}"))
}

fn tag_bytes(tag: u32) -> [u8; 2] {
    [(tag >> 8) as u8, tag as u8]
}

fn encode_tlv(out: &mut Vec<u8>, tag: u32, value: &[u8]) {
    out.extend_from_slice(&tag_bytes(tag));
    tlv::push_length(out, value.len());
    out.extend_from_slice(value);
}

/// The content of EF 0001.
pub fn encode_my_number(number: &MyNumber) -> Vec<u8> {
    let mut out = Vec::with_capacity(15);
    encode_tlv(&mut out, TAG_MY_NUMBER, number.expose().as_bytes());
    out
}

/// Reads the My Number from the bytes of EF 0001 (bytes after the TLV are ignored).
pub fn decode_my_number(bytes: &[u8]) -> Result<MyNumber, ReaderError> {
    let (header, value, _rest) = tlv::split(bytes).map_err(|_| bad("EF 0001 is not a TLV"))?;
    if header.tag != TAG_MY_NUMBER {
        return Err(bad("EF 0001 does not start with tag FF10"));
    }
    let text = std::str::from_utf8(value).map_err(|_| bad("the My Number is not ASCII"))?;
    MyNumber::parse(text).map_err(|error| bad(&format!("the My Number is invalid ({error})")))
}

/// The content of EF 0002 for these attributes.
pub fn encode_attributes(info: &BasicInfo) -> Result<Vec<u8>, ReaderError> {
    let date_of_birth = info.date_of_birth().to_string().replace('-', "");
    let items: [(u32, &[u8]); 4] = [
        (TAG_NAME, info.name().as_bytes()),
        (TAG_ADDRESS, info.address().as_bytes()),
        (TAG_BIRTH_DATE, date_of_birth.as_bytes()),
        (TAG_SEX, info.sex().code().as_bytes()),
    ];
    let mut body = Vec::new();
    let mut relative_offsets = Vec::with_capacity(4);
    for (tag, value) in items {
        relative_offsets.push(body.len());
        encode_tlv(&mut body, tag, value);
    }
    // Offsets count from the start of the EF: outer header, then the 11-byte offsets
    // TLV, then the items.
    let offsets_tlv_len = 3 + 8;
    let inner_len = offsets_tlv_len + body.len();
    let outer_header_len = 2 + tlv::length_field_len(inner_len);
    if outer_header_len + inner_len > 0xFFFF {
        return Err(ReaderError::InvalidArgument(
            "the attributes are too long for the 券面事項 EF".into(),
        ));
    }
    let mut offsets = Vec::with_capacity(8);
    for relative in relative_offsets {
        let absolute = (outer_header_len + offsets_tlv_len + relative) as u16;
        offsets.extend_from_slice(&absolute.to_be_bytes());
    }
    let mut inner = Vec::with_capacity(inner_len);
    encode_tlv(&mut inner, TAG_OFFSETS, &offsets);
    inner.extend_from_slice(&body);
    let mut out = Vec::with_capacity(outer_header_len + inner_len);
    encode_tlv(&mut out, TAG_ATTRIBUTES, &inner);
    Ok(out)
}

/// Reads the 4 attributes from the bytes of EF 0002.
pub fn decode_attributes(bytes: &[u8]) -> Result<BasicInfo, ReaderError> {
    let (outer, mut rest, _) = tlv::split(bytes).map_err(|error| match error {
        TlvError::Incomplete => bad("EF 0002 is truncated"),
        TlvError::Invalid(problem) => bad(problem),
    })?;
    if outer.tag != TAG_ATTRIBUTES {
        return Err(bad("EF 0002 does not start with tag FF20"));
    }
    let mut next = |expected: u32, name: &str| -> Result<&[u8], ReaderError> {
        let (header, value, after) =
            tlv::split(rest).map_err(|_| bad(&format!("the {name} is missing or truncated")))?;
        if header.tag != expected {
            return Err(bad(&format!(
                "expected tag {expected:04X} ({name}), found {:X}",
                header.tag
            )));
        }
        rest = after;
        Ok(value)
    };
    let _offsets = next(TAG_OFFSETS, "offsets header")?;
    let name = text(next(TAG_NAME, "name")?, "name")?;
    let address = text(next(TAG_ADDRESS, "address")?, "address")?;
    let birth = next(TAG_BIRTH_DATE, "date of birth")?;
    let sex = text(next(TAG_SEX, "sex")?, "sex")?;

    // Personal data stays out of the messages: only the rule broken is named.
    let date_of_birth = match birth {
        [y1, y2, y3, y4, m1, m2, d1, d2] if birth.iter().all(u8::is_ascii_digit) => {
            let iso = [y1, y2, y3, y4, &b'-', m1, m2, &b'-', d1, d2]
                .into_iter()
                .map(|&b| char::from(b))
                .collect::<String>();
            BirthDate::parse(&iso).map_err(|_| bad("the date of birth is not a valid date"))?
        }
        _ => return Err(bad("the date of birth is not 8 digits YYYYMMDD")),
    };
    let sex = Sex::from_code(&sex).map_err(|_| bad("the sex code is not 1, 2 or 9"))?;
    BasicInfo::new(&name, None, &address, None, date_of_birth, sex)
        .map_err(|error| bad(&error.to_string()))
}

fn text(value: &[u8], name: &str) -> Result<String, ReaderError> {
    String::from_utf8(value.to_vec()).map_err(|_| bad(&format!("the {name} is not UTF-8")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(text: &str) -> Vec<u8> {
        text.split_whitespace()
            .map(|pair| u8::from_str_radix(pair, 16).unwrap())
            .collect()
    }

    fn person() -> BasicInfo {
        BasicInfo::new(
            "山田 花子",
            None,
            "東京都千代田区1-1",
            None,
            BirthDate::parse("1985-03-09").unwrap(),
            Sex::Female,
        )
        .unwrap()
    }

    #[test]
    fn my_number_layout() {
        let number = MyNumber::parse("123456789018").unwrap();
        let encoded = encode_my_number(&number);
        assert_eq!(encoded, hex("FF 10 0C 31 32 33 34 35 36 37 38 39 30 31 38"));
        assert_eq!(decode_my_number(&encoded).unwrap(), number);
        // Clients read 17 bytes: trailing bytes are ignored.
        let mut padded = encoded.clone();
        padded.extend_from_slice(&[0xFF, 0xFF]);
        assert_eq!(decode_my_number(&padded).unwrap(), number);
        assert!(decode_my_number(&hex("FF 40 0C 31")).is_err());
        assert!(decode_my_number(&hex("DF 10 0C 31 32 33 34 35 36 37 38 39 30 31 38")).is_err());
        let wrong_check_digit = hex("FF 10 0C 31 32 33 34 35 36 37 38 39 30 31 37");
        let error = decode_my_number(&wrong_check_digit)
            .unwrap_err()
            .to_string();
        assert!(!error.contains("12345678901"), "{error}");
    }

    #[test]
    fn attributes_layout_is_byte_exact() {
        let encoded = encode_attributes(&person()).unwrap();
        // name 13 bytes UTF-8, address 24 bytes.
        let name = "山田 花子".as_bytes();
        let address = "東京都千代田区1-1".as_bytes();
        assert_eq!((name.len(), address.len()), (13, 24));
        let mut expected = hex("FF 20 45 DF 21 08 00 0E 00 1E 00 39 00 44 DF 22 0D");
        expected.extend_from_slice(name);
        expected.extend_from_slice(&hex("DF 23 18"));
        expected.extend_from_slice(address);
        expected.extend_from_slice(&hex("DF 24 08 31 39 38 35 30 33 30 39 DF 25 01 32"));
        assert_eq!(encoded, expected);
        // Each offset points at its tag.
        for (index, tag) in [0xDF22u16, 0xDF23, 0xDF24, 0xDF25].into_iter().enumerate() {
            let offset = usize::from(u16::from_be_bytes([
                encoded[6 + 2 * index],
                encoded[7 + 2 * index],
            ]));
            assert_eq!(&encoded[offset..offset + 2], &tag.to_be_bytes());
        }
        assert_eq!(decode_attributes(&encoded).unwrap(), person());
    }

    #[test]
    fn long_attributes_use_long_form_lengths() {
        let long_address = "北".repeat(190);
        let info = BasicInfo::new(
            "公的 太郎",
            None,
            &long_address,
            None,
            BirthDate::parse("2000-02-29").unwrap(),
            Sex::NotApplicable,
        )
        .unwrap();
        let encoded = encode_attributes(&info).unwrap();
        assert_eq!(&encoded[..3], &[0xFF, 0x20, 0x82]);
        let decoded = decode_attributes(&encoded).unwrap();
        assert_eq!(decoded.address(), long_address);
        assert_eq!(decoded.sex(), Sex::NotApplicable);
    }

    #[test]
    fn broken_attributes_are_refused_without_leaking_them() {
        let good = encode_attributes(&person()).unwrap();
        let mut bad_date = good.clone();
        let at = good.len() - 4 - 8;
        bad_date[at..at + 8].copy_from_slice(b"19851309");
        let mut bad_sex = good.clone();
        let last = bad_sex.len() - 1;
        bad_sex[last] = b'3';
        let mut wrong_tag = good.clone();
        wrong_tag[0x0F] = 0x29;
        let cases = [
            Vec::new(),
            good[..10].to_vec(),
            good[..good.len() - 1].to_vec(),
            hex("30 03 01 02 03"),
            bad_date,
            bad_sex,
            wrong_tag,
        ];
        for bytes in cases {
            let error = decode_attributes(&bytes).unwrap_err().to_string();
            for leak in ["山田", "東京", "19851309", "1985"] {
                assert!(!error.contains(leak), "{error}");
            }
        }
    }
}
