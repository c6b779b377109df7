fn main() -> std::process::ExitCode {
    handoffd::cli::main()
}
