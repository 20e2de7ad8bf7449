//! The `aocu` binary. All the work is in the library; see `aocu::cli`.

fn main() -> std::process::ExitCode {
    aocu::cli::main()
}
