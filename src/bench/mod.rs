//! The measurements behind `aocu bench`, shared with the criterion benches under `benches/`.

pub mod dryrun;
pub mod eval;
pub mod hash;
pub mod suite;
pub mod verify;
