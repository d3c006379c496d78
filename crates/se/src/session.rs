//! Sessions: how a contactless reader or an on-device app reaches the JPKI AP, and the
//! one place where command bytes become response bytes.
//!
//! ```text
//! bytes ─▶ Command::parse ──(malformed)────────────────────────────────────▶ 67 00
//!            │
//!            ├─ app session (OMAPI, allowed by a rule), JPKI AP selected:
//!            │     00 C0 GET RESPONSE, 00 84 GET CHALLENGE, 80 82 UNLOCK,
//!            │     80 A0 ATTEST KEY, 80 E2 ENROL, 80 E6 UNENROL, 80 E4 WIPE   ─▶ SE
//!            │
//!            └─ everything else, on every interface, exactly as the card's container:
//!                  CLA/INS check (6E 00 / 6D 00), SELECT by AID, ACTIVATE FILE (69 85),
//!                  then the JPKI AP core with the session's privilege
//! ```
//!
//! | interface | who | JPKI AP privilege | SE commands |
//! |---|---|---|---|
//! | contactless (PC/SC reader, kiosk) | anyone | holder | none: they answer as on a card (`6D 00`) |
//! | OMAPI, app with grant `Holder` | that app | holder | GET CHALLENGE, UNLOCK |
//! | OMAPI, app with grant `Personalization` | the portal app | issuer | all |
//! | OMAPI, any other app | refused: SELECT of the JPKI AID answers `69 82` | — | — |
//!
//! A session's security state (selected AP, verified PINs, challenge, a chained answer)
//! starts empty and is cleared by SELECT of the AP and by [`Session::reset`]; opening a
//! session clears whatever an earlier one left.

use std::borrow::BorrowMut;
use std::fmt;

use jpki_apdu::{Command, Instruction, Response, StatusWord};
use jpki_card::{JPKI_AID, Privilege};
use jpki_reader::{Transport, TransportError};
use zeroize::Zeroize;

use crate::access::{AccessGrant, AppIdentity};
use crate::attestation::{AttestationBundle, MAX_NONCE_LEN, MIN_NONCE_LEN, build_statement};
use crate::biometric::{CHALLENGE_LEN, Challenge, EnrolRefusal, UnlockRefusal};
use crate::{SlotUsage, VirtualSecureElement};

/// How a caller reaches the secure element.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Interface {
    /// The contactless front end: an external reader (PC/SC tool, kiosk). No app
    /// identity; card-holder privilege only.
    Contactless,
    /// OMAPI from an app on the phone, which presents its identity (the phone OS
    /// computes it; the SE trusts the OS, as a GP-SE trusts its access control enforcer).
    Omapi(AppIdentity),
}

/// What the session may do with the JPKI AP.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Contactless,
    App(AccessGrant),
    /// An OMAPI caller no rule allows.
    Refused,
}

/// The proprietary and GP-style commands of the SE (app sessions only).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SeCommand {
    GetChallenge,
    Unlock,
    Attest,
    Enrol,
    Wipe,
    Unenrol,
}

impl SeCommand {
    fn of(command: &Command) -> Option<Self> {
        Some(match (command.cla, command.ins) {
            (0x00, 0x84) => Self::GetChallenge,
            (0x80, 0x82) => Self::Unlock,
            (0x80, 0xA0) => Self::Attest,
            (0x80, 0xE2) => Self::Enrol,
            (0x80, 0xE4) => Self::Wipe,
            (0x80, 0xE6) => Self::Unenrol,
            _ => return None,
        })
    }

    fn needs_personalization(self) -> bool {
        !matches!(self, Self::GetChallenge | Self::Unlock)
    }
}

/// An open session on a secure element. `S` is `&mut VirtualSecureElement` (from
/// [`VirtualSecureElement::open_session`]) or an owned `VirtualSecureElement` (for a
/// long-lived link such as a vpcd bridge).
pub struct Session<S: BorrowMut<VirtualSecureElement>> {
    se: S,
    interface: Interface,
    role: Role,
    selected: bool,
    pending: Option<Vec<u8>>,
    challenge: Option<Challenge>,
    biometric_unlock: bool,
}

impl<S: BorrowMut<VirtualSecureElement>> Session<S> {
    /// Opens a session: the caller's access is decided now, from the SE's rules for the
    /// JPKI AID and the interface.
    pub fn open(mut se: S, interface: Interface) -> Self {
        let element = se.borrow_mut();
        element.jpki.reset_session();
        let role = match &interface {
            Interface::Contactless => Role::Contactless,
            Interface::Omapi(identity) => element
                .access_rules
                .grant_for(&JPKI_AID, identity)
                .map_or(Role::Refused, Role::App),
        };
        Self {
            se,
            interface,
            role,
            selected: false,
            pending: None,
            challenge: None,
            biometric_unlock: false,
        }
    }

    pub fn interface(&self) -> &Interface {
        &self.interface
    }

    /// The secure element behind the session.
    pub fn element(&self) -> &VirtualSecureElement {
        self.se.borrow()
    }

    /// The secure element, mutably (to mark it saved after writing its file). Opening
    /// another session through it clears this session's security state in the AP.
    pub fn element_mut(&mut self) -> &mut VirtualSecureElement {
        self.se.borrow_mut()
    }

    /// Ends the session and gives the SE back.
    pub fn into_inner(mut self) -> S {
        self.se.borrow_mut().jpki.reset_session();
        self.se
    }

    /// Field reset / channel reset: no AP selected, no verified PIN, no challenge, no
    /// chained answer.
    pub fn reset(&mut self) {
        self.se.borrow_mut().jpki.reset_session();
        self.selected = false;
        self.pending = None;
        self.challenge = None;
        self.biometric_unlock = false;
    }

    /// Processes one command APDU and returns the response APDU. Never panics: malformed
    /// input gets a status word.
    pub fn transmit(&mut self, command: &[u8]) -> Vec<u8> {
        self.process(command).to_bytes()
    }

    fn process(&mut self, bytes: &[u8]) -> Response {
        let Ok(mut command) = Command::parse(bytes) else {
            self.pending = None;
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
        // A chained answer survives only until the next command.
        let pending = self.pending.take();
        if let Role::App(grant) = self.role {
            if (command.cla, command.ins) == (0x00, 0xC0) {
                return self.get_response(command, pending);
            }
            if let Some(se_command) = SeCommand::of(command) {
                if !self.selected {
                    return Response::status(StatusWord::CommandNotAllowedNoEf);
                }
                if se_command.needs_personalization() && grant != AccessGrant::Personalization {
                    return Response::status(StatusWord::SecurityStatusNotSatisfied);
                }
                return self.se_command(se_command, command);
            }
        }
        self.card_dispatch(command)
    }

    /// What the card's container does, with the SE's AP table and access rule.
    fn card_dispatch(&mut self, command: &Command) -> Response {
        let instruction = match classify(command) {
            Ok(instruction) => instruction,
            Err(sw) => return Response::status(sw),
        };
        match instruction {
            Instruction::Select if command.p1 == 0x04 => {
                Response::status(self.select_application(command))
            }
            Instruction::ActivateFile => Response::status(activate(command)),
            _ if !self.selected => Response::status(if instruction == Instruction::Select {
                StatusWord::FileNotFound
            } else {
                StatusWord::CommandNotAllowedNoEf
            }),
            Instruction::GenerateAsymmetricKeyPair if self.privilege() == Privilege::Issuer => {
                self.generate_key_pair(command)
            }
            _ => {
                let privilege = self.privilege();
                self.se.borrow_mut().jpki.process(command, privilege)
            }
        }
    }

    fn privilege(&self) -> Privilege {
        match self.role {
            Role::App(AccessGrant::Personalization) => Privilege::Issuer,
            Role::Contactless | Role::App(AccessGrant::Holder) | Role::Refused => Privilege::Holder,
        }
    }

    /// SELECT by DF name, as the card answers it; an OMAPI caller no rule allows gets
    /// `69 82` for the JPKI AID, whatever P2 says, and learns nothing else.
    fn select_application(&mut self, command: &Command) -> StatusWord {
        if self.role == Role::Refused && command.data == JPKI_AID {
            return StatusWord::SecurityStatusNotSatisfied;
        }
        if !matches!(command.p2, 0x0C | 0x00) {
            return StatusWord::IncorrectP1P2;
        }
        if command.data.is_empty() {
            return StatusWord::WrongLength;
        }
        if command.data != JPKI_AID {
            // The only applet here is the JPKI AP; the selection stays as it was.
            return StatusWord::FileNotFound;
        }
        self.se.borrow_mut().jpki.reset_session();
        self.selected = true;
        self.challenge = None;
        self.biometric_unlock = false;
        StatusWord::Ok
    }

    /// GENERATE ASYMMETRIC KEY PAIR with issuer privilege: the card's command, then the
    /// certificate of a replaced key is erased (it certifies a key that is gone).
    fn generate_key_pair(&mut self, command: &Command) -> Response {
        let element = self.se.borrow_mut();
        let before: Vec<Option<Vec<u8>>> = SlotUsage::ALL
            .iter()
            .map(|usage| element.jpki.public_key(usage.key_fid()).map(<[u8]>::to_vec))
            .collect();
        let response = element.jpki.process(command, Privilege::Issuer);
        if response.is_ok() {
            for (usage, old) in SlotUsage::ALL.iter().zip(before) {
                let replaced =
                    old.is_some() && element.jpki.public_key(usage.key_fid()) != old.as_deref();
                if replaced && element.jpki.erase_file(usage.certificate_fid()).is_err() {
                    return Response::status(StatusWord::MemoryFailure);
                }
            }
        }
        response
    }

    fn se_command(&mut self, se_command: SeCommand, command: &Command) -> Response {
        let outcome = match se_command {
            SeCommand::GetChallenge => self.get_challenge(command),
            SeCommand::Unlock => self.unlock(command),
            SeCommand::Attest => self.attest(command),
            SeCommand::Enrol => self.enrol(command),
            SeCommand::Wipe => self.wipe(command),
            SeCommand::Unenrol => self.unenrol(command),
        };
        match outcome {
            Ok(data) => self.answer(data, command.le),
            Err(sw) => Response::status(sw),
        }
    }

    /// Sends `data` whole when Ne allows, otherwise the first Ne bytes (none without
    /// Le) and `61 XX`: the rest comes with GET RESPONSE.
    fn answer(&mut self, mut data: Vec<u8>, ne: Option<usize>) -> Response {
        let first = ne.unwrap_or(0);
        if first >= data.len() {
            return Response::ok(data);
        }
        let rest = data.split_off(first);
        let sw = bytes_available(rest.len());
        self.pending = Some(rest);
        Response::new(data, sw)
    }

    /// GET RESPONSE `00 C0 00 00 Le`: the next part of a chained answer.
    fn get_response(&mut self, command: &Command, pending: Option<Vec<u8>>) -> Response {
        let Some(rest) = pending else {
            return Response::status(StatusWord::ConditionsNotSatisfied);
        };
        let refusal = if command.p1 != 0 || command.p2 != 0 {
            Some(StatusWord::IncorrectP1P2)
        } else if !command.data.is_empty() || command.le.is_none() {
            Some(StatusWord::WrongLength)
        } else {
            None
        };
        if let Some(sw) = refusal {
            // A client's mistake does not lose the answer.
            self.pending = Some(rest);
            return Response::status(sw);
        }
        self.answer(rest, command.le)
    }

    /// GET CHALLENGE `00 84 00 00 10`: 16 random bytes for one UNLOCK.
    fn get_challenge(&mut self, command: &Command) -> Result<Vec<u8>, StatusWord> {
        if command.p1 != 0 || command.p2 != 0 {
            return Err(StatusWord::IncorrectP1P2);
        }
        if !command.data.is_empty() {
            return Err(StatusWord::WrongLength);
        }
        match command.le {
            Some(CHALLENGE_LEN) => {}
            Some(_) => {
                return Err(StatusWord::WrongLe {
                    available: CHALLENGE_LEN as u8,
                });
            }
            None => return Err(StatusWord::WrongLength),
        }
        let value: [u8; CHALLENGE_LEN] = jpki_crypto::random_bytes(CHALLENGE_LEN)
            .ok()
            .and_then(|bytes| bytes.try_into().ok())
            .ok_or(StatusWord::NoPreciseDiagnosis)?;
        self.challenge = Some(Challenge {
            value,
            issued_at: self.se.borrow().clock.now(),
        });
        Ok(value.to_vec())
    }

    /// UNLOCK `80 82 00 00 51 <assertion>`: a biometric unlock in place of the auth PIN.
    fn unlock(&mut self, command: &Command) -> Result<Vec<u8>, StatusWord> {
        if command.p1 != 0 || command.p2 != 0 {
            return Err(StatusWord::IncorrectP1P2);
        }
        if command.le.is_some() {
            return Err(StatusWord::WrongLength);
        }
        // Every attempt uses up the challenge.
        let challenge = self.challenge.take();
        let element = self.se.borrow_mut();
        let now = element.clock.now();
        let accepted = element
            .bindings
            .check(&command.data, challenge, now, element.unlock_window)
            .map_err(|refusal| match refusal {
                UnlockRefusal::Malformed => StatusWord::WrongLength,
                UnlockRefusal::NotEnrolled => StatusWord::ReferencedDataNotFound,
                UnlockRefusal::Invalid => StatusWord::Other(0x6300),
                UnlockRefusal::Replayed => StatusWord::IncorrectData,
                UnlockRefusal::Expired => StatusWord::ConditionsNotSatisfied,
            })?;
        element.jpki.grant_auth_pin_verification()?;
        element.bindings.commit(accepted);
        element.dirty = true;
        self.biometric_unlock = true;
        Ok(Vec::new())
    }

    /// ATTEST KEY `80 A0 <key FID> Lc <nonce 16..64> Le`: the statement, the device
    /// certificate and the vendor chain.
    fn attest(&mut self, command: &Command) -> Result<Vec<u8>, StatusWord> {
        let usage = SlotUsage::from_key_fid(u16::from_be_bytes([command.p1, command.p2]))
            .ok_or(StatusWord::IncorrectP1P2)?;
        if !(MIN_NONCE_LEN..=MAX_NONCE_LEN).contains(&command.data.len()) {
            return Err(StatusWord::WrongLength);
        }
        let element = self.se.borrow();
        let public_key = element
            .jpki
            .public_key(usage.key_fid())
            .ok_or(StatusWord::ReferencedDataNotFound)?;
        let statement = build_statement(
            &element.device_key,
            &element.serial,
            usage,
            public_key,
            &command.data,
            element.clock.now(),
        )
        .map_err(|_| StatusWord::NoPreciseDiagnosis)?;
        let mut certificates = vec![element.device_certificate.clone()];
        certificates.extend(element.vendor_chain.iter().cloned());
        AttestationBundle::new(statement, certificates)
            .and_then(|bundle| bundle.to_der())
            .map_err(|_| StatusWord::NoPreciseDiagnosis)
    }

    /// ENROL BIOMETRIC `80 E2 00 00 20 <sensor X25519 key> [Le]`, after VERIFY of the
    /// auth PIN in this session (a biometric unlock does not count).
    fn enrol(&mut self, command: &Command) -> Result<Vec<u8>, StatusWord> {
        if command.p1 != 0 || command.p2 != 0 {
            return Err(StatusWord::IncorrectP1P2);
        }
        let element = self.se.borrow_mut();
        if self.biometric_unlock
            || !element
                .jpki
                .is_pin_verified(SlotUsage::Authentication.pin_fid())
        {
            return Err(StatusWord::SecurityStatusNotSatisfied);
        }
        let answer = element
            .bindings
            .enrol(&command.data)
            .map_err(|refusal| match refusal {
                EnrolRefusal::WrongLength => StatusWord::WrongLength,
                EnrolRefusal::Full => StatusWord::NotEnoughMemory,
                EnrolRefusal::BadKey => StatusWord::IncorrectData,
                EnrolRefusal::Failure => StatusWord::NoPreciseDiagnosis,
            })?;
        element.dirty = true;
        Ok(answer)
    }

    /// UNENROL BIOMETRIC `80 E6 00 00 [Lc <binding id>]`: one binding, or all.
    fn unenrol(&mut self, command: &Command) -> Result<Vec<u8>, StatusWord> {
        if command.p1 != 0 || command.p2 != 0 {
            return Err(StatusWord::IncorrectP1P2);
        }
        if command.le.is_some() {
            return Err(StatusWord::WrongLength);
        }
        let element = self.se.borrow_mut();
        if command.data.is_empty() {
            if !element.bindings.is_empty() {
                element.bindings.clear();
                element.dirty = true;
            }
            return Ok(Vec::new());
        }
        let id = crate::BindingId::from_bytes(&command.data).ok_or(StatusWord::WrongLength)?;
        if !element.bindings.remove(&id) {
            return Err(StatusWord::ReferencedDataNotFound);
        }
        element.dirty = true;
        Ok(Vec::new())
    }

    /// WIPE `80 E4 00 00 0C 4F 0A <JPKI AID>` (shaped like GlobalPlatform DELETE, but the
    /// applet stays installed): keys, certificates, PINs and biometric bindings go.
    fn wipe(&mut self, command: &Command) -> Result<Vec<u8>, StatusWord> {
        if command.p1 != 0 || command.p2 != 0 {
            return Err(StatusWord::IncorrectP1P2);
        }
        if command.data.is_empty() || command.le.is_some() {
            return Err(StatusWord::WrongLength);
        }
        if command.data.as_slice() != wipe_data().as_slice() {
            return Err(StatusWord::IncorrectData);
        }
        self.se.borrow_mut().wipe();
        self.challenge = None;
        self.biometric_unlock = false;
        Ok(Vec::new())
    }
}

/// The data field of WIPE: the AID tag `4F`, its length, the JPKI AID.
pub(crate) fn wipe_data() -> Vec<u8> {
    let mut data = vec![0x4F, JPKI_AID.len() as u8];
    data.extend_from_slice(&JPKI_AID);
    data
}

fn bytes_available(remaining: usize) -> StatusWord {
    StatusWord::BytesAvailable {
        count: u8::try_from(remaining).unwrap_or(0),
    }
}

/// The card's class check: `80` for COMPUTE DIGITAL SIGNATURE, `00` for everything
/// else; unknown CLA `6E 00`, unknown INS `6D 00`.
fn classify(command: &Command) -> Result<Instruction, StatusWord> {
    if !matches!(command.cla, 0x00 | 0x80) {
        return Err(StatusWord::ClaNotSupported);
    }
    let instruction = Instruction::from_code(command.ins).ok_or(StatusWord::InsNotSupported)?;
    let expected = match instruction {
        Instruction::ComputeDigitalSignature => 0x80,
        _ => 0x00,
    };
    if command.cla != expected {
        return Err(StatusWord::ClaNotSupported);
    }
    Ok(instruction)
}

/// ACTIVATE FILE as an activated card answers it: the SE's AP is personalized in the
/// field and has no life cycle to end.
fn activate(command: &Command) -> StatusWord {
    if command.p1 != 0x00 || command.p2 != 0x00 {
        return StatusWord::IncorrectP1P2;
    }
    if !command.data.is_empty() || command.le.is_some() {
        return StatusWord::WrongLength;
    }
    StatusWord::ConditionsNotSatisfied
}

impl<S: BorrowMut<VirtualSecureElement>> Transport for Session<S> {
    fn transmit(&mut self, command: &[u8]) -> Result<Vec<u8>, TransportError> {
        Ok(Session::transmit(self, command))
    }
}

impl<S: BorrowMut<VirtualSecureElement>> fmt::Debug for Session<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Session")
            .field("interface", &self.interface)
            .field("role", &self.role)
            .field("selected", &self.selected)
            .field("pending", &self.pending.as_ref().map(Vec::len))
            .field("biometric_unlock", &self.biometric_unlock)
            .finish_non_exhaustive()
    }
}
