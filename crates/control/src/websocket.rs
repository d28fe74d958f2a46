//! The two objects only WebSocket APIs (`protocolType: WEBSOCKET`) have — route responses and
//! integration responses — as commands on [`HttpApiState`]. What WebSocket APIs check
//! differently elsewhere is `websocket_rules`.
//!
//! ```
//! use portico_control::http::{CreateApiInput, CreateRouteInput, HttpApiState};
//! let input: CreateApiInput = serde_json::from_str(
//!     r#"{"name": "chat", "protocolType": "WEBSOCKET",
//!         "routeSelectionExpression": "$request.body.action"}"#,
//! ).unwrap();
//! let mut state = HttpApiState::create(input, "us-east-1").unwrap();
//! let send: CreateRouteInput = serde_json::from_str(r#"{"routeKey": "sendmessage"}"#).unwrap();
//! state.create_route(send).unwrap();
//! let iam: CreateRouteInput =
//!     serde_json::from_str(r#"{"routeKey": "other", "authorizationType": "AWS_IAM"}"#).unwrap();
//! assert_eq!(state.create_route(iam).unwrap_err().kind.status(), 400);
//! ```

use crate::ControlError;
use crate::http::HttpApiState;
use crate::websocket_rules::check_content_handling;
use portico_model::Map;
use portico_model::http::new_v2_id;
use portico_model::websocket::{IntegrationResponse, RouteResponse};
use serde::Deserialize;

/// `CreateRouteResponse` / `UpdateRouteResponse` body.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RouteResponseInput {
    /// `routeResponseKey`.
    #[serde(default)]
    pub route_response_key: Option<String>,
    /// `modelSelectionExpression`.
    #[serde(default)]
    pub model_selection_expression: Option<String>,
    /// `responseModels`.
    #[serde(default)]
    pub response_models: Option<Map<String>>,
    /// `responseParameters`.
    #[serde(default)]
    pub response_parameters: Option<Map<serde_json::Value>>,
}

/// `CreateIntegrationResponse` / `UpdateIntegrationResponse` body.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IntegrationResponseInput {
    /// `integrationResponseKey`.
    #[serde(default)]
    pub integration_response_key: Option<String>,
    /// `contentHandlingStrategy`.
    #[serde(default)]
    pub content_handling_strategy: Option<String>,
    /// `responseParameters`.
    #[serde(default)]
    pub response_parameters: Option<Map<String>>,
    /// `responseTemplates`.
    #[serde(default)]
    pub response_templates: Option<Map<String>>,
    /// `templateSelectionExpression`.
    #[serde(default)]
    pub template_selection_expression: Option<String>,
}

/// Route responses per route and integration responses per integration.
const MAX_RESPONSES: usize = 50;

fn only_websocket(state: &HttpApiState, what: &str) -> Result<(), ControlError> {
    if state.is_websocket() {
        Ok(())
    } else {
        Err(ControlError::bad_request(format!(
            "{what} are supported only for WebSocket APIs"
        )))
    }
}

/// An integration response key: `$default` or a `/regex/` over the integration's status.
fn check_integration_response_key(key: &str) -> Result<(), ControlError> {
    let ok = key == "$default"
        || (key.len() >= 3 && key.starts_with('/') && key.ends_with('/') && key.len() <= 256);
    if ok {
        Ok(())
    } else {
        Err(ControlError::bad_request(format!(
            "Invalid integration response key {key}: expected $default or a regular expression between slashes, as in /2\\d\\d/"
        )))
    }
}

impl HttpApiState {
    /// `GetRouteResponses`.
    pub fn get_route_responses(&self, route_id: &str) -> Result<Vec<RouteResponse>, ControlError> {
        self.route(route_id)?;
        Ok(self
            .route_responses
            .get(route_id)
            .cloned()
            .unwrap_or_default())
    }

    /// `GetRouteResponse`.
    pub fn route_response(&self, route_id: &str, id: &str) -> Result<RouteResponse, ControlError> {
        self.get_route_responses(route_id)?
            .into_iter()
            .find(|r| r.route_response_id == id)
            .ok_or_else(|| crate::http::invalid_id("RouteResponse", id))
    }

    /// `CreateRouteResponse`.
    pub fn create_route_response(
        &mut self,
        route_id: &str,
        input: RouteResponseInput,
    ) -> Result<RouteResponse, ControlError> {
        only_websocket(self, "Route responses")?;
        self.route(route_id)?;
        let key = input
            .route_response_key
            .clone()
            .ok_or_else(|| ControlError::bad_request("RouteResponseKey is required"))?;
        let list = self.route_responses.entry(route_id.into()).or_default();
        if list.iter().any(|r| r.route_response_key == key) {
            return Err(ControlError::conflict(format!(
                "Route response with key {key} already exists for this route"
            )));
        }
        if list.len() >= MAX_RESPONSES {
            return Err(ControlError::limit_exceeded(
                "Unable to create route response: the route has reached its limit",
            ));
        }
        if key != "$default" {
            return Err(ControlError::bad_request(format!(
                "Invalid route response key {key}: only $default is supported"
            )));
        }
        let r = RouteResponse {
            route_response_id: new_v2_id(6),
            route_response_key: key,
            model_selection_expression: input.model_selection_expression,
            response_models: input.response_models,
            response_parameters: input.response_parameters,
        };
        list.push(r.clone());
        Ok(r)
    }

    /// `UpdateRouteResponse`.
    pub fn update_route_response(
        &mut self,
        route_id: &str,
        id: &str,
        input: RouteResponseInput,
    ) -> Result<RouteResponse, ControlError> {
        let mut r = self.route_response(route_id, id)?;
        if let Some(k) = input.route_response_key {
            if k != "$default" {
                return Err(ControlError::bad_request(format!(
                    "Invalid route response key {k}: only $default is supported"
                )));
            }
            r.route_response_key = k;
        }
        if input.model_selection_expression.is_some() {
            r.model_selection_expression = input.model_selection_expression;
        }
        if input.response_models.is_some() {
            r.response_models = input.response_models;
        }
        if input.response_parameters.is_some() {
            r.response_parameters = input.response_parameters;
        }
        if let Some(slot) = self
            .route_responses
            .get_mut(route_id)
            .and_then(|l| l.iter_mut().find(|x| x.route_response_id == id))
        {
            *slot = r.clone();
        }
        Ok(r)
    }

    /// `DeleteRouteResponse`.
    pub fn delete_route_response(&mut self, route_id: &str, id: &str) -> Result<(), ControlError> {
        self.route_response(route_id, id)?;
        if let Some(l) = self.route_responses.get_mut(route_id) {
            l.retain(|r| r.route_response_id != id);
            if l.is_empty() {
                self.route_responses.remove(route_id);
            }
        }
        Ok(())
    }

    /// `GetIntegrationResponses`.
    pub fn get_integration_responses(
        &self,
        integration_id: &str,
    ) -> Result<Vec<IntegrationResponse>, ControlError> {
        self.integration(integration_id)?;
        Ok(self
            .integration_responses
            .get(integration_id)
            .cloned()
            .unwrap_or_default())
    }

    /// `GetIntegrationResponse`.
    pub fn integration_response(
        &self,
        integration_id: &str,
        id: &str,
    ) -> Result<IntegrationResponse, ControlError> {
        self.get_integration_responses(integration_id)?
            .into_iter()
            .find(|r| r.integration_response_id == id)
            .ok_or_else(|| crate::http::invalid_id("IntegrationResponse", id))
    }

    /// `CreateIntegrationResponse`.
    pub fn create_integration_response(
        &mut self,
        integration_id: &str,
        input: IntegrationResponseInput,
    ) -> Result<IntegrationResponse, ControlError> {
        only_websocket(self, "Integration responses")?;
        self.integration(integration_id)?;
        let key = input
            .integration_response_key
            .clone()
            .ok_or_else(|| ControlError::bad_request("IntegrationResponseKey is required"))?;
        check_integration_response_key(&key)?;
        check_content_handling(input.content_handling_strategy.as_deref())?;
        let list = self
            .integration_responses
            .entry(integration_id.into())
            .or_default();
        if list.iter().any(|r| r.integration_response_key == key) {
            return Err(ControlError::conflict(format!(
                "Integration response with key {key} already exists for this integration"
            )));
        }
        if list.len() >= MAX_RESPONSES {
            return Err(ControlError::limit_exceeded(
                "Unable to create integration response: the integration has reached its limit",
            ));
        }
        let r = IntegrationResponse {
            integration_response_id: new_v2_id(6),
            integration_response_key: key,
            content_handling_strategy: input.content_handling_strategy,
            response_parameters: input.response_parameters,
            response_templates: input.response_templates,
            template_selection_expression: input.template_selection_expression,
        };
        list.push(r.clone());
        Ok(r)
    }

    /// `UpdateIntegrationResponse`.
    pub fn update_integration_response(
        &mut self,
        integration_id: &str,
        id: &str,
        input: IntegrationResponseInput,
    ) -> Result<IntegrationResponse, ControlError> {
        let mut r = self.integration_response(integration_id, id)?;
        if let Some(k) = input.integration_response_key {
            check_integration_response_key(&k)?;
            if self.integration_responses[integration_id]
                .iter()
                .any(|x| x.integration_response_key == k && x.integration_response_id != id)
            {
                return Err(ControlError::conflict(format!(
                    "Integration response with key {k} already exists for this integration"
                )));
            }
            r.integration_response_key = k;
        }
        check_content_handling(input.content_handling_strategy.as_deref())?;
        macro_rules! set {
            ($($f:ident),*) => { $( if input.$f.is_some() { r.$f = input.$f; } )* };
        }
        set!(
            content_handling_strategy,
            response_parameters,
            response_templates,
            template_selection_expression
        );
        if let Some(slot) = self
            .integration_responses
            .get_mut(integration_id)
            .and_then(|l| l.iter_mut().find(|x| x.integration_response_id == id))
        {
            *slot = r.clone();
        }
        Ok(r)
    }

    /// `DeleteIntegrationResponse`.
    pub fn delete_integration_response(
        &mut self,
        integration_id: &str,
        id: &str,
    ) -> Result<(), ControlError> {
        self.integration_response(integration_id, id)?;
        if let Some(l) = self.integration_responses.get_mut(integration_id) {
            l.retain(|r| r.integration_response_id != id);
            if l.is_empty() {
                self.integration_responses.remove(integration_id);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::{
        CreateApiInput, CreateAuthorizerInput, CreateIntegrationInput, CreateRouteInput,
    };
    use crate::websocket_rules::check_route_selection_expression;

    fn chat() -> HttpApiState {
        let input: CreateApiInput = serde_json::from_value(serde_json::json!({
            "name": "chat", "protocolType": "WEBSOCKET",
            "routeSelectionExpression": "$request.body.action"
        }))
        .unwrap();
        HttpApiState::create(input, "us-east-1").unwrap()
    }

    #[test]
    fn selection_expressions() {
        for ok in [
            "$request.body.action",
            "${request.body.action}",
            "${request.body.a.b}-${request.body.c}",
        ] {
            assert!(check_route_selection_expression(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "action",
            "$request.header.x",
            "${request.body.x",
            "$request.body.",
        ] {
            assert!(check_route_selection_expression(bad).is_err(), "{bad}");
        }
        let no_expr: CreateApiInput =
            serde_json::from_value(serde_json::json!({"name": "x", "protocolType": "WEBSOCKET"}))
                .unwrap();
        assert!(HttpApiState::create(no_expr, "us-east-1").is_err());
    }

    #[test]
    fn routes_integrations_and_authorizers() {
        let mut s = chat();
        assert_eq!(s.api.disable_schema_validation, Some(false));
        let route = |k: &str| CreateRouteInput {
            route_key: Some(k.into()),
            ..Default::default()
        };
        for k in [
            "$connect",
            "$disconnect",
            "$default",
            "send message",
            "GET /x",
        ] {
            s.create_route(route(k)).unwrap();
        }
        assert!(s.create_route(route("$other")).is_err());
        assert_eq!(
            s.create_route(route("$connect")).unwrap_err().kind.status(),
            409
        );
        let mock = s
            .create_integration(CreateIntegrationInput {
                integration_type: Some("MOCK".into()),
                ..Default::default()
            })
            .unwrap();
        assert_eq!(mock.timeout_in_millis, Some(29_000));
        assert_eq!(mock.passthrough_behavior.as_deref(), Some("WHEN_NO_MATCH"));
        let slow = CreateIntegrationInput {
            integration_type: Some("MOCK".into()),
            timeout_in_millis: Some(30_000),
            ..Default::default()
        };
        assert!(s.create_integration(slow).is_err());
        let jwt = CreateAuthorizerInput {
            name: Some("j".into()),
            authorizer_type: Some("JWT".into()),
            ..Default::default()
        };
        assert!(s.create_authorizer(jwt).is_err());
        let lambda = CreateAuthorizerInput {
            name: Some("l".into()),
            authorizer_type: Some("REQUEST".into()),
            authorizer_uri: Some("arn:aws:lambda:us-east-1:000000000000:function:auth".into()),
            identity_source: Some(vec!["route.request.querystring.token".into()]),
            ..Default::default()
        };
        let a = s.create_authorizer(lambda).unwrap();
        let connect = s.routes[0].route_id.clone();
        let default = s.routes[2].route_id.clone();
        let custom = |id: &str| CreateRouteInput {
            authorization_type: Some("CUSTOM".into()),
            authorizer_id: Some(id.into()),
            ..Default::default()
        };
        s.update_route(&connect, custom(&a.authorizer_id)).unwrap();
        let err = s
            .update_route(&default, custom(&a.authorizer_id))
            .unwrap_err();
        assert!(
            err.message.contains("$connect route only"),
            "{}",
            err.message
        );
    }

    #[test]
    fn route_and_integration_responses() {
        let mut s = chat();
        let r = s
            .create_route(CreateRouteInput {
                route_key: Some("$default".into()),
                route_response_selection_expression: Some("$default".into()),
                ..Default::default()
            })
            .unwrap();
        let rr = s
            .create_route_response(
                &r.route_id,
                RouteResponseInput {
                    route_response_key: Some("$default".into()),
                    ..Default::default()
                },
            )
            .unwrap();
        assert_eq!(
            s.get_route_responses(&r.route_id).unwrap(),
            vec![rr.clone()]
        );
        let again = RouteResponseInput {
            route_response_key: Some("$default".into()),
            ..Default::default()
        };
        assert_eq!(
            s.create_route_response(&r.route_id, again)
                .unwrap_err()
                .kind
                .status(),
            409
        );
        let i = s
            .create_integration(CreateIntegrationInput {
                integration_type: Some("MOCK".into()),
                ..Default::default()
            })
            .unwrap();
        let ir = s
            .create_integration_response(
                &i.integration_id,
                IntegrationResponseInput {
                    integration_response_key: Some("/2\\d\\d/".into()),
                    ..Default::default()
                },
            )
            .unwrap();
        let bad = IntegrationResponseInput {
            integration_response_key: Some("200".into()),
            ..Default::default()
        };
        assert!(
            s.create_integration_response(&i.integration_id, bad)
                .is_err()
        );
        let snap = s.snapshot().unwrap();
        assert_eq!(snap.route_responses[&r.route_id].len(), 1);
        assert_eq!(
            snap.integration_responses[&i.integration_id],
            vec![ir.clone()]
        );
        s.delete_route(&r.route_id).unwrap();
        assert!(s.route_responses.is_empty());
        s.delete_integration_response(&i.integration_id, &ir.integration_response_id)
            .unwrap();
        assert!(s.integration_responses.is_empty());
    }
}
