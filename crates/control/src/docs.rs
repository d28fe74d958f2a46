//! Documentation parts and versions of an API.

use crate::patch::PatchOperation;
use crate::{ApiState, ControlError};
use portico_model::{
    DocumentationPart, DocumentationPartLocation, DocumentationVersion, new_resource_id,
    now_epoch_seconds,
};
use serde::Deserialize;

/// Location types API Gateway accepts.
pub const LOCATION_TYPES: [&str; 12] = [
    "API",
    "AUTHORIZER",
    "MODEL",
    "RESOURCE",
    "METHOD",
    "PATH_PARAMETER",
    "QUERY_PARAMETER",
    "REQUEST_HEADER",
    "REQUEST_BODY",
    "RESPONSE",
    "RESPONSE_HEADER",
    "RESPONSE_BODY",
];

/// `CreateDocumentationPart` body.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateDocumentationPartInput {
    /// Where.
    pub location: Option<DocumentationPartLocation>,
    /// JSON object as a string.
    pub properties: Option<String>,
}

/// The location types in the order AWS's `ValidationException` lists them.
const LOCATION_TYPE_ENUM: &str = "RESPONSE_BODY, RESPONSE, METHOD, MODEL, AUTHORIZER, RESPONSE_HEADER, \
RESOURCE, PATH_PARAMETER, REQUEST_BODY, QUERY_PARAMETER, API, REQUEST_HEADER";

/// `CreateDocumentationPart`'s input validation (before the API is looked up): a location type
/// outside the enum is a `ValidationException`.
pub fn check_location_type(input: &CreateDocumentationPartInput) -> Result<(), ControlError> {
    match &input.location {
        Some(l) if !LOCATION_TYPES.contains(&l.kind.as_str()) => {
            let constraint = format!("Member must satisfy enum value set: [{LOCATION_TYPE_ENUM}]");
            Err(crate::validation_error(vec![crate::violation(
                &l.kind,
                "createDocumentationPartInput.location.type",
                &constraint,
            )]))
        }
        _ => Ok(()),
    }
}

fn invalid_part() -> ControlError {
    ControlError::not_found("Invalid Documentation part identifier specified")
}

fn invalid_version() -> ControlError {
    ControlError::not_found("Invalid Documentation version identifier specified")
}

fn check(location: &DocumentationPartLocation, properties: &str) -> Result<(), ControlError> {
    if !LOCATION_TYPES.contains(&location.kind.as_str()) {
        return Err(ControlError::bad_request(format!(
            "Invalid documentation part location type specified: {}. Valid options are {}",
            location.kind,
            LOCATION_TYPES.join(",")
        )));
    }
    let ok = serde_json::from_str::<serde_json::Value>(properties)
        .map(|v| v.is_object())
        .unwrap_or(false);
    if !ok {
        return Err(ControlError::bad_request(
            "Documentation part properties must be a valid JSON object",
        ));
    }
    Ok(())
}

impl ApiState {
    /// `CreateDocumentationPart`.
    pub fn create_documentation_part(
        &mut self,
        input: CreateDocumentationPartInput,
    ) -> Result<DocumentationPart, ControlError> {
        check_location_type(&input)?;
        let location = input.location.ok_or_else(|| {
            ControlError::bad_request("Documentation part location must be specified")
        })?;
        let properties = input.properties.unwrap_or_default();
        check(&location, &properties)?;
        if self
            .documentation_parts
            .iter()
            .any(|p| p.location == location)
        {
            return Err(ControlError::conflict(
                "Documentation part already exists for the given location",
            ));
        }
        let part = DocumentationPart {
            id: new_resource_id(),
            location,
            properties,
        };
        self.documentation_parts.push(part.clone());
        Ok(part)
    }

    /// `GetDocumentationPart`.
    pub fn documentation_part(&self, id: &str) -> Result<&DocumentationPart, ControlError> {
        self.documentation_parts
            .iter()
            .find(|p| p.id == id)
            .ok_or_else(invalid_part)
    }

    /// `UpdateDocumentationPart` (`/properties`).
    pub fn update_documentation_part(
        &mut self,
        id: &str,
        ops: &[PatchOperation],
    ) -> Result<DocumentationPart, ControlError> {
        let mut p = self.documentation_part(id)?.clone();
        for o in ops {
            match (o.op.as_str(), o.path.as_str()) {
                ("replace", "/properties") => {
                    let v = o.value.clone().unwrap_or_default();
                    check(&p.location, &v)?;
                    p.properties = v;
                }
                ("replace", _) => {
                    return Err(crate::patch::invalid_path(o, &["/properties"]));
                }
                ("add" | "remove", _) => return Err(crate::patch::unsupported_op(o)),
                _ => return Err(crate::patch::invalid_op()),
            }
        }
        if let Some(slot) = self.documentation_parts.iter_mut().find(|x| x.id == id) {
            *slot = p.clone();
        }
        Ok(p)
    }

    /// `DeleteDocumentationPart`.
    pub fn delete_documentation_part(&mut self, id: &str) -> Result<(), ControlError> {
        self.documentation_part(id)?;
        self.documentation_parts.retain(|p| p.id != id);
        Ok(())
    }

    /// `ImportDocumentationParts`: `x-amazon-apigateway-documentation.documentationParts` of an
    /// OpenAPI document; `overwrite` replaces every part, `merge` adds and replaces by location.
    pub fn import_documentation_parts(
        &mut self,
        doc: &serde_json::Value,
        overwrite: bool,
    ) -> Result<Vec<String>, ControlError> {
        let parts = doc
            .pointer("/x-amazon-apigateway-documentation/documentationParts")
            .and_then(|v| v.as_array())
            .ok_or_else(|| {
                ControlError::bad_request(
                    "Invalid documentation import: x-amazon-apigateway-documentation.documentationParts is missing",
                )
            })?;
        let mut staged = self.documentation_parts.clone();
        if overwrite {
            staged.clear();
        }
        let mut ids = Vec::new();
        for (i, p) in parts.iter().enumerate() {
            let location: DocumentationPartLocation =
                serde_json::from_value(p.get("location").cloned().unwrap_or_default()).map_err(
                    |e| ControlError::bad_request(format!("documentationParts[{i}].location: {e}")),
                )?;
            let properties = match p.get("properties") {
                Some(serde_json::Value::String(s)) => s.clone(),
                Some(v) => v.to_string(),
                None => "{}".to_owned(),
            };
            check(&location, &properties).map_err(|e| {
                ControlError::bad_request(format!("documentationParts[{i}]: {}", e.message))
            })?;
            staged.retain(|x| x.location != location);
            let id = new_resource_id();
            staged.push(DocumentationPart {
                id: id.clone(),
                location,
                properties,
            });
            ids.push(id);
        }
        self.documentation_parts = staged;
        Ok(ids)
    }

    /// `CreateDocumentationVersion`: snapshots the current parts.
    pub fn create_documentation_version(
        &mut self,
        version: &str,
        description: Option<String>,
    ) -> Result<DocumentationVersion, ControlError> {
        if version.is_empty() {
            return Err(ControlError::bad_request(
                "Documentation version must be specified",
            ));
        }
        if self
            .documentation_versions
            .iter()
            .any(|(v, _)| v.version == version)
        {
            return Err(ControlError::conflict(format!(
                "Documentation version {version} already exists"
            )));
        }
        let v = DocumentationVersion {
            version: version.to_owned(),
            created_date: now_epoch_seconds(),
            description,
        };
        self.documentation_versions
            .push((v.clone(), self.documentation_parts.clone()));
        Ok(v)
    }

    /// `GetDocumentationVersion`.
    pub fn documentation_version(
        &self,
        version: &str,
    ) -> Result<&DocumentationVersion, ControlError> {
        self.documentation_versions
            .iter()
            .map(|(v, _)| v)
            .find(|v| v.version == version)
            .ok_or_else(invalid_version)
    }

    /// `UpdateDocumentationVersion` (`/description`).
    pub fn update_documentation_version(
        &mut self,
        version: &str,
        ops: &[PatchOperation],
    ) -> Result<DocumentationVersion, ControlError> {
        self.documentation_version(version)?;
        let slot = self
            .documentation_versions
            .iter_mut()
            .find(|(v, _)| v.version == version)
            .ok_or_else(invalid_version)?;
        for o in ops {
            match (o.op.as_str(), o.path.as_str()) {
                ("replace", "/description") => slot.0.description = o.value.clone(),
                _ => {
                    return Err(crate::patch::invalid_path(o, &["/description"]));
                }
            }
        }
        Ok(slot.0.clone())
    }

    /// `DeleteDocumentationVersion`.
    pub fn delete_documentation_version(&mut self, version: &str) -> Result<(), ControlError> {
        self.documentation_version(version)?;
        self.documentation_versions
            .retain(|(v, _)| v.version != version);
        Ok(())
    }
}
