//! Command-line interface: one binary, one subcommand per job (DESIGN §7).

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

use crate::check;
use crate::run::RunArgs;

/// regionstack keeps a multi-region deployment's databases in line with data-residency
/// rules.
#[derive(Debug, Parser)]
#[command(name = "regionstack", version, about)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check manifests against the residency policy, offline (for GitOps pipelines).
    ///
    /// Exit status: 0 compliant, 1 violations, 2 input that cannot be read or parsed.
    Check(CheckArgs),
    /// Print the CustomResourceDefinitions as YAML.
    Crd,
    /// Run the operator for one region (SIGINT/SIGTERM: graceful shutdown, exit 0).
    Run(RunArgs),
    /// Run the seed topology on this machine (emulated clusters, real PostgreSQL,
    /// one operator per region) and show the residency promises holding.
    ///
    /// Exit status with --once: 0 when every step held, 1 otherwise.
    #[cfg(feature = "demo")]
    Demo(crate::demo::DemoArgs),
}

/// Arguments of `regionstack check`.
#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    /// Manifest files or directories (searched recursively for .yaml, .yml and .json;
    /// a `.regionstackignore` file in a directory lists entries to skip).
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    /// Output format.
    #[arg(long, short, value_enum, default_value_t = Output::Text)]
    pub output: Output,
    /// Countries (ISO 3166-1 alpha-2) to which India restricts transfers under DPDP
    /// section 16, comma-separated.
    #[arg(long, value_delimiter = ',', env = "REGIONSTACK_DPDP_RESTRICTED")]
    pub dpdp_restricted: Vec<String>,
}

/// Output formats of `check`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Output {
    /// One line per violation, then a summary line.
    Text,
    /// `{"violations":[{"kind","namespace","name","code","message"}]}`.
    Json,
}

/// Parse arguments, run, and turn the outcome into the process exit status.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Check(args) => run_check(&args),
        Command::Crd => {
            let mut out = std::io::stdout().lock();
            if out.write_all(regionstack_api::crd::all_yaml().as_bytes()).is_err() {
                return ExitCode::from(2);
            }
            ExitCode::SUCCESS
        }
        Command::Run(args) => run_operator(args),
        #[cfg(feature = "demo")]
        Command::Demo(args) => crate::demo::main(&args),
    }
}

fn run_operator(args: RunArgs) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("regionstack run: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(crate::run::run(args, crate::run::shutdown_signal())) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // Logging is initialized by then; the error goes where the logs go.
            tracing::error!(error = format!("{e:#}"), "the operator stopped on an error");
            ExitCode::FAILURE
        }
    }
}

fn run_check(args: &CheckArgs) -> ExitCode {
    let catalogue = regionstack_policy::Catalogue::new()
        .with_dpdp_restricted(args.dpdp_restricted.iter().map(|c| c.trim().to_uppercase()));
    let outcome = check::run(&args.paths, &catalogue);
    let mut stdout = std::io::stdout().lock();
    let mut stderr = std::io::stderr().lock();
    let rendered = match args.output {
        Output::Text => check::render_text(&outcome),
        Output::Json => check::render_json(&outcome),
    };
    // Input errors go to stderr in text mode so that a pipeline's log shows them even
    // when stdout is captured; in JSON mode everything is one document on stdout.
    let write = match (&outcome, args.output) {
        (check::Outcome::InputErrors(_), Output::Text) => stderr.write_all(rendered.as_bytes()),
        _ => stdout.write_all(rendered.as_bytes()),
    };
    if write.is_err() {
        return ExitCode::from(2);
    }
    ExitCode::from(outcome.exit_code())
}
