//! How events are keyed in the event log.
//!
//! The key is tenant + session, so every event of a session lands in one partition in order (the
//! processor's session projection relies on that), while sessions spread over partitions.
//! Events without a session (rare: a metric point without `session.id`) key by tenant + user.

use tandemu_schemas::Event;

/// The log key of an event: 16 bytes of tenant, then the session id (or `u:` and the user id).
pub fn partition_key(ev: &Event) -> Vec<u8> {
    let mut key = Vec::with_capacity(16 + 40);
    key.extend_from_slice(ev.tenant.as_uuid().as_bytes());
    match &ev.session {
        Some(s) => key.extend_from_slice(s.as_str().as_bytes()),
        None => {
            key.extend_from_slice(b"u:");
            key.extend_from_slice(ev.user.as_uuid().as_bytes());
        }
    }
    key
}

#[cfg(test)]
mod tests {
    use super::*;
    use tandemu_schemas::*;
    use uuid::Uuid;

    fn ev(tenant: u128, session: Option<&str>) -> Event {
        Event {
            id: EventId([0; 16]),
            tenant: TenantId(Uuid::from_u128(tenant)),
            user: UserId(Uuid::from_u128(9)),
            session: session.map(|s| SessionId(s.into())),
            time_unix_nano: 1,
            sequence: None,
            client: Client::default(),
            body: EventBody::UserPrompt(UserPrompt::default()),
        }
    }

    #[test]
    fn keys_separate_tenants_and_sessions() {
        assert_eq!(partition_key(&ev(1, Some("s"))), partition_key(&ev(1, Some("s"))));
        assert_ne!(partition_key(&ev(1, Some("s"))), partition_key(&ev(2, Some("s"))));
        assert_ne!(partition_key(&ev(1, Some("s"))), partition_key(&ev(1, Some("t"))));
        assert_ne!(partition_key(&ev(1, None)), partition_key(&ev(1, Some("s"))));
    }
}
