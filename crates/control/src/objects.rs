//! API-level objects: models, request validators and authorizers.

use crate::patch::PatchOperation;
use crate::{ApiState, ControlError};
use portico_model::{Authorizer, Model, RequestValidator, new_resource_id};
use serde::Deserialize;

/// `CreateModel` body.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateModelInput {
    /// Alphanumeric name.
    pub name: Option<String>,
    /// Free text.
    pub description: Option<String>,
    /// JSON Schema as a string.
    pub schema: Option<String>,
    /// Content type.
    pub content_type: Option<String>,
}

/// `CreateRequestValidator` body.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateRequestValidatorInput {
    /// Name.
    pub name: Option<String>,
    /// Validate bodies.
    pub validate_request_body: Option<bool>,
    /// Validate parameters.
    pub validate_request_parameters: Option<bool>,
}

/// `CreateAuthorizer` body.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateAuthorizerInput {
    /// Name.
    pub name: Option<String>,
    /// `TOKEN`, `REQUEST`, `COGNITO_USER_POOLS`.
    #[serde(rename = "type")]
    pub kind: Option<String>,
    /// Cognito pools.
    #[serde(rename = "providerARNs")]
    pub provider_arns: Option<Vec<String>>,
    /// Label.
    pub auth_type: Option<String>,
    /// Lambda URI.
    pub authorizer_uri: Option<String>,
    /// Invoke role.
    pub authorizer_credentials: Option<String>,
    /// Identity source.
    pub identity_source: Option<String>,
    /// TOKEN regex.
    pub identity_validation_expression: Option<String>,
    /// Cache TTL.
    pub authorizer_result_ttl_in_seconds: Option<i64>,
}

/// AWS's 404 for a model name an API lacks (also its answer when the API itself is unknown).
pub fn invalid_model(name: &str) -> ControlError {
    ControlError::not_found(format!("Invalid model name specified: {name}"))
}

fn invalid_validator() -> ControlError {
    ControlError::not_found("Invalid Request Validator identifier specified")
}

fn invalid_authorizer() -> ControlError {
    ControlError::not_found("Invalid authorizer identifier specified")
}

/// A model needs a schema: a missing, blank or empty-object one gets AWS's message (for any
/// content type).
fn check_schema(schema: Option<&str>) -> Result<(), ControlError> {
    let empty = || {
        ControlError::bad_request(
            "Model schema must have at least 1 property or array items defined",
        )
    };
    let text = schema.filter(|t| !t.trim().is_empty()).ok_or_else(empty)?;
    let v: serde_json::Value = serde_json::from_str(text)
        .map_err(|e| ControlError::bad_request(format!("Invalid model schema specified: {e}")))?;
    if v.as_object().is_some_and(|o| o.is_empty()) {
        return Err(empty());
    }
    Ok(())
}

/// Models and validators take only `replace`: `add`/`remove` get AWS's "choose supported
/// operations" error, other ops the generic one.
fn check_op(o: &PatchOperation) -> Result<(), ControlError> {
    match o.op.as_str() {
        "replace" => Ok(()),
        "add" | "remove" => Err(crate::patch::unsupported_op(o)),
        _ => Err(crate::patch::invalid_op()),
    }
}

fn bool_value(o: &PatchOperation) -> Result<bool, ControlError> {
    match o.value.as_deref() {
        Some("true") => Ok(true),
        Some("false") => Ok(false),
        v => Err(ControlError::bad_request(format!(
            "Invalid boolean value '{}' for {}",
            v.unwrap_or(""),
            o.path
        ))),
    }
}

impl ApiState {
    /// `CreateModel`.
    pub fn create_model(&mut self, input: CreateModelInput) -> Result<Model, ControlError> {
        let name = input.name.unwrap_or_default();
        if name.is_empty() {
            return Err(ControlError::bad_request("Model name must be non-empty"));
        }
        if !name.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(ControlError::bad_request(format!(
                "Invalid model name specified: {name}"
            )));
        }
        let content_type = input
            .content_type
            .filter(|c| !c.is_empty())
            .ok_or_else(|| {
                ControlError::bad_request("Invalid content type specified: must be non-empty")
            })?;
        if self.models.iter().any(|m| m.name == name) {
            return Err(ControlError::conflict(
                "Model name already exists for this REST API",
            ));
        }
        check_schema(input.schema.as_deref())?;
        let m = Model {
            id: new_resource_id(),
            name,
            description: input.description,
            schema: input.schema,
            content_type,
        };
        self.models.push(m.clone());
        Ok(m)
    }

    /// `GetModel` (models are addressed by name).
    pub fn model(&self, name: &str) -> Result<&Model, ControlError> {
        self.models
            .iter()
            .find(|m| m.name == name)
            .ok_or_else(|| invalid_model(name))
    }

    /// `UpdateModel` (`/description`, `/schema`).
    pub fn update_model(
        &mut self,
        name: &str,
        ops: &[PatchOperation],
    ) -> Result<Model, ControlError> {
        let mut m = self.model(name)?.clone();
        for o in ops {
            check_op(o)?;
            match o.path.as_str() {
                // An empty description clears it.
                "/description" => m.description = o.value.clone().filter(|d| !d.is_empty()),
                "/schema" => {
                    check_schema(o.value.as_deref())?;
                    m.schema = o.value.clone();
                }
                _ => return Err(crate::patch::invalid_path(o, &["/description", "/schema"])),
            }
        }
        if let Some(slot) = self.models.iter_mut().find(|x| x.name == name) {
            *slot = m.clone();
        }
        Ok(m)
    }

    /// `DeleteModel`: refused while a method refers to it.
    pub fn delete_model(&mut self, name: &str) -> Result<(), ControlError> {
        self.model(name)?;
        for r in &self.resources {
            for (verb, m) in &r.resource_methods {
                if m.request_models.values().any(|n| n == name) {
                    return Err(ControlError::conflict(format!(
                        "Cannot delete model '{name}', is referenced in method request: {}/{verb}",
                        r.path
                    )));
                }
            }
        }
        self.models.retain(|m| m.name != name);
        Ok(())
    }

    /// `CreateRequestValidator`.
    pub fn create_request_validator(
        &mut self,
        input: CreateRequestValidatorInput,
    ) -> Result<RequestValidator, ControlError> {
        if let Some(n) = input.name.as_deref()
            && self
                .request_validators
                .iter()
                .any(|v| v.name.as_deref() == Some(n))
        {
            return Err(ControlError::conflict(format!(
                "Validator {n} already exists for the given RestApi"
            )));
        }
        let v = RequestValidator {
            id: new_resource_id(),
            name: input.name,
            validate_request_body: input.validate_request_body.unwrap_or(false),
            validate_request_parameters: input.validate_request_parameters.unwrap_or(false),
        };
        self.request_validators.push(v.clone());
        Ok(v)
    }

    /// `GetRequestValidator`.
    pub fn request_validator(&self, id: &str) -> Result<&RequestValidator, ControlError> {
        self.request_validators
            .iter()
            .find(|v| v.id == id)
            .ok_or_else(invalid_validator)
    }

    /// `UpdateRequestValidator`.
    pub fn update_request_validator(
        &mut self,
        id: &str,
        ops: &[PatchOperation],
    ) -> Result<RequestValidator, ControlError> {
        let mut v = self.request_validator(id)?.clone();
        for o in ops {
            check_op(o)?;
            match o.path.as_str() {
                "/name" => {
                    if o.value.as_deref().is_none_or(|n| n.trim().is_empty()) {
                        return Err(ControlError::bad_request(
                            "Request Validator name cannot be blank",
                        ));
                    }
                    v.name = o.value.clone()
                }
                "/validateRequestBody" => v.validate_request_body = bool_value(o)?,
                "/validateRequestParameters" => v.validate_request_parameters = bool_value(o)?,
                _ => {
                    return Err(crate::patch::invalid_path(
                        o,
                        &[
                            "/name",
                            "/validateRequestParameters",
                            "/validateRequestBody",
                        ],
                    ));
                }
            }
        }
        if let Some(slot) = self.request_validators.iter_mut().find(|x| x.id == id) {
            *slot = v.clone();
        }
        Ok(v)
    }

    /// `DeleteRequestValidator`.
    pub fn delete_request_validator(&mut self, id: &str) -> Result<(), ControlError> {
        self.request_validator(id)?;
        self.request_validators.retain(|v| v.id != id);
        for r in self.resources.iter_mut() {
            for m in r.resource_methods.values_mut() {
                if m.request_validator_id.as_deref() == Some(id) {
                    m.request_validator_id = None;
                }
            }
        }
        Ok(())
    }

    /// `CreateAuthorizer`.
    pub fn create_authorizer(
        &mut self,
        input: CreateAuthorizerInput,
    ) -> Result<Authorizer, ControlError> {
        let name = input.name.filter(|n| !n.is_empty()).ok_or_else(|| {
            ControlError::bad_request("Invalid authorizer name specified: must be non-empty")
        })?;
        let kind = input.kind.unwrap_or_default();
        match kind.as_str() {
            "TOKEN" | "REQUEST" => {
                if input.authorizer_uri.as_deref().unwrap_or("").is_empty() {
                    return Err(ControlError::bad_request(
                        "Invalid Authorizer URI specified: must be non-empty for TOKEN and REQUEST authorizers",
                    ));
                }
            }
            "COGNITO_USER_POOLS" => {
                if input.provider_arns.as_ref().is_none_or(Vec::is_empty) {
                    return Err(ControlError::bad_request(
                        "Invalid providerARNs specified: must be non-empty for COGNITO_USER_POOLS authorizers",
                    ));
                }
            }
            other => {
                return Err(ControlError::bad_request(format!(
                    "Invalid authorizer type specified: {other}. Valid options are TOKEN,REQUEST,COGNITO_USER_POOLS"
                )));
            }
        }
        let ttl = input.authorizer_result_ttl_in_seconds.unwrap_or(300);
        if !(0..=3600).contains(&ttl) {
            return Err(ControlError::bad_request(
                "Invalid authorizer result TTL specified: must be between 0 and 3600",
            ));
        }
        let identity_source = input.identity_source.or_else(|| {
            (kind == "TOKEN" || kind == "COGNITO_USER_POOLS")
                .then(|| "method.request.header.Authorization".to_owned())
        });
        let a = Authorizer {
            id: new_resource_id(),
            name,
            kind,
            provider_arns: input.provider_arns.unwrap_or_default(),
            auth_type: input.auth_type,
            authorizer_uri: input.authorizer_uri,
            authorizer_credentials: input.authorizer_credentials,
            identity_source,
            identity_validation_expression: input.identity_validation_expression,
            authorizer_result_ttl_in_seconds: Some(ttl),
        };
        self.authorizers.push(a.clone());
        Ok(a)
    }

    /// `GetAuthorizer`.
    pub fn authorizer(&self, id: &str) -> Result<&Authorizer, ControlError> {
        self.authorizers
            .iter()
            .find(|a| a.id == id)
            .ok_or_else(invalid_authorizer)
    }

    /// `UpdateAuthorizer`.
    pub fn update_authorizer(
        &mut self,
        id: &str,
        ops: &[PatchOperation],
    ) -> Result<Authorizer, ControlError> {
        let mut a = self.authorizer(id)?.clone();
        for o in ops {
            check_op(o)?;
            match o.path.as_str() {
                "/name" => a.name = o.value.clone().unwrap_or_default(),
                "/authorizerUri" => a.authorizer_uri = o.value.clone(),
                "/authorizerCredentials" => a.authorizer_credentials = o.value.clone(),
                "/identitySource" => a.identity_source = o.value.clone(),
                "/identityValidationExpression" => {
                    a.identity_validation_expression = o.value.clone()
                }
                "/authorizerResultTtlInSeconds" => {
                    let ttl: i64 = o.value.as_deref().unwrap_or("").parse().map_err(|_| {
                        ControlError::bad_request(
                            "Invalid authorizer result TTL specified: must be between 0 and 3600",
                        )
                    })?;
                    if !(0..=3600).contains(&ttl) {
                        return Err(ControlError::bad_request(
                            "Invalid authorizer result TTL specified: must be between 0 and 3600",
                        ));
                    }
                    a.authorizer_result_ttl_in_seconds = Some(ttl);
                }
                _ => {
                    return Err(crate::patch::invalid_path(
                        o,
                        &[
                            "/name",
                            "/authorizerUri",
                            "/authorizerCredentials",
                            "/identitySource",
                            "/identityValidationExpression",
                            "/authorizerResultTtlInSeconds",
                        ],
                    ));
                }
            }
        }
        if let Some(slot) = self.authorizers.iter_mut().find(|x| x.id == id) {
            *slot = a.clone();
        }
        Ok(a)
    }

    /// `DeleteAuthorizer`: refused while a method uses it.
    pub fn delete_authorizer(&mut self, id: &str) -> Result<(), ControlError> {
        self.authorizer(id)?;
        let used = self.resources.iter().any(|r| {
            r.resource_methods
                .values()
                .any(|m| m.authorizer_id.as_deref() == Some(id))
        });
        if used {
            return Err(ControlError::conflict(
                "Cannot delete authorizer, is referenced in a method",
            ));
        }
        self.authorizers.retain(|a| a.id != id);
        Ok(())
    }
}

/// Depth limit for generated model templates.
const TEMPLATE_DEPTH: usize = 8;

fn template_for(
    schema: &serde_json::Value,
    expr: &str,
    indent: usize,
    depth: usize,
    out: &mut String,
) {
    let pad = "  ".repeat(indent);
    let kind = schema.get("type").and_then(|t| t.as_str()).unwrap_or(
        if schema.get("properties").is_some() {
            "object"
        } else if schema.get("items").is_some() {
            "array"
        } else {
            "string"
        },
    );
    match kind {
        "object" if depth < TEMPLATE_DEPTH => {
            out.push_str("{\n");
            let props: Vec<(&String, &serde_json::Value)> = schema
                .get("properties")
                .and_then(|p| p.as_object())
                .map(|m| m.iter().collect())
                .unwrap_or_default();
            for (i, (name, sub)) in props.iter().enumerate() {
                out.push_str(&format!("{pad}  \"{name}\" : "));
                template_for(sub, &format!("{expr}.{name}"), indent + 1, depth + 1, out);
                if i + 1 < props.len() {
                    out.push(',');
                }
                out.push('\n');
            }
            out.push_str(&format!("{pad}}}"));
        }
        "array" if depth < TEMPLATE_DEPTH => {
            let var = format!("$elem{depth}");
            out.push_str(&format!("[\n#foreach({var} in {expr})\n{pad}  "));
            let items = schema.get("items").cloned().unwrap_or_default();
            template_for(&items, &var, indent + 1, depth + 1, out);
            out.push_str(&format!("#if($foreach.hasNext),#end\n#end\n{pad}]"));
        }
        "number" | "integer" | "boolean" => out.push_str(expr),
        _ => out.push_str(&format!("\"{expr}\"")),
    }
}

impl ApiState {
    /// `GetModelTemplate`: a Velocity mapping template that reproduces the model's shape from
    /// the request body.
    pub fn model_template(&self, name: &str) -> Result<String, ControlError> {
        let model = self.model(name)?;
        let schema: serde_json::Value = model
            .schema
            .as_deref()
            .and_then(|s| serde_json::from_str(s).ok())
            .unwrap_or_default();
        let mut out = String::from("#set($inputRoot = $input.path('$'))\n");
        template_for(&schema, "$inputRoot", 0, 0, &mut out);
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use portico_model::RestApi;

    #[test]
    fn model_template_follows_the_schema() {
        let mut s = ApiState::new(RestApi::new("a", ""));
        s.create_model(CreateModelInput {
            name: Some("Pet".into()),
            content_type: Some("application/json".into()),
            schema: Some(
                r#"{"type":"object","properties":{"name":{"type":"string"},"age":{"type":"integer"},"tags":{"type":"array","items":{"type":"string"}}}}"#.into(),
            ),
            description: None,
        })
        .unwrap();
        let t = s.model_template("Pet").unwrap();
        assert!(
            t.starts_with("#set($inputRoot = $input.path('$'))\n{"),
            "{t}"
        );
        assert!(t.contains("\"name\" : \"$inputRoot.name\""), "{t}");
        assert!(t.contains("\"age\" : $inputRoot.age"), "{t}");
        assert!(t.contains("#foreach($elem1 in $inputRoot.tags)"), "{t}");
        assert!(s.model_template("Nope").is_err());
    }
}
