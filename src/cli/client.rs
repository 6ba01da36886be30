//! The client side of the HTTP API, for the subcommands that talk to a server (`deposit`,
//! `download`, `participant`, `consent`, `access`, `receipt`, `vkey`): where the server is and who the participant is ([`ClientArgs`],
//! [`SignerArgs`], resolved by [`resolve`] from flags, environment and a configuration file),
//! the participant's key (PKCS#8 PEM, RFC 8410), and calls over ureq 2 that turn the server's
//! JSON errors (`{"error":{"code","message","errors"}}`) into [`ApiError`], which prints the
//! code and every field's problem, one a line.
//!
//! # The configuration file
//!
//! `--config PATH`, by default `$XDG_CONFIG_HOME/datapole/client.toml`, else
//! `~/.config/datapole/client.toml` (a missing default file is no error). It is a small subset
//! of TOML, read without a TOML library: one `key = "value"` a line, the value a basic string
//! (escapes `\"` and `\\` only), blank lines and `#` comments; anything else is refused with its
//! line number. The keys are `server`, `token`, `participant`, `key` (a path to the PEM,
//! relative to the file's directory), `vkey` (the log's verifier key, pinned),
//! `participant_file` (the file `datapole participant register --out` wrote, relative to the
//! file's directory) and `admin_token_file` (the operator's admin token, likewise).
//!
//! Each setting is taken from, in order: its flag, its environment variable
//! (`DATAPOLE_SERVER`, `DATAPOLE_TOKEN`, `DATAPOLE_PARTICIPANT`, `DATAPOLE_KEY`,
//! `DATAPOLE_VKEY`, `DATAPOLE_PARTICIPANT_FILE`, `DATAPOLE_ADMIN_TOKEN_FILE`; an empty one
//! counts as unset), the configuration file, the default (the server, [`DEFAULT_SERVER`], and
//! the admin token file, [`DEFAULT_ADMIN_TOKEN_FILE`]). A participant file gives the
//! participant id and the token at the level it was given at: `--participant-file` counts as
//! flags (after `--participant` and `--token` themselves), `DATAPOLE_PARTICIPANT_FILE` as the
//! environment, `participant_file` as the configuration file.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::Args;
use ed25519_dalek::pkcs8::spki::der::pem::PemLabel;
use ed25519_dalek::pkcs8::{ObjectIdentifier, PrivateKeyInfo, SecretDocument};
use ed25519_dalek::SigningKey;
use serde::de::DeserializeOwned;
use serde_json::Value;
use uuid::Uuid;

use crate::verify::receipt::Report;

/// The server when none is configured: `datapole serve`'s default listener.
pub const DEFAULT_SERVER: &str = "http://127.0.0.1:8080";

/// The configuration file's name, in `$XDG_CONFIG_HOME/datapole/` or `~/.config/datapole/`.
pub const CONFIG_FILE: &str = "client.toml";

/// The operator's admin token file when none is configured: the one `datapole serve` writes in
/// its default data directory.
pub const DEFAULT_ADMIN_TOKEN_FILE: &str = "datapole-data/admin-token";

/// How many attempts in a row that make no progress a transfer makes before it gives up.
pub const MAX_ATTEMPTS: u32 = 5;

/// Where the server is and how to authenticate to it: flags shared by the subcommands that
/// talk to a server.
#[derive(Debug, Clone, Default, Args)]
pub struct ClientArgs {
    /// The server's base URL [env: DATAPOLE_SERVER; config: `server`; default:
    /// http://127.0.0.1:8080].
    #[arg(long, value_name = "URL")]
    pub server: Option<String>,
    /// The participant's API token, the `api_token` its registration answered [env:
    /// DATAPOLE_TOKEN; config: `token`]. Prefer the variable or the file: a flag is visible to
    /// other users of the machine.
    #[arg(long, value_name = "TOKEN")]
    pub token: Option<String>,
    /// The log's signed-note verifier key, pinned out of band, to verify receipts with [env:
    /// DATAPOLE_VKEY; config: `vkey`]. Without it the key is fetched from the server's
    /// `GET /v1/log` and printed, which proves the receipt consistent with what this server
    /// says, not genuine.
    #[arg(long, value_name = "VKEY")]
    pub vkey: Option<String>,
    /// The file `datapole participant register --out` wrote (the registration's answer): the
    /// participant id and the token are read from it when --participant and --token are not
    /// given [env: DATAPOLE_PARTICIPANT_FILE; config: `participant_file`].
    #[arg(long, value_name = "PATH")]
    pub participant_file: Option<PathBuf>,
    /// The client configuration file: `key = "value"` lines (a subset of TOML) with the keys
    /// `server`, `token`, `participant`, `key`, `vkey`, `participant_file` and
    /// `admin_token_file` [default: `$XDG_CONFIG_HOME/datapole/client.toml`, else
    /// `~/.config/datapole/client.toml`].
    #[arg(long, value_name = "PATH")]
    pub config: Option<PathBuf>,
}

/// The operator's credential: flags of the subcommands only the operator may run.
#[derive(Debug, Clone, Default, Args)]
pub struct AdminArgs {
    /// The file holding the operator's admin token (`datapole serve` writes it in its data
    /// directory) [env: DATAPOLE_ADMIN_TOKEN_FILE; config: `admin_token_file`; default:
    /// ./datapole-data/admin-token].
    #[arg(long, value_name = "PATH")]
    pub admin_token_file: Option<PathBuf>,
}

/// Who signs: flags of the subcommands that sign statements.
#[derive(Debug, Clone, Default, Args)]
pub struct SignerArgs {
    /// The participant's Ed25519 private key, PKCS#8 PEM (`datapole keygen --participant`, or
    /// `openssl genpkey -algorithm ed25519`) [env: DATAPOLE_KEY; config: `key`].
    #[arg(long, value_name = "KEY.pem")]
    pub key: Option<PathBuf>,
    /// The participant id its registration answered [env: DATAPOLE_PARTICIPANT; config:
    /// `participant`].
    #[arg(long, value_name = "ID")]
    pub participant: Option<String>,
}

/// The settings once flags, environment, configuration file and defaults are merged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// The server's base URL, without a trailing `/`.
    pub server: String,
    /// The participant's API token.
    pub token: Option<String>,
    /// The participant id.
    pub participant: Option<String>,
    /// The participant's key file.
    pub key: Option<PathBuf>,
    /// The log's verifier key, pinned.
    pub vkey: Option<String>,
    /// The configuration file read, if any (to name it in messages).
    pub config: Option<PathBuf>,
    /// The operator's admin token file.
    pub admin_token_file: PathBuf,
}

/// Why the client's settings cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The configuration file given cannot be read.
    #[error("reading {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A line of the configuration file is not `key = "value"`, or names an unknown key.
    #[error("{path}:{line}: {reason}")]
    Syntax {
        /// The file.
        path: PathBuf,
        /// The line number, from 1.
        line: usize,
        /// What is wrong.
        reason: String,
    },
    /// A server URL that is not http(s).
    #[error("the server URL {0:?} is not an http:// or https:// URL")]
    Server(String),
    /// A participant file that cannot be read, or is not a registration's answer.
    #[error("the participant file {path}: {reason} (it is the file `datapole participant register --out` wrote)")]
    ParticipantFile {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
}

/// The values a configuration file sets.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConfigFile {
    /// `server`.
    pub server: Option<String>,
    /// `token`.
    pub token: Option<String>,
    /// `participant`.
    pub participant: Option<String>,
    /// `key`, as written.
    pub key: Option<String>,
    /// `vkey`.
    pub vkey: Option<String>,
    /// `participant_file`, as written.
    pub participant_file: Option<String>,
    /// `admin_token_file`, as written.
    pub admin_token_file: Option<String>,
}

/// The keys a configuration file may set.
const CONFIG_KEYS: [&str; 7] = [
    "server",
    "token",
    "participant",
    "key",
    "vkey",
    "participant_file",
    "admin_token_file",
];

impl ConfigFile {
    /// Reads the `key = "value"` format; the error is the line number (from 1) and why.
    pub fn parse(text: &str) -> Result<Self, (usize, String)> {
        let mut file = Self::default();
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let err = |reason: &str| (n + 1, reason.to_owned());
            let (key, value) = line
                .split_once('=')
                .ok_or_else(|| err("expected `key = \"value\"`"))?;
            let key = key.trim();
            let value = basic_string(value.trim()).map_err(|r| (n + 1, r))?;
            let slot = match key {
                "server" => &mut file.server,
                "token" => &mut file.token,
                "participant" => &mut file.participant,
                "key" => &mut file.key,
                "vkey" => &mut file.vkey,
                "participant_file" => &mut file.participant_file,
                "admin_token_file" => &mut file.admin_token_file,
                _ => {
                    return Err(err(&format!(
                        "unknown key {key:?} (the keys are {})",
                        CONFIG_KEYS.join(", ")
                    )))
                }
            };
            if slot.replace(value).is_some() {
                return Err(err(&format!("{key} is set twice")));
            }
        }
        Ok(file)
    }
}

/// A TOML basic string (`"..."`, escapes `\"` and `\\`), then nothing or a `#` comment.
fn basic_string(text: &str) -> Result<String, String> {
    let rest = text
        .strip_prefix('"')
        .ok_or("the value must be a double-quoted string")?;
    let mut value = String::new();
    let mut chars = rest.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => {
                let tail = rest[i + 1..].trim_start();
                if !tail.is_empty() && !tail.starts_with('#') {
                    return Err("unexpected text after the closing quote".into());
                }
                return Ok(value);
            }
            '\\' => match chars.next() {
                Some((_, e @ ('"' | '\\'))) => value.push(e),
                _ => return Err("only the escapes \\\" and \\\\ are read".into()),
            },
            c if c.is_control() => return Err("a control character in the value".into()),
            c => value.push(c),
        }
    }
    Err("the string has no closing quote".into())
}

/// The default configuration file: `$XDG_CONFIG_HOME/datapole/client.toml` if that variable
/// is an absolute path, else `$HOME/.config/datapole/client.toml`.
pub fn default_config_path(env: &dyn Fn(&str) -> Option<String>) -> Option<PathBuf> {
    let base = env("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| env("HOME").map(|h| Path::new(&h).join(".config")))?;
    Some(base.join("datapole").join(CONFIG_FILE))
}

/// Merges flags, environment (`env`, the process's in [`resolve_from_process`]), the
/// configuration file and the default, in that order of precedence.
pub fn resolve(
    client: &ClientArgs,
    signer: Option<&SignerArgs>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Settings, ConfigError> {
    resolve_with_admin(client, signer, None, env)
}

/// [`resolve`], with the operator's flags too.
pub fn resolve_with_admin(
    client: &ClientArgs,
    signer: Option<&SignerArgs>,
    client_admin: Option<&AdminArgs>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Settings, ConfigError> {
    let env = |name: &str| env(name).filter(|v| !v.is_empty());
    let (path, required) = match &client.config {
        Some(p) => (Some(p.clone()), true),
        None => (default_config_path(&env), false),
    };
    let mut file = ConfigFile::default();
    let mut read = None;
    if let Some(path) = path {
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                file = ConfigFile::parse(&text).map_err(|(line, reason)| ConfigError::Syntax {
                    path: path.clone(),
                    line,
                    reason,
                })?;
                read = Some(path);
            }
            Err(e) if !required && e.kind() == std::io::ErrorKind::NotFound => {}
            Err(source) => return Err(ConfigError::Read { path, source }),
        }
    }
    let pick = |flag: Option<&String>, var: &str, from_file: Option<String>| {
        flag.cloned().or_else(|| env(var)).or(from_file)
    };
    let server = pick(client.server.as_ref(), "DATAPOLE_SERVER", file.server)
        .unwrap_or_else(|| DEFAULT_SERVER.to_owned());
    if !(server.starts_with("http://") || server.starts_with("https://")) {
        return Err(ConfigError::Server(server));
    }
    // A relative path in the file is relative to the file's directory.
    let beside_config = |p: String| match read.as_deref().and_then(Path::parent) {
        Some(dir) => dir.join(p),
        None => PathBuf::from(p),
    };
    let file_key = file.key.map(beside_config);
    let key = signer
        .and_then(|s| s.key.clone())
        .or_else(|| env("DATAPOLE_KEY").map(PathBuf::from))
        .or(file_key);
    // The participant files of each level, read only when given.
    let from_flag = ParticipantFile::read_opt(client.participant_file.as_deref())?;
    let from_env = ParticipantFile::read_opt(
        env("DATAPOLE_PARTICIPANT_FILE")
            .map(PathBuf::from)
            .as_deref(),
    )?;
    let from_config =
        ParticipantFile::read_opt(file.participant_file.map(beside_config).as_deref())?;
    let levels = [from_flag, from_env, from_config];
    let token = client
        .token
        .clone()
        .or_else(|| levels[0].as_ref().map(|p| p.api_token.clone()))
        .or_else(|| env("DATAPOLE_TOKEN"))
        .or_else(|| levels[1].as_ref().map(|p| p.api_token.clone()))
        .or(file.token)
        .or_else(|| levels[2].as_ref().map(|p| p.api_token.clone()));
    let participant = signer
        .and_then(|s| s.participant.clone())
        .or_else(|| levels[0].as_ref().map(|p| p.participant_id.clone()))
        .or_else(|| env("DATAPOLE_PARTICIPANT"))
        .or_else(|| levels[1].as_ref().map(|p| p.participant_id.clone()))
        .or(file.participant)
        .or_else(|| levels[2].as_ref().map(|p| p.participant_id.clone()));
    let admin_token_file = client_admin
        .and_then(|a| a.admin_token_file.clone())
        .or_else(|| env("DATAPOLE_ADMIN_TOKEN_FILE").map(PathBuf::from))
        .or_else(|| file.admin_token_file.map(beside_config))
        .unwrap_or_else(|| PathBuf::from(DEFAULT_ADMIN_TOKEN_FILE));
    Ok(Settings {
        server: server.trim_end_matches('/').to_owned(),
        token,
        participant,
        key,
        vkey: pick(client.vkey.as_ref(), "DATAPOLE_VKEY", file.vkey),
        config: read,
        admin_token_file,
    })
}

/// What the client reads of the file `datapole participant register --out` writes (the
/// registration's answer, `schemas/registered.schema.json`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
pub struct ParticipantFile {
    /// The participant id.
    pub participant_id: String,
    /// Its API token.
    pub api_token: String,
}

impl ParticipantFile {
    /// Reads the file at `path`, when there is one.
    pub fn read_opt(path: Option<&Path>) -> Result<Option<Self>, ConfigError> {
        let Some(path) = path else { return Ok(None) };
        let err = |reason: String| ConfigError::ParticipantFile {
            path: path.to_owned(),
            reason,
        };
        let bytes = std::fs::read(path).map_err(|e| err(e.to_string()))?;
        serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| err(format!("not a registration's answer ({e})")))
    }
}

/// [`resolve`] with the process's environment.
pub fn resolve_from_process(
    client: &ClientArgs,
    signer: Option<&SignerArgs>,
) -> Result<Settings, ConfigError> {
    resolve(client, signer, &|name| std::env::var(name).ok())
}

/// [`resolve_with_admin`] with the process's environment.
pub fn resolve_admin_from_process(
    client: &ClientArgs,
    admin: &AdminArgs,
) -> Result<Settings, ConfigError> {
    resolve_with_admin(client, None, Some(admin), &|name| std::env::var(name).ok())
}

impl Settings {
    /// Where a missing setting could come from, for messages.
    pub fn missing(&self, flag: &str, var: &str, key: &str) -> String {
        let file = match &self.config {
            Some(p) => p.display().to_string(),
            None => "the configuration file".to_owned(),
        };
        let or_file = if key == "participant" || key == "token" {
            ", or give --participant-file (the file `datapole participant register --out` wrote)"
        } else {
            ""
        };
        format!("no {key}: give --{flag}, set {var}, or set `{key}` in {file}{or_file}")
    }

    /// The operator's admin token, read from [`Settings::admin_token_file`].
    pub fn admin_token(&self) -> anyhow::Result<String> {
        let path = &self.admin_token_file;
        let text = std::fs::read_to_string(path).map_err(|e| {
            anyhow::anyhow!(
                "reading the admin token from {}: {e} (give --admin-token-file, set DATAPOLE_ADMIN_TOKEN_FILE, or run from the directory that holds datapole-data/)",
                path.display()
            )
        })?;
        let token = text.trim();
        if token.is_empty() {
            anyhow::bail!(
                "{} is empty: it should hold the admin token",
                path.display()
            );
        }
        Ok(token.to_owned())
    }

    /// The participant id, as registration spells it (a UUID, lower-case, hyphenated).
    pub fn participant_id(&self) -> anyhow::Result<Uuid> {
        let id = self.participant.as_deref().ok_or_else(|| {
            anyhow::anyhow!(self.missing("participant", "DATAPOLE_PARTICIPANT", "participant"))
        })?;
        Uuid::parse_str(id).map_err(|_| anyhow::anyhow!("the participant id {id:?} is not a UUID"))
    }

    /// The participant's signing key, read from its PEM file.
    pub fn signing_key(&self) -> anyhow::Result<SigningKey> {
        let path = self
            .key
            .as_deref()
            .ok_or_else(|| anyhow::anyhow!(self.missing("key", "DATAPOLE_KEY", "key")))?;
        Ok(load_participant_key(path)?)
    }
}

/// Why a file is not a participant key.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The file cannot be read.
    #[error("reading {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// Not a participant key, and why.
    #[error("{path}: {reason}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: KeyFormatError,
    },
}

/// Why a text is not an Ed25519 PKCS#8 private key in PEM.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyFormatError {
    /// A log or witness key from `datapole keygen` without `--participant`.
    #[error("this is a signed-note key (a log's or a witness's), not a participant key: make one with `datapole keygen --participant --out KEY.pem`")]
    SignedNote,
    /// Not PEM at all.
    #[error("not a PEM file (expected -----BEGIN PRIVATE KEY-----)")]
    NotPem,
    /// PEM of another kind (`EC PRIVATE KEY`, `PUBLIC KEY`, `ENCRYPTED PRIVATE KEY`, ...).
    #[error(
        "a PEM {0:?} block, not an unencrypted PKCS#8 private key (-----BEGIN PRIVATE KEY-----)"
    )]
    Label(String),
    /// PKCS#8 that does not parse.
    #[error("not a well-formed PKCS#8 private key ({0})")]
    Malformed(String),
    /// A PKCS#8 key of another algorithm.
    #[error("an {0} key, not Ed25519: make one with `datapole keygen --participant` or `openssl genpkey -algorithm ed25519`")]
    Algorithm(String),
}

/// The PKCS#8 algorithm identifier of Ed25519 (RFC 8410).
const ED25519_OID: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.101.112");

/// A readable name for a key algorithm's OID.
fn algorithm_name(oid: &ObjectIdentifier) -> String {
    match oid.to_string().as_str() {
        "1.2.840.113549.1.1.1" => "RSA".into(),
        "1.2.840.10045.2.1" => "EC (ECDSA)".into(),
        "1.3.101.110" => "X25519".into(),
        "1.3.101.111" => "X448".into(),
        "1.3.101.113" => "Ed448".into(),
        other => format!("OID {other}"),
    }
}

/// Reads a participant's Ed25519 private key from PKCS#8 PEM text (with or without the public
/// key, RFC 8410 `OneAsymmetricKey` v1 or v2); refuses any other key with the reason.
pub fn parse_participant_key(pem: &str) -> Result<SigningKey, KeyFormatError> {
    let text = pem.trim_start();
    if text.starts_with("PRIVATE+KEY+") {
        return Err(KeyFormatError::SignedNote);
    }
    if !text.starts_with("-----BEGIN ") {
        return Err(KeyFormatError::NotPem);
    }
    let (label, doc) =
        SecretDocument::from_pem(text).map_err(|e| KeyFormatError::Malformed(e.to_string()))?;
    if label != PrivateKeyInfo::PEM_LABEL {
        return Err(KeyFormatError::Label(label.to_owned()));
    }
    let info = PrivateKeyInfo::try_from(doc.as_bytes())
        .map_err(|e| KeyFormatError::Malformed(e.to_string()))?;
    if info.algorithm.oid != ED25519_OID {
        return Err(KeyFormatError::Algorithm(algorithm_name(
            &info.algorithm.oid,
        )));
    }
    SigningKey::try_from(info).map_err(|e| KeyFormatError::Malformed(e.to_string()))
}

/// Reads a participant's key file: [`parse_participant_key`].
pub fn load_participant_key(path: &Path) -> Result<SigningKey, KeyError> {
    let text = std::fs::read_to_string(path).map_err(|source| KeyError::Read {
        path: path.to_owned(),
        source,
    })?;
    parse_participant_key(&text).map_err(|reason| KeyError::Invalid {
        path: path.to_owned(),
        reason,
    })
}

/// A failed call to the server.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The server answered with its JSON error.
    #[error("{}", server_text(code, message, *status, errors))]
    Server {
        /// The HTTP status.
        status: u16,
        /// The stable error code.
        code: String,
        /// What went wrong, in words.
        message: String,
        /// Every problem of the request's fields, when the body lists them (`errors`).
        errors: Vec<FieldError>,
    },
    /// An error status without the server's JSON error (a proxy's page, say).
    #[error("HTTP {status} from {url}: {body}")]
    Status {
        /// The HTTP status.
        status: u16,
        /// The URL called.
        url: String,
        /// The start of the body.
        body: String,
    },
    /// The network: no connection, a reset, a timeout.
    #[error("{0}")]
    Transport(Box<ureq::Transport>),
    /// The connection failed while a body was read or written.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// Why it failed.
        source: std::io::Error,
    },
    /// A success answer that is not what the API promises.
    #[error("unexpected answer from {url}: {reason}")]
    Unexpected {
        /// The URL called.
        url: String,
        /// What does not fit.
        reason: String,
    },
}

/// One problem of a request's field, as an error body's `errors` lists it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
pub struct FieldError {
    /// The field's JSON path (`payload.purposes[0].code`).
    pub field: String,
    /// What is wrong with it.
    pub message: String,
}

/// A server's error in words: its code and status, then every item of `errors`, one
/// `field: message` a line; the message when the list is empty (or absent, from an older
/// server), since it then says what is wrong.
fn server_text(code: &str, message: &str, status: u16, errors: &[FieldError]) -> String {
    if errors.is_empty() {
        return format!("{code}: {message} (HTTP {status})");
    }
    let mut text = format!("{code} (HTTP {status}):");
    for e in errors {
        text.push_str(&format!("\n  {}: {}", e.field, e.message));
    }
    text
}

impl ApiError {
    /// The error code, when the server gave one.
    pub fn code(&self) -> Option<&str> {
        match self {
            ApiError::Server { code, .. } => Some(code),
            _ => None,
        }
    }

    /// Whether trying again later may succeed: the network, or a server that is overloaded,
    /// restarting or behind an unavailable proxy (429, 502, 503, 504).
    pub fn is_transient(&self) -> bool {
        match self {
            ApiError::Transport(_) | ApiError::Io { .. } => true,
            ApiError::Server { status, .. } | ApiError::Status { status, .. } => {
                matches!(status, 429 | 502 | 503 | 504)
            }
            ApiError::Unexpected { .. } => false,
        }
    }
}

/// The error a non-success response stands for: the server's `code: message` when its body
/// is the JSON error, else the status and the start of the body.
pub fn status_error(status: u16, url: &str, body: &str) -> ApiError {
    let value: Option<Value> = serde_json::from_str(body).ok();
    let error = value.as_ref().map(|v| &v["error"]);
    match (
        error.and_then(|e| e["code"].as_str()),
        error.and_then(|e| e["message"].as_str()),
    ) {
        (Some(code), message) => ApiError::Server {
            status,
            code: code.to_owned(),
            message: message.unwrap_or("").to_owned(),
            // Absent from servers older than the list, and empty for errors of no field.
            errors: error
                .and_then(|e| e.get("errors"))
                .and_then(|e| serde_json::from_value(e.clone()).ok())
                .unwrap_or_default(),
        },
        _ => ApiError::Status {
            status,
            url: url.to_owned(),
            body: body.chars().take(200).collect(),
        },
    }
}

/// A connection to the server: its base URL, the participant's token, an HTTP agent.
#[derive(Clone)]
pub struct Client {
    base: String,
    token: Option<String>,
    agent: ureq::Agent,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("base", &self.base)
            .field("token", &self.token.as_ref().map(|_| "…"))
            .finish_non_exhaustive()
    }
}

impl Client {
    /// A client of `settings.server`, sending `settings.token` if there is one.
    pub fn new(settings: &Settings) -> Self {
        let agent = ureq::AgentBuilder::new()
            .timeout_connect(Duration::from_secs(30))
            .timeout_read(Duration::from_secs(120))
            .timeout_write(Duration::from_secs(120))
            .build();
        Self {
            base: settings.server.clone(),
            token: settings.token.clone(),
            agent,
        }
    }

    /// The same client with another bearer token (a citizen's secret, the admin token), or
    /// none (a controller's signed statement must come without `Authorization`).
    pub fn with_token(&self, token: Option<String>) -> Self {
        Self {
            token,
            ..self.clone()
        }
    }

    /// The server's base URL.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// The absolute URL of `target`: a path (`/v1/...`) below the base URL, a URL as is.
    pub fn url(&self, target: &str) -> String {
        if target.starts_with("http://") || target.starts_with("https://") {
            target.to_owned()
        } else {
            format!("{}{target}", self.base)
        }
    }

    /// Where a `Location` header points: an absolute URL as is, an absolute path on the
    /// base URL's origin (RFC 3986 section 5.2).
    pub fn location(&self, location: &str) -> String {
        if location.starts_with("http://") || location.starts_with("https://") {
            return location.to_owned();
        }
        format!("{}{location}", origin(&self.base))
    }

    /// A request with the participant's token.
    pub fn request(&self, method: &str, target: &str) -> ureq::Request {
        let r = self.agent.request(method, &self.url(target));
        match &self.token {
            Some(t) => r.set("Authorization", &format!("Bearer {t}")),
            None => r,
        }
    }

    /// Sends a GET and reads its JSON answer.
    pub fn get_json<T: DeserializeOwned>(&self, target: &str) -> Result<T, ApiError> {
        let url = self.url(target);
        json(&url, answer(&url, self.request("GET", target).call())?)
    }

    /// The log's verifier key: `pinned`, else the one `GET /v1/log` names (said on stderr,
    /// with the advice to pin it).
    pub fn log_vkey(&self, pinned: Option<&str>) -> anyhow::Result<String> {
        if let Some(v) = pinned {
            return Ok(v.to_owned());
        }
        let log: Value = self
            .get_json("/v1/log")
            .map_err(|e| anyhow::anyhow!("fetching the log's key from GET /v1/log: {e}"))?;
        let vkey = log["vkey"]
            .as_str()
            .ok_or_else(|| anyhow::anyhow!("GET /v1/log named no vkey"))?
            .to_owned();
        eprintln!(
            "log key fetched from {}: {vkey}\n(pin it with --vkey, DATAPOLE_VKEY or `vkey` in the configuration, so that verifying trusts no server)",
            self.base
        );
        Ok(vkey)
    }
}

/// `scheme://authority` of a URL.
fn origin(url: &str) -> &str {
    let start = url.find("://").map_or(0, |i| i + 3);
    match url[start..].find('/') {
        Some(i) => &url[..start + i],
        None => url,
    }
}

/// A ureq result as the response of a success status, or the [`ApiError`] it stands for.
pub fn answer(
    url: &str,
    result: Result<ureq::Response, ureq::Error>,
) -> Result<ureq::Response, ApiError> {
    match result {
        Ok(r) => Ok(r),
        Err(ureq::Error::Status(status, r)) => {
            let mut body = String::new();
            // At most 64 KiB of an error body: it is for a message.
            let _ = r.into_reader().take(64 << 10).read_to_string(&mut body);
            Err(status_error(status, url, &body))
        }
        Err(ureq::Error::Transport(t)) => Err(ApiError::Transport(Box::new(t))),
    }
}

/// A success response's JSON body as `T`.
pub fn json<T: DeserializeOwned>(url: &str, response: ureq::Response) -> Result<T, ApiError> {
    let mut body = Vec::new();
    response
        .into_reader()
        .take(16 << 20)
        .read_to_end(&mut body)
        .map_err(|source| ApiError::Io {
            context: format!("reading the answer of {url}"),
            source,
        })?;
    serde_json::from_slice(&body).map_err(|e| ApiError::Unexpected {
        url: url.to_owned(),
        reason: e.to_string(),
    })
}

/// The waits between attempts: 1 s, 2 s, 4 s ... at most 30 s.
pub fn backoff(attempt: u32) -> Duration {
    Duration::from_secs(1u64 << attempt.saturating_sub(1).min(5)).min(Duration::from_secs(30))
}

/// Counts a failed attempt of a transfer and waits before the next: an error that trying
/// again cannot cure (unless `retry_anyway`), or the [`MAX_ATTEMPTS`]th failure in a row, is
/// returned instead. The caller resets `failures` when an attempt makes progress.
pub fn retry_after(
    e: ApiError,
    retry_anyway: bool,
    failures: &mut u32,
    quiet: bool,
) -> anyhow::Result<()> {
    if !(retry_anyway || e.is_transient()) {
        return Err(e.into());
    }
    *failures += 1;
    if *failures >= MAX_ATTEMPTS {
        anyhow::bail!("{e}: giving up after {MAX_ATTEMPTS} attempts without progress; run the same command again to resume");
    }
    let wait = backoff(*failures);
    if !quiet {
        eprintln!("{e}; resuming in {} s", wait.as_secs());
    }
    std::thread::sleep(wait);
    Ok(())
}

/// A progress bar of `len` bytes, hidden when `quiet` or when stdout is not a terminal.
pub fn progress_bar(len: u64, quiet: bool, what: &str) -> indicatif::ProgressBar {
    use std::io::IsTerminal;
    if quiet || !std::io::stdout().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(len);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{msg:>11} {bar:40} {bytes}/{total_bytes} {bytes_per_sec} {eta}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    bar.set_message(what.to_owned());
    bar
}

/// `path` with `suffix` appended to its file name (`data.csv` → `data.csv.receipt.json`).
pub fn beside(path: &Path, suffix: &str) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

/// Verifies a receipt, or an answer that carries one (a citizen's receipt, a withdrawal's, an
/// access decision's), against `vkey`: prints the checks unless `quiet` (and always when one
/// fails), and fails unless every check passes.
pub fn check_receipt(
    document: &Value,
    vkey: &str,
    quiet: bool,
) -> anyhow::Result<crate::receipt::Receipt> {
    let (report, receipt) = crate::verify::receipt::verify_document(document, Some(vkey))
        .map_err(|e| anyhow::anyhow!("the answer's receipt: {e}"))?;
    if !quiet || !report.ok() {
        print_checks(&report);
    }
    if !report.ok() {
        anyhow::bail!("the receipt does not verify");
    }
    Ok(receipt)
}

/// Sends `body` (JSON) with `method` to `target` and reads the JSON answer.
pub fn send_json<T: DeserializeOwned>(
    client: &Client,
    method: &str,
    target: &str,
    body: &[u8],
) -> Result<(u16, T), ApiError> {
    let url = client.url(target);
    let response = answer(
        &url,
        client
            .request(method, target)
            .set("Content-Type", "application/json")
            .send_bytes(body),
    )?;
    let status = response.status();
    Ok((status, json(&url, response)?))
}

/// Prints a verification report's checks as `datapole verify` does.
pub fn print_checks(report: &Report) {
    for c in &report.checks {
        println!("{} {}: {}", if c.ok { "✓" } else { "✗" }, c.name, c.detail);
    }
}

/// Receipts made for the subcommands' unit tests.
#[cfg(test)]
pub(crate) mod testing {
    use base64::prelude::*;
    use chrono::Utc;
    use ed25519_dalek::SigningKey;
    use sha2::{Digest, Sha256};
    use uuid::Uuid;

    use crate::receipt::{Receipt, ReceiptInclusion, ReceiptLog, ReceiptSigner, RECEIPT_FORMAT};
    use crate::statement::deposit::{
        Deposit, DepositLeaf, DepositPayload, Placement, Visibility, DEPOSIT_TYPE,
    };
    use crate::statement::dsse::Envelope;

    /// The receipt of a one-entry log whose entry is a public deposit of `content` as version
    /// `version` of `dataset`, and the log's verifier key.
    pub(crate) fn deposit_receipt(
        content: &[u8],
        dataset: Uuid,
        version: u64,
    ) -> (Receipt, String) {
        let key = SigningKey::from_bytes(&[11; 32]);
        let depositor = Uuid::now_v7();
        let payload = DepositPayload {
            sha256: crate::field::hex(&Sha256::digest(content)),
            size: content.len() as u64,
            media_type: "text/plain".into(),
            title: "t".into(),
            description: None,
            license: None,
            visibility: Visibility::Public,
            retention: None,
            dataset_id: None,
            controller: None,
            metadata: None,
            issued_at: Utc::now().to_rfc3339(),
            nonce: "0123456789abcdef".into(),
        };
        let bytes = crate::json::to_vec("a deposit payload", &payload).unwrap();
        let envelope = Envelope::sign(DEPOSIT_TYPE, &bytes, &depositor.to_string(), &key);
        let place = Placement {
            dataset_id: dataset,
            version,
            depositor,
            controller: depositor,
        };
        let deposit = Deposit::try_from(&payload).unwrap();
        let leaf = DepositLeaf::new(&deposit, &envelope, &[0; 32], place, Utc::now())
            .unwrap()
            .to_bytes()
            .unwrap();
        let (skey, vkey) = crate::log::LogSigner::generate("log.example.org/test").unwrap();
        let signer = crate::log::LogSigner::from_skey(&skey, None).unwrap();
        let root = crate::log::Hash(crate::verify::leaf_hash(&leaf));
        let checkpoint = signer.sign(1, root).unwrap();
        let receipt = Receipt {
            format: RECEIPT_FORMAT.into(),
            log: ReceiptLog {
                origin: signer.origin().into(),
                vkey: vkey.clone(),
            },
            index: 0,
            leaf: BASE64_STANDARD.encode(&leaf),
            inclusion: ReceiptInclusion {
                tree_size: 1,
                hashes: vec![],
            },
            checkpoint: checkpoint.note,
            statement: None,
            opening: None,
            signer: Some(ReceiptSigner {
                participant_id: depositor.to_string(),
                public_key: BASE64_STANDARD.encode(key.verifying_key().as_bytes()),
            }),
            witnessed: None,
        };
        (receipt, vkey)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env_of(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |name| vars.get(name).cloned()
    }

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let path = dir.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, text).unwrap();
        path
    }

    #[test]
    fn flags_beat_environment_beats_file_beats_default() {
        let dir = tempfile::tempdir().unwrap();
        let config = write(
            dir.path(),
            "c.toml",
            "server = \"http://file:1\"\ntoken = \"file-token\"\nparticipant = \"file-p\"\nkey = \"k.pem\"\nvkey = \"file-vkey\"\n",
        );
        let all_env = env_of(&[
            ("DATAPOLE_SERVER", "http://env:2/"),
            ("DATAPOLE_TOKEN", "env-token"),
            ("DATAPOLE_PARTICIPANT", "env-p"),
            ("DATAPOLE_KEY", "/env/k.pem"),
            ("DATAPOLE_VKEY", "env-vkey"),
        ]);
        let flags = ClientArgs {
            server: Some("http://flag:3".into()),
            token: Some("flag-token".into()),
            vkey: Some("flag-vkey".into()),
            participant_file: None,
            config: Some(config.clone()),
        };
        let signer = SignerArgs {
            key: Some("/flag/k.pem".into()),
            participant: Some("flag-p".into()),
        };
        let s = resolve(&flags, Some(&signer), &all_env).unwrap();
        assert_eq!(s.server, "http://flag:3");
        assert_eq!(s.token.as_deref(), Some("flag-token"));
        assert_eq!(s.participant.as_deref(), Some("flag-p"));
        assert_eq!(s.key.as_deref(), Some(Path::new("/flag/k.pem")));
        assert_eq!(s.vkey.as_deref(), Some("flag-vkey"));

        // No flags: the environment (the server's trailing slash dropped).
        let only_file = ClientArgs {
            config: Some(config.clone()),
            ..ClientArgs::default()
        };
        let s = resolve(&only_file, Some(&SignerArgs::default()), &all_env).unwrap();
        assert_eq!(s.server, "http://env:2");
        assert_eq!(s.token.as_deref(), Some("env-token"));
        assert_eq!(s.participant.as_deref(), Some("env-p"));
        assert_eq!(s.key.as_deref(), Some(Path::new("/env/k.pem")));
        assert_eq!(s.vkey.as_deref(), Some("env-vkey"));

        // No flags, no environment (an empty variable is unset): the file, whose relative key
        // path is relative to the file's directory.
        let empty = env_of(&[("DATAPOLE_SERVER", ""), ("DATAPOLE_TOKEN", "")]);
        let s = resolve(&only_file, Some(&SignerArgs::default()), &empty).unwrap();
        assert_eq!(s.server, "http://file:1");
        assert_eq!(s.token.as_deref(), Some("file-token"));
        assert_eq!(s.participant.as_deref(), Some("file-p"));
        assert_eq!(s.key, Some(dir.path().join("k.pem")));
        assert_eq!(s.vkey.as_deref(), Some("file-vkey"));
        assert_eq!(s.config, Some(config));

        // Nothing at all: the default server, nothing else.
        let s = resolve(&ClientArgs::default(), None, &env_of(&[])).unwrap();
        assert_eq!(
            s,
            Settings {
                server: DEFAULT_SERVER.into(),
                token: None,
                participant: None,
                key: None,
                vkey: None,
                config: None,
                admin_token_file: PathBuf::from(DEFAULT_ADMIN_TOKEN_FILE),
            }
        );
    }

    #[test]
    fn a_participant_file_counts_at_the_level_it_is_given_at() {
        let dir = tempfile::tempdir().unwrap();
        let answer = |id: &str, token: &str| {
            format!(
                r#"{{"participant_id": "{id}", "index": 0, "checkpoint": "c", "api_token": "{token}"}}"#
            )
        };
        let flag_file = write(dir.path(), "flag.json", &answer("flag-p", "flag-t"));
        let env_file = write(dir.path(), "env.json", &answer("env-p", "env-t"));
        write(dir.path(), "conf.json", &answer("conf-p", "conf-t"));
        let config = write(
            dir.path(),
            "c.toml",
            "participant_file = \"conf.json\"\nadmin_token_file = \"admin\"\n",
        );
        let with_file = |file: Option<&Path>| ClientArgs {
            participant_file: file.map(Path::to_owned),
            config: Some(config.clone()),
            ..ClientArgs::default()
        };
        let env_path = env_file.to_str().unwrap();
        let env = env_of(&[("DATAPOLE_PARTICIPANT_FILE", env_path)]);
        let signer = SignerArgs::default();
        // The flag's file beats the environment's, which beats the configuration's.
        let s = resolve(&with_file(Some(&flag_file)), Some(&signer), &env).unwrap();
        assert_eq!(s.participant.as_deref(), Some("flag-p"));
        assert_eq!(s.token.as_deref(), Some("flag-t"));
        let s = resolve(&with_file(None), Some(&signer), &env).unwrap();
        assert_eq!(s.participant.as_deref(), Some("env-p"));
        let s = resolve(&with_file(None), Some(&signer), &env_of(&[])).unwrap();
        assert_eq!(s.participant.as_deref(), Some("conf-p"));
        assert_eq!(s.token.as_deref(), Some("conf-t"));
        assert_eq!(s.admin_token_file, dir.path().join("admin"));
        // A setting of its own beats a file of its level: DATAPOLE_TOKEN beats the
        // environment's file, and --token the flag's.
        let env = env_of(&[
            ("DATAPOLE_PARTICIPANT_FILE", env_path),
            ("DATAPOLE_TOKEN", "own-t"),
        ]);
        let s = resolve(&with_file(None), Some(&signer), &env).unwrap();
        assert_eq!(s.token.as_deref(), Some("own-t"));
        assert_eq!(s.participant.as_deref(), Some("env-p"));
        let flags = ClientArgs {
            token: Some("flag-own".into()),
            ..with_file(Some(&flag_file))
        };
        let s = resolve(&flags, Some(&signer), &env).unwrap();
        assert_eq!(s.token.as_deref(), Some("flag-own"));
        assert_eq!(s.participant.as_deref(), Some("flag-p"));
        // A file that is not a registration's answer is refused with its name.
        let bad = write(dir.path(), "bad.json", "{\"id\": 1}");
        let e = resolve(&with_file(Some(&bad)), Some(&signer), &env).unwrap_err();
        assert!(e.to_string().contains("bad.json"), "{e}");
        let missing = dir.path().join("none.json");
        assert!(matches!(
            resolve(&with_file(Some(&missing)), Some(&signer), &env),
            Err(ConfigError::ParticipantFile { .. })
        ));
    }

    #[test]
    fn the_default_file_is_under_xdg_config_home_else_home() {
        let dir = tempfile::tempdir().unwrap();
        let xdg = dir.path().join("xdg");
        let home = dir.path().join("home");
        write(&xdg, "datapole/client.toml", "token = \"xdg\"\n");
        write(&home, ".config/datapole/client.toml", "token = \"home\"\n");
        let both = env_of(&[
            ("XDG_CONFIG_HOME", xdg.to_str().unwrap()),
            ("HOME", home.to_str().unwrap()),
        ]);
        let s = resolve(&ClientArgs::default(), None, &both).unwrap();
        assert_eq!(s.token.as_deref(), Some("xdg"));
        assert_eq!(s.config, Some(xdg.join("datapole/client.toml")));
        // A relative XDG_CONFIG_HOME is ignored, as the XDG spec says.
        let relative = env_of(&[("XDG_CONFIG_HOME", "rel"), ("HOME", home.to_str().unwrap())]);
        let s = resolve(&ClientArgs::default(), None, &relative).unwrap();
        assert_eq!(s.token.as_deref(), Some("home"));
        // A missing default file is no error; a missing --config file is.
        let nowhere = env_of(&[("HOME", dir.path().join("none").to_str().unwrap())]);
        assert_eq!(
            resolve(&ClientArgs::default(), None, &nowhere)
                .unwrap()
                .token,
            None
        );
        let missing = ClientArgs {
            config: Some(dir.path().join("none.toml")),
            ..ClientArgs::default()
        };
        assert!(matches!(
            resolve(&missing, None, &nowhere),
            Err(ConfigError::Read { .. })
        ));
    }

    #[test]
    fn the_config_format_is_strict() {
        let ok = ConfigFile::parse(
            "# a comment\n\n  server = \"https://dp.example.org\"  # trailing\ntoken=\"a\\\"b\\\\c\"\n",
        )
        .unwrap();
        assert_eq!(ok.server.as_deref(), Some("https://dp.example.org"));
        assert_eq!(ok.token.as_deref(), Some("a\"b\\c"));
        for (text, line, why) in [
            ("server = http://x", 1, "double-quoted"),
            ("\nserver = \"http://x", 2, "closing quote"),
            ("server = \"a\" b", 1, "after the closing quote"),
            ("token = \"a\\nb\"", 1, "escapes"),
            ("tokn = \"a\"", 1, "unknown key \"tokn\""),
            ("token = \"a\"\ntoken = \"b\"", 2, "twice"),
            ("[client]", 1, "key = "),
        ] {
            let (n, reason) = ConfigFile::parse(text).unwrap_err();
            assert_eq!(n, line, "{text:?}: {reason}");
            assert!(reason.contains(why), "{text:?}: {reason}");
        }
    }

    #[test]
    fn a_server_must_be_an_http_url() {
        let args = ClientArgs {
            server: Some("127.0.0.1:8080".into()),
            ..ClientArgs::default()
        };
        assert!(matches!(
            resolve(&args, None, &env_of(&[])),
            Err(ConfigError::Server(_))
        ));
    }

    #[test]
    fn pem_keys_other_than_ed25519_pkcs8_are_refused_with_the_reason() {
        use ed25519_dalek::pkcs8::EncodePrivateKey;
        let key = SigningKey::from_bytes(&[9; 32]);
        let pem = key
            .to_pkcs8_pem(ed25519_dalek::pkcs8::spki::der::pem::LineEnding::LF)
            .unwrap();
        assert_eq!(parse_participant_key(&pem).unwrap().to_bytes(), [9; 32]);
        // OpenSSL's own form (PKCS#8 v1, no public key) of RFC 8410's example key.
        let openssl = "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEINTuctv5E1hK1bbY8fdp+K06/nwoy/HU++CXqI9EdVhC\n-----END PRIVATE KEY-----\n";
        assert_eq!(
            crate::field::hex(parse_participant_key(openssl).unwrap().as_bytes()),
            "d4ee72dbf913584ad5b6d8f1f769f8ad3afe7c28cbf1d4fbe097a88f44755842"
        );
        // An X25519 key (RFC 8410 section 10.3's example): right shape, wrong algorithm.
        let x25519 = "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VuBCIEINTuctv5E1hK1bbY8fdp+K06/nwoy/HU++CXqI9EdVhC\n-----END PRIVATE KEY-----\n";
        assert_eq!(
            parse_participant_key(x25519).unwrap_err(),
            KeyFormatError::Algorithm("X25519".into())
        );
        // A P-256 key (openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256).
        let p256 = "-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgYdjwrxBblRS1ldaQ\nL6CDflN4WWEgGRyc2RWBdPq+arihRANCAASagwU6uPdW7uxOetG6y0f8bd4JTq+l\nih8ZHBCEQcObDBk72zE7pw3Kz2X5P4NJp8PMwKCTRmfzQGB4qBXUA1pG\n-----END PRIVATE KEY-----\n";
        assert_eq!(
            parse_participant_key(p256).unwrap_err(),
            KeyFormatError::Algorithm("EC (ECDSA)".into())
        );
        let public = "-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEARIhoSD3ymyR9tB6rIkEtq9hkEdFM9M5wbyrocvqwZlw=\n-----END PUBLIC KEY-----\n";
        assert_eq!(
            parse_participant_key(public).unwrap_err(),
            KeyFormatError::Label("PUBLIC KEY".into())
        );
        assert_eq!(
            parse_participant_key("PRIVATE+KEY+log.example+1234abcd+AAAA\n").unwrap_err(),
            KeyFormatError::SignedNote
        );
        assert_eq!(
            parse_participant_key("hello").unwrap_err(),
            KeyFormatError::NotPem
        );
        let truncated = "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEINTuctv5\n-----END PRIVATE KEY-----\n";
        assert!(matches!(
            parse_participant_key(truncated).unwrap_err(),
            KeyFormatError::Malformed(_)
        ));
    }

    #[test]
    fn server_errors_read_as_code_and_message() {
        let e = status_error(
            409,
            "http://x/v1/uploads/1",
            r#"{"error":{"code":"offset_mismatch","message":"the upload is at 10, not 0"}}"#,
        );
        assert_eq!(e.code(), Some("offset_mismatch"));
        assert_eq!(
            e.to_string(),
            "offset_mismatch: the upload is at 10, not 0 (HTTP 409)"
        );
        // Every problem of the fields, one a line; an empty list adds nothing.
        let e = status_error(
            422,
            "http://x/v1/consents",
            r#"{"error":{"code":"invalid_field","message":"2 fields are invalid","errors":[{"field":"payload.purposes[0].code","message":"must not be empty"},{"field":"payload.jurisdiction","message":"is missing"}]}}"#,
        );
        assert_eq!(
            e.to_string(),
            "invalid_field (HTTP 422):\n  payload.purposes[0].code: must not be empty\n  payload.jurisdiction: is missing"
        );
        let e = status_error(
            404,
            "http://x/",
            r#"{"error":{"code":"not_found","message":"no such resource","errors":[]}}"#,
        );
        assert_eq!(e.to_string(), "not_found: no such resource (HTTP 404)");
        assert!(!e.is_transient());
        let proxy = status_error(502, "http://x/", "<html>Bad gateway</html>");
        assert_eq!(proxy.code(), None);
        assert_eq!(
            proxy.to_string(),
            "HTTP 502 from http://x/: <html>Bad gateway</html>"
        );
        assert!(proxy.is_transient());
    }

    #[test]
    fn locations_resolve_on_the_origin() {
        let c = Client::new(&Settings {
            server: "https://dp.example.org:8443/prefix".into(),
            token: None,
            participant: None,
            key: None,
            vkey: None,
            config: None,
            admin_token_file: PathBuf::from(DEFAULT_ADMIN_TOKEN_FILE),
        });
        assert_eq!(
            c.location("/v1/uploads/ab"),
            "https://dp.example.org:8443/v1/uploads/ab"
        );
        assert_eq!(c.location("http://other/u"), "http://other/u");
        assert_eq!(
            c.url("/v1/log"),
            "https://dp.example.org:8443/prefix/v1/log"
        );
        assert_eq!(origin("http://h:1"), "http://h:1");
    }

    #[test]
    fn backoff_doubles_up_to_thirty_seconds() {
        let waits: Vec<u64> = (1..=8).map(|a| backoff(a).as_secs()).collect();
        assert_eq!(waits, [1, 2, 4, 8, 16, 30, 30, 30]);
    }
}
