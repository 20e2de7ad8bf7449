//! `GET /metrics`: the node's counters in the Prometheus text format (0.0.4), encoded by
//! `prometheus-client`.
//!
//! Two kinds of series:
//! - **HTTP requests**, counted as they are answered ([`HttpMetrics`]): requests by route
//!   template, method and status, and their latency by route. Routes are templates
//!   (`/result/{id}`), never raw paths, so the number of series stays bounded whatever clients
//!   send.
//! - **Everything else** is read from the node's own state at scrape time (`Snapshot`): the
//!   meter (messages, errors, fuel, evaluation time), the processes resident under the memory
//!   budget, the hasher (bytes and batches per engine, GPU busy time), the executors (queue
//!   depth, busy ratio, jobs per CPU), the store file. Nothing is counted twice: `/metrics`
//!   and `~meta@1.0/info/metering` read the same counters.
//!
//! Names follow Prometheus' rules: an `aocu_` prefix, base units in the name (`_seconds`,
//! `_bytes`), counters ending in `_total`. The Node CU's own series map as:
//! `http_request_duration_seconds` → `aocu_http_request_duration_seconds`, its evaluation
//! counters → `aocu_messages_evaluated_total`, `ao_process_total` →
//! `aocu_processes_resident` (what it counts is the processes in its memory cache), its
//! worker gauges → `aocu_executor_*`.

use std::time::Duration;

use hyper::Method;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, NoLabelSet};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use super::NodeState;
use super::response::{ApiError, HttpResponse, with_body};
use crate::ao::Id;

/// Labels of one series: (name, value) pairs.
type Labels = Vec<(&'static str, String)>;

/// Upper bounds (seconds) of the HTTP latency histogram: 1 ms to 60 s.
const LATENCY_BUCKETS: [f64; 14] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 60.0,
];

/// The labels of one request series. Only `&'static str` and integers: counting a request
/// allocates nothing.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct RequestLabels {
    route: &'static str,
    method: &'static str,
    status: u16,
}

/// The labels of one latency series.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct RouteLabels {
    route: &'static str,
}

/// What the HTTP server counts as it answers.
#[derive(Debug, Clone)]
pub struct HttpMetrics {
    requests: Family<RequestLabels, Counter>,
    latency: Family<RouteLabels, Histogram>,
}

impl Default for HttpMetrics {
    fn default() -> HttpMetrics {
        HttpMetrics {
            requests: Family::default(),
            latency: Family::new_with_constructor(|| Histogram::new(LATENCY_BUCKETS)),
        }
    }
}

impl HttpMetrics {
    /// Count one answered request.
    pub fn observe(&self, method: &Method, path: &str, status: u16, elapsed: Duration) {
        let route = route_template(path);
        let labels = RequestLabels {
            route,
            method: method_label(method),
            status,
        };
        self.requests.get_or_create(&labels).inc();
        self.latency
            .get_or_create(&RouteLabels { route })
            .observe(elapsed.as_secs_f64());
    }
}

/// A method as a label: the standard ones by name, anything else as `other` (a client must
/// not be able to create series).
fn method_label(method: &Method) -> &'static str {
    const KNOWN: [(Method, &str); 9] = [
        (Method::GET, "GET"),
        (Method::HEAD, "HEAD"),
        (Method::POST, "POST"),
        (Method::PUT, "PUT"),
        (Method::DELETE, "DELETE"),
        (Method::OPTIONS, "OPTIONS"),
        (Method::PATCH, "PATCH"),
        (Method::CONNECT, "CONNECT"),
        (Method::TRACE, "TRACE"),
    ];
    KNOWN
        .iter()
        .find(|(known, _)| known == method)
        .map_or("other", |(_, name)| name)
}

/// The route a path belongs to, as a template with a bounded set of values.
pub fn route_template(path: &str) -> &'static str {
    let mut segments = path.split('/').filter(|s| !s.is_empty());
    let (first, second) = (segments.next(), segments.next());
    match first {
        None => "/",
        Some("~meta@1.0") => "/~meta@1.0",
        Some("~module@1.0") => "/~module@1.0",
        Some("graphql") => "/graphql",
        Some("raw") => "/raw/{id}",
        Some("healthcheck") => "/healthcheck",
        Some("metrics") => "/metrics",
        Some("timestamp") => "/timestamp",
        Some("processes") => "/processes/{id}",
        Some("result") => "/result/{id}",
        Some("results") => "/results/{process}",
        Some("dry-run") => "/dry-run",
        Some("state") => "/state/{process}",
        Some("cron") => "/cron/{process}",
        Some("snapshot") => "/snapshot/{process}",
        Some("status") => "/status",
        Some(first) if first.ends_with(super::cu::PROCESS_DEVICE) => "/{process}~process@1.0",
        Some(first) if first.parse::<Id>().is_ok() => match second {
            None => "/{process}",
            Some("latest") => "/{process}/latest",
            Some(_) => "/{process}/other",
        },
        Some(_) => "other",
    }
}

/// `GET /metrics`.
pub fn get(state: &NodeState) -> Result<HttpResponse, ApiError> {
    let mut registry = Registry::default();
    registry.register(
        "aocu_http_requests",
        "HTTP requests answered, by route template, method and status",
        state.http_metrics.requests.clone(),
    );
    registry.register(
        "aocu_http_request_duration_seconds",
        "Time from a request's head to its answer, by route template",
        state.http_metrics.latency.clone(),
    );
    registry.register_collector(Box::new(Snapshot::of(state)));
    let mut text = String::new();
    prometheus_client::encoding::prometheus_text::encode(&mut text, &registry)
        .map_err(|e| ApiError::internal(format!("cannot encode the metrics: {e}")))?;
    Ok(with_body(
        hyper::StatusCode::OK,
        prometheus_client::encoding::prometheus_text::CONTENT_TYPE,
        text.into(),
    ))
}

/// One value of a series.
#[derive(Debug, Clone, Copy)]
enum Value {
    Counter(u64),
    CounterSeconds(f64),
    Gauge(i64),
    GaugeRatio(f64),
}

/// One family: name (counters without `_total`: the encoder adds it), help, its series.
#[derive(Debug)]
struct Series {
    name: &'static str,
    help: &'static str,
    samples: Vec<(Labels, Value)>,
}

/// Every series read from the node's state at one scrape.
#[derive(Debug)]
struct Snapshot {
    series: Vec<Series>,
    evaluations: crate::meter::Durations,
}

impl Snapshot {
    fn of(state: &NodeState) -> Snapshot {
        let mut series = Vec::new();
        let mut one = |name, help, value| {
            series.push(Series {
                name,
                help,
                samples: vec![(Vec::new(), value)],
            })
        };
        let build = crate::node::build_info();
        let totals = state.meter.node_totals();
        one(
            "aocu_messages_evaluated",
            "Messages evaluated (dry-runs excluded), kept across restarts",
            Value::Counter(totals.messages),
        );
        one(
            "aocu_message_errors",
            "Evaluated messages whose result is an Error",
            Value::Counter(totals.errors),
        );
        one(
            "aocu_fuel",
            "Wasm fuel (instructions) used by evaluated messages",
            Value::Counter(totals.fuel),
        );
        one(
            "aocu_message_peak_memory_bytes",
            "Largest memory any evaluated message ran with",
            Value::Gauge(saturating_i64(totals.peak_memory_bytes)),
        );
        if let Some(cu) = &state.cu {
            let budget = cu.budget().to_json();
            let field = |key: &str| budget[key].as_u64().unwrap_or(0);
            one(
                "aocu_processes_resident",
                "Processes held in memory by the executors",
                Value::Gauge(saturating_i64(field("resident-processes"))),
            );
            one(
                "aocu_processes_resident_bytes",
                "Linear memory of the processes held in memory",
                Value::Gauge(saturating_i64(field("resident-bytes"))),
            );
            one(
                "aocu_process_memory_budget_bytes",
                "Bound on the memory of resident processes (process-memory-budget-bytes)",
                Value::Gauge(saturating_i64(field("budget-bytes"))),
            );
            one(
                "aocu_process_evictions",
                "Processes checkpointed and dropped to stay within the memory budget",
                Value::Counter(field("evictions")),
            );
            one(
                "aocu_process_restores",
                "Evicted processes loaded again",
                Value::Counter(field("restores")),
            );
        }
        if let Ok(ledger) = state.store.account(crate::store::AccountOf::Node) {
            series.extend(charge_series(&ledger, &state.price.get().currency));
        }
        let hashing = crate::hash::shared().stats();
        series.push(per_engine(
            "aocu_hashed_bytes",
            "Bytes hashed by the node's hasher, by engine",
            [hashing.cpu_bytes, hashing.gpu_bytes],
        ));
        series.push(per_engine(
            "aocu_hash_batches",
            "Batches hashed by the node's hasher, by engine",
            [hashing.cpu_batches, hashing.gpu_batches],
        ));
        series.push(Series {
            name: "aocu_gpu_busy_seconds",
            help: "Time from GPU batch submission to digests back",
            samples: vec![(
                Vec::new(),
                Value::CounterSeconds(hashing.gpu_busy_ns as f64 / 1e9),
            )],
        });
        series.extend(verification_series(&crate::verify::shared().stats()));
        if let Some(executors) = &state.executors {
            series.extend(executor_series(&executors.snapshot()));
        }
        if let Ok(file) = std::fs::metadata(state.store.path()) {
            series.push(Series {
                name: "aocu_store_bytes",
                help: "Size of the store's database file",
                samples: vec![(Vec::new(), Value::Gauge(saturating_i64(file.len())))],
            });
        }
        series.push(Series {
            name: "aocu_build_info",
            help: "The running build: always 1, its version and source commit as labels",
            samples: vec![(
                vec![("version", build.version), ("commit", build.source)],
                Value::Gauge(1),
            )],
        });
        Snapshot {
            series,
            evaluations: state.meter.durations(),
        }
    }
}

/// What the ledger charged (in the schedule's currency, by kind of evaluation) and the
/// dry-runs it counted. Read from the store: they survive restarts, as the ledger does.
fn charge_series(ledger: &crate::store::Account, currency: &str) -> [Series; 2] {
    let of = |kind: &'static str| vec![("kind", kind.to_string()), ("currency", currency.into())];
    let whole = |v: u128| Value::Counter(u64::try_from(v).unwrap_or(u64::MAX));
    let messages = ledger.charged.saturating_sub(ledger.charged_dry_runs);
    [
        Series {
            name: "aocu_charged",
            help: "Amount the ledger charged, by kind (message, dry-run), in the schedule's currency",
            samples: vec![
                (of("message"), whole(messages)),
                (of("dry-run"), whole(ledger.charged_dry_runs)),
            ],
        },
        Series {
            name: "aocu_dry_runs",
            help: "Dry-runs evaluated and charged, kept across restarts",
            samples: vec![(Vec::new(), Value::Counter(ledger.dry_runs))],
        },
    ]
}

/// Queue depth, busy ratio and jobs of each executor, labelled by index and CPU.
fn executor_series(stats: &[crate::exec::ExecutorStats]) -> Vec<Series> {
    let labels = |s: &crate::exec::ExecutorStats| {
        vec![
            ("executor", s.index.to_string()),
            (
                "cpu",
                s.cpu.map_or_else(|| "none".to_string(), |c| c.to_string()),
            ),
        ]
    };
    let each = |name, help, value: fn(&crate::exec::ExecutorStats) -> Value| Series {
        name,
        help,
        samples: stats.iter().map(|s| (labels(s), value(s))).collect(),
    };
    vec![
        each(
            "aocu_executor_queue_depth",
            "Jobs waiting in an executor's queue",
            |s| Value::Gauge(saturating_i64(s.queue_depth as u64)),
        ),
        each(
            "aocu_executor_busy_ratio",
            "Share of an executor's uptime spent running jobs",
            |s| Value::GaugeRatio(s.utilization),
        ),
        each("aocu_executor_jobs", "Jobs an executor finished", |s| {
            Value::Counter(s.jobs_done)
        }),
        each(
            "aocu_executor_processes",
            "Processes an executor holds in memory",
            |s| Value::Gauge(saturating_i64(s.processes as u64)),
        ),
    ]
}

/// A counter with one series per hashing engine: `[cpu, gpu]`.
fn per_engine(name: &'static str, help: &'static str, [cpu, gpu]: [u64; 2]) -> Series {
    let engine = |name: &str| vec![("engine", name.to_string())];
    Series {
        name,
        help,
        samples: vec![
            (engine("cpu"), Value::Counter(cpu)),
            (engine("gpu"), Value::Counter(gpu)),
        ],
    }
}

/// Signatures checked and failed by the node's verifier, labelled by engine and scheme.
fn verification_series(stats: &crate::verify::VerifyStats) -> [Series; 2] {
    let samples = |failed: bool| {
        [("cpu", &stats.cpu), ("gpu", &stats.gpu)]
            .into_iter()
            .flat_map(|(engine, e)| {
                e.schemes.iter().map(move |s| {
                    let labels = vec![
                        ("engine", engine.to_string()),
                        ("scheme", s.scheme.name().to_string()),
                    ];
                    (
                        labels,
                        Value::Counter(if failed { s.failed } else { s.checked }),
                    )
                })
            })
            .collect()
    };
    [
        Series {
            name: "aocu_signatures_checked",
            help: "Signatures checked by the node's verifier, by engine and scheme",
            samples: samples(false),
        },
        Series {
            name: "aocu_signatures_failed",
            help: "Signatures that did not hold, by engine and scheme",
            samples: samples(true),
        },
    ]
}

fn saturating_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

impl Collector for Snapshot {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        for series in &self.series {
            let kind = match series.samples.first() {
                Some((_, Value::Counter(_) | Value::CounterSeconds(_))) => MetricType::Counter,
                _ => MetricType::Gauge,
            };
            // Help ends in a period, as the registry writes it for the HTTP series.
            let help = format!("{}.", series.help);
            let mut family = encoder.encode_descriptor(series.name, &help, None, kind)?;
            for (labels, value) in &series.samples {
                let mut metric = family.encode_family(labels)?;
                match *value {
                    Value::Counter(v) => metric.encode_counter::<NoLabelSet, _, f64>(&v, None)?,
                    Value::CounterSeconds(v) => {
                        metric.encode_counter::<NoLabelSet, _, f64>(&v, None)?
                    }
                    Value::Gauge(v) => metric.encode_gauge(&v)?,
                    Value::GaugeRatio(v) => metric.encode_gauge(&v)?,
                }
            }
        }
        let times = &self.evaluations;
        let buckets: Vec<(f64, u64)> = crate::meter::EVALUATION_BUCKETS
            .iter()
            .copied()
            .chain([f64::INFINITY])
            .zip(times.buckets)
            .collect();
        let mut metric = encoder.encode_descriptor(
            "aocu_evaluation_duration_seconds",
            "Wall-clock time of each evaluated message since the node started.",
            None,
            MetricType::Histogram,
        )?;
        metric.encode_histogram::<NoLabelSet>(
            times.sum_ns as f64 / 1e9,
            times.count,
            &buckets,
            None,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_are_templates() {
        let id = "A".repeat(43);
        assert_eq!(route_template("/"), "/");
        assert_eq!(route_template(&format!("/result/{id}")), "/result/{id}");
        assert_eq!(route_template(&format!("/{id}")), "/{process}");
        assert_eq!(
            route_template(&format!("/{id}/latest")),
            "/{process}/latest"
        );
        assert_eq!(route_template("/~meta@1.0/info/metering"), "/~meta@1.0");
        assert_eq!(route_template("/no/such/thing"), "other");
        assert_eq!(route_template("/short-not-an-id"), "other");
    }
}
