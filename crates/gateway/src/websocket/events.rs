//! The Lambda proxy events of WebSocket APIs, as AWS sends them (captures in aws-lambda-go's
//! `apigw-websocket-request*.json`): `CONNECT` carries the upgrade request's headers and query
//! string, `MESSAGE` only the frame's text as `body`, `DISCONNECT` a fixed set of headers and
//! the close code and reason. Keys that do not apply are left out, not `null`.

use serde_json::{Map, Value, json};

/// What every event of one connection shares.
pub(crate) struct ConnectionFacts<'a> {
    pub(crate) api_id: &'a str,
    pub(crate) stage: &'a str,
    pub(crate) domain_name: &'a str,
    pub(crate) connection_id: &'a str,
    pub(crate) connected_at_ms: u64,
    pub(crate) source_ip: &'a str,
    pub(crate) user_agent: Option<&'a str>,
    /// `requestContext.authorizer` from `$connect`'s authorizer.
    pub(crate) authorizer: Option<&'a Value>,
    /// `stageVariables` (left out when empty).
    pub(crate) stage_variables: &'a portico_model::Map<String>,
}

/// One event's own facts.
pub(crate) enum Kind<'a> {
    Connect {
        headers: &'a http::HeaderMap,
        query: Option<&'a str>,
    },
    Message {
        route_key: &'a str,
        message_id: &'a str,
        body: &'a str,
    },
    Disconnect {
        status_code: u16,
        reason: &'a str,
    },
}

/// A header name as clients usually spell it (`sec-websocket-key` → `Sec-WebSocket-Key`):
/// hyper keeps only lowercase names.
pub(crate) fn title_case(name: &str) -> String {
    match name {
        "sec-websocket-key" => return "Sec-WebSocket-Key".into(),
        "sec-websocket-version" => return "Sec-WebSocket-Version".into(),
        "sec-websocket-extensions" => return "Sec-WebSocket-Extensions".into(),
        "sec-websocket-protocol" => return "Sec-WebSocket-Protocol".into(),
        _ => {}
    }
    let mut out = String::with_capacity(name.len());
    let mut up = true;
    for c in name.chars() {
        out.push(if up { c.to_ascii_uppercase() } else { c });
        up = c == '-';
    }
    out
}

/// The request context of an event.
fn request_context(
    c: &ConnectionFacts<'_>,
    route_key: &str,
    event_type: &str,
    request_id: &str,
    epoch_ms: u64,
    kind: &Kind<'_>,
) -> Value {
    let mut m = Map::new();
    m.insert("routeKey".into(), json!(route_key));
    if let Kind::Disconnect { status_code, .. } = kind {
        m.insert("disconnectStatusCode".into(), json!(status_code));
    }
    if let Kind::Message { message_id, .. } = kind {
        m.insert("messageId".into(), json!(message_id));
    }
    m.insert("eventType".into(), json!(event_type));
    m.insert("extendedRequestId".into(), json!(request_id));
    m.insert(
        "requestTime".into(),
        json!(crate::access_log::clf_time(epoch_ms / 1000)),
    );
    m.insert("messageDirection".into(), json!("IN"));
    if let Kind::Disconnect { reason, .. } = kind {
        m.insert("disconnectReason".into(), json!(reason));
    }
    m.insert("stage".into(), json!(c.stage));
    m.insert("connectedAt".into(), json!(c.connected_at_ms));
    m.insert("requestTimeEpoch".into(), json!(epoch_ms));
    let mut identity = Map::new();
    if let Some(ua) = c.user_agent {
        identity.insert("userAgent".into(), json!(ua));
    }
    identity.insert("sourceIp".into(), json!(c.source_ip));
    m.insert("identity".into(), Value::Object(identity));
    m.insert("requestId".into(), json!(request_id));
    m.insert("domainName".into(), json!(c.domain_name));
    m.insert("connectionId".into(), json!(c.connection_id));
    m.insert("apiId".into(), json!(c.api_id));
    if let Some(a) = c.authorizer {
        m.insert("authorizer".into(), a.clone());
    }
    Value::Object(m)
}

/// The event for `kind`, as JSON bytes.
pub(crate) fn event(
    c: &ConnectionFacts<'_>,
    kind: &Kind<'_>,
    request_id: &str,
    epoch_ms: u64,
) -> Vec<u8> {
    let mut e = Map::new();
    let (route_key, event_type) = match kind {
        Kind::Connect { headers, query } => {
            let (single, multi) = header_maps(headers, c.domain_name);
            e.insert("headers".into(), single);
            e.insert("multiValueHeaders".into(), multi);
            if let Some(q) = query.filter(|q| !q.is_empty()) {
                let (single, multi) = query_maps(q);
                e.insert("queryStringParameters".into(), single);
                e.insert("multiValueQueryStringParameters".into(), multi);
            }
            ("$connect", "CONNECT")
        }
        Kind::Message { route_key, .. } => (*route_key, "MESSAGE"),
        Kind::Disconnect { .. } => {
            let mut single = Map::new();
            let mut multi = Map::new();
            for (k, v) in [
                ("Host", c.domain_name),
                ("x-api-key", ""),
                ("X-Forwarded-For", ""),
                ("x-restapi", ""),
            ] {
                single.insert(k.into(), json!(v));
                multi.insert(k.into(), json!([v]));
            }
            e.insert("headers".into(), Value::Object(single));
            e.insert("multiValueHeaders".into(), Value::Object(multi));
            ("$disconnect", "DISCONNECT")
        }
    };
    if !c.stage_variables.is_empty() {
        e.insert("stageVariables".into(), json!(c.stage_variables));
    }
    e.insert(
        "requestContext".into(),
        request_context(c, route_key, event_type, request_id, epoch_ms, kind),
    );
    if let Kind::Message { body, .. } = kind {
        e.insert("body".into(), json!(body));
    }
    e.insert("isBase64Encoded".into(), json!(false));
    serde_json::to_vec(&Value::Object(e)).unwrap_or_default()
}

/// `headers` / `multiValueHeaders` of `$connect`: the client's, without the hop-by-hop
/// `Connection`/`Upgrade`, plus the `X-Forwarded-*` AWS adds.
fn header_maps(headers: &http::HeaderMap, domain: &str) -> (Value, Value) {
    let mut single = Map::new();
    let mut multi: Map<String, Value> = Map::new();
    for (name, value) in headers {
        if matches!(name.as_str(), "connection" | "upgrade") {
            continue;
        }
        let key = title_case(name.as_str());
        let text = String::from_utf8_lossy(value.as_bytes()).into_owned();
        match multi.get_mut(&key) {
            Some(Value::Array(list)) => list.push(json!(text)),
            _ => {
                multi.insert(key.clone(), json!([text]));
            }
        }
        single.insert(key, json!(text));
    }
    if !single.contains_key("Host") {
        single.insert("Host".into(), json!(domain));
        multi.insert("Host".into(), json!([domain]));
    }
    (Value::Object(single), Value::Object(multi))
}

/// `queryStringParameters` (last value wins) and `multiValueQueryStringParameters`.
fn query_maps(query: &str) -> (Value, Value) {
    let mut single = Map::new();
    let mut multi: Map<String, Value> = Map::new();
    for (k, v) in crate::http_api::payload::query_pairs(Some(query)) {
        match multi.get_mut(&k) {
            Some(Value::Array(list)) => list.push(json!(v)),
            _ => {
                multi.insert(k.clone(), json!([v]));
            }
        }
        single.insert(k, json!(v));
    }
    (Value::Object(single), Value::Object(multi))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts() -> ConnectionFacts<'static> {
        static VARS: std::sync::LazyLock<portico_model::Map<String>> =
            std::sync::LazyLock::new(portico_model::Map::new);
        ConnectionFacts {
            api_id: "abcdef1234",
            stage: "prod",
            domain_name: "abcdef1234.execute-api.localhost",
            connection_id: "R1kmxc2VNjMCFIA=",
            connected_at_ms: 1_705_751_697_419,
            source_ip: "127.0.0.1",
            user_agent: Some("test"),
            authorizer: None,
            stage_variables: &VARS,
        }
    }

    #[test]
    fn message_events_have_no_headers_and_the_raw_body() {
        let e: Value = serde_json::from_slice(&event(
            &facts(),
            &Kind::Message {
                route_key: "sendmessage",
                message_id: "R1knPc2ntjMCFIA=",
                body: "{\"action\":\"sendmessage\"}",
            },
            "R1knPdXJNjMCFXw=",
            1_705_751_700_453,
        ))
        .unwrap();
        assert!(e.get("headers").is_none() && e.get("queryStringParameters").is_none());
        assert_eq!(e["body"], "{\"action\":\"sendmessage\"}");
        let rc = &e["requestContext"];
        assert_eq!(rc["eventType"], "MESSAGE");
        assert_eq!(rc["messageId"], "R1knPc2ntjMCFIA=");
        assert_eq!(rc["requestId"], rc["extendedRequestId"]);
        assert_eq!(rc["requestTime"], "20/Jan/2024:11:55:00 +0000");
        let keys: Vec<&String> = rc.as_object().unwrap().keys().collect();
        assert_eq!(keys[0], "routeKey");
        assert_eq!(keys.last().unwrap().as_str(), "apiId");
    }

    #[test]
    fn disconnect_events_carry_the_fixed_headers_and_close_code() {
        let e: Value = serde_json::from_slice(&event(
            &facts(),
            &Kind::Disconnect {
                status_code: 1001,
                reason: "",
            },
            "R1koeHsUtjMFbRw=",
            1_705_751_708_326,
        ))
        .unwrap();
        assert_eq!(e["headers"]["x-restapi"], "");
        assert_eq!(
            e["multiValueHeaders"]["Host"][0],
            "abcdef1234.execute-api.localhost"
        );
        assert_eq!(e["requestContext"]["disconnectStatusCode"], 1001);
        assert_eq!(e["requestContext"]["disconnectReason"], "");
        assert!(e.get("body").is_none());
    }

    #[test]
    fn connect_events_carry_the_upgrade_request() {
        let mut h = http::HeaderMap::new();
        h.insert("host", "abcdef1234.execute-api.localhost".parse().unwrap());
        h.insert("connection", "Upgrade".parse().unwrap());
        h.insert("upgrade", "websocket".parse().unwrap());
        h.insert(
            "sec-websocket-key",
            "dGhlIHNhbXBsZSBub25jZQ==".parse().unwrap(),
        );
        let e: Value = serde_json::from_slice(&event(
            &facts(),
            &Kind::Connect {
                headers: &h,
                query: Some("name=me&name=you"),
            },
            "x",
            0,
        ))
        .unwrap();
        assert_eq!(
            e["headers"]["Sec-WebSocket-Key"],
            "dGhlIHNhbXBsZSBub25jZQ=="
        );
        assert!(e["headers"].get("Connection").is_none());
        assert_eq!(e["queryStringParameters"]["name"], "you");
        assert_eq!(
            e["multiValueQueryStringParameters"]["name"],
            json!(["me", "you"])
        );
        assert_eq!(e["requestContext"]["routeKey"], "$connect");
        assert!(e["requestContext"].get("messageId").is_none());
    }
}
