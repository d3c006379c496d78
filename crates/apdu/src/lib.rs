//! ISO/IEC 7816-4 command and response APDUs: a codec, typed status words and a `Debug`
//! that never prints a PIN.
//!
//! Scope:
//! - [`Command`]: parses all four command cases in short and extended length form
//!   (ISO/IEC 7816-4:2020 §5.1) and encodes them back, choosing the short form whenever it
//!   fits unless the extended form is asked for.
//! - [`Response`]: response data plus a typed [`StatusWord`] (§5.6), with `to_u16` /
//!   `from_u16` that round-trip every 16-bit value.
//! - [`Instruction`]: the instruction bytes jpki sends and answers, named as the standards
//!   name them.
//!
//! Not here: logical channels, secure messaging, command chaining and `GET RESPONSE`
//! (no JPKI client uses them: JPKI-FACTS §1.5), and any knowledge of what a particular
//! application does with a command. This crate has no dependencies beyond `thiserror`.
//!
//! A decision a reviewer may question: the `Debug` of a [`Command`] masks the data field
//! of VERIFY (INS `20`) and CHANGE REFERENCE DATA (INS `24`) for *every* class byte, and
//! the `Debug` of a [`Response`] prints only the length of its data. A derived `Debug`
//! logged at trace level is how PINs and personal data (the My Number comes back in a
//! response) end up in log files; the hex of a command or response is available
//! explicitly through [`Command::to_bytes`] and [`Response::to_bytes`] for the rare place
//! that truly needs it.

#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

mod command;
mod error;
mod instruction;
mod response;
mod status;

pub use command::{
    Command, EXTENDED_MAX_DATA, EXTENDED_MAX_LE, LengthForm, SHORT_MAX_DATA, SHORT_MAX_LE,
};
pub use error::ApduError;
pub use instruction::Instruction;
pub use response::Response;
pub use status::StatusWord;
