//! The event log's binary encoding: a 3-byte frame (`T`, `E`, format version) followed by one
//! protobuf message.
//!
//! Protobuf gives the schema evolution a log needs: a record written by an older version decodes
//! in a newer one (missing fields read as `None`), and a newer record decodes in an older reader
//! (unknown fields are skipped). The frame version changes only if the framing itself changes;
//! model changes bump [`SCHEMA_VERSION`](crate::SCHEMA_VERSION), recorded in every record.
//! Golden files of every released version live in `schemas/tests/data/` and must keep decoding.

use prost::Message;
use prost::encoding::{self as pe};
use uuid::Uuid;

use crate::event::{Client, Event, EventBody, SCHEMA_VERSION};
use crate::ids::{EventId, SessionId, TenantId, UserId};

pub const MAGIC: [u8; 2] = *b"TE";
pub const FORMAT_VERSION: u8 = 1;

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum EncodingError {
    #[error("not a Tandemu event (bad magic)")]
    BadMagic,
    #[error("event frame version {0} is newer than this build understands ({FORMAT_VERSION})")]
    UnsupportedVersion(u8),
    #[error("malformed event: {0}")]
    Malformed(String),
    #[error("event has no body this build understands (written by a newer version?)")]
    UnknownBody,
}

/// The wire form of [`Event`]. Tags are forever: never reuse or renumber one.
#[derive(Clone, PartialEq, prost::Message)]
struct EventRecord {
    #[prost(uint32, tag = "1")]
    schema_version: u32,
    #[prost(bytes = "vec", tag = "2")]
    id: Vec<u8>,
    #[prost(bytes = "vec", tag = "3")]
    tenant: Vec<u8>,
    #[prost(bytes = "vec", tag = "4")]
    user: Vec<u8>,
    #[prost(string, optional, tag = "5")]
    session: Option<String>,
    #[prost(uint64, tag = "6")]
    time_unix_nano: u64,
    #[prost(uint64, optional, tag = "7")]
    sequence: Option<u64>,
    #[prost(message, optional, tag = "8")]
    client: Option<Client>,
    #[prost(oneof = "EventBody", tags = "20, 21, 22, 23, 24, 25, 26, 27, 28, 29")]
    body: Option<EventBody>,
}

/// Encodes an event, frame included.
pub fn encode(ev: &Event) -> Vec<u8> {
    let mut buf = Vec::with_capacity(256);
    encode_into(ev, &mut buf);
    buf
}

/// Appends an encoded event to `buf`. Writes the fields of [`EventRecord`] directly, so the hot
/// path does not clone the event into the wire struct.
pub fn encode_into(ev: &Event, buf: &mut Vec<u8>) {
    buf.extend_from_slice(&MAGIC);
    buf.push(FORMAT_VERSION);
    pe::uint32::encode(1, &SCHEMA_VERSION, buf);
    pe::bytes::encode(2, &ev.id.as_bytes().to_vec(), buf);
    pe::bytes::encode(3, &ev.tenant.as_uuid().as_bytes().to_vec(), buf);
    pe::bytes::encode(4, &ev.user.as_uuid().as_bytes().to_vec(), buf);
    if let Some(s) = &ev.session {
        pe::string::encode(5, &s.0, buf);
    }
    if ev.time_unix_nano != 0 {
        pe::uint64::encode(6, &ev.time_unix_nano, buf);
    }
    if let Some(seq) = &ev.sequence {
        pe::uint64::encode(7, seq, buf);
    }
    if ev.client != Client::default() {
        pe::message::encode(8, &ev.client, buf);
    }
    ev.body.encode(buf);
}

/// Decodes one framed event.
pub fn decode(bytes: &[u8]) -> Result<Event, EncodingError> {
    let [m0, m1, version, rest @ ..] = bytes else {
        return Err(EncodingError::BadMagic);
    };
    if [*m0, *m1] != MAGIC {
        return Err(EncodingError::BadMagic);
    }
    if *version > FORMAT_VERSION || *version == 0 {
        return Err(EncodingError::UnsupportedVersion(*version));
    }
    let rec = EventRecord::decode(rest).map_err(|e| EncodingError::Malformed(e.to_string()))?;
    let uuid = |field: &str, b: &[u8]| Uuid::from_slice(b).map_err(|_| EncodingError::Malformed(format!("{field} is not 16 bytes")));
    let id: [u8; 16] = rec.id.as_slice().try_into().map_err(|_| EncodingError::Malformed("id is not 16 bytes".into()))?;
    Ok(Event {
        id: EventId(id),
        tenant: TenantId(uuid("tenant", &rec.tenant)?),
        user: UserId(uuid("user", &rec.user)?),
        session: rec.session.map(SessionId),
        time_unix_nano: rec.time_unix_nano,
        sequence: rec.sequence,
        client: rec.client.unwrap_or_default(),
        body: rec.body.ok_or(EncodingError::UnknownBody)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::*;

    pub(crate) fn sample() -> Event {
        Event {
            id: EventId([7; 16]),
            tenant: TenantId(Uuid::from_u128(1)),
            user: UserId(Uuid::from_u128(2)),
            session: Some(SessionId("s-1".into())),
            time_unix_nano: 1_796_325_147_103_000_000,
            sequence: Some(4),
            client: Client { service: Some("claude-code".into()), version: Some("2.1.197".into()), ..Default::default() },
            body: EventBody::ToolResult(ToolResult {
                tool_name: Some("Read".into()),
                success: Some(false),
                error_type: Some("TelemetrySafeError".into()),
                file_path: Some("~/src/app/missing.txt".into()),
                duration_ms: Some(3),
                ..Default::default()
            }),
        }
    }

    #[test]
    fn round_trips() {
        let ev = sample();
        assert_eq!(decode(&encode(&ev)).unwrap(), ev);
    }

    #[test]
    fn direct_encoding_matches_the_wire_struct() {
        let ev = sample();
        let rec = EventRecord {
            schema_version: SCHEMA_VERSION,
            id: ev.id.0.to_vec(),
            tenant: ev.tenant.0.as_bytes().to_vec(),
            user: ev.user.0.as_bytes().to_vec(),
            session: ev.session.clone().map(|s| s.0),
            time_unix_nano: ev.time_unix_nano,
            sequence: ev.sequence,
            client: Some(ev.client.clone()),
            body: Some(ev.body.clone()),
        };
        assert_eq!(&encode(&ev)[3..], rec.encode_to_vec().as_slice());
    }

    #[test]
    fn newer_fields_are_skipped_by_this_reader() {
        let mut bytes = encode(&sample());
        // Field 99, varint 1: what a future version might add.
        pe::uint64::encode(99, &1, &mut bytes);
        assert_eq!(decode(&bytes).unwrap(), sample());
    }

    #[test]
    fn rejects_what_it_cannot_read() {
        assert_eq!(decode(b"XX\x01"), Err(EncodingError::BadMagic));
        assert_eq!(decode(b"TE"), Err(EncodingError::BadMagic));
        assert_eq!(decode(b"TE\x09"), Err(EncodingError::UnsupportedVersion(9)));
        assert!(matches!(decode(b"TE\x01\xff\xff"), Err(EncodingError::Malformed(_))));
        let mut no_body = encode(&sample());
        no_body.truncate(no_body.len() - 1);
        assert!(decode(&no_body).is_err());
    }
}
