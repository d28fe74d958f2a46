//! Prometheus metrics with the CloudWatch metric names of `AWS/ApiGateway`: `Count`, `4XXError`,
//! `5XXError`, `Latency`, `IntegrationLatency`, labelled by api, stage, resource and method.
//!
//! Each route gets its [`RouteMetrics`] handle when a stage is compiled, so recording a request is a
//! few relaxed atomic adds — no label hashing or locking on the request path. Handles are kept in
//! the registry across deployments, so counters survive redeploys. A handle is small until its
//! route is used: the two histograms are allocated by their first observation, and the label
//! values a stage's routes have in common are shared.
//! (Hand-written rather than `prometheus-client`: that crate forces the OpenMetrics `_total`
//! suffix, which would change the CloudWatch names, and its label families lock per lookup.)

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

/// Histogram bucket upper bounds, in milliseconds (CloudWatch reports latency in ms).
const BUCKETS_MS: [f64; 14] = [
    1.0, 2.0, 5.0, 10.0, 25.0, 50.0, 100.0, 250.0, 500.0, 1000.0, 2500.0, 5000.0, 10000.0, 29000.0,
];

/// A lock-free latency histogram.
#[derive(Debug, Default)]
pub struct Histogram {
    buckets: [AtomicU64; BUCKETS_MS.len()],
    count: AtomicU64,
    sum_micros: AtomicU64,
}

impl Histogram {
    /// Records one observation.
    pub fn observe(&self, d: Duration) {
        let ms = d.as_secs_f64() * 1000.0;
        if let Some(i) = BUCKETS_MS.iter().position(|b| ms <= *b) {
            self.buckets[i].fetch_add(1, Relaxed);
        }
        self.count.fetch_add(1, Relaxed);
        self.sum_micros
            .fetch_add(d.as_micros().min(u64::MAX as u128) as u64, Relaxed);
    }
}

/// A histogram allocated by its first observation (most routes of a large table never see one).
#[derive(Debug, Default)]
pub struct LazyHistogram(OnceLock<Box<Histogram>>);

impl LazyHistogram {
    /// Records one observation.
    pub fn observe(&self, d: Duration) {
        self.0.get_or_init(Box::default).observe(d);
    }

    /// The histogram, `None` before the first observation (all zeros).
    pub fn get(&self) -> Option<&Histogram> {
        self.0.get().map(|h| &**h)
    }
}

/// The metrics of one (api, stage, resource, method).
#[derive(Debug, Default)]
pub struct RouteMetrics {
    /// `Count`.
    pub count: AtomicU64,
    /// `4XXError`.
    pub client_errors: AtomicU64,
    /// `5XXError`.
    pub server_errors: AtomicU64,
    /// `Latency`.
    pub latency: LazyHistogram,
    /// `IntegrationLatency`.
    pub integration_latency: LazyHistogram,
}

impl RouteMetrics {
    /// Records a finished request.
    pub fn record(&self, status: u16, latency: Duration, integration: Option<Duration>) {
        self.count.fetch_add(1, Relaxed);
        match status {
            400..=499 => {
                self.client_errors.fetch_add(1, Relaxed);
            }
            500..=599 => {
                self.server_errors.fetch_add(1, Relaxed);
            }
            _ => {}
        }
        self.latency.observe(latency);
        if let Some(i) = integration {
            self.integration_latency.observe(i);
        }
    }
}

/// Label values identifying a series (shared: a stage's routes hold the same api and stage).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Labels {
    /// API id.
    pub api: Arc<str>,
    /// API name.
    pub api_name: Arc<str>,
    /// Stage name.
    pub stage: Arc<str>,
    /// Resource path (`""` for requests no resource matched).
    pub resource: Arc<str>,
    /// HTTP method (`""` when no route matched).
    pub method: Arc<str>,
}

/// All series of one gateway instance.
#[derive(Debug, Default)]
pub struct Registry {
    series: Mutex<BTreeMap<Labels, Arc<RouteMetrics>>>,
    /// Requests whose API or stage was unknown.
    pub unrouted: AtomicU64,
    /// Deployments published.
    pub reloads: AtomicU64,
}

impl Registry {
    /// The handle for a series, created on first use (deploy time, not request time).
    pub fn route(&self, labels: Labels) -> Arc<RouteMetrics> {
        let mut map = match self.series.lock() {
            Ok(m) => m,
            Err(poisoned) => poisoned.into_inner(),
        };
        map.entry(labels).or_default().clone()
    }

    /// The Prometheus text exposition (format 0.0.4).
    pub fn render(&self) -> String {
        let map = match self.series.lock() {
            Ok(m) => m,
            Err(poisoned) => poisoned.into_inner(),
        };
        let mut out = String::with_capacity(256 + map.len() * 1024);
        let counters: [(&str, &str, CounterGet); 3] = [
            ("Count", "Total API requests.", |m| m.count.load(Relaxed)),
            ("4XXError", "Client-side errors.", |m| {
                m.client_errors.load(Relaxed)
            }),
            ("5XXError", "Server-side errors.", |m| {
                m.server_errors.load(Relaxed)
            }),
        ];
        for (name, help, get) in counters {
            let _ = writeln!(out, "# HELP apigateway_{name} {help}");
            let _ = writeln!(out, "# TYPE apigateway_{name} counter");
            for (l, m) in map.iter() {
                let _ = writeln!(out, "apigateway_{name}{{{}}} {}", labels(l), get(m));
            }
        }
        let hists: [(&str, &str, HistogramGet); 2] = [
            (
                "Latency",
                "Milliseconds from request received to response returned.",
                |m| &m.latency,
            ),
            (
                "IntegrationLatency",
                "Milliseconds spent waiting for the integration.",
                |m| &m.integration_latency,
            ),
        ];
        for (name, help, get) in hists {
            let _ = writeln!(out, "# HELP apigateway_{name} {help}");
            let _ = writeln!(out, "# TYPE apigateway_{name} histogram");
            for (l, m) in map.iter() {
                let h = get(m).get();
                let ls = labels(l);
                let mut cumulative = 0;
                for (i, b) in BUCKETS_MS.iter().enumerate() {
                    cumulative += h.map_or(0, |h| h.buckets[i].load(Relaxed));
                    let _ = writeln!(
                        out,
                        "apigateway_{name}_bucket{{{ls},le=\"{b}\"}} {cumulative}"
                    );
                }
                let count = h.map_or(0, |h| h.count.load(Relaxed));
                let _ = writeln!(out, "apigateway_{name}_bucket{{{ls},le=\"+Inf\"}} {count}");
                let sum_ms = h.map_or(0, |h| h.sum_micros.load(Relaxed)) as f64 / 1000.0;
                let _ = writeln!(out, "apigateway_{name}_sum{{{ls}}} {sum_ms}");
                let _ = writeln!(out, "apigateway_{name}_count{{{ls}}} {count}");
            }
        }
        let _ = writeln!(
            out,
            "# HELP portico_unrouted_requests Requests for an unknown API or stage."
        );
        let _ = writeln!(out, "# TYPE portico_unrouted_requests counter");
        let _ = writeln!(
            out,
            "portico_unrouted_requests {}",
            self.unrouted.load(Relaxed)
        );
        let _ = writeln!(
            out,
            "# HELP portico_deployments_published Route tables published."
        );
        let _ = writeln!(out, "# TYPE portico_deployments_published counter");
        let _ = writeln!(
            out,
            "portico_deployments_published {}",
            self.reloads.load(Relaxed)
        );
        out
    }
}

type CounterGet = fn(&RouteMetrics) -> u64;
type HistogramGet = fn(&RouteMetrics) -> &LazyHistogram;

fn labels(l: &Labels) -> String {
    format!(
        "api=\"{}\",api_name=\"{}\",stage=\"{}\",resource=\"{}\",method=\"{}\"",
        escape(&l.api),
        escape(&l.api_name),
        escape(&l.stage),
        escape(&l.resource),
        escape(&l.method)
    )
}

fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_and_renders() {
        let r = Registry::default();
        let l = Labels {
            api: "a".into(),
            api_name: "n\"q".into(),
            stage: "dev".into(),
            resource: "/pets".into(),
            method: "GET".into(),
        };
        let m = r.route(l.clone());
        m.record(
            200,
            Duration::from_millis(3),
            Some(Duration::from_millis(2)),
        );
        m.record(404, Duration::from_millis(30), None);
        m.record(502, Duration::from_millis(30), None);
        assert!(Arc::ptr_eq(&m, &r.route(l)));
        let text = r.render();
        assert!(text.contains(r#"apigateway_Count{api="a",api_name="n\"q",stage="dev",resource="/pets",method="GET"} 3"#), "{text}");
        assert!(text.contains("apigateway_4XXError{"));
        assert!(text.contains(r#"le="5"} 1"#));
        assert!(text.contains("apigateway_IntegrationLatency_count{"));
    }
}
