//! The Region controller. PLACEHOLDER: the contract every kind module keeps; the
//! reconcile pipeline is being written (issue 5).

use std::sync::Arc;

use kube::runtime::controller::Action;
use regionstack_api::Region;

use super::{Context, ErrorCategory};

/// The kind, as used in metric labels and logs.
pub const KIND: &str = "Region";

/// Errors of the Region reconcile.
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

/// Reconcile one Region.
pub async fn reconcile(obj: Arc<Region>, ctx: Arc<Context>) -> Result<Action, Error> {
    let _ = (obj, ctx);
    tokio::task::yield_now().await;
    Ok(Action::await_change())
}
