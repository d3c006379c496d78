//! The lifecycle's part of the OpenAPI document: the hotline, the certificate links, and
//! the phone app's lift, revocations and PIN reset (wire types in `jpki_api`'s
//! `lifecycle` module; canonical texts in docs/phone-api.md).

use serde_json::{Value, json};

use super::{add_members, bearer, json_body, path_parameter, problem, schema_ref};

fn api_key() -> Value {
    json!([{ "apiKey": [] }])
}

fn card_signed(description: &str) -> Value {
    json!({ "type": "string", "contentEncoding": "base64", "description": description })
}

/// Adds the lifecycle's schemas, paths and security scheme to `document`.
pub(super) fn extend(document: &mut Value) {
    let purposes = json!([
        "application",
        "registration",
        "lift",
        "revocation",
        "pin_reset"
    ]);
    for schema in ["NonceRequest", "NonceResponse"] {
        document["components"]["schemas"][schema]["properties"]["purpose"]["enum"] =
            purposes.clone();
    }
    document["components"]["securitySchemes"]["apiKey"] = json!({
        "type": "http", "scheme": "bearer",
        "description": "An account's API key (`jpki operator add`, `jpki verifier add`); roles hotline, auditor, verifier."
    });
    let person = json!({
        "type": "object", "additionalProperties": false,
        "description": "本人確認: my_number, or name + date_of_birth (+ address when several match)",
        "properties": {
            "my_number": { "type": "string", "pattern": "^[0-9]{12}$" },
            "name": { "type": "string" },
            "date_of_birth": { "type": "string", "format": "date" },
            "address": { "type": "string" }
        }
    });
    let certificates = json!({ "type": "array", "items": schema_ref("CertificateView") });
    let schemas = json!({
        "PersonIdentification": person,
        "SuspensionRequest": {
            "type": "object", "additionalProperties": false, "required": ["person"],
            "properties": {
                "person": schema_ref("PersonIdentification"),
                "scope": { "type": "string", "enum": ["phone", "card", "all"], "default": "phone" },
                "note": { "type": "string" }
            }
        },
        "SuspensionResult": {
            "type": "object", "required": ["resident_id", "held", "revoked", "cancelled_applications", "at"],
            "properties": {
                "resident_id": { "type": "integer" },
                "held": certificates.clone(),
                "revoked": certificates.clone(),
                "cancelled_applications": { "type": "array", "items": { "type": "string" } },
                "at": { "type": "string", "format": "date-time" }
            }
        },
        "LookupRequest": {
            "type": "object", "additionalProperties": false, "required": ["person"],
            "properties": { "person": schema_ref("PersonIdentification") }
        },
        "PersonStatus": {
            "type": "object", "required": ["resident_id", "name", "deceased", "certificates"],
            "properties": {
                "resident_id": { "type": "integer" },
                "name": { "type": "string" },
                "deceased": { "type": "boolean" },
                "certificates": certificates.clone()
            }
        },
        "CertificateLinks": {
            "type": "object", "required": ["certificate", "replaced_by", "counterparts"],
            "properties": {
                "certificate": schema_ref("CertificateView"),
                "replaces": {
                    "type": ["object", "null"],
                    "properties": { "issuer": { "type": "string" }, "serial": { "type": "string" } }
                },
                "replaced_by": certificates.clone(),
                "counterparts": certificates.clone()
            }
        },
        "LiftRequest": {
            "type": "object", "additionalProperties": false,
            "required": ["nonce", "device_id", "card_certificate", "card_signature"],
            "properties": {
                "nonce": { "type": "string", "description": "A nonce of purpose lift" },
                "device_id": { "type": "string" },
                "card_certificate": card_signed("The card's signature certificate (DER)"),
                "card_signature": card_signed("The card's signature over the canonical lift text"),
                "device": {
                    "type": "object", "additionalProperties": false, "required": ["se_serial", "device_certificate"],
                    "properties": {
                        "se_serial": { "type": "string" },
                        "device_certificate": { "type": "string", "contentEncoding": "base64" },
                        "vendor_chain": { "type": "array", "items": { "type": "string", "contentEncoding": "base64" } }
                    }
                },
                "signature_key": {
                    "type": "object", "additionalProperties": false, "required": ["kind", "csr", "attestation"],
                    "description": "A new signature key to re-issue the signature certificate, attested over the same nonce",
                    "properties": {
                        "kind": { "type": "string", "enum": ["signature"] },
                        "csr": { "type": "string", "contentEncoding": "base64" },
                        "attestation": { "type": "string", "contentEncoding": "base64" }
                    }
                }
            }
        },
        "LiftResult": {
            "type": "object", "required": ["released", "revoked"],
            "properties": {
                "released": certificates.clone(),
                "revoked": certificates.clone(),
                "application": { "oneOf": [schema_ref("ApplicationAccepted"), { "type": "null" }] }
            }
        },
        "RevocationRequest": {
            "type": "object", "additionalProperties": false,
            "required": ["nonce", "device_id", "kinds", "card_certificate", "card_signature"],
            "properties": {
                "nonce": { "type": "string", "description": "A nonce of purpose revocation" },
                "device_id": { "type": "string" },
                "kinds": { "type": "array", "items": schema_ref("PhoneKind"), "minItems": 1 },
                "card_certificate": card_signed("The card's signature certificate (DER)"),
                "card_signature": card_signed("The card's signature over the canonical revocation text")
            }
        },
        "RevokeOtherRequest": {
            "type": "object", "additionalProperties": false,
            "required": ["nonce", "device_id", "card_certificate", "card_signature"],
            "properties": {
                "nonce": { "type": "string", "description": "A nonce of purpose revocation" },
                "device_id": { "type": "string", "description": "The other phone" },
                "card_certificate": card_signed("The card's signature certificate (DER)"),
                "card_signature": card_signed("The card's signature over the canonical revoke-other text")
            }
        },
        "RevocationResult": {
            "type": "object", "required": ["device_id", "revoked", "wipe"],
            "properties": {
                "device_id": { "type": "string" },
                "revoked": certificates,
                "wipe": { "type": "boolean", "description": "No live certificate is left: the phone wipes its JPKI AP" }
            }
        },
        "PinResetRequest": {
            "type": "object", "additionalProperties": false,
            "required": ["nonce", "device_id", "pin", "card_certificate", "card_signature"],
            "properties": {
                "nonce": { "type": "string", "description": "A nonce of purpose pin_reset" },
                "device_id": { "type": "string" },
                "pin": schema_ref("PhoneKind"),
                "card_certificate": card_signed("The card's signature certificate (DER)"),
                "card_signature": card_signed("The card's signature over the canonical PIN-reset text")
            }
        },
        "PinResetResult": {
            "type": "object", "required": ["device_id", "pin", "authorized_at"],
            "properties": {
                "device_id": { "type": "string" },
                "pin": schema_ref("PhoneKind"),
                "authorized_at": { "type": "string", "format": "date-time" }
            }
        }
    });
    add_members(&mut document["components"]["schemas"], &schemas);
    let card_refusals = "The card certificate is revoked or held, or the phone is another person's";
    let paths = json!({
        "/api/v1/hotline/suspensions": {
            "post": {
                "summary": "一時利用停止: put a person's phone (or card) certificates on hold (role hotline)",
                "security": api_key(),
                "requestBody": json_body("SuspensionRequest"),
                "responses": {
                    "200": json_body("SuspensionResult"),
                    "400": problem("Malformed identification"),
                    "401": problem("Missing or unknown API key"),
                    "403": problem("The account's role is not hotline"),
                    "404": problem("No such person"),
                    "409": problem("Several persons match, nothing to suspend, or a status changed meanwhile")
                }
            }
        },
        "/api/v1/hotline/lookups": {
            "post": {
                "summary": "A person's certificates (roles hotline, auditor); audited",
                "security": api_key(),
                "requestBody": json_body("LookupRequest"),
                "responses": {
                    "200": json_body("PersonStatus"),
                    "401": problem("Missing or unknown API key"),
                    "403": problem("Wrong role"),
                    "404": problem("No such person"),
                    "409": problem("Several persons match")
                }
            }
        },
        "/api/v1/certificates/{issuer}/{serial}/links": {
            "get": {
                "summary": "紐付け情報: what the certificate replaced, what replaced it, and its counterpart of the other purpose (roles verifier, auditor, hotline)",
                "security": api_key(),
                "parameters": [
                    path_parameter("issuer", "sign or auth"),
                    path_parameter("serial", "The serial in hexadecimal")
                ],
                "responses": {
                    "200": json_body("CertificateLinks"),
                    "401": problem("Missing or unknown API key"),
                    "403": problem("Wrong role"),
                    "404": problem("No such certificate")
                }
            }
        },
        "/api/v1/phone/lift": {
            "post": {
                "summary": "一時利用停止の解除 on the found phone, signed with the card: the authentication certificate is released, the signature certificate revoked and (with a new key) re-issued",
                "security": bearer(),
                "requestBody": json_body("LiftRequest"),
                "responses": {
                    "200": json_body("LiftResult"),
                    "400": problem("Bad nonce, card signature, attestation or CSR"),
                    "401": problem("Wrong device token"),
                    "403": problem(card_refusals),
                    "409": problem("Nothing on hold, the certificate is revoked, or a status changed meanwhile")
                }
            }
        },
        "/api/v1/phone/revocations": {
            "post": {
                "summary": "スマホ用電子証明書の失効 from the phone, signed with the card; the phone then wipes",
                "security": bearer(),
                "requestBody": json_body("RevocationRequest"),
                "responses": {
                    "200": json_body("RevocationResult"),
                    "400": problem("Bad nonce or card signature"),
                    "401": problem("Wrong device token"),
                    "403": problem(card_refusals),
                    "409": problem("Nothing to revoke")
                }
            }
        },
        "/api/v1/phone/revoke-other": {
            "post": {
                "summary": "別のスマホのスマホ用電子証明書の失効: revoke another phone's certificates with the card",
                "requestBody": json_body("RevokeOtherRequest"),
                "responses": {
                    "200": json_body("RevocationResult"),
                    "400": problem("Bad nonce or card signature"),
                    "403": problem(card_refusals),
                    "404": problem("No such phone"),
                    "409": problem("Nothing to revoke")
                }
            }
        },
        "/api/v1/phone/pin-resets": {
            "post": {
                "summary": "Authorise resetting a locked phone PIN with the card; the app then sets the new PIN in the secure element",
                "security": bearer(),
                "requestBody": json_body("PinResetRequest"),
                "responses": {
                    "200": json_body("PinResetResult"),
                    "400": problem("Bad nonce or card signature"),
                    "401": problem("Wrong device token"),
                    "403": problem(card_refusals),
                    "404": problem("No live certificate of that kind on the phone")
                }
            }
        }
    });
    add_members(&mut document["paths"], &paths);
}
