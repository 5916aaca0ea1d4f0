//! Request ids: accept a well-formed incoming `x-request-id` or W3C `traceparent`, or
//! make one, so a request can be followed from the client through the gateway's log to
//! the origin.

/// The ids a request carries through the gateway.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestIds {
    /// Sent to the origin and the client as `x-request-id`; in every log line and problem.
    pub request_id: String,
    /// Sent to the origin as `traceparent` (the incoming one, or a new root).
    pub traceparent: String,
}

/// `x-request-id` values longer than this, or with other characters, are replaced.
const MAX_REQUEST_ID: usize = 128;

fn valid_request_id(value: &str) -> bool {
    !value.is_empty()
        && value.len() <= MAX_REQUEST_ID
        && value.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'))
}

fn is_lower_hex(value: &str, len: usize) -> bool {
    value.len() == len && value.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// `00-<32 hex trace id>-<16 hex parent id>-<2 hex flags>`, ids not all zero.
pub fn parse_traceparent(value: &str) -> Option<(&str, &str, &str)> {
    let mut parts = value.split('-');
    let (version, trace, parent, flags) = (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || version != "00" || !is_lower_hex(trace, 32) || !is_lower_hex(parent, 16) || !is_lower_hex(flags, 2) {
        return None;
    }
    if trace.bytes().all(|b| b == b'0') || parent.bytes().all(|b| b == b'0') {
        return None;
    }
    Some((trace, parent, flags))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Chooses the ids for a request; `random` supplies fresh entropy (24 bytes).
pub fn choose(x_request_id: Option<&str>, traceparent: Option<&str>, random: [u8; 24]) -> RequestIds {
    let span = hex(&random[16..24]);
    let incoming = traceparent.and_then(parse_traceparent);
    let trace_id = incoming.map_or_else(|| hex(&random[..16]), |(trace, _, _)| trace.to_string());
    let traceparent = match incoming {
        Some((trace, _, flags)) => format!("00-{trace}-{span}-{flags}"),
        None => format!("00-{trace_id}-{span}-01"),
    };
    let request_id = match x_request_id.map(str::trim) {
        Some(id) if valid_request_id(id) => id.to_string(),
        _ => trace_id,
    };
    RequestIds { request_id, traceparent }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RANDOM: [u8; 24] = [0xab; 24];

    #[test]
    fn a_valid_request_id_is_kept() {
        assert_eq!(choose(Some("req-123.abc:1"), None, RANDOM).request_id, "req-123.abc:1");
    }

    #[test]
    fn an_invalid_request_id_is_replaced() {
        for bad in ["", "a b", "x\"y", "<script>", &"a".repeat(129)] {
            assert_eq!(choose(Some(bad), None, RANDOM).request_id, "abababababababababababababababab", "{bad:?}");
        }
    }

    #[test]
    fn traceparent_trace_id_becomes_the_request_id_and_the_gateway_is_a_new_span() {
        let incoming = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        let ids = choose(None, Some(incoming), RANDOM);
        assert_eq!(ids.request_id, "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(ids.traceparent, "00-4bf92f3577b34da6a3ce929d0e0e4736-abababababababab-01");
    }

    #[test]
    fn malformed_traceparents_are_ignored() {
        for bad in [
            "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-xx",
        ] {
            assert!(parse_traceparent(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn without_incoming_ids_a_new_trace_is_started() {
        let ids = choose(None, None, RANDOM);
        assert_eq!(ids.request_id.len(), 32);
        assert!(parse_traceparent(&ids.traceparent).is_some());
    }
}
