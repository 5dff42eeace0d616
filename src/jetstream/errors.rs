//! JetStream API errors: the Go server's `ApiError` with its HTTP-like code, its
//! `errors.json` code and description (nats-server `server/jetstream_errors_generated.go`).

use serde::Serialize;

/// One API error as the reply's `error` object carries it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct ApiError {
    pub code: u16,
    pub err_code: u16,
    pub description: String,
}

impl ApiError {
    fn new(code: u16, err_code: u16, description: impl Into<String>) -> ApiError {
        ApiError {
            code,
            err_code,
            description: description.into(),
        }
    }

    /// `JSInvalidJSONErr`: the request body did not decode.
    pub fn invalid_json(detail: impl std::fmt::Display) -> ApiError {
        ApiError::new(400, 10025, format!("invalid JSON: {detail}"))
    }

    /// `JSNotEnabledForAccountErr`.
    pub fn not_enabled_for_account() -> ApiError {
        ApiError::new(503, 10039, "JetStream not enabled for account")
    }

    /// `JSAccountResourcesExceededErr`: a publish over the account's storage.
    pub fn account_resources_exceeded() -> ApiError {
        ApiError::new(400, 10002, "resource limits exceeded for account")
    }

    /// `JSStorageResourcesExceededErr`: a stream's `max_bytes` the account or server cannot
    /// hold.
    pub fn storage_exceeded() -> ApiError {
        ApiError::new(500, 10047, "insufficient storage resources available")
    }

    /// `JSMaximumStreamsLimitErr`.
    pub fn max_streams() -> ApiError {
        ApiError::new(400, 10027, "maximum number of streams reached")
    }

    /// `JSClusterRequiredErr`.
    pub fn clustering_required() -> ApiError {
        ApiError::new(503, 10010, "JetStream clustering support required")
    }

    /// `JSBadRequestErr`.
    pub fn bad_request() -> ApiError {
        ApiError::new(400, 10003, "bad request")
    }

    /// `JSStreamNotFoundErr`.
    pub fn stream_not_found() -> ApiError {
        ApiError::new(404, 10059, "stream not found")
    }

    /// `JSStreamMismatchErr`.
    pub fn stream_name_mismatch() -> ApiError {
        ApiError::new(400, 10056, "stream name in subject does not match request")
    }

    /// `JSStreamNameExistErr`: the same name with another configuration.
    pub fn stream_name_exists() -> ApiError {
        ApiError::new(
            400,
            10058,
            "stream name already in use with a different configuration",
        )
    }

    /// `JSStreamSubjectOverlapErr`.
    pub fn subjects_overlap() -> ApiError {
        ApiError::new(400, 10065, "subjects overlap with an existing stream")
    }

    /// `JSStreamReplicasNotSupportedErr`.
    pub fn replicas_not_supported() -> ApiError {
        ApiError::new(
            500,
            10074,
            "replicas > 1 not supported in non-clustered mode",
        )
    }

    /// `JSStreamInvalidConfigF`: what `checkStreamCfg` refused.
    pub fn invalid_config(why: impl std::fmt::Display) -> ApiError {
        ApiError::new(500, 10052, why.to_string())
    }

    /// `JSNoMessageFoundErr`.
    pub fn no_message_found() -> ApiError {
        ApiError::new(404, 10037, "no message found")
    }

    /// `JSStreamMsgDeleteFailedF` with the store's `ErrStoreMsgNotFound`.
    pub fn no_message_to_delete() -> ApiError {
        ApiError::new(500, 10057, "no message found")
    }

    /// `JSSequenceNotFoundErrF`.
    pub fn sequence_not_found(seq: u64) -> ApiError {
        ApiError::new(400, 10043, format!("sequence {seq} not found"))
    }

    /// `JSStreamPurgeFailedF` for a stream with `deny_purge`.
    pub fn purge_denied() -> ApiError {
        ApiError::new(500, 10110, "stream purge not permitted")
    }

    /// `JSStreamMsgDeleteFailedF` for a stream with `deny_delete`.
    pub fn delete_denied() -> ApiError {
        ApiError::new(500, 10057, "message delete not permitted")
    }

    /// `JSStreamNameContainsPathSeparatorsErr`.
    pub fn name_has_path_separators() -> ApiError {
        ApiError::new(400, 10128, "Stream name can not contain path separators")
    }

    /// `JSStreamDeleteErrF`.
    pub fn stream_delete(why: impl std::fmt::Display) -> ApiError {
        ApiError::new(500, 10050, why.to_string())
    }

    /// `JSStreamGeneralErrorF`.
    pub fn general(why: impl std::fmt::Display) -> ApiError {
        ApiError::new(500, 10051, why.to_string())
    }

    /// `JSStreamWrongLastSequenceErrF`.
    pub fn wrong_last_sequence(last: u64) -> ApiError {
        ApiError::new(400, 10071, format!("wrong last sequence: {last}"))
    }

    /// `JSStreamNotMatchErr`: `Nats-Expected-Stream` named another stream.
    pub fn expected_stream_mismatch() -> ApiError {
        ApiError::new(400, 10060, "expected stream does not match")
    }

    /// `JSStreamWrongLastMsgIDErrF`.
    pub fn wrong_last_msg_id(id: &str) -> ApiError {
        ApiError::new(400, 10070, format!("wrong last msg ID: {id}"))
    }

    /// `JSStreamMessageExceedsMaximumErr`.
    pub fn message_too_large() -> ApiError {
        ApiError::new(400, 10054, "message size exceeds maximum allowed")
    }

    /// `JSStreamStoreFailedF`: the store refused the message (a limit with discard new).
    pub fn store_failed(why: impl std::fmt::Display) -> ApiError {
        ApiError::new(503, 10077, why.to_string())
    }

    /// `JSStreamRollupFailedF`.
    pub fn rollup_failed(why: impl std::fmt::Display) -> ApiError {
        ApiError::new(500, 10111, why.to_string())
    }

    /// `JSMessageTTLInvalidErr`.
    pub fn invalid_ttl() -> ApiError {
        ApiError::new(400, 10165, "invalid per-message TTL")
    }

    /// `JSMessageTTLDisabledErr`.
    pub fn ttl_disabled() -> ApiError {
        ApiError::new(400, 10166, "per-message TTL is disabled")
    }

    /// `JSStreamSealedErr`.
    pub fn sealed() -> ApiError {
        ApiError::new(400, 10109, "invalid operation on sealed stream")
    }
}
