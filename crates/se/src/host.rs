//! Typed host operations for the SE's own commands, on top of the reader crate's
//! [`JpkiAp`] (which already covers SELECT, token, certificates, VERIFY, PIN changes,
//! signatures, key generation, initial PINs and certificate writes). Every function
//! expects the JPKI AP selected on `ap` and does not select it again (a SELECT would
//! clear the verified PINs and the biometric unlock).
//!
//! | operation | APDUs |
//! |---|---|
//! | [`attest_key`] | `80 A0 <key FID> Lc <nonce> 00 00 00` (extended Le), following `61 XX` with `00 C0 00 00 XX` |
//! | [`enrol_biometric`] | `80 E2 00 00 20 <sensor key> 00` |
//! | [`get_challenge`] | `00 84 00 00 10` |
//! | [`unlock_with_biometric`] | GET CHALLENGE, the sensor, `80 82 00 00 51 <assertion>` |
//! | [`remove_biometric_bindings`] | `80 E6 00 00 [10 <binding id>]` |
//! | [`wipe`] | `80 E4 00 00 0C 4F 0A D3 92 F0 00 26 01 00 00 00 01` |

use jpki_apdu::{Command, EXTENDED_MAX_LE, StatusWord};
use jpki_reader::{CardChannel, JpkiAp, Transport};
use time::OffsetDateTime;

use crate::attestation::AttestationBundle;
use crate::biometric::{
    BindingId, BiometricTemplate, CHALLENGE_LEN, ENROLMENT_ANSWER_LEN, PendingEnrolment,
    SimulatedSensor, UnlockAssertion,
};
use crate::session::wipe_data;
use crate::{SeError, SlotUsage};

/// Most GET RESPONSE rounds a chained answer may take (64 KiB in 256-byte parts).
const MAX_GET_RESPONSE_ROUNDS: usize = 256;

/// Sends `command`; collects a chained answer (`61 XX` → GET RESPONSE) and requires a
/// final `90 00`.
fn exchange<T: Transport>(
    channel: &mut CardChannel<T>,
    operation: &'static str,
    command: &Command,
) -> Result<Vec<u8>, SeError> {
    let mut response = channel.transmit(command)?;
    let mut data = std::mem::take(&mut response.data);
    for _ in 0..MAX_GET_RESPONSE_ROUNDS {
        match response.sw {
            StatusWord::Ok => return Ok(data),
            StatusWord::BytesAvailable { count } => {
                let ne = if count == 0 { 256 } else { usize::from(count) };
                response = channel.transmit(&Command::new(0x00, 0xC0, 0x00, 0x00).with_le(ne))?;
                data.append(&mut response.data);
            }
            sw => return Err(SeError::Refused { operation, sw }),
        }
    }
    Err(SeError::UnexpectedAnswer(format!(
        "{operation}: the answer did not end after {MAX_GET_RESPONSE_ROUNDS} GET RESPONSE"
    )))
}

fn exchange_empty<T: Transport>(
    channel: &mut CardChannel<T>,
    operation: &'static str,
    command: &Command,
) -> Result<(), SeError> {
    let data = exchange(channel, operation, command)?;
    if data.is_empty() {
        Ok(())
    } else {
        Err(SeError::UnexpectedAnswer(format!(
            "{operation} answered {} bytes of data",
            data.len()
        )))
    }
}

/// ATTEST KEY for the key in `usage`'s slot over the server's `nonce` (16 to 64 bytes).
/// Needs the portal app's session. The bundle is parsed, not verified: the verifier is
/// [`crate::verify_attestation`], on the server side.
pub fn attest_key<T: Transport>(
    ap: &mut JpkiAp<T>,
    usage: SlotUsage,
    nonce: &[u8],
) -> Result<AttestationBundle, SeError> {
    let [p1, p2] = usage.key_fid().to_be_bytes();
    let command = Command::new(0x80, 0xA0, p1, p2)
        .with_data(nonce.to_vec())
        .with_le(EXTENDED_MAX_LE);
    let der = exchange(ap.channel(), "ATTEST KEY", &command)?;
    AttestationBundle::from_der(&der).map_err(|error| SeError::UnexpectedAnswer(error.to_string()))
}

/// Enrols `template` for biometric unlock: the sensor and the SE agree on a binding
/// secret the caller never sees. Needs the portal app's session with the auth PIN
/// verified (by VERIFY) since the AP was selected.
pub fn enrol_biometric<T: Transport>(
    ap: &mut JpkiAp<T>,
    template: BiometricTemplate,
) -> Result<SimulatedSensor, SeError> {
    let pending = PendingEnrolment::start(template)?;
    let command = Command::new(0x80, 0xE2, 0x00, 0x00)
        .with_data(pending.request().to_vec())
        .with_le(ENROLMENT_ANSWER_LEN);
    let answer = exchange(ap.channel(), "ENROL BIOMETRIC", &command)?;
    pending.complete(&answer)
}

/// GET CHALLENGE: 16 bytes for one unlock in this session.
pub fn get_challenge<T: Transport>(ap: &mut JpkiAp<T>) -> Result<[u8; CHALLENGE_LEN], SeError> {
    let command = Command::new(0x00, 0x84, 0x00, 0x00).with_le(CHALLENGE_LEN);
    let challenge = exchange(ap.channel(), "GET CHALLENGE", &command)?;
    challenge.try_into().map_err(|bytes: Vec<u8>| {
        SeError::UnexpectedAnswer(format!("GET CHALLENGE answered {} bytes", bytes.len()))
    })
}

/// Sends an unlock assertion. On success the auth key signs and EF `000A` reads for the
/// rest of the session.
pub fn unlock_with_assertion<T: Transport>(
    ap: &mut JpkiAp<T>,
    assertion: &UnlockAssertion,
) -> Result<(), SeError> {
    let command = Command::new(0x80, 0x82, 0x00, 0x00).with_data(assertion.as_bytes().to_vec());
    exchange_empty(ap.channel(), "UNLOCK", &command)
}

/// The whole biometric unlock: a challenge from the SE, the sensor's match against
/// `presented` at `now` (the phone's clock), the assertion to the SE. A biometric that
/// does not match sends nothing and fails with [`SeError::NoBiometricMatch`].
pub fn unlock_with_biometric<T: Transport>(
    ap: &mut JpkiAp<T>,
    sensor: &mut SimulatedSensor,
    presented: &BiometricTemplate,
    now: OffsetDateTime,
) -> Result<(), SeError> {
    let challenge = get_challenge(ap)?;
    let assertion = sensor
        .present(presented, &challenge, now)
        .ok_or(SeError::NoBiometricMatch)?;
    unlock_with_assertion(ap, &assertion)
}

/// Removes one biometric binding, or all of them (`None`).
pub fn remove_biometric_bindings<T: Transport>(
    ap: &mut JpkiAp<T>,
    binding: Option<BindingId>,
) -> Result<(), SeError> {
    let mut command = Command::new(0x80, 0xE6, 0x00, 0x00);
    if let Some(binding) = binding {
        command = command.with_data(binding.as_bytes().to_vec());
    }
    exchange_empty(ap.channel(), "UNENROL BIOMETRIC", &command)
}

/// Wipes the JPKI AP: keys, certificates, PINs, biometric bindings (revocation, or the
/// phone was replaced). Needs the portal app's session.
pub fn wipe<T: Transport>(ap: &mut JpkiAp<T>) -> Result<(), SeError> {
    let command = Command::new(0x80, 0xE4, 0x00, 0x00).with_data(wipe_data());
    exchange_empty(ap.channel(), "WIPE", &command)
}
