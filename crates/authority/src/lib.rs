//! Resident registry, registration authority and certificate authority
