//! Bad input: every malformed profile in tests/bad-profiles/ and every bad
//! argument below must exit 2 with the exact message pinned in its
//! `.stderr` golden file, and create nothing at the output path.
//! `TSMEDIA_BLESS=1 cargo test --test bad_input` rewrites the golden files.

mod common;

use std::path::{Path, PathBuf};

use common::*;

fn check_golden(name: &str, args: &[String], out: &Path, alone: bool) {
    let o = tsmedia().args(args).output().unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr)
        .replace(out.to_str().unwrap(), "{OUT}")
        .replace(root().to_str().unwrap(), "{ROOT}");
    let golden = root()
        .join("tests/bad-profiles")
        .join(format!("{name}.stderr"));
    if std::env::var_os("TSMEDIA_BLESS").is_some() {
        std::fs::write(&golden, &stderr).unwrap();
    }
    let want = std::fs::read_to_string(&golden).unwrap_or_else(|_| {
        panic!(
            "{name}: no golden file {} (run with TSMEDIA_BLESS=1)",
            golden.display()
        )
    });
    assert_eq!(
        stderr,
        want,
        "{name}: message differs from {}",
        golden.display()
    );
    assert_eq!(
        o.status.code(),
        Some(2),
        "{name}: exit code; stderr:\n{stderr}"
    );
    assert!(
        !out.exists(),
        "{name}: something was created at the output path"
    );
    assert!(o.stdout.is_empty(), "{name}: nothing on stdout");
    if alone {
        let leftovers: Vec<_> = std::fs::read_dir(out.parent().unwrap()).unwrap().collect();
        assert!(
            leftovers.is_empty(),
            "{name}: files left next to the output"
        );
    }
}

#[test]
fn malformed_profiles_are_refused_with_a_pinned_message() {
    fixtures();
    let dir = root().join("tests/bad-profiles");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| {
            let n = e.unwrap().file_name().to_string_lossy().into_owned();
            n.strip_suffix(".json").map(str::to_string)
        })
        .collect();
    names.sort();
    assert!(names.len() >= 30, "the corpus holds at least 30 profiles");
    for name in names {
        let tmp = scratch("bad");
        let out = tmp.path().join("out").join("medium");
        std::fs::create_dir(out.parent().unwrap()).unwrap();
        let args = vec![
            "create".to_string(),
            "--profile".into(),
            format!("tests/bad-profiles/{name}.json"),
            "--output".into(),
            out.to_string_lossy().into_owned(),
        ];
        check_golden(&name, &args, &out, true);
    }
}

#[test]
fn bad_arguments_are_refused_with_a_pinned_message() {
    fixtures();
    let tmp = scratch("badargs");
    let outdir = tmp.path().join("out");
    std::fs::create_dir(&outdir).unwrap();
    let out = outdir.join("medium");
    let o = out.to_string_lossy().into_owned();
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    let cases: Vec<(&str, Vec<String>, PathBuf)> = vec![
        (
            "args-unknown-format",
            s(&[
                "create",
                "--profile",
                "examples/bootable.json",
                "--format",
                "floppy",
                "--output",
                &o,
            ]),
            out.clone(),
        ),
        (
            "args-missing-profile-file",
            s(&[
                "create",
                "--profile",
                "tests/bad-profiles/none.json",
                "--output",
                &o,
            ]),
            out.clone(),
        ),
        (
            "args-profile-is-a-folder",
            s(&["create", "--profile", "tests", "--output", &o]),
            out.clone(),
        ),
        (
            "args-no-output",
            s(&["create", "--profile", "tests/profiles/no-output.json"]),
            out.clone(),
        ),
        (
            "args-output-inside-source",
            s(&[
                "create",
                "--profile",
                "examples/standalone.json",
                "--format",
                "folder",
                "--output",
                "fixtures/build/packages/app-notepad/out",
            ]),
            root().join("fixtures/build/packages/app-notepad/out"),
        ),
        (
            "args-output-is-the-profile",
            s(&[
                "create",
                "--profile",
                "examples/bootable.json",
                "--format",
                "folder",
                "--force",
                "--output",
                "examples/bootable.json",
            ]),
            root().join("examples/bootable.json.none"),
        ),
        (
            "args-output-folder-missing",
            s(&[
                "create",
                "--profile",
                "examples/bootable.json",
                "--format",
                "folder",
                "--output",
                &format!("{o}/deeper/medium"),
            ]),
            out.clone(),
        ),
    ];
    for (name, args, watch) in cases {
        let alone = watch.starts_with(&outdir);
        check_golden(name, &args, &watch, alone);
    }
    // The refused outputs above left the profile and sources alone.
    assert!(root().join("examples/bootable.json").is_file());
}
