//! `datapole witness`: a c2sp.org/tlog-witness witness for the logs given with `--log`, signing
//! `cosignature/v1` cosignatures with a key from `datapole keygen`, its records in sled.

use std::net::TcpListener;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use clap::Args;

use crate::log::checkpoint::signing_key;
use crate::witness::cosignature::Cosigner;
use crate::witness::state::SledWitnessStore;
use crate::witness::{http, TrustedLogs, Witness};

/// Flags of `datapole witness`.
#[derive(Debug, Args)]
pub struct WitnessArgs {
    /// Address to listen on (port 0 picks a free port, printed at start).
    #[arg(long, default_value = "127.0.0.1:8090")]
    pub listen: String,
    /// Where the witness keeps its records (the size and root last cosigned per log): created
    /// private if missing, refused if other users may read or write it.
    #[arg(long, default_value = "./datapole-witness")]
    pub data_dir: PathBuf,
    /// The witness's private key, from `datapole keygen --witness` (its name is the
    /// witness's key name).
    #[arg(long)]
    pub key_file: PathBuf,
    /// The verifier key of a log to witness; the key's name is the log's origin. Repeatable.
    #[arg(long = "log", value_name = "VKEY", required = true)]
    pub logs: Vec<String>,
}

/// Runs the witness until it is stopped.
pub fn run(args: WitnessArgs) -> anyhow::Result<()> {
    super::serve::init_tracing();
    super::serve::check_private(&args.key_file)?;
    let skey = std::fs::read_to_string(&args.key_file)
        .with_context(|| format!("reading the witness key {}", args.key_file.display()))?;
    let (name, key) = signing_key(&skey)
        .with_context(|| format!("the witness key {}", args.key_file.display()))?;
    let cosigner = Cosigner::new(&name, key)?;
    let mut logs = TrustedLogs::new();
    for vkey in &args.logs {
        let origin = logs.add(vkey)?;
        anyhow::ensure!(
            origin != name,
            "the log origin {origin:?} is the witness's own key name: use another name for one of them"
        );
    }
    super::serve::ensure_data_dir(&args.data_dir)?;
    super::serve::check_data_dir(&args.data_dir)?;
    let store_path = args.data_dir.join("witness-store");
    let store = SledWitnessStore::open(&store_path).with_context(|| {
        format!(
            "opening {} (is another witness using it?)",
            store_path.display()
        )
    })?;
    let witness = Arc::new(Witness::new(cosigner, logs, Arc::new(store)));
    let listener =
        TcpListener::bind(&args.listen).with_context(|| format!("listening on {}", args.listen))?;
    let addr = listener.local_addr()?;
    println!("witness {name} vkey {}", witness.cosigner().vkey());
    println!("datapole witness listening on http://{addr}");
    tracing::info!(%name, vkey = %witness.cosigner().vkey(), "witness ready");
    actix_web::rt::System::new().block_on(async move { http::server(listener, witness)?.await })?;
    Ok(())
}
