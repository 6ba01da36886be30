//! c2sp.org/tlog-tiles resources: tile paths (`tile/<L>/<N>[.p/<W>]`,
//! `tile/entries/<N>[.p/<W>]`, height 8, `N` in the `x001/x234/067` form), hash tiles read from
//! the stored hashes, and entry bundles (each entry a big-endian uint16 length, then its bytes).

/// Tile height: each tile covers 2^8 = 256 hashes or entries.
pub const TILE_HEIGHT: u8 = 8;
/// Hashes (or entries) in a full tile.
pub const TILE_WIDTH: u64 = 1 << TILE_HEIGHT;
/// The highest hash-tile level a 64-bit tree can need.
const MAX_LEVEL: u8 = 63 / TILE_HEIGHT;

/// Which resource a tile path names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TileKind {
    /// A hash tile at tile level `L` (tree level `8·L`).
    Hash(u8),
    /// An entry bundle.
    Entries,
}

/// A parsed tile path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TilePath {
    /// Hash tile or entry bundle.
    pub kind: TileKind,
    /// The tile's index within its level.
    pub n: u64,
    /// Its width, 1..=256 (256 is a full tile).
    pub width: u64,
}

/// A path that is not a canonical c2sp.org/tlog-tiles tile path.
#[derive(Debug, thiserror::Error)]
#[error("malformed tile path {path:?}: {reason}")]
pub struct TilePathError {
    /// The path as given.
    pub path: String,
    /// What is wrong with it.
    pub reason: &'static str,
}

fn decimal(s: &str) -> Option<u64> {
    // Canonical decimal: digits only, no leading zero unless the number is zero.
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) || (s.len() > 1 && s.starts_with('0'))
    {
        return None;
    }
    s.parse().ok()
}

impl TilePath {
    /// A full hash tile or bundle.
    pub fn full(kind: TileKind, n: u64) -> Self {
        Self {
            kind,
            n,
            width: TILE_WIDTH,
        }
    }

    /// Parses the part after `tile/`, e.g. `0/x001/234`, `entries/005.p/17`.
    pub fn parse(rest: &str) -> Result<Self, TilePathError> {
        let err = |reason| TilePathError {
            path: format!("tile/{rest}"),
            reason,
        };
        if rest.len() > 64 {
            return Err(err("too long"));
        }
        let (level, rest_n) = rest.split_once('/').ok_or(err("no tile index"))?;
        let kind = if level == "entries" {
            TileKind::Entries
        } else {
            let l = decimal(level).ok_or(err("level is not a number"))?;
            if l > u64::from(MAX_LEVEL) {
                return Err(err("level too high"));
            }
            TileKind::Hash(l as u8)
        };
        let (index, width) = match rest_n.split_once(".p/") {
            Some((index, w)) => {
                let w = decimal(w).ok_or(err("partial width is not a number"))?;
                if w == 0 || w >= TILE_WIDTH {
                    return Err(err("partial width must be 1 to 255"));
                }
                (index, w)
            }
            None => (rest_n, TILE_WIDTH),
        };
        let mut n: u64 = 0;
        let groups: Vec<&str> = index.split('/').collect();
        for (i, group) in groups.iter().enumerate() {
            let last = i + 1 == groups.len();
            let digits = if last {
                *group
            } else {
                group
                    .strip_prefix('x')
                    .ok_or(err("index group lacks its x"))?
            };
            if digits.len() != 3 || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return Err(err("index groups are three digits"));
            }
            let g: u64 = digits.parse().map_err(|_| err("bad index group"))?;
            n = n
                .checked_mul(1000)
                .and_then(|n| n.checked_add(g))
                .ok_or(err("index too large"))?;
        }
        let path = Self { kind, n, width };
        // Only the canonical spelling (no leading x000 groups) names a tile.
        if path.path() != format!("tile/{rest}") {
            return Err(err("not in canonical form"));
        }
        Ok(path)
    }

    /// The tile's path, `tile/...`.
    pub fn path(&self) -> String {
        let mut n = self.n;
        let mut s = format!("{:03}", n % 1000);
        while n >= 1000 {
            n /= 1000;
            s = format!("x{:03}/{s}", n % 1000);
        }
        let level = match self.kind {
            TileKind::Hash(l) => l.to_string(),
            TileKind::Entries => "entries".into(),
        };
        if self.width == TILE_WIDTH {
            format!("tile/{level}/{s}")
        } else {
            format!("tile/{level}/{s}.p/{}", self.width)
        }
    }

    /// Whether this is a full (immutable) tile.
    pub fn is_full(&self) -> bool {
        self.width == TILE_WIDTH
    }

    /// The range of level positions the tile covers, if it lies within a tree of `size` leaves.
    pub fn span(&self, size: u64) -> Option<(u64, u64)> {
        let positions = match self.kind {
            TileKind::Hash(l) => size >> (u32::from(l) * u32::from(TILE_HEIGHT)),
            TileKind::Entries => size,
        };
        let start = self.n.checked_mul(TILE_WIDTH)?;
        let end = start.checked_add(self.width)?;
        (end <= positions).then_some((start, end))
    }
}

/// Frames entries as an entry bundle. Entries are at most [`super::MAX_ENTRY_SIZE`] bytes.
pub fn bundle<E: AsRef<[u8]>>(entries: &[E]) -> Vec<u8> {
    let mut out = Vec::with_capacity(entries.iter().map(|e| e.as_ref().len() + 2).sum());
    for e in entries {
        let e = e.as_ref();
        // The sequencer refuses longer entries, so the length fits in 16 bits.
        let len = u16::try_from(e.len()).unwrap_or(u16::MAX);
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(&e[..usize::from(len)]);
    }
    out
}

/// Splits an entry bundle back into its entries; `None` if it is not well framed.
pub fn unbundle(mut bytes: &[u8]) -> Option<Vec<Vec<u8>>> {
    let mut out = Vec::new();
    while !bytes.is_empty() {
        let len = usize::from(u16::from_be_bytes(bytes.get(..2)?.try_into().ok()?));
        out.push(bytes.get(2..2 + len)?.to_vec());
        bytes = &bytes[2 + len..];
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_round_trip() {
        for (s, kind, n, w) in [
            ("0/000", TileKind::Hash(0), 0, 256),
            ("1/x001/x234/067", TileKind::Hash(1), 1_234_067, 256),
            ("entries/004.p/76", TileKind::Entries, 4, 76),
            ("2/x001/000.p/1", TileKind::Hash(2), 1000, 1),
        ] {
            let p = TilePath::parse(s).unwrap();
            assert_eq!((p.kind, p.n, p.width), (kind, n, w), "{s}");
            assert_eq!(p.path(), format!("tile/{s}"));
        }
    }

    #[test]
    fn bad_paths_are_refused() {
        for s in [
            "",
            "0",
            "0/",
            "0/1",
            "0/0000",
            "00/000",
            "0/x000/001",
            "0/001.p/0",
            "0/001.p/256",
            "0/001.p/007",
            "8/000",
            "x/000",
            "entries/1/000",
            "0/001/002",
            "0/-01",
            "0/000.p/",
            "0/x1000/000",
        ] {
            assert!(TilePath::parse(s).is_err(), "{s} should be refused");
        }
    }

    #[test]
    fn bundles_round_trip() {
        let entries = vec![b"a".to_vec(), vec![], vec![7; 300]];
        assert_eq!(unbundle(&bundle(&entries)).unwrap(), entries);
        assert!(unbundle(&[0, 5, 1]).is_none());
    }
}
