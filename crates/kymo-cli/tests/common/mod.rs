//! Helpers shared by the `kymo analyze` and `kymo eval` tests: run the binary, simulate a
//! recording, expect a one-line failure.

#![allow(dead_code)] // each test file uses a different subset

use std::path::{Path, PathBuf};
use std::process::Output;

use assert_cmd::Command;

pub fn kymo() -> Command {
    Command::cargo_bin("kymo").expect("the kymo binary is built by cargo test")
}

pub fn text(b: &[u8]) -> String {
    String::from_utf8(b.to_vec()).expect("kymo prints UTF-8")
}

/// `kymo simulate ARGS --out DIR/NAME.edf`; returns the EDF and truth paths.
pub fn simulate(dir: &Path, name: &str, args: &[&str]) -> (PathBuf, PathBuf) {
    let edf = dir.join(format!("{name}.edf"));
    let out = kymo()
        .arg("simulate")
        .args(args)
        .arg("--out")
        .arg(&edf)
        .output()
        .expect("kymo runs");
    assert!(
        out.status.success(),
        "kymo simulate {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("wrote"), "{stdout}");
    (edf, dir.join(format!("{name}.truth.json")))
}

/// 20 s of the `myokymia-facial` scenario at `seed`, as DIR/facial.edf and its truth.
pub fn facial(dir: &Path, seed: u64) -> (PathBuf, PathBuf) {
    let seed = seed.to_string();
    simulate(
        dir,
        "facial",
        &[
            "--scenario",
            "myokymia-facial",
            "--seconds",
            "20",
            "--seed",
            &seed,
        ],
    )
}

/// Runs `kymo ARGS` in `cwd` and requires success; returns the output.
pub fn run_ok(cwd: &Path, args: &[&std::ffi::OsStr]) -> Output {
    let out = kymo()
        .current_dir(cwd)
        .args(args)
        .output()
        .expect("kymo runs");
    assert!(
        out.status.success(),
        "kymo {args:?} failed ({:?}): {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Runs `kymo ARGS` in `cwd` (an empty folder) and requires bad-input failure: exit 1,
/// exactly one line on stderr starting `kymo: `, nothing on stdout, and `cwd` still empty
/// (no output, no temporary file, no output folder). Returns the line.
pub fn fails_cleanly(cwd: &Path, args: &[&std::ffi::OsStr]) -> String {
    let before = listing(cwd);
    let out = kymo()
        .current_dir(cwd)
        .args(args)
        .output()
        .expect("kymo runs");
    let err = text(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(1),
        "kymo {args:?} must exit with 1 (bad input); stderr: {err}"
    );
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 1, "one sentence on one line: {err:?}");
    assert!(lines[0].starts_with("kymo: "), "{err}");
    assert!(out.stdout.is_empty(), "stdout: {}", text(&out.stdout));
    assert_eq!(
        listing(cwd),
        before,
        "kymo {args:?} left files behind in the working folder"
    );
    lines[0].to_string()
}

/// Every path under `dir`, sorted (hidden files included).
pub fn listing(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).expect("readable folder") {
            let p = e.expect("entry").path();
            if p.is_dir() {
                stack.push(p.clone());
            }
            out.push(p);
        }
    }
    out.sort();
    out
}

/// The Python with the reference readers: `$KYMO_PYTHON`, else the repository's `.venv`.
pub fn python() -> PathBuf {
    match std::env::var_os("KYMO_PYTHON") {
        Some(p) => PathBuf::from(p),
        None => PathBuf::from(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../.venv/bin/python"
        )),
    }
}

/// Shorthand for argument lists mixing strings and paths.
#[macro_export]
macro_rules! args {
    ($($a:expr),* $(,)?) => {
        &[$(::std::ffi::OsStr::new($a)),*]
    };
}
