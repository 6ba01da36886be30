//! `datapole keygen`: a new Ed25519 key. For a log or a witness, a signed-note key
//! (c2sp.org/signed-note); for a participant (`--participant`), a PKCS#8 PEM key (RFC 8410)
//! that `datapole deposit` signs with and that OpenSSL and other tools read.

use std::path::PathBuf;

use anyhow::Context;
use base64::prelude::*;
use clap::Args;
use ed25519_dalek::pkcs8::{EncodePrivateKey, KeypairBytes};
use ed25519_dalek::SigningKey;

use crate::log::LogSigner;

/// Flags of `datapole keygen`.
#[derive(Debug, Args)]
#[command(after_long_help = "\
A participant key (--participant) is registered by the log's operator, to whom the participant \
gives the printed public key:

  PUB=$(datapole keygen --participant --out depositor.pem)
  datapole participant register --name Example --role depositor --public-key \"$PUB\" \\
    --out depositor.json

The participant's commands then take --participant-file depositor.json (its id and API token) \
and --key depositor.pem (or `participant_file` and `key` in the client configuration: see \
`datapole deposit --help`).")]
pub struct KeygenArgs {
    /// The key name, which is also the log's default origin (e.g. `datapole.example.org/log`):
    /// no spaces, no `+`. Required unless --participant.
    #[arg(long, required_unless_present = "participant")]
    pub name: Option<String>,
    /// Where to write the private key (created with mode 0600).
    #[arg(long)]
    pub out: PathBuf,
    /// Replace the file if it exists.
    #[arg(long)]
    pub force: bool,
    /// A witness key: print its c2sp.org/tlog-cosignature (`cosignature/v1`, type 0x04)
    /// verifier key, the one logs and verifiers configure, instead of the note key.
    #[arg(long)]
    pub witness: bool,
    /// A participant key: write it as PKCS#8 PEM (`BEGIN PRIVATE KEY`, as `openssl genpkey
    /// -algorithm ed25519` does) and print its public key as registration takes it: the 32 raw
    /// bytes in standard base64 (see below).
    #[arg(long, conflicts_with_all = ["witness", "name"])]
    pub participant: bool,
}

/// Writes the private key and prints the verifier key (or a participant's public key) on
/// stdout.
pub fn run(args: KeygenArgs) -> anyhow::Result<()> {
    let written = |e| {
        anyhow::Error::new(e).context(format!(
            "writing {} (use --force to replace it)",
            args.out.display()
        ))
    };
    if args.participant {
        let (pem, public_key) = participant_key(&SigningKey::generate(&mut rand::rngs::OsRng))?;
        super::write_secret(&args.out, &pem, args.force).map_err(written)?;
        println!("{public_key}");
        return Ok(());
    }
    // clap requires --name unless --participant.
    let name = args.name.as_deref().context("--name is required")?;
    let (skey, vkey) = LogSigner::generate(name)?;
    super::write_secret(&args.out, &format!("{skey}\n"), args.force).map_err(written)?;
    if args.witness {
        let (name, key) = crate::log::checkpoint::signing_key(&skey)?;
        println!(
            "{}",
            crate::witness::cosignature::vkey(&name, &key.verifying_key())
        );
    } else {
        println!("{vkey}");
    }
    Ok(())
}

/// A participant key's PKCS#8 PEM text, and its public key as `POST /v1/participants` takes
/// it (standard base64 of the 32 raw bytes).
///
/// The PEM is RFC 8410's PKCS#8 v1 (`PrivateKeyInfo`, the private key only), as `openssl
/// genpkey` writes it: OpenSSL 3.0 and Python's `cryptography` refuse the v2 form
/// (`OneAsymmetricKey` with the public key) that `SigningKey::to_pkcs8_pem` writes.
pub fn participant_key(key: &SigningKey) -> anyhow::Result<(String, String)> {
    let pem = KeypairBytes {
        secret_key: key.to_bytes(),
        public_key: None,
    }
    .to_pkcs8_pem(ed25519_dalek::pkcs8::spki::der::pem::LineEnding::LF)
    .context("encoding the key as PKCS#8")?;
    Ok((
        pem.to_string(),
        BASE64_STANDARD.encode(key.verifying_key().as_bytes()),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_participant_key_reads_back_with_its_public_key() {
        let key = SigningKey::from_bytes(&[7; 32]);
        let (pem, public_key) = participant_key(&key).unwrap();
        assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----\n"), "{pem}");
        // Byte for byte what `openssl genpkey -algorithm ed25519` writes for this seed: the
        // RFC 8410 PrivateKeyInfo header, then the 32-byte seed.
        let der = BASE64_STANDARD
            .decode(
                pem.lines()
                    .filter(|l| !l.starts_with("-----"))
                    .collect::<String>(),
            )
            .unwrap();
        assert_eq!(
            crate::field::hex(&der),
            format!("302e020100300506032b657004220420{}", "07".repeat(32))
        );
        let back = super::super::client::parse_participant_key(&pem).unwrap();
        assert_eq!(back.to_bytes(), key.to_bytes());
        assert_eq!(
            crate::participant::parse_public_key(&public_key).unwrap(),
            key.verifying_key()
        );
    }
}
