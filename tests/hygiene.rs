//! Secrets at rest: `serve` and `witness` refuse a data directory, store or secret file that
//! other users can read or write, create what they need private, and `serve` refuses admin
//! tokens too short to resist guessing, from every source.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{binary, log_key, test_key, witness_key, Server};

/// How long a refused start may take to exit: a liveness deadline (it normally exits at once).
const EXIT: Duration = Duration::from_secs(30);

fn chmod(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

fn mode(path: &Path) -> u32 {
    std::fs::symlink_metadata(path)
        .unwrap()
        .permissions()
        .mode()
        & 0o777
}

/// Runs `cmd`, which must exit unsuccessfully: returns its standard error. A command still
/// running after [`EXIT`] was accepted, so the test fails (and the process is killed).
fn refused(mut cmd: Command, what: &str) -> String {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > EXIT {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what}: accepted (still running after {EXIT:?})");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut err = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
    assert!(!status.success(), "{what}: exited with {status}");
    err
}

fn serve(data: &Path) -> Command {
    let mut cmd = Command::new(binary());
    cmd.args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(data)
        .env_remove("DATAPOLE_ADMIN_TOKEN");
    cmd
}

/// Every path under `dir` (itself included) and its mode.
fn modes(dir: &Path) -> Vec<(std::path::PathBuf, u32)> {
    let mut out = vec![(dir.to_owned(), mode(dir))];
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if std::fs::symlink_metadata(&path).unwrap().is_dir() {
            out.extend(modes(&path));
        } else {
            out.push((path.clone(), mode(&path)));
        }
    }
    out
}

#[test]
fn a_data_dir_open_to_other_users_is_refused_with_the_command_that_fixes_it() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir(&data).unwrap();
    for open in [0o755, 0o750, 0o705, 0o702] {
        chmod(&data, open);
        let err = refused(serve(&data), &format!("data dir mode {open:o}"));
        let shown = data.display().to_string();
        assert!(
            err.contains(&shown),
            "{open:o}: the path is not named: {err}"
        );
        assert!(
            err.contains(&format!("chmod -R go-rwx {shown}")),
            "{open:o}: the fix is not given: {err}"
        );
        // Nothing was written: no key, no token, no store.
        assert_eq!(std::fs::read_dir(&data).unwrap().count(), 0, "{open:o}");
    }
    chmod(&data, 0o700);
    let server = Server::start(&data);
    assert_eq!(server.get("/checkpoint").status, 200);
}

#[test]
fn a_fresh_data_dir_is_private_all_the_way_down_and_a_file_inside_open_to_others_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    // A data dir the server creates.
    let data = dir.path().join("data");
    let mut server = Server::start(&data);
    let admin = server.admin_token();
    assert!(admin.len() >= 32, "{admin}");
    assert_eq!(
        server
            .register(&admin, "Org", &["auditor"], &test_key(1))
            .status,
        201
    );
    server.stop();
    // Everything the server created, the store's own files included, is its owner's only.
    let all = modes(&data);
    assert!(all.iter().any(|(p, _)| p.ends_with("store")), "{all:?}");
    for (path, mode) in &all {
        assert_eq!(mode & 0o077, 0, "{} has mode {mode:o}", path.display());
    }
    // One file or directory inside opened to others is enough to refuse.
    let db = all
        .iter()
        .map(|(p, _)| p.clone())
        .find(|p| p.parent() == Some(&data.join("store")) && p.is_file())
        .expect("a file in the store");
    for (path, open) in [
        (db.clone(), 0o644),
        (db.clone(), 0o620),
        (data.join("store"), 0o755),
    ] {
        let private = mode(&path);
        chmod(&path, open);
        let err = refused(serve(&data), &format!("{} {open:o}", path.display()));
        assert!(err.contains(&path.display().to_string()), "{err}");
        assert!(
            err.contains(&format!("chmod -R go-rwx {}", data.display())),
            "{err}"
        );
        chmod(&path, private);
    }
    let server = Server::start(&data);
    assert_eq!(server.size(), 1);
}

#[test]
fn short_admin_tokens_are_refused_from_every_source() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let token_file = dir.path().join("token");
    // The token the server generates is long enough.
    drop(Server::start(&data));
    let own = data.join("admin-token");
    let generated = std::fs::read_to_string(&own).unwrap().trim().to_owned();
    assert!(generated.len() >= 32, "{generated}");
    for len in [1, 31] {
        let short = "t".repeat(len);
        let mut cmd = serve(&data);
        cmd.env("DATAPOLE_ADMIN_TOKEN", &short);
        let err = refused(cmd, &format!("env, {len}"));
        assert!(
            err.contains("DATAPOLE_ADMIN_TOKEN") && err.contains("32 characters"),
            "env, {len}: {err}"
        );

        let _ = std::fs::remove_file(&token_file);
        datapole::cli::write_secret(&token_file, &format!("{short}\n"), false).unwrap();
        let mut cmd = serve(&data);
        cmd.arg("--admin-token-file").arg(&token_file);
        let err = refused(cmd, &format!("file, {len}"));
        assert!(
            err.contains(&token_file.display().to_string()) && err.contains("32 characters"),
            "file, {len}: {err}"
        );

        // The data dir's own token file, replaced by a short one.
        std::fs::remove_file(&own).unwrap();
        datapole::cli::write_secret(&own, &format!("{short}\n"), false).unwrap();
        let err = refused(serve(&data), &format!("data dir file, {len}"));
        assert!(
            err.contains(&own.display().to_string()) && err.contains("32 characters"),
            "data dir file, {len}: {err}"
        );
    }

    // 32 characters are enough, from the environment and from a file.
    let env_token = "e".repeat(32);
    let server = Server::start_with(&data, &[], &[("DATAPOLE_ADMIN_TOKEN", &env_token)]);
    assert_eq!(
        server
            .register(&env_token, "Org", &["auditor"], &test_key(1))
            .status,
        201
    );
    drop(server);
    let file_token = "f".repeat(32);
    std::fs::remove_file(&token_file).unwrap();
    datapole::cli::write_secret(&token_file, &format!("{file_token}\n"), false).unwrap();
    let server = Server::start_with(
        &data,
        &["--admin-token-file", token_file.to_str().unwrap()],
        &[],
    );
    assert_eq!(
        server
            .register(&file_token, "Org", &["auditor"], &test_key(2))
            .status,
        201
    );
}

#[test]
fn the_witness_refuses_a_data_dir_open_to_other_users_and_creates_its_own_private() {
    let dir = tempfile::tempdir().unwrap();
    let (_, log_vkey) = log_key(dir.path(), "witnessed.test/log");
    let (key, _) = witness_key(dir.path(), "witness.test/w1");
    let data = dir.path().join("w");
    std::fs::create_dir(&data).unwrap();
    chmod(&data, 0o755);
    let mut cmd = Command::new(binary());
    cmd.args(["witness", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(&data)
        .arg("--key-file")
        .arg(&key)
        .args(["--log", &log_vkey]);
    let err = refused(cmd, "witness data dir 0755");
    assert!(
        err.contains(&format!("chmod -R go-rwx {}", data.display())),
        "{err}"
    );
    assert_eq!(std::fs::read_dir(&data).unwrap().count(), 0);

    // A data dir the witness creates is private, and so is everything in it.
    let fresh = dir.path().join("fresh");
    let w = Server::start_witness(&fresh, &key, &[&log_vkey], "127.0.0.1:0");
    drop(w);
    for (path, mode) in modes(&fresh) {
        assert_eq!(mode & 0o077, 0, "{} has mode {mode:o}", path.display());
    }
}
