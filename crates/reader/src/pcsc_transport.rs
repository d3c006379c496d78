//! The PC/SC transport (feature `pcsc`): a card in any reader pcsc-lite (or WinSCard)
//! knows — a real My Number card in a USB reader, or the virtual card through vpcd.
//! Both go through exactly this code; only the second is tested here, for lack of
//! hardware.
//!
//! Decisions a reviewer will question:
//! - **Shared mode, T=1 or T=0, whatever the card offers.** The My Number card's ATR
//!   announces T=1. Under T=0 the transport completes `61 xx` with GET RESPONSE and
//!   repeats a case-2 command on `6C xx` with the right Le, as ISO 7816-3 makes the
//!   terminal do; under T=1 answers pass through untouched.
//! - **No automatic reconnect.** A card reset by another application loses its verified
//!   PINs, so a silent reconnect would turn the next signature into a "security status
//!   not satisfied" far from the cause. The error says what happened
//!   ([`TransportError::CardReset`]); [`PcscTransport::reconnect`] is there for callers
//!   that want to start over.
//! - **Disconnecting resets the card** (the `pcsc` crate's drop, and
//!   [`PcscTransport::disconnect`]), as OpenSC and jpki/myna do, so no verified state
//!   outlives the session.

use std::ffi::CString;
use std::fmt;
use std::time::Duration;

use pcsc::{Context, Disposition, Protocols, ReaderState, Scope, ShareMode, State};

use crate::{Transport, TransportError};

/// A reader pcsc-lite reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PcscReader {
    pub name: String,
    /// A card is in the reader (it may still be unpowered).
    pub card_present: bool,
}

/// The protocol the card and reader agreed on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PcscProtocol {
    T0,
    T1,
    Raw,
}

impl fmt::Display for PcscProtocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::T0 => "T=0",
            Self::T1 => "T=1",
            Self::Raw => "raw",
        })
    }
}

impl From<pcsc::Protocol> for PcscProtocol {
    fn from(protocol: pcsc::Protocol) -> Self {
        match protocol {
            pcsc::Protocol::T0 => Self::T0,
            pcsc::Protocol::T1 => Self::T1,
            pcsc::Protocol::RAW => Self::Raw,
        }
    }
}

/// Maps a PC/SC error to what it means for the caller.
fn transport_error(error: pcsc::Error, reader: Option<&str>) -> TransportError {
    let reader = reader.unwrap_or("the reader").to_owned();
    match error {
        pcsc::Error::NoService | pcsc::Error::ServiceStopped | pcsc::Error::CommError => {
            TransportError::ServiceUnavailable(error.to_string())
        }
        pcsc::Error::NoReadersAvailable => TransportError::NoReaders,
        pcsc::Error::UnknownReader | pcsc::Error::ReaderUnavailable => {
            TransportError::ReaderUnavailable { reader }
        }
        pcsc::Error::NoSmartcard => TransportError::NoCard { reader },
        pcsc::Error::RemovedCard => TransportError::CardRemoved,
        pcsc::Error::ResetCard => TransportError::CardReset,
        pcsc::Error::UnpoweredCard | pcsc::Error::UnresponsiveCard => {
            TransportError::Other(format!("the card in {reader} does not respond ({error})"))
        }
        pcsc::Error::SharingViolation => TransportError::Other(format!(
            "another application holds the card in {reader} exclusively"
        )),
        other => TransportError::Other(format!("PC/SC: {other}")),
    }
}

fn establish() -> Result<Context, TransportError> {
    Context::establish(Scope::User).map_err(|error| transport_error(error, None))
}

fn reader_names(context: &Context) -> Result<Vec<CString>, TransportError> {
    match context.list_readers_owned() {
        Ok(names) => Ok(names),
        Err(pcsc::Error::NoReadersAvailable) => Ok(Vec::new()),
        Err(error) => Err(transport_error(error, None)),
    }
}

/// The readers pcsc-lite knows, with whether a card is present in each.
pub fn list_readers() -> Result<Vec<PcscReader>, TransportError> {
    let context = establish()?;
    list_readers_in(&context)
}

fn list_readers_in(context: &Context) -> Result<Vec<PcscReader>, TransportError> {
    let names = reader_names(context)?;
    if names.is_empty() {
        return Ok(Vec::new());
    }
    let mut states: Vec<ReaderState> = names
        .iter()
        .map(|name| ReaderState::new(name.clone(), State::UNAWARE))
        .collect();
    context
        .get_status_change(Duration::ZERO, &mut states)
        .map_err(|error| transport_error(error, None))?;
    Ok(states
        .iter()
        .map(|state| PcscReader {
            name: state.name().to_string_lossy().into_owned(),
            card_present: state.event_state().contains(State::PRESENT),
        })
        .collect())
}

/// Picks the reader: `wanted` exactly, else the one reader whose name contains it
/// (case-insensitive); with no name, the first reader with a card.
fn choose_reader(readers: &[PcscReader], wanted: Option<&str>) -> Result<String, TransportError> {
    if readers.is_empty() {
        return Err(TransportError::NoReaders);
    }
    let names = || readers.iter().map(|r| r.name.clone()).collect::<Vec<_>>();
    match wanted {
        None => readers
            .iter()
            .find(|reader| reader.card_present)
            .map(|reader| reader.name.clone())
            .ok_or_else(|| TransportError::NoCardInAnyReader { readers: names() }),
        Some(wanted) => {
            if let Some(reader) = readers.iter().find(|reader| reader.name == wanted) {
                return Ok(reader.name.clone());
            }
            let needle = wanted.to_lowercase();
            let matching: Vec<&PcscReader> = readers
                .iter()
                .filter(|reader| reader.name.to_lowercase().contains(&needle))
                .collect();
            match matching.as_slice() {
                [one] => Ok(one.name.clone()),
                [] => Err(TransportError::ReaderNotFound {
                    wanted: wanted.to_owned(),
                    readers: names(),
                }),
                several => Err(TransportError::ReaderNotFound {
                    wanted: format!("{wanted} (ambiguous)"),
                    readers: several.iter().map(|r| r.name.clone()).collect(),
                }),
            }
        }
    }
}

/// A connection to the card in one PC/SC reader.
pub struct PcscTransport {
    card: pcsc::Card,
    reader: String,
    protocol: Option<PcscProtocol>,
    receive: Vec<u8>,
}

impl fmt::Debug for PcscTransport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PcscTransport")
            .field("reader", &self.reader)
            .field("protocol", &self.protocol)
            .finish_non_exhaustive()
    }
}

impl PcscTransport {
    /// Connects (shared, T=0 or T=1) to the card in the reader named `reader` (exact
    /// name, or a unique case-insensitive part of it), or in the first reader holding a
    /// card.
    pub fn connect(reader: Option<&str>) -> Result<Self, TransportError> {
        let context = establish()?;
        let readers = list_readers_in(&context)?;
        let name = choose_reader(&readers, reader)?;
        let c_name = CString::new(name.clone())
            .map_err(|_| TransportError::Other("a reader name contains a NUL byte".into()))?;
        let card = context
            .connect(&c_name, ShareMode::Shared, Protocols::T0 | Protocols::T1)
            .map_err(|error| transport_error(error, Some(&name)))?;
        let mut transport = Self {
            card,
            reader: name,
            protocol: None,
            receive: vec![0; pcsc::MAX_BUFFER_SIZE_EXTENDED],
        };
        transport.protocol = transport.status()?.1;
        Ok(transport)
    }

    /// The reader's name as pcsc-lite reports it.
    pub fn reader(&self) -> &str {
        &self.reader
    }

    pub fn protocol(&self) -> Option<PcscProtocol> {
        self.protocol
    }

    fn status(&self) -> Result<(Vec<u8>, Option<PcscProtocol>), TransportError> {
        let status = self
            .card
            .status2_owned()
            .map_err(|error| transport_error(error, Some(&self.reader)))?;
        Ok((status.atr().to_vec(), status.protocol2().map(Into::into)))
    }

    /// The card's answer to reset.
    pub fn atr(&self) -> Result<Vec<u8>, TransportError> {
        Ok(self.status()?.0)
    }

    /// Reconnects after [`TransportError::CardReset`] (or to reset the card on purpose:
    /// every verified PIN is forgotten).
    pub fn reconnect(&mut self) -> Result<(), TransportError> {
        self.card
            .reconnect(
                ShareMode::Shared,
                Protocols::T0 | Protocols::T1,
                Disposition::ResetCard,
            )
            .map_err(|error| transport_error(error, Some(&self.reader)))?;
        self.protocol = self.status()?.1;
        Ok(())
    }

    /// Disconnects, resetting the card as clients do after each operation.
    pub fn disconnect(self) -> Result<(), TransportError> {
        let reader = self.reader;
        self.card
            .disconnect(Disposition::ResetCard)
            .map_err(|(_, error)| transport_error(error, Some(&reader)))
    }

    fn exchange(&mut self, command: &[u8]) -> Result<Vec<u8>, TransportError> {
        let reader = &self.reader;
        self.card
            .transmit(command, &mut self.receive)
            .map(<[u8]>::to_vec)
            .map_err(|error| transport_error(error, Some(reader)))
    }
}

impl Transport for PcscTransport {
    fn transmit(&mut self, command: &[u8]) -> Result<Vec<u8>, TransportError> {
        if self.protocol == Some(PcscProtocol::T0) {
            complete_t0(command, |bytes| self.exchange(bytes))
        } else {
            self.exchange(command)
        }
    }
}

/// Most GET RESPONSE rounds a T=0 exchange may take (65,536 bytes in 256-byte pieces).
const MAX_T0_ROUNDS: usize = 257;

/// The terminal's side of T=0 (ISO 7816-3 §10.3.5 / 7816-4 §5.3.4): `6C xx` repeats a
/// case-2 command with Le = xx, `61 xx` fetches xx more bytes with GET RESPONSE, until
/// another status word ends the exchange. Sans-I/O: `send` carries one command.
fn complete_t0(
    command: &[u8],
    mut send: impl FnMut(&[u8]) -> Result<Vec<u8>, TransportError>,
) -> Result<Vec<u8>, TransportError> {
    let mut answer = send(command)?;
    if let ([.., 0x6C, le], [cla, ins, p1, p2, _]) = (&answer[..], command) {
        answer = send(&[*cla, *ins, *p1, *p2, *le])?;
    }
    let mut data = Vec::new();
    for _ in 0..MAX_T0_ROUNDS {
        let split = answer.len().checked_sub(2).ok_or_else(|| {
            TransportError::Other(format!("the card answered {} bytes", answer.len()))
        })?;
        let (chunk, status) = answer.split_at(split);
        data.extend_from_slice(chunk);
        match *status {
            [0x61, more] => {
                let cla = command.first().copied().unwrap_or_default() & 0x03;
                answer = send(&[cla, 0xC0, 0x00, 0x00, more])?;
            }
            _ => {
                data.extend_from_slice(status);
                return Ok(data);
            }
        }
    }
    Err(TransportError::Other(
        "the card kept answering 61 xx (more data) without end".into(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reader(name: &str, card_present: bool) -> PcscReader {
        PcscReader {
            name: name.into(),
            card_present,
        }
    }

    #[test]
    fn choose_reader_by_name_part_or_first_with_a_card() {
        let readers = [
            reader("Virtual PCD 00 00", false),
            reader("Virtual PCD 00 01", true),
            reader("SONY FeliCa Port/PaSoRi 4.0 [PaSoRi] 00 00", false),
        ];
        assert_eq!(choose_reader(&readers, None).unwrap(), "Virtual PCD 00 01");
        assert_eq!(
            choose_reader(&readers, Some("Virtual PCD 00 00")).unwrap(),
            "Virtual PCD 00 00"
        );
        assert_eq!(
            choose_reader(&readers, Some("pasori")).unwrap(),
            readers[2].name
        );
        let ambiguous = choose_reader(&readers, Some("virtual")).unwrap_err();
        assert!(ambiguous.to_string().contains("ambiguous"), "{ambiguous}");
        let missing = choose_reader(&readers, Some("ACS")).unwrap_err();
        assert!(
            missing.to_string().contains("Virtual PCD 00 01"),
            "lists what there is: {missing}"
        );
        assert!(matches!(
            choose_reader(&readers[..1], None),
            Err(TransportError::NoCardInAnyReader { .. })
        ));
        assert!(matches!(
            choose_reader(&[], None),
            Err(TransportError::NoReaders)
        ));
    }

    #[test]
    fn errors_say_what_happened_to_the_card() {
        let reader = Some("Virtual PCD 00 00");
        assert!(matches!(
            transport_error(pcsc::Error::RemovedCard, reader),
            TransportError::CardRemoved
        ));
        assert!(matches!(
            transport_error(pcsc::Error::ResetCard, reader),
            TransportError::CardReset
        ));
        let gone = transport_error(pcsc::Error::ReaderUnavailable, reader).to_string();
        assert!(gone.contains("Virtual PCD 00 00"), "{gone}");
        assert!(matches!(
            transport_error(pcsc::Error::NoService, None),
            TransportError::ServiceUnavailable(_)
        ));
        assert!(matches!(
            transport_error(pcsc::Error::NoSmartcard, reader),
            TransportError::NoCard { .. }
        ));
    }

    type Sent = std::rc::Rc<std::cell::RefCell<Vec<Vec<u8>>>>;

    /// A T=0 card: answers from a script, records the commands.
    fn scripted(
        answers: Vec<Vec<u8>>,
    ) -> (Sent, impl FnMut(&[u8]) -> Result<Vec<u8>, TransportError>) {
        let sent = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
        let log = sent.clone();
        let mut answers = answers.into_iter();
        (sent, move |command: &[u8]| {
            log.borrow_mut().push(command.to_vec());
            answers
                .next()
                .ok_or_else(|| TransportError::Other("script ended".into()))
        })
    }

    #[test]
    fn t0_get_response_collects_the_data() {
        let (sent, send) = scripted(vec![
            vec![0x61, 0x03],
            vec![0x01, 0x02, 0x03, 0x61, 0x01],
            vec![0x04, 0x90, 0x00],
        ]);
        let answer = complete_t0(&[0x80, 0x2A, 0x00, 0x80, 0x01, 0xAA], send).unwrap();
        assert_eq!(answer, [0x01, 0x02, 0x03, 0x04, 0x90, 0x00]);
        assert_eq!(
            *sent.borrow(),
            [
                vec![0x80, 0x2A, 0x00, 0x80, 0x01, 0xAA],
                vec![0x00, 0xC0, 0x00, 0x00, 0x03],
                vec![0x00, 0xC0, 0x00, 0x00, 0x01],
            ]
        );
    }

    #[test]
    fn t0_wrong_le_is_repeated_with_the_right_one() {
        let (sent, send) = scripted(vec![
            vec![0x6C, 0x20],
            vec![0x41; 0x20].into_iter().chain([0x90, 0x00]).collect(),
        ]);
        let answer = complete_t0(&[0x00, 0xB0, 0x00, 0x00, 0x00], send).unwrap();
        assert_eq!(answer.len(), 0x22);
        assert_eq!(sent.borrow()[1], [0x00, 0xB0, 0x00, 0x00, 0x20]);
    }

    #[test]
    fn t0_passes_other_answers_through_and_refuses_nonsense() {
        let (_, send) = scripted(vec![vec![0x6A, 0x82]]);
        assert_eq!(
            complete_t0(&[0x00, 0xA4, 0x02, 0x0C, 0x02, 0x00, 0x01], send).unwrap(),
            [0x6A, 0x82]
        );
        let (_, send) = scripted(vec![vec![0x90]]);
        assert!(complete_t0(&[0x00, 0xA4, 0x00, 0x00], send).is_err());
        let endless = |_: &[u8]| Ok(vec![0x61, 0x00]);
        assert!(complete_t0(&[0x00, 0xB0, 0x00, 0x00, 0x00], endless).is_err());
    }
}
