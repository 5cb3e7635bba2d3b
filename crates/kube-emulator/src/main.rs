//! `kube-emulator --port N --kubeconfig FILE`: a standalone emulator for pointing
//! `kubectl` at, until Ctrl-C.

use std::path::PathBuf;

use clap::Parser;

/// Run an in-memory Kubernetes API server on loopback (tests and demos only).
#[derive(Debug, Parser)]
#[command(name = "kube-emulator", version)]
struct Args {
    /// Port on 127.0.0.1 (0 picks a free one).
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// Write a kubeconfig for the emulator to this file.
    #[arg(long)]
    kubeconfig: Option<PathBuf>,
    /// Authenticate bearer tokens and authorize with RBAC (the kubeconfig is the admin's).
    #[arg(long)]
    rbac: bool,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();
    let emulator = kube_emulator::KubeEmulator::start_with(
        kube_emulator::Config { rbac: args.rbac, ..Default::default() },
        args.port,
    )
    .await?;
    println!("{}", emulator.url());
    if let Some(path) = &args.kubeconfig {
        emulator.write_kubeconfig(path)?;
        println!("kubeconfig written to {}", path.display());
    }
    tokio::signal::ctrl_c().await?;
    emulator.shutdown().await;
    Ok(())
}
