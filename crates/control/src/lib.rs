//! The control plane's commands over one REST API's state.
//!
//! Every management operation (and OpenAPI import) is a pure function from the current
//! [`ApiState`] plus an input to a new state or a [`ControlError`] carrying AWS's status, code and
//! message. The store runs a command inside one transaction, so a refused command changes nothing.
//!
//! ```
//! use portico_control::{ApiState, PutMethodInput};
//! let mut state = ApiState::new(portico_model::RestApi::new("pets", ""));
//! let root = state.api.root_resource_id.clone();
//! let pets = state.create_resource(&root, "pets").unwrap();
//! state.put_method(&pets.id, "GET", PutMethodInput::default()).unwrap();
//! let err = state.create_resource(&root, "pets").unwrap_err();
//! assert_eq!(err.message, "Another resource with the same parent already has this name: pets");
//! ```

pub mod account;
pub mod api_keys;
pub mod cors;
pub mod docs;
mod error;
pub mod http;
mod inputs;
pub mod lambda;
mod objects;
pub mod patch;
pub mod websocket;
mod websocket_rules;

pub use error::{
    ACCOUNT_ID, ControlError, ErrorKind, concurrent_modification, invalid_api, invalid_integration,
    invalid_method, invalid_resource, invalid_response, invalid_rest_api_for_validator, violation,
};
pub use inputs::{
    PutGatewayResponseInput, PutIntegrationInput, PutIntegrationResponseInput, PutMethodInput,
    PutMethodResponseInput,
};
pub use objects::{
    CreateAuthorizerInput, CreateModelInput, CreateRequestValidatorInput, invalid_model,
};

use portico_model::{
    Authorizer, DeploymentSnapshot, DocumentationPart, DocumentationVersion,
    GATEWAY_RESPONSE_TYPES, GatewayResponse, Integration, IntegrationResponse, IntegrationType,
    Map, Method, MethodResponse, Model, RequestValidator, Resource, RestApi,
};

/// Methods API Gateway accepts.
pub const HTTP_METHODS: [&str; 8] = [
    "GET", "PUT", "POST", "DELETE", "PATCH", "OPTIONS", "HEAD", "ANY",
];
/// Resources per API (AWS's default quota).
pub const MAX_RESOURCES: usize = 300;

/// One REST API: its settings, its resource tree and its API-level objects.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiState {
    /// The API.
    pub api: RestApi,
    /// Its resources, root included.
    pub resources: Vec<Resource>,
    /// Gateway responses put on the API, by type.
    pub gateway_responses: Map<GatewayResponse>,
    /// Models.
    pub models: Vec<Model>,
    /// Request validators.
    pub request_validators: Vec<RequestValidator>,
    /// Authorizers.
    pub authorizers: Vec<Authorizer>,
    /// Documentation parts.
    pub documentation_parts: Vec<DocumentationPart>,
    /// Documentation versions with the parts they froze.
    pub documentation_versions: Vec<(DocumentationVersion, Vec<DocumentationPart>)>,
}

impl ApiState {
    /// A new API with its root resource.
    pub fn new(mut api: RestApi) -> Self {
        let root = Resource::root();
        api.root_resource_id = root.id.clone();
        Self {
            api,
            resources: vec![root],
            gateway_responses: Map::new(),
            models: Vec::new(),
            request_validators: Vec::new(),
            authorizers: Vec::new(),
            documentation_parts: Vec::new(),
            documentation_versions: Vec::new(),
        }
    }

    /// An API from a definition (import): the root is the resource without a parent.
    pub fn from_definition(
        mut api: RestApi,
        mut resources: Vec<Resource>,
        authorizers: Vec<Authorizer>,
    ) -> Self {
        fill_cache_namespaces(&mut resources);
        if let Some(root) = resources.iter().find(|r| r.parent_id.is_none()) {
            api.root_resource_id = root.id.clone();
        }
        Self {
            api,
            resources,
            gateway_responses: Map::new(),
            models: Vec::new(),
            request_validators: Vec::new(),
            authorizers,
            documentation_parts: Vec::new(),
            documentation_versions: Vec::new(),
        }
    }

    /// The resource with this id.
    pub fn resource(&self, id: &str) -> Result<&Resource, ControlError> {
        self.resources
            .iter()
            .find(|r| r.id == id)
            .ok_or_else(invalid_resource)
    }

    fn resource_mut(&mut self, id: &str) -> Result<&mut Resource, ControlError> {
        self.resources
            .iter_mut()
            .find(|r| r.id == id)
            .ok_or_else(invalid_resource)
    }

    /// `CreateResource`.
    pub fn create_resource(
        &mut self,
        parent_id: &str,
        path_part: &str,
    ) -> Result<Resource, ControlError> {
        let parent = self.resource(parent_id)?.clone();
        if let Some(part) = parent.path_part.as_deref()
            && part.ends_with("+}")
        {
            return Err(ControlError::bad_request(format!(
                "Cannot create a child of a resource with a greedy path variable: {part}"
            )));
        }
        validate_path_part(path_part)?;
        let siblings = self
            .resources
            .iter()
            .filter(|r| r.parent_id.as_deref() == Some(parent_id));
        for s in siblings {
            let existing = s.path_part.as_deref().unwrap_or("");
            if existing == path_part {
                return Err(ControlError::conflict(format!(
                    "Another resource with the same parent already has this name: {path_part}"
                )));
            }
            if existing.starts_with('{') && path_part.starts_with('{') {
                return Err(ControlError::bad_request(format!(
                    "A sibling ({existing}) of this resource already has a variable path part -- only one is allowed"
                )));
            }
        }
        if self.resources.len() >= MAX_RESOURCES {
            return Err(ControlError::limit_exceeded(format!(
                "Maximum number of Resources for this API has been reached: {MAX_RESOURCES}"
            )));
        }
        let r = Resource::child(&parent, path_part);
        self.resources.push(r.clone());
        Ok(r)
    }

    /// `DeleteResource`: removes the resource and everything under it.
    pub fn delete_resource(&mut self, id: &str) -> Result<(), ControlError> {
        let r = self.resource(id)?;
        if r.parent_id.is_none() {
            return Err(ControlError::bad_request("Cannot delete root resource"));
        }
        let prefix = format!("{}/", r.path);
        let path = r.path.clone();
        self.resources
            .retain(|r| r.path != path && !r.path.starts_with(&prefix));
        Ok(())
    }

    /// `PutMethod`: creates or replaces the method (its integration and responses go with it).
    pub fn put_method(
        &mut self,
        resource_id: &str,
        http_method: &str,
        input: PutMethodInput,
    ) -> Result<Method, ControlError> {
        let verb = valid_http_method(http_method)?;
        let known_authorizer = input
            .authorizer_id
            .as_deref()
            .is_some_and(|id| self.authorizers.iter().any(|a| a.id == id));
        let resource = self.resource_mut(resource_id)?;
        let auth = input.authorization_type.unwrap_or_else(|| "NONE".into());
        match auth.as_str() {
            "NONE" | "AWS_IAM" => {}
            "CUSTOM" | "COGNITO_USER_POOLS" => {
                if input.authorizer_id.is_none() || !known_authorizer {
                    return Err(ControlError::bad_request(
                        "Invalid authorizer ID specified. Setting the authorization type to CUSTOM or COGNITO_USER_POOLS requires a valid authorizer.",
                    ));
                }
            }
            other => {
                return Err(ControlError::bad_request(format!(
                    "Invalid authorization type specified: {other}. Valid options are NONE,AWS_IAM,CUSTOM,COGNITO_USER_POOLS"
                )));
            }
        }
        let mut m = Method::new(verb);
        m.authorization_type = auth;
        m.authorizer_id = input.authorizer_id;
        m.api_key_required = input.api_key_required.unwrap_or(false);
        m.operation_name = input.operation_name;
        m.request_parameters = input.request_parameters.unwrap_or_default();
        m.request_models = input.request_models.unwrap_or_default();
        m.request_validator_id = input.request_validator_id;
        m.authorization_scopes = input.authorization_scopes.unwrap_or_default();
        resource.resource_methods.insert(verb.to_owned(), m.clone());
        Ok(m)
    }

    /// `GetMethod`.
    pub fn method(&self, resource_id: &str, http_method: &str) -> Result<&Method, ControlError> {
        self.resource(resource_id)?
            .resource_methods
            .get(http_method)
            .ok_or_else(invalid_method)
    }

    fn method_mut(
        &mut self,
        resource_id: &str,
        http_method: &str,
    ) -> Result<&mut Method, ControlError> {
        self.resource_mut(resource_id)?
            .resource_methods
            .get_mut(http_method)
            .ok_or_else(invalid_method)
    }

    /// `DeleteMethod`.
    pub fn delete_method(
        &mut self,
        resource_id: &str,
        http_method: &str,
    ) -> Result<(), ControlError> {
        self.resource_mut(resource_id)?
            .resource_methods
            .remove(http_method)
            .map(|_| ())
            .ok_or_else(invalid_method)
    }

    /// `PutMethodResponse`.
    pub fn put_method_response(
        &mut self,
        resource_id: &str,
        http_method: &str,
        status_code: &str,
        input: PutMethodResponseInput,
    ) -> Result<MethodResponse, ControlError> {
        valid_status_code(status_code)?;
        let m = self.method_mut(resource_id, http_method)?;
        let mr = MethodResponse {
            status_code: status_code.to_owned(),
            response_parameters: input.response_parameters.unwrap_or_default(),
            response_models: input.response_models.unwrap_or_default(),
        };
        m.method_responses
            .insert(status_code.to_owned(), mr.clone());
        Ok(mr)
    }

    /// `GetMethodResponse`.
    pub fn method_response(
        &self,
        resource_id: &str,
        http_method: &str,
        status_code: &str,
    ) -> Result<&MethodResponse, ControlError> {
        self.method(resource_id, http_method)?
            .method_responses
            .get(status_code)
            .ok_or_else(invalid_response)
    }

    /// `DeleteMethodResponse`.
    pub fn delete_method_response(
        &mut self,
        resource_id: &str,
        http_method: &str,
        status_code: &str,
    ) -> Result<(), ControlError> {
        self.method_mut(resource_id, http_method)?
            .method_responses
            .remove(status_code)
            .map(|_| ())
            .ok_or_else(invalid_response)
    }

    /// `PutIntegration`.
    pub fn put_integration(
        &mut self,
        resource_id: &str,
        http_method: &str,
        input: PutIntegrationInput,
    ) -> Result<Integration, ControlError> {
        let mut integration = input.into_integration()?;
        if integration.cache_namespace.is_none() {
            integration.cache_namespace = Some(resource_id.to_owned());
        }
        let m = self.method_mut(resource_id, http_method)?;
        m.method_integration = Some(integration.clone());
        Ok(integration)
    }

    /// `GetIntegration`.
    pub fn integration(
        &self,
        resource_id: &str,
        http_method: &str,
    ) -> Result<&Integration, ControlError> {
        self.method(resource_id, http_method)?
            .method_integration
            .as_ref()
            .ok_or_else(invalid_integration)
    }

    fn integration_mut(
        &mut self,
        resource_id: &str,
        http_method: &str,
    ) -> Result<&mut Integration, ControlError> {
        self.method_mut(resource_id, http_method)?
            .method_integration
            .as_mut()
            .ok_or_else(invalid_integration)
    }

    /// `DeleteIntegration`.
    pub fn delete_integration(
        &mut self,
        resource_id: &str,
        http_method: &str,
    ) -> Result<(), ControlError> {
        self.method_mut(resource_id, http_method)?
            .method_integration
            .take()
            .map(|_| ())
            .ok_or_else(invalid_integration)
    }

    /// `PutIntegrationResponse`.
    pub fn put_integration_response(
        &mut self,
        resource_id: &str,
        http_method: &str,
        status_code: &str,
        input: PutIntegrationResponseInput,
    ) -> Result<IntegrationResponse, ControlError> {
        valid_status_code(status_code)?;
        if let Some(ch) = input.content_handling.as_deref()
            && !matches!(ch, "CONVERT_TO_BINARY" | "CONVERT_TO_TEXT")
        {
            return Err(ControlError::bad_request(format!(
                "Invalid content handling specified: {ch}"
            )));
        }
        if let Some(p) = input.selection_pattern.as_deref() {
            valid_selection_pattern(p)?;
        }
        let i = self.integration_mut(resource_id, http_method)?;
        let ir = IntegrationResponse {
            status_code: status_code.to_owned(),
            selection_pattern: input.selection_pattern,
            response_parameters: input.response_parameters.unwrap_or_default(),
            response_templates: input.response_templates.unwrap_or_default(),
            content_handling: input.content_handling,
        };
        i.integration_responses
            .insert(status_code.to_owned(), ir.clone());
        Ok(ir)
    }

    /// `GetIntegrationResponse`.
    pub fn integration_response(
        &self,
        resource_id: &str,
        http_method: &str,
        status_code: &str,
    ) -> Result<&IntegrationResponse, ControlError> {
        self.integration(resource_id, http_method)?
            .integration_responses
            .get(status_code)
            .ok_or_else(invalid_response)
    }

    /// `DeleteIntegrationResponse`.
    pub fn delete_integration_response(
        &mut self,
        resource_id: &str,
        http_method: &str,
        status_code: &str,
    ) -> Result<(), ControlError> {
        self.integration_mut(resource_id, http_method)?
            .integration_responses
            .remove(status_code)
            .map(|_| ())
            .ok_or_else(invalid_response)
    }

    /// `UpdateRestApi`.
    pub fn update_rest_api(
        &mut self,
        ops: &[patch::PatchOperation],
    ) -> Result<RestApi, ControlError> {
        patch::patch_rest_api(&mut self.api, ops)?;
        Ok(self.api.clone())
    }

    /// `UpdateResource`: a new `pathPart` and/or `parentId`; the subtree's paths follow.
    pub fn update_resource(
        &mut self,
        id: &str,
        ops: &[patch::PatchOperation],
    ) -> Result<Resource, ControlError> {
        let (part, parent) = patch::resource_changes(ops)?;
        let current = self.resource(id)?.clone();
        if current.parent_id.is_none() {
            // AWS names the field the call tried to change, the path part first.
            let field = if part.is_some() {
                "pathPart"
            } else {
                "parentId"
            };
            return Err(ControlError::bad_request(format!(
                "Root resource cannot update its {field}."
            )));
        }
        let new_part = part.unwrap_or_else(|| current.path_part.clone().unwrap_or_default());
        let new_parent = parent.unwrap_or_else(|| current.parent_id.clone().unwrap_or_default());
        let old_path = current.path.clone();
        let parent_path = self.resource(&new_parent)?.path.clone();
        if parent_path == old_path || parent_path.starts_with(&format!("{old_path}/")) {
            return Err(ControlError::bad_request(
                "Cannot move a resource under itself",
            ));
        }
        // Validate as a creation under the new parent, without this resource among the siblings.
        let mut probe = self.clone();
        probe.resources.retain(|r| r.id != id);
        let placed = probe.create_resource(&new_parent, &new_part)?;
        let new_path = placed.path;
        for r in self.resources.iter_mut() {
            if r.id == id {
                r.path_part = Some(new_part.clone());
                r.parent_id = Some(new_parent.clone());
                r.path = new_path.clone();
            } else if let Some(rest) = r.path.strip_prefix(&format!("{old_path}/")) {
                r.path = format!("{new_path}/{rest}");
            }
        }
        Ok(self.resource(id)?.clone())
    }

    /// `UpdateMethod`.
    pub fn update_method(
        &mut self,
        resource_id: &str,
        http_method: &str,
        ops: &[patch::PatchOperation],
    ) -> Result<Method, ControlError> {
        let before = self.method(resource_id, http_method)?;
        let mut next = before.clone();
        patch::patch_method(&mut next, ops)?;
        // References are checked when the call changes them.
        let auth_changed = next.authorizer_id != before.authorizer_id
            || next.authorization_type != before.authorization_type;
        if auth_changed
            && let Some(id) = next.authorizer_id.as_deref()
            && !self.authorizers.iter().any(|a| a.id == id)
        {
            return Err(patch::invalid_authorizer());
        }
        if next.request_validator_id != before.request_validator_id
            && let Some(id) = next.request_validator_id.as_deref()
            && !self.request_validators.iter().any(|v| v.id == id)
        {
            return Err(ControlError::bad_request(
                "Invalid Request Validator identifier specified",
            ));
        }
        *self.method_mut(resource_id, http_method)? = next.clone();
        Ok(next)
    }

    /// `UpdateMethodResponse`.
    pub fn update_method_response(
        &mut self,
        resource_id: &str,
        http_method: &str,
        status_code: &str,
        ops: &[patch::PatchOperation],
    ) -> Result<MethodResponse, ControlError> {
        let r = self
            .method_mut(resource_id, http_method)?
            .method_responses
            .get_mut(status_code)
            .ok_or_else(invalid_response)?;
        let mut next = r.clone();
        patch::patch_method_response(&mut next, ops)?;
        *r = next.clone();
        Ok(next)
    }

    /// `UpdateIntegration`.
    pub fn update_integration(
        &mut self,
        resource_id: &str,
        http_method: &str,
        ops: &[patch::PatchOperation],
    ) -> Result<Integration, ControlError> {
        let i = self.integration_mut(resource_id, http_method)?;
        let mut next = i.clone();
        patch::patch_integration(&mut next, ops)?;
        if matches!(
            next.kind,
            IntegrationType::Http | IntegrationType::HttpProxy
        ) && next.uri != i.uri
        {
            valid_http_endpoint(next.uri.as_deref().unwrap_or(""))?;
        }
        *i = next.clone();
        Ok(next)
    }

    /// `UpdateIntegrationResponse`.
    pub fn update_integration_response(
        &mut self,
        resource_id: &str,
        http_method: &str,
        status_code: &str,
        ops: &[patch::PatchOperation],
    ) -> Result<IntegrationResponse, ControlError> {
        let r = self
            .integration_mut(resource_id, http_method)?
            .integration_responses
            .get_mut(status_code)
            .ok_or_else(invalid_response)?;
        let mut next = r.clone();
        patch::patch_integration_response(&mut next, ops)?;
        if let Some(p) = next.selection_pattern.as_deref() {
            valid_selection_pattern(p)?;
        }
        *r = next.clone();
        Ok(next)
    }

    /// `PutRestApi` with `mode=overwrite`: the definition replaces every resource; resources whose
    /// path survives keep their ids, and the API keeps its id, creation date and tags.
    pub fn overwrite_definition(
        &mut self,
        mut api: RestApi,
        mut resources: Vec<Resource>,
        mut authorizers: Vec<Authorizer>,
    ) {
        keep_ids_by_path(&mut resources, &self.resources);
        keep_authorizer_ids(&mut authorizers, &mut resources, &self.authorizers);
        self.authorizers = authorizers;
        fill_cache_namespaces(&mut resources);
        api.id = self.api.id.clone();
        api.created_date = self.api.created_date;
        api.tags = std::mem::take(&mut self.api.tags);
        api.root_resource_id = resources
            .iter()
            .find(|r| r.parent_id.is_none())
            .map(|r| r.id.clone())
            .unwrap_or_else(|| self.api.root_resource_id.clone());
        self.api = api;
        self.resources = resources;
    }

    /// `PutRestApi` with `mode=merge`: resources of the definition are added; methods it defines
    /// replace the same methods; everything else stays.
    pub fn merge_definition(
        &mut self,
        mut resources: Vec<Resource>,
        mut authorizers: Vec<Authorizer>,
    ) -> Result<(), ControlError> {
        keep_ids_by_path(&mut resources, &self.resources);
        keep_authorizer_ids(&mut authorizers, &mut resources, &self.authorizers);
        for a in authorizers {
            match self.authorizers.iter_mut().find(|e| e.id == a.id) {
                Some(existing) => *existing = a,
                None => self.authorizers.push(a),
            }
        }
        fill_cache_namespaces(&mut resources);
        for r in resources {
            match self.resources.iter_mut().find(|e| e.path == r.path) {
                Some(existing) => existing.resource_methods.extend(r.resource_methods),
                None => self.resources.push(r),
            }
        }
        if self.resources.len() > MAX_RESOURCES {
            return Err(ControlError::limit_exceeded(format!(
                "Maximum number of Resources for this API has been reached: {MAX_RESOURCES}"
            )));
        }
        self.resources.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(())
    }

    /// `GetGatewayResponse`: the one put, or the built-in default.
    pub fn gateway_response(&self, response_type: &str) -> Result<GatewayResponse, ControlError> {
        if let Some(r) = self.gateway_responses.get(response_type) {
            return Ok(r.clone());
        }
        GatewayResponse::default_for(response_type)
            .ok_or_else(|| invalid_response_type(response_type))
    }

    /// `GetGatewayResponses`: all 21 types, defaults materialised.
    pub fn all_gateway_responses(&self) -> Vec<GatewayResponse> {
        GATEWAY_RESPONSE_TYPES
            .iter()
            .filter_map(|(t, _)| self.gateway_response(t).ok())
            .collect()
    }

    /// `PutGatewayResponse`.
    pub fn put_gateway_response(
        &mut self,
        response_type: &str,
        input: PutGatewayResponseInput,
    ) -> Result<GatewayResponse, ControlError> {
        GatewayResponse::default_for(response_type)
            .ok_or_else(|| invalid_response_type(response_type))?;
        if let Some(code) = input.status_code.as_deref() {
            valid_status_code(code)?;
        }
        validate_gateway_response_parameters(input.response_parameters.as_ref())?;
        let r = GatewayResponse {
            response_type: response_type.to_owned(),
            status_code: input.status_code,
            response_parameters: input.response_parameters.unwrap_or_default(),
            response_templates: input.response_templates.unwrap_or_default(),
            default_response: false,
        };
        self.gateway_responses
            .insert(response_type.to_owned(), r.clone());
        Ok(r)
    }

    /// `UpdateGatewayResponse` (a default one becomes explicit).
    pub fn update_gateway_response(
        &mut self,
        response_type: &str,
        ops: &[patch::PatchOperation],
    ) -> Result<GatewayResponse, ControlError> {
        let mut r = self.gateway_response(response_type)?;
        patch::patch_gateway_response(&mut r, ops)?;
        if let Some(code) = r.status_code.as_deref() {
            valid_status_code(code)?;
        }
        validate_gateway_response_parameters(Some(&r.response_parameters))?;
        r.default_response = false;
        self.gateway_responses
            .insert(response_type.to_owned(), r.clone());
        Ok(r)
    }

    /// `DeleteGatewayResponse`: back to the built-in default.
    pub fn delete_gateway_response(&mut self, response_type: &str) -> Result<(), ControlError> {
        GatewayResponse::default_for(response_type)
            .ok_or_else(|| invalid_response_type(response_type))?;
        self.gateway_responses
            .remove(response_type)
            .map(|_| ())
            .ok_or_else(|| ControlError::not_found("Gateway response type not defined on api"))
    }

    /// What `CreateDeployment` freezes, after AWS's checks: at least one method, and every method
    /// integrated.
    pub fn deployable_snapshot(&self) -> Result<DeploymentSnapshot, ControlError> {
        let mut any = false;
        for r in &self.resources {
            for m in r.resource_methods.values() {
                any = true;
                if m.method_integration.is_none() {
                    return Err(ControlError::bad_request(
                        "No integration defined for method",
                    ));
                }
            }
        }
        if !any {
            return Err(ControlError::bad_request(
                "The REST API doesn't contain any methods",
            ));
        }
        Ok(DeploymentSnapshot {
            api: self.api.clone(),
            resources: self.resources.clone(),
            gateway_responses: self.gateway_responses.clone(),
            models: self.models.clone(),
            request_validators: self.request_validators.clone(),
            authorizers: self.authorizers.clone(),
        })
    }
}

/// AWS sets an integration's `cacheNamespace` to its resource's id when none is given.
/// Imported integrations get what `PutIntegration` would have given them: the resource id as
/// cache namespace and the default connection type.
fn fill_cache_namespaces(resources: &mut [Resource]) {
    for r in resources.iter_mut() {
        for m in r.resource_methods.values_mut() {
            if let Some(i) = m.method_integration.as_mut() {
                if i.cache_namespace.is_none() {
                    i.cache_namespace = Some(r.id.clone());
                }
                default_connection_type(i);
            }
        }
    }
}

/// AWS reports `connectionType: INTERNET` for HTTP and HTTP_PROXY integrations that do not set
/// one; MOCK, AWS and AWS_PROXY integrations have none.
pub(crate) fn default_connection_type(i: &mut Integration) {
    if i.connection_type.is_none()
        && matches!(i.kind, IntegrationType::Http | IntegrationType::HttpProxy)
    {
        i.connection_type = Some("INTERNET".to_owned());
    }
}

/// An imported definition's authorizers take the ids of the API's authorizers of the same name
/// (so methods and deployments keep pointing at them); the definition's methods follow.
fn keep_authorizer_ids(
    authorizers: &mut [Authorizer],
    resources: &mut [Resource],
    existing: &[Authorizer],
) {
    let mut renamed: Vec<(String, String)> = Vec::new();
    for a in authorizers.iter_mut() {
        if let Some(old) = existing.iter().find(|e| e.name == a.name)
            && old.id != a.id
        {
            renamed.push((std::mem::replace(&mut a.id, old.id.clone()), old.id.clone()));
        }
    }
    if renamed.is_empty() {
        return;
    }
    for r in resources.iter_mut() {
        for m in r.resource_methods.values_mut() {
            if let Some(id) = &m.authorizer_id
                && let Some((_, to)) = renamed.iter().find(|(from, _)| from == id)
            {
                m.authorizer_id = Some(to.clone());
            }
        }
    }
}

/// Gives `resources` the ids that resources with the same path have in `existing`, and rewrites
/// parent ids to match.
pub fn keep_ids_by_path(resources: &mut [Resource], existing: &[Resource]) {
    let old: std::collections::HashMap<&str, &str> = existing
        .iter()
        .map(|r| (r.path.as_str(), r.id.as_str()))
        .collect();
    let mut renamed = std::collections::HashMap::new();
    for r in resources.iter_mut() {
        if let Some(id) = old.get(r.path.as_str()) {
            renamed.insert(
                std::mem::replace(&mut r.id, (*id).to_owned()),
                (*id).to_owned(),
            );
        }
    }
    for r in resources.iter_mut() {
        if let Some(p) = r.parent_id.as_mut()
            && let Some(n) = renamed.get(p)
        {
            *p = n.clone();
        }
    }
}

fn invalid_response_type(t: &str) -> ControlError {
    let all: Vec<&str> = GATEWAY_RESPONSE_TYPES.iter().map(|(t, _)| *t).collect();
    let constraint = format!("Member must satisfy enum value set: [{}]", all.join(", "));
    validation_error(vec![violation(t, "responseType", &constraint)])
}

/// A `ValidationException` for a non-empty list of violations.
pub(crate) fn validation_error(violations: Vec<String>) -> ControlError {
    ControlError::validation(&violations)
        .unwrap_or_else(|| ControlError::bad_request("Invalid request input"))
}

/// Keys must be `gatewayresponse.{header|querystring|path}.{name}`.
fn validate_gateway_response_parameters(p: Option<&Map<String>>) -> Result<(), ControlError> {
    for key in p.into_iter().flat_map(|m| m.keys()) {
        let ok = [
            "gatewayresponse.header.",
            "gatewayresponse.querystring.",
            "gatewayresponse.path.",
        ]
        .iter()
        .any(|pre| key.strip_prefix(pre).is_some_and(|n| !n.is_empty()));
        if !ok {
            return Err(ControlError::bad_request(format!(
                "Invalid parameter name specified: {key}"
            )));
        }
    }
    Ok(())
}

/// `GET`, …, `ANY` (case-sensitive, as AWS).
pub fn valid_http_method(m: &str) -> Result<&'static str, ControlError> {
    HTTP_METHODS.iter().copied().find(|v| *v == m).ok_or_else(|| {
        ControlError::bad_request(
            "Invalid HttpMethod specified. Valid options are GET,PUT,POST,DELETE,PATCH,OPTIONS,HEAD,ANY",
        )
    })
}

/// An `HTTP`/`HTTP_PROXY` integration's URI ([`portico_model::checks::is_http_endpoint`]).
pub(crate) fn valid_http_endpoint(uri: &str) -> Result<(), ControlError> {
    if portico_model::checks::is_http_endpoint(uri) {
        Ok(())
    } else {
        Err(ControlError::bad_request(
            "Invalid HTTP endpoint specified for URI",
        ))
    }
}

/// An integration response's `selectionPattern`
/// ([`portico_model::checks::selection_pattern_error`]).
fn valid_selection_pattern(pattern: &str) -> Result<(), ControlError> {
    match portico_model::checks::selection_pattern_error(pattern) {
        None => Ok(()),
        Some(why) => Err(ControlError::bad_request(format!(
            "Invalid selection pattern specified: {pattern} ({why})"
        ))),
    }
}

fn valid_status_code(code: &str) -> Result<(), ControlError> {
    match status_code_violation(code) {
        Some(v) => Err(validation_error(vec![v])),
        None => Ok(()),
    }
}

/// The violation of a `statusCode` path parameter outside `[1-5]\d\d`, for operations that
/// report it together with other input violations (`UpdateMethodResponse`).
pub fn status_code_violation(code: &str) -> Option<String> {
    let b = code.as_bytes();
    let ok = b.len() == 3
        && (b'1'..=b'5').contains(&b[0])
        && b[1].is_ascii_digit()
        && b[2].is_ascii_digit();
    (!ok).then(|| {
        violation(
            code,
            "statusCode",
            "Member must satisfy regular expression pattern: [1-5]\\d\\d",
        )
    })
}

/// `minimumCompressionSize` bounds (bytes).
pub const COMPRESSION_RANGE: std::ops::RangeInclusive<i64> = 0..=10_485_760;

/// AWS's message for a compression size that is out of range or not a number.
pub fn invalid_compression_size() -> ControlError {
    ControlError::bad_request("Invalid minimum compression size, must be between 0 and 10485760")
}

/// `CreateRestApi`'s checks on the fields a caller sets, in AWS's order: model constraints
/// (`ValidationException`, all of them), then the description, the compression size and the
/// endpoint configuration. Fills `ipAddressType`'s default (`dualstack` for PRIVATE, else `ipv4`).
pub fn validate_new_rest_api(api: &mut RestApi) -> Result<(), ControlError> {
    let ec = &mut api.endpoint_configuration;
    let mut violations = Vec::new();
    if ec
        .types
        .iter()
        .any(|t| !matches!(t.as_str(), "EDGE" | "REGIONAL" | "PRIVATE"))
    {
        violations.push(violation(
            &format!("[{}]", ec.types.join(", ")),
            "createRestApiInput.endpointConfiguration.types",
            "Member must satisfy constraint: [Member must satisfy enum value set: [PRIVATE, EDGE, REGIONAL]]",
        ));
    }
    if let Some(ip) = ec.ip_address_type.as_deref()
        && !matches!(ip, "ipv4" | "dualstack")
    {
        violations.push(violation(
            ip,
            "createRestApiInput.endpointConfiguration.ipAddressType",
            "Member must satisfy enum value set: [ipv4, dualstack]",
        ));
    }
    if let Some(e) = ControlError::validation(&violations) {
        return Err(e);
    }
    if api.description.as_deref() == Some("") {
        return Err(ControlError::bad_request(
            "Description cannot be an empty string",
        ));
    }
    if let Some(size) = api.minimum_compression_size
        && !COMPRESSION_RANGE.contains(&size)
    {
        return Err(invalid_compression_size());
    }
    match ec.types.len() {
        0 => {
            return Err(ControlError::bad_request(
                "REGIONAL Configuration and EDGE Configuration cannot be both DISABLED.",
            ));
        }
        1 => {}
        _ => {
            return Err(ControlError::bad_request(
                "Cannot create an api with multiple Endpoint Types.",
            ));
        }
    }
    let private = ec.types[0] == "PRIVATE";
    match ec.ip_address_type.as_deref() {
        Some("ipv4") if private => Err(ControlError::bad_request(
            "Only dualstack ipAddressType is supported for Private APIs.",
        )),
        Some(_) => Ok(()),
        None => {
            ec.ip_address_type = Some(if private { "dualstack" } else { "ipv4" }.to_owned());
            Ok(())
        }
    }
}

/// AWS's rule for a path part: `a-zA-Z0-9._-`, or a whole-part `{name}` / `{name+}`.
fn validate_path_part(part: &str) -> Result<(), ControlError> {
    let invalid = || {
        ControlError::bad_request(
            "Resource's path part only allow a-zA-Z0-9._- and curly braces at the beginning and the end and an optional plus sign before the closing brace.",
        )
    };
    let plain = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
    };
    if let Some(inner) = part.strip_prefix('{').and_then(|p| p.strip_suffix('}')) {
        let name = inner.strip_suffix('+').unwrap_or(inner);
        if plain(name) {
            return Ok(());
        }
        return Err(invalid());
    }
    if plain(part) { Ok(()) } else { Err(invalid()) }
}

#[cfg(test)]
mod tests;
