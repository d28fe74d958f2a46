//! Resource routing for AWS REST APIs (API Gateway v1 semantics). Pure code, no IO.
//!
//! An API is a tree of *resources*, each identified by its full path (`/`, `/pets`,
//! `/pets/{petId}`, `/files/{proxy+}`), and each resource has a set of HTTP methods
//! (`GET`, `POST`, ..., or the catch-all `ANY`). Every path segment is one of:
//!
//! * a literal (`pets`), compared case-sensitively against the percent-decoded request segment;
//! * a parameter `{name}`, matching exactly one non-empty segment;
//! * a greedy parameter `{name+}`, matching the (non-empty) rest of the path; it must be last.
//!
//! [`RouterBuilder`] compiles the resources into a segment trie once; [`Router::find`] then
//! matches a raw (still percent-encoded) request path. At every level a literal child is
//! preferred over the parameter child, which is preferred over the greedy child, with
//! backtracking when the preferred branch yields no resource having the requested method
//! (an exact method beats `ANY` on the same resource). Parameter values are percent-decoded.
//!
//! ```
//! use portico_router::{Lookup, RouterBuilder};
//!
//! let mut b = RouterBuilder::new();
//! b.add("/pets", "GET", "list").unwrap();
//! b.add("/pets/{petId}", "GET", "get").unwrap();
//! b.add("/{proxy+}", "ANY", "fallback").unwrap();
//! let router = b.build();
//!
//! let Lookup::Found(m) = router.find("GET", "/pets/a%20b") else { unreachable!() };
//! assert_eq!((*m.value, m.resource_path), ("get", "/pets/{petId}"));
//! assert_eq!(m.params.get("petId"), Some("a b"));
//!
//! let Lookup::Found(m) = router.find("DELETE", "/pets/7") else { unreachable!() };
//! assert_eq!(m.params.get("proxy"), Some("pets/7"));
//! ```

use std::fmt::Write as _;
use std::sync::Arc;

use percent_encoding::percent_decode_str;

#[doc(hidden)]
pub mod fuzz;

#[cfg(test)]
mod tests;

/// The catch-all method name.
pub const ANY: &str = "ANY";

/// Why a resource method could not be added.
#[derive(Debug, thiserror::Error, PartialEq, Eq, Clone)]
pub enum RouteError {
    #[error("resource path {path:?} must start with '/'")]
    MissingLeadingSlash { path: String },
    #[error("resource path {path:?} contains an empty segment")]
    EmptySegment { path: String },
    #[error("resource path {path:?}: malformed path part {segment:?}")]
    MalformedSegment { path: String, segment: String },
    #[error("resource path {path:?}: greedy path part {segment:?} must be the last one")]
    GreedyNotLast { path: String, segment: String },
    #[error("resource path {path:?}: parameter {name:?} is used more than once")]
    DuplicateParam { path: String, name: String },
    #[error(
        "resource path {path:?}: {segment:?} conflicts with sibling {existing:?} \
         (only one variable of each kind per level)"
    )]
    ConflictingVariable {
        path: String,
        segment: String,
        existing: String,
    },
    #[error("invalid method {method:?}: expected an uppercase HTTP method or ANY")]
    InvalidMethod { method: String },
    #[error("duplicate route: {method} {path}")]
    Duplicate { path: String, method: String },
}

/// One parsed path part of a resource path.
#[derive(Debug, Clone)]
enum Part {
    Literal(Box<str>),
    Param(Arc<str>),
    Greedy(Arc<str>),
}

/// What a resource keeps of a path part to capture parameter values: literals are only skipped.
#[derive(Debug)]
enum Capture {
    Skip,
    Param(Arc<str>),
    Greedy(Arc<str>),
}

/// A resource (one node of the trie that was explicitly added) and its methods. Boxed in its
/// node, so that the many nodes without one stay small.
#[derive(Debug)]
struct Resource<T> {
    path: Box<str>,
    /// The path parts up to the last parameter (empty when the path has none).
    captures: Box<[Capture]>,
    param_count: usize,
    /// Exact methods, sorted by name (no spare capacity once built).
    methods: Vec<(Box<str>, T)>,
    any: Option<Box<T>>,
}

impl<T> Resource<T> {
    fn method(&self, method: &str) -> Option<&T> {
        self.methods
            .iter()
            .find(|(m, _)| &**m == method)
            .map(|(_, v)| v)
            .or(self.any.as_deref())
    }
}

#[derive(Debug)]
struct Node<T> {
    /// Literal children sorted by name (binary search on the decoded segment).
    literals: Vec<(Box<str>, Node<T>)>,
    param: Option<(Arc<str>, Box<Node<T>>)>,
    greedy: Option<(Arc<str>, Box<Node<T>>)>,
    resource: Option<Box<Resource<T>>>,
}

impl<T> Node<T> {
    fn new() -> Self {
        Node {
            literals: Vec::new(),
            param: None,
            greedy: None,
            resource: None,
        }
    }

    /// Depth-first match with backtracking. `rest` is the remaining request path after the
    /// separator (`None` once all segments are consumed).
    fn walk(&self, rest: Option<&str>, method: &str) -> Option<(&Resource<T>, &T)> {
        let Some(rest) = rest else {
            let res = self.resource.as_deref()?;
            return res.method(method).map(|v| (res, v));
        };
        let (seg, next) = split_first(rest);
        if !seg.is_empty() {
            if let Some(child) = self.literal(seg)
                && let Some(found) = child.walk(next, method)
            {
                return Some(found);
            }
            if let Some((_, child)) = &self.param
                && let Some(found) = child.walk(next, method)
            {
                return Some(found);
            }
        }
        if !rest.is_empty()
            && let Some((_, child)) = &self.greedy
        {
            let res = child.resource.as_deref()?;
            return res.method(method).map(|v| (res, v));
        }
        None
    }

    /// Literal child equal to the percent-decoded segment (literals never contain '%', so
    /// this is equivalent to "raw equal, or decoded equal when the raw segment has a '%'").
    fn literal(&self, seg: &str) -> Option<&Node<T>> {
        let idx = if seg.contains('%') {
            let decoded = percent_decode_str(seg);
            self.literals
                .binary_search_by(|(k, _)| k.bytes().cmp(decoded.clone()))
        } else {
            self.literals.binary_search_by(|(k, _)| (**k).cmp(seg))
        };
        idx.ok().and_then(|i| self.literals.get(i)).map(|(_, n)| n)
    }

    /// Drops the spare capacity that building left, in the whole subtree.
    fn shrink(&mut self) {
        self.literals.shrink_to_fit();
        if let Some(res) = &mut self.resource {
            res.methods.shrink_to_fit();
        }
        for (_, child) in &mut self.literals {
            child.shrink();
        }
        for (_, child) in self.param.iter_mut().chain(&mut self.greedy) {
            child.shrink();
        }
    }

    /// Resources in match order: this node, then literals (sorted), param, greedy.
    fn visit<'a>(&'a self, f: &mut impl FnMut(&'a Resource<T>)) {
        if let Some(r) = &self.resource {
            f(r);
        }
        for (_, child) in &self.literals {
            child.visit(f);
        }
        for (_, child) in self.param.iter().chain(&self.greedy) {
            child.visit(f);
        }
    }
}

/// Split `a/b/c` into (`a`, Some(`b/c`)); `a` into (`a`, None).
fn split_first(rest: &str) -> (&str, Option<&str>) {
    match rest.split_once('/') {
        Some((seg, next)) => (seg, Some(next)),
        None => (rest, None),
    }
}

/// Normalize a raw request path into the part after the leading '/', with one trailing '/'
/// removed; `None` inside means the root resource.
fn request_rest(path: &str) -> Option<Option<&str>> {
    let p = path.strip_prefix('/')?;
    let p = p.strip_suffix('/').unwrap_or(p);
    Some((!p.is_empty()).then_some(p))
}

fn decode(s: &str) -> String {
    percent_decode_str(s).decode_utf8_lossy().into_owned()
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

fn valid_literal(seg: &str) -> bool {
    seg.chars()
        .all(|c| c.is_alphanumeric() || "-._~:@!$&'()*+,;=".contains(c))
}

fn parse_path(path: &str) -> Result<Vec<Part>, RouteError> {
    let Some(rest) = path.strip_prefix('/') else {
        return Err(RouteError::MissingLeadingSlash { path: path.into() });
    };
    if rest.is_empty() {
        return Ok(Vec::new());
    }
    let mut parts = Vec::new();
    let malformed = |segment: &str| RouteError::MalformedSegment {
        path: path.into(),
        segment: segment.into(),
    };
    for seg in rest.split('/') {
        if seg.is_empty() {
            return Err(RouteError::EmptySegment { path: path.into() });
        }
        if let Some(Part::Greedy(_)) = parts.last() {
            let segment = format!("{{{}+}}", parts.last().map_or("", part_name));
            return Err(RouteError::GreedyNotLast {
                path: path.into(),
                segment,
            });
        }
        let part = match seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
            Some(inner) => {
                let (name, greedy) = match inner.strip_suffix('+') {
                    Some(name) => (name, true),
                    None => (inner, false),
                };
                if !valid_name(name) {
                    return Err(malformed(seg));
                }
                if parts.iter().any(|p| part_name(p) == name) {
                    return Err(RouteError::DuplicateParam {
                        path: path.into(),
                        name: name.into(),
                    });
                }
                if greedy {
                    Part::Greedy(name.into())
                } else {
                    Part::Param(name.into())
                }
            }
            None if valid_literal(seg) => Part::Literal(seg.into()),
            None => return Err(malformed(seg)),
        };
        parts.push(part);
    }
    Ok(parts)
}

fn part_name(p: &Part) -> &str {
    match p {
        Part::Literal(_) => "",
        Part::Param(n) | Part::Greedy(n) => n,
    }
}

/// Collects resource methods; [`RouterBuilder::build`] turns them into a [`Router`].
#[derive(Debug)]
pub struct RouterBuilder<T> {
    root: Node<T>,
    len: usize,
}

impl<T> Default for RouterBuilder<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> RouterBuilder<T> {
    pub fn new() -> Self {
        RouterBuilder {
            root: Node::new(),
            len: 0,
        }
    }

    /// Add one resource method. `path` is the resource's full path; `method` an uppercase
    /// method or `"ANY"`. On error the builder is left unchanged.
    pub fn add(&mut self, path: &str, method: &str, value: T) -> Result<(), RouteError> {
        if method.is_empty() || !method.bytes().all(|b| b.is_ascii_uppercase()) {
            return Err(RouteError::InvalidMethod {
                method: method.into(),
            });
        }
        let parts = parse_path(path)?;
        // Check sibling-variable conflicts read-only first so a failed add changes nothing.
        let mut node = Some(&self.root);
        for part in &parts {
            let Some(n) = node else { break };
            let (slot, brace) = match part {
                Part::Literal(lit) => {
                    node = n.literal(lit);
                    continue;
                }
                Part::Param(_) => (&n.param, ""),
                Part::Greedy(_) => (&n.greedy, "+"),
            };
            match slot {
                Some((existing, _)) if **existing != *part_name(part) => {
                    return Err(RouteError::ConflictingVariable {
                        path: path.into(),
                        segment: format!("{{{}{brace}}}", part_name(part)),
                        existing: format!("{{{existing}{brace}}}"),
                    });
                }
                Some((_, child)) => node = Some(child),
                None => node = None,
            }
        }

        let mut node = &mut self.root;
        for part in &parts {
            node = match part {
                Part::Literal(lit) => {
                    let idx = match node.literals.binary_search_by(|(k, _)| k.cmp(lit)) {
                        Ok(i) => i,
                        Err(i) => {
                            node.literals.insert(i, (lit.clone(), Node::new()));
                            i
                        }
                    };
                    &mut node.literals[idx].1
                }
                Part::Param(name) => {
                    &mut node
                        .param
                        .get_or_insert_with(|| (name.clone(), Box::new(Node::new())))
                        .1
                }
                Part::Greedy(name) => {
                    &mut node
                        .greedy
                        .get_or_insert_with(|| (name.clone(), Box::new(Node::new())))
                        .1
                }
            };
        }
        let res = node.resource.get_or_insert_with(|| {
            let param_count = parts
                .iter()
                .filter(|p| !matches!(p, Part::Literal(_)))
                .count();
            let last_param = parts
                .iter()
                .rposition(|p| !matches!(p, Part::Literal(_)))
                .map_or(0, |i| i + 1);
            let captures = parts[..last_param]
                .iter()
                .map(|p| match p {
                    Part::Literal(_) => Capture::Skip,
                    Part::Param(n) => Capture::Param(n.clone()),
                    Part::Greedy(n) => Capture::Greedy(n.clone()),
                })
                .collect();
            Box::new(Resource {
                path: path.into(),
                captures,
                param_count,
                methods: Vec::new(),
                any: None,
            })
        });
        let duplicate = || RouteError::Duplicate {
            path: path.into(),
            method: method.into(),
        };
        if method == ANY {
            if res.any.is_some() {
                return Err(duplicate());
            }
            res.any = Some(Box::new(value));
        } else {
            match res.methods.binary_search_by(|(m, _)| (**m).cmp(method)) {
                Ok(_) => return Err(duplicate()),
                Err(i) => res.methods.insert(i, (method.into(), value)),
            }
        }
        self.len += 1;
        Ok(())
    }

    pub fn build(mut self) -> Router<T> {
        self.root.shrink();
        Router {
            root: self.root,
            len: self.len,
        }
    }
}

/// Compiled routing table. `Send + Sync` when `T` is.
#[derive(Debug)]
pub struct Router<T> {
    root: Node<T>,
    len: usize,
}

/// A successful lookup.
#[derive(Debug)]
pub struct Match<'a, T> {
    pub value: &'a T,
    /// The matched resource's path as added, e.g. `/pets/{petId}`.
    pub resource_path: &'a str,
    pub params: Params,
}

/// Result of [`Router::find`].
#[derive(Debug)]
pub enum Lookup<'a, T> {
    Found(Match<'a, T>),
    NotFound,
}

impl<'a, T> Lookup<'a, T> {
    pub fn found(self) -> Option<Match<'a, T>> {
        match self {
            Lookup::Found(m) => Some(m),
            Lookup::NotFound => None,
        }
    }
}

/// Path parameters of a match, in path order; values are percent-decoded (UTF-8 lossy).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Params {
    entries: Vec<(Arc<str>, String)>,
}

impl Params {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.entries
            .iter()
            .find(|(n, _)| &**n == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn iter(&self) -> impl ExactSizeIterator<Item = (&str, &str)> + '_ {
        self.entries.iter().map(|(n, v)| (&**n, v.as_str()))
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

impl<T> Router<T> {
    /// `path` is the raw request path (percent-encoded, no query string, starts with '/').
    /// `method` is compared case-sensitively (use uppercase). One trailing `/` is ignored
    /// (so `//` is the root); other empty segments only ever match inside a greedy parameter.
    pub fn find(&self, method: &str, path: &str) -> Lookup<'_, T> {
        let Some(rest) = request_rest(path) else {
            return Lookup::NotFound;
        };
        match self.root.walk(rest, method) {
            Some((res, value)) => Lookup::Found(Match {
                value,
                resource_path: &res.path,
                params: extract_params(res, rest),
            }),
            None => Lookup::NotFound,
        }
    }

    /// Printable table of routes in match order: one line per resource method
    /// (`<n>  <METHOD>  <path>`), exact methods before `ANY` on each resource.
    pub fn explain(&self) -> String {
        self.explain_with(|_| String::new())
    }

    /// [`Router::explain`] with `detail(value)` after each route's line (indented), when not
    /// empty: what the route runs, say.
    pub fn explain_with(&self, detail: impl Fn(&T) -> String) -> String {
        let mut out = String::new();
        let mut n = 0;
        self.root.visit(&mut |res| {
            let methods = res.methods.iter().map(|(m, v)| (&**m, v));
            for (m, v) in methods.chain(res.any.as_deref().map(|v| (ANY, v))) {
                n += 1;
                let _ = writeln!(out, "{n:>4}  {m:<7} {}", res.path);
                let d = detail(v);
                if !d.is_empty() {
                    let _ = writeln!(out, "            {d}");
                }
            }
        });
        out
    }

    /// Number of resource methods.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// Re-walk the matched resource's parts against the request to capture parameter values.
fn extract_params<T>(res: &Resource<T>, mut rest: Option<&str>) -> Params {
    let mut entries = Vec::with_capacity(res.param_count);
    for capture in res.captures.iter() {
        let Some(r) = rest else { break };
        let (seg, next) = split_first(r);
        match capture {
            Capture::Skip => {}
            Capture::Param(name) => entries.push((name.clone(), decode(seg))),
            Capture::Greedy(name) => {
                entries.push((name.clone(), decode(r)));
                break;
            }
        }
        rest = next;
    }
    Params { entries }
}
