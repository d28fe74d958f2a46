//! Path templates (`/pets/{petId}`, `/{proxy+}`) and the resource tree built from them.

use portico_model::{Map, Method, Resource};
use std::collections::BTreeMap;

/// API Gateway's default limit of resources per REST API (the root included).
pub const MAX_RESOURCES: usize = 300;

/// One segment of a path template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Segment {
    /// A literal path part.
    Literal(String),
    /// `{name}`: exactly one path segment.
    Param(String),
    /// `{name+}`: the rest of the path; only as the last segment.
    Greedy(String),
}

impl Segment {
    /// The resource `pathPart`: the literal, `{name}` or `{name+}`.
    pub(crate) fn part(&self) -> String {
        match self {
            Self::Literal(s) => s.clone(),
            Self::Param(n) => format!("{{{n}}}"),
            Self::Greedy(n) => format!("{{{n}+}}"),
        }
    }

    /// The parameter name (without `+`) of a variable segment.
    pub(crate) fn param_name(&self) -> Option<&str> {
        match self {
            Self::Literal(_) => None,
            Self::Param(n) | Self::Greedy(n) => Some(n),
        }
    }
}

/// A parsed path key of `paths`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PathTemplate {
    pub(crate) segments: Vec<Segment>,
}

impl PathTemplate {
    /// Whether the resource has a path parameter `name` (`{name}` or `{name+}`).
    pub(crate) fn has_param(&self, name: &str) -> bool {
        self.segments.iter().any(|s| s.param_name() == Some(name))
    }
}

fn is_literal_char(c: char) -> bool {
    c.is_ascii_alphanumeric()
        || matches!(
            c,
            '_' | '-'
                | '.'
                | ','
                | ':'
                | '@'
                | '~'
                | '!'
                | '$'
                | '&'
                | '\''
                | '('
                | ')'
                | '*'
                | '+'
                | ';'
                | '='
        )
}

fn is_param_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

fn parse_segment(seg: &str) -> Result<Segment, String> {
    if seg.contains(['{', '}']) {
        let inner = seg
            .strip_prefix('{')
            .and_then(|s| s.strip_suffix('}'))
            .filter(|s| !s.contains(['{', '}']));
        let Some(inner) = inner else {
            return Err(format!(
                "path parameter must be a whole path segment: {seg}"
            ));
        };
        let (name, greedy) = match inner.strip_suffix('+') {
            Some(n) => (n, true),
            None => (inner, false),
        };
        if !is_param_name(name) {
            return Err(format!(
                "invalid path parameter name in {seg}: names may only use letters, digits, '.', '_' and '-'"
            ));
        }
        return Ok(if greedy {
            Segment::Greedy(name.to_owned())
        } else {
            Segment::Param(name.to_owned())
        });
    }
    if let Some(bad) = seg.chars().find(|c| !is_literal_char(*c)) {
        return Err(format!(
            "invalid character {bad:?} in path segment '{seg}'; allowed are letters, digits and _-.,:@~!$&'()*+;="
        ));
    }
    Ok(Segment::Literal(seg.to_owned()))
}

/// Parses a `paths` key. Returns every problem found in it.
pub(crate) fn parse_path(key: &str) -> Result<PathTemplate, Vec<String>> {
    let Some(rest) = key.strip_prefix('/') else {
        return Err(vec![format!("path must start with '/': {key}")]);
    };
    if rest.is_empty() {
        return Ok(PathTemplate {
            segments: Vec::new(),
        });
    }
    let mut problems = Vec::new();
    let mut segments = Vec::new();
    let raw: Vec<&str> = rest.split('/').collect();
    for (i, seg) in raw.iter().enumerate() {
        if seg.is_empty() {
            problems.push(format!(
                "empty path segment in {key} (a path must not end with '/' or contain '//')"
            ));
            continue;
        }
        match parse_segment(seg) {
            Ok(s) => {
                if matches!(s, Segment::Greedy(_)) && i + 1 != raw.len() {
                    problems.push(format!(
                        "greedy path parameter {seg} must be the last path segment"
                    ));
                }
                segments.push(s);
            }
            Err(m) => problems.push(m),
        }
    }
    let mut names: Vec<&str> = Vec::new();
    for s in &segments {
        if let Some(n) = s.param_name() {
            if names.contains(&n) {
                problems.push(format!("path parameter {{{n}}} appears more than once"));
            }
            names.push(n);
        }
    }
    if problems.is_empty() {
        Ok(PathTemplate { segments })
    } else {
        Err(problems)
    }
}

#[derive(Debug)]
struct Node {
    /// Path parts from the root.
    parts: Vec<String>,
    literal_children: BTreeMap<String, usize>,
    /// The only variable child (`{x}` or `{x+}`): its path part and node.
    variable_child: Option<(String, usize)>,
    methods: Map<Method>,
}

impl Node {
    fn path(&self) -> String {
        format!("/{}", self.parts.join("/"))
    }
}

/// The path tree of the API: every path and every intermediate path.
#[derive(Debug)]
pub(crate) struct ResourceTree {
    nodes: Vec<Node>,
}

/// A node of a [`ResourceTree`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct NodeId(usize);

impl ResourceTree {
    /// A tree holding only `/`.
    pub(crate) fn new() -> Self {
        Self {
            nodes: vec![Node {
                parts: Vec::new(),
                literal_children: BTreeMap::new(),
                variable_child: None,
                methods: Map::new(),
            }],
        }
    }

    /// How many resources the tree holds, the root included.
    pub(crate) fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Adds `template` and its missing ancestors. A second, differently named variable child
    /// under the same parent is an error (API Gateway allows one variable child per resource).
    pub(crate) fn insert(&mut self, template: &PathTemplate) -> Result<NodeId, String> {
        let mut at = 0;
        for seg in &template.segments {
            let part = seg.part();
            let existing = match seg {
                Segment::Literal(s) => self.nodes[at].literal_children.get(s).copied(),
                Segment::Param(_) | Segment::Greedy(_) => match &self.nodes[at].variable_child {
                    Some((p, id)) if *p == part => Some(*id),
                    Some((p, _)) => {
                        return Err(format!(
                            "conflicting path parameters {p} and {part} under {}",
                            self.nodes[at].path()
                        ));
                    }
                    None => None,
                },
            };
            at = match existing {
                Some(id) => id,
                None => {
                    let id = self.nodes.len();
                    let mut parts = self.nodes[at].parts.clone();
                    parts.push(part.clone());
                    self.nodes.push(Node {
                        parts,
                        literal_children: BTreeMap::new(),
                        variable_child: None,
                        methods: Map::new(),
                    });
                    match seg {
                        Segment::Literal(s) => {
                            self.nodes[at].literal_children.insert(s.clone(), id);
                        }
                        Segment::Param(_) | Segment::Greedy(_) => {
                            self.nodes[at].variable_child = Some((part, id));
                        }
                    }
                    id
                }
            };
        }
        Ok(NodeId(at))
    }

    /// Sets the methods of a node.
    pub(crate) fn set_methods(&mut self, node: NodeId, methods: Map<Method>) {
        self.nodes[node.0].methods = methods;
    }

    /// The resources, sorted by path segments: root first, parents before children; fresh ids,
    /// parent ids linked.
    pub(crate) fn into_resources(self) -> Vec<Resource> {
        let mut nodes = self.nodes;
        nodes.sort_by(|a, b| a.parts.cmp(&b.parts));
        let mut out: Vec<Resource> = Vec::with_capacity(nodes.len());
        // Path parts → index in `out`, to find each parent.
        let mut index: BTreeMap<Vec<String>, usize> = BTreeMap::new();
        for node in nodes {
            let mut resource = match node.parts.split_last() {
                None => Resource::root(),
                Some((last, parent_parts)) => match index.get(parent_parts) {
                    Some(&p) => Resource::child(&out[p], last),
                    // Unreachable: every node's parent is in the tree and sorts before it.
                    None => continue,
                },
            };
            resource.resource_methods = node.methods;
            index.insert(node.parts, out.len());
            out.push(resource);
        }
        out
    }
}
