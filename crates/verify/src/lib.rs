//! Relying-party SDK for JPKI signatures and logins (in progress).
