//! Host-side card driver: Transport trait, in-process transport, typed JPKI operations
