//! The measurements behind `aocu bench`, shared with the criterion benches under `benches/`.

pub mod hash;
pub mod verify;
