//! An in-memory Kubernetes API server, spoken to over real HTTP by the real `kube`
//! client, `kube-runtime` watchers and `kubectl`. Test and demo infrastructure only
//! (DESIGN §8); the crate README lists every known deviation from kube-apiserver.

mod jsonpath;
pub mod openapi;
pub mod table;
