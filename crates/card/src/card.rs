//! The card: its life cycle, its applications and the command dispatcher.
//!
//! ```text
//! bytes ─▶ Command::parse ──(malformed)──────────────────────────────▶ 67 00
//!              │
//!              ▼ classify CLA/INS ──(unknown INS 6D 00, wrong CLA 6E 00)─▶
//!              │
//!   SELECT P1=04 (by AID) ─▶ card: select JPKI / 券面事項入力補助 / 券面 AP
//!   ACTIVATE FILE         ─▶ card: end personalization
//!   anything else         ─▶ the selected application (none selected: 69 86,
//!                            SELECT EF: 6A 82)
//! ```

use std::fmt;

use jpki_apdu::{Command, Instruction, Response, StatusWord};
use serde::{Deserialize, Serialize};
use zeroize::Zeroize;

use crate::CardFileError;
use crate::applet::{Applet, Privilege, classify};
use crate::jpki_ap::{JPKI_AID, JpkiAp, JpkiApProfile};
use crate::support_ap::{SUPPORT_AID, SURFACE_AID, support_applet, surface_applet};

/// The answer-to-reset OpenSC's `jpki` driver matches (`card-jpki.c`).
pub const ATR: [u8; 9] = [0x3B, 0xE0, 0x00, 0xFF, 0x81, 0x31, 0xFE, 0x45, 0x14];

/// Where the card is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LifeCycle {
    /// Blank or being personalized: the issuer's commands (GENERATE ASYMMETRIC KEY PAIR,
    /// UPDATE BINARY, CHANGE REFERENCE DATA without VERIFY, ACTIVATE FILE) are accepted.
    Personalization,
    /// Activated: only the holder's commands are accepted.
    Operational,
}

/// A card identifier: 16 upper-case hex digits (64 random bits).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CardId(String);

impl CardId {
    /// A fresh random identifier.
    pub fn random() -> Result<Self, CardFileError> {
        let bytes = jpki_crypto::random_bytes(8)?;
        Ok(Self(bytes.iter().map(|b| format!("{b:02X}")).collect()))
    }

    /// Parses 16 upper-case hex digits.
    pub fn parse(text: &str) -> Result<Self, CardFileError> {
        if text.len() == 16
            && text
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'A'..=b'F').contains(&b))
        {
            Ok(Self(text.to_owned()))
        } else {
            Err(CardFileError::Malformed(format!(
                "card id {text:?} is not 16 upper-case hex digits"
            )))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for CardId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for CardId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CardId({})", self.0)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Application {
    Jpki,
    Support,
    Surface,
}

/// A virtual My Number card: command APDU bytes in, response APDU bytes out.
///
/// Sans-I/O: nothing here touches a file, a socket or the clock. PC/SC, vpcd and the
/// in-process reader are adapters around [`VirtualCard::transmit`].
pub struct VirtualCard {
    pub(crate) id: CardId,
    pub(crate) life_cycle: LifeCycle,
    pub(crate) jpki: JpkiAp,
    pub(crate) support: Applet,
    pub(crate) surface: Applet,
    selected: Option<Application>,
    dirty: bool,
}

impl VirtualCard {
    /// A blank card in [`LifeCycle::Personalization`] with the given identifier.
    pub fn blank(id: CardId) -> Self {
        Self::assemble(
            id,
            LifeCycle::Personalization,
            JpkiAp::new(JpkiApProfile::card()),
            support_applet(),
            true,
        )
    }

    pub(crate) fn assemble(
        id: CardId,
        life_cycle: LifeCycle,
        jpki: JpkiAp,
        support: Applet,
        dirty: bool,
    ) -> Self {
        Self {
            id,
            life_cycle,
            jpki,
            support,
            surface: surface_applet(),
            selected: None,
            dirty,
        }
    }

    pub fn id(&self) -> &CardId {
        &self.id
    }

    pub fn life_cycle(&self) -> LifeCycle {
        self.life_cycle
    }

    /// The answer to reset: `3B E0 00 FF 81 31 FE 45 14`.
    pub fn atr(&self) -> &'static [u8] {
        &ATR
    }

    /// Processes one command APDU and returns the response APDU. Never panics: malformed
    /// input gets a status word.
    pub fn transmit(&mut self, command: &[u8]) -> Vec<u8> {
        self.process(command).to_bytes()
    }

    /// Cold power-down: clears every security state and the current selection. The
    /// next command powers the card up again (as a reader does).
    pub fn power_off(&mut self) {
        self.clear_sessions();
        self.selected = None;
    }

    /// Warm reset: the same effect on this card as [`VirtualCard::power_off`].
    pub fn reset(&mut self) {
        self.clear_sessions();
        self.selected = None;
    }

    /// Whether persistent state (life cycle, counters, PINs, keys, EF contents) changed
    /// since the card was loaded or last marked saved. A new blank card is dirty.
    pub fn is_dirty(&self) -> bool {
        self.dirty || self.jpki.is_dirty() || self.support.is_dirty()
    }

    /// Records that the current state is on disk (the `file` module calls this).
    pub fn mark_saved(&mut self) {
        self.dirty = false;
        self.jpki.mark_saved();
        self.support.mark_saved();
    }

    /// Why the card cannot be activated yet (empty when it can).
    pub fn missing_for_activation(&self) -> Vec<String> {
        let mut missing = self.jpki.missing_for_activation();
        missing.extend(self.support.missing_for_activation());
        missing
    }

    fn clear_sessions(&mut self) {
        self.jpki.reset_session();
        self.support.reset_session();
        self.surface.reset_session();
    }

    fn privilege(&self) -> Privilege {
        match self.life_cycle {
            LifeCycle::Personalization => Privilege::Issuer,
            LifeCycle::Operational => Privilege::Holder,
        }
    }

    fn process(&mut self, bytes: &[u8]) -> Response {
        let Ok(mut command) = Command::parse(bytes) else {
            return Response::status(StatusWord::WrongLength);
        };
        let response = self.dispatch(&command);
        if Instruction::carries_secret(command.ins) {
            // The PIN has been compared or stored; wipe the parsed copy.
            command.data.zeroize();
        }
        response
    }

    fn dispatch(&mut self, command: &Command) -> Response {
        let instruction = match classify(command) {
            Ok(instruction) => instruction,
            Err(sw) => return Response::status(sw),
        };
        match instruction {
            Instruction::Select if command.p1 == 0x04 => {
                Response::status(self.select_application(command))
            }
            Instruction::ActivateFile => Response::status(self.activate(command)),
            _ => {
                let privilege = self.privilege();
                match self.selected {
                    Some(Application::Jpki) => self.jpki.process(command, privilege),
                    Some(Application::Support) => self.support.process(command, privilege),
                    Some(Application::Surface) => self.surface.process(command, privilege),
                    None if instruction == Instruction::Select => {
                        Response::status(StatusWord::FileNotFound)
                    }
                    None => Response::status(StatusWord::CommandNotAllowedNoEf),
                }
            }
        }
    }

    /// SELECT by DF name: `00 A4 04 0C Lc <AID>` (P2 `00` accepted; no FCI). A
    /// successful SELECT clears every security state, also of the other applications.
    fn select_application(&mut self, command: &Command) -> StatusWord {
        if !matches!(command.p2, 0x0C | 0x00) {
            return StatusWord::IncorrectP1P2;
        }
        if command.data.is_empty() {
            return StatusWord::WrongLength;
        }
        let application = match command.data.as_slice() {
            aid if aid == JPKI_AID => Application::Jpki,
            aid if aid == SUPPORT_AID => Application::Support,
            aid if aid == SURFACE_AID => Application::Surface,
            _ => return StatusWord::FileNotFound,
        };
        self.clear_sessions();
        self.selected = Some(application);
        StatusWord::Ok
    }

    /// ACTIVATE FILE: `00 44 00 00` with an application selected ends the
    /// personalization of the whole card.
    fn activate(&mut self, command: &Command) -> StatusWord {
        if command.p1 != 0x00 || command.p2 != 0x00 {
            return StatusWord::IncorrectP1P2;
        }
        if !command.data.is_empty() || command.le.is_some() {
            return StatusWord::WrongLength;
        }
        if self.life_cycle != LifeCycle::Personalization {
            return StatusWord::ConditionsNotSatisfied;
        }
        if self.selected.is_none() {
            return StatusWord::CommandNotAllowedNoEf;
        }
        if !self.missing_for_activation().is_empty() {
            return StatusWord::ReferencedDataNotFound;
        }
        self.life_cycle = LifeCycle::Operational;
        self.dirty = true;
        self.clear_sessions();
        StatusWord::Ok
    }
}

impl fmt::Debug for VirtualCard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VirtualCard")
            .field("id", &self.id)
            .field("life_cycle", &self.life_cycle)
            .field("selected", &self.selected)
            .field("dirty", &self.is_dirty())
            .finish_non_exhaustive()
    }
}
