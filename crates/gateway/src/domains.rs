//! Custom domain names: `Host` → domain → the longest matching base path → API and stage.
//!
//! A domain's base path mappings (`CreateBasePathMapping`) are held as an immutable table,
//! swapped whole when a domain or mapping changes (few, and changed rarely): a request does one
//! hash lookup on the host and a scan of its domain's mappings, longest base path first. The
//! root mapping `(none)` matches every path; a mapping without a stage takes the stage from
//! the path segment after the base path, as on AWS.

use crate::addressing::{Address, Style};
use std::collections::HashMap;

/// One base path mapping of a domain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mapping {
    /// The base path without slashes; empty for the root mapping `(none)`.
    pub base_path: Box<str>,
    /// The REST API.
    pub api_id: Box<str>,
    /// The stage; `None`: the first path segment after the base path names it.
    pub stage: Option<Box<str>>,
}

/// Every custom domain's mappings, by lowercase domain name.
#[derive(Debug, Default)]
pub struct DomainTable {
    domains: HashMap<Box<str>, Vec<Mapping>>,
}

impl DomainTable {
    /// A table of `domains` → their mappings (`(none)` or an empty base path is the root).
    pub fn new<'a>(
        domains: impl IntoIterator<Item = &'a str>,
        mappings: impl IntoIterator<Item = (&'a str, &'a portico_model::BasePathMapping)>,
    ) -> Self {
        let mut table: HashMap<Box<str>, Vec<Mapping>> = domains
            .into_iter()
            .map(|d| (d.to_ascii_lowercase().into_boxed_str(), Vec::new()))
            .collect();
        for (domain, m) in mappings {
            let Some(list) = table.get_mut(domain.to_ascii_lowercase().as_str()) else {
                continue;
            };
            let base = match m.base_path.as_str() {
                "(none)" => "",
                b => b.trim_matches('/'),
            };
            list.push(Mapping {
                base_path: base.into(),
                api_id: m.rest_api_id.as_str().into(),
                stage: m.stage.as_deref().filter(|s| !s.is_empty()).map(Into::into),
            });
        }
        // Longest base path first: the root mapping, if any, comes last.
        for list in table.values_mut() {
            list.sort_by_key(|m| std::cmp::Reverse(m.base_path.len()));
        }
        Self { domains: table }
    }

    /// Whether no domain is configured (the common case: nothing to look up).
    pub fn is_empty(&self) -> bool {
        self.domains.is_empty()
    }

    /// Whether `host` (with or without a port) names a configured domain.
    pub fn knows(&self, host: &str) -> bool {
        self.mappings(host).is_some()
    }

    fn mappings(&self, host: &str) -> Option<&Vec<Mapping>> {
        let name = host_name(host);
        match self.domains.get(name) {
            Some(m) => Some(m),
            None if name.bytes().any(|b| b.is_ascii_uppercase()) => {
                self.domains.get(name.to_ascii_lowercase().as_str())
            }
            None => None,
        }
    }

    /// Where a request to custom domain `host` for `path` goes: the longest base path that is
    /// a whole leading segment of the path, then the mapping's stage (or the next segment).
    pub fn resolve<'a>(&'a self, host: &str, path: &'a str) -> Option<Address<'a>> {
        let mappings = self.mappings(host)?;
        for m in mappings {
            let rest = if m.base_path.is_empty() {
                path
            } else {
                let Some(after) = path
                    .strip_prefix('/')
                    .and_then(|p| p.strip_prefix(&*m.base_path))
                else {
                    continue;
                };
                if !(after.is_empty() || after.starts_with('/')) {
                    continue;
                }
                after
            };
            let (stage, rest) = match &m.stage {
                Some(stage) => (&**stage, rest),
                None => split_first_segment(rest),
            };
            let rest = if rest.is_empty() { "/" } else { rest };
            return Some(Address {
                api_id: &m.api_id,
                stage,
                path: rest,
                whole: rest,
                style: Style::CustomDomain,
                base_path: Some(if m.base_path.is_empty() {
                    "(none)"
                } else {
                    &m.base_path
                }),
            });
        }
        None
    }
}

/// `host` without a port.
fn host_name(host: &str) -> &str {
    if host.starts_with('[') {
        return host.find(']').map_or(host, |i| &host[..=i]);
    }
    match host.rsplit_once(':') {
        Some((name, port)) if !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) => name,
        _ => host,
    }
}

/// `/stage/rest` → (`stage`, `/rest`).
fn split_first_segment(path: &str) -> (&str, &str) {
    let p = path.strip_prefix('/').unwrap_or(path);
    match p.find('/') {
        Some(i) => (&p[..i], &p[i..]),
        None => (p, "/"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use portico_model::BasePathMapping;

    fn m(base: &str, api: &str, stage: Option<&str>) -> BasePathMapping {
        BasePathMapping {
            base_path: base.into(),
            rest_api_id: api.into(),
            stage: stage.map(Into::into),
        }
    }

    #[test]
    fn longest_base_path_wins_and_the_root_takes_the_rest() {
        let maps = [
            ("api.example.com", m("v1", "a1", Some("prod"))),
            ("api.example.com", m("v2", "a2", Some("prod"))),
            ("api.example.com", m("(none)", "a0", Some("live"))),
            ("other.example.com", m("x", "a3", None)),
        ];
        let t = DomainTable::new(
            ["api.example.com", "other.example.com", "bare.example.com"],
            maps.iter().map(|(d, m)| (*d, m)),
        );
        let r = |h, p| t.resolve(h, p).map(|a| (a.api_id, a.stage, a.path));
        assert_eq!(
            r("api.example.com", "/v1/pets"),
            Some(("a1", "prod", "/pets"))
        );
        assert_eq!(r("API.example.com:8443", "/v2"), Some(("a2", "prod", "/")));
        assert_eq!(
            r("api.example.com", "/v10/pets"),
            Some(("a0", "live", "/v10/pets"))
        );
        assert_eq!(r("api.example.com", "/"), Some(("a0", "live", "/")));
        assert_eq!(
            r("other.example.com", "/x/dev/pets"),
            Some(("a3", "dev", "/pets"))
        );
        assert_eq!(r("other.example.com", "/y/dev"), None);
        assert_eq!(r("bare.example.com", "/"), None);
        assert_eq!(r("unknown.example.com", "/v1"), None);
        assert!(t.knows("bare.example.com:80"));
    }
}
