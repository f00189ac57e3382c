//! The rollcall executable: parses the command line; with no subcommand it opens the window.

fn main() -> std::process::ExitCode {
    rollcall::cli::main(rollcall::gui::run)
}
