//! WebAssembly execution of AO processes: module preparation (legacy exception-handling translation).

pub mod legacy_eh;
