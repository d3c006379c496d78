//! The vpcd bridge: a virtual card inserted into a PC/SC reader of vsmartcard's `vpcd`
//! driver, so pcsc-lite, OpenSC and any PC/SC application talk to it as to a real card.
//!
//! ```text
//! PC/SC application ─▶ pcscd ─▶ libifdvpcd (TCP server, :35963 slot 0, :35964 slot 1)
//!                                   ▲
//!                                   │ TCP, one frame per message, the card is the client
//!                                   ▼
//!                        this bridge ─▶ VirtualIcc (VirtualCard + its file)
//!
//! frame    = length:u16 big-endian ‖ payload[length]          (vsmartcard vpcd.c)
//! payload  = 1 byte  → control code: 00 power off, 01 power on, 02 reset, 04 get ATR
//!            2+ bytes → a command APDU, answered with one frame holding the response APDU
//! answers  = get ATR → one frame holding the ATR; other control codes → nothing
//! ```
//!
//! The protocol core is sans-I/O: [`FrameDecoder`] turns bytes into [`Message`]s,
//! [`encode_frame`] frames an answer, and [`respond`] applies one message to a
//! [`VirtualIcc`]. [`run_bridge`] is the only part that touches a socket.
//!
//! Decisions a reviewer will question:
//! - **TCP_QUICKACK is re-armed before every read.** Debian's vpcd 3.3 writes the length
//!   and the APDU in two `send()` calls; with Nagle on its side and delayed ACK on ours
//!   every APDU stalls ~40 ms (measured 49 ms against 93 µs). Linux clears QUICKACK by
//!   itself, so it is set again each time (through `socket2`, the workspace forbids
//!   `unsafe`). [`BridgeConfig::quickack`] turns it off for the comparison benchmark.
//! - **The card file is written before the answer leaves.** A wrong VERIFY's counter
//!   must be on disk before the client learns the result, as a real card writes its
//!   EEPROM before answering; if the write fails the bridge stops without answering.
//! - **Bad frames drop the connection** (logged, then reconnected with backoff), never
//!   the process: a zero length, an unknown control code or a connection closed inside a
//!   frame. A 2- or 3-byte payload is not a bad frame: it goes to the card, which answers
//!   with its own status word, as it does for any APDU it does not accept. The length
//!   field is 16 bits, so no frame exceeds 65,535 bytes; [`FrameDecoder::with_max_payload`]
//!   can set a lower limit.

use std::fmt;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use jpki_card::{CardFileError, VirtualCard};
use jpki_crypto::Kek;

/// The TCP port of vpcd's first slot (`Virtual PCD 00 00`); slot `n` listens on
/// `DEFAULT_PORT + n`.
pub const DEFAULT_PORT: u16 = 0x8C7B;

/// The largest payload a frame can carry: its length field is 16 bits.
pub const MAX_PAYLOAD: usize = u16::MAX as usize;

/// Answer to a response that does not fit a frame: `6F 00` (no precise diagnosis).
const REPLY_TOO_LONG: [u8; 2] = [0x6F, 0x00];

/// A vpcd control code (a 1-byte payload).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ControlCode {
    /// `00`: the reader cut the card's power.
    PowerOff,
    /// `01`: the reader powered the card.
    PowerOn,
    /// `02`: warm reset.
    Reset,
    /// `04`: the reader asks for the ATR (the only control code with an answer).
    GetAtr,
}

impl ControlCode {
    pub fn from_byte(byte: u8) -> Option<Self> {
        match byte {
            0x00 => Some(Self::PowerOff),
            0x01 => Some(Self::PowerOn),
            0x02 => Some(Self::Reset),
            0x04 => Some(Self::GetAtr),
            _ => None,
        }
    }

    pub fn byte(self) -> u8 {
        match self {
            Self::PowerOff => 0x00,
            Self::PowerOn => 0x01,
            Self::Reset => 0x02,
            Self::GetAtr => 0x04,
        }
    }
}

/// One message from vpcd.
#[derive(Clone, PartialEq, Eq)]
pub enum Message {
    Control(ControlCode),
    /// A command APDU (2 bytes or more; the card judges whether it is well formed).
    Apdu(Vec<u8>),
}

impl Message {
    /// Classifies a frame's payload.
    pub fn from_payload(payload: Vec<u8>) -> Result<Self, FrameError> {
        match payload.as_slice() {
            [] => Err(FrameError::ZeroLength),
            [code] => ControlCode::from_byte(*code)
                .map(Self::Control)
                .ok_or(FrameError::UnknownControlCode(*code)),
            _ => Ok(Self::Apdu(payload)),
        }
    }
}

/// Shows the header only: an APDU may carry a PIN.
impl fmt::Debug for Message {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Control(code) => f.debug_tuple("Control").field(code).finish(),
            Self::Apdu(bytes) => write!(
                f,
                "Apdu({} bytes, header {:02X?})",
                bytes.len(),
                &bytes[..bytes.len().min(4)]
            ),
        }
    }
}

/// A frame vpcd should not have sent, or an answer that cannot be framed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    #[error("vpcd sent a frame of length 0")]
    ZeroLength,
    #[error("vpcd announced a {length}-byte frame; the limit is {limit} bytes")]
    TooLong { length: usize, limit: usize },
    #[error("the connection closed inside a frame: {received} of {expected} bytes received")]
    Truncated { received: usize, expected: usize },
    #[error("vpcd sent the unknown control code 0x{0:02X}")]
    UnknownControlCode(u8),
    #[error("an answer of {0} bytes does not fit a vpcd frame (at most 65535)")]
    AnswerTooLong(usize),
}

/// Splits the byte stream from vpcd into frame payloads. Feed it whatever `read`
/// returned; it keeps partial frames until the rest arrives.
#[derive(Debug)]
pub struct FrameDecoder {
    buffer: Vec<u8>,
    max_payload: usize,
}

impl Default for FrameDecoder {
    fn default() -> Self {
        Self::new()
    }
}

impl FrameDecoder {
    pub fn new() -> Self {
        Self::with_max_payload(MAX_PAYLOAD)
    }

    /// A decoder that refuses payloads longer than `max_payload` (at most 65,535).
    pub fn with_max_payload(max_payload: usize) -> Self {
        Self {
            buffer: Vec::new(),
            max_payload: max_payload.min(MAX_PAYLOAD),
        }
    }

    /// Appends received bytes.
    pub fn push(&mut self, bytes: &[u8]) {
        self.buffer.extend_from_slice(bytes);
    }

    /// Bytes received but not yet returned as a frame.
    pub fn buffered(&self) -> usize {
        self.buffer.len()
    }

    /// The next complete payload, if one has arrived. After an error the stream is out
    /// of step: drop the connection.
    pub fn next_payload(&mut self) -> Result<Option<Vec<u8>>, FrameError> {
        let [high, low, ..] = self.buffer[..] else {
            return Ok(None);
        };
        let length = usize::from(u16::from_be_bytes([high, low]));
        if length == 0 {
            return Err(FrameError::ZeroLength);
        }
        if length > self.max_payload {
            return Err(FrameError::TooLong {
                length,
                limit: self.max_payload,
            });
        }
        if self.buffer.len() < 2 + length {
            return Ok(None);
        }
        let payload = self.buffer[2..2 + length].to_vec();
        self.buffer.drain(..2 + length);
        Ok(Some(payload))
    }

    /// The next complete message, if one has arrived.
    pub fn next_message(&mut self) -> Result<Option<Message>, FrameError> {
        self.next_payload()?.map(Message::from_payload).transpose()
    }

    /// Call when the connection closed: an error if it closed inside a frame.
    pub fn finish(&self) -> Result<(), FrameError> {
        match self.buffer[..] {
            [] => Ok(()),
            [_] => Err(FrameError::Truncated {
                received: 1,
                expected: 2,
            }),
            [high, low, ..] => Err(FrameError::Truncated {
                received: self.buffer.len(),
                expected: 2 + usize::from(u16::from_be_bytes([high, low])),
            }),
        }
    }
}

/// Frames a payload: `length:u16 BE ‖ payload`.
pub fn encode_frame(payload: &[u8]) -> Result<Vec<u8>, FrameError> {
    let length =
        u16::try_from(payload.len()).map_err(|_| FrameError::AnswerTooLong(payload.len()))?;
    let mut frame = Vec::with_capacity(2 + payload.len());
    frame.extend_from_slice(&length.to_be_bytes());
    frame.extend_from_slice(payload);
    Ok(frame)
}

/// What the bridge needs of a card: the virtual My Number card, later the phone's
/// secure element.
pub trait VirtualIcc {
    /// The answer to reset.
    fn atr(&self) -> Vec<u8>;
    /// One command APDU in, one response APDU out. Must not panic on any input.
    fn transmit(&mut self, command: &[u8]) -> Vec<u8>;
    fn power_off(&mut self);
    fn reset(&mut self);
    /// Called after every APDU, before its answer is sent: write persistent state that
    /// changed. An error stops the bridge and the answer is not sent.
    fn commit(&mut self) -> Result<(), BridgeError>;
}

impl VirtualIcc for VirtualCard {
    fn atr(&self) -> Vec<u8> {
        VirtualCard::atr(self).to_vec()
    }

    fn transmit(&mut self, command: &[u8]) -> Vec<u8> {
        VirtualCard::transmit(self, command)
    }

    fn power_off(&mut self) {
        VirtualCard::power_off(self);
    }

    fn reset(&mut self) {
        VirtualCard::reset(self);
    }

    /// An in-memory card keeps its state in memory.
    fn commit(&mut self) -> Result<(), BridgeError> {
        Ok(())
    }
}

/// A virtual card backed by its card file: every APDU that changed persistent state
/// (PIN counters above all) is written back atomically before it is answered.
pub struct CardFile {
    card: VirtualCard,
    path: PathBuf,
    kek: Kek,
    saves: u64,
}

impl CardFile {
    /// Opens `path` with the device key.
    pub fn open(path: &Path, kek: Kek) -> Result<Self, CardFileError> {
        let card = jpki_card::file::load(path, &kek)?;
        Ok(Self::new(card, path.to_path_buf(), kek))
    }

    /// A loaded card and the file to write it back to.
    pub fn new(card: VirtualCard, path: PathBuf, kek: Kek) -> Self {
        Self {
            card,
            path,
            kek,
            saves: 0,
        }
    }

    pub fn card(&self) -> &VirtualCard {
        &self.card
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// How many times the file was written since it was opened.
    pub fn saves(&self) -> u64 {
        self.saves
    }
}

impl fmt::Debug for CardFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CardFile")
            .field("card", self.card.id())
            .field("path", &self.path)
            .field("saves", &self.saves)
            .finish_non_exhaustive()
    }
}

impl VirtualIcc for CardFile {
    fn atr(&self) -> Vec<u8> {
        self.card.atr().to_vec()
    }

    fn transmit(&mut self, command: &[u8]) -> Vec<u8> {
        self.card.transmit(command)
    }

    fn power_off(&mut self) {
        self.card.power_off();
    }

    fn reset(&mut self) {
        self.card.reset();
    }

    fn commit(&mut self) -> Result<(), BridgeError> {
        if self.card.is_dirty() {
            jpki_card::file::save(&self.path, &mut self.card, &self.kek).map_err(|source| {
                BridgeError::Persist {
                    path: self.path.clone(),
                    source,
                }
            })?;
            self.saves += 1;
        }
        Ok(())
    }
}

/// What [`respond`] did, for status lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CardAction {
    PoweredOn,
    PoweredOff,
    Reset,
    AtrSent,
    /// An APDU was answered; `ins` is its instruction byte.
    Answered {
        ins: u8,
    },
}

/// The sans-I/O step: applies one message to the card and returns the frame to send
/// back (if any) with what happened. Persists through [`VirtualIcc::commit`] before an
/// APDU's answer is returned.
pub fn respond(
    icc: &mut dyn VirtualIcc,
    message: Message,
) -> Result<(Option<Vec<u8>>, CardAction), BridgeError> {
    match message {
        Message::Control(ControlCode::PowerOff) => {
            icc.power_off();
            Ok((None, CardAction::PoweredOff))
        }
        Message::Control(ControlCode::PowerOn) => {
            // Power-on after power-off: the card is already in its cold state.
            icc.power_off();
            Ok((None, CardAction::PoweredOn))
        }
        Message::Control(ControlCode::Reset) => {
            icc.reset();
            Ok((None, CardAction::Reset))
        }
        Message::Control(ControlCode::GetAtr) => {
            let frame = encode_frame(&icc.atr()).map_err(BridgeError::Frame)?;
            Ok((Some(frame), CardAction::AtrSent))
        }
        Message::Apdu(command) => {
            let ins = command.get(1).copied().unwrap_or_default();
            let mut answer = icc.transmit(&command);
            icc.commit()?;
            if answer.len() > MAX_PAYLOAD {
                tracing::warn!(
                    length = answer.len(),
                    "the card's answer does not fit a vpcd frame; answering 6F 00"
                );
                answer = REPLY_TOO_LONG.to_vec();
            }
            let frame = encode_frame(&answer).map_err(BridgeError::Frame)?;
            Ok((Some(frame), CardAction::Answered { ins }))
        }
    }
}

/// Why the bridge stopped (the ones it recovers from are [`BridgeEvent`]s).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BridgeError {
    #[error("cannot write the card file {}: {source}", path.display())]
    Persist {
        path: PathBuf,
        #[source]
        source: CardFileError,
    },
    #[error("cannot write {}: {reason}", path.display())]
    PersistDevice { path: PathBuf, reason: String },
    #[error("cannot resolve {host}:{port}: {reason}")]
    Resolve {
        host: String,
        port: u16,
        reason: String,
    },
    #[error(transparent)]
    Frame(FrameError),
}

/// Where and how to connect.
#[derive(Debug, Clone)]
pub struct BridgeConfig {
    /// Host of the machine running pcscd with vpcd (127.0.0.1).
    pub host: String,
    /// vpcd's port for the slot ([`DEFAULT_PORT`] + slot number).
    pub port: u16,
    /// Set TCP_QUICKACK before every read (on by default; off only to measure why).
    pub quickack: bool,
    /// First wait after a failed connection; doubles up to `max_backoff`.
    pub initial_backoff: Duration,
    pub max_backoff: Duration,
    /// How often a blocked read wakes up to look at the stop flag.
    pub poll_interval: Duration,
    /// A write that blocks longer than this drops the connection.
    pub write_timeout: Duration,
}

impl Default for BridgeConfig {
    fn default() -> Self {
        Self {
            host: "127.0.0.1".into(),
            port: DEFAULT_PORT,
            quickack: true,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(2),
            poll_interval: Duration::from_millis(100),
            write_timeout: Duration::from_secs(5),
        }
    }
}

/// What the bridge reports as it runs.
#[derive(Debug)]
pub enum BridgeEvent<'a> {
    /// vpcd is not there (pcscd not running, not installed, or restarting). Reported
    /// once per outage; retries continue with backoff.
    Waiting {
        address: SocketAddr,
        error: &'a io::Error,
    },
    /// Connected: the card is in the reader.
    Inserted { address: SocketAddr },
    /// The reader powered the card, reset it, cut power, or read the ATR.
    Card(CardAction),
    /// vpcd closed the connection (pcscd stopped or restarted); reconnecting.
    Removed { reason: String },
    /// vpcd sent something that is not the protocol; the connection is dropped.
    ProtocolError(&'a FrameError),
}

impl fmt::Display for BridgeEvent<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Waiting { address, error } => write!(
                f,
                "waiting for vpcd on {address}… ({error}; is pcscd running with vsmartcard-vpcd?)"
            ),
            Self::Inserted { address } => {
                write!(f, "card inserted (connected to vpcd on {address})")
            }
            Self::Card(CardAction::PoweredOn) => f.write_str("reader powered the card on"),
            Self::Card(CardAction::PoweredOff) => f.write_str("reader powered the card off"),
            Self::Card(CardAction::Reset) => f.write_str("reader reset"),
            Self::Card(CardAction::AtrSent) => f.write_str("ATR sent"),
            Self::Card(CardAction::Answered { ins }) => write!(f, "answered INS {ins:02X}"),
            Self::Removed { reason } => write!(f, "card removed: {reason}; reconnecting"),
            Self::ProtocolError(error) => {
                write!(f, "protocol error: {error}; dropping the connection")
            }
        }
    }
}

/// How one connection ended.
enum Ended {
    /// The stop flag was raised.
    Stopped,
    /// The connection is gone; reconnect.
    Lost(String),
}

/// Connects `icc` to vpcd and serves it until `stop` is raised (then `Ok`) or the card
/// cannot be persisted (then `Err`). Connection failures, restarts of pcscd and bad
/// frames are reported through `on_event` and retried with backoff.
pub fn run_bridge(
    icc: &mut dyn VirtualIcc,
    config: &BridgeConfig,
    stop: &AtomicBool,
    on_event: &mut dyn FnMut(BridgeEvent<'_>),
) -> Result<(), BridgeError> {
    let address = resolve(&config.host, config.port)?;
    let mut backoff = config.initial_backoff;
    let mut outage_reported = false;
    while !stop.load(Ordering::SeqCst) {
        let stream = match TcpStream::connect_timeout(&address, Duration::from_secs(2)) {
            Ok(stream) => stream,
            Err(error) => {
                if !outage_reported {
                    on_event(BridgeEvent::Waiting {
                        address,
                        error: &error,
                    });
                    outage_reported = true;
                }
                tracing::debug!(%error, retry_in = ?backoff, "vpcd not reachable");
                sleep_unless_stopped(backoff, stop, config.poll_interval);
                backoff = (backoff * 2).min(config.max_backoff);
                continue;
            }
        };
        outage_reported = false;
        let connected_at = Instant::now();
        // A fresh connection is a fresh insertion: no session survives it.
        icc.power_off();
        on_event(BridgeEvent::Inserted { address });
        let ended = serve(icc, stream, config, stop, on_event);
        icc.power_off();
        match ended? {
            Ended::Stopped => break,
            Ended::Lost(reason) => {
                on_event(BridgeEvent::Removed { reason });
                // A connection that lived a while was a real session: retry fast. One
                // that died at once (vpcd refusing us) keeps backing off.
                if connected_at.elapsed() > config.max_backoff {
                    backoff = config.initial_backoff;
                }
                sleep_unless_stopped(backoff, stop, config.poll_interval);
                backoff = (backoff * 2).min(config.max_backoff);
            }
        }
    }
    Ok(())
}

fn resolve(host: &str, port: u16) -> Result<SocketAddr, BridgeError> {
    let resolve_error = |reason: String| BridgeError::Resolve {
        host: host.to_owned(),
        port,
        reason,
    };
    (host, port)
        .to_socket_addrs()
        .map_err(|error| resolve_error(error.to_string()))?
        .next()
        .ok_or_else(|| resolve_error("no address".into()))
}

fn sleep_unless_stopped(duration: Duration, stop: &AtomicBool, step: Duration) {
    let until = Instant::now() + duration;
    while !stop.load(Ordering::SeqCst) {
        let now = Instant::now();
        if now >= until {
            break;
        }
        std::thread::sleep((until - now).min(step));
    }
}

/// Serves one connection until it ends.
fn serve(
    icc: &mut dyn VirtualIcc,
    mut stream: TcpStream,
    config: &BridgeConfig,
    stop: &AtomicBool,
    on_event: &mut dyn FnMut(BridgeEvent<'_>),
) -> Result<Ended, BridgeError> {
    let setup = stream
        .set_nodelay(true)
        .and_then(|()| stream.set_read_timeout(Some(config.poll_interval)))
        .and_then(|()| stream.set_write_timeout(Some(config.write_timeout)));
    if let Err(error) = setup {
        return Ok(Ended::Lost(format!("cannot configure the socket: {error}")));
    }
    let mut decoder = FrameDecoder::new();
    let mut buffer = [0u8; 4096];
    loop {
        if stop.load(Ordering::SeqCst) {
            return Ok(Ended::Stopped);
        }
        if config.quickack
            && let Err(error) = socket2::SockRef::from(&stream).set_tcp_quickack(true)
        {
            tracing::debug!(%error, "cannot set TCP_QUICKACK");
        }
        let received = match stream.read(&mut buffer) {
            Ok(0) => {
                return Ok(Ended::Lost(match decoder.finish() {
                    Ok(()) => "vpcd closed the connection (pcscd stopped or restarted)".into(),
                    Err(error) => {
                        on_event(BridgeEvent::ProtocolError(&error));
                        error.to_string()
                    }
                }));
            }
            Ok(received) => received,
            Err(error)
                if matches!(
                    error.kind(),
                    io::ErrorKind::WouldBlock
                        | io::ErrorKind::TimedOut
                        | io::ErrorKind::Interrupted
                ) =>
            {
                continue;
            }
            Err(error) => return Ok(Ended::Lost(format!("reading from vpcd failed: {error}"))),
        };
        decoder.push(buffer.get(..received).unwrap_or_default());
        loop {
            let message = match decoder.next_message() {
                Ok(Some(message)) => message,
                Ok(None) => break,
                Err(error) => {
                    on_event(BridgeEvent::ProtocolError(&error));
                    return Ok(Ended::Lost(error.to_string()));
                }
            };
            tracing::trace!(?message, "from vpcd");
            let (reply, action) = respond(icc, message)?;
            on_event(BridgeEvent::Card(action));
            if let Some(frame) = reply
                && let Err(error) = stream.write_all(&frame)
            {
                return Ok(Ended::Lost(format!("writing to vpcd failed: {error}")));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_split_across_reads_are_reassembled() {
        let mut decoder = FrameDecoder::new();
        // vpcd 3.3 sends the length and the APDU in two writes; TCP may split further.
        let stream = [
            0x00, 0x01, 0x01, // power on
            0x00, 0x01, 0x04, // get ATR
            0x00, 0x05, 0x00, 0xB0, 0x00, 0x00, 0x20, // READ BINARY
        ];
        let mut messages = Vec::new();
        for byte in stream {
            decoder.push(&[byte]);
            while let Some(message) = decoder.next_message().unwrap() {
                messages.push(message);
            }
        }
        assert_eq!(
            messages,
            vec![
                Message::Control(ControlCode::PowerOn),
                Message::Control(ControlCode::GetAtr),
                Message::Apdu(vec![0x00, 0xB0, 0x00, 0x00, 0x20]),
            ]
        );
        assert_eq!(decoder.buffered(), 0);
        decoder.finish().unwrap();
    }

    #[test]
    fn several_frames_in_one_read() {
        let mut decoder = FrameDecoder::new();
        decoder.push(&[0x00, 0x01, 0x02, 0x00, 0x01, 0x00, 0x00, 0x04]);
        assert_eq!(
            decoder.next_message().unwrap(),
            Some(Message::Control(ControlCode::Reset))
        );
        assert_eq!(
            decoder.next_message().unwrap(),
            Some(Message::Control(ControlCode::PowerOff))
        );
        assert_eq!(decoder.next_message().unwrap(), None);
        assert_eq!(decoder.buffered(), 2);
    }

    #[test]
    fn bad_frames_are_errors_not_panics() {
        let cases: &[(&[u8], FrameError)] = &[
            (&[0x00, 0x00], FrameError::ZeroLength),
            (&[0x00, 0x01, 0x03], FrameError::UnknownControlCode(0x03)),
            (&[0x00, 0x01, 0xFF], FrameError::UnknownControlCode(0xFF)),
        ];
        for (bytes, expected) in cases {
            let mut decoder = FrameDecoder::new();
            decoder.push(bytes);
            assert_eq!(
                decoder.next_message().unwrap_err(),
                *expected,
                "{bytes:02X?}"
            );
        }
    }

    #[test]
    fn a_lower_limit_refuses_long_frames_before_reading_them() {
        let mut decoder = FrameDecoder::with_max_payload(261);
        decoder.push(&[0x01, 0x06]);
        assert_eq!(
            decoder.next_payload().unwrap_err(),
            FrameError::TooLong {
                length: 262,
                limit: 261
            }
        );
        // The limit cannot exceed what the length field can say.
        assert_eq!(FrameDecoder::with_max_payload(1 << 20).max_payload, 65_535);
    }

    #[test]
    fn the_largest_frame_is_accepted() {
        let mut decoder = FrameDecoder::new();
        let mut frame = vec![0xFF, 0xFF];
        frame.extend(std::iter::repeat_n(0xAB, 65_535));
        decoder.push(&frame);
        assert_eq!(decoder.next_payload().unwrap().unwrap().len(), 65_535);
    }

    #[test]
    fn a_connection_closed_inside_a_frame_is_truncated() {
        let mut decoder = FrameDecoder::new();
        decoder.push(&[0x00]);
        assert_eq!(
            decoder.finish().unwrap_err(),
            FrameError::Truncated {
                received: 1,
                expected: 2
            }
        );
        decoder.push(&[0x05, 0x00, 0xA4]);
        assert_eq!(decoder.next_payload().unwrap(), None);
        assert_eq!(
            decoder.finish().unwrap_err(),
            FrameError::Truncated {
                received: 4,
                expected: 7
            }
        );
    }

    #[test]
    fn encode_frame_prefixes_the_big_endian_length() {
        assert_eq!(
            encode_frame(&[0x90, 0x00]).unwrap(),
            [0x00, 0x02, 0x90, 0x00]
        );
        let long = vec![0u8; 300];
        assert_eq!(encode_frame(&long).unwrap()[..2], [0x01, 0x2C]);
        assert_eq!(
            encode_frame(&vec![0u8; 65_536]).unwrap_err(),
            FrameError::AnswerTooLong(65_536)
        );
    }

    #[test]
    fn apdu_debug_hides_the_data() {
        let message = Message::Apdu(vec![0x00, 0x20, 0x00, 0x80, 0x04, b'1', b'2', b'3', b'4']);
        let shown = format!("{message:?}");
        assert!(shown.contains("9 bytes"), "{shown}");
        assert!(!shown.contains("31"), "{shown}");
    }

    /// A card that records what happened to it.
    #[derive(Default)]
    struct Recorder {
        log: Vec<String>,
        dirty: bool,
        fail_commit: bool,
    }

    impl VirtualIcc for Recorder {
        fn atr(&self) -> Vec<u8> {
            jpki_card::ATR.to_vec()
        }
        fn transmit(&mut self, command: &[u8]) -> Vec<u8> {
            self.log.push(format!("apdu {command:02X?}"));
            self.dirty = command.get(1) == Some(&0x20);
            vec![0x90, 0x00]
        }
        fn power_off(&mut self) {
            self.log.push("off".into());
        }
        fn reset(&mut self) {
            self.log.push("reset".into());
        }
        fn commit(&mut self) -> Result<(), BridgeError> {
            if self.fail_commit {
                return Err(BridgeError::Frame(FrameError::ZeroLength));
            }
            if self.dirty {
                self.log.push("saved".into());
                self.dirty = false;
            }
            Ok(())
        }
    }

    #[test]
    fn respond_answers_get_atr_and_apdus_only() {
        let mut card = Recorder::default();
        let (reply, action) = respond(&mut card, Message::Control(ControlCode::GetAtr)).unwrap();
        assert_eq!(
            reply.unwrap(),
            [
                0x00, 0x09, 0x3B, 0xE0, 0x00, 0xFF, 0x81, 0x31, 0xFE, 0x45, 0x14
            ]
        );
        assert_eq!(action, CardAction::AtrSent);
        for (code, action) in [
            (ControlCode::PowerOn, CardAction::PoweredOn),
            (ControlCode::Reset, CardAction::Reset),
            (ControlCode::PowerOff, CardAction::PoweredOff),
        ] {
            assert_eq!(
                respond(&mut card, Message::Control(code)).unwrap(),
                (None, action)
            );
        }
        let (reply, action) =
            respond(&mut card, Message::Apdu(vec![0x00, 0x20, 0x00, 0x80])).unwrap();
        assert_eq!(reply.unwrap(), [0x00, 0x02, 0x90, 0x00]);
        assert_eq!(action, CardAction::Answered { ins: 0x20 });
        assert_eq!(
            card.log,
            ["off", "reset", "off", "apdu [00, 20, 00, 80]", "saved"]
        );
    }

    #[test]
    fn a_failed_commit_withholds_the_answer() {
        let mut card = Recorder {
            fail_commit: true,
            ..Recorder::default()
        };
        assert!(respond(&mut card, Message::Apdu(vec![0x00, 0x20, 0x00, 0x80])).is_err());
    }

    /// A stand-in for vpcd: the server side of the socket.
    fn fake_vpcd() -> (std::net::TcpListener, BridgeConfig) {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let config = BridgeConfig {
            port: listener.local_addr().unwrap().port(),
            initial_backoff: Duration::from_millis(10),
            max_backoff: Duration::from_millis(50),
            poll_interval: Duration::from_millis(20),
            ..BridgeConfig::default()
        };
        (listener, config)
    }

    fn read_frame(stream: &mut TcpStream) -> Vec<u8> {
        let mut length = [0u8; 2];
        stream.read_exact(&mut length).unwrap();
        let mut payload = vec![0u8; usize::from(u16::from_be_bytes(length))];
        stream.read_exact(&mut payload).unwrap();
        payload
    }

    #[test]
    fn the_bridge_serves_vpcd_survives_bad_frames_and_stops_on_request() {
        let (listener, config) = fake_vpcd();
        let stop = std::sync::Arc::new(AtomicBool::new(false));
        let server_stop = stop.clone();
        let server = std::thread::spawn(move || {
            // Connection 1: a session as pcscd drives it, the APDU's length and body
            // in two writes as vpcd 3.3 sends them.
            let (mut vpcd, _) = listener.accept().unwrap();
            vpcd.write_all(&[0x00, 0x01, 0x01]).unwrap();
            vpcd.write_all(&[0x00, 0x01, 0x04]).unwrap();
            let atr = read_frame(&mut vpcd);
            vpcd.write_all(&[0x00, 0x04]).unwrap();
            vpcd.flush().unwrap();
            std::thread::sleep(Duration::from_millis(30));
            vpcd.write_all(&[0x00, 0x20, 0x00, 0x80]).unwrap();
            let answer = read_frame(&mut vpcd);
            // A zero-length frame: the bridge drops this connection.
            vpcd.write_all(&[0x00, 0x00]).unwrap();
            let mut rest = Vec::new();
            vpcd.read_to_end(&mut rest).unwrap();
            // Connection 2: the bridge came back by itself; closing inside a frame
            // drops it again.
            let (mut vpcd, _) = listener.accept().unwrap();
            vpcd.write_all(&[0x00, 0x05, 0x00]).unwrap();
            drop(vpcd);
            // Connection 3: healthy, until the bridge is told to stop.
            let (mut vpcd, _) = listener.accept().unwrap();
            vpcd.write_all(&[0x00, 0x01, 0x02]).unwrap();
            vpcd.write_all(&[0x00, 0x02, 0x00, 0xA4]).unwrap();
            let short = read_frame(&mut vpcd);
            server_stop.store(true, Ordering::SeqCst);
            let mut rest = Vec::new();
            vpcd.read_to_end(&mut rest).unwrap();
            (atr, answer, short)
        });
        let mut card = Recorder::default();
        let mut events = Vec::new();
        run_bridge(&mut card, &config, &stop, &mut |event| {
            events.push(event.to_string())
        })
        .unwrap();
        let (atr, answer, short) = server.join().unwrap();
        assert_eq!(atr, jpki_card::ATR);
        assert_eq!(answer, [0x90, 0x00]);
        assert_eq!(short, [0x90, 0x00]);
        let joined = events.join("\n");
        assert_eq!(
            events
                .iter()
                .filter(|e| e.starts_with("card inserted"))
                .count(),
            3,
            "{joined}"
        );
        assert!(
            joined.contains("protocol error: vpcd sent a frame of length 0"),
            "{joined}"
        );
        assert!(
            joined.contains("protocol error: the connection closed inside a frame: 3 of 7 bytes"),
            "{joined}"
        );
        assert!(joined.contains("reader reset"), "{joined}");
        assert!(card.log.contains(&"saved".to_owned()), "{:?}", card.log);
    }

    #[test]
    fn the_bridge_waits_for_vpcd_and_stops_while_waiting() {
        // A port nobody listens on: bind one, note it, close it.
        let (listener, config) = fake_vpcd();
        drop(listener);
        let stop = AtomicBool::new(false);
        let mut events = Vec::new();
        let mut card = Recorder::default();
        std::thread::scope(|scope| {
            scope.spawn(|| {
                std::thread::sleep(Duration::from_millis(200));
                stop.store(true, Ordering::SeqCst);
            });
            run_bridge(&mut card, &config, &stop, &mut |event| {
                events.push(event.to_string())
            })
            .unwrap();
        });
        assert_eq!(
            events.len(),
            1,
            "one line per outage, not per retry: {events:?}"
        );
        assert!(
            events[0].starts_with("waiting for vpcd on 127.0.0.1:"),
            "{events:?}"
        );
    }

    fn blank_card() -> VirtualCard {
        VirtualCard::blank(jpki_card::CardId::parse("0123456789ABCDEF").unwrap())
    }

    #[test]
    fn a_card_file_is_written_before_the_answer_and_only_when_changed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("card.json");
        let key = [7u8; 32];
        // A blank card has never been saved: it is dirty.
        let mut file = CardFile::new(blank_card(), path.clone(), Kek::from_bytes(&key).unwrap());
        let select = Message::Apdu(vec![0x00, 0xA4, 0x04, 0x0C, 0x02, 0xD3, 0x92]);
        respond(&mut file, select.clone()).unwrap();
        assert_eq!(file.saves(), 1);
        assert!(path.exists());
        respond(&mut file, select).unwrap();
        assert_eq!(file.saves(), 1, "nothing changed, nothing written");
        let reopened = CardFile::open(&path, Kek::from_bytes(&key).unwrap()).unwrap();
        assert_eq!(reopened.card().id(), file.card().id());
    }

    #[test]
    fn a_card_file_that_cannot_be_written_stops_the_bridge() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("gone").join("card.json");
        let mut file = CardFile::new(blank_card(), path, Kek::generate().unwrap());
        let error = respond(&mut file, Message::Apdu(vec![0x00, 0xA4, 0x04, 0x0C])).unwrap_err();
        assert!(matches!(error, BridgeError::Persist { .. }), "{error}");
        assert!(
            error.to_string().contains("cannot write the card file"),
            "{error}"
        );
    }

    #[test]
    fn the_virtual_card_answers_short_and_malformed_payloads_itself() {
        let mut card = blank_card();
        let (reply, _) = respond(&mut card, Message::Apdu(vec![0x00, 0xA4])).unwrap();
        assert_eq!(reply.unwrap(), [0x00, 0x02, 0x67, 0x00]);
        // An extended APDU whose Lc promises more than it carries.
        let (reply, _) = respond(
            &mut card,
            Message::Apdu(vec![0x00, 0xD6, 0x00, 0x00, 0x00, 0xFF, 0xFF, 0x01]),
        )
        .unwrap();
        let reply = reply.unwrap();
        assert_eq!(reply.len(), 4);
        assert_ne!(reply[2..], [0x90, 0x00]);
    }
}
