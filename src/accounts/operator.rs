//! The accounts of operator mode: each account JWT the resolver knows becomes an account
//! named by its public key, with the exports and imports its claims list (`accounts.go`
//! `updateAccountClaimsWithRefresh`).

use super::{AccountConfig, ExportConfig, ExportKind, ImportConfig, ResponseType};
use crate::jwt::claims::{ExportType, Import};
use crate::jwt::trust::OperatorConfig;

fn kind(t: &ExportType) -> ExportKind {
    match t {
        ExportType::Stream => ExportKind::Stream,
        ExportType::Service => ExportKind::Service,
    }
}

/// `response_type` of a JWT export; Go's JWT library accepts the three names only.
fn response(t: &str) -> ResponseType {
    match t {
        "Stream" => ResponseType::Stream,
        "Chunked" => ResponseType::Chunked,
        _ => ResponseType::Singleton,
    }
}

/// The subject in the importing account: `local_subject`, or the deprecated `to`, which is a
/// prefix for streams and the local subject for services.
fn local(im: &Import) -> Option<String> {
    if !im.local_subject.is_empty() {
        return Some(im.local_subject.clone());
    }
    match (im.to.is_empty(), &im.kind) {
        (true, _) => None,
        (false, ExportType::Stream) => Some(format!("{}.{}", im.to, im.subject)),
        (false, ExportType::Service) => Some(im.to.clone()),
    }
}

/// One account configuration per preloaded account JWT. An export that requires an
/// activation token (`token_req`) is open to no account: Riptide checks no activation
/// tokens, so it lets nobody in rather than everybody.
pub fn configs(op: &OperatorConfig) -> Vec<AccountConfig> {
    op.preload
        .iter()
        .map(|(key, claims)| AccountConfig {
            name: key.clone(),
            // Go enables JetStream for an account whose JWT grants it any storage.
            jetstream: {
                let l = &claims.nats.limits;
                (l.mem_storage != 0 || l.disk_storage != 0 || !l.tiered_limits.is_empty())
                    .then_some(crate::jetstream::AccountLimits {
                        max_memory: l.mem_storage,
                        max_storage: l.disk_storage,
                        max_streams: l.streams,
                        max_consumers: l.consumer,
                        max_ack_pending: l.max_ack_pending,
                        memory_max_stream_bytes: l.mem_max_stream_bytes,
                        storage_max_stream_bytes: l.disk_max_stream_bytes,
                        max_bytes_required: l.max_bytes_required,
                    })
            },
            exports: claims
                .nats
                .exports
                .iter()
                .map(|e| ExportConfig {
                    kind: kind(&e.kind),
                    subject: e.subject.clone(),
                    accounts: e.token_req.then(Vec::new),
                    response: response(&e.response_type),
                })
                .collect(),
            imports: claims
                .nats
                .imports
                .iter()
                .map(|im| ImportConfig {
                    kind: kind(&im.kind),
                    account: im.account.clone(),
                    subject: im.subject.clone(),
                    to: local(im),
                })
                .collect(),
        })
        .collect()
}
