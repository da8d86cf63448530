//! Identifier newtypes.
//!
//! Every id the pipeline passes around has its own type, so a user id can never be handed to a
//! function that wants a tenant id. Tenants and users are UUIDs because the project issues them
//! (tenancy directory, tokens); session and task ids come from clients and stay opaque strings.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The organization an event belongs to. Only ever taken from a verified token.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct TenantId(pub Uuid);

/// The person who produced an event (the token's `sub`). Never taken from the payload.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct UserId(pub Uuid);

macro_rules! uuid_id {
    ($t:ident) => {
        impl $t {
            pub fn new(id: Uuid) -> Self {
                Self(id)
            }
            pub fn as_uuid(&self) -> &Uuid {
                &self.0
            }
        }
        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }
        impl FromStr for $t {
            type Err = uuid::Error;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s).map(Self)
            }
        }
    };
}
uuid_id!(TenantId);
uuid_id!(UserId);

/// A Claude Code session (`session.id`), opaque to the pipeline.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SessionId(pub String);

/// A plugin task (`task.id`), opaque to the pipeline.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct TaskId(pub String);

macro_rules! string_id {
    ($t:ident) => {
        impl $t {
            pub fn new(id: impl Into<String>) -> Self {
                Self(id.into())
            }
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }
        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}
string_id!(SessionId);
string_id!(TaskId);

/// A canonical event's id: 128 bits derived deterministically from the tenant and the event's
/// natural key (see `event_id`), so an export that is retried maps to the same ids and every
/// downstream table can deduplicate on it.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct EventId(pub [u8; 16]);

impl EventId {
    pub fn as_bytes(&self) -> &[u8; 16] {
        &self.0
    }
    pub fn as_uuid(&self) -> Uuid {
        Uuid::from_bytes(self.0)
    }
}

impl fmt::Display for EventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl fmt::Debug for EventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "EventId({self})")
    }
}

/// Builds an [`EventId`] from the parts of an event's natural key.
///
/// Each part is length-prefixed so that `("ab", "c")` and `("a", "bc")` hash differently; the
/// hasher is keyed by a domain string so the ids are not plain hashes of client data.
pub(crate) struct EventIdBuilder(blake3::Hasher);

impl EventIdBuilder {
    pub(crate) fn new(tenant: TenantId, signal: &str) -> Self {
        // Deriving the key is a hash of its own: do it once per process, not once per event.
        static KEY: std::sync::OnceLock<[u8; 32]> = std::sync::OnceLock::new();
        let key = KEY.get_or_init(|| blake3::derive_key("tandemu event id v1", &[]));
        let mut h = blake3::Hasher::new_keyed(key);
        h.update(tenant.0.as_bytes());
        let mut b = Self(h);
        b.part(signal.as_bytes());
        b
    }

    pub(crate) fn part(&mut self, bytes: &[u8]) -> &mut Self {
        self.0.update(&(bytes.len() as u64).to_le_bytes());
        self.0.update(bytes);
        self
    }

    pub(crate) fn opt(&mut self, s: Option<&str>) -> &mut Self {
        match s {
            Some(s) => self.part(s.as_bytes()),
            None => self.part(&[0xff]),
        }
    }

    pub(crate) fn num(&mut self, n: u64) -> &mut Self {
        self.part(&n.to_le_bytes())
    }

    pub(crate) fn finish(&self) -> EventId {
        let mut out = [0u8; 16];
        out.copy_from_slice(&self.0.finalize().as_bytes()[..16]);
        EventId(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_id_parts_are_unambiguous() {
        let t = TenantId(Uuid::nil());
        let a = EventIdBuilder::new(t, "log").part(b"ab").part(b"c").finish();
        let b = EventIdBuilder::new(t, "log").part(b"a").part(b"bc").finish();
        assert_ne!(a, b);
    }

    #[test]
    fn event_id_depends_on_tenant() {
        let a = EventIdBuilder::new(TenantId(Uuid::nil()), "log").part(b"x").finish();
        let b = EventIdBuilder::new(TenantId(Uuid::max()), "log").part(b"x").finish();
        assert_ne!(a, b);
    }
}
