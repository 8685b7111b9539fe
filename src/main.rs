use clap::Parser;

fn main() {
    let cli = tsmedia::cli::Cli::parse();
    std::process::exit(tsmedia::cmd::run(cli));
}
