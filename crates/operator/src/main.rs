//! `regionstack`: the operator and its tools. See `regionstack --help`.

fn main() -> std::process::ExitCode {
    regionstack::cli::main()
}
