//! The order of the syncs and renames of one batch, as the kernel sees them: the server runs
//! under `strace`, makes one deposit, and the trace shows that every tile and bundle file is
//! fsynced before it is renamed into place, its directory fsynced after the renames, all of
//! it before the state store's sync (sled's `sync_file_range`, then the fsync of its `db`
//! file), and the `checkpoint` object renamed (and its directory fsynced) only after that;
//! all of it before the answer reaches the client. `--nocapture` prints the excerpt.

mod common;

use std::path::Path;
use std::time::Duration;

use common::{deposit_payload, register, Server};
use datapole::statement::deposit::DEPOSIT_TYPE;

/// What one line of the trace did, with the paths strace's `-y` gives for descriptors.
#[derive(Debug, Clone, PartialEq)]
enum Call {
    /// `openat` of a path.
    Open(String),
    /// `fsync` or `fdatasync` of the file or directory at a path.
    Sync(String),
    /// `sync_file_range` of the file at a path.
    SyncRange(String),
    /// A rename.
    Rename(String, String),
    /// `unlink` or `rmdir` of a path.
    Remove(String),
}

#[derive(Debug, Clone)]
struct Event {
    tid: u32,
    time: String,
    call: Call,
    /// The line as strace wrote it (resumed calls joined).
    line: String,
}

/// The first double-quoted string of `s` after `from`, and where it ends.
fn quoted(s: &str, from: usize) -> Option<(String, usize)> {
    let start = from + s.get(from..)?.find('"')? + 1;
    let len = s[start..].find('"')?;
    Some((s[start..start + len].to_owned(), start + len + 1))
}

/// The path `-y` prints after the first descriptor argument: `fsync(12</a/b>)`.
fn fd_path(args: &str) -> Option<String> {
    let start = args.find('<')? + 1;
    let len = args[start..].find(">")?;
    Some(args[start..start + len].to_owned())
}

/// Parses `strace -f -tt -y` lines (`TID HH:MM:SS.us name(args) = ret`), joining
/// `<unfinished ...>` / `<... name resumed>` pairs, and keeps the successful calls.
fn parse(trace: &str) -> Vec<Event> {
    let mut pending: std::collections::HashMap<u32, String> = Default::default();
    let mut events = Vec::new();
    for raw in trace.lines() {
        // strace pads the thread id to five columns: `9967  20:57:07.37 ...`.
        let Some((tid, after)) = raw.trim_start().split_once(' ') else {
            continue;
        };
        let Some((time, rest)) = after.trim_start().split_once(' ') else {
            continue;
        };
        let Ok(tid) = tid.parse::<u32>() else {
            continue;
        };
        let line = if let Some(head) = rest.strip_suffix(" <unfinished ...>") {
            pending.insert(tid, head.to_owned());
            continue;
        } else if rest.starts_with("<... ") {
            let Some(head) = pending.remove(&tid) else {
                continue;
            };
            let Some(tail) = rest.split_once(" resumed>").map(|(_, t)| t) else {
                continue;
            };
            format!("{head}{tail}")
        } else {
            rest.to_owned()
        };
        // Successful calls only: `= 0`, or `= 12</path>` for an open.
        let Some((call, ret)) = line.rsplit_once(") = ") else {
            continue;
        };
        if ret.starts_with('-') || ret.starts_with('?') {
            continue;
        }
        let Some((name, args)) = call.split_once('(') else {
            continue;
        };
        let call = match name {
            "openat" => match fd_path(ret) {
                Some(path) => Call::Open(path),
                None => continue,
            },
            "fsync" | "fdatasync" => match fd_path(args) {
                Some(path) => Call::Sync(path),
                None => continue,
            },
            "sync_file_range" => match fd_path(args) {
                Some(path) => Call::SyncRange(path),
                None => continue,
            },
            "rename" | "renameat" | "renameat2" => {
                let Some((from, end)) = quoted(args, 0) else {
                    continue;
                };
                let Some((to, _)) = quoted(args, end) else {
                    continue;
                };
                Call::Rename(from, to)
            }
            "unlink" | "unlinkat" | "rmdir" => match quoted(args, 0) {
                Some((path, _)) => Call::Remove(path),
                None => continue,
            },
            _ => continue,
        };
        events.push(Event {
            tid,
            time: time.to_owned(),
            call,
            line,
        });
    }
    events
}

fn on_path(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|d| d.join(program).is_file()))
}

/// The traced server process, killed by its pid if the test ends early (strace's own
/// process is the `Server`'s child).
struct Traced {
    pid: Option<u32>,
    data: String,
}

impl Traced {
    /// Whether `pid` is still our server (its command line names our data directory).
    fn alive(&self) -> bool {
        self.pid.is_some_and(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .is_ok_and(|c| String::from_utf8_lossy(&c).contains(&self.data))
        })
    }

    fn signal(&self, signal: &str) {
        if let (true, Some(pid)) = (self.alive(), self.pid) {
            let _ = std::process::Command::new("kill")
                .arg(format!("-{signal}"))
                .arg(pid.to_string())
                .status();
        }
    }
}

impl Drop for Traced {
    fn drop(&mut self) {
        self.signal("KILL");
    }
}

#[test]
fn one_batch_syncs_objects_then_the_state_store_then_the_checkpoint() {
    if !on_path("strace") {
        common::skip("sync_order", "strace is not on PATH");
        return;
    }
    // strace needs ptrace, which a container may forbid.
    let probe = std::process::Command::new("strace")
        .args(["-o", "/dev/null", "true"])
        .stderr(std::process::Stdio::null())
        .status();
    if !probe.is_ok_and(|s| s.success()) {
        common::skip(
            "sync_order",
            "strace cannot trace here (ptrace is not allowed)",
        );
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let trace_path = dir.path().join("trace");
    let trace_arg = trace_path.to_str().unwrap();
    let mut server = Server::start_under(
        &[
            "strace",
            "-f",
            "-tt",
            "-y",
            "-e",
            "trace=fsync,fdatasync,sync_file_range,rename,renameat,renameat2,openat,unlink,unlinkat,rmdir",
            "-o",
            trace_arg,
        ],
        &data,
        &dir.path().join("server.log"),
        &[],
        &[],
    );
    let read_trace = || std::fs::read_to_string(&trace_path).expect("the trace");
    // The first traced call is the dynamic loader's, in the server's main thread: its pid.
    let mut traced = Traced {
        pid: read_trace()
            .split_whitespace()
            .next()
            .and_then(|p| p.parse().ok()),
        data: data.to_str().unwrap().to_owned(),
    };
    assert!(traced.alive(), "the traced server's pid");
    let admin = server.admin_token();
    let depositor = register(&server, &admin, 1, &["depositor"]);
    let payload = deposit_payload(b"one traced deposit\n", "public");
    let envelope = depositor.sign(DEPOSIT_TYPE, &payload);

    // Start-up and the registration's batch have settled (sled's own background flush runs
    // every 500 ms): the trace from here on is the deposit's.
    std::thread::sleep(Duration::from_millis(1500));
    let mark = read_trace().len();
    let a = common::post(&server, "/v1/deposits", &envelope, None);
    assert_eq!(a.status, 201, "{}", a.text());
    let index = a.json()["index"].as_u64().expect("an index");
    // Read only now that the answer is here: everything below happened before it was sent.
    let trace = read_trace();
    let events = parse(&trace[mark..]);

    let public = data.join("public");
    let public = public.to_str().unwrap();
    let tile_dir = format!("{public}/tile/");
    let checkpoint = format!("{public}/checkpoint");
    let db = data.join("store").join("db");
    let db = db.to_str().unwrap();
    let in_dir = |path: &str| {
        Path::new(path)
            .parent()
            .unwrap()
            .to_str()
            .unwrap()
            .to_owned()
    };

    // The excerpt: every sync, rename and removal, in order (the opens are left out).
    println!("The sync order of one batch (a deposit at index {index}), from `strace -f -tt -y`:");
    for e in &events {
        if matches!(e.call, Call::Open(_)) {
            continue;
        }
        let line = e.line.replace(data.to_str().unwrap(), "$DATA");
        println!("{} {} {line}", e.tid, e.time);
    }

    let position = |pred: &dyn Fn(&Call) -> bool| events.iter().position(|e| pred(&e.call));
    let last_position = |pred: &dyn Fn(&Call) -> bool| events.iter().rposition(|e| pred(&e.call));

    // The checkpoint's rename: the end of the batch's commit.
    let cp_rename = position(&|c| matches!(c, Call::Rename(_, to) if *to == checkpoint))
        .expect("the checkpoint object is renamed into place before the answer");
    // The tile and bundle renames, all before it.
    let tile_renames: Vec<(usize, String, String)> = events
        .iter()
        .enumerate()
        .filter_map(|(i, e)| match &e.call {
            Call::Rename(from, to) if to.starts_with(&tile_dir) => {
                Some((i, from.clone(), to.clone()))
            }
            _ => None,
        })
        .collect();
    let targets: Vec<&str> = tile_renames.iter().map(|(_, _, to)| to.as_str()).collect();
    for kind in ["tile/0/", "tile/entries/"] {
        assert!(
            targets
                .iter()
                .any(|t| t.starts_with(&format!("{public}/{kind}"))),
            "no {kind} object renamed for the batch: {targets:?}"
        );
    }
    let mut synced_dirs = Vec::new();
    for (i, from, to) in &tile_renames {
        assert!(*i < cp_rename, "{to} is renamed after the checkpoint");
        // (a) The temporary file was fsynced before its rename.
        assert!(
            Path::new(from)
                .file_name()
                .unwrap()
                .to_str()
                .unwrap()
                .starts_with(".tmp-"),
            "{to} is not written through a temporary file: {from}"
        );
        let fsync = position(&|c| matches!(c, Call::Sync(p) if p == from));
        assert!(
            fsync.is_some_and(|f| f < *i),
            "{from} is not fsynced before its rename to {to}"
        );
        // (b) Its directory is fsynced after the rename (the last one into it).
        let dir = in_dir(to);
        let last_into = last_position(
            &|c| matches!(c, Call::Rename(_, t) if in_dir(t) == dir && t.starts_with(&tile_dir)),
        )
        .unwrap();
        let dir_sync = events[last_into..]
            .iter()
            .position(|e| matches!(&e.call, Call::Sync(p) if *p == dir))
            .map(|k| last_into + k);
        assert!(
            dir_sync.is_some_and(|s| s < cp_rename),
            "{dir} is not fsynced after the renames into it, before the checkpoint"
        );
        synced_dirs.push(dir_sync.unwrap());
    }
    let objects_done = *synced_dirs.iter().max().unwrap();

    // (c) The state store's commit: sled's sync_file_range and our fsync of its `db` file,
    // after every object is durable and before the checkpoint's rename.
    let store_fsync = events[objects_done..cp_rename]
        .iter()
        .rposition(|e| matches!(&e.call, Call::Sync(p) if p == db))
        .map(|k| objects_done + k)
        .expect("no fsync of the state store's db file between the objects and the checkpoint");
    assert!(
        events[objects_done..store_fsync]
            .iter()
            .any(|e| matches!(&e.call, Call::SyncRange(p) if p == db)),
        "sled's flush (sync_file_range of {db}) is not between the objects and the fsync of db"
    );

    // (d) The checkpoint: its temporary file fsynced, then renamed, then `public/` fsynced.
    let Call::Rename(cp_temp, _) = &events[cp_rename].call else {
        unreachable!()
    };
    let cp_temp_sync = position(&|c| matches!(c, Call::Sync(p) if p == cp_temp))
        .expect("the checkpoint's temporary file is fsynced");
    assert!(
        store_fsync < cp_temp_sync,
        "the checkpoint's file is written before the state store's fsync"
    );
    assert!(
        cp_temp_sync < cp_rename,
        "the checkpoint is renamed before it is fsynced"
    );
    assert!(
        events[cp_rename..]
            .iter()
            .any(|e| matches!(&e.call, Call::Sync(p) if p == public)),
        "{public} is not fsynced after the checkpoint's rename, before the answer"
    );

    let published = cp_rename
        + events[cp_rename..]
            .iter()
            .position(|e| matches!(&e.call, Call::Sync(p) if p == public))
            .unwrap();

    // The partial tiles the batch's wider ones replace are removed only once the checkpoint
    // that no longer needs them is published (here the size-1 ones of the registration).
    for e in &events[..published] {
        if let Call::Remove(p) = &e.call {
            assert!(
                !p.starts_with(&tile_dir),
                "{p} is removed before the checkpoint"
            );
        }
    }

    // The one committing thread did all of it.
    let committer = events[cp_rename].tid;
    for i in tile_renames.iter().map(|(i, _, _)| *i).chain([store_fsync]) {
        assert_eq!(events[i].tid, committer, "{}", events[i].line);
    }

    // A clean stop: SIGTERM to the server; strace then exits with its status.
    traced.signal("TERM");
    for _ in 0..200 {
        if !traced.alive() {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(!traced.alive(), "the server did not stop on SIGTERM");
    traced.pid = None;
    server.stop();
}

#[test]
fn the_trace_parser_joins_resumed_calls_and_keeps_successes() {
    // A four-digit thread id is padded to five columns.
    let padded = parse("9967  20:57:07.377728 fsync(25</d/p/tile/entries>) = 0\n");
    assert_eq!(padded.len(), 1);
    assert_eq!(padded[0].tid, 9967);
    let trace = "\
7 10:00:00.000001 openat(AT_FDCWD</d>, \"/d/p/.tmp-c\", O_WRONLY|O_CREAT|O_EXCL|O_CLOEXEC, 0666) = 25</d/p/.tmp-c>
7 10:00:00.000002 fsync(25</d/p/.tmp-c> <unfinished ...>
9 10:00:00.000003 sync_file_range(3</d/store/db>, 854, 24, SYNC_FILE_RANGE_WRITE) = 0
7 10:00:00.000004 <... fsync resumed>) = 0
7 10:00:00.000005 renameat2(AT_FDCWD</d>, \"/d/p/.tmp-c\", AT_FDCWD</d>, \"/d/p/checkpoint\", 0) = 0
7 10:00:00.000006 openat(AT_FDCWD</d>, \"/d/none\", O_RDONLY|O_CLOEXEC) = -1 ENOENT (No such file or directory)
7 10:00:00.000007 unlink(\"/d/p/tile/0/000.p/1\") = 0
7 10:00:00.000008 +++ exited with 0 +++
";
    let calls: Vec<(u32, Call)> = parse(trace).into_iter().map(|e| (e.tid, e.call)).collect();
    assert_eq!(
        calls,
        [
            (7, Call::Open("/d/p/.tmp-c".into())),
            (9, Call::SyncRange("/d/store/db".into())),
            (7, Call::Sync("/d/p/.tmp-c".into())),
            (
                7,
                Call::Rename("/d/p/.tmp-c".into(), "/d/p/checkpoint".into())
            ),
            (7, Call::Remove("/d/p/tile/0/000.p/1".into())),
        ]
    );
}
