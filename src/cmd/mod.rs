//! One function per subcommand; `run` maps errors to exit codes.

pub mod completions;
pub mod create;
pub mod decrypt;
pub mod inspect;
pub mod man;
pub mod plan;
pub mod profile;
pub mod verify;
pub mod write;

use crate::cli::{Cli, Command, ProfileCommand};
use crate::error::exit_code;

/// Global options every command sees.
#[derive(Debug, Clone, Copy)]
pub struct Global {
    pub quiet: bool,
    pub verbose: u8,
}

/// Runs a parsed command line and returns the process exit code.
pub fn run(cli: Cli) -> i32 {
    crate::io::cancel::install();
    let g = Global {
        quiet: cli.quiet,
        verbose: cli.verbose,
    };
    let r = match cli.command {
        Command::Create(a) => create::run(&g, a),
        Command::Plan(a) => plan::run(&g, a),
        Command::Profile(ProfileCommand::Init { media_type }) => profile::init(media_type.into()),
        Command::Profile(ProfileCommand::Validate {
            profile,
            media_type,
            json,
        }) => profile::validate(&profile, media_type.map(Into::into), json),
        Command::Profile(ProfileCommand::Schema) => profile::schema(),
        Command::Verify(a) => verify::run(
            &g,
            &a.paths,
            a.password.source(),
            a.json,
            &verify::SecureBootOptions {
                dbx: a.secure_boot.dbx.clone(),
                strict: a.strict,
            },
        ),
        Command::Inspect(a) => inspect::run(
            &g,
            &a.paths,
            a.password.source(),
            a.json,
            a.secure_boot.dbx.as_deref(),
        ),
        Command::Decrypt(a) => decrypt::run(
            &g,
            &a.medium,
            &a.output,
            a.password.source(),
            a.force,
            a.json,
        ),
        Command::Completions(a) => completions::run(a.shell),
        Command::Man(a) => man::run(&g, a),
        Command::Write(a) => write::run(&g, a),
    };
    match r {
        Ok(code) => code,
        Err(e) => {
            report(&e);
            exit_code(&e)
        }
    }
}

/// Prints an error chain: the top message, then each cause on its own line.
pub fn report(e: &anyhow::Error) {
    let mut s = format!("error: {e}");
    for cause in e.chain().skip(1) {
        s.push_str(&format!("\n  caused by: {cause}"));
    }
    eprintln!("{s}");
}
