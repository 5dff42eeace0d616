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

    /// `JSMirrorWithSubjectsErr`.
    pub fn mirror_with_subjects() -> ApiError {
        ApiError::new(400, 10034, "stream mirrors can not contain subjects")
    }

    /// `JSMirrorWithSourcesErr`.
    pub fn mirror_with_sources() -> ApiError {
        ApiError::new(
            400,
            10031,
            "stream mirrors can not also contain other sources",
        )
    }

    /// `JSMirrorWithFirstSeqErr`.
    pub fn mirror_with_first_seq() -> ApiError {
        ApiError::new(
            400,
            10143,
            "stream mirrors can not have first sequence configured",
        )
    }

    /// `JSMirrorInvalidStreamName`.
    pub fn mirror_invalid_stream_name() -> ApiError {
        ApiError::new(400, 10142, "mirrored stream name is invalid")
    }

    /// `JSMirrorMultipleFiltersNotAllowed`.
    pub fn mirror_multiple_filters_not_allowed() -> ApiError {
        ApiError::new(
            400,
            10150,
            "mirror with multiple subject transforms cannot also have a single subject filter",
        )
    }

    /// `JSMirrorInvalidSubjectFilter`, worded as Go's `checkStreamCfg` words it.
    pub fn mirror_invalid_subject_filter(filter: &str) -> ApiError {
        ApiError::new(
            500,
            10049,
            format!("subject filter '{filter}' for the mirror invalid subject"),
        )
    }

    /// `JSStreamMirrorNotUpdatableErr`.
    pub fn mirror_config_update() -> ApiError {
        ApiError::new(400, 10055, "stream mirror configuration can not be updated")
    }

    /// `JSSourceInvalidStreamName`.
    pub fn source_invalid_stream_name() -> ApiError {
        ApiError::new(400, 10141, "sourced stream name is invalid")
    }

    /// `JSSourceMultipleFiltersNotAllowed`.
    pub fn source_multiple_filters_not_allowed() -> ApiError {
        ApiError::new(
            400,
            10144,
            "source with multiple subject transforms cannot also have a single subject filter",
        )
    }

    /// `checkStreamCfg`'s refusal of a source's filter.
    pub fn source_invalid_subject_filter(filter: &str) -> ApiError {
        ApiError::new(
            500,
            10049,
            format!("subject filter '{filter}' for the source: invalid subject"),
        )
    }

    /// `JSSourceInvalidTransformDestination`.
    pub fn source_invalid_transform(why: &str) -> ApiError {
        ApiError::new(400, 10146, format!("source transform: {why}"))
    }

    /// `JSSourceInvalidSubjectFilter`: a transform's source subject.
    pub fn source_invalid_transform_source(src: &str) -> ApiError {
        ApiError::new(
            400,
            10145,
            format!("source transform source: invalid subject {src}"),
        )
    }

    /// `JSSourceDuplicateDetected`.
    pub fn source_duplicate_detected() -> ApiError {
        ApiError::new(400, 10140, "duplicate source configuration detected")
    }

    /// `JSConsumerInvalidPriorityGroupErr`: an unpin of a group the consumer does not have.
    pub fn priority_group_not_found() -> ApiError {
        ApiError::new(
            400,
            10160,
            "Provided priority group does not exist for this consumer",
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

/// Errors with a fixed text: `name = (code, err_code, description)`, each Go's
/// `JS<Name>Err`.
macro_rules! fixed_errors {
    ($($(#[$doc:meta])* $name:ident = ($code:expr, $err:expr, $text:expr);)+) => {
        impl ApiError {
            $($(#[$doc])* pub fn $name() -> ApiError {
                ApiError::new($code, $err, $text)
            })+
        }
    };
}

fixed_errors! {
    /// `JSConsumerNotFoundErr`.
    consumer_not_found = (404, 10014, "consumer not found");
    /// `JSConsumerDurableNameNotMatchSubjectErr`.
    consumer_durable_not_subject =
        (400, 10017, "consumer name in subject does not match durable name in request");
    /// `JSConsumerDurableNameNotSetErr`.
    consumer_durable_not_set =
        (400, 10018, "consumer expected to be durable but a durable name was not set");
    /// `JSConsumerEphemeralWithDurableNameErr`.
    consumer_ephemeral_with_durable =
        (400, 10020, "consumer expected to be ephemeral but a durable name was set in request");
    /// `JSConsumerCreateFilterSubjectMismatchErr`.
    consumer_filter_not_subject =
        (400, 10131, "Consumer create request did not match filtered subject from create subject");
    /// `JSConsumerMultipleFiltersNotAllowed`.
    consumer_filters_with_subject_api =
        (400, 10137, "consumer with multiple subject filters cannot use subject based API");
    /// `JSReplicasCountCannotBeNegative`.
    replicas_negative = (400, 10133, "replicas count cannot be negative");
    /// `JSConsumerWithFlowControlNeedsHeartbeats`.
    consumer_flow_control_needs_heartbeats =
        (400, 10108, "consumer with flow control also needs heartbeats");
    /// `JSMaximumConsumersLimitErr`.
    max_consumers = (400, 10026, "maximum consumers limit reached");
    /// `JSConsumerAlreadyExists`.
    consumer_exists = (400, 10148, "consumer already exists");
    /// `JSConsumerDoesNotExist`.
    consumer_does_not_exist = (400, 10149, "consumer does not exist");
    /// `JSNotEmptyRequestErr`.
    not_empty_request = (400, 10038, "expected an empty request payload");
    /// `JSConsumerBackOffNegativeErr`.
    consumer_backoff_negative = (400, 10184, "consumer backoff needs to be positive");
    /// `JSConsumerAckWaitNegativeErr`.
    consumer_ack_wait_negative = (400, 10183, "consumer ack wait needs to be positive");
    /// `JSConsumerMaxDeliverBackoffErr`.
    consumer_max_deliver_backoff =
        (400, 10116, "max deliver is required to be > length of backoff values");
    /// `JSConsumerDirectRequiresPushErr`.
    consumer_direct_requires_push = (400, 10090, "consumer direct requires a push based consumer");
    /// `JSConsumerDirectRequiresEphemeralErr`.
    consumer_direct_requires_ephemeral =
        (400, 10091, "consumer direct requires an ephemeral consumer");
    /// `JSConsumerDuplicateFilterSubjects`.
    consumer_duplicate_filter_subjects =
        (400, 10136, "consumer cannot have both FilterSubject and FilterSubjects specified");
    /// `JSConsumerEmptyFilter`.
    consumer_empty_filter = (400, 10139, "consumer filter in FilterSubjects cannot be empty");
    /// `JSConsumerOverlappingSubjectFilters`.
    consumer_overlapping_filters = (400, 10138, "consumer subject filters cannot overlap");
    /// `JSConsumerDeliverToWildcardsErr`.
    consumer_deliver_to_wildcards = (400, 10079, "consumer deliver subject has wildcards");
    /// `JSConsumerInvalidDeliverSubject`.
    consumer_invalid_deliver_subject = (400, 10112, "invalid push consumer deliver subject");
    /// `JSConsumerDeliverCycleErr`.
    consumer_deliver_cycle = (400, 10081, "consumer deliver subject forms a cycle");
    /// `JSConsumerPushMaxWaitingErr`.
    consumer_push_max_waiting = (400, 10080, "consumer in push mode can not set max waiting");
    /// `JSConsumerMaxPendingAckPolicyRequiredErr`.
    consumer_max_pending_ack_policy_required =
        (400, 10082, "consumer requires ack policy for max ack pending");
    /// `JSConsumerSmallHeartbeatErr`.
    consumer_small_heartbeat = (400, 10083, "consumer idle heartbeat needs to be >= 100ms");
    /// `JSConsumerPullRequiresAckErr`.
    consumer_pull_requires_ack =
        (400, 10084, "consumer in pull mode requires explicit ack policy on workqueue stream");
    /// `JSConsumerWQRequiresExplicitAckErr`.
    consumer_wq_requires_explicit_ack = (400, 10098, "workqueue stream requires explicit ack");
    /// `JSConsumerWQMultipleUnfilteredErr`.
    consumer_wq_multiple_unfiltered =
        (400, 10099, "multiple non-filtered consumers not allowed on workqueue stream");
    /// `JSConsumerWQConsumerNotUniqueErr`.
    consumer_wq_not_unique = (400, 10100, "filtered consumer not unique on workqueue stream");
    /// `JSConsumerPriorityPolicyWithoutGroup`.
    consumer_priority_policy_without_group =
        (400, 10159, "Setting PriorityPolicy requires at least one PriorityGroup to be set");
    /// `JSConsumerEmptyGroupName`.
    consumer_empty_group_name = (400, 10161, "Group name cannot be an empty string");
    /// `JSConsumerInvalidGroupNameErr` (the `)+` is Go's).
    consumer_invalid_group_name = (
        400,
        10162,
        "Valid priority group name must match A-Z, a-z, 0-9, -_/=)+ and may not exceed 16 characters"
    );
    /// `JSConsumerPushWithPriorityGroupErr`.
    consumer_push_with_priority_group =
        (400, 10178, "priority groups can not be used with push consumers");
    /// `JSConsumerPriorityGroupWithPolicyNone`.
    consumer_priority_group_with_policy_none =
        (400, 10196, "consumer can not have priority groups when policy is none");
    /// `JSConsumerPinnedTTLWithoutPriorityPolicyNone`.
    consumer_pinned_ttl_without_priority_policy =
        (400, 10197, "PinnedTTL cannot be set when PriorityPolicy is none");
    /// `JSConsumerPullWithRateLimitErr`.
    consumer_pull_with_rate_limit =
        (400, 10086, "consumer in pull mode can not have rate limit set");
    /// `JSConsumerHBRequiresPushErr`.
    consumer_heartbeat_requires_push =
        (400, 10088, "consumer idle heartbeat requires a push based consumer");
    /// `JSConsumerFCRequiresPushErr`.
    consumer_flow_control_requires_push =
        (400, 10089, "consumer flow control requires a push based consumer");
    /// `JSConsumerMaxRequestExpiresToSmall`.
    consumer_max_request_expires_too_small =
        (400, 10115, "consumer max request expires needs to be >= 1ms");
}

impl ApiError {
    /// `JSConsumerDescriptionTooLongErrF`.
    pub fn consumer_description_too_long(max: usize) -> ApiError {
        ApiError::new(
            400,
            10107,
            format!("consumer description is too long, maximum allowed is {max}"),
        )
    }

    /// `JSConsumerMaxPendingAckExcessErrF`.
    pub fn consumer_max_ack_pending_excess(limit: i64) -> ApiError {
        ApiError::new(
            400,
            10121,
            format!("consumer max ack pending exceeds system limit of {limit}"),
        )
    }

    /// `JSConsumerInactiveThresholdExcess`: the limit as a Go duration.
    pub fn consumer_inactive_threshold_excess(limit_ns: i64) -> ApiError {
        let limit = crate::timefmt::go_duration(std::time::Duration::from_nanos(limit_ns as u64));
        ApiError::new(
            400,
            10153,
            format!("consumer inactive threshold exceeds system limit of {limit}"),
        )
    }

    /// `JSConsumerInvalidSamplingErrF`.
    pub fn consumer_invalid_sampling(err: impl std::fmt::Display) -> ApiError {
        ApiError::new(
            400,
            10095,
            format!("failed to parse consumer sampling configuration: {err}"),
        )
    }

    /// `JSConsumerInvalidPolicyErrF`.
    pub fn consumer_invalid_policy(why: impl std::fmt::Display) -> ApiError {
        ApiError::new(400, 10094, why.to_string())
    }

    /// `JSConsumerCreateErrF`: what `addConsumer` refused.
    pub fn consumer_create(why: impl std::fmt::Display) -> ApiError {
        ApiError::new(500, 10012, why.to_string())
    }
}
