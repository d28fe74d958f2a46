//! "Enable CORS" on a REST API resource, as the API Gateway console does it: an `OPTIONS` method
//! (authorization `NONE`, no API key) with a `MOCK` integration answering the preflight with
//! `Access-Control-Allow-*` headers; `Access-Control-Allow-Origin` added to the `200` responses of
//! the resource's other non-proxy methods (a proxy integration's backend sends its own); and, when
//! asked, the same headers on the `DEFAULT_4XX`/`DEFAULT_5XX` gateway responses so a browser can
//! read the gateway's errors. `portico cors enable` runs it against the store; the same calls
//! through the management API are in docs/cors.md.

use crate::{
    ApiState, ControlError, PutGatewayResponseInput, PutIntegrationInput,
    PutIntegrationResponseInput, PutMethodInput, PutMethodResponseInput,
};
use portico_model::{IntegrationType, Map};

/// The console's default `Access-Control-Allow-Headers`.
pub const DEFAULT_ALLOW_HEADERS: &str =
    "Content-Type,X-Amz-Date,Authorization,X-Api-Key,X-Amz-Security-Token";

/// The seven methods `ANY` stands for, in the console's order.
const ANY_METHODS: [&str; 7] = ["DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT"];

/// What to allow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CorsSettings {
    /// `Access-Control-Allow-Origin`: `*` or one origin (`https://app.example.com`).
    pub allow_origin: String,
    /// `Access-Control-Allow-Headers` (comma-separated).
    pub allow_headers: String,
    /// `Access-Control-Allow-Methods`; `None`: the resource's methods and `OPTIONS`.
    pub allow_methods: Option<Vec<String>>,
    /// `Access-Control-Expose-Headers`, when set.
    pub expose_headers: Option<String>,
    /// `Access-Control-Max-Age` in seconds, when set.
    pub max_age: Option<u32>,
    /// `Access-Control-Allow-Credentials: true` (never with origin `*`).
    pub allow_credentials: bool,
    /// Also put the headers on the `DEFAULT_4XX` and `DEFAULT_5XX` gateway responses.
    pub gateway_responses: bool,
}

impl Default for CorsSettings {
    fn default() -> Self {
        Self {
            allow_origin: "*".into(),
            allow_headers: DEFAULT_ALLOW_HEADERS.into(),
            allow_methods: None,
            expose_headers: None,
            max_age: None,
            allow_credentials: false,
            gateway_responses: false,
        }
    }
}

/// What enabling CORS changed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CorsReport {
    /// `Access-Control-Allow-Methods` as set.
    pub allow_methods: String,
    /// Methods whose `200` responses got `Access-Control-Allow-Origin`.
    pub updated_methods: Vec<String>,
    /// Methods left alone, with why (a proxy integration, no `200` response).
    pub skipped_methods: Vec<(String, String)>,
    /// Gateway responses that got the headers.
    pub gateway_responses: Vec<String>,
}

/// A header value as a static response-parameter source: `'value'`.
fn quoted(v: &str) -> String {
    format!("'{v}'")
}

impl CorsSettings {
    /// Refuses what no browser would accept or what cannot be a header value.
    pub fn validate(&self) -> Result<(), ControlError> {
        let bad = |m: String| Err(ControlError::bad_request(m));
        let origin = self.allow_origin.trim();
        if origin.is_empty() {
            return bad("Access-Control-Allow-Origin must not be empty".into());
        }
        if origin != "*"
            && !(origin.starts_with("https://") || origin.starts_with("http://"))
            && origin != "null"
        {
            return bad(format!(
                "Access-Control-Allow-Origin must be * or an origin such as https://app.example.com, not {origin}"
            ));
        }
        if origin.contains([',', ' ']) {
            return bad(
                "Access-Control-Allow-Origin holds one origin (a browser refuses a list)".into(),
            );
        }
        if self.allow_credentials && origin == "*" {
            return bad(
                "Access-Control-Allow-Credentials cannot be used with Access-Control-Allow-Origin * (browsers refuse it): name the origin".into(),
            );
        }
        let texts = [
            Some(self.allow_origin.as_str()),
            Some(self.allow_headers.as_str()),
            self.expose_headers.as_deref(),
        ];
        for t in texts.into_iter().flatten() {
            if t.contains(['\'', '\r', '\n']) || t.len() > 2048 {
                return bad(format!("invalid CORS header value: {t}"));
            }
        }
        if let Some(ms) = &self.allow_methods {
            for m in ms {
                crate::valid_http_method(m)?;
            }
        }
        Ok(())
    }

    /// The headers as `(name, quoted value)`, in the console's order.
    fn headers(&self, methods: &str) -> Vec<(&'static str, String)> {
        let mut out = vec![
            ("Access-Control-Allow-Headers", quoted(&self.allow_headers)),
            ("Access-Control-Allow-Methods", quoted(methods)),
            ("Access-Control-Allow-Origin", quoted(&self.allow_origin)),
        ];
        if let Some(e) = &self.expose_headers {
            out.push(("Access-Control-Expose-Headers", quoted(e)));
        }
        if let Some(a) = self.max_age {
            out.push(("Access-Control-Max-Age", quoted(&a.to_string())));
        }
        if self.allow_credentials {
            out.push(("Access-Control-Allow-Credentials", quoted("true")));
        }
        out
    }
}

impl ApiState {
    /// Enables CORS on `resource_id` (see the module documentation). An existing `OPTIONS`
    /// method is replaced.
    pub fn enable_cors(
        &mut self,
        resource_id: &str,
        settings: &CorsSettings,
    ) -> Result<CorsReport, ControlError> {
        settings.validate()?;
        let resource = self.resource(resource_id)?;
        let existing: Vec<String> = resource
            .resource_methods
            .keys()
            .filter(|m| *m != "OPTIONS")
            .cloned()
            .collect();
        let allow_methods = match &settings.allow_methods {
            Some(ms) => {
                let mut ms: Vec<String> = ms.iter().map(|m| m.to_ascii_uppercase()).collect();
                if !ms.iter().any(|m| m == "OPTIONS") {
                    ms.push("OPTIONS".into());
                }
                ms.sort();
                ms.dedup();
                ms.join(",")
            }
            None if existing.iter().any(|m| m == "ANY") => ANY_METHODS.join(","),
            None => {
                let mut ms = existing.clone();
                ms.push("OPTIONS".into());
                ms.sort();
                ms.join(",")
            }
        };
        let headers = settings.headers(&allow_methods);
        // The preflight: OPTIONS → MOCK 200 with every header.
        self.put_method(
            resource_id,
            "OPTIONS",
            PutMethodInput {
                authorization_type: Some("NONE".into()),
                api_key_required: Some(false),
                ..PutMethodInput::default()
            },
        )?;
        self.put_method_response(
            resource_id,
            "OPTIONS",
            "200",
            PutMethodResponseInput {
                response_parameters: Some(
                    headers
                        .iter()
                        .map(|(h, _)| (format!("method.response.header.{h}"), false))
                        .collect(),
                ),
                response_models: Some(Map::from([("application/json".into(), "Empty".into())])),
            },
        )?;
        self.put_integration(
            resource_id,
            "OPTIONS",
            PutIntegrationInput {
                kind: Some("MOCK".into()),
                request_templates: Some(Map::from([(
                    "application/json".into(),
                    "{\"statusCode\": 200}".into(),
                )])),
                passthrough_behavior: Some("WHEN_NO_MATCH".into()),
                ..PutIntegrationInput::default()
            },
        )?;
        self.put_integration_response(
            resource_id,
            "OPTIONS",
            "200",
            PutIntegrationResponseInput {
                response_parameters: Some(
                    headers
                        .iter()
                        .map(|(h, v)| (format!("method.response.header.{h}"), v.clone()))
                        .collect(),
                ),
                response_templates: Some(Map::from([("application/json".into(), String::new())])),
                ..PutIntegrationResponseInput::default()
            },
        )?;
        let mut report = CorsReport {
            allow_methods,
            ..CorsReport::default()
        };
        // The other methods: Access-Control-Allow-Origin on their 200 responses.
        let origin_param = "method.response.header.Access-Control-Allow-Origin".to_owned();
        let origin_value = quoted(&settings.allow_origin);
        let credentials_param = "method.response.header.Access-Control-Allow-Credentials";
        for verb in existing {
            let m = self.method(resource_id, &verb)?;
            let proxy = m.method_integration.as_ref().is_some_and(|i| {
                matches!(
                    i.kind,
                    IntegrationType::AwsProxy | IntegrationType::HttpProxy
                )
            });
            if proxy {
                report.skipped_methods.push((
                    verb,
                    "a proxy integration: its backend sends the CORS headers".into(),
                ));
                continue;
            }
            let has_200 = m.method_responses.contains_key("200")
                && m.method_integration
                    .as_ref()
                    .is_some_and(|i| i.integration_responses.contains_key("200"));
            if !has_200 {
                report
                    .skipped_methods
                    .push((verb, "no 200 method and integration response".into()));
                continue;
            }
            let m = self.method_mut(resource_id, &verb)?;
            if let Some(mr) = m.method_responses.get_mut("200") {
                mr.response_parameters.insert(origin_param.clone(), false);
                if settings.allow_credentials {
                    mr.response_parameters
                        .insert(credentials_param.into(), false);
                }
            }
            if let Some(ir) = m
                .method_integration
                .as_mut()
                .and_then(|i| i.integration_responses.get_mut("200"))
            {
                ir.response_parameters
                    .insert(origin_param.clone(), origin_value.clone());
                if settings.allow_credentials {
                    ir.response_parameters
                        .insert(credentials_param.into(), quoted("true"));
                }
            }
            report.updated_methods.push(verb);
        }
        if settings.gateway_responses {
            for kind in ["DEFAULT_4XX", "DEFAULT_5XX"] {
                let current = self.gateway_response(kind)?;
                let mut params = current.response_parameters.clone();
                for (h, v) in &headers {
                    params.insert(format!("gatewayresponse.header.{h}"), v.clone());
                }
                self.put_gateway_response(
                    kind,
                    PutGatewayResponseInput {
                        status_code: current.status_code.clone(),
                        response_parameters: Some(params),
                        response_templates: Some(current.response_templates.clone()),
                    },
                )?;
                report.gateway_responses.push(kind.into());
            }
        }
        Ok(report)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::PutIntegrationInput;

    fn api_with(methods: &[(&str, &str)]) -> (ApiState, String) {
        let mut st = ApiState::new(portico_model::RestApi::new("cors", ""));
        let root = st.resources[0].id.clone();
        let r = st.create_resource(&root, "items").unwrap().id;
        for (verb, kind) in methods {
            st.put_method(&r, verb, PutMethodInput::default()).unwrap();
            let mut input = PutIntegrationInput {
                kind: Some((*kind).into()),
                ..PutIntegrationInput::default()
            };
            if *kind == "HTTP_PROXY" {
                input.http_method = Some("GET".into());
                input.uri = Some("http://backend.example/items".into());
            }
            st.put_integration(&r, verb, input).unwrap();
            st.put_method_response(&r, verb, "200", PutMethodResponseInput::default())
                .unwrap();
            st.put_integration_response(&r, verb, "200", PutIntegrationResponseInput::default())
                .unwrap();
        }
        (st, r)
    }

    #[test]
    fn the_console_setup_on_a_resource() {
        let (mut st, r) = api_with(&[("GET", "MOCK"), ("POST", "MOCK"), ("PUT", "HTTP_PROXY")]);
        let report = st.enable_cors(&r, &CorsSettings::default()).unwrap();
        assert_eq!(report.allow_methods, "GET,OPTIONS,POST,PUT");
        assert_eq!(report.updated_methods, vec!["GET", "POST"]);
        assert_eq!(report.skipped_methods[0].0, "PUT");
        let ir = st.integration_response(&r, "OPTIONS", "200").unwrap();
        assert_eq!(
            ir.response_parameters["method.response.header.Access-Control-Allow-Headers"],
            format!("'{DEFAULT_ALLOW_HEADERS}'")
        );
        assert_eq!(
            ir.response_parameters["method.response.header.Access-Control-Allow-Origin"],
            "'*'"
        );
        let get = st.integration_response(&r, "GET", "200").unwrap();
        assert_eq!(
            get.response_parameters["method.response.header.Access-Control-Allow-Origin"],
            "'*'"
        );
        assert!(
            st.method_response(&r, "PUT", "200")
                .unwrap()
                .response_parameters
                .is_empty()
        );
        // Gateway responses only when asked.
        assert!(report.gateway_responses.is_empty());
        assert!(
            st.gateway_response("DEFAULT_4XX")
                .unwrap()
                .response_parameters
                .is_empty()
        );
    }

    #[test]
    fn any_credentials_and_gateway_responses() {
        let (mut st, r) = api_with(&[("ANY", "MOCK")]);
        let settings = CorsSettings {
            allow_origin: "https://app.example.com".into(),
            allow_credentials: true,
            max_age: Some(600),
            gateway_responses: true,
            ..CorsSettings::default()
        };
        let report = st.enable_cors(&r, &settings).unwrap();
        assert_eq!(
            report.allow_methods,
            "DELETE,GET,HEAD,OPTIONS,PATCH,POST,PUT"
        );
        let ir = st.integration_response(&r, "OPTIONS", "200").unwrap();
        assert_eq!(
            ir.response_parameters["method.response.header.Access-Control-Allow-Credentials"],
            "'true'"
        );
        assert_eq!(
            ir.response_parameters["method.response.header.Access-Control-Max-Age"],
            "'600'"
        );
        for kind in ["DEFAULT_4XX", "DEFAULT_5XX"] {
            let g = st.gateway_response(kind).unwrap();
            assert_eq!(
                g.response_parameters["gatewayresponse.header.Access-Control-Allow-Origin"],
                "'https://app.example.com'"
            );
        }
        // Running it again replaces the OPTIONS method rather than failing.
        assert!(st.enable_cors(&r, &settings).is_ok());
    }

    #[test]
    fn refusals() {
        let (mut st, r) = api_with(&[("GET", "MOCK")]);
        for bad in [
            CorsSettings {
                allow_credentials: true,
                ..CorsSettings::default()
            },
            CorsSettings {
                allow_origin: "https://a.example, https://b.example".into(),
                ..CorsSettings::default()
            },
            CorsSettings {
                allow_origin: "app.example.com".into(),
                ..CorsSettings::default()
            },
            CorsSettings {
                allow_headers: "X-A'\r\nX-Injected: 1".into(),
                ..CorsSettings::default()
            },
            CorsSettings {
                allow_methods: Some(vec!["BREW".into()]),
                ..CorsSettings::default()
            },
        ] {
            assert!(st.enable_cors(&r, &bad).is_err(), "{bad:?}");
        }
        assert!(st.method(&r, "OPTIONS").is_err(), "nothing written");
        assert!(st.enable_cors("nope", &CorsSettings::default()).is_err());
    }
}
