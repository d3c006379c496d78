//! The OpenAPI 3.1 document served at `/api/v1/openapi.json`, written out by hand next to
//! the wire types in `jpki-api`. A test checks that it names exactly the routes the
//! router serves, and that every error code it lists exists.

use jpki_api::ErrorCode;
use serde_json::{Value, json};

mod lifecycle;

pub(crate) fn schema_ref(name: &str) -> Value {
    json!({ "$ref": format!("#/components/schemas/{name}") })
}

pub(crate) fn json_body(name: &str) -> Value {
    json!({ "content": { "application/json": { "schema": schema_ref(name) } } })
}

pub(crate) fn problem(description: &str) -> Value {
    json!({ "description": description, "content": { "application/problem+json": { "schema": schema_ref("Problem") } } })
}

fn bearer() -> Value {
    json!([{ "deviceToken": [] }])
}

pub(crate) fn path_parameter(name: &str, description: &str) -> Value {
    json!({ "name": name, "in": "path", "required": true, "description": description, "schema": { "type": "string" } })
}

/// Adds `extra`'s members to the JSON object `section` of the document (a path or a
/// schema of the same name is replaced): how each part of the API adds its paths and
/// schemas.
pub(crate) fn add_members(section: &mut Value, extra: &Value) {
    if let (Some(target), Some(extra)) = (section.as_object_mut(), extra.as_object()) {
        target.extend(extra.clone());
    }
}

/// The document.
pub fn openapi_document() -> Value {
    let application_id = path_parameter(
        "application_id",
        "The application id returned by POST /applications",
    );
    let device_id = path_parameter("device_id", "The phone's secure element serial");
    let errors = ErrorCode::ALL
        .iter()
        .map(|code| code.as_str())
        .collect::<Vec<_>>();
    let mut document = json!({
        "openapi": "3.1.0",
        "info": {
            "title": "jpki portal API",
            "version": "1",
            "description": "スマホ用電子証明書の申請・発行通知・登録のためのAPI。The API the phone app uses to apply for phone certificates with the My Number card, follow notifications, and register the certificates. Every error is an RFC 9457 problem document with a stable `code` and messages in Japanese and English. Canonical texts that the card and the phone sign are specified in docs/phone-api.md."
        },
        "servers": [{ "url": "/" }],
        "components": {
            "securitySchemes": {
                "deviceToken": { "type": "http", "scheme": "bearer", "description": "The device token returned when an application is accepted." }
            },
            "schemas": {
                "Problem": {
                    "type": "object",
                    "required": ["type", "title", "status", "code", "detail", "title_ja"],
                    "properties": {
                        "type": { "type": "string", "examples": ["urn:jpki:error:NONCE_REUSED"] },
                        "title": { "type": "string" },
                        "status": { "type": "integer" },
                        "code": { "type": "string", "enum": errors },
                        "detail": { "type": "string" },
                        "title_ja": { "type": "string" },
                        "detail_ja": { "type": ["string", "null"] }
                    }
                },
                "NonceRequest": {
                    "type": "object", "required": ["purpose"], "additionalProperties": false,
                    "properties": { "purpose": { "type": "string", "enum": ["application", "registration"] } }
                },
                "NonceResponse": {
                    "type": "object", "required": ["nonce", "purpose", "expires_at"],
                    "properties": {
                        "nonce": { "type": "string", "description": "base64url, 32 bytes, single use" },
                        "purpose": { "type": "string", "enum": ["application", "registration"] },
                        "expires_at": { "type": "string", "format": "date-time" }
                    }
                },
                "PhoneKind": { "type": "string", "enum": ["signature", "authentication"] },
                "ApplicationRequest": {
                    "type": "object", "additionalProperties": false,
                    "required": ["nonce", "kinds", "card_certificate", "card_signature", "device", "keys"],
                    "properties": {
                        "nonce": { "type": "string" },
                        "kinds": { "type": "array", "items": schema_ref("PhoneKind"), "minItems": 1, "maxItems": 2 },
                        "card_certificate": { "type": "string", "contentEncoding": "base64", "description": "The card's signature certificate (DER)" },
                        "card_signature": { "type": "string", "contentEncoding": "base64", "description": "The card's RSASSA-PKCS1-v1_5 SHA-256 signature over the canonical application text" },
                        "device": {
                            "type": "object", "additionalProperties": false, "required": ["se_serial", "device_certificate"],
                            "properties": {
                                "se_serial": { "type": "string" },
                                "device_certificate": { "type": "string", "contentEncoding": "base64" },
                                "vendor_chain": { "type": "array", "items": { "type": "string", "contentEncoding": "base64" } }
                            }
                        },
                        "keys": {
                            "type": "array",
                            "items": {
                                "type": "object", "additionalProperties": false, "required": ["kind", "csr", "attestation"],
                                "properties": {
                                    "kind": schema_ref("PhoneKind"),
                                    "csr": { "type": "string", "contentEncoding": "base64" },
                                    "attestation": { "type": "string", "contentEncoding": "base64" }
                                }
                            }
                        }
                    }
                },
                "ApplicationState": { "type": "string", "enum": ["queued", "issued", "registered", "superseded", "failed"] },
                "ApplicationAccepted": {
                    "type": "object", "required": ["application_id", "state", "device_token", "device_id"],
                    "properties": {
                        "application_id": { "type": "string" },
                        "state": schema_ref("ApplicationState"),
                        "device_token": { "type": "string" },
                        "device_id": { "type": "string" },
                        "expected_issuance": { "type": ["string", "null"], "format": "date-time" }
                    }
                },
                "ApplicationView": {
                    "type": "object", "required": ["application_id", "state", "kinds", "device_id", "submitted_at"],
                    "properties": {
                        "application_id": { "type": "string" },
                        "state": schema_ref("ApplicationState"),
                        "kinds": { "type": "array", "items": schema_ref("PhoneKind") },
                        "device_id": { "type": "string" },
                        "submitted_at": { "type": "string", "format": "date-time" },
                        "issued_at": { "type": ["string", "null"], "format": "date-time" },
                        "registered_at": { "type": ["string", "null"], "format": "date-time" },
                        "active_from": { "type": ["string", "null"], "format": "date-time" },
                        "failure": { "type": ["string", "null"] }
                    }
                },
                "IssuedCertificates": {
                    "type": "object", "required": ["application_id", "certificates"],
                    "properties": {
                        "application_id": { "type": "string" },
                        "certificates": {
                            "type": "array",
                            "items": {
                                "type": "object", "required": ["kind", "certificate", "ca_certificate"],
                                "properties": {
                                    "kind": schema_ref("PhoneKind"),
                                    "certificate": { "type": "string", "contentEncoding": "base64" },
                                    "ca_certificate": { "type": "string", "contentEncoding": "base64" }
                                }
                            }
                        }
                    }
                },
                "RegistrationRequest": {
                    "type": "object", "additionalProperties": false, "required": ["nonce", "signature"],
                    "properties": {
                        "nonce": { "type": "string" },
                        "signature": { "type": "string", "contentEncoding": "base64", "description": "By the phone authentication key over the canonical registration text" }
                    }
                },
                "CertificateView": {
                    "type": "object",
                    "properties": {
                        "kind": { "type": "string", "enum": ["card_sign", "card_auth", "phone_sign", "phone_auth"] },
                        "issuer": { "type": "string" },
                        "serial": { "type": "string" },
                        "status": { "type": "string", "enum": ["pending", "active", "held", "revoked"] },
                        "revocation_reason": { "type": ["string", "null"] },
                        "not_before": { "type": "string", "format": "date-time" },
                        "not_after": { "type": "string", "format": "date-time" },
                        "device_id": { "type": ["string", "null"] },
                        "card_id": { "type": ["string", "null"] }
                    }
                },
                "RegistrationResult": {
                    "type": "object",
                    "properties": {
                        "application_id": { "type": "string" },
                        "state": schema_ref("ApplicationState"),
                        "active_from": { "type": "string", "format": "date-time" },
                        "certificates": { "type": "array", "items": schema_ref("CertificateView") },
                        "superseded_certificates": { "type": "integer" }
                    }
                },
                "DeviceEvent": {
                    "type": "object", "required": ["seq", "kind", "payload", "created_at"],
                    "properties": {
                        "seq": { "type": "integer" },
                        "kind": { "type": "string", "examples": ["ready_to_register", "wipe"] },
                        "payload": { "type": "object" },
                        "created_at": { "type": "string", "format": "date-time" }
                    }
                },
                "DeviceCertificates": {
                    "type": "object",
                    "properties": {
                        "device_id": { "type": "string" },
                        "device_state": { "type": "string", "enum": ["active", "superseded", "wiped"] },
                        "certificates": { "type": "array", "items": schema_ref("CertificateView") }
                    }
                },
                "UsageHistory": {
                    "type": "object",
                    "properties": {
                        "entries": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "properties": {
                                    "at": { "type": "string", "format": "date-time" },
                                    "action": { "type": "string" },
                                    "outcome": { "type": "string", "enum": ["ok", "refused", "failed"] },
                                    "device_id": { "type": ["string", "null"] },
                                    "detail": { "type": "object" }
                                }
                            }
                        }
                    }
                }
            }
        },
        "paths": {
            "/api/v1/openapi.json": {
                "get": { "summary": "This document", "responses": { "200": { "description": "OpenAPI 3.1" } } }
            },
            "/api/v1/nonces": {
                "post": {
                    "summary": "A single-use nonce for an application or a registration",
                    "requestBody": json_body("NonceRequest"),
                    "responses": { "201": json_body("NonceResponse"), "400": problem("Malformed request") }
                }
            },
            "/api/v1/applications": {
                "post": {
                    "summary": "Apply for phone certificates, signed with the My Number card",
                    "description": "The RA checks, in order: nonce; card certificate chain, validity, signature and status; resident and age; SE attestations; CSRs; kinds. Inside the service hours the certificates are issued at once; otherwise the application is queued.",
                    "requestBody": json_body("ApplicationRequest"),
                    "responses": {
                        "202": json_body("ApplicationAccepted"),
                        "400": problem("A check failed (see code)"),
                        "403": problem("The card certificate is revoked or held, or the person may not have this certificate"),
                        "409": problem("The nonce was already used")
                    }
                }
            },
            "/api/v1/applications/{application_id}": {
                "get": {
                    "summary": "An application's state", "security": bearer(), "parameters": [application_id],
                    "responses": { "200": json_body("ApplicationView"), "401": problem("Wrong device token"), "404": problem("No such application") }
                }
            },
            "/api/v1/applications/{application_id}/certificates": {
                "get": {
                    "summary": "The issued certificates, to write into the secure element", "security": bearer(), "parameters": [application_id],
                    "responses": { "200": json_body("IssuedCertificates"), "401": problem("Wrong device token"), "409": problem("Not issued yet, or superseded") }
                }
            },
            "/api/v1/applications/{application_id}/registration": {
                "post": {
                    "summary": "Confirm registration with the new authentication key; revokes the person's other phone", "security": bearer(), "parameters": [application_id],
                    "requestBody": json_body("RegistrationRequest"),
                    "responses": { "200": json_body("RegistrationResult"), "400": problem("Bad signature or nonce"), "401": problem("Wrong device token"), "409": problem("Not issued, already registered, or superseded") }
                }
            },
            "/api/v1/devices/{device_id}/events": {
                "get": {
                    "summary": "Notifications for the phone: Server-Sent Events with Accept: text/event-stream (Last-Event-ID resumes), else a JSON array (long poll with wait)",
                    "security": bearer(),
                    "parameters": [
                        device_id,
                        { "name": "after", "in": "query", "schema": { "type": "integer" }, "description": "Events after this sequence number" },
                        { "name": "wait", "in": "query", "schema": { "type": "integer", "maximum": 30 }, "description": "Long poll: seconds to wait for an event" }
                    ],
                    "responses": {
                        "200": {
                            "description": "Events",
                            "content": {
                                "text/event-stream": { "schema": { "type": "string" } },
                                "application/json": { "schema": { "type": "array", "items": schema_ref("DeviceEvent") } }
                            }
                        },
                        "401": problem("Wrong device token")
                    }
                }
            },
            "/api/v1/devices/{device_id}/certificates": {
                "get": {
                    "summary": "The phone's certificates and their status", "security": bearer(), "parameters": [device_id],
                    "responses": { "200": json_body("DeviceCertificates"), "401": problem("Wrong device token") }
                }
            },
            "/api/v1/devices/{device_id}/history": {
                "get": {
                    "summary": "The usage history (利用履歴) of the phone's owner", "security": bearer(), "parameters": [device_id],
                    "responses": { "200": json_body("UsageHistory"), "401": problem("Wrong device token") }
                }
            },
            "/api/v1/devices/{device_id}/wiped": {
                "post": {
                    "summary": "The phone reports that it wiped its certificates", "security": bearer(), "parameters": [device_id],
                    "responses": { "204": { "description": "Recorded" }, "401": problem("Wrong device token") }
                }
            },
            "/healthz": {
                "get": { "summary": "Liveness", "responses": { "200": { "description": "ok" } } }
            }
        }
    });
    lifecycle::extend(&mut document);
    crate::relying_routes::extend_openapi(&mut document);
    crate::log_routes::extend_openapi(&mut document);
    document
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::routes::ROUTES;

    #[test]
    fn document_names_exactly_the_routes_served() {
        let document = openapi_document();
        let paths = document["paths"].as_object().unwrap();
        let mut documented: Vec<(String, String)> = Vec::new();
        for (path, operations) in paths {
            for method in operations.as_object().unwrap().keys() {
                documented.push((method.clone(), path.clone()));
            }
        }
        documented.sort();
        let mut routed: Vec<(String, String)> = ROUTES
            .iter()
            .chain(crate::relying_routes::RELYING_ROUTES)
            .chain(crate::log_routes::LOG_ROUTES)
            .map(|(method, path)| (method.to_string(), path.to_string()))
            .collect();
        routed.sort();
        assert_eq!(documented, routed);
        assert_eq!(document["openapi"], "3.1.0");
    }

    #[test]
    fn every_schema_reference_resolves() {
        let document = openapi_document();
        let schemas = document["components"]["schemas"].as_object().unwrap();
        let text = document.to_string();
        for part in text.split("#/components/schemas/").skip(1) {
            let name: String = part
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric())
                .collect();
            assert!(schemas.contains_key(&name), "{name}");
        }
    }
}
