//! The 券面事項入力補助AP (card-face data input-assistance AP),
//! `D3 92 10 00 31 00 01 01 04 08`, and the PIN EFs of the 券面AP
//! (`D3 92 10 00 31 00 01 01 04 02`) that PIN-status tools query.
//!
//! ```text
//! 券面事項入力補助AP
//! EF    content                                   READ BINARY           capacity
//! 0001  My Number (TLV, written by the issuer)    after VERIFY of 0011  32
//! 0002  4 attributes (TLV, written by the issuer) after VERIFY of 0011  2048
//! 0011  PIN: 4 digits, 3 tries
//! 0014  PIN A: status only (63 CA)
//! 0015  PIN B: status only (63 CA)
//!
//! 券面AP (status only)
//! 0013  PIN A: status only (63 CA)
//! 0012  PIN B: status only (63 CA)
//! ```
//! The card does not interpret the content of `0001`/`0002`; the layout is the issuer's
//! (docs/apdu.md, `jpki_reader::support_data`). PIN A and PIN B are derived from card-face
//! data on a real card (My Number; date of birth + expiry + security code); this virtual
//! card keeps no reference data for them, answers the tries-left query with the assumed
//! maximum of 10 and anything else with `69 84`. Sources: JPKI-FACTS §1.3, §1.5; myna
//! `src/text.rs`, `src/cli.rs` (`run_pin_status`).

use jpki_crypto::PinPolicy;

use crate::applet::{Access, Applet, Fid, Node, data_node, pin_node};

/// The application identifier of the 券面事項入力補助AP.
pub const SUPPORT_AID: [u8; 10] = [0xD3, 0x92, 0x10, 0x00, 0x31, 0x00, 0x01, 0x01, 0x04, 0x08];
/// The application identifier of the 券面AP (券面確認AP).
pub const SURFACE_AID: [u8; 10] = [0xD3, 0x92, 0x10, 0x00, 0x31, 0x00, 0x01, 0x01, 0x04, 0x02];

pub(crate) const EF_MY_NUMBER: Fid = 0x0001;
pub(crate) const EF_ATTRIBUTES: Fid = 0x0002;
pub(crate) const EF_SUPPORT_PIN: Fid = 0x0011;

/// Capacity of the My Number EF (the TLV is 15 bytes; clients read 17).
pub const MY_NUMBER_EF_CAPACITY: usize = 32;
/// Capacity of the 4-attribute EF.
pub const ATTRIBUTES_EF_CAPACITY: usize = 2048;
/// The tries reported for the status-only PINs A and B (not confirmed for real cards).
pub const STATUS_ONLY_PIN_TRIES: u8 = 10;

pub(crate) fn support_applet() -> Applet {
    Applet::new(
        "support",
        vec![
            (
                EF_MY_NUMBER,
                data_node(MY_NUMBER_EF_CAPACITY, Access::AfterPin(EF_SUPPORT_PIN)),
            ),
            (
                EF_ATTRIBUTES,
                data_node(ATTRIBUTES_EF_CAPACITY, Access::AfterPin(EF_SUPPORT_PIN)),
            ),
            (EF_SUPPORT_PIN, pin_node(PinPolicy::FourDigits, 3)),
            (
                0x0014,
                Node::StatusOnlyPin {
                    max_tries: STATUS_ONLY_PIN_TRIES,
                },
            ),
            (
                0x0015,
                Node::StatusOnlyPin {
                    max_tries: STATUS_ONLY_PIN_TRIES,
                },
            ),
        ],
    )
}

pub(crate) fn surface_applet() -> Applet {
    Applet::new(
        "surface",
        vec![
            (
                0x0013,
                Node::StatusOnlyPin {
                    max_tries: STATUS_ONLY_PIN_TRIES,
                },
            ),
            (
                0x0012,
                Node::StatusOnlyPin {
                    max_tries: STATUS_ONLY_PIN_TRIES,
                },
            ),
        ],
    )
}
