//! The Python client (`clients/python`): its pytest suite, against the committed receipt and
//! custody vectors and against this build's server binary (which its fixtures start), and
//! `mypy --strict` on the package and its tests. Python is `$DATAPOLE_PYTHON` (default
//! `python3`), with the package, pytest and mypy installed (`.ci/run` makes such a venv in
//! `target/pyenv`); without them the test is reported as skipped, never passed.

mod common;

use std::process::Command;

fn python() -> String {
    std::env::var("DATAPOLE_PYTHON").unwrap_or_else(|_| "python3".to_owned())
}

/// Whether `python -c code` succeeds; why not otherwise.
fn runs(code: &str) -> Result<(), String> {
    match Command::new(python()).arg("-c").arg(code).output() {
        Ok(out) if out.status.success() => Ok(()),
        Ok(out) => Err(String::from_utf8_lossy(&out.stderr).trim().to_owned()),
        Err(e) => Err(e.to_string()),
    }
}

#[test]
fn the_python_clients_tests_and_type_checks_pass() {
    if let Err(why) = runs("import datapole_client, pytest, mypy") {
        common::skip(
            "python_client",
            &format!(
                "{} cannot import datapole_client, pytest and mypy ({why}); \
                 pip install ./clients/python pytest mypy",
                python()
            ),
        );
        return;
    }
    let root = env!("CARGO_MANIFEST_DIR");
    let out = Command::new(python())
        .args([
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "clients/python/tests",
        ])
        .current_dir(root)
        .env("DATAPOLE_BIN", env!("CARGO_BIN_EXE_datapole"))
        // The working tree's package first, so that an older installed copy never stands in.
        .env("PYTHONPATH", format!("{root}/clients/python/src"))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "pytest failed:\n{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Every test ran: none skipped (the server binary is given).
    assert!(!text.contains("skipped"), "{text}");
    let out = Command::new(python())
        .args([
            "-m",
            "mypy",
            "--strict",
            "--no-incremental",
            "--cache-dir=/dev/null",
        ])
        .args(["src", "tests", "examples"])
        .current_dir(format!("{root}/clients/python"))
        .env("MYPYPATH", "src")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "mypy --strict failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
