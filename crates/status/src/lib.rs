//! Revocation status services: OCSP responder core and CRL publisher (in progress).
