//! Encryption at rest of private objects, in the age format (age-encryption.org/v1), through
//! the `age` crate.
//!
//! Each private object has its own [`ObjectKey`], an age X25519 identity, which the caller keeps
//! in a store whose records are erased by destroying their keys (crypto-shredding): disposing of
//! a dataset destroys its key, and every copy of the ciphertext, backups included, becomes
//! noise. An object may also be encrypted to the depositor's own age recipient, so that the
//! depositor can decrypt a copy offline with the `age` or `rage` tools.
//!
//! age streams the payload in 64 KiB chunks, each authenticated (ChaCha20-Poly1305, STREAM
//! construction), so that [`DecryptReader`] can seek to any offset and read a range (an HTTP
//! `Range` request) by decrypting only the chunks it covers, and a truncated or altered
//! ciphertext fails to read rather than yield wrong bytes.

use std::io::{self, BufReader, Read, Seek, SeekFrom, Write};
use std::sync::{Arc, Mutex};

use age::secrecy::ExposeSecret;
use age::stream::{StreamReader, StreamWriter};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use super::{ArchiveError, Written};

/// The key of one private object: an age X25519 identity (`AGE-SECRET-KEY-1…`).
#[derive(Clone)]
pub struct ObjectKey(age::x25519::Identity);

impl std::fmt::Debug for ObjectKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The recipient is public; the identity never appears in a log line.
        write!(f, "ObjectKey({})", self.recipient())
    }
}

impl ObjectKey {
    /// A new random key.
    pub fn generate() -> Self {
        Self(age::x25519::Identity::generate())
    }

    /// The key as the bytes of its `AGE-SECRET-KEY-1…` string (what an age identity file
    /// holds), wiped from memory when dropped.
    pub fn to_bytes(&self) -> Zeroizing<Vec<u8>> {
        Zeroizing::new(self.0.to_string().expose_secret().as_bytes().to_vec())
    }

    /// The key from the bytes [`ObjectKey::to_bytes`] gave.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, ArchiveError> {
        let text = std::str::from_utf8(bytes)
            .map_err(|_| ArchiveError::Crypto("object key is not text".into()))?;
        text.trim()
            .parse()
            .map(Self)
            .map_err(|e: &str| ArchiveError::Crypto(format!("object key: {e}")))
    }

    /// The public half (`age1…`), to which objects are encrypted.
    pub fn recipient(&self) -> age::x25519::Recipient {
        self.0.to_public()
    }
}

/// An age encryption in progress, writing the ciphertext to `W`. [`EncryptWriter::finish`]
/// must be called: without it the ciphertext lacks its last chunk and does not decrypt.
pub struct EncryptWriter<W: Write>(StreamWriter<W>);

impl<W: Write> EncryptWriter<W> {
    /// Writes the last chunk and returns the output.
    pub fn finish(self) -> io::Result<W> {
        self.0.finish()
    }
}

impl<W: Write> Write for EncryptWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}

/// Starts an age encryption to `key` and to the `extra` recipients (a depositor's own), whose
/// ciphertext goes to `out` (the header is written at once).
pub fn encrypt_to<W: Write>(
    key: &ObjectKey,
    extra: &[age::x25519::Recipient],
    out: W,
) -> Result<EncryptWriter<W>, ArchiveError> {
    let own = key.recipient();
    let recipients = std::iter::once(&own)
        .chain(extra)
        .map(|r| r as &dyn age::Recipient);
    let encryptor = age::Encryptor::with_recipients(recipients)
        .map_err(|e| ArchiveError::Crypto(format!("encrypting: {e}")))?;
    encryptor
        .wrap_output(out)
        .map(EncryptWriter)
        .map_err(|e| ArchiveError::Crypto(format!("writing the age header: {e}")))
}

/// A shared buffer that an [`EncryptWriter`] writes ciphertext into and an
/// [`EncryptReader`] drains.
#[derive(Clone, Default)]
struct Spool(Arc<Mutex<Vec<u8>>>);

impl Spool {
    /// Moves what was written into `out` (emptied first).
    fn drain_into(&self, out: &mut Vec<u8>) {
        out.clear();
        // A Vec is valid whatever a panic interrupted: a poisoned lock is still good.
        let mut spool = self.0.lock().unwrap_or_else(|p| p.into_inner());
        std::mem::swap(&mut *spool, out);
    }
}

impl Write for Spool {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let mut spool = self.0.lock().unwrap_or_else(|p| p.into_inner());
        spool.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// The age ciphertext of a plaintext `Read`, as a `Read`: what
/// [`super::Location::write_incoming`] takes, so that a private dataset is encrypted as it is
/// stored, in constant memory. It also hashes the plaintext on the way.
pub struct EncryptReader<R> {
    src: R,
    /// `None` once the plaintext has ended and the last chunk is written.
    writer: Option<StreamWriter<Spool>>,
    spool: Spool,
    /// Ciphertext ready to be read, from `pos` on.
    out: Vec<u8>,
    pos: usize,
    buf: Vec<u8>,
    plain: Sha256,
    plain_size: u64,
}

/// The plaintext read per step: one age chunk.
const STEP: usize = 64 * 1024;

/// Encrypts what `src` yields, to `key` and the `extra` recipients, as it is read.
pub fn encrypt_reader<R: Read>(
    key: &ObjectKey,
    extra: &[age::x25519::Recipient],
    src: R,
) -> Result<EncryptReader<R>, ArchiveError> {
    let spool = Spool::default();
    let writer = encrypt_to(key, extra, spool.clone())?.0;
    Ok(EncryptReader {
        src,
        writer: Some(writer),
        spool,
        out: Vec::new(),
        pos: 0,
        buf: vec![0; STEP],
        plain: Sha256::new(),
        plain_size: 0,
    })
}

impl<R> EncryptReader<R> {
    /// The size and SHA-256 of the plaintext, once it has all been read (`None` before).
    pub fn plaintext(&self) -> Option<Written> {
        self.writer.is_none().then(|| Written {
            size: self.plain_size,
            sha256: self.plain.clone().finalize().into(),
        })
    }
}

impl<R: Read> Read for EncryptReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.pos == self.out.len() {
            let Some(writer) = self.writer.as_mut() else {
                return Ok(0);
            };
            let n = match self.src.read(&mut self.buf) {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if n == 0 {
                if let Some(writer) = self.writer.take() {
                    writer.finish()?;
                }
            } else {
                self.plain.update(&self.buf[..n]);
                self.plain_size += n as u64;
                writer.write_all(&self.buf[..n])?;
            }
            self.spool.drain_into(&mut self.out);
            self.pos = 0;
        }
        let n = buf.len().min(self.out.len() - self.pos);
        buf[..n].copy_from_slice(&self.out[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

/// The plaintext of an age ciphertext: `Read + Seek`, decrypting only the chunks read.
pub struct DecryptReader<R: Read>(StreamReader<BufReader<R>>);

impl<R: Read + Seek> DecryptReader<R> {
    /// The plaintext's length (read from the ciphertext's length, whose last chunk is
    /// authenticated on the way); the position is kept.
    pub fn plaintext_len(&mut self) -> io::Result<u64> {
        let at = self.0.stream_position()?;
        let len = self.0.seek(SeekFrom::End(0))?;
        self.0.seek(SeekFrom::Start(at))?;
        Ok(len)
    }
}

impl<R: Read> Read for DecryptReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.read(buf)
    }
}

impl<R: Read + Seek> Seek for DecryptReader<R> {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        self.0.seek(pos)
    }
}

/// Opens the age ciphertext `input` (positioned at its start) with `key`. Fails with
/// [`ArchiveError::Crypto`] if it is not an age file or `key` is not one of its recipients.
pub fn decrypt<R: Read + Seek>(
    key: &ObjectKey,
    input: R,
) -> Result<DecryptReader<R>, ArchiveError> {
    let decryptor = age::Decryptor::new_buffered(BufReader::new(input))
        .map_err(|e| ArchiveError::Crypto(format!("reading the age header: {e}")))?;
    decryptor
        .decrypt(std::iter::once(&key.0 as &dyn age::Identity))
        .map(DecryptReader)
        .map_err(|e| ArchiveError::Crypto(format!("decrypting: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    /// A plaintext no two 16-byte windows of which are alike: a counter, big-endian.
    fn plaintext(len: usize) -> Vec<u8> {
        (0..len.div_ceil(8) as u64)
            .flat_map(|i| (i ^ 0x5a5a_0000_0000_0000).to_be_bytes())
            .take(len)
            .collect()
    }

    fn encrypt(key: &ObjectKey, extra: &[age::x25519::Recipient], plain: &[u8]) -> Vec<u8> {
        let mut w = encrypt_to(key, extra, Vec::new()).unwrap();
        w.write_all(plain).unwrap();
        w.finish().unwrap()
    }

    const K: usize = 1024;
    const SIZES: [usize; 6] = [0, 1, 64 * K - 1, 64 * K, 64 * K + 1, 1024 * K + 17];

    #[test]
    fn round_trip_at_every_chunk_boundary() {
        let key = ObjectKey::generate();
        for size in SIZES {
            let plain = plaintext(size);
            let cipher = encrypt(&key, &[], &plain);
            let mut back = Vec::new();
            let mut r = decrypt(&key, Cursor::new(&cipher)).unwrap();
            r.read_to_end(&mut back).unwrap();
            assert_eq!(back, plain, "size {size}");
            assert_eq!(r.plaintext_len().unwrap(), size as u64);
            // Overhead: the header and a 16-byte tag per 64 KiB chunk (at least one).
            let chunks = size.div_ceil(64 * K).max(1);
            assert!(cipher.len() > size + 16 * chunks, "size {size}");
        }
    }

    #[test]
    fn the_encrypting_reader_writes_the_same_format() {
        let key = ObjectKey::generate();
        for size in SIZES {
            let plain = plaintext(size);
            // A source that yields odd-sized reads.
            let src = Cursor::new(plain.clone()).chain(&[][..]);
            let mut r = encrypt_reader(&key, &[], src).unwrap();
            assert_eq!(r.plaintext(), None);
            let mut cipher = Vec::new();
            let mut buf = [0u8; 1000];
            loop {
                let n = r.read(&mut buf).unwrap();
                if n == 0 {
                    break;
                }
                cipher.extend_from_slice(&buf[..n]);
            }
            assert_eq!(r.plaintext(), Some(Written::of(&plain)), "size {size}");
            assert_eq!(r.read(&mut buf).unwrap(), 0);
            let mut back = Vec::new();
            decrypt(&key, Cursor::new(&cipher))
                .unwrap()
                .read_to_end(&mut back)
                .unwrap();
            assert_eq!(back, plain, "size {size}");
        }
    }

    #[test]
    fn seeking_reads_any_range() {
        let key = ObjectKey::generate();
        let size = 1024 * K + 17;
        let plain = plaintext(size);
        let cipher = encrypt(&key, &[], &plain);
        let mut r = decrypt(&key, Cursor::new(&cipher)).unwrap();
        let c = 64 * K;
        let ranges = [
            (0, 10),
            (c - 5, 10),
            (c, c),
            (3 * c + 7, 2 * c + 3),
            (size - 17, 17),
            (size - 1, 1),
            (5, 0),
            (12_345, 300_000),
            (0, size),
        ];
        for (start, len) in ranges {
            r.seek(SeekFrom::Start(start as u64)).unwrap();
            let mut got = vec![0u8; len];
            r.read_exact(&mut got).unwrap();
            assert_eq!(got, plain[start..start + len], "range {start}+{len}");
        }
        // Backwards, from the end, and at the very end.
        r.seek(SeekFrom::End(-100)).unwrap();
        let mut got = vec![0u8; 100];
        r.read_exact(&mut got).unwrap();
        assert_eq!(got, plain[size - 100..]);
        r.seek(SeekFrom::Current(-(size as i64) + 50)).unwrap();
        r.read_exact(&mut got[..10]).unwrap();
        assert_eq!(got[..10], plain[50..60]);
        assert_eq!(r.seek(SeekFrom::End(0)).unwrap(), size as u64);
        assert_eq!(r.read(&mut got).unwrap(), 0);
        // The length, asked first, on a fresh reader.
        let mut r = decrypt(&key, Cursor::new(&cipher)).unwrap();
        assert_eq!(r.plaintext_len().unwrap(), size as u64);
        let mut all = Vec::new();
        r.read_to_end(&mut all).unwrap();
        assert_eq!(all, plain);
    }

    #[test]
    fn a_wrong_key_or_an_altered_ciphertext_fails() {
        let key = ObjectKey::generate();
        let plain = plaintext(200 * K);
        let cipher = encrypt(&key, &[], &plain);
        let other = ObjectKey::generate();
        assert!(matches!(
            decrypt(&other, Cursor::new(&cipher)),
            Err(ArchiveError::Crypto(_))
        ));
        assert!(matches!(
            decrypt(&key, Cursor::new(&plain)),
            Err(ArchiveError::Crypto(_))
        ));
        // One bit flipped in the second chunk: reading through it fails.
        let mut altered = cipher.clone();
        let at = altered.len() - 100 * K;
        altered[at] ^= 1;
        let mut r = decrypt(&key, Cursor::new(&altered)).unwrap();
        let mut back = Vec::new();
        assert!(r.read_to_end(&mut back).is_err());
        // Truncated at a chunk boundary: the length and a full read both fail.
        let truncated = &cipher[..cipher.len() - (200 * K - 3 * 64 * K) - 16];
        let mut r = decrypt(&key, Cursor::new(truncated)).unwrap();
        assert!(r.plaintext_len().is_err());
        let mut r = decrypt(&key, Cursor::new(truncated)).unwrap();
        assert!(r.read_to_end(&mut Vec::new()).is_err());
    }

    #[test]
    fn the_ciphertext_does_not_hold_the_plaintext() {
        let key = ObjectKey::generate();
        let plain = plaintext(300 * K);
        let cipher = encrypt(&key, &[], &plain);
        for start in (0..plain.len() - 16).step_by(4093) {
            let window = &plain[start..start + 16];
            assert!(
                !cipher.windows(16).any(|w| w == window),
                "plaintext at {start} found in the ciphertext"
            );
        }
        // Two encryptions of one plaintext share nothing either (a fresh file key each).
        let again = encrypt(&key, &[], &plain);
        assert_ne!(cipher[cipher.len() - 64..], again[again.len() - 64..]);
    }

    #[test]
    fn a_key_survives_its_bytes_and_not_a_damaged_copy() {
        let key = ObjectKey::generate();
        let bytes = key.to_bytes();
        assert!(bytes.starts_with(b"AGE-SECRET-KEY-1"));
        let back = ObjectKey::from_bytes(&bytes).unwrap();
        assert_eq!(back.recipient().to_string(), key.recipient().to_string());
        assert!(key.recipient().to_string().starts_with("age1"));
        let cipher = encrypt(&key, &[], b"hello");
        let mut out = Vec::new();
        decrypt(&back, Cursor::new(&cipher))
            .unwrap()
            .read_to_end(&mut out)
            .unwrap();
        assert_eq!(out, b"hello");
        let mut damaged = bytes.to_vec();
        let last = damaged.len() - 1;
        damaged[last] = if damaged[last] == b'Q' { b'P' } else { b'Q' };
        assert!(ObjectKey::from_bytes(&damaged).is_err());
        assert!(ObjectKey::from_bytes(b"\xff\xfe").is_err());
        assert!(ObjectKey::from_bytes(b"age1notakey").is_err());
        assert!(!format!("{key:?}").contains("SECRET"));
    }

    #[test]
    fn a_depositor_recipient_decrypts_too() {
        let key = ObjectKey::generate();
        let depositor = age::x25519::Identity::generate();
        let cipher = encrypt(&key, &[depositor.to_public()], b"for both of us");
        for id in [&key.0, &depositor] {
            let d = age::Decryptor::new(&cipher[..]).unwrap();
            let mut out = Vec::new();
            d.decrypt(std::iter::once(id as &dyn age::Identity))
                .unwrap()
                .read_to_end(&mut out)
                .unwrap();
            assert_eq!(out, b"for both of us");
        }
    }

    /// The documented format (age-encryption.org/v1): a text header that opens with the version
    /// line and one X25519 stanza per recipient, then `---` and the header's MAC. When the
    /// `age` or `rage` tool is installed, it decrypts what we wrote, with the key file we give
    /// out, and we decrypt what it wrote.
    #[test]
    fn interoperates_with_the_age_format_and_tools() {
        let key = ObjectKey::generate();
        let depositor = ObjectKey::generate();
        let plain = plaintext(70 * K);
        let cipher = encrypt(&key, &[depositor.recipient()], &plain);
        assert!(cipher.starts_with(b"age-encryption.org/v1\n-> X25519 "));
        let header_end = cipher
            .windows(4)
            .position(|w| w == b"\n---")
            .expect("the header's MAC line");
        let header = std::str::from_utf8(&cipher[..header_end]).unwrap();
        assert_eq!(header.matches("\n-> X25519 ").count(), 2, "{header}");

        let tool = ["age", "rage"].into_iter().find(|t| {
            std::process::Command::new(t)
                .arg("--version")
                .output()
                .is_ok_and(|o| o.status.success())
        });
        let Some(tool) = tool else {
            if std::env::var("DATAPOLE_REQUIRE_ALL").is_ok_and(|v| v == "1") {
                panic!("neither age nor rage is installed; DATAPOLE_REQUIRE_ALL=1 requires one");
            }
            eprintln!("age/rage not installed: checked the header format only");
            return;
        };
        let dir = tempfile::tempdir().unwrap();
        let identity = dir.path().join("key.txt");
        std::fs::write(&identity, &*depositor.to_bytes()).unwrap();
        let encrypted = dir.path().join("object.age");
        std::fs::write(&encrypted, &cipher).unwrap();
        let out = std::process::Command::new(tool)
            .arg("--decrypt")
            .arg("--identity")
            .arg(&identity)
            .arg(&encrypted)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.stdout == plain, "{tool} decrypted other bytes");

        let theirs = dir.path().join("theirs.age");
        std::fs::write(dir.path().join("plain"), &plain).unwrap();
        let status = std::process::Command::new(tool)
            .arg("--encrypt")
            .arg("--recipient")
            .arg(key.recipient().to_string())
            .arg("--output")
            .arg(&theirs)
            .arg(dir.path().join("plain"))
            .status()
            .unwrap();
        assert!(status.success());
        let mut r = decrypt(&key, std::fs::File::open(&theirs).unwrap()).unwrap();
        r.seek(SeekFrom::Start(65 * K as u64)).unwrap();
        let mut tail = Vec::new();
        r.read_to_end(&mut tail).unwrap();
        assert!(tail == plain[65 * K..], "a range of {tool}'s file");
    }
}
