//! Signature verification: batched engines for the signature schemes AO messages carry.
pub mod gpu;
