//! JPKI OIDs, certificate profiles, CSRs, certificate parsing
