//! PIN EFs: reference data, a retry counter, a blocked state.

use std::ops::RangeInclusive;

use jpki_apdu::StatusWord;
use jpki_crypto::{Pin, PinPolicy, SecretBytes};

/// What a VERIFY with data did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verification {
    /// Matched: the counter is back at its maximum.
    Verified,
    /// Did not match: one try used.
    Wrong { tries_left: u8 },
    /// The counter is at zero: nothing was compared.
    Blocked,
    /// The candidate cannot be this PIN (length outside the policy): no try used.
    WrongLength,
    /// No reference data has been set yet (blank card).
    NotSet,
}

/// A PIN EF of the JPKI AP or the 券面事項入力補助AP.
pub(crate) struct PinEf {
    policy: PinPolicy,
    max_tries: u8,
    tries_left: u8,
    reference: Option<SecretBytes>,
}

impl PinEf {
    pub(crate) fn new(policy: PinPolicy, max_tries: u8) -> Self {
        Self {
            policy,
            max_tries,
            tries_left: max_tries,
            reference: None,
        }
    }

    /// Rebuilds a PIN from a card file; the caller has checked the counter range.
    pub(crate) fn restore(
        policy: PinPolicy,
        max_tries: u8,
        tries_left: u8,
        reference: Option<SecretBytes>,
    ) -> Result<Self, String> {
        if tries_left > max_tries {
            return Err(format!(
                "{tries_left} tries left exceeds the maximum {max_tries}"
            ));
        }
        if let Some(reference) = &reference
            && !accepts(policy, reference.expose())
        {
            return Err("PIN reference data breaks the PIN policy".into());
        }
        Ok(Self {
            policy,
            max_tries,
            tries_left,
            reference,
        })
    }

    pub(crate) fn policy(&self) -> PinPolicy {
        self.policy
    }

    pub(crate) fn max_tries(&self) -> u8 {
        self.max_tries
    }

    pub(crate) fn tries_left(&self) -> u8 {
        self.tries_left
    }

    pub(crate) fn is_blocked(&self) -> bool {
        self.tries_left == 0
    }

    pub(crate) fn reference(&self) -> Option<&SecretBytes> {
        self.reference.as_ref()
    }

    /// The answer to an empty VERIFY: `63 Cx`, and `63 C0` when blocked (JPKI-FACTS §1.5).
    pub(crate) fn status(&self) -> StatusWord {
        StatusWord::VerifyFailed {
            tries_left: self.tries_left,
        }
    }

    /// Compares `candidate` with the reference data in constant time.
    pub(crate) fn verify(&mut self, candidate: &[u8]) -> Verification {
        if self.is_blocked() {
            return Verification::Blocked;
        }
        if !length_range(self.policy).contains(&candidate.len()) {
            return Verification::WrongLength;
        }
        let Some(reference) = &self.reference else {
            return Verification::NotSet;
        };
        if reference.ct_eq(candidate) {
            self.tries_left = self.max_tries;
            Verification::Verified
        } else {
            self.tries_left = self.tries_left.saturating_sub(1);
            Verification::Wrong {
                tries_left: self.tries_left,
            }
        }
    }

    /// Sets new reference data (policy-checked) and restores the counter.
    pub(crate) fn set(&mut self, value: &[u8]) -> Result<(), StatusWord> {
        if !accepts(self.policy, value) {
            return Err(StatusWord::IncorrectData);
        }
        self.reference = Some(SecretBytes::new(value.to_vec()));
        self.tries_left = self.max_tries;
        Ok(())
    }
}

fn length_range(policy: PinPolicy) -> RangeInclusive<usize> {
    match policy {
        PinPolicy::FourDigits => 4..=4,
        PinPolicy::SignPassword => 6..=16,
    }
}

fn accepts(policy: PinPolicy, value: &[u8]) -> bool {
    std::str::from_utf8(value).is_ok_and(|text| Pin::new(policy, text).is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counter_runs_down_blocks_and_recovers_on_success() {
        let mut pin = PinEf::new(PinPolicy::FourDigits, 3);
        assert_eq!(pin.verify(b"1234"), Verification::NotSet);
        pin.set(b"1234").unwrap();
        assert_eq!(pin.verify(b"0000"), Verification::Wrong { tries_left: 2 });
        assert_eq!(pin.verify(b"1234"), Verification::Verified);
        assert_eq!(pin.tries_left(), 3);
        assert_eq!(pin.verify(b"12345"), Verification::WrongLength);
        assert_eq!(pin.tries_left(), 3, "a wrong length uses no try");
        for left in [2, 1, 0] {
            assert_eq!(
                pin.verify(b"9999"),
                Verification::Wrong { tries_left: left }
            );
        }
        assert_eq!(pin.verify(b"1234"), Verification::Blocked);
        assert_eq!(pin.status(), StatusWord::VerifyFailed { tries_left: 0 });
    }

    #[test]
    fn set_checks_the_policy() {
        let mut password = PinEf::new(PinPolicy::SignPassword, 5);
        assert_eq!(password.set(b"abc123"), Err(StatusWord::IncorrectData));
        assert_eq!(
            password.set(b"\xFF\xFE\xFD\xFC\xFB\xFA"),
            Err(StatusWord::IncorrectData)
        );
        password.set(b"ABC123").unwrap();
        assert!(PinEf::restore(PinPolicy::FourDigits, 3, 4, None).is_err());
        assert!(
            PinEf::restore(
                PinPolicy::FourDigits,
                3,
                1,
                Some(SecretBytes::new(b"12a4".to_vec()))
            )
            .is_err()
        );
    }
}
