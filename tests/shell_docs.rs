//! `tsmedia completions` and `tsmedia man`: every script loads in its own
//! shell and completes tsmedia, every manual page renders without warnings and
//! names its subcommands and options. What must be there is read from the clap
//! definitions (`Cli::command()`), so a new subcommand or option that a script
//! or page lacks fails here.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

use clap::{CommandFactory, ValueEnum};
use clap_complete::Shell;
use common::*;
use tsmedia::cli::Cli;

/// The command tree as a user sees it: built (global options propagated),
/// without clap's `help` subcommand.
fn tree() -> clap::Command {
    let mut c = Cli::command().disable_help_subcommand(true);
    c.build();
    c
}

/// Every command of the tree with its path: `[]`, `["create"]`,
/// `["profile", "init"]`...
fn commands(c: &clap::Command) -> Vec<(Vec<String>, clap::Command)> {
    fn go(c: &clap::Command, path: Vec<String>, out: &mut Vec<(Vec<String>, clap::Command)>) {
        out.push((path.clone(), c.clone()));
        for s in c.get_subcommands().filter(|s| !s.is_hide_set()) {
            let mut p = path.clone();
            p.push(s.get_name().to_string());
            go(s, p, out);
        }
    }
    let mut out = Vec::new();
    go(c, Vec::new(), &mut out);
    out
}

fn visible_args(c: &clap::Command) -> impl Iterator<Item = &clap::Arg> {
    c.get_arguments().filter(|a| !a.is_hide_set())
}

/// Every long option and subcommand name anywhere in the tree.
fn all_words() -> Vec<String> {
    let mut words = Vec::new();
    for (path, c) in commands(&tree()) {
        words.extend(path.last().cloned());
        words.extend(visible_args(&c).filter_map(|a| a.get_long().map(|l| format!("--{l}"))));
    }
    words.sort();
    words.dedup();
    words
}

fn completion(shell: &str) -> String {
    let out = run_ok(tsmedia().args(["completions", shell]));
    String::from_utf8(out.stdout).expect("a UTF-8 script")
}

fn shell_ok(c: &mut Command) -> String {
    let out = c.output().expect("running a shell");
    assert!(
        out.status.success(),
        "{c:?} failed ({:?}):\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn lines(s: &str) -> Vec<&str> {
    s.lines().map(str::trim).collect()
}

#[test]
fn cli_definitions_are_consistent() {
    Cli::command().debug_assert();
    tree().debug_assert();
}

#[test]
fn every_shell_gets_a_script_naming_every_subcommand_and_option() {
    let words = all_words();
    assert!(words.iter().any(|w| w == "create") && words.iter().any(|w| w == "--profile"));
    for shell in Shell::value_variants() {
        let name = shell.to_possible_value().unwrap().get_name().to_string();
        let script = completion(&name);
        assert!(
            script.len() > 500,
            "{name}: a script of {} bytes",
            script.len()
        );
        for w in &words {
            let bare = w.trim_start_matches('-');
            assert!(script.contains(bare), "{name}: the script lacks `{w}`");
        }
    }
}

#[test]
fn bash_loads_its_script_and_completes() {
    assert!(have_tool("bash", "bash"));
    let dir = scratch("completion-bash");
    let file = dir.path().join("tsmedia.bash");
    std::fs::write(&file, completion("bash")).unwrap();
    shell_ok(Command::new("bash").arg("-n").arg(&file));
    // Source it, show the registration, then ask the registered function for
    // the words after `tsmedia ` and after `tsmedia create --p`.
    let probe = r#"source "$1" || exit 1
spec=$(complete -p tsmedia) || exit 1
echo "$spec"
fn=${spec#*-F }; fn=${fn%% *}
ask() {
    COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); COMP_LINE="$*"; COMP_POINT=${#COMP_LINE}
    COMPREPLY=()
    "$fn" tsmedia "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
    printf '%s\n' "${COMPREPLY[@]}"
}
echo "== top"; ask tsmedia ""
echo "== create"; ask tsmedia create --p
"#;
    let out = shell_ok(
        Command::new("bash")
            .arg("-c")
            .arg(probe)
            .arg("bash")
            .arg(&file),
    );
    let (spec, rest) = out.split_once("== top\n").unwrap();
    assert!(
        spec.contains("-F ") && spec.trim_end().ends_with(" tsmedia"),
        "{spec}"
    );
    let (top, create) = rest.split_once("== create\n").unwrap();
    let top = lines(top);
    for s in tree().get_subcommands() {
        assert!(
            top.contains(&s.get_name()),
            "`tsmedia <TAB>` lacks {}: {top:?}",
            s.get_name()
        );
    }
    let create = lines(create);
    let want: Vec<String> = visible_args(tree().find_subcommand("create").unwrap())
        .filter_map(|a| a.get_long())
        .filter(|l| l.starts_with('p'))
        .map(|l| format!("--{l}"))
        .collect();
    assert!(!want.is_empty());
    for w in &want {
        assert!(
            create.contains(&w.as_str()),
            "`tsmedia create --p<TAB>` lacks {w}: {create:?}"
        );
    }
    assert!(create.iter().all(|w| w.starts_with("--p")), "{create:?}");
}

#[test]
fn zsh_loads_its_script() {
    if !have_tool("zsh", "zsh") {
        return;
    }
    let dir = scratch("completion-zsh");
    let file = dir.path().join("_tsmedia");
    std::fs::write(&file, completion("zsh")).unwrap();
    shell_ok(Command::new("zsh").arg("-n").arg(&file));
    // Loaded after compinit, the script registers its function for tsmedia.
    let out = shell_ok(
        Command::new("zsh")
            .arg("-f")
            .arg("-c")
            .arg(r#"autoload -U compinit && compinit -u -D && source "$1" && print -r -- "$_comps[tsmedia]""#)
            .arg("zsh")
            .arg(&file)
            .env("HOME", dir.path()),
    );
    assert_eq!(out.trim(), "_tsmedia");
}

#[test]
fn fish_loads_its_script_and_completes() {
    if !have_tool("fish", "fish") {
        return;
    }
    let dir = scratch("completion-fish");
    let file = dir.path().join("tsmedia.fish");
    std::fs::write(&file, completion("fish")).unwrap();
    shell_ok(Command::new("fish").arg("--no-execute").arg(&file));
    let out = shell_ok(
        Command::new("fish")
            .arg("--no-config")
            .arg("-c")
            .arg(concat!(
                "source $argv[1]; and echo '== top'; and complete -C 'tsmedia ';",
                " and echo '== plan'; and complete -C 'tsmedia plan --'"
            ))
            .arg(&file)
            .env("HOME", dir.path())
            .env("XDG_CONFIG_HOME", dir.path())
            .env("XDG_DATA_HOME", dir.path()),
    );
    let (top, plan) = out.split_once("== plan\n").unwrap();
    let word = |l: &str| l.split('\t').next().unwrap_or("").to_string();
    let top: Vec<String> = top.lines().map(word).collect();
    for s in tree().get_subcommands() {
        assert!(
            top.iter().any(|w| w == s.get_name()),
            "`tsmedia <TAB>` lacks {}: {top:?}",
            s.get_name()
        );
    }
    let plan: Vec<String> = plan.lines().map(word).collect();
    for l in visible_args(tree().find_subcommand("plan").unwrap()).filter_map(|a| a.get_long()) {
        assert!(
            plan.contains(&format!("--{l}")),
            "`tsmedia plan --<TAB>` lacks --{l}: {plan:?}"
        );
    }
}

#[test]
fn elvish_script_completes() {
    if !have_tool("elvish", "elvish") {
        return;
    }
    // The script hooks into the interactive editor (`edit:`), which a script
    // run cannot reach: bind the completer to a variable and print candidates
    // instead, then ask it for the words after `tsmedia `.
    let script = completion("elvish");
    let hook = "set edit:completion:arg-completer[tsmedia] = ";
    assert!(
        script.contains(hook),
        "the elvish script registers no completer"
    );
    let mut probe = String::new();
    for line in script.lines() {
        let line = line.replace(hook, "var completer = ");
        match line.find("edit:complex-candidate $text") {
            Some(at) => probe.push_str(&format!("{}echo $text\n", &line[..at])),
            None => probe.push_str(&format!("{line}\n")),
        }
    }
    probe.push_str("$completer tsmedia ''\n");
    let dir = scratch("completion-elvish");
    let file = dir.path().join("probe.elv");
    std::fs::write(&file, probe).unwrap();
    let out = shell_ok(
        Command::new("elvish")
            .arg("-norc")
            .arg(&file)
            .env("HOME", dir.path()),
    );
    let top = lines(&out);
    for s in tree().get_subcommands() {
        assert!(
            top.contains(&s.get_name()),
            "`tsmedia <TAB>` lacks {}: {top:?}",
            s.get_name()
        );
    }
}

/// A page as plain text (groff, no hyphenation, long lines), with groff's
/// hyphen and minus glyphs as ASCII and runs of blanks as one space. Fails
/// on any groff warning.
fn render(page: &Path) -> String {
    let out = Command::new("groff")
        .args(["-man", "-Tutf8", "-ww", "-rHY=0", "-rLL=500n", "-P-cbou"])
        .arg(page)
        .output()
        .expect("running groff");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stderr.trim().is_empty(),
        "groff on {}: {:?}\n{stderr}",
        page.display(),
        out.status
    );
    let text = String::from_utf8(out.stdout)
        .unwrap()
        .replace(['\u{2010}', '\u{2212}'], "-");
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn page_name(path: &[String]) -> String {
    std::iter::once("tsmedia")
        .chain(path.iter().map(String::as_str))
        .collect::<Vec<_>>()
        .join("-")
}

#[test]
fn man_pages_render_and_name_every_subcommand_and_option() {
    assert!(have_tool("groff", "groff-base"));
    let dir = scratch("man");
    let out = dir.path().join("man1");
    run_ok(tsmedia().arg("man").arg("--dir").arg(&out));

    let cmds = commands(&tree());
    let mut want: Vec<String> = cmds
        .iter()
        .map(|(p, _)| format!("{}.1", page_name(p)))
        .collect();
    want.sort();
    let mut have: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    have.sort();
    assert_eq!(have, want, "one page per command, nothing else");
    // Installed pages are for every user: 0644 less the umask (a temporary
    // file would start as 0600).
    let umask = u32::from_str_radix(shell_ok(Command::new("sh").args(["-c", "umask"])).trim(), 8)
        .expect("an octal umask");
    for f in &have {
        let mode = std::fs::metadata(out.join(f)).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o644 & !umask, "{f}: mode {mode:o}");
    }

    for (path, c) in &cmds {
        let name = page_name(path);
        let file = out.join(format!("{name}.1"));
        let text = render(&file);
        assert!(text.contains(&format!("NAME {name} - ")), "{name}: {text}");
        assert!(
            text.contains("SYNOPSIS") && text.contains("EXIT STATUS"),
            "{name}: {text}"
        );
        for s in c.get_subcommands().filter(|s| !s.is_hide_set()) {
            let sub = format!("{name}-{}(1)", s.get_name());
            assert!(text.contains(&sub), "{name} does not name {sub}");
        }
        for a in visible_args(c) {
            let mut names: Vec<String> = Vec::new();
            if let Some(l) = a.get_long() {
                names.push(format!("--{l}"));
            }
            if let Some(s) = a.get_short() {
                names.push(format!("-{s}"));
            }
            if a.is_positional() {
                let v = a.get_value_names().map(|v| v[0].to_string());
                names.push(v.unwrap_or_else(|| a.get_id().to_string().to_uppercase()));
            }
            for n in &names {
                assert!(text.contains(n.as_str()), "{name} does not name {n}");
            }
            // A page shows the long help when an option has one (clap then
            // also words the automatic --help differently).
            if let Some(help) = a.get_long_help().or(a.get_help()) {
                let help = help
                    .to_string()
                    .split_whitespace()
                    .collect::<Vec<_>>()
                    .join(" ");
                assert!(
                    text.contains(&help),
                    "{name} lacks the help of {names:?}: {help}"
                );
            }
        }
        // What `tsmedia man [PATH]` prints is the same page.
        let printed = run_ok(tsmedia().arg("man").args(path)).stdout;
        assert_eq!(
            printed,
            std::fs::read(&file).unwrap(),
            "tsmedia man {path:?}"
        );
    }
}

#[test]
fn man_reads_the_pages() {
    if !have_tool("man", "man-db") {
        return;
    }
    let dir = scratch("man-l");
    run_ok(tsmedia().arg("man").arg("--dir").arg(dir.path()));
    for (path, _) in commands(&tree()) {
        let name = page_name(&path);
        let out = Command::new("man")
            .args(["--warnings=w", "-l"])
            .arg(dir.path().join(format!("{name}.1")))
            .env("MANWIDTH", "100")
            .env("MANPAGER", "cat")
            .env("PAGER", "cat")
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success() && stderr.trim().is_empty(),
            "man -l {name}.1: {:?}\n{stderr}",
            out.status
        );
        assert!(String::from_utf8_lossy(&out.stdout).contains("NAME"));
    }
}

#[test]
fn man_names_the_subcommands_it_knows() {
    let o = tsmedia().args(["man", "no-such-command"]).output().unwrap();
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("`tsmedia` has no subcommand `no-such-command`"),
        "{err}"
    );
    for s in tree().get_subcommands() {
        assert!(err.contains(s.get_name()), "{err}");
    }
    assert!(o.stdout.is_empty());
}
