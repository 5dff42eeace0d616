//! A stream's configuration as the JetStream API carries it (Go's `StreamConfig`, fields in
//! its order, `omitempty` where Go has it), and the checks and defaults of Go's
//! `checkStreamCfg` (nats-server `server/stream.go`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::errors::ApiError;
use crate::subject;

/// Go's `JSMaxNameLen`.
const MAX_NAME_LEN: usize = 255;
/// Go's `JSMaxDescriptionLen`.
const MAX_DESCRIPTION_LEN: usize = 4 * 1024;
/// Go's `JSMaxMetadataLen`: keys and values together.
const MAX_METADATA_LEN: usize = 128 * 1024;
/// Go's `StreamMaxReplicas`.
const MAX_REPLICAS: i64 = 5;
/// Go's `StreamDefaultDuplicatesWindow`: 2 minutes, in nanoseconds.
pub(crate) const DEFAULT_DUPLICATE_WINDOW_NS: i64 = 120_000_000_000;
/// The shortest `max_age` and `duplicate_window` Go accepts: 100 ms, in nanoseconds.
const MIN_WINDOW_NS: i64 = 100_000_000;
/// The shortest `subject_delete_marker_ttl` Go accepts: 1 s, in nanoseconds.
const MIN_MARKER_TTL_NS: i64 = 1_000_000_000;

pub(crate) fn is_false(b: &bool) -> bool {
    !*b
}
pub(crate) fn is_zero_i64(n: &i64) -> bool {
    *n == 0
}
pub(crate) fn is_zero_u64(n: &u64) -> bool {
    *n == 0
}

/// Go's enum decoders refuse an unknown name with the raw JSON quoted:
/// `can not unmarshal "\"bogus\""`.
pub(crate) fn cannot_unmarshal(v: &str) -> String {
    format!("can not unmarshal {:?}", format!("\"{v}\""))
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase", try_from = "String")]
pub(crate) enum Retention {
    #[default]
    Limits,
    Interest,
    Workqueue,
}

impl TryFrom<String> for Retention {
    type Error = String;
    fn try_from(v: String) -> Result<Self, String> {
        match v.as_str() {
            "limits" => Ok(Retention::Limits),
            "interest" => Ok(Retention::Interest),
            "workqueue" => Ok(Retention::Workqueue),
            _ => Err(cannot_unmarshal(&v)),
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase", try_from = "String")]
pub(crate) enum Discard {
    #[default]
    Old,
    New,
}

impl TryFrom<String> for Discard {
    type Error = String;
    fn try_from(v: String) -> Result<Self, String> {
        match v.as_str() {
            "old" => Ok(Discard::Old),
            "new" => Ok(Discard::New),
            _ => Err(cannot_unmarshal(&v)),
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase", try_from = "String")]
pub(crate) enum Storage {
    #[default]
    File,
    Memory,
}

impl TryFrom<String> for Storage {
    type Error = String;
    fn try_from(v: String) -> Result<Self, String> {
        match v.as_str() {
            "file" => Ok(Storage::File),
            "memory" => Ok(Storage::Memory),
            _ => Err(cannot_unmarshal(&v)),
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase", try_from = "String")]
pub(crate) enum Compression {
    #[default]
    None,
    S2,
}

impl TryFrom<String> for Compression {
    type Error = String;
    fn try_from(v: String) -> Result<Self, String> {
        match v.as_str() {
            "none" => Ok(Compression::None),
            "s2" => Ok(Compression::S2),
            _ => Err(cannot_unmarshal(&v)),
        }
    }
}

/// `subject_transform`: applied to a message's subject before it is stored.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct SubjectTransform {
    #[serde(default)]
    pub src: String,
    #[serde(default)]
    pub dest: String,
}

/// `republish`: each stored message is published again on `dest`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct RePublish {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub src: String,
    #[serde(default)]
    pub dest: String,
    #[serde(default, skip_serializing_if = "is_false")]
    pub headers_only: bool,
}

/// `mirror` and each of `sources` (Go's `StreamSource`): the stream copied, where the copy
/// starts, which of its subjects and how they are renamed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub(crate) struct StreamSource {
    pub name: String,
    #[serde(skip_serializing_if = "is_zero_u64")]
    pub opt_start_seq: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub opt_start_time: Option<String>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub filter_subject: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub subject_transforms: Vec<SubjectTransform>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub external: Option<ExternalStream>,
}

/// A source's `external`: another domain's or account's API prefix, kept as given.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub(crate) struct ExternalStream {
    pub api: String,
    pub deliver: String,
}

impl StreamSource {
    /// Go's `composeIName`: the name and what it takes, which tells sources apart and
    /// starts their `Nats-Stream-Source` header. Filters and destinations are joined by a
    /// form feed; none is `>`.
    pub(crate) fn iname(&self) -> String {
        let (filters, dests): (Vec<&str>, Vec<&str>) = if self.subject_transforms.is_empty() {
            let f = if self.filter_subject.is_empty() {
                ">"
            } else {
                &self.filter_subject
            };
            (vec![f], vec![">"])
        } else {
            self.subject_transforms
                .iter()
                .map(|t| {
                    let src = if t.src.is_empty() { ">" } else { &t.src };
                    let dest = if t.dest.is_empty() { ">" } else { &t.dest };
                    (src, dest)
                })
                .unzip()
        };
        format!(
            "{} {} {}",
            self.name,
            filters.join("\x0c"),
            dests.join("\x0c")
        )
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct ConsumerLimits {
    #[serde(default, skip_serializing_if = "is_zero_i64")]
    pub inactive_threshold: i64,
    #[serde(default, skip_serializing_if = "is_zero_i64")]
    pub max_ack_pending: i64,
}

/// Go's `StreamConfig` (with the request's `pedantic`). Placement is kept as given (JSON)
/// so a configuration round-trips. Unknown fields are refused in strict mode (`api::decode`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub(crate) struct StreamConfig {
    pub name: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub description: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub subjects: Vec<String>,
    pub retention: Retention,
    pub max_consumers: i64,
    pub max_msgs: i64,
    pub max_bytes: i64,
    pub max_age: i64,
    pub max_msgs_per_subject: i64,
    #[serde(skip_serializing_if = "is_zero_i64")]
    pub max_msg_size: i64,
    pub discard: Discard,
    pub storage: Storage,
    pub num_replicas: i64,
    #[serde(skip_serializing_if = "is_false")]
    pub no_ack: bool,
    #[serde(skip_serializing_if = "is_zero_i64")]
    pub duplicate_window: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub placement: Option<serde_json::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mirror: Option<StreamSource>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub sources: Vec<StreamSource>,
    pub compression: Compression,
    #[serde(skip_serializing_if = "is_zero_u64")]
    pub first_seq: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject_transform: Option<SubjectTransform>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub republish: Option<RePublish>,
    pub allow_direct: bool,
    pub mirror_direct: bool,
    #[serde(skip_serializing_if = "is_false")]
    pub discard_new_per_subject: bool,
    pub sealed: bool,
    pub deny_delete: bool,
    pub deny_purge: bool,
    pub allow_rollup_hdrs: bool,
    pub consumer_limits: ConsumerLimits,
    pub allow_msg_ttl: bool,
    #[serde(skip_serializing_if = "is_zero_i64")]
    pub subject_delete_marker_ttl: i64,
    #[serde(skip_serializing_if = "is_false")]
    pub allow_msg_counter: bool,
    #[serde(skip_serializing_if = "is_false")]
    pub allow_atomic: bool,
    #[serde(skip_serializing_if = "is_false")]
    pub allow_msg_schedules: bool,
    #[serde(skip_serializing_if = "is_false")]
    pub allow_batched: bool,
    /// `default` or `async` (Go 2.12's `persist_mode`); Riptide acks after the write either
    /// way.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub persist_mode: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metadata: Option<BTreeMap<String, String>>,
    /// Part of the request only (Go's `StreamConfigRequest`).
    #[serde(skip_serializing)]
    pub pedantic: bool,
}

/// A stream's or consumer's metadata as stored: the caller's keys, none of the reserved
/// `_nats.` ones, plus `_nats.req.level`, the API level its configuration needs.
pub(crate) fn store_metadata(metadata: &mut Option<BTreeMap<String, String>>, level: u32) {
    let m = metadata.get_or_insert_with(BTreeMap::new);
    m.retain(|k, _| !k.starts_with("_nats."));
    m.insert("_nats.req.level".into(), level.to_string());
}

/// Stored metadata as create and info replies show it: plus the server's API level and
/// version.
pub(crate) fn add_dynamic_metadata(metadata: &mut Option<BTreeMap<String, String>>) {
    let m = metadata.get_or_insert_with(BTreeMap::new);
    m.insert("_nats.level".into(), super::API_LEVEL.to_string());
    m.insert("_nats.ver".into(), crate::info::GO_SERVER_VERSION.into());
}

/// Go's `isValidName`: not empty, no whitespace, no `.`, `*` or `>`.
pub(crate) fn is_valid_name(name: &str) -> bool {
    !name.is_empty()
        && !name
            .chars()
            .any(|c| c.is_whitespace() || matches!(c, '.' | '*' | '>'))
}

fn invalid(why: &str) -> ApiError {
    ApiError::invalid_config(why)
}

impl StreamConfig {
    /// Go's `checkStreamCfg`: refuses what cannot be, fills in the defaults.
    pub(crate) fn checked(mut self) -> Result<StreamConfig, ApiError> {
        if !is_valid_name(&self.name) {
            return Err(invalid(
                "stream name is required and can not contain '.', '*', '>'",
            ));
        }
        if self.name.len() > MAX_NAME_LEN {
            return Err(invalid(&format!(
                "stream name is too long, maximum allowed is {MAX_NAME_LEN}"
            )));
        }
        if self.description.len() > MAX_DESCRIPTION_LEN {
            return Err(invalid(&format!(
                "stream description is too long, maximum allowed is {MAX_DESCRIPTION_LEN}"
            )));
        }
        let metadata_len: usize = self
            .metadata
            .iter()
            .flatten()
            .map(|(k, v)| k.len() + v.len())
            .sum();
        if metadata_len > MAX_METADATA_LEN {
            return Err(invalid(&format!(
                "stream metadata exceeds maximum size of {MAX_METADATA_LEN} bytes"
            )));
        }
        if self.num_replicas == 0 {
            self.num_replicas = 1;
        }
        if self.num_replicas > MAX_REPLICAS {
            return Err(invalid(&format!("maximum replicas is {MAX_REPLICAS}")));
        }
        if self.num_replicas < 0 {
            return Err(invalid("replicas must be 1 or higher"));
        }
        for limit in [
            &mut self.max_msgs,
            &mut self.max_bytes,
            &mut self.max_msg_size,
            &mut self.max_msgs_per_subject,
            &mut self.max_consumers,
        ] {
            if *limit == 0 {
                *limit = -1;
            }
        }
        if self.max_age < 0 {
            return Err(invalid("max age can not be negative"));
        }
        if self.max_age != 0 && self.max_age < MIN_WINDOW_NS {
            return Err(invalid("max age needs to be >= 100ms"));
        }
        if self.duplicate_window == 0 && self.mirror.is_none() && self.sources.is_empty() {
            self.duplicate_window =
                if self.max_age != 0 && self.max_age < DEFAULT_DUPLICATE_WINDOW_NS {
                    self.max_age
                } else {
                    DEFAULT_DUPLICATE_WINDOW_NS
                };
        }
        if self.duplicate_window < 0 {
            return Err(invalid("duplicates window can not be negative"));
        }
        if self.max_age != 0 && self.duplicate_window > self.max_age {
            return Err(invalid("duplicates window can not be larger then max age"));
        }
        if self.duplicate_window != 0 && self.duplicate_window < MIN_WINDOW_NS {
            return Err(invalid("duplicates window needs to be >= 100ms"));
        }
        if self.deny_purge && self.allow_rollup_hdrs {
            return Err(invalid("roll-ups require the purge permission"));
        }
        if self.discard_new_per_subject {
            if self.discard != Discard::New {
                return Err(invalid(
                    "discard new per subject requires discard new policy to be set",
                ));
            }
            if self.max_msgs_per_subject <= 0 {
                return Err(invalid(
                    "discard new per subject requires max msgs per subject > 0",
                ));
            }
        }
        if self.subject_delete_marker_ttl != 0 {
            if self.subject_delete_marker_ttl < MIN_MARKER_TTL_NS {
                return Err(invalid(
                    "subject delete marker TTL must be at least 1 second",
                ));
            }
            self.allow_msg_ttl = true;
            self.allow_rollup_hdrs = true;
        }
        if self.allow_msg_schedules {
            self.allow_rollup_hdrs = true;
        }
        for (on, what) in [
            (self.allow_msg_counter, "message counters"),
            (self.allow_atomic, "atomic batch publishing"),
            (self.allow_msg_schedules, "message schedules"),
            (self.allow_batched, "batched publishing"),
        ] {
            if on {
                return Err(invalid(&format!(
                    "{what} are not supported by this server yet"
                )));
            }
        }
        if !matches!(self.persist_mode.as_str(), "" | "default" | "async") {
            return Err(invalid(&format!(
                "invalid persist mode {:?}",
                self.persist_mode
            )));
        }
        self.pedantic = false;
        self.check_upstreams()?;
        if self.subjects.is_empty() && self.mirror.is_none() && self.sources.is_empty() {
            self.subjects.push(self.name.clone());
        }
        for (i, s) in self.subjects.iter().enumerate() {
            if self.subjects[..i].contains(s) {
                return Err(invalid("duplicate subjects detected"));
            }
            if !subject::is_valid_subscription(s.as_bytes()) {
                return Err(invalid("invalid subject"));
            }
            if !self.no_ack {
                if s == ">" {
                    return Err(invalid("capturing all subjects requires no-ack to be true"));
                }
                if subject::subjects_collide(s.as_bytes(), b"$JS.>") {
                    return Err(invalid(
                        "subjects that overlap with jetstream api require no-ack to be true",
                    ));
                }
                if subject::subjects_collide(s.as_bytes(), b"$SYS.>") {
                    return Err(invalid(
                        "subjects that overlap with system api require no-ack to be true",
                    ));
                }
            }
            for other in &self.subjects[..i] {
                if subject::subjects_collide(s.as_bytes(), other.as_bytes()) {
                    return Err(invalid(&format!("subject {other:?} overlaps with {s:?}")));
                }
            }
        }
        if let Some(t) = &self.subject_transform {
            if t.dest.is_empty() || !subject::is_valid_subscription(t.dest.as_bytes()) {
                return Err(invalid("stream subject transform destination is not valid"));
            }
        }
        if let Some(r) = &self.republish {
            if !subject::is_valid_subscription(r.dest.as_bytes()) {
                return Err(invalid("stream republish destination subject is invalid"));
            }
        }
        Ok(self)
    }

    /// Go's checks of `mirror` and `sources` (`checkStreamCfg`); cycles through other
    /// streams are the API's to find.
    fn check_upstreams(&self) -> Result<(), ApiError> {
        if let Some(m) = &self.mirror {
            if !self.subjects.is_empty() {
                return Err(ApiError::mirror_with_subjects());
            }
            if !self.sources.is_empty() {
                return Err(ApiError::mirror_with_sources());
            }
            if self.first_seq > 0 {
                return Err(ApiError::mirror_with_first_seq());
            }
            if !is_valid_name(&m.name) {
                return Err(ApiError::mirror_invalid_stream_name());
            }
            if !m.filter_subject.is_empty() && !m.subject_transforms.is_empty() {
                return Err(ApiError::mirror_multiple_filters_not_allowed());
            }
            if !m.filter_subject.is_empty()
                && !subject::is_valid_subscription(m.filter_subject.as_bytes())
            {
                return Err(ApiError::mirror_invalid_subject_filter(&m.filter_subject));
            }
        }
        for (i, s) in self.sources.iter().enumerate() {
            if !is_valid_name(&s.name) {
                return Err(ApiError::source_invalid_stream_name());
            }
            if !s.filter_subject.is_empty() && !s.subject_transforms.is_empty() {
                return Err(ApiError::source_multiple_filters_not_allowed());
            }
            if !s.filter_subject.is_empty()
                && !subject::is_valid_subscription(s.filter_subject.as_bytes())
            {
                return Err(ApiError::source_invalid_subject_filter(&s.filter_subject));
            }
            for t in &s.subject_transforms {
                if !t.src.is_empty() && !subject::is_valid_subscription(t.src.as_bytes()) {
                    return Err(ApiError::source_invalid_transform_source(&t.src));
                }
                let src = if t.src.is_empty() { ">" } else { &t.src };
                // Go's transforms need a `>` in the destination for one in the source.
                if src.ends_with('>') && !t.dest.is_empty() && !t.dest.contains('>') {
                    return Err(ApiError::source_invalid_transform("invalid subject"));
                }
                if let Err(why) = crate::accounts::transform::Transform::new(src, &t.dest, false) {
                    return Err(ApiError::source_invalid_transform(&why));
                }
            }
            if self.sources[..i].iter().any(|o| o.iname() == s.iname()) {
                return Err(ApiError::source_duplicate_detected());
            }
        }
        Ok(())
    }

    /// What the stream copies from: its mirror, or its sources.
    pub(crate) fn upstreams(&self) -> impl Iterator<Item = &StreamSource> {
        self.mirror.iter().chain(&self.sources)
    }

    /// `_nats.req.level`: the API level a configuration needs (Go's
    /// `setStaticStreamMetadata`): 1 for per-message TTLs, 2 for asynchronous persistence.
    fn required_level(&self) -> u32 {
        if self.persist_mode == "async" {
            2
        } else {
            u32::from(self.allow_msg_ttl || self.subject_delete_marker_ttl > 0)
        }
    }

    /// The configuration as stored: the caller's metadata plus `_nats.req.level`.
    pub(crate) fn with_stored_metadata(mut self) -> StreamConfig {
        let level = self.required_level();
        store_metadata(&mut self.metadata, level);
        self
    }

    /// The configuration as replies show it (Go's `setDynamicStreamMetadata`).
    pub(crate) fn with_dynamic_metadata(&self) -> StreamConfig {
        let mut c = self.clone();
        add_dynamic_metadata(&mut c.metadata);
        c
    }

    /// Whether an update from `self` to `new` is one Go allows (`checkStreamUpdate`).
    pub(crate) fn check_update(&self, new: &StreamConfig) -> Result<(), ApiError> {
        let refuse = |why: &str| Err(ApiError::invalid_config(why));
        if self.storage != new.storage {
            return refuse("stream configuration update can not change storage type");
        }
        // Limits and interest may swap; a work queue stays one (Go's `checkStreamUpdate`).
        if (self.retention == Retention::Workqueue) != (new.retention == Retention::Workqueue) {
            return refuse(
                "stream configuration update can not change retention policy to/from workqueue",
            );
        }
        if self.sealed && !new.sealed {
            return refuse("stream configuration update can not unseal a sealed stream");
        }
        if self.deny_delete && !new.deny_delete {
            return refuse("stream configuration update can not cancel deny message deletes");
        }
        if self.deny_purge && !new.deny_purge {
            return refuse("stream configuration update can not cancel deny purge");
        }
        if self.allow_msg_ttl && !new.allow_msg_ttl {
            return refuse("stream configuration update can not disable message TTL");
        }
        if new.mirror.is_some() && new.mirror != self.mirror {
            return Err(ApiError::mirror_config_update());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(json: &str) -> Result<StreamConfig, ApiError> {
        serde_json::from_str::<StreamConfig>(json)
            .map_err(ApiError::invalid_json)?
            .checked()
    }

    #[test]
    fn defaults_as_go_fills_them() {
        let c = parse(r#"{"name":"Z"}"#).unwrap().with_stored_metadata();
        let json = serde_json::to_string(&c).unwrap();
        assert_eq!(
            json,
            concat!(
                r#"{"name":"Z","subjects":["Z"],"retention":"limits","max_consumers":-1,"#,
                r#""max_msgs":-1,"max_bytes":-1,"max_age":0,"max_msgs_per_subject":-1,"#,
                r#""max_msg_size":-1,"discard":"old","storage":"file","num_replicas":1,"#,
                r#""duplicate_window":120000000000,"compression":"none","allow_direct":false,"#,
                r#""mirror_direct":false,"sealed":false,"deny_delete":false,"deny_purge":false,"#,
                r#""allow_rollup_hdrs":false,"consumer_limits":{},"allow_msg_ttl":false,"#,
                r#""metadata":{"_nats.req.level":"0"}}"#
            )
        );
    }

    #[test]
    fn refusals_carry_go_text() {
        let e = parse(r#"{"name":"S","max_age":1000}"#).unwrap_err();
        assert_eq!((e.code, e.err_code), (500, 10052));
        assert_eq!(e.description, "max age needs to be >= 100ms");
        let e = parse(r#"{"name":"S","subjects":["a.*","a.b"]}"#).unwrap_err();
        assert_eq!(e.description, r#"subject "a.*" overlaps with "a.b""#);
        let e = parse(r#"{"name":"S.x"}"#).unwrap_err();
        assert_eq!(e.err_code, 10052);
        let e = parse(r#"{"name":"S","deny_purge":true,"allow_rollup_hdrs":true}"#).unwrap_err();
        assert_eq!(e.description, "roll-ups require the purge permission");
    }

    #[test]
    fn duplicate_window_follows_max_age() {
        let c = parse(r#"{"name":"S","max_age":1000000000}"#).unwrap();
        assert_eq!(c.duplicate_window, 1_000_000_000);
        let e = parse(r#"{"name":"S","max_age":1000000000,"duplicate_window":2000000000}"#)
            .unwrap_err();
        assert_eq!(
            e.description,
            "duplicates window can not be larger then max age"
        );
    }
}
