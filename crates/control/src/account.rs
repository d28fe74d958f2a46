//! Account-level objects that are few (usage plans, domain names, VPC links, client
//! certificates, account settings), loaded whole by the store's `modify_account`. API keys, usage
//! plan keys and usage counters can number millions: their rules live in [`crate::api_keys`] and
//! act on one row at a time.

use crate::patch::PatchOperation;
use crate::{ControlError, ErrorKind};
use portico_model::{
    ApiStage, BasePathMapping, ClientCertificate, DomainName, EndpointConfiguration, Map,
    QuotaSettings, ThrottleSettings, UsagePlan, VpcLink, new_resource_id, new_rest_api_id,
    now_epoch_seconds,
};
use serde::Deserialize;

/// Everything account-wide.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AccountState {
    /// Usage plans.
    pub usage_plans: Vec<UsagePlan>,
    /// `Account.cloudwatchRoleArn`.
    pub cloudwatch_role_arn: Option<String>,
    /// `Account.throttleSettings`; `None` is AWS's default ([`DEFAULT_ACCOUNT_THROTTLE`]).
    pub throttle: Option<ThrottleSettings>,
    /// (api id, stage) pairs that exist, for usage plan checks (not persisted here).
    pub known_stages: Vec<(String, String)>,
    /// Ids of REST APIs that exist (not persisted here).
    pub known_apis: Vec<String>,
    /// Custom domain names.
    pub domain_names: Vec<DomainName>,
    /// (domain name, mapping).
    pub base_path_mappings: Vec<(String, BasePathMapping)>,
    /// VPC links.
    pub vpc_links: Vec<VpcLink>,
    /// Domain name access associations (private custom domains), with a rejected flag.
    pub access_associations: Vec<(DomainNameAccessAssociation, bool)>,
    /// Client certificates with their private keys (PEM; never returned).
    pub client_certificates: Vec<(ClientCertificate, String)>,
    /// Certificates uploaded with `CreateDomainName`, by domain name (never returned).
    pub domain_certificates: Vec<(String, DomainCertificate)>,
}

/// A certificate uploaded with `CreateDomainName` (`certificateBody`, `certificateChain`,
/// `certificatePrivateKey`), PEM.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DomainCertificate {
    /// The server certificate.
    pub body: String,
    /// Intermediate certificates.
    #[serde(default)]
    pub chain: Option<String>,
    /// The private key.
    pub private_key: String,
}

/// A base path segment: letters, digits, `-`, `_`, `.`.
fn valid_base_path_segment(seg: &str) -> bool {
    !seg.is_empty()
        && seg
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
}

/// `GetUsage`'s answer.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Usage {
    /// The plan.
    pub usage_plan_id: String,
    /// First day (`YYYY-MM-DD`).
    pub start_date: String,
    /// Last day.
    pub end_date: String,
    /// Key id → one `[used, remaining]` pair per day.
    pub values: Map<Vec<[i64; 2]>>,
}

pub(crate) fn parse_day(s: &str) -> Result<time::Date, ControlError> {
    let fmt = time::macros::format_description!("[year]-[month]-[day]");
    time::Date::parse(s, &fmt).map_err(|_| {
        ControlError::bad_request(format!("Invalid date specified: {s} (expected YYYY-MM-DD)"))
    })
}

pub(crate) fn day_string(d: time::Date) -> String {
    let fmt = time::macros::format_description!("[year]-[month]-[day]");
    d.format(&fmt).unwrap_or_default()
}

/// A private custom domain's access association (`DomainNameAccessAssociation`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DomainNameAccessAssociation {
    /// The association's ARN.
    pub domain_name_access_association_arn: String,
    /// The private domain name's ARN.
    pub domain_name_arn: String,
    /// `VPCE`.
    pub access_association_source_type: String,
    /// The VPC endpoint id.
    pub access_association_source: String,
    /// Tags.
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub tags: Map<String>,
}

/// `CreateDomainNameAccessAssociation` body.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateAccessAssociationInput {
    /// Private domain name ARN.
    pub domain_name_arn: Option<String>,
    /// `VPCE`.
    pub access_association_source_type: Option<String>,
    /// VPC endpoint id.
    pub access_association_source: Option<String>,
    /// Tags.
    pub tags: Option<Map<String>>,
}

/// `CreateVpcLink` body.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateVpcLinkInput {
    /// Name.
    pub name: Option<String>,
    /// Free text.
    pub description: Option<String>,
    /// Load balancer ARNs (exactly one, as AWS requires for REST APIs).
    pub target_arns: Option<Vec<String>>,
    /// Tags.
    pub tags: Option<Map<String>>,
}

/// `CreateDomainName` body.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateDomainNameInput {
    /// Domain.
    pub domain_name: Option<String>,
    /// Edge certificate name.
    pub certificate_name: Option<String>,
    /// Edge certificate ARN.
    pub certificate_arn: Option<String>,
    /// Regional certificate name.
    pub regional_certificate_name: Option<String>,
    /// Regional certificate ARN.
    pub regional_certificate_arn: Option<String>,
    /// Endpoint type.
    pub endpoint_configuration: Option<EndpointConfiguration>,
    /// TLS policy.
    pub security_policy: Option<String>,
    /// Uploaded certificate (PEM).
    pub certificate_body: Option<String>,
    /// Its chain (PEM).
    pub certificate_chain: Option<String>,
    /// Its private key (PEM).
    pub certificate_private_key: Option<String>,
    /// Mutual TLS.
    pub mutual_tls_authentication: Option<MutualTlsInput>,
    /// Tags.
    pub tags: Option<Map<String>>,
}

/// `MutualTlsAuthenticationInput`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MutualTlsInput {
    /// `s3://bucket/key`.
    pub truststore_uri: Option<String>,
    /// Version.
    pub truststore_version: Option<String>,
}

/// `CreateBasePathMapping` body.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateBasePathMappingInput {
    /// Base path (empty = root).
    pub base_path: Option<String>,
    /// API.
    pub rest_api_id: Option<String>,
    /// Stage.
    pub stage: Option<String>,
}

fn invalid_domain() -> ControlError {
    ControlError::not_found("Invalid domain name identifier specified")
}

fn invalid_mapping() -> ControlError {
    ControlError::not_found("Invalid base path mapping identifier specified")
}

fn random_label(len: usize) -> String {
    let id = new_rest_api_id();
    let mut s = id.clone();
    while s.len() < len {
        s.push_str(&new_rest_api_id());
    }
    s.truncate(len);
    s
}

impl AccountState {
    /// `GenerateClientCertificate`: a fresh self-signed certificate valid for 365 days; the
    /// private key stays in the store.
    pub fn generate_client_certificate(
        &mut self,
        description: Option<String>,
        tags: Option<Map<String>>,
    ) -> Result<ClientCertificate, ControlError> {
        let id = new_resource_id();
        let failed = |e: rcgen::Error| {
            ControlError::bad_request(format!("cannot generate a certificate: {e}"))
        };
        let key = rcgen::KeyPair::generate().map_err(failed)?;
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).map_err(failed)?;
        params.distinguished_name.push(
            rcgen::DnType::CommonName,
            format!("portico-client-certificate-{id}"),
        );
        let now = time::OffsetDateTime::now_utc();
        params.not_before = now;
        params.not_after = now + time::Duration::days(365);
        let cert = params.self_signed(&key).map_err(failed)?;
        let created = now.unix_timestamp();
        let c = ClientCertificate {
            client_certificate_id: id,
            description,
            pem_encoded_certificate: cert.pem(),
            created_date: created,
            expiration_date: created + 365 * 86_400,
            tags: tags.unwrap_or_default(),
        };
        self.client_certificates
            .push((c.clone(), key.serialize_pem()));
        Ok(c)
    }

    /// `GetClientCertificate`.
    pub fn client_certificate(&self, id: &str) -> Result<&ClientCertificate, ControlError> {
        self.client_certificates
            .iter()
            .map(|(c, _)| c)
            .find(|c| c.client_certificate_id == id)
            .ok_or_else(|| {
                ControlError::not_found("Invalid Client Certificate identifier specified")
            })
    }

    /// `UpdateClientCertificate` (`/description`).
    pub fn update_client_certificate(
        &mut self,
        id: &str,
        ops: &[PatchOperation],
    ) -> Result<ClientCertificate, ControlError> {
        self.client_certificate(id)?;
        let slot = self
            .client_certificates
            .iter_mut()
            .find(|(c, _)| c.client_certificate_id == id)
            .ok_or_else(|| {
                ControlError::not_found("Invalid Client Certificate identifier specified")
            })?;
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

    /// `DeleteClientCertificate`.
    pub fn delete_client_certificate(&mut self, id: &str) -> Result<(), ControlError> {
        self.client_certificate(id)?;
        self.client_certificates
            .retain(|(c, _)| c.client_certificate_id != id);
        Ok(())
    }

    /// `CreateDomainNameAccessAssociation`.
    pub fn create_access_association(
        &mut self,
        input: CreateAccessAssociationInput,
    ) -> Result<DomainNameAccessAssociation, ControlError> {
        let domain_arn = input.domain_name_arn.unwrap_or_default();
        let Some(domain) = domain_arn
            .strip_prefix("arn:aws:apigateway:")
            .and_then(|r| r.split_once(":/domainnames/"))
            .map(|(_, d)| d.to_owned())
            .filter(|d| !d.is_empty())
        else {
            return Err(ControlError::bad_request(format!(
                "Invalid domain name ARN specified: {domain_arn}"
            )));
        };
        if input.access_association_source_type.as_deref() != Some("VPCE") {
            return Err(ControlError::bad_request(
                "Invalid access association source type specified. Valid options are VPCE",
            ));
        }
        let source = input.access_association_source.unwrap_or_default();
        if !source.starts_with("vpce-") {
            return Err(ControlError::bad_request(format!(
                "Invalid access association source specified: {source}"
            )));
        }
        if self
            .access_associations
            .iter()
            .any(|(a, _)| a.domain_name_arn == domain_arn && a.access_association_source == source)
        {
            return Err(ControlError::conflict(
                "Domain name access association already exists",
            ));
        }
        let a = DomainNameAccessAssociation {
            domain_name_access_association_arn: format!(
                "arn:aws:apigateway:us-east-1:{}:/domainnameaccessassociations/domainname/{domain}/vpcesource/{source}",
                crate::ACCOUNT_ID
            ),
            domain_name_arn: domain_arn,
            access_association_source_type: "VPCE".into(),
            access_association_source: source,
            tags: input.tags.unwrap_or_default(),
        };
        self.access_associations.push((a.clone(), false));
        Ok(a)
    }

    /// `DeleteDomainNameAccessAssociation`.
    pub fn delete_access_association(&mut self, arn: &str) -> Result<(), ControlError> {
        let before = self.access_associations.len();
        self.access_associations
            .retain(|(a, _)| a.domain_name_access_association_arn != arn);
        if self.access_associations.len() == before {
            return Err(ControlError::not_found(
                "Invalid domain name access association identifier specified",
            ));
        }
        Ok(())
    }

    /// `RejectDomainNameAccessAssociation` (by the domain name's owner).
    pub fn reject_access_association(
        &mut self,
        arn: &str,
        domain_arn: &str,
    ) -> Result<(), ControlError> {
        let found = self
            .access_associations
            .iter_mut()
            .find(|(a, _)| {
                a.domain_name_access_association_arn == arn && a.domain_name_arn == domain_arn
            })
            .ok_or_else(|| {
                ControlError::not_found(
                    "Invalid domain name access association identifier specified",
                )
            })?;
        found.1 = true;
        Ok(())
    }

    /// `CreateVpcLink` (answered 202; the link is `AVAILABLE` at once, there is no VPC to wait for).
    pub fn create_vpc_link(&mut self, input: CreateVpcLinkInput) -> Result<VpcLink, ControlError> {
        let name = input.name.filter(|n| !n.is_empty()).ok_or_else(|| {
            ControlError::bad_request("Invalid VPC link name specified: must be non-empty")
        })?;
        let targets = input.target_arns.unwrap_or_default();
        if targets.len() != 1 || !targets[0].starts_with("arn:") {
            return Err(ControlError::bad_request(
                "Invalid targetArns specified: exactly one Network Load Balancer ARN is required",
            ));
        }
        let link = VpcLink {
            id: new_resource_id(),
            name,
            description: input.description,
            target_arns: targets,
            status: "AVAILABLE".into(),
            status_message: Some("Your vpc link is ready for use".into()),
            tags: input.tags.unwrap_or_default(),
        };
        self.vpc_links.push(link.clone());
        Ok(link)
    }

    /// `GetVpcLink`.
    pub fn vpc_link(&self, id: &str) -> Result<&VpcLink, ControlError> {
        self.vpc_links
            .iter()
            .find(|l| l.id == id)
            .ok_or_else(|| ControlError::not_found("Invalid Vpc Link identifier specified"))
    }

    /// `UpdateVpcLink` (`/name`, `/description`).
    pub fn update_vpc_link(
        &mut self,
        id: &str,
        ops: &[PatchOperation],
    ) -> Result<VpcLink, ControlError> {
        let mut l = self.vpc_link(id)?.clone();
        for o in ops {
            match (o.op.as_str(), o.path.as_str()) {
                ("replace", "/name") => l.name = o.value.clone().unwrap_or_default(),
                ("replace", "/description") => l.description = o.value.clone(),
                _ => {
                    return Err(crate::patch::invalid_path(o, &["/name", "/description"]));
                }
            }
        }
        if let Some(slot) = self.vpc_links.iter_mut().find(|x| x.id == id) {
            *slot = l.clone();
        }
        Ok(l)
    }

    /// `DeleteVpcLink`.
    pub fn delete_vpc_link(&mut self, id: &str) -> Result<(), ControlError> {
        self.vpc_link(id)?;
        self.vpc_links.retain(|l| l.id != id);
        Ok(())
    }

    /// `CreateDomainName`.
    pub fn create_domain_name(
        &mut self,
        input: CreateDomainNameInput,
    ) -> Result<DomainName, ControlError> {
        let name = input.domain_name.unwrap_or_default().to_ascii_lowercase();
        let valid = !name.is_empty()
            && name.len() <= 253
            && name.split('.').count() >= 2
            && name.split('.').all(|l| {
                !l.is_empty()
                    && l.len() <= 63
                    && l.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'*')
            });
        if !valid {
            return Err(ControlError::bad_request(format!(
                "Invalid domain name specified: {name}"
            )));
        }
        if self.domain_names.iter().any(|d| d.domain_name == name) {
            return Err(ControlError::conflict(
                "The domain name you provided already exists.",
            ));
        }
        let endpoint = input.endpoint_configuration.unwrap_or_default();
        let regional = endpoint.types.iter().any(|t| t == "REGIONAL");
        let policy = input.security_policy.unwrap_or_else(|| "TLS_1_2".into());
        if !matches!(policy.as_str(), "TLS_1_0" | "TLS_1_2") {
            return Err(ControlError::bad_request(format!(
                "Invalid security policy specified: {policy}"
            )));
        }
        let uploaded = match (
            input.certificate_body,
            input.certificate_private_key,
            input.certificate_chain,
        ) {
            (None, None, None) => None,
            (Some(body), Some(private_key), chain) => Some(DomainCertificate {
                body,
                chain,
                private_key,
            }),
            _ => {
                return Err(ControlError::bad_request(
                    "certificateBody and certificatePrivateKey must be specified together",
                ));
            }
        };
        let mutual_tls = match input.mutual_tls_authentication {
            None => None,
            Some(m) => {
                let uri = m.truststore_uri.unwrap_or_default();
                if !(uri.starts_with("s3://") || uri.starts_with("file:///")) {
                    return Err(ControlError::bad_request(format!(
                        "Invalid truststore URI specified: {uri}"
                    )));
                }
                Some(portico_model::MutualTlsAuthentication {
                    truststore_uri: Some(uri),
                    truststore_version: m.truststore_version,
                    truststore_warnings: Vec::new(),
                })
            }
        };
        if let Some(c) = uploaded {
            self.domain_certificates.push((name.clone(), c));
        }
        let d = DomainName {
            mutual_tls_authentication: mutual_tls,
            domain_name: name,
            certificate_name: input.certificate_name,
            certificate_arn: input.certificate_arn,
            certificate_upload_date: (!regional).then(now_epoch_seconds),
            regional_domain_name: regional
                .then(|| format!("d-{}.execute-api.us-east-1.amazonaws.com", random_label(10))),
            regional_hosted_zone_id: regional.then(|| "Z1UJRXOUMOOFQ8".to_owned()),
            regional_certificate_name: input.regional_certificate_name,
            regional_certificate_arn: input.regional_certificate_arn,
            distribution_domain_name: (!regional)
                .then(|| format!("d{}.cloudfront.net", random_label(13))),
            distribution_hosted_zone_id: (!regional).then(|| "Z2FDTNDATAQYW2".to_owned()),
            endpoint_configuration: endpoint,
            domain_name_status: "AVAILABLE".into(),
            security_policy: Some(policy),
            tags: input.tags.unwrap_or_default(),
        };
        self.domain_names.push(d.clone());
        Ok(d)
    }

    /// `GetDomainName`.
    pub fn domain_name(&self, name: &str) -> Result<&DomainName, ControlError> {
        self.domain_names
            .iter()
            .find(|d| d.domain_name.eq_ignore_ascii_case(name))
            .ok_or_else(invalid_domain)
    }

    /// `UpdateDomainName` (`/certificateName`, `/certificateArn`, `/regionalCertificateName`,
    /// `/regionalCertificateArn`, `/securityPolicy`).
    pub fn update_domain_name(
        &mut self,
        name: &str,
        ops: &[PatchOperation],
    ) -> Result<DomainName, ControlError> {
        let mut d = self.domain_name(name)?.clone();
        for o in ops {
            let v = o.value.clone();
            match (o.op.as_str(), o.path.as_str()) {
                ("replace", "/certificateName") => d.certificate_name = v,
                ("replace", "/certificateArn") => d.certificate_arn = v,
                ("replace", "/regionalCertificateName") => d.regional_certificate_name = v,
                ("replace", "/regionalCertificateArn") => d.regional_certificate_arn = v,
                ("replace", "/securityPolicy") => {
                    if !matches!(v.as_deref(), Some("TLS_1_0" | "TLS_1_2")) {
                        return Err(ControlError::bad_request(
                            "Invalid security policy specified",
                        ));
                    }
                    d.security_policy = v;
                }
                ("replace", "/mutualTlsAuthentication/truststoreUri") => {
                    let uri = v.unwrap_or_default();
                    if !(uri.starts_with("s3://") || uri.starts_with("file:///")) {
                        return Err(ControlError::bad_request(format!(
                            "Invalid truststore URI specified: {uri}"
                        )));
                    }
                    d.mutual_tls_authentication
                        .get_or_insert_with(Default::default)
                        .truststore_uri = Some(uri);
                }
                ("replace", "/mutualTlsAuthentication/truststoreVersion") => {
                    d.mutual_tls_authentication
                        .get_or_insert_with(Default::default)
                        .truststore_version = v;
                }
                _ => {
                    return Err(crate::patch::invalid_path(
                        o,
                        &[
                            "/certificateName",
                            "/certificateArn",
                            "/regionalCertificateName",
                            "/regionalCertificateArn",
                            "/securityPolicy",
                            "/mutualTlsAuthentication/truststoreUri",
                            "/mutualTlsAuthentication/truststoreVersion",
                        ],
                    ));
                }
            }
        }
        if let Some(slot) = self
            .domain_names
            .iter_mut()
            .find(|x| x.domain_name == d.domain_name)
        {
            *slot = d.clone();
        }
        Ok(d)
    }

    /// `DeleteDomainName` (and its mappings).
    pub fn delete_domain_name(&mut self, name: &str) -> Result<(), ControlError> {
        let d = self.domain_name(name)?.domain_name.clone();
        self.domain_names.retain(|x| x.domain_name != d);
        self.base_path_mappings.retain(|(dn, _)| *dn != d);
        self.domain_certificates.retain(|(dn, _)| *dn != d);
        Ok(())
    }

    fn check_target(&self, api: &str, stage: Option<&str>) -> Result<(), ControlError> {
        if !self.known_apis.iter().any(|a| a == api) {
            return Err(ControlError::bad_request(
                "Invalid REST API identifier specified",
            ));
        }
        if let Some(st) = stage
            && !self.known_stages.iter().any(|(a, s)| a == api && s == st)
        {
            return Err(ControlError::bad_request(
                "Invalid stage identifier specified",
            ));
        }
        Ok(())
    }

    /// `CreateBasePathMapping`.
    pub fn create_base_path_mapping(
        &mut self,
        domain: &str,
        input: CreateBasePathMappingInput,
    ) -> Result<BasePathMapping, ControlError> {
        let d = self.domain_name(domain)?.domain_name.clone();
        let base = match input.base_path.as_deref().unwrap_or("") {
            "" | "(none)" => "(none)".to_owned(),
            b => {
                // A REST API's base path is one segment (multi-level ones are apigatewayv2
                // ApiMappings).
                let ok = !b.contains('/')
                    && b.split('/').all(|seg| {
                        !seg.is_empty()
                            && seg.bytes().all(|c| {
                                c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.')
                            })
                    });
                if !ok {
                    return Err(ControlError::bad_request(format!(
                        "Invalid base path specified: {b}"
                    )));
                }
                b.to_owned()
            }
        };
        let api = input.rest_api_id.unwrap_or_default();
        self.check_target(&api, input.stage.as_deref())?;
        if self
            .base_path_mappings
            .iter()
            .any(|(dn, m)| *dn == d && m.base_path == base)
        {
            return Err(ControlError::conflict(
                "Base path already exists for this domain name",
            ));
        }
        // The root mapping serves every path of the domain: it cannot share the domain.
        let others = self.base_path_mappings.iter().any(|(dn, _)| *dn == d);
        let root_exists = self
            .base_path_mappings
            .iter()
            .any(|(dn, m)| *dn == d && m.base_path == "(none)");
        if root_exists || (base == "(none)" && others) {
            return Err(ControlError::conflict(
                "Only one base path mapping is allowed if the base path is empty.",
            ));
        }
        let m = BasePathMapping {
            base_path: base,
            rest_api_id: api,
            stage: input.stage,
        };
        self.base_path_mappings.push((d, m.clone()));
        Ok(m)
    }

    /// `GetBasePathMappings`.
    pub fn base_path_mappings(&self, domain: &str) -> Result<Vec<BasePathMapping>, ControlError> {
        let d = self.domain_name(domain)?.domain_name.clone();
        Ok(self
            .base_path_mappings
            .iter()
            .filter(|(dn, _)| *dn == d)
            .map(|(_, m)| m.clone())
            .collect())
    }

    /// `GetBasePathMapping` (`(none)` or empty for the root mapping).
    pub fn base_path_mapping(
        &self,
        domain: &str,
        base: &str,
    ) -> Result<BasePathMapping, ControlError> {
        let base = if base.is_empty() { "(none)" } else { base };
        self.base_path_mappings(domain)?
            .into_iter()
            .find(|m| m.base_path == base)
            .ok_or_else(invalid_mapping)
    }

    /// `UpdateBasePathMapping` (`/basePath`, `/restapiId`, `/stage`).
    pub fn update_base_path_mapping(
        &mut self,
        domain: &str,
        base: &str,
        ops: &[PatchOperation],
    ) -> Result<BasePathMapping, ControlError> {
        let mut m = self.base_path_mapping(domain, base)?;
        let old = m.base_path.clone();
        for o in ops {
            let v = o.value.clone();
            match (o.op.as_str(), o.path.as_str()) {
                ("replace", "/basePath") => {
                    m.base_path = v
                        .filter(|b| !b.is_empty())
                        .unwrap_or_else(|| "(none)".into())
                }
                ("replace", "/restapiId") => m.rest_api_id = v.unwrap_or_default(),
                ("replace", "/stage") => m.stage = v,
                _ => {
                    return Err(crate::patch::invalid_path(
                        o,
                        &["/basePath", "/restapiId", "/stage"],
                    ));
                }
            }
        }
        self.check_target(&m.rest_api_id, m.stage.as_deref())?;
        let d = self.domain_name(domain)?.domain_name.clone();
        if m.base_path != old
            && self
                .base_path_mappings
                .iter()
                .any(|(dn, x)| *dn == d && x.base_path == m.base_path)
        {
            return Err(ControlError::conflict(
                "Base path already exists for this domain name",
            ));
        }
        if m.base_path != old {
            if m.base_path != "(none)"
                && (m.base_path.contains('/') || !valid_base_path_segment(&m.base_path))
            {
                return Err(ControlError::bad_request(format!(
                    "Invalid base path specified: {}",
                    m.base_path
                )));
            }
            // The root mapping takes its domain alone.
            let others = self
                .base_path_mappings
                .iter()
                .filter(|(dn, x)| *dn == d && x.base_path != old)
                .count();
            if m.base_path == "(none)" && others > 0 {
                return Err(ControlError::conflict(
                    "Only one base path mapping is allowed if the base path is empty.",
                ));
            }
        }
        if let Some((_, slot)) = self
            .base_path_mappings
            .iter_mut()
            .find(|(dn, x)| *dn == d && x.base_path == old)
        {
            *slot = m.clone();
        }
        Ok(m)
    }

    /// An apigatewayv2 ApiMapping's id: derived from its domain and key (a mapping is one
    /// base path mapping in the store, shared with v1's view of the domain).
    pub fn api_mapping_id(domain: &str, base_path: &str) -> String {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in domain.bytes().chain([0]).chain(base_path.bytes()) {
            h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
        const A: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
        (0..6)
            .map(|i| char::from(A[((h >> (i * 8)) % 36) as usize]))
            .collect()
    }

    /// `CreateApiMapping` (apigatewayv2): `apiMappingKey` may have several segments (`a/b`);
    /// the stage is required.
    pub fn create_api_mapping(
        &mut self,
        domain: &str,
        api_id: &str,
        key: Option<&str>,
        stage: &str,
    ) -> Result<BasePathMapping, ControlError> {
        let d = self.domain_name(domain)?.domain_name.clone();
        let base = match key.unwrap_or("").trim_matches('/') {
            "" | "(none)" => "(none)".to_owned(),
            k => {
                if !k.split('/').all(valid_base_path_segment) {
                    return Err(ControlError::bad_request(format!(
                        "Invalid API mapping key specified: {k}"
                    )));
                }
                k.to_owned()
            }
        };
        if !self.known_apis.iter().any(|a| a == api_id) {
            return Err(ControlError::not_found(format!(
                "Invalid API identifier specified {}:{api_id}",
                crate::ACCOUNT_ID
            )));
        }
        if !self
            .known_stages
            .iter()
            .any(|(a, s)| a == api_id && s == stage)
        {
            return Err(ControlError::not_found(format!(
                "Invalid stage identifier specified {stage}"
            )));
        }
        if self
            .base_path_mappings
            .iter()
            .any(|(dn, m)| *dn == d && m.base_path == base)
        {
            return Err(ControlError::conflict(
                "ApiMapping key already exists for this domain name",
            ));
        }
        let m = BasePathMapping {
            base_path: base,
            rest_api_id: api_id.to_owned(),
            stage: Some(stage.to_owned()),
        };
        self.base_path_mappings.push((d, m.clone()));
        Ok(m)
    }

    /// The mapping an ApiMapping id names.
    pub fn api_mapping(&self, domain: &str, id: &str) -> Result<BasePathMapping, ControlError> {
        let d = self.domain_name(domain)?.domain_name.clone();
        self.base_path_mappings
            .iter()
            .find(|(dn, m)| *dn == d && Self::api_mapping_id(dn, &m.base_path) == id)
            .map(|(_, m)| m.clone())
            .ok_or_else(|| {
                ControlError::not_found(format!("Invalid ApiMapping identifier specified {id}"))
            })
    }

    /// `DeleteApiMapping`.
    pub fn delete_api_mapping(&mut self, domain: &str, id: &str) -> Result<(), ControlError> {
        let m = self.api_mapping(domain, id)?;
        let d = self.domain_name(domain)?.domain_name.clone();
        self.base_path_mappings
            .retain(|(dn, x)| !(*dn == d && x.base_path == m.base_path));
        Ok(())
    }

    /// `DeleteBasePathMapping`.
    pub fn delete_base_path_mapping(
        &mut self,
        domain: &str,
        base: &str,
    ) -> Result<(), ControlError> {
        let m = self.base_path_mapping(domain, base)?;
        let d = self.domain_name(domain)?.domain_name.clone();
        self.base_path_mappings
            .retain(|(dn, x)| !(*dn == d && x.base_path == m.base_path));
        Ok(())
    }
}

/// `CreateUsagePlan` body.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateUsagePlanInput {
    /// Name.
    pub name: Option<String>,
    /// Free text.
    pub description: Option<String>,
    /// Stages.
    pub api_stages: Option<Vec<ApiStage>>,
    /// Throttle.
    pub throttle: Option<ThrottleSettings>,
    /// Quota.
    pub quota: Option<QuotaSettings>,
    /// Tags.
    pub tags: Option<Map<String>>,
}

/// AWS names no id in this message.
pub fn invalid_plan() -> ControlError {
    ControlError::not_found("Invalid Usage Plan ID specified")
}

fn check_quota(q: &QuotaSettings) -> Result<(), ControlError> {
    if !matches!(q.period.as_str(), "DAY" | "WEEK" | "MONTH") {
        return Err(ControlError::bad_request(format!(
            "Invalid quota period specified: {}. Valid options are DAY,WEEK,MONTH",
            q.period
        )));
    }
    if q.limit < 0 {
        return Err(ControlError::bad_request(
            "Quota limit and offset must be non-negative",
        ));
    }
    // The offset moves the period's start by days within it: none for a day, up to 6 days for a
    // week, up to 27 for a month (the shortest month).
    let max_offset = match q.period.as_str() {
        "DAY" => 0,
        "WEEK" => 6,
        _ => 27,
    };
    if !(0..=max_offset).contains(&q.offset) {
        return Err(ControlError::bad_request(format!(
            "Invalid quota offset specified: {}. It must be between 0 and {max_offset} for period {}",
            q.offset, q.period
        )));
    }
    Ok(())
}

fn check_throttle(t: &ThrottleSettings) -> Result<(), ControlError> {
    if t.burst_limit.is_some_and(|b| b < 0) || t.rate_limit.is_some_and(|r| r < 0.0) {
        return Err(ControlError::bad_request(
            "Throttle limits must be non-negative",
        ));
    }
    Ok(())
}

impl AccountState {
    fn check_stages(&self, stages: &[ApiStage], plan_id: &str) -> Result<(), ControlError> {
        for s in stages {
            if !self
                .known_stages
                .iter()
                .any(|(a, st)| *a == s.api_id && *st == s.stage)
            {
                return Err(ControlError::bad_request(format!(
                    "Invalid API Stage {{api: {}, stage: {}}} specified for usageplan {plan_id}",
                    s.api_id, s.stage
                )));
            }
        }
        Ok(())
    }

    /// `CreateUsagePlan`.
    pub fn create_usage_plan(
        &mut self,
        input: CreateUsagePlanInput,
    ) -> Result<UsagePlan, ControlError> {
        let name = input.name.filter(|n| !n.is_empty()).ok_or_else(|| {
            ControlError::bad_request("Invalid usage plan name specified: must be non-empty")
        })?;
        let id = new_resource_id();
        let api_stages = input.api_stages.unwrap_or_default();
        self.check_stages(&api_stages, &id)?;
        if let Some(q) = &input.quota {
            check_quota(q)?;
        }
        if let Some(t) = &input.throttle {
            check_throttle(t)?;
        }
        let plan = UsagePlan {
            id,
            name,
            description: input.description,
            api_stages,
            throttle: input.throttle,
            quota: input.quota,
            product_code: None,
            tags: input.tags.unwrap_or_default(),
        };
        self.usage_plans.push(plan.clone());
        Ok(plan)
    }

    /// `GetUsagePlan`.
    pub fn usage_plan(&self, id: &str) -> Result<&UsagePlan, ControlError> {
        self.usage_plans
            .iter()
            .find(|p| p.id == id)
            .ok_or_else(invalid_plan)
    }

    /// `UpdateUsagePlan`.
    pub fn update_usage_plan(
        &mut self,
        id: &str,
        ops: &[PatchOperation],
    ) -> Result<UsagePlan, ControlError> {
        let mut p = self.usage_plan(id)?.clone();
        for o in ops {
            let v = o.value.clone();
            let num = |v: &Option<String>| -> Result<f64, ControlError> {
                v.as_deref().unwrap_or("").parse::<f64>().map_err(|_| {
                    ControlError::bad_request(format!("Invalid number for {}", o.path))
                })
            };
            match (o.op.as_str(), o.path.as_str()) {
                ("replace", "/name") => p.name = v.unwrap_or_default(),
                ("replace", "/description") => p.description = v,
                ("replace", "/productCode") => p.product_code = v,
                ("replace", "/throttle/burstLimit") => {
                    p.throttle
                        .get_or_insert(ThrottleSettings {
                            burst_limit: None,
                            rate_limit: None,
                        })
                        .burst_limit = Some(num(&v)? as i64)
                }
                ("replace", "/throttle/rateLimit") => {
                    p.throttle
                        .get_or_insert(ThrottleSettings {
                            burst_limit: None,
                            rate_limit: None,
                        })
                        .rate_limit = Some(num(&v)?)
                }
                ("remove", "/throttle") => p.throttle = None,
                ("replace", "/quota/limit") => {
                    p.quota
                        .get_or_insert(QuotaSettings {
                            limit: 0,
                            offset: 0,
                            period: "DAY".into(),
                        })
                        .limit = num(&v)? as i64
                }
                ("replace", "/quota/offset") => {
                    p.quota
                        .get_or_insert(QuotaSettings {
                            limit: 0,
                            offset: 0,
                            period: "DAY".into(),
                        })
                        .offset = num(&v)? as i64
                }
                ("replace", "/quota/period") => {
                    p.quota
                        .get_or_insert(QuotaSettings {
                            limit: 0,
                            offset: 0,
                            period: "DAY".into(),
                        })
                        .period = v.unwrap_or_default()
                }
                ("remove", "/quota") => p.quota = None,
                ("add", "/apiStages") | ("remove", "/apiStages") => {
                    let raw = v.unwrap_or_default();
                    let (api, stage) = raw
                        .split_once(':')
                        .ok_or_else(|| ControlError::bad_request("Invalid API Stage specified"))?;
                    if o.op == "add" {
                        let s = ApiStage {
                            api_id: api.into(),
                            stage: stage.into(),
                            throttle: Map::new(),
                        };
                        self.check_stages(std::slice::from_ref(&s), id)?;
                        if !p
                            .api_stages
                            .iter()
                            .any(|x| x.api_id == api && x.stage == stage)
                        {
                            p.api_stages.push(s);
                        }
                    } else {
                        let before = p.api_stages.len();
                        p.api_stages
                            .retain(|x| !(x.api_id == api && x.stage == stage));
                        if p.api_stages.len() == before {
                            return Err(ControlError::not_found(format!(
                                "Invalid API Stage {{api: {api}, stage: {stage}}} specified for usageplan {id}"
                            )));
                        }
                    }
                }
                ("add" | "remove" | "replace", _) => {
                    return Err(crate::patch::invalid_path(
                        o,
                        &[
                            "/name",
                            "/description",
                            "/productCode",
                            "/throttle/burstLimit",
                            "/throttle/rateLimit",
                            "/quota/limit",
                            "/quota/offset",
                            "/quota/period",
                            "/apiStages",
                        ],
                    ));
                }
                _ => {
                    return Err(crate::patch::invalid_op());
                }
            }
        }
        if let Some(q) = &p.quota {
            check_quota(q)?;
        }
        if let Some(t) = &p.throttle {
            check_throttle(t)?;
        }
        if let Some(slot) = self.usage_plans.iter_mut().find(|x| x.id == id) {
            *slot = p.clone();
        }
        Ok(p)
    }

    /// `DeleteUsagePlan`.
    pub fn delete_usage_plan(&mut self, id: &str) -> Result<(), ControlError> {
        self.usage_plan(id)?;
        // The store drops the plan's keys, counters and grants with its row.
        self.usage_plans.retain(|p| p.id != id);
        Ok(())
    }
}

/// The account throttle AWS reports by default (`GetAccount`'s `throttleSettings`).
pub const DEFAULT_ACCOUNT_THROTTLE: ThrottleSettings = ThrottleSettings {
    burst_limit: Some(5000),
    rate_limit: Some(10000.0),
};

impl AccountState {
    /// The account throttle in force.
    pub fn account_throttle(&self) -> ThrottleSettings {
        self.throttle.clone().unwrap_or(DEFAULT_ACCOUNT_THROTTLE)
    }

    /// `UpdateAccount`: `replace /cloudwatchRoleArn` as AWS; and, a Portico extension, `replace
    /// /throttleSettings/rateLimit` and `/throttleSettings/burstLimit`, the account-wide throttle
    /// the data plane enforces (AWS sets it by support request only). Other paths get AWS's error,
    /// which names only the path AWS accepts.
    pub fn update_account(&mut self, ops: &[PatchOperation]) -> Result<(), ControlError> {
        let mut throttle = self.account_throttle();
        let mut role = self.cloudwatch_role_arn.clone();
        for o in ops {
            let v = o.value.as_deref().unwrap_or("");
            match (o.op.as_str(), o.path.as_str()) {
                ("replace", "/cloudwatchRoleArn") => role = o.value.clone(),
                ("replace", "/throttleSettings/rateLimit") => {
                    let r = v
                        .parse::<f64>()
                        .ok()
                        .filter(|r| r.is_finite() && *r >= 0.0)
                        .ok_or_else(|| {
                            ControlError::bad_request(format!("Invalid rate limit specified: {v}"))
                        })?;
                    throttle.rate_limit = Some(r);
                }
                ("replace", "/throttleSettings/burstLimit") => {
                    let b = v.parse::<i64>().ok().filter(|b| *b >= 0).ok_or_else(|| {
                        ControlError::bad_request(format!("Invalid burst limit specified: {v}"))
                    })?;
                    throttle.burst_limit = Some(b);
                }
                _ => return Err(crate::patch::invalid_path(o, &["/cloudwatchRoleArn"])),
            }
        }
        self.cloudwatch_role_arn = role;
        self.throttle = (throttle != DEFAULT_ACCOUNT_THROTTLE).then_some(throttle);
        Ok(())
    }

    /// `CreateUsagePlanKey`'s checks that need no key: the key type, then the plan.
    pub fn check_plan_key_target(&self, plan_id: &str, key_type: &str) -> Result<(), ControlError> {
        if key_type != "API_KEY" {
            return Err(ControlError::bad_request(format!(
                "Invalid key type specified: {key_type}. Valid options are API_KEY"
            )));
        }
        self.usage_plan(plan_id)?;
        Ok(())
    }

    /// `CreateUsagePlanKey`'s checks against the plans `key_id` is already in (`key_plans`): not
    /// this plan again, and no other plan covering one of this plan's API stages (a request to
    /// a stage must meet one plan of its key).
    pub fn check_plan_key_membership(
        &self,
        plan_id: &str,
        key_id: &str,
        key_plans: &[String],
    ) -> Result<(), ControlError> {
        let plan = self.usage_plan(plan_id)?;
        if key_plans.iter().any(|p| p == plan_id) {
            return Err(ControlError::conflict(format!(
                "Usage Plan {plan_id} already contains API Key {key_id}"
            )));
        }
        for other in key_plans.iter().filter_map(|p| self.usage_plan(p).ok()) {
            if let Some(s) = plan.api_stages.iter().find(|s| {
                other
                    .api_stages
                    .iter()
                    .any(|o| o.api_id == s.api_id && o.stage == s.stage)
            }) {
                return Err(ControlError::conflict(format!(
                    "Usage Plan {plan_id} cannot be added because API Key {key_id} cannot reference multiple Usage Plans with the same API Stage: {}:{}",
                    s.api_id, s.stage
                )));
            }
        }
        Ok(())
    }

    /// The plans among `plan_ids` (`GetUsagePlans?keyId=`), in plan order.
    pub fn plans_among(&self, plan_ids: &[String]) -> Vec<UsagePlan> {
        self.usage_plans
            .iter()
            .filter(|p| plan_ids.contains(&p.id))
            .cloned()
            .collect()
    }
}

/// Whether an error is a 404 (helpers for callers that fall through).
pub fn is_not_found(e: &ControlError) -> bool {
    e.kind == ErrorKind::NotFound
}
