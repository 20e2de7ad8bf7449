//! The `aocu` binary. All the work is in the library; see `aocu::cli`.

fn main() -> std::process::ExitCode {
    // SAFETY: first thing in `main`: no other thread has been started.
    unsafe { aocu::wasm::quiet_error_backtraces() };
    aocu::cli::main()
}
