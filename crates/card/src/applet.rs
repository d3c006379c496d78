//! The engine every application on the card (and, later, on the phone secure element)
//! runs on: a table of EFs, a session (current EF, verified PINs) and the ISO 7816-4
//! commands over them. Each application is just a different table.
//!
//! ```text
//! command APDU ─▶ classify (CLA, INS) ─▶ handler ─▶ Ok(data) ─▶ data ‖ 90 00
//!                                           └──────▶ Err(sw)  ─▶ SW1 SW2
//! ```
//! Every refusal is a status word chosen in the handler; `process` is the one place
//! where the outcome becomes a response.

use jpki_apdu::{Command, Instruction, Response, StatusWord};
use jpki_crypto::{PinPolicy, RsaKeySize, Signer, SoftwareRsaKey};

use crate::binary_ef::{self, BinaryEf};
use crate::pin::{PinEf, Verification};

/// A 2-byte file identifier.
pub(crate) type Fid = u16;

/// Who is talking to the application.
///
/// A card in its personalization phase grants [`Privilege::Issuer`] to every command:
/// the issuer's terminal is the only thing it ever talks to before activation. After
/// activation it grants [`Privilege::Holder`] only. A future issuer mode (renewal at the
/// municipal counter, authenticated by the issuer) grants `Issuer` to an authenticated
/// session of an active card; the application code does not change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Privilege {
    /// The card holder (any client): READ BINARY, VERIFY, CHANGE REFERENCE DATA after
    /// VERIFY, COMPUTE DIGITAL SIGNATURE.
    Holder,
    /// The issuer: additionally GENERATE ASYMMETRIC KEY PAIR, UPDATE BINARY and CHANGE
    /// REFERENCE DATA without a prior VERIFY.
    Issuer,
}

/// Who may read a data EF.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Access {
    Always,
    AfterPin(Fid),
}

/// What an EF is.
pub(crate) enum Node {
    /// Read-only content fixed by the application (the token EF).
    Fixed(Vec<u8>),
    /// Content written by the issuer with UPDATE BINARY.
    Data { ef: BinaryEf, read: Access },
    /// A PIN with reference data and a counter.
    Pin(PinEf),
    /// A PIN whose reference data this virtual card does not hold: it answers the
    /// tries-left query and refuses everything else (`69 84`).
    StatusOnlyPin { max_tries: u8 },
    /// An RSA private key, usable after `pin` is verified.
    Key {
        key: Option<SoftwareRsaKey>,
        pin: Fid,
    },
}

/// One application: its EFs and its session state.
pub(crate) struct Applet {
    pub(crate) name: &'static str,
    pub(crate) files: Vec<(Fid, Node)>,
    selected: Option<Fid>,
    verified: Vec<Fid>,
    dirty: bool,
}

impl Applet {
    pub(crate) fn new(name: &'static str, files: Vec<(Fid, Node)>) -> Self {
        Self {
            name,
            files,
            selected: None,
            verified: Vec::new(),
            dirty: false,
        }
    }

    /// Forgets the current EF and every verified PIN (SELECT of an application, reset,
    /// power-off, activation).
    pub(crate) fn reset_session(&mut self) {
        self.selected = None;
        self.verified.clear();
    }

    pub(crate) fn is_dirty(&self) -> bool {
        self.dirty
    }

    pub(crate) fn mark_saved(&mut self) {
        self.dirty = false;
    }

    /// What is still missing before the application may be activated: every PIN must
    /// have reference data and every key must exist — except an unused key slot, where
    /// the key and the PIN that guards it are both absent (a person under 15 gets no
    /// signature certificate, so the signature key and password are never set). An
    /// application that holds keys must have at least one.
    pub(crate) fn missing_for_activation(&self) -> Vec<String> {
        let keys_guarded_by = |pin_fid: Fid| {
            self.files.iter().filter_map(move |(_, node)| match node {
                Node::Key { key, pin } if *pin == pin_fid => Some(key.is_some()),
                _ => None,
            })
        };
        let unused_slot = |pin_fid: Fid| {
            let mut guarded = keys_guarded_by(pin_fid).peekable();
            guarded.peek().is_some() && guarded.all(|present| !present)
        };
        let mut missing: Vec<String> = self
            .files
            .iter()
            .filter_map(|(fid, node)| match node {
                Node::Pin(pin) if pin.reference().is_none() && !unused_slot(*fid) => {
                    Some(format!("{}: PIN {fid:04X} not set", self.name))
                }
                Node::Key { key: None, pin } if !unused_slot(*pin) || self.pin_is_set(*pin) => {
                    Some(format!("{}: key {fid:04X} not generated", self.name))
                }
                _ => None,
            })
            .collect();
        let has_key_slots = self
            .files
            .iter()
            .any(|(_, node)| matches!(node, Node::Key { .. }));
        let has_a_key = self
            .files
            .iter()
            .any(|(_, node)| matches!(node, Node::Key { key: Some(_), .. }));
        if has_key_slots && !has_a_key {
            missing.push(format!("{}: no key generated", self.name));
        }
        missing
    }

    fn pin_is_set(&self, fid: Fid) -> bool {
        matches!(self.node(fid), Some(Node::Pin(pin)) if pin.reference().is_some())
    }

    pub(crate) fn node(&self, fid: Fid) -> Option<&Node> {
        self.files
            .iter()
            .find_map(|(id, node)| (*id == fid).then_some(node))
    }

    pub(crate) fn node_mut(&mut self, fid: Fid) -> Option<&mut Node> {
        self.files
            .iter_mut()
            .find_map(|(id, node)| (*id == fid).then_some(node))
    }

    /// The DER SubjectPublicKeyInfo of key EF `fid`, when a key has been generated there.
    pub(crate) fn public_key(&self, fid: Fid) -> Option<&[u8]> {
        match self.node(fid) {
            Some(Node::Key { key: Some(key), .. }) => Some(key.public_key_der()),
            _ => None,
        }
    }

    /// Empties data EF `fid` (its content length becomes 0, as on a blank card).
    pub(crate) fn erase_data(&mut self, fid: Fid) -> Result<(), StatusWord> {
        let was_empty = match self.node_mut(fid) {
            Some(Node::Data { ef, .. }) => {
                let was_empty = ef.content().is_empty();
                ef.restore(Vec::new())
                    .map_err(|_| StatusWord::NoPreciseDiagnosis)?;
                was_empty
            }
            Some(_) => return Err(StatusWord::IncompatibleFileStructure),
            None => return Err(StatusWord::FileNotFound),
        };
        if !was_empty {
            self.dirty = true;
        }
        Ok(())
    }

    /// Marks PIN `fid` verified for this session although no VERIFY was sent: for a
    /// container that authenticated the holder by other means. Refused like a VERIFY
    /// would be: no reference data `69 84`, blocked `69 83`.
    pub(crate) fn grant_verification(&mut self, fid: Fid) -> Result<(), StatusWord> {
        match self.node(fid) {
            Some(Node::Pin(pin)) if pin.reference().is_none() => {
                Err(StatusWord::ReferenceDataNotUsable)
            }
            Some(Node::Pin(pin)) if pin.is_blocked() => {
                Err(StatusWord::AuthenticationMethodBlocked)
            }
            Some(Node::Pin(_)) => {
                self.set_verified(fid, true);
                Ok(())
            }
            Some(_) => Err(StatusWord::IncompatibleFileStructure),
            None => Err(StatusWord::FileNotFound),
        }
    }

    /// Runs one command and makes the response.
    pub(crate) fn process(&mut self, command: &Command, privilege: Privilege) -> Response {
        match self.handle(command, privilege) {
            Ok(data) => Response::ok(data),
            Err(sw) => Response::status(sw),
        }
    }

    fn handle(&mut self, command: &Command, privilege: Privilege) -> Result<Vec<u8>, StatusWord> {
        match classify(command)? {
            Instruction::Select => self.select_file(command),
            Instruction::ReadBinary => self.read_binary(command),
            Instruction::UpdateBinary => self.update_binary(command, privilege),
            Instruction::Verify => self.verify(command),
            Instruction::ChangeReferenceData => self.change_reference_data(command, privilege),
            Instruction::ComputeDigitalSignature => self.compute_digital_signature(command),
            Instruction::GenerateAsymmetricKeyPair => self.generate_key_pair(command, privilege),
            // The life cycle belongs to the container (card or secure element), which
            // answers ACTIVATE FILE before it reaches an application.
            Instruction::ActivateFile => Err(StatusWord::InsNotSupported),
        }
    }

    fn current(&self) -> Result<Fid, StatusWord> {
        self.selected.ok_or(StatusWord::CommandNotAllowedNoEf)
    }

    pub(crate) fn is_verified(&self, pin: Fid) -> bool {
        self.verified.contains(&pin)
    }

    fn set_verified(&mut self, pin: Fid, verified: bool) {
        self.verified.retain(|&fid| fid != pin);
        if verified {
            self.verified.push(pin);
        }
    }

    /// SELECT by file identifier: `00 A4 02 0C 02 <FID>` (P2 `00` accepted; no FCI is
    /// ever returned).
    fn select_file(&mut self, command: &Command) -> Result<Vec<u8>, StatusWord> {
        if command.p1 != 0x02 || !matches!(command.p2, 0x0C | 0x00) {
            return Err(StatusWord::IncorrectP1P2);
        }
        let [high, low] = command.data.as_slice() else {
            return Err(StatusWord::WrongLength);
        };
        let fid = u16::from_be_bytes([*high, *low]);
        if self.node(fid).is_none() {
            return Err(StatusWord::FileNotFound);
        }
        self.selected = Some(fid);
        Ok(Vec::new())
    }

    /// READ BINARY: `00 B0 <offset high> <offset low> Le`.
    fn read_binary(&self, command: &Command) -> Result<Vec<u8>, StatusWord> {
        if !command.data.is_empty() {
            return Err(StatusWord::WrongLength);
        }
        let ne = command.le.ok_or(StatusWord::WrongLength)?;
        let offset = offset(command)?;
        let fid = self.current()?;
        match self.node(fid) {
            Some(Node::Fixed(content)) => binary_ef::read(content, offset, ne),
            Some(Node::Data { ef, read }) => {
                if let Access::AfterPin(pin) = read
                    && !self.is_verified(*pin)
                {
                    return Err(StatusWord::SecurityStatusNotSatisfied);
                }
                binary_ef::read(ef.content(), offset, ne)
            }
            _ => Err(StatusWord::IncompatibleFileStructure),
        }
    }

    /// UPDATE BINARY: `00 D6 <offset high> <offset low> Lc data` (issuer only).
    fn update_binary(
        &mut self,
        command: &Command,
        privilege: Privilege,
    ) -> Result<Vec<u8>, StatusWord> {
        if privilege != Privilege::Issuer {
            return Err(StatusWord::ConditionsNotSatisfied);
        }
        if command.data.is_empty() || command.le.is_some() {
            return Err(StatusWord::WrongLength);
        }
        let offset = offset(command)?;
        let fid = self.current()?;
        match self.node_mut(fid) {
            Some(Node::Data { ef, .. }) => ef.update(offset, &command.data)?,
            _ => return Err(StatusWord::IncompatibleFileStructure),
        }
        self.dirty = true;
        Ok(Vec::new())
    }

    /// VERIFY: `00 20 00 80 [Lc PIN]` against the current PIN EF. Without data it is the
    /// tries-left query.
    fn verify(&mut self, command: &Command) -> Result<Vec<u8>, StatusWord> {
        if command.p1 != 0x00 || command.p2 != 0x80 {
            return Err(StatusWord::IncorrectP1P2);
        }
        if command.le.is_some() {
            return Err(StatusWord::WrongLength);
        }
        let fid = self.current()?;
        let (outcome, counter_changed) = match self.node_mut(fid) {
            Some(Node::StatusOnlyPin { max_tries }) => {
                return Err(if command.data.is_empty() {
                    StatusWord::VerifyFailed {
                        tries_left: *max_tries,
                    }
                } else {
                    StatusWord::ReferenceDataNotUsable
                });
            }
            Some(Node::Pin(pin)) => {
                if command.data.is_empty() {
                    return Err(pin.status());
                }
                let before = pin.tries_left();
                let outcome = pin.verify(&command.data);
                (outcome, pin.tries_left() != before)
            }
            _ => return Err(StatusWord::IncompatibleFileStructure),
        };
        if counter_changed {
            self.dirty = true;
        }
        self.set_verified(fid, outcome == Verification::Verified);
        match outcome {
            Verification::Verified => Ok(Vec::new()),
            Verification::Wrong { tries_left } => Err(StatusWord::VerifyFailed { tries_left }),
            Verification::Blocked => Err(StatusWord::AuthenticationMethodBlocked),
            Verification::WrongLength => Err(StatusWord::WrongLength),
            Verification::NotSet => Err(StatusWord::ReferenceDataNotUsable),
        }
    }

    /// CHANGE REFERENCE DATA: `00 24 01 80 Lc <new PIN>` on the current PIN EF. The
    /// holder must have verified the PIN in this session; the issuer need not.
    fn change_reference_data(
        &mut self,
        command: &Command,
        privilege: Privilege,
    ) -> Result<Vec<u8>, StatusWord> {
        if command.p1 != 0x01 || command.p2 != 0x80 {
            return Err(StatusWord::IncorrectP1P2);
        }
        if command.data.is_empty() || command.le.is_some() {
            return Err(StatusWord::WrongLength);
        }
        let fid = self.current()?;
        let verified = self.is_verified(fid);
        match self.node_mut(fid) {
            Some(Node::StatusOnlyPin { .. }) => return Err(StatusWord::ReferenceDataNotUsable),
            Some(Node::Pin(pin)) => {
                if privilege == Privilege::Holder {
                    if pin.is_blocked() {
                        return Err(StatusWord::AuthenticationMethodBlocked);
                    }
                    if !verified {
                        return Err(StatusWord::SecurityStatusNotSatisfied);
                    }
                }
                pin.set(&command.data)?;
            }
            _ => return Err(StatusWord::IncompatibleFileStructure),
        }
        self.dirty = true;
        if privilege == Privilege::Issuer {
            // New reference data set by the issuer: an earlier verification says nothing
            // about it.
            self.set_verified(fid, false);
        }
        Ok(Vec::new())
    }

    /// COMPUTE DIGITAL SIGNATURE: `80 2A 00 80 Lc <DigestInfo> 00` with the current key
    /// EF, after VERIFY of the key's PIN. The card pads the data as given (PKCS#1 v1.5
    /// type 1).
    fn compute_digital_signature(&self, command: &Command) -> Result<Vec<u8>, StatusWord> {
        if command.p1 != 0x00 || command.p2 != 0x80 {
            return Err(StatusWord::IncorrectP1P2);
        }
        if command.data.is_empty() {
            return Err(StatusWord::WrongLength);
        }
        let fid = self.current()?;
        let Some(Node::Key { key, pin }) = self.node(fid) else {
            return Err(StatusWord::IncompatibleFileStructure);
        };
        let key = key.as_ref().ok_or(StatusWord::ReferencedDataNotFound)?;
        if !self.is_verified(*pin) {
            return Err(StatusWord::SecurityStatusNotSatisfied);
        }
        let signature = key
            .sign_digest_info(&command.data)
            .map_err(|error| match error {
                jpki_crypto::CryptoError::InputTooLong { .. } => StatusWord::WrongLength,
                _ => StatusWord::NoPreciseDiagnosis,
            })?;
        if let Some(ne) = command.le
            && ne < signature.len()
        {
            return Err(match u8::try_from(signature.len() % 256) {
                Ok(available) if signature.len() <= 256 => StatusWord::WrongLe { available },
                _ => StatusWord::WrongLength,
            });
        }
        Ok(signature)
    }

    /// GENERATE ASYMMETRIC KEY PAIR: `00 46 00 00 00 00 00` with the key EF selected
    /// (issuer only). Answers the public key as a DER SubjectPublicKeyInfo; the private
    /// key never leaves the card.
    fn generate_key_pair(
        &mut self,
        command: &Command,
        privilege: Privilege,
    ) -> Result<Vec<u8>, StatusWord> {
        if privilege != Privilege::Issuer {
            return Err(StatusWord::ConditionsNotSatisfied);
        }
        if command.p1 != 0x00 || command.p2 != 0x00 {
            return Err(StatusWord::IncorrectP1P2);
        }
        if !command.data.is_empty() {
            return Err(StatusWord::WrongLength);
        }
        let fid = self.current()?;
        let Some(Node::Key { key, .. }) = self.node_mut(fid) else {
            return Err(StatusWord::IncompatibleFileStructure);
        };
        let generated = SoftwareRsaKey::generate(RsaKeySize::Rsa2048)
            .map_err(|_| StatusWord::NoPreciseDiagnosis)?;
        let public_key = generated.public_key_der().to_vec();
        if command.le.is_some_and(|ne| ne < public_key.len()) {
            // The answer would not fit: keep the old state, let the terminal ask again
            // with an extended Le.
            return Err(StatusWord::WrongLength);
        }
        *key = Some(generated);
        self.dirty = true;
        Ok(public_key)
    }
}

/// Checks the class byte against the instruction: `80` for COMPUTE DIGITAL SIGNATURE (as
/// JPKI cards use it), `00` for everything else.
pub(crate) fn classify(command: &Command) -> Result<Instruction, StatusWord> {
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

/// The offset of READ/UPDATE BINARY: P1 bit 8 clear, 15 bits in P1‖P2. The
/// short-EF-identifier form (bit 8 set) is not supported.
fn offset(command: &Command) -> Result<usize, StatusWord> {
    if command.p1 & 0x80 != 0 {
        return Err(StatusWord::IncorrectP1P2);
    }
    Ok(usize::from(u16::from_be_bytes([command.p1, command.p2])))
}

/// A PIN EF node.
pub(crate) fn pin_node(policy: PinPolicy, max_tries: u8) -> Node {
    Node::Pin(PinEf::new(policy, max_tries))
}

/// A data EF node.
pub(crate) fn data_node(capacity: usize, read: Access) -> Node {
    Node::Data {
        ef: BinaryEf::new(capacity),
        read,
    }
}
