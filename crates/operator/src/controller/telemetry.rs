//! The TelemetryReplica controller. PLACEHOLDER: the contract every kind module keeps; the
//! reconcile pipeline is being written (issue 5).

use std::sync::Arc;

use kube::runtime::controller::Action;
use regionstack_api::TelemetryReplica;

use super::{Context, ErrorCategory};

/// The kind, as used in metric labels and logs.
pub const KIND: &str = "TelemetryReplica";

/// Errors of the TelemetryReplica reconcile.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The API server could not be reached or refused a request.
    #[error("kubernetes API: {0}")]
    Kube(#[from] kube::Error),
}

impl ErrorCategory for Error {
    fn category(&self) -> &'static str {
        match self {
            Error::Kube(_) => "KubeApi",
        }
    }
    fn is_transient(&self) -> bool {
        true
    }
}

/// Reconcile one TelemetryReplica.
pub async fn reconcile(obj: Arc<TelemetryReplica>, ctx: Arc<Context>) -> Result<Action, Error> {
    let _ = (obj, ctx);
    tokio::task::yield_now().await;
    Ok(Action::await_change())
}
