//! WebSocket APIs (API Gateway v2, `protocolType: WEBSOCKET`): what they add to the objects of
//! [`crate::http`] — route responses and integration responses — with botocore's JSON names.
//! The API, routes, integrations, authorizers, stages and deployments are the shapes HTTP APIs
//! use.

use crate::Map;
use serde::{Deserialize, Serialize};

/// The predefined route keys of a WebSocket API.
pub const CONNECT: &str = "$connect";
/// See [`CONNECT`].
pub const DISCONNECT: &str = "$disconnect";
/// See [`CONNECT`].
pub const DEFAULT: &str = "$default";

/// A route response (`RouteResponse` shape): with `routeResponseSelectionExpression`
/// `$default` on its route, the integration's answer goes back to the client.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RouteResponse {
    /// `routeResponseId`.
    pub route_response_id: String,
    /// `routeResponseKey` (`$default`).
    pub route_response_key: String,
    /// `modelSelectionExpression`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_selection_expression: Option<String>,
    /// `responseModels`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_models: Option<Map<String>>,
    /// `responseParameters`: name → `{"required": bool}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_parameters: Option<Map<serde_json::Value>>,
}

/// An integration response (`IntegrationResponse` shape) of a non-proxy integration: chosen
/// by `integrationResponseSelectionExpression` (a key `/regex/` or `$default`), it renders the
/// integration's output with a template.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IntegrationResponse {
    /// `integrationResponseId`.
    pub integration_response_id: String,
    /// `integrationResponseKey`: `$default` or `/regex/`.
    pub integration_response_key: String,
    /// `contentHandlingStrategy`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_handling_strategy: Option<String>,
    /// `responseParameters`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_parameters: Option<Map<String>>,
    /// `responseTemplates`: template key → VTL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_templates: Option<Map<String>>,
    /// `templateSelectionExpression`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template_selection_expression: Option<String>,
}

/// Whether a route key is one of the three predefined ones.
pub fn is_predefined(key: &str) -> bool {
    matches!(key, CONNECT | DISCONNECT | DEFAULT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_names() {
        let r = IntegrationResponse {
            integration_response_id: "abc1234".into(),
            integration_response_key: "/2\\d\\d/".into(),
            content_handling_strategy: None,
            response_parameters: None,
            response_templates: Some(Map::from([("$default".into(), "$input.body".into())])),
            template_selection_expression: None,
        };
        let v = serde_json::to_value(&r).unwrap();
        assert_eq!(v["integrationResponseKey"], "/2\\d\\d/");
        assert_eq!(v["responseTemplates"]["$default"], "$input.body");
        assert!(v.get("contentHandlingStrategy").is_none());
        assert!(is_predefined("$connect") && !is_predefined("sendmessage"));
    }
}
