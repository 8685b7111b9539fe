//! `tsmedia man`: manual pages generated from the clap definitions in
//! `cli.rs`, so they always list the options the program takes.
//!
//! One page per command, named like git's and cargo's: `tsmedia.1` for the
//! program (global options, the subcommands, exit status), and
//! `tsmedia-create.1`, `tsmedia-profile-init.1`... for each subcommand at any
//! depth. Pages carry no date, so the same program gives the same bytes.

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use anyhow::{Context, Result};
use clap::CommandFactory;
use clap_mangen::roff::{roman, Roff};

use super::Global;
use crate::cli::{Cli, ManArgs};
use crate::error::UsageError;

/// The manual section of every page.
pub const SECTION: &str = "1";

/// The command tree as the pages describe it: built, without clap's `help`
/// subcommand (`--help` stays an option).
pub fn command() -> clap::Command {
    let mut cmd = Cli::command().disable_help_subcommand(true);
    cmd.build();
    cmd
}

/// Every page as (file name, roff bytes): `tsmedia.1` first, then the
/// subcommands depth first in definition order.
pub fn pages() -> Vec<(String, Vec<u8>)> {
    let root = command();
    let mut out = Vec::new();
    collect(&root, &root, None, &mut out);
    out
}

fn collect(
    root: &clap::Command,
    cmd: &clap::Command,
    parent: Option<&clap::Command>,
    out: &mut Vec<(String, Vec<u8>)>,
) {
    out.push((file_name(cmd), render(root, cmd, parent)));
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        collect(root, sub, Some(cmd), out);
    }
}

/// `tsmedia.1`, `tsmedia-profile-init.1`.
pub fn file_name(cmd: &clap::Command) -> String {
    format!("{}.{SECTION}", page_name(cmd))
}

fn page_name(cmd: &clap::Command) -> &str {
    cmd.get_display_name().unwrap_or_else(|| cmd.get_name())
}

/// The page of the subcommand at `path` (empty: the main page).
pub fn page(path: &[String]) -> Result<Vec<u8>> {
    let root = command();
    let mut parent = None;
    let mut cmd = &root;
    for (i, name) in path.iter().enumerate() {
        let Some(sub) = cmd
            .get_subcommands()
            .find(|s| !s.is_hide_set() && s.get_name() == name)
        else {
            let have: Vec<&str> = cmd
                .get_subcommands()
                .filter(|s| !s.is_hide_set())
                .map(|s| s.get_name())
                .collect();
            let within = if i == 0 {
                "tsmedia".to_string()
            } else {
                format!("tsmedia {}", path[..i].join(" "))
            };
            let fix = if have.is_empty() {
                format!(
                    "`{within}` has no subcommands: run `tsmedia man {}`",
                    path[..i].join(" ")
                )
            } else {
                format!("use one of: {}", have.join(", "))
            };
            return Err(
                UsageError::new(format!("`{within}` has no subcommand `{name}`"), fix).into(),
            );
        };
        parent = Some(cmd);
        cmd = sub;
    }
    Ok(render(&root, cmd, parent))
}

/// One page: clap_mangen's sections (name, synopsis, description, options,
/// subcommands, version), then NOTES (the command's after-help text), EXIT
/// STATUS and SEE ALSO.
fn render(root: &clap::Command, cmd: &clap::Command, parent: Option<&clap::Command>) -> Vec<u8> {
    let is_root = parent.is_none();
    // The after-help text gets a section of its own below instead of
    // clap_mangen's "EXTRA".
    let bare = cmd
        .clone()
        .after_help(None::<&str>)
        .after_long_help(None::<&str>);
    let mut buf = Vec::new();
    clap_mangen::Man::new(bare)
        .render(&mut buf)
        .expect("writing to memory");
    // clap_mangen drops an empty date from .TH, which moves the source into
    // the date's place: write the title line here. No date, so the bytes
    // depend on the program alone.
    let version = root.get_version().unwrap_or_default();
    let th = format!(
        ".TH {} {SECTION} \"\" \"tsmedia {}\" \"tsmedia manual\"",
        escape(page_name(cmd)),
        escape(version)
    );
    let mut page = String::from_utf8(buf).expect("clap_mangen writes UTF-8");
    let start = page.find("\n.TH ").expect("a .TH line") + 1;
    let end = start + page[start..].find('\n').expect("a line end");
    page.replace_range(start..end, &th);
    let mut buf = page.into_bytes();

    let mut extra = Roff::new();
    if !is_root {
        if let Some(text) = cmd.get_after_long_help().or_else(|| cmd.get_after_help()) {
            extra.control("SH", ["NOTES"]);
            lines(&mut extra, &text.to_string());
        }
    }
    if let Some(text) = root.get_after_long_help().or_else(|| root.get_after_help()) {
        extra.control("SH", ["EXIT STATUS"]);
        lines(&mut extra, &text.to_string());
    }
    let mut see: Vec<String> = Vec::new();
    if let Some(p) = parent {
        see.push(format!("{}({SECTION})", page_name(p)));
        if !std::ptr::eq(p, root) {
            see.push(format!("{}({SECTION})", page_name(root)));
        }
    }
    if is_root {
        see.push("The README.md of tsmedia, and its docs/ folder".to_string());
    }
    extra.control("SH", ["SEE ALSO"]);
    extra.text([roman(see.join(", "))]);
    // Roff::render starts with a preamble that the page above already has.
    let preamble = Roff::new().render();
    let rendered = extra.render();
    let body = rendered.strip_prefix(&preamble).unwrap_or(&rendered);
    buf.extend_from_slice(body.as_bytes());
    buf
}

/// A word for a roff request argument (hyphens as `\-`).
fn escape(s: &str) -> String {
    s.replace('\\', "\\e").replace('-', "\\-")
}

/// Text whose line breaks are kept (examples, lists): one output line each.
fn lines(roff: &mut Roff, text: &str) {
    roff.control("nf", []);
    for line in text.lines() {
        roff.text([roman(line)]);
    }
    roff.control("fi", []);
}

/// `tsmedia man [SUBCOMMAND...] [--dir DIR]`.
pub fn run(g: &Global, a: ManArgs) -> Result<i32> {
    let Some(dir) = a.dir else {
        let page = page(&a.subcommand)?;
        let mut out = std::io::stdout().lock();
        out.write_all(&page)
            .and_then(|()| out.flush())
            .context("writing the manual page to stdout")?;
        return Ok(0);
    };
    let pages = pages();
    write_pages(&dir, &pages)?;
    if !g.quiet {
        eprintln!("wrote {} manual pages to {}", pages.len(), dir.display());
    }
    Ok(0)
}

/// Writes each page under a temporary name in `dir`, then renames it into
/// place (replacing an older page of the same name).
fn write_pages(dir: &Path, pages: &[(String, Vec<u8>)]) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    for (name, bytes) in pages {
        let dest = dir.join(name);
        // Readable by everyone, like any installed page (a temporary file
        // starts as 0600); the umask still applies.
        let mut tmp = tempfile::Builder::new()
            .prefix(&format!(".{name}."))
            .permissions(std::fs::Permissions::from_mode(0o644))
            .tempfile_in(dir)
            .with_context(|| format!("creating a temporary file in {}", dir.display()))?;
        tmp.write_all(bytes)
            .and_then(|()| tmp.as_file().sync_all())
            .with_context(|| format!("writing {}", dest.display()))?;
        tmp.persist(&dest)
            .with_context(|| format!("renaming a temporary file to {}", dest.display()))?;
    }
    Ok(())
}
