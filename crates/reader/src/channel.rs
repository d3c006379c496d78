//! ISO 7816-4 operations over any [`Transport`]: the commands real JPKI clients send,
//! with the same shapes (JPKI-FACTS §1.4, §1.5).

use jpki_apdu::{Command, Instruction, Response, StatusWord};
use zeroize::Zeroize;

use crate::tlv::{self, TlvError};
use crate::{ReaderError, Transport, VerifyError};

/// Largest EF this reader will read: READ BINARY offsets are 15 bits.
pub const MAX_EF_LEN: usize = 0x7FFF;

/// Bytes per UPDATE BINARY when writing an EF (the largest short Lc).
pub const WRITE_CHUNK: usize = 255;

/// Bytes of the first READ BINARY of a TLV-structured EF: enough for any tag and length
/// this reader accepts (jpki/myna reads 7; OpenSC reads 4, which suffices for `30 82`).
const HEADER_READ: usize = 7;

/// A card link with the ISO operations on top.
#[derive(Debug)]
pub struct CardChannel<T> {
    transport: T,
}

impl<T: Transport> CardChannel<T> {
    pub fn new(transport: T) -> Self {
        Self { transport }
    }

    pub fn into_inner(self) -> T {
        self.transport
    }

    pub fn transport_mut(&mut self) -> &mut T {
        &mut self.transport
    }

    /// Sends one command and parses the response.
    pub fn transmit(&mut self, command: &Command) -> Result<Response, ReaderError> {
        let mut bytes = command.to_bytes().map_err(ReaderError::Encode)?;
        let answer = self.transport.transmit(&bytes);
        if Instruction::carries_secret(command.ins) {
            bytes.zeroize();
        }
        Response::parse(&answer?).map_err(ReaderError::MalformedResponse)
    }

    /// Sends a command whose data is a PIN and wipes that data afterwards.
    fn transmit_secret(&mut self, mut command: Command) -> Result<Response, ReaderError> {
        let response = self.transmit(&command);
        command.data.zeroize();
        response
    }

    /// Sends a command that must answer `90 00`; returns its data.
    fn expect_ok(&mut self, operation: &str, command: &Command) -> Result<Vec<u8>, ReaderError> {
        let response = self.transmit(command)?;
        if response.is_ok() {
            Ok(response.data)
        } else {
            Err(ReaderError::Status {
                operation: operation.to_owned(),
                sw: response.sw,
            })
        }
    }

    /// Sends a command that must answer `90 00` without data.
    fn expect_ok_empty(&mut self, operation: &str, command: &Command) -> Result<(), ReaderError> {
        let data = self.expect_ok(operation, command)?;
        if data.is_empty() {
            Ok(())
        } else {
            Err(ReaderError::UnexpectedData(format!(
                "{operation} answered {} bytes of data",
                data.len()
            )))
        }
    }

    /// SELECT by DF name: `00 A4 04 0C Lc <AID>`.
    pub fn select_application(&mut self, aid: &[u8]) -> Result<(), ReaderError> {
        let command = Command::new(0x00, 0xA4, 0x04, 0x0C).with_data(aid.to_vec());
        self.expect_ok_empty("SELECT application", &command)
    }

    /// SELECT by file identifier: `00 A4 02 0C 02 <FID>`.
    pub fn select_ef(&mut self, fid: u16) -> Result<(), ReaderError> {
        let command = Command::new(0x00, 0xA4, 0x02, 0x0C).with_data(fid.to_be_bytes().to_vec());
        self.expect_ok_empty(&format!("SELECT EF {fid:04X}"), &command)
    }

    /// One READ BINARY of up to `ne` (1..=256) bytes at `offset` of the current EF.
    pub fn read_binary(&mut self, offset: usize, ne: usize) -> Result<Vec<u8>, ReaderError> {
        if offset > MAX_EF_LEN {
            return Err(ReaderError::InvalidArgument(format!(
                "READ BINARY offset {offset} is beyond 32767"
            )));
        }
        if !(1..=256).contains(&ne) {
            return Err(ReaderError::InvalidArgument(format!(
                "a short READ BINARY asks for 1 to 256 bytes, not {ne}"
            )));
        }
        let [high, low] = (offset as u16).to_be_bytes();
        let command = Command::new(0x00, 0xB0, high, low).with_le(ne);
        let data = self.expect_ok(&format!("READ BINARY at offset {offset}"), &command)?;
        if data.len() > ne {
            return Err(ReaderError::UnexpectedData(format!(
                "READ BINARY asked for {ne} bytes and got {}",
                data.len()
            )));
        }
        Ok(data)
    }

    /// Reads a TLV-structured EF (a DER certificate, the 券面事項 data) as real clients
    /// do: the header first, then the rest in chunks of at most 256 bytes (Le = `00`).
    /// Returns exactly the TLV; bytes after it in the EF are not read.
    pub fn read_tlv_file(&mut self, what: &str) -> Result<Vec<u8>, ReaderError> {
        let mut content = self.read_binary(0, HEADER_READ)?;
        if content.is_empty() {
            return Err(ReaderError::EmptyFile {
                what: what.to_owned(),
            });
        }
        let total = match tlv::header(&content) {
            Ok(header) => header.total_len(),
            Err(TlvError::Incomplete) => {
                return Err(ReaderError::UnexpectedData(format!(
                    "{what} is too short for its own header ({} bytes)",
                    content.len()
                )));
            }
            Err(TlvError::Invalid(problem)) => {
                return Err(ReaderError::UnexpectedData(format!(
                    "{what} does not start with a TLV header: {problem}"
                )));
            }
        };
        if total > MAX_EF_LEN {
            return Err(ReaderError::UnexpectedData(format!(
                "{what} claims {total} bytes, more than an EF can hold"
            )));
        }
        content.truncate(total);
        while content.len() < total {
            let want = (total - content.len()).min(256);
            let chunk = self.read_binary(content.len(), want)?;
            if chunk.is_empty() {
                return Err(ReaderError::UnexpectedData(format!(
                    "{what} ends after {} of {total} bytes",
                    content.len()
                )));
            }
            content.extend_from_slice(&chunk);
        }
        Ok(content)
    }

    /// UPDATE BINARY of `data` at `offset` (one command).
    pub fn update_binary(&mut self, offset: usize, data: &[u8]) -> Result<(), ReaderError> {
        if offset > MAX_EF_LEN {
            return Err(ReaderError::InvalidArgument(format!(
                "UPDATE BINARY offset {offset} is beyond 32767"
            )));
        }
        let [high, low] = (offset as u16).to_be_bytes();
        let command = Command::new(0x00, 0xD6, high, low).with_data(data.to_vec());
        self.expect_ok_empty(&format!("UPDATE BINARY at offset {offset}"), &command)
    }

    /// Selects `fid` and writes `content` from offset 0 in chunks of 255 bytes
    /// (personalization).
    pub fn write_ef(&mut self, fid: u16, content: &[u8]) -> Result<(), ReaderError> {
        if content.is_empty() {
            return Err(ReaderError::InvalidArgument(format!(
                "nothing to write to EF {fid:04X}"
            )));
        }
        if content.len() > MAX_EF_LEN {
            return Err(ReaderError::InvalidArgument(format!(
                "{} bytes do not fit an EF",
                content.len()
            )));
        }
        self.select_ef(fid)?;
        for (index, chunk) in content.chunks(WRITE_CHUNK).enumerate() {
            self.update_binary(index * WRITE_CHUNK, chunk)?;
        }
        Ok(())
    }

    /// Selects the PIN EF `fid` and asks for its tries left with an empty VERIFY
    /// (`00 20 00 80`), which answers `63 Cx`.
    pub fn tries_left(&mut self, fid: u16) -> Result<u8, ReaderError> {
        self.select_ef(fid)?;
        let response = self.transmit(&Command::new(0x00, 0x20, 0x00, 0x80))?;
        match response.sw {
            StatusWord::VerifyFailed { tries_left } => Ok(tries_left),
            sw => Err(ReaderError::Status {
                operation: format!("tries-left query of PIN {fid:04X}"),
                sw,
            }),
        }
    }

    /// Selects the PIN EF `fid` and sends VERIFY with `pin`.
    pub fn verify(&mut self, fid: u16, pin: &[u8]) -> Result<(), VerifyError> {
        if pin.is_empty() {
            return Err(ReaderError::InvalidArgument("an empty PIN".into()).into());
        }
        self.select_ef(fid)?;
        let command = Command::new(0x00, 0x20, 0x00, 0x80).with_data(pin.to_vec());
        let response = self.transmit_secret(command)?;
        match response.sw {
            StatusWord::Ok => Ok(()),
            StatusWord::VerifyFailed { tries_left } => Err(VerifyError::Wrong { tries_left }),
            StatusWord::AuthenticationMethodBlocked => Err(VerifyError::Blocked),
            sw => Err(ReaderError::Status {
                operation: format!("VERIFY of PIN {fid:04X}"),
                sw,
            }
            .into()),
        }
    }

    /// Selects the PIN EF `fid` and sends CHANGE REFERENCE DATA `00 24 01 80` with the
    /// new value (after a VERIFY in this session, or during personalization).
    pub fn change_reference_data(&mut self, fid: u16, new: &[u8]) -> Result<(), ReaderError> {
        self.select_ef(fid)?;
        let command = Command::new(0x00, 0x24, 0x01, 0x80).with_data(new.to_vec());
        let response = self.transmit_secret(command)?;
        if response.is_ok() && response.data.is_empty() {
            Ok(())
        } else if response.is_ok() {
            Err(ReaderError::UnexpectedData(
                "CHANGE REFERENCE DATA answered data".into(),
            ))
        } else {
            Err(ReaderError::Status {
                operation: format!("CHANGE REFERENCE DATA of PIN {fid:04X}"),
                sw: response.sw,
            })
        }
    }

    /// Selects the key EF `fid` and sends COMPUTE DIGITAL SIGNATURE
    /// `80 2A 00 80 Lc <data> 00`.
    pub fn compute_digital_signature(
        &mut self,
        fid: u16,
        data: &[u8],
    ) -> Result<Vec<u8>, ReaderError> {
        if data.is_empty() || data.len() > 255 {
            return Err(ReaderError::InvalidArgument(format!(
                "a DigestInfo of {} bytes cannot be signed (1 to 255)",
                data.len()
            )));
        }
        self.select_ef(fid)?;
        let command = Command::new(0x80, 0x2A, 0x00, 0x80)
            .with_data(data.to_vec())
            .with_le(256);
        let signature = self.expect_ok("COMPUTE DIGITAL SIGNATURE", &command)?;
        if signature.is_empty() {
            return Err(ReaderError::UnexpectedData(
                "COMPUTE DIGITAL SIGNATURE answered no signature".into(),
            ));
        }
        Ok(signature)
    }

    /// Selects the key EF `fid` and sends GENERATE ASYMMETRIC KEY PAIR
    /// `00 46 00 00 00 00 00` (extended Le). Returns the DER SubjectPublicKeyInfo.
    pub fn generate_key_pair(&mut self, fid: u16) -> Result<Vec<u8>, ReaderError> {
        self.select_ef(fid)?;
        let command = Command::new(0x00, 0x46, 0x00, 0x00).with_le(65_536);
        let public_key = self.expect_ok("GENERATE ASYMMETRIC KEY PAIR", &command)?;
        match tlv::header(&public_key) {
            Ok(header) if header.tag == 0x30 && header.total_len() == public_key.len() => {
                Ok(public_key)
            }
            _ => Err(ReaderError::UnexpectedData(
                "GENERATE ASYMMETRIC KEY PAIR did not answer a DER SubjectPublicKeyInfo".into(),
            )),
        }
    }

    /// ACTIVATE FILE `00 44 00 00`: ends personalization.
    pub fn activate(&mut self) -> Result<(), ReaderError> {
        self.expect_ok_empty("ACTIVATE FILE", &Command::new(0x00, 0x44, 0x00, 0x00))
    }
}
