//! The few file-system calls the object directory makes, behind a trait, so that a twin can
//! play a power cut: [`OsFs`] is the real one; [`LossyFs`] keeps, beside what every call
//! sees, what a power cut would leave, and loses the rest when told to.
//!
//! The twin follows what Linux promises (and nothing more): a file's content survives once the
//! file is `fsync`ed; a name (a file created, renamed or removed, a directory created) survives
//! once its directory is `fsync`ed; nothing else does.

use std::collections::BTreeMap;
use std::io;
use std::path::{Component, Path, PathBuf};
use std::sync::Mutex;

/// The calls [`super::objects::DirObjects`] makes.
pub trait Fs: Send + Sync + 'static {
    /// Whether `path` is a directory.
    fn is_dir(&self, path: &Path) -> bool;
    /// Creates the directory `path` (its parent exists); `AlreadyExists` if it does.
    fn create_dir(&self, path: &Path) -> io::Result<()>;
    /// Creates the new file `path` (`AlreadyExists` if it exists), writes `data` and `fsync`s
    /// it, on one descriptor (so that a write-back error is reported to this `fsync`).
    fn write_synced(&self, path: &Path, data: &[u8]) -> io::Result<()>;
    /// `fsync` of the directory `path`.
    fn sync_dir(&self, path: &Path) -> io::Result<()>;
    /// Renames `from` over `to`, atomically.
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()>;
    /// The content of the file `path`.
    fn read(&self, path: &Path) -> io::Result<Vec<u8>>;
    /// Removes the file `path`.
    fn remove_file(&self, path: &Path) -> io::Result<()>;
    /// Removes the empty directory `path`.
    fn remove_dir(&self, path: &Path) -> io::Result<()>;
    /// The names in the directory `path`, each with whether it is a directory.
    fn list(&self, path: &Path) -> io::Result<Vec<(String, bool)>>;
}

/// The operating system's file system.
#[derive(Debug, Default, Clone, Copy)]
pub struct OsFs;

impl Fs for OsFs {
    fn is_dir(&self, path: &Path) -> bool {
        path.is_dir()
    }

    fn create_dir(&self, path: &Path) -> io::Result<()> {
        std::fs::create_dir(path)
    }

    fn write_synced(&self, path: &Path, data: &[u8]) -> io::Result<()> {
        use std::io::Write;
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(path)?;
        file.write_all(data)?;
        file.sync_all()
    }

    fn sync_dir(&self, path: &Path) -> io::Result<()> {
        super::durable::sync_dir(path)
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        std::fs::rename(from, to)
    }

    fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        std::fs::read(path)
    }

    fn remove_file(&self, path: &Path) -> io::Result<()> {
        std::fs::remove_file(path)
    }

    fn remove_dir(&self, path: &Path) -> io::Result<()> {
        std::fs::remove_dir(path)
    }

    fn list(&self, path: &Path) -> io::Result<Vec<(String, bool)>> {
        let mut out = Vec::new();
        for entry in std::fs::read_dir(path)? {
            let entry = entry?;
            out.push((
                entry.file_name().to_string_lossy().into_owned(),
                entry.file_type()?.is_dir(),
            ));
        }
        Ok(out)
    }
}

/// A node of the twin: a file's content, or a directory's names (each naming a node).
#[derive(Debug, Clone)]
enum Node {
    File {
        /// What reads see.
        seen: Vec<u8>,
        /// What a power cut leaves (the content at the last `fsync`).
        kept: Vec<u8>,
    },
    Dir {
        /// The names reads see.
        seen: BTreeMap<String, usize>,
        /// The names a power cut leaves (those at the last `fsync` of the directory).
        kept: BTreeMap<String, usize>,
    },
}

/// A file system in memory that loses, at a power cut ([`LossyFs::power_cut`]), every byte and
/// every name that no `fsync` covered. After [`LossyFs::fail_after`] mutating calls, every
/// call fails, as if the power went then.
#[derive(Debug)]
pub struct LossyFs {
    inner: Mutex<Lossy>,
}

#[derive(Debug, Clone)]
struct Lossy {
    nodes: Vec<Node>,
    /// Mutating calls left before the power goes (`None`: it stays).
    budget: Option<u64>,
    /// Mutating calls made.
    calls: u64,
}

fn not_found(path: &Path) -> io::Error {
    io::Error::new(io::ErrorKind::NotFound, path.display().to_string())
}

fn names(path: &Path) -> Vec<String> {
    path.components()
        .filter_map(|c| match c {
            Component::Normal(n) => Some(n.to_string_lossy().into_owned()),
            _ => None,
        })
        .collect()
}

impl Lossy {
    fn lookup(&self, path: &Path) -> Option<usize> {
        let mut at = 0;
        for name in names(path) {
            match &self.nodes[at] {
                Node::Dir { seen, .. } => at = *seen.get(&name)?,
                Node::File { .. } => return None,
            }
        }
        Some(at)
    }

    /// The directory holding `path` and the last name.
    fn parent(&self, path: &Path) -> io::Result<(usize, String)> {
        let mut parts = names(path);
        let last = parts.pop().ok_or_else(|| not_found(path))?;
        let dir: PathBuf = parts.iter().collect();
        let at = self.lookup(&dir).ok_or_else(|| not_found(path))?;
        match self.nodes[at] {
            Node::Dir { .. } => Ok((at, last)),
            Node::File { .. } => Err(not_found(path)),
        }
    }

    fn dir_mut(&mut self, at: usize) -> &mut BTreeMap<String, usize> {
        match &mut self.nodes[at] {
            Node::Dir { seen, .. } => seen,
            Node::File { .. } => unreachable!("checked to be a directory"),
        }
    }

    /// Counts a mutating call; fails once the power is gone.
    fn spend(&mut self) -> io::Result<()> {
        if let Some(b) = self.budget.as_mut() {
            if *b == 0 {
                return Err(io::Error::other("power cut"));
            }
            *b -= 1;
        }
        self.calls += 1;
        Ok(())
    }

    fn link(&mut self, path: &Path, node: Node) -> io::Result<usize> {
        let (dir, name) = self.parent(path)?;
        if self.nodes[dir].clone_names().contains_key(&name) {
            return Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                path.display().to_string(),
            ));
        }
        self.nodes.push(node);
        let id = self.nodes.len() - 1;
        self.dir_mut(dir).insert(name, id);
        Ok(id)
    }
}

impl Node {
    fn clone_names(&self) -> BTreeMap<String, usize> {
        match self {
            Node::Dir { seen, .. } => seen.clone(),
            Node::File { .. } => BTreeMap::new(),
        }
    }
}

impl Default for LossyFs {
    fn default() -> Self {
        Self::new()
    }
}

impl LossyFs {
    /// An empty file system: a root directory, durable.
    pub fn new() -> Self {
        Self {
            inner: Mutex::new(Lossy {
                nodes: vec![Node::Dir {
                    seen: BTreeMap::new(),
                    kept: BTreeMap::new(),
                }],
                budget: None,
                calls: 0,
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Lossy> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// After `calls` more mutating calls, the power goes: every later call fails.
    pub fn fail_after(&self, calls: Option<u64>) {
        self.lock().budget = calls;
    }

    /// The mutating calls made so far.
    pub fn calls(&self) -> u64 {
        self.lock().calls
    }

    /// What the disk holds after a power cut now: only what was synced, power back on.
    pub fn power_cut(&self) -> LossyFs {
        let inner = self.lock();
        let nodes = inner
            .nodes
            .iter()
            .map(|n| match n {
                Node::File { kept, .. } => Node::File {
                    seen: kept.clone(),
                    kept: kept.clone(),
                },
                Node::Dir { kept, .. } => Node::Dir {
                    seen: kept.clone(),
                    kept: kept.clone(),
                },
            })
            .collect();
        LossyFs {
            inner: Mutex::new(Lossy {
                nodes,
                budget: None,
                calls: 0,
            }),
        }
    }
}

impl Fs for LossyFs {
    fn is_dir(&self, path: &Path) -> bool {
        let inner = self.lock();
        inner
            .lookup(path)
            .is_some_and(|at| matches!(inner.nodes[at], Node::Dir { .. }))
    }

    fn create_dir(&self, path: &Path) -> io::Result<()> {
        let mut inner = self.lock();
        inner.spend()?;
        inner
            .link(
                path,
                Node::Dir {
                    seen: BTreeMap::new(),
                    kept: BTreeMap::new(),
                },
            )
            .map(drop)
    }

    /// Two steps, each a call the power can cut after: the file created and written (its
    /// content not yet durable), then synced.
    fn write_synced(&self, path: &Path, data: &[u8]) -> io::Result<()> {
        let mut inner = self.lock();
        inner.spend()?;
        let at = inner.link(
            path,
            Node::File {
                seen: data.to_vec(),
                kept: Vec::new(),
            },
        )?;
        inner.spend()?;
        if let Node::File { seen, kept } = &mut inner.nodes[at] {
            *kept = seen.clone();
        }
        Ok(())
    }

    fn sync_dir(&self, path: &Path) -> io::Result<()> {
        let mut inner = self.lock();
        inner.spend()?;
        let at = inner.lookup(path).ok_or_else(|| not_found(path))?;
        match &mut inner.nodes[at] {
            Node::Dir { seen, kept } => *kept = seen.clone(),
            Node::File { .. } => return Err(io::Error::other("not a directory")),
        }
        Ok(())
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        let mut inner = self.lock();
        inner.spend()?;
        let (from_dir, from_name) = inner.parent(from)?;
        let (to_dir, to_name) = inner.parent(to)?;
        let id = inner
            .dir_mut(from_dir)
            .remove(&from_name)
            .ok_or_else(|| not_found(from))?;
        inner.dir_mut(to_dir).insert(to_name, id);
        Ok(())
    }

    fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        let inner = self.lock();
        if inner.budget == Some(0) {
            return Err(io::Error::other("power cut"));
        }
        let at = inner.lookup(path).ok_or_else(|| not_found(path))?;
        match &inner.nodes[at] {
            Node::File { seen, .. } => Ok(seen.clone()),
            Node::Dir { .. } => Err(io::Error::other("a directory")),
        }
    }

    fn remove_file(&self, path: &Path) -> io::Result<()> {
        let mut inner = self.lock();
        inner.spend()?;
        let (dir, name) = inner.parent(path)?;
        inner
            .dir_mut(dir)
            .remove(&name)
            .map(drop)
            .ok_or_else(|| not_found(path))
    }

    fn remove_dir(&self, path: &Path) -> io::Result<()> {
        let mut inner = self.lock();
        inner.spend()?;
        let at = inner.lookup(path).ok_or_else(|| not_found(path))?;
        if !inner.nodes[at].clone_names().is_empty() {
            return Err(io::Error::other("directory not empty"));
        }
        let (dir, name) = inner.parent(path)?;
        inner.dir_mut(dir).remove(&name);
        Ok(())
    }

    fn list(&self, path: &Path) -> io::Result<Vec<(String, bool)>> {
        let inner = self.lock();
        let at = inner.lookup(path).ok_or_else(|| not_found(path))?;
        match &inner.nodes[at] {
            Node::Dir { seen, .. } => Ok(seen
                .iter()
                .map(|(n, &id)| (n.clone(), matches!(inner.nodes[id], Node::Dir { .. })))
                .collect()),
            Node::File { .. } => Err(io::Error::other("not a directory")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_power_cut_keeps_only_what_was_synced() {
        let fs = LossyFs::new();
        fs.create_dir(Path::new("/d")).unwrap();
        fs.sync_dir(Path::new("/")).unwrap();
        // Written (the power cut before its sync), renamed: gone.
        fs.fail_after(Some(1));
        assert!(fs.write_synced(Path::new("/d/a.tmp"), b"a").is_err());
        fs.fail_after(None);
        fs.rename(Path::new("/d/a.tmp"), Path::new("/d/a")).unwrap();
        // Synced file, directory not synced: the name is gone.
        fs.write_synced(Path::new("/d/b"), b"b").unwrap();
        let cut = fs.power_cut();
        assert!(cut.is_dir(Path::new("/d")));
        assert!(cut.list(Path::new("/d")).unwrap().is_empty());
        // Synced file and directory: kept, with the synced content only.
        fs.sync_dir(Path::new("/d")).unwrap();
        let cut = fs.power_cut();
        assert_eq!(cut.read(Path::new("/d/b")).unwrap(), b"b");
        // The unsynced `a` was renamed before the directory's sync: its name is kept, its
        // content (never synced) is empty, as on a real disk after a crash.
        assert_eq!(cut.read(Path::new("/d/a")).unwrap(), b"");
        // A directory never synced into its parent is lost with everything in it.
        fs.create_dir(Path::new("/e")).unwrap();
        fs.write_synced(Path::new("/e/c"), b"c").unwrap();
        fs.sync_dir(Path::new("/e")).unwrap();
        assert!(!fs.power_cut().is_dir(Path::new("/e")));
    }

    #[test]
    fn after_the_budget_every_call_fails() {
        let fs = LossyFs::new();
        fs.fail_after(Some(1));
        fs.create_dir(Path::new("/a")).unwrap();
        // Reads fail once the power is gone.
        assert!(fs.create_dir(Path::new("/b")).is_err());
        assert!(fs.read(Path::new("/a")).is_err());
        assert_eq!(fs.calls(), 1);
    }
}
