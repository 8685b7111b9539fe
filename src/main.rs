use clap::Parser;

fn main() {
    // Die quietly on a closed pipe (`tsmedia plan | head`) instead of panicking.
    // SAFETY: restoring the default disposition of SIGPIPE before any thread starts.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let cli = tsmedia::cli::Cli::parse();
    std::process::exit(tsmedia::cmd::run(cli));
}
