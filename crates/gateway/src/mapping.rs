//! Mapping templates and integration responses, prepared at deploy time.
//!
//! A template without Velocity syntax is rendered once, at deploy time; one with `$` or `#` is
//! parsed at deploy time by `portico-vtl` and rendered per request with API Gateway's objects
//! (`crate::templating`). A template that does not parse is reported at deploy and answers 500.

use http::{HeaderName, HeaderValue, StatusCode};
use portico_model::{Integration, Map};
use regex::Regex;
use std::sync::Arc;

/// A compiled mapping template.
#[derive(Debug, Clone)]
pub struct MappingTemplate {
    source: Arc<str>,
    /// The output of a template without Velocity syntax, prepared once.
    rendered: bytes::Bytes,
    /// For MOCK request templates without Velocity syntax: the `statusCode` they select.
    mock_status: Option<u16>,
    /// The parsed Velocity template, when the source uses `$` or `#`.
    engine: Option<Arc<portico_vtl::Template>>,
    /// The literal JSONPaths of its `$input.json` / `$input.path` calls, compiled here.
    paths: Arc<crate::templating::JsonPaths>,
    /// The template may read or change `$context` (else it renders without one, and carried
    /// override maps pass it untouched).
    reads_context: bool,
    /// The template may change `$context.requestOverride` / `responseOverride`.
    names_overrides: bool,
    /// The template may call `$input.params(..)`.
    reads_params: bool,
    /// A parse error: rendering fails (500) with this reason.
    error: Option<Arc<str>>,
    /// The template may show request header names (`$input.params()`).
    shows_header_names: bool,
}

impl MappingTemplate {
    /// Prepares a template (parsed once, here). The second value is a parse error to report.
    pub fn compile(source: &str) -> (Self, Option<String>) {
        let dynamic = source.contains('$') || source.contains('#');
        let (engine, error) = if dynamic {
            match portico_vtl::parse(source) {
                Ok(t) => (Some(Arc::new(t)), None),
                Err(e) => (None, Some(e.to_string())),
            }
        } else {
            (None, None)
        };
        let paths = engine
            .as_deref()
            .map(crate::templating::JsonPaths::of)
            .unwrap_or_default();
        let t = Self {
            source: Arc::from(source),
            rendered: bytes::Bytes::copy_from_slice(source.as_bytes()),
            mock_status: mock_status_code(source),
            engine,
            paths: Arc::new(paths),
            reads_context: dynamic && source.contains("context"),
            names_overrides: source.contains("Override") || source.contains("$context["),
            reads_params: dynamic && source.contains("params"),
            error: error.clone().map(Arc::from),
            shows_header_names: dynamic && source.contains("params()"),
        };
        (t, error)
    }

    /// Whether rendering may show request header names, which then need the client's spelling.
    pub fn shows_header_names(&self) -> bool {
        self.shows_header_names
    }

    /// Whether rendering may read `$context` (a template that never names it cannot).
    pub fn reads_context(&self) -> bool {
        self.reads_context
    }

    /// Whether rendering may read the request's parameters (`$input.params(..)`).
    pub fn reads_params(&self) -> bool {
        self.reads_params
    }

    /// The template's source.
    pub fn render(&self) -> &str {
        &self.source
    }

    /// Whether rendering needs no request data (the output was prepared at deploy time).
    pub fn is_static(&self) -> bool {
        self.engine.is_none() && self.error.is_none()
    }

    /// The prepared output of a static template (no copy per request).
    pub fn render_bytes(&self) -> bytes::Bytes {
        self.rendered.clone()
    }

    /// Renders with API Gateway's objects; see [`TemplateError`] for what a failure means.
    pub fn render_with(
        &self,
        inputs: crate::templating::TemplateInputs,
    ) -> Result<bytes::Bytes, TemplateError> {
        self.render_full(inputs).map(|(out, _)| out)
    }

    /// [`MappingTemplate::render_with`], also returning what the template set in
    /// `$context.requestOverride` / `$context.responseOverride`.
    pub fn render_full(
        &self,
        mut inputs: crate::templating::TemplateInputs,
    ) -> Result<(bytes::Bytes, Overrides), TemplateError> {
        if let Some(e) = &self.error {
            return Err(TemplateError::Failed(format!(
                "Invalid mapping expression specified: {e}"
            )));
        }
        let Some(engine) = &self.engine else {
            return Ok((
                self.rendered.clone(),
                Overrides::from_state(inputs.overrides.take()),
            ));
        };
        // Override maps carried from an earlier template move into `$context` and back out, or
        // pass a template that cannot see `$context`.
        let carried = inputs.overrides.is_some();
        let untouched = if self.reads_context {
            None
        } else {
            inputs.overrides.take()
        };
        let mut ctx = crate::templating::context(inputs, &self.paths);
        let out = engine
            .render(&mut ctx, &portico_vtl::Limits::default())
            .map(bytes::Bytes::from)
            .map_err(|e| match e.kind {
                portico_vtl::RenderErrorKind::Method(m)
                    if m.starts_with(crate::templating::BODY_NOT_JSON) =>
                {
                    TemplateError::BodyNotJson(m)
                }
                _ => TemplateError::Failed(format!(
                    "Execution failed due to a template error: {e:?}"
                )),
            })?;
        // A template that never names the override maps leaves them as it found them: carried
        // ones are handed on, none stay none.
        let state = if !self.reads_context {
            untouched
        } else if self.names_overrides || carried {
            OverrideState::of_context(ctx.remove("context"))
        } else {
            None
        };
        Ok((out, Overrides::from_state(state)))
    }

    /// The `statusCode` a static MOCK request template selects (`None`: no valid one).
    pub fn mock_status(&self) -> Option<u16> {
        self.mock_status
    }
}

/// Why a mapping template produced no output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TemplateError {
    /// `$input.json` / `$input.path` met a body that is not JSON. For a request template AWS
    /// answers 400 with this message (`Could not parse request body into json: …`); for a
    /// response template it is a 500 like any other failure.
    BodyNotJson(String),
    /// Anything else (a template that does not parse, a limit, a failing method): a 500.
    Failed(String),
}

impl std::fmt::Display for TemplateError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::BodyNotJson(m) | Self::Failed(m) => f.write_str(m),
        }
    }
}

impl From<TemplateError> for String {
    fn from(e: TemplateError) -> Self {
        e.to_string()
    }
}

/// `$context.requestOverride` and `$context.responseOverride` as a template left them. They live
/// for the whole request, as on AWS: what the request template sets, the response template reads
/// (and may change), and what is set last applies — keys AWS does not define included.
#[derive(Debug, Clone, Default)]
pub struct OverrideState {
    /// `$context.requestOverride`.
    pub request: portico_vtl::Value,
    /// `$context.responseOverride`.
    pub response: portico_vtl::Value,
}

impl OverrideState {
    /// Takes the two maps out of a rendered template's `$context`.
    fn of_context(context: Option<portico_vtl::Value>) -> Option<Self> {
        let portico_vtl::Value::Map(mut ctx) = context? else {
            return None;
        };
        let request = ctx.swap_remove("requestOverride").unwrap_or_default();
        let response = ctx.swap_remove("responseOverride").unwrap_or_default();
        Some(Self { request, response })
    }
}

/// What a template set in `$context.requestOverride.{header,querystring,path}.X` and
/// `$context.responseOverride.{status,header.X}`.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    /// Integration request headers.
    pub request_headers: Vec<(String, String)>,
    /// Integration request query parameters.
    pub request_query: Vec<(String, String)>,
    /// Integration request path parameters.
    pub request_path: Vec<(String, String)>,
    /// Method response status.
    pub status: Option<u16>,
    /// Method response headers.
    pub response_headers: Vec<(String, String)>,
    /// The maps themselves, handed to the next template of the request.
    pub state: Option<OverrideState>,
}

impl Overrides {
    fn from_state(state: Option<OverrideState>) -> Self {
        use portico_vtl::Value;
        let mut out = Self::default();
        let Some(state) = state else {
            return out;
        };
        // A list value sets the name several times (multi-value headers / query parameters).
        let pairs = |v: Option<&Value>| -> Vec<(String, String)> {
            let Some(Value::Map(m) | Value::QuietMap(m)) = v else {
                return Vec::new();
            };
            let mut out = Vec::new();
            for (k, v) in m {
                match v {
                    Value::Null => {}
                    Value::List(items) | Value::JsonList(items) => out.extend(
                        items
                            .iter()
                            .filter(|i| !i.is_null())
                            .map(|i| (k.clone(), i.render())),
                    ),
                    v => out.push((k.clone(), v.render())),
                }
            }
            out
        };
        if let Value::Map(req) | Value::QuietMap(req) = &state.request {
            out.request_headers = pairs(req.get("header"));
            out.request_query = pairs(req.get("querystring"));
            out.request_path = pairs(req.get("path"));
        }
        if let Value::Map(resp) | Value::QuietMap(resp) = &state.response {
            out.response_headers = pairs(resp.get("header"));
            out.status = resp
                .get("status")
                .filter(|v| !v.is_null())
                .and_then(|v| v.render().trim().parse::<u16>().ok())
                .filter(|s| (100..600).contains(s));
        }
        out.state = Some(state);
        out
    }

    /// Applies the response overrides to a method response (headers API Gateway sets itself are
    /// remapped to `x-amzn-Remapped-*`, `Transfer-Encoding` is dropped, as for mappings).
    pub fn apply_to_response<B>(&self, resp: &mut http::Response<B>) {
        if let Some(s) = self.status.and_then(|s| StatusCode::from_u16(s).ok()) {
            *resp.status_mut() = s;
        }
        if self.response_headers.is_empty() {
            return;
        }
        let renamed: Vec<(String, String)> = self
            .response_headers
            .iter()
            .filter_map(|(k, v)| {
                let name = HeaderName::from_bytes(k.as_bytes()).ok()?;
                let name = crate::headers::method_response_name(name)?;
                Some((name.as_str().to_owned(), v.clone()))
            })
            .collect();
        set_headers(resp.headers_mut(), &renamed);
    }
}

/// Sets override headers: the first value of a name replaces what is there, later ones append.
pub fn set_headers(headers: &mut http::HeaderMap, values: &[(String, String)]) {
    let mut seen: Vec<HeaderName> = Vec::new();
    for (k, v) in values {
        let (Ok(k), Ok(v)) = (
            HeaderName::from_bytes(k.as_bytes()),
            HeaderValue::from_str(v),
        ) else {
            continue;
        };
        if seen.contains(&k) {
            headers.append(k, v);
        } else {
            headers.insert(k.clone(), v);
            seen.push(k);
        }
    }
}

/// Reads `statusCode` from a rendered MOCK request template (`{"statusCode": 200}`); 200 when the
/// output has none.
pub fn mock_status_code(rendered: &str) -> Option<u16> {
    if rendered.trim().is_empty() {
        return Some(200);
    }
    if let Ok(v) = serde_json::from_str::<serde_json::Value>(rendered) {
        return match v.get("statusCode") {
            None => Some(200),
            Some(serde_json::Value::Number(n)) => n.as_u64().and_then(|n| u16::try_from(n).ok()),
            Some(serde_json::Value::String(s)) => s.trim().parse().ok(),
            Some(_) => None,
        };
    }
    // Not strict JSON: read `statusCode` leniently, as API Gateway does — the AWS CDK writes
    // `{ statusCode: 200 }` (unquoted key) for CORS preflight methods, consoles write single
    // quotes, and templates are often sloppy JSON.
    let mut from = 0;
    while let Some(at) = rendered[from..].find("statusCode") {
        let start = from + at;
        from = start + "statusCode".len();
        // The key must stand alone: not part of a longer name.
        let before = rendered[..start].chars().next_back();
        if before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$') {
            continue;
        }
        let rest = rendered[from..]
            .strip_prefix(['"', '\''])
            .unwrap_or(&rendered[from..]);
        let Some(rest) = rest.trim_start().strip_prefix(':') else {
            continue;
        };
        let rest = rest.trim_start();
        let rest = rest.strip_prefix(['"', '\'']).unwrap_or(rest).trim_start();
        let digits: &str = &rest[..rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len())];
        return digits.parse().ok();
    }
    None
}

/// `passthroughBehavior`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Passthrough {
    /// Pass the body through when no template matches the content type (default).
    WhenNoMatch,
    /// Pass through only when the integration has no templates at all.
    WhenNoTemplates,
    /// Never pass through: 415 when no template matches.
    Never,
}

/// What template selection decided.
#[derive(Debug)]
pub enum Selected<'a> {
    /// Render this template (selected for this content type, which the integration request
    /// carries; `None` when the key is not a valid header value).
    Template(Option<&'a HeaderValue>, &'a MappingTemplate),
    /// Pass the body through unchanged.
    Passthrough,
    /// Reject with 415 Unsupported Media Type.
    Unsupported,
}

/// Request templates by content type plus the passthrough rule.
#[derive(Debug, Clone)]
pub struct RequestTemplates {
    /// By lowercase content type, with that content type as a header value (made at deploy).
    templates: Vec<(String, Option<HeaderValue>, MappingTemplate)>,
    passthrough: Passthrough,
}

impl RequestTemplates {
    /// Compiles an integration's request templates; `warn` receives Velocity-syntax notices.
    pub fn compile(integration: &Integration, mut warn: impl FnMut(String)) -> Self {
        let passthrough = match integration.passthrough_behavior.as_deref() {
            Some(p) if p.eq_ignore_ascii_case("NEVER") => Passthrough::Never,
            Some(p) if p.eq_ignore_ascii_case("WHEN_NO_TEMPLATES") => Passthrough::WhenNoTemplates,
            _ => Passthrough::WhenNoMatch,
        };
        let templates = integration
            .request_templates
            .iter()
            .map(|(ct, src)| {
                let (t, error) = MappingTemplate::compile(src);
                if let Some(e) = error {
                    warn(format!(
                        "request template for {ct} does not parse ({e}); requests using it answer 500"
                    ));
                }
                let key = ct.to_ascii_lowercase();
                let value = HeaderValue::from_str(&key).ok();
                (key, value, t)
            })
            .collect();
        Self {
            templates,
            passthrough,
        }
    }

    /// Chooses by the request's `Content-Type` (absent → `application/json`), as AWS does.
    pub fn select(&self, content_type: Option<&str>) -> Selected<'_> {
        let ct = content_type
            .map(|c| c.split(';').next().unwrap_or("").trim())
            .filter(|c| !c.is_empty())
            .unwrap_or("application/json");
        if let Some((_, value, t)) = self
            .templates
            .iter()
            .find(|(k, _, _)| k.eq_ignore_ascii_case(ct))
        {
            return Selected::Template(value.as_ref(), t);
        }
        match self.passthrough {
            Passthrough::WhenNoMatch => Selected::Passthrough,
            Passthrough::WhenNoTemplates if self.templates.is_empty() => Selected::Passthrough,
            _ => Selected::Unsupported,
        }
    }
}

/// One compiled integration response.
#[derive(Debug, Clone)]
pub struct CompiledIntegrationResponse {
    /// The method response status.
    pub status: StatusCode,
    /// Headers with literal values (`method.response.header.X = 'v'`).
    pub headers: Vec<(HeaderName, HeaderValue)>,
    /// Headers mapped from the backend's headers or body, `$context` or the request.
    pub mapped_headers: Vec<(HeaderName, crate::params::Source)>,
    /// Whether a mapping reads the backend's body.
    pub reads_body: bool,
    /// `contentHandling` of the integration response.
    pub content_handling: Option<crate::binary::ContentHandling>,
    /// Response templates by content type (lowercase key, header value, template); the
    /// fallback (`application/json`, else the first) comes first.
    pub templates: Vec<(String, HeaderValue, MappingTemplate)>,
    /// Header names as the response parameters spell them, with AWS's own (HTTP/1.1).
    pub spelling: Arc<Spelling>,
}

/// Header names as integration responses spell them (HTTP/1.1), and hyper's header-case map for
/// them, built on first use. Responses that spell only API Gateway's own names share one.
#[derive(Debug)]
pub struct Spelling {
    names: Box<[String]>,
    map: tokio::sync::OnceCell<Option<http::Extensions>>,
}

impl Spelling {
    fn new(names: Vec<String>) -> Self {
        Self {
            names: names.into_boxed_slice(),
            map: tokio::sync::OnceCell::new(),
        }
    }

    /// API Gateway's own names, with `X-Amzn-Trace-Id` for responses of a backend (shared).
    fn aws_own(traced: bool) -> Arc<Self> {
        static OWN: std::sync::LazyLock<[Arc<Spelling>; 2]> = std::sync::LazyLock::new(|| {
            [false, true].map(|traced| Arc::new(Spelling::new(aws_own_names(traced))))
        });
        OWN[usize::from(traced)].clone()
    }
}

fn aws_own_names(traced: bool) -> Vec<String> {
    let mut names: Vec<String> = crate::header_case::RESPONSE_NAMES
        .iter()
        .map(|n| (*n).to_owned())
        .collect();
    if traced {
        names.push("X-Amzn-Trace-Id".into());
    }
    names
}

impl CompiledIntegrationResponse {
    /// Spells the method response's header names as the integration response does.
    pub async fn spell(&self, response: &mut http::Response<crate::body::GatewayBody>) {
        let spelling = &*self.spelling;
        if let Some(e) = spelling
            .map
            .get_or_init(|| crate::header_case::spelling_of(&spelling.names))
            .await
        {
            *response.extensions_mut() = e.clone();
        }
    }
}

impl CompiledIntegrationResponse {
    /// The response template for the client's `Accept`: the first listed media type that has a
    /// template, else `application/json`, else the first template.
    pub fn template_for(&self, accept: Option<&str>) -> Option<(&HeaderValue, &MappingTemplate)> {
        if self.templates.len() > 1
            && let Some(accept) = accept
        {
            for media in accept.split(',') {
                let media = media.split(';').next().unwrap_or("").trim();
                if let Some((_, ct, t)) = self
                    .templates
                    .iter()
                    .find(|(k, _, _)| k.eq_ignore_ascii_case(media))
                {
                    return Some((ct, t));
                }
            }
        }
        self.templates.first().map(|(_, ct, t)| (ct, t))
    }
}

/// Integration responses with their selection patterns compiled.
#[derive(Debug, Clone, Default)]
pub struct IntegrationResponses {
    patterned: Vec<(SelectionRegex, CompiledIntegrationResponse)>,
    default: Option<CompiledIntegrationResponse>,
}

/// Largest compiled selection-pattern program.
const REGEX_SIZE_LIMIT: usize = 1 << 20;

impl IntegrationResponses {
    /// Compiles the integration's responses. Errors name the offending response.
    pub fn compile(
        integration: &Integration,
        stage_variables: &Map<String>,
        mut warn: impl FnMut(String),
    ) -> Result<Self, String> {
        let mut out = Self::default();
        for (key, ir) in &integration.integration_responses {
            let status = ir
                .status_code
                .parse::<u16>()
                .ok()
                .and_then(|s| StatusCode::from_u16(s).ok())
                .filter(|s| (100..600).contains(&s.as_u16()))
                .ok_or_else(|| {
                    format!(
                        "integration response {key}: invalid statusCode {}",
                        ir.status_code
                    )
                })?;
            let (headers, mapped_headers) =
                response_headers(&ir.response_parameters, stage_variables, &mut warn);
            let reads_body = mapped_headers
                .iter()
                .any(|(_, s)| s.reads_integration_body());
            let mut templates: Vec<(String, HeaderValue, MappingTemplate)> = ir
                .response_templates
                .iter()
                .map(|(ct, src)| {
                    let (t, error) = MappingTemplate::compile(src);
                    if let Some(e) = error {
                        warn(format!(
                            "response template {ct} for status {key} does not parse ({e}); requests using it answer 500"
                        ));
                    }
                    (
                        ct.to_ascii_lowercase(),
                        HeaderValue::from_str(ct)
                            .unwrap_or(HeaderValue::from_static("application/json")),
                        t,
                    )
                })
                .collect();
            // The fallback (application/json, else the first) goes first.
            if let Some(i) = templates
                .iter()
                .position(|(ct, _, _)| ct == "application/json")
            {
                let json = templates.remove(i);
                templates.insert(0, json);
            }
            let traced = integration.kind != portico_model::IntegrationType::Mock;
            let mut spelled_names = aws_own_names(traced);
            for name in ir.response_parameters.keys() {
                let Some(name) = name.strip_prefix("method.response.header.") else {
                    continue;
                };
                let Ok(lower) = HeaderName::from_bytes(name.as_bytes()) else {
                    continue;
                };
                let spelled = match crate::headers::method_response_name(lower.clone()) {
                    Some(n) if n != lower => format!("x-amzn-Remapped-{name}"),
                    _ => name.to_owned(),
                };
                spelled_names.retain(|s| !s.eq_ignore_ascii_case(&spelled));
                spelled_names.push(spelled);
            }
            let spelling = if spelled_names == aws_own_names(traced) {
                Spelling::aws_own(traced)
            } else {
                Arc::new(Spelling::new(spelled_names))
            };
            let compiled = CompiledIntegrationResponse {
                spelling,
                status,
                headers,
                mapped_headers,
                reads_body,
                content_handling: crate::binary::ContentHandling::parse(
                    ir.content_handling.as_deref(),
                ),
                templates,
            };
            match ir.selection_pattern.as_deref().filter(|p| !p.is_empty()) {
                Some(p) => {
                    let re = SelectionRegex::compile(p).map_err(|e| {
                        format!("integration response {key}: invalid selectionPattern: {e}")
                    })?;
                    out.patterned.push((re, compiled));
                }
                None => out.default = Some(compiled),
            }
        }
        Ok(out)
    }

    /// [`IntegrationResponses::select`] for a status code; formats it only when patterns exist.
    pub fn select_status(&self, status: u16) -> Option<&CompiledIntegrationResponse> {
        if self.patterned.is_empty() {
            return self.default.as_ref();
        }
        let mut buf = [0u8; 5];
        let mut n = status;
        let mut i = buf.len();
        loop {
            i -= 1;
            buf[i] = b'0' + (n % 10) as u8;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        self.select(std::str::from_utf8(&buf[i..]).unwrap_or(""))
    }

    /// The response without a `selectionPattern` (what a successful Lambda invocation selects).
    pub fn default_response(&self) -> Option<&CompiledIntegrationResponse> {
        self.default.as_ref()
    }

    /// Picks the response whose pattern matches `selector` (backend status or error message), else
    /// the default one.
    pub fn select(&self, selector: &str) -> Option<&CompiledIntegrationResponse> {
        self.patterned
            .iter()
            .find(|(re, _)| re.is_match(selector))
            .map(|(_, r)| r)
            .or(self.default.as_ref())
    }
}

/// A compiled `selectionPattern`, anchored at both ends as Java's `String.matches` is. Patterns go
/// to the linear-time engine; those using what only a backtracking engine has (look-around,
/// back-references, atomic groups and possessive quantifiers, which Java supports) go to
/// `fancy-regex` with a bounded backtracking budget, and exhausting it counts as no match.
#[derive(Debug, Clone)]
pub(crate) enum SelectionRegex {
    Linear(Regex),
    Backtracking(fancy_regex::Regex),
}

/// Backtracking steps one selection may take (per integration response).
const SELECTION_BACKTRACK_LIMIT: usize = 100_000;

impl SelectionRegex {
    fn compile(pattern: &str) -> Result<Self, String> {
        let anchored = format!("^(?:{pattern})$");
        match regex::RegexBuilder::new(&anchored)
            .size_limit(REGEX_SIZE_LIMIT)
            .build()
        {
            Ok(re) => Ok(Self::Linear(re)),
            Err(linear) => fancy_regex::RegexBuilder::new(&anchored)
                .backtrack_limit(SELECTION_BACKTRACK_LIMIT)
                .delegate_size_limit(REGEX_SIZE_LIMIT)
                .delegate_dfa_size_limit(REGEX_SIZE_LIMIT)
                .build()
                .map(Self::Backtracking)
                .map_err(|_| linear.to_string()),
        }
    }

    fn is_match(&self, selector: &str) -> bool {
        match self {
            Self::Linear(re) => re.is_match(selector),
            Self::Backtracking(re) => re.is_match(selector).unwrap_or(false),
        }
    }
}

type LiteralHeaders = Vec<(HeaderName, HeaderValue)>;
type MappedHeaders = Vec<(HeaderName, crate::params::Source)>;

/// `method.response.header.X` sources: `'literal'` values are prepared here; the others
/// (backend headers and body, `$context`, the request) are read per response.
fn response_headers(
    params: &Map<String>,
    stage_variables: &Map<String>,
    warn: &mut impl FnMut(String),
) -> (LiteralHeaders, MappedHeaders) {
    let mut literal = Vec::new();
    let mut mapped = Vec::new();
    for (dest, src) in params {
        let Some(name) = dest.strip_prefix("method.response.header.") else {
            warn(format!(
                "response parameter {dest}: unsupported destination"
            ));
            continue;
        };
        let Ok(name) = HeaderName::from_bytes(name.as_bytes()) else {
            warn(format!("response parameter {dest}: invalid header name"));
            continue;
        };
        // Headers API Gateway sets itself go out as x-amzn-Remapped-*; Transfer-Encoding is
        // dropped (recorded on AWS).
        let Some(name) = crate::headers::method_response_name(name) else {
            continue;
        };
        if let Some(value) = src.strip_prefix('\'').and_then(|s| s.strip_suffix('\'')) {
            match HeaderValue::from_str(value) {
                Ok(v) => literal.push((name, v)),
                Err(_) => warn(format!("response parameter {dest}: invalid header value")),
            }
        } else {
            match crate::params::Source::parse(src, stage_variables, crate::params::Side::Response)
            {
                Ok(source) => mapped.push((name, source)),
                Err(e) => warn(format!("response parameter {dest}: {e}; not mapped")),
            }
        }
    }
    (literal, mapped)
}

#[cfg(test)]
mod tests {
    use super::*;
    use portico_model::{IntegrationResponse, IntegrationType};

    fn ir(status: &str, pattern: Option<&str>) -> IntegrationResponse {
        IntegrationResponse {
            status_code: status.into(),
            selection_pattern: pattern.map(Into::into),
            response_parameters: Map::from([(
                "method.response.header.X-Kind".to_string(),
                format!("'{status}'"),
            )]),
            response_templates: Map::from([(
                "application/json".to_string(),
                format!("{{\"s\":{status}}}"),
            )]),
            content_handling: None,
        }
    }

    #[test]
    fn selection_by_pattern_then_default() {
        let mut i = Integration::new(IntegrationType::Mock);
        i.integration_responses
            .insert("200".into(), ir("200", None));
        i.integration_responses
            .insert("404".into(), ir("404", Some("4\\d\\d")));
        let r = IntegrationResponses::compile(&i, &Map::new(), |_| {}).unwrap();
        assert_eq!(r.select("404").unwrap().status, 404);
        assert_eq!(r.select("200").unwrap().status, 200);
        assert_eq!(
            r.select("1404").unwrap().status,
            200,
            "patterns match whole strings"
        );
        assert_eq!(r.select("404").unwrap().headers[0].1, "404");
    }

    #[test]
    fn select_status_formats_only_for_patterns() {
        let mut i = Integration::new(IntegrationType::Mock);
        i.integration_responses
            .insert("200".into(), ir("200", None));
        let r = IntegrationResponses::compile(&i, &Map::new(), |_| {}).unwrap();
        assert_eq!(r.select_status(503).unwrap().status, 200);
        i.integration_responses
            .insert("500".into(), ir("500", Some("5\\d{2}")));
        let r = IntegrationResponses::compile(&i, &Map::new(), |_| {}).unwrap();
        assert_eq!(r.select_status(503).unwrap().status, 500);
        assert_eq!(r.select_status(7).unwrap().status, 200);
        assert_eq!(r.select_status(65535).unwrap().status, 200);
    }

    #[test]
    fn bad_pattern_is_an_error() {
        let mut i = Integration::new(IntegrationType::Mock);
        i.integration_responses
            .insert("200".into(), ir("200", Some("(")));
        assert!(IntegrationResponses::compile(&i, &Map::new(), |_| {}).is_err());
    }

    #[test]
    fn java_only_pattern_features_select_through_the_backtracking_engine() {
        let mut i = Integration::new(IntegrationType::Mock);
        i.integration_responses
            .insert("200".into(), ir("200", None));
        // Any 4xx but 404 (look-ahead); a repeated digit (back-reference); possessive.
        i.integration_responses
            .insert("400".into(), ir("400", Some("(?!404)4\\d\\d")));
        i.integration_responses
            .insert("500".into(), ir("500", Some("5(\\d)\\1")));
        i.integration_responses
            .insert("502".into(), ir("502", Some(".*Timeout.*+")));
        let r = IntegrationResponses::compile(&i, &Map::new(), |_| {}).unwrap();
        assert_eq!(r.select("403").unwrap().status, 400);
        assert_eq!(r.select("404").unwrap().status, 200);
        assert_eq!(r.select("511").unwrap().status, 500);
        assert_eq!(r.select("512").unwrap().status, 200);
        assert_eq!(r.select("Task Timeout").unwrap().status, 502);
        // A selector that would backtrack for ever runs out of budget: no match, no hang.
        let mut i = Integration::new(IntegrationType::Mock);
        i.integration_responses
            .insert("200".into(), ir("200", None));
        i.integration_responses
            .insert("500".into(), ir("500", Some("(a+)+b\\1")));
        let r = IntegrationResponses::compile(&i, &Map::new(), |_| {}).unwrap();
        assert_eq!(r.select(&"a".repeat(64)).unwrap().status, 200);
    }

    #[test]
    fn template_selection_and_passthrough() {
        let mut i = Integration::new(IntegrationType::Mock);
        i.request_templates
            .insert("application/json".into(), "{\"statusCode\": 200}".into());
        let t = RequestTemplates::compile(&i, |_| {});
        assert!(matches!(t.select(None), Selected::Template(..)));
        assert!(matches!(
            t.select(Some("application/json; charset=utf-8")),
            Selected::Template(..)
        ));
        assert!(matches!(
            t.select(Some("text/plain")),
            Selected::Passthrough
        ));
        i.passthrough_behavior = Some("NEVER".into());
        let t = RequestTemplates::compile(&i, |_| {});
        assert!(matches!(
            t.select(Some("text/plain")),
            Selected::Unsupported
        ));
        i.passthrough_behavior = Some("WHEN_NO_TEMPLATES".into());
        let t = RequestTemplates::compile(&i, |_| {});
        assert!(matches!(
            t.select(Some("text/plain")),
            Selected::Unsupported
        ));
    }
}

#[cfg(test)]
mod override_tests {
    use super::*;

    #[test]
    fn overrides_are_read_back_from_context() {
        let (t, e) = MappingTemplate::compile(
            "#set($context.requestOverride.header.x-overridden = \"by-template\")\n#set($context.responseOverride.status = 418)\n{}",
        );
        assert_eq!(e, None);
        let inputs = crate::templating::TemplateInputs {
            context: crate::templating::context_value(
                serde_json::json!({"requestOverride": {"header": {}, "querystring": {}, "path": {}}, "responseOverride": {"header": {}}}),
            ),
            ..Default::default()
        };
        let (out, o) = t.render_full(inputs).unwrap();
        assert_eq!(out, "{}");
        assert_eq!(o.status, Some(418));
        let (t, _) = MappingTemplate::compile(
            "#set($context.requestOverride.header.multi = [\"a\", \"b\"])#set($context.requestOverride.querystring.q = [\"1\", \"2\"])",
        );
        let inputs = crate::templating::TemplateInputs {
            context: crate::templating::context_value(
                serde_json::json!({"requestOverride": {"header": {}, "querystring": {}, "path": {}}, "responseOverride": {"header": {}}}),
            ),
            ..Default::default()
        };
        let (_, o2) = t.render_full(inputs).unwrap();
        assert_eq!(
            o2.request_headers,
            vec![("multi".into(), "a".into()), ("multi".into(), "b".into())]
        );
        assert_eq!(
            o2.request_query,
            vec![("q".into(), "1".into()), ("q".into(), "2".into())]
        );
        let mut h = http::HeaderMap::new();
        h.insert("multi", HeaderValue::from_static("old"));
        set_headers(&mut h, &o2.request_headers);
        assert_eq!(h.get_all("multi").iter().collect::<Vec<_>>(), ["a", "b"]);
        assert_eq!(
            o.request_headers,
            vec![("x-overridden".to_string(), "by-template".to_string())]
        );
    }

    #[test]
    fn carried_overrides_pass_a_template_that_cannot_see_context() {
        let (set, _) = MappingTemplate::compile(
            "#set($context.responseOverride.status = 418)#set($context.requestOverride.header.h = 'v')",
        );
        let inputs = || crate::templating::TemplateInputs {
            context: crate::templating::context_value(
                serde_json::json!({"requestOverride": {"header": {}, "querystring": {}, "path": {}}, "responseOverride": {"header": {}}}),
            ),
            ..Default::default()
        };
        let (_, first) = set.render_full(inputs()).unwrap();
        for src in ["$input.json('$')", "$context.stage", "static"] {
            let (t, _) = MappingTemplate::compile(src);
            assert_eq!(t.reads_context(), src.contains("context"));
            let mut i = inputs();
            i.overrides = first.state.clone();
            let (_, o) = t.render_full(i).unwrap();
            assert_eq!(o.status, Some(418), "{src}");
            assert_eq!(
                o.request_headers,
                [("h".to_owned(), "v".to_owned())],
                "{src}"
            );
        }
        let (t, _) = MappingTemplate::compile("$input.json('$')");
        assert!(t.render_full(inputs()).unwrap().1.state.is_none());
    }

    #[test]
    fn response_template_follows_accept() {
        use portico_model::{IntegrationResponse, IntegrationType};
        let mut i = Integration::new(IntegrationType::Mock);
        i.integration_responses.insert(
            "200".into(),
            IntegrationResponse {
                status_code: "200".into(),
                selection_pattern: None,
                response_parameters: Map::new(),
                response_templates: Map::from([
                    ("application/xml".to_string(), "<ok/>".to_string()),
                    ("application/json".to_string(), "{}".to_string()),
                    ("text/plain".to_string(), "ok".to_string()),
                ]),
                content_handling: None,
            },
        );
        let r = IntegrationResponses::compile(&i, &Map::new(), |_| {}).unwrap();
        let ir = r.select_status(200).unwrap();
        let pick = |accept: Option<&str>| ir.template_for(accept).unwrap().1.render().to_owned();
        assert_eq!(pick(None), "{}");
        assert_eq!(pick(Some("*/*")), "{}");
        assert_eq!(pick(Some("application/xml")), "<ok/>");
        assert_eq!(pick(Some("image/png, text/plain;q=0.5")), "ok");
        assert_eq!(pick(Some("Application/XML")), "<ok/>");
    }
}
