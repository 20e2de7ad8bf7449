//! The `aocu` binary. All the work is in the library; see `aocu::cli`.

#[allow(unsafe_code)] // One environment write before any thread starts: argued below.
fn main() -> std::process::ExitCode {
    // SAFETY: first thing in `main`: no other thread has been started.
    unsafe { aocu::wasm::quiet_error_backtraces() };
    aocu::cli::main()
}
