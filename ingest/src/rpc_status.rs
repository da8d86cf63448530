//! The few `google.rpc` messages OTLP error responses use, as prost types: `Status` (the body of
//! an HTTP error response, and gRPC status details) and `RetryInfo` (how long to wait).

use std::time::Duration;

use prost::Message;

#[derive(Clone, PartialEq, prost::Message)]
pub struct Status {
    #[prost(int32, tag = "1")]
    pub code: i32,
    #[prost(string, tag = "2")]
    pub message: String,
    #[prost(message, repeated, tag = "3")]
    pub details: Vec<Any>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct Any {
    #[prost(string, tag = "1")]
    pub type_url: String,
    #[prost(bytes = "vec", tag = "2")]
    pub value: Vec<u8>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct RetryInfo {
    #[prost(message, optional, tag = "1")]
    pub retry_delay: Option<ProtoDuration>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct ProtoDuration {
    #[prost(int64, tag = "1")]
    pub seconds: i64,
    #[prost(int32, tag = "2")]
    pub nanos: i32,
}

/// A `Status` with code and message, and a `RetryInfo` detail when `retry` is given.
pub fn status(code: i32, message: &str, retry: Option<Duration>) -> Status {
    let details = retry
        .map(|d| Any {
            type_url: "type.googleapis.com/google.rpc.RetryInfo".into(),
            value: RetryInfo { retry_delay: Some(ProtoDuration { seconds: d.as_secs() as i64, nanos: d.subsec_nanos() as i32 }) }.encode_to_vec(),
        })
        .into_iter()
        .collect();
    Status { code, message: message.to_owned(), details }
}
