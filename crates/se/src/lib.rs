//! Virtual phone secure element (in progress).
