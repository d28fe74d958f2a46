//! Account-level objects: API keys, usage plans and their keys, account settings.

use crate::patch::PatchOperation;
use crate::{ControlError, ErrorKind};
use portico_model::{
    ApiKey, ApiStage, BasePathMapping, ClientCertificate, DomainName, EndpointConfiguration, Map,
    QuotaSettings, ThrottleSettings, UsagePlan, UsagePlanKey, VpcLink, new_resource_id,
    new_rest_api_id, now_epoch_seconds,
};
use serde::Deserialize;

/// Everything account-wide.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AccountState {
    /// API keys.
    pub api_keys: Vec<ApiKey>,
    /// Usage plans.
    pub usage_plans: Vec<UsagePlan>,
    /// (usage plan id, api key id).
    pub plan_keys: Vec<(String, String)>,
    /// `Account.cloudwatchRoleArn`.
    pub cloudwatch_role_arn: Option<String>,
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
    /// Metered requests: (plan id, key id, day `YYYY-MM-DD`) → requests counted that day. The data
    /// plane adds to it once API keys are enforced on requests.
    pub usage: Vec<(String, String, String, i64)>,
    /// `UpdateUsage` grants: (plan id, key id) → remaining requests for the current period.
    pub remaining_overrides: Vec<(String, String, i64)>,
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

fn parse_day(s: &str) -> Result<time::Date, ControlError> {
    let fmt = time::macros::format_description!("[year]-[month]-[day]");
    time::Date::parse(s, &fmt).map_err(|_| {
        ControlError::bad_request(format!("Invalid date specified: {s} (expected YYYY-MM-DD)"))
    })
}

fn day_string(d: time::Date) -> String {
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

/// `CreateDomainName` body (certificate bodies and keys are accepted but not stored).
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
    /// Tags.
    pub tags: Option<Map<String>>,
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
    /// `GetUsage`: per key of the plan (or one key), one `[used, remaining]` pair per day from
    /// `start` to `end` (at most 90 days). `remaining` is the plan's quota minus what was used so
    /// far in the period (0 when the plan has no quota), or an `UpdateUsage` grant.
    pub fn usage_of(
        &self,
        plan_id: &str,
        key_id: Option<&str>,
        start: &str,
        end: &str,
    ) -> Result<Usage, ControlError> {
        let plan = self.usage_plan(plan_id)?;
        let (from, to) = (parse_day(start)?, parse_day(end)?);
        if to < from {
            return Err(ControlError::bad_request(
                "The end date must not be before the start date",
            ));
        }
        if (to - from).whole_days() > 90 {
            return Err(ControlError::bad_request(
                "The usage period cannot exceed 90 days",
            ));
        }
        let keys: Vec<String> = match key_id {
            Some(k) => {
                self.usage_plan_key(plan_id, k)?;
                vec![k.to_owned()]
            }
            None => self
                .plan_keys
                .iter()
                .filter(|(p, _)| p == plan_id)
                .map(|(_, k)| k.clone())
                .collect(),
        };
        let limit = plan.quota.as_ref().map(|q| q.limit);
        let mut values = Map::new();
        for key in keys {
            let mut days = Vec::new();
            let mut cumulative = 0;
            let mut d = from;
            loop {
                let ds = day_string(d);
                let used = self
                    .usage
                    .iter()
                    .filter(|(p, k, day, _)| p == plan_id && *k == key && *day == ds)
                    .map(|(_, _, _, n)| *n)
                    .sum::<i64>();
                cumulative += used;
                let granted = self
                    .remaining_overrides
                    .iter()
                    .find(|(p, k, _)| p == plan_id && *k == key)
                    .map(|(_, _, r)| *r);
                let remaining =
                    granted.unwrap_or_else(|| limit.map(|l| (l - cumulative).max(0)).unwrap_or(0));
                days.push([used, remaining]);
                if d >= to {
                    break;
                }
                match d.next_day() {
                    Some(n) => d = n,
                    None => break,
                }
            }
            values.insert(key, days);
        }
        Ok(Usage {
            usage_plan_id: plan_id.to_owned(),
            start_date: day_string(from),
            end_date: day_string(to),
            values,
        })
    }

    /// `UpdateUsage`: `replace /remaining` grants the key that many remaining requests for the
    /// current period.
    pub fn update_usage(
        &mut self,
        plan_id: &str,
        key_id: &str,
        ops: &[PatchOperation],
    ) -> Result<Usage, ControlError> {
        self.usage_plan_key(plan_id, key_id)?;
        for o in ops {
            match (o.op.as_str(), o.path.as_str()) {
                ("replace", "/remaining") => {
                    let n: i64 = o
                        .value
                        .as_deref()
                        .unwrap_or("")
                        .parse()
                        .ok()
                        .filter(|n| *n >= 0)
                        .ok_or_else(|| {
                            ControlError::bad_request(
                                "Invalid remaining value: must be a non-negative integer",
                            )
                        })?;
                    self.remaining_overrides
                        .retain(|(p, k, _)| !(p == plan_id && k == key_id));
                    self.remaining_overrides
                        .push((plan_id.to_owned(), key_id.to_owned(), n));
                }
                _ => {
                    return Err(crate::patch::invalid_path(o, &["/remaining"]));
                }
            }
        }
        let today = day_string(time::OffsetDateTime::now_utc().date());
        self.usage_of(plan_id, Some(key_id), &today, &today)
    }

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
        let d = DomainName {
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
                _ => {
                    return Err(crate::patch::invalid_path(
                        o,
                        &[
                            "/certificateName",
                            "/certificateArn",
                            "/regionalCertificateName",
                            "/regionalCertificateArn",
                            "/securityPolicy",
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
                let ok = b.split('/').all(|seg| {
                    !seg.is_empty()
                        && seg
                            .bytes()
                            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
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
        if let Some((_, slot)) = self
            .base_path_mappings
            .iter_mut()
            .find(|(dn, x)| *dn == d && x.base_path == old)
        {
            *slot = m.clone();
        }
        Ok(m)
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

/// `CreateApiKey` body.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateApiKeyInput {
    /// Name.
    pub name: Option<String>,
    /// Free text.
    pub description: Option<String>,
    /// Enabled (default false, as AWS).
    pub enabled: Option<bool>,
    /// Ignored (ids are always distinct).
    pub generate_distinct_id: Option<bool>,
    /// The key; generated when absent.
    pub value: Option<String>,
    /// Deprecated stage keys.
    pub stage_keys: Option<Vec<StageKey>>,
    /// Customer id.
    pub customer_id: Option<String>,
    /// Tags.
    pub tags: Option<Map<String>>,
}

/// `{restApiId, stageName}`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StageKey {
    /// API id.
    pub rest_api_id: Option<String>,
    /// Stage.
    pub stage_name: Option<String>,
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

fn invalid_key() -> ControlError {
    ControlError::not_found("Invalid API Key identifier specified")
}

/// AWS names no id in this message.
fn invalid_plan() -> ControlError {
    ControlError::not_found("Invalid Usage Plan ID specified")
}

/// 40 characters of `[A-Za-z0-9]` from the operating system's CSPRNG (rejection sampling, no
/// modulo bias). API keys are secrets: never from a non-cryptographic generator.
fn random_value() -> Result<String, ControlError> {
    const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut out = String::with_capacity(40);
    let mut buf = [0u8; 64];
    while out.len() < 40 {
        getrandom::fill(&mut buf).map_err(|_| {
            ControlError::bad_request("cannot generate an API key value: no system randomness")
        })?;
        for b in buf {
            if b < 248 && out.len() < 40 {
                out.push(char::from(A[(b % 62) as usize]));
            }
        }
    }
    Ok(out)
}

fn check_quota(q: &QuotaSettings) -> Result<(), ControlError> {
    if !matches!(q.period.as_str(), "DAY" | "WEEK" | "MONTH") {
        return Err(ControlError::bad_request(format!(
            "Invalid quota period specified: {}. Valid options are DAY,WEEK,MONTH",
            q.period
        )));
    }
    if q.limit < 0 || q.offset < 0 {
        return Err(ControlError::bad_request(
            "Quota limit and offset must be non-negative",
        ));
    }
    Ok(())
}

/// An API key's description is at most 125000 characters.
fn check_key_description(d: Option<&str>) -> Result<(), ControlError> {
    if d.is_some_and(|d| d.chars().count() > 125_000) {
        return Err(ControlError::bad_request(
            "Invalid API Key description specified.",
        ));
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
    /// `CreateApiKey`.
    pub fn create_api_key(&mut self, input: CreateApiKeyInput) -> Result<ApiKey, ControlError> {
        if input
            .name
            .as_deref()
            .is_some_and(|n| n.chars().count() > 1024)
        {
            return Err(ControlError::bad_request(
                "Invalid API Key name, can be at most 1024 characters.",
            ));
        }
        // An empty value or name is as good as none.
        let value = match input.value.filter(|v| !v.is_empty()) {
            Some(v) if v.chars().count() < 20 => {
                return Err(ControlError::bad_request(
                    "API Key value should be at least 20 characters",
                ));
            }
            Some(v) if v.chars().count() > 128 => {
                return Err(ControlError::bad_request(
                    "API Key value exceeds maximum size of 128 characters",
                ));
            }
            Some(v) => v,
            None => random_value()?,
        };
        check_key_description(input.description.as_deref())?;
        let name = input.name.filter(|n| !n.is_empty());
        if self
            .api_keys
            .iter()
            .any(|k| k.value.as_deref() == Some(value.as_str()))
        {
            return Err(ControlError::conflict("API Key already exists"));
        }
        let now = now_epoch_seconds();
        let stage_keys = input
            .stage_keys
            .unwrap_or_default()
            .into_iter()
            .map(|s| {
                format!(
                    "{}/{}",
                    s.rest_api_id.unwrap_or_default(),
                    s.stage_name.unwrap_or_default()
                )
            })
            .collect();
        let key = ApiKey {
            id: new_rest_api_id(),
            value: Some(value),
            name,
            customer_id: input.customer_id,
            description: input.description,
            enabled: input.enabled.unwrap_or(false),
            created_date: now,
            last_updated_date: now,
            stage_keys,
            tags: input.tags.unwrap_or_default(),
        };
        self.api_keys.push(key.clone());
        Ok(key)
    }

    /// `GetApiKey`.
    pub fn api_key(&self, id: &str) -> Result<&ApiKey, ControlError> {
        self.api_keys
            .iter()
            .find(|k| k.id == id)
            .ok_or_else(invalid_key)
    }

    /// `UpdateApiKey`.
    pub fn update_api_key(
        &mut self,
        id: &str,
        ops: &[PatchOperation],
    ) -> Result<ApiKey, ControlError> {
        let mut k = self.api_key(id)?.clone();
        for o in ops {
            let value = o.value.clone();
            match (o.op.as_str(), o.path.as_str()) {
                ("replace", "/name") => k.name = value,
                ("replace", "/description") => {
                    check_key_description(value.as_deref())?;
                    k.description = value
                }
                ("replace", "/customerId") => k.customer_id = value,
                // AWS reads the value as Java's Boolean.parseBoolean does: anything but
                // "true" (any case) is false, and no error.
                ("replace", "/enabled") => {
                    k.enabled = value
                        .as_deref()
                        .is_some_and(|v| v.eq_ignore_ascii_case("true"))
                }
                ("add", "/stages") => {
                    if let Some(v) = value
                        && !k.stage_keys.contains(&v)
                    {
                        k.stage_keys.push(v);
                    }
                }
                ("remove", "/stages") => {
                    let v = value.unwrap_or_default();
                    k.stage_keys.retain(|s| *s != v);
                }
                ("replace", _) => {
                    return Err(crate::patch::invalid_path(
                        o,
                        &["/description", "/enabled", "/name", "/customerId"],
                    ));
                }
                ("add" | "remove", _) => return Err(crate::patch::unsupported_op(o)),
                _ => {
                    return Err(crate::patch::invalid_op());
                }
            }
        }
        k.last_updated_date = now_epoch_seconds();
        if let Some(slot) = self.api_keys.iter_mut().find(|x| x.id == id) {
            *slot = k.clone();
        }
        // UpdateApiKey's answer never carries the key's value.
        k.value = None;
        Ok(k)
    }

    /// `DeleteApiKey` (and its usage plan memberships).
    pub fn delete_api_key(&mut self, id: &str) -> Result<(), ControlError> {
        self.api_key(id)?;
        self.api_keys.retain(|k| k.id != id);
        self.plan_keys.retain(|(_, k)| k != id);
        Ok(())
    }

    /// `ImportApiKeys` (`format=csv`): columns `name`, `key`, `description`, `enabled`,
    /// `usageplanIds` (header names case-insensitive). Returns the new ids and warnings.
    pub fn import_api_keys_csv(
        &mut self,
        csv: &str,
    ) -> Result<(Vec<String>, Vec<String>), ControlError> {
        let mut lines = csv.lines().filter(|l| !l.trim().is_empty());
        let header: Vec<String> = lines
            .next()
            .ok_or_else(|| ControlError::bad_request("Invalid API keys file: empty"))?
            .split(',')
            .map(|h| h.trim().to_ascii_lowercase())
            .collect();
        let col = |name: &str| header.iter().position(|h| h == name);
        let (Some(key_col), name_col) = (col("key"), col("name")) else {
            return Err(ControlError::bad_request(
                "Invalid API keys file: a 'Key' column is required",
            ));
        };
        let (desc_col, enabled_col, plans_col) =
            (col("description"), col("enabled"), col("usageplanids"));
        let mut staged = self.clone();
        let mut ids = Vec::new();
        for (n, line) in lines.enumerate() {
            let cells: Vec<&str> = line.split(',').map(str::trim).collect();
            let get = |c: Option<usize>| {
                c.and_then(|i| cells.get(i))
                    .map(|s| (*s).to_owned())
                    .filter(|s| !s.is_empty())
            };
            let key = staged
                .create_api_key(CreateApiKeyInput {
                    name: get(name_col),
                    description: get(desc_col),
                    enabled: get(enabled_col).map(|e| e.eq_ignore_ascii_case("true")),
                    value: get(Some(key_col)),
                    ..CreateApiKeyInput::default()
                })
                .map_err(|e| {
                    ControlError::bad_request(format!(
                        "Invalid API keys file, line {}: {}",
                        n + 2,
                        e.message
                    ))
                })?;
            if let Some(plans) = get(plans_col) {
                for plan in plans
                    .split(['|', ';'])
                    .map(str::trim)
                    .filter(|p| !p.is_empty())
                {
                    staged.add_plan_key(plan, &key.id)?;
                }
            }
            ids.push(key.id);
        }
        *self = staged;
        Ok((ids, Vec::new()))
    }

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
        self.usage_plans.retain(|p| p.id != id);
        self.plan_keys.retain(|(p, _)| p != id);
        Ok(())
    }

    fn add_plan_key(&mut self, plan_id: &str, key_id: &str) -> Result<(), ControlError> {
        self.usage_plan(plan_id)?;
        self.api_key(key_id)?;
        if self
            .plan_keys
            .iter()
            .any(|(p, k)| p == plan_id && k == key_id)
        {
            return Err(ControlError::conflict(format!(
                "Usage Plan {plan_id} already contains API Key {key_id}"
            )));
        }
        self.plan_keys.push((plan_id.to_owned(), key_id.to_owned()));
        Ok(())
    }

    fn plan_key_view(&self, key_id: &str) -> Result<UsagePlanKey, ControlError> {
        let k = self.api_key(key_id)?;
        Ok(UsagePlanKey {
            id: k.id.clone(),
            kind: "API_KEY".into(),
            value: k.value.clone(),
            name: k.name.clone(),
        })
    }

    /// `CreateUsagePlanKey`.
    pub fn create_usage_plan_key(
        &mut self,
        plan_id: &str,
        key_id: &str,
        key_type: &str,
    ) -> Result<UsagePlanKey, ControlError> {
        if key_type != "API_KEY" {
            return Err(ControlError::bad_request(format!(
                "Invalid key type specified: {key_type}. Valid options are API_KEY"
            )));
        }
        self.add_plan_key(plan_id, key_id)?;
        self.plan_key_view(key_id)
    }

    /// `GetUsagePlanKeys`.
    /// An unknown plan has no keys: AWS answers an empty list, not a 404.
    pub fn usage_plan_keys(&self, plan_id: &str) -> Result<Vec<UsagePlanKey>, ControlError> {
        self.plan_keys
            .iter()
            .filter(|(p, _)| p == plan_id)
            .map(|(_, k)| self.plan_key_view(k))
            .collect()
    }

    /// `GetUsagePlanKey`.
    pub fn usage_plan_key(
        &self,
        plan_id: &str,
        key_id: &str,
    ) -> Result<UsagePlanKey, ControlError> {
        self.usage_plan(plan_id)?;
        if !self
            .plan_keys
            .iter()
            .any(|(p, k)| p == plan_id && k == key_id)
        {
            return Err(ControlError::not_found(
                "Invalid Usage Plan Key identifier specified",
            ));
        }
        self.plan_key_view(key_id)
    }

    /// `DeleteUsagePlanKey`.
    pub fn delete_usage_plan_key(
        &mut self,
        plan_id: &str,
        key_id: &str,
    ) -> Result<(), ControlError> {
        self.usage_plan_key(plan_id, key_id)?;
        self.plan_keys
            .retain(|(p, k)| !(p == plan_id && k == key_id));
        Ok(())
    }

    /// Usage plans a key belongs to (`GetUsagePlans?keyId=`).
    pub fn plans_of_key(&self, key_id: &str) -> Vec<UsagePlan> {
        self.usage_plans
            .iter()
            .filter(|p| {
                self.plan_keys
                    .iter()
                    .any(|(pp, k)| *pp == p.id && k == key_id)
            })
            .cloned()
            .collect()
    }
}

/// Whether an error is a 404 (helpers for callers that fall through).
pub fn is_not_found(e: &ControlError) -> bool {
    e.kind == ErrorKind::NotFound
}
