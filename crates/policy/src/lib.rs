//! regionstack's residency policy (DESIGN §5) as pure functions: no I/O, no clock, no
//! Kubernetes client. The operator, the admission path and `regionstack check` all
//! call [`evaluate_region`], [`evaluate_pii`], [`evaluate_replica`] or [`evaluate_world`] and therefore
//! reach the same verdict on the same objects.
//!
//! Interpretations of DESIGN §5 that are not spelled out there are documented where
//! they are made: [`classify::outcome`] (class × transform), [`catalogue`] (legal
//! lists), [`evaluate::evaluate_replica`] (Draining sources, basis reporting).

pub mod catalogue;
pub mod classify;
pub mod evaluate;
pub mod identifier;
pub mod row_filter;

pub use catalogue::{Basis, Catalogue, TransferDecision};
pub use evaluate::{
    Finding, Kind, RegionIndex, ReplicaVerdict, TargetDecision, Verdict, World, evaluate_pii, evaluate_region,
    evaluate_replica, evaluate_world,
};
pub use row_filter::{RowFilter, RowFilterError};
