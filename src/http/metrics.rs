//! Prometheus metrics, exposed as OpenMetrics text on `GET /metrics`.
//!
//! Request counts and latencies are recorded here as requests finish. Token metrics are not
//! mirrored into long-lived metric objects: they are read from [`TokenStats`] (atomics kept
//! by `hsm`) at each scrape and encoded as constant metrics, so `hsm` needs no metrics
//! library and there is no second copy of its counters to keep in step.
//!
//! Cardinality is bounded by construction: `route` is a `&'static str` (a route template
//! from the router, never the request path, which is not `'static`), `method` is folded to
//! the standard methods plus `other`, and `status` comes from our own responses. Nothing
//! secret can appear: the only inputs are those labels, durations and the counts in
//! `TokenStats`.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{CONTENT_TYPE as CONTENT_TYPE_HEADER, HeaderValue};
use hyper::{Method, Response, StatusCode};
use prometheus_client::encoding::text::{encode_eof, encode_registry};
use prometheus_client::encoding::{EncodeLabelSet, EncodeMetric, MetricEncoder, NoLabelSet};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Registry, Unit};

use super::Body;
use crate::hsm::{LatencySnapshot, SIGN_LATENCY_BOUNDS, TokenStats};
use crate::service::App;

/// What [`Metrics::render`] produces. prometheus-client writes OpenMetrics 1.0 text (with
/// `# EOF`, `_total` counters, `# UNIT` lines); Prometheus negotiates and parses it natively.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Request-duration buckets, 0.5 ms (a health check) to 10 s (the request timeout's order
/// of magnitude, e.g. RSA-4096 key generation); the same scale as the token's signing
/// latency so the two can be read side by side.
const REQUEST_DURATION_BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    route: &'static str,
    method: &'static str,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DurationLabels {
    route: &'static str,
    method: &'static str,
}

type HistogramFamily = Family<DurationLabels, Histogram, fn() -> Histogram>;

/// The daemon's metrics. Create once and share through an `Arc`; every method takes `&self`.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    durations: HistogramFamily,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("hsm_pki");
        let requests = Family::<RequestLabels, Counter>::default();
        // OpenMetrics appends `_total` to counters and the unit to names, so these become
        // `hsm_pki_http_requests_total` and `hsm_pki_http_request_duration_seconds`.
        registry.register(
            "http_requests",
            "HTTP requests answered, by route template, method and status",
            requests.clone(),
        );
        let durations: HistogramFamily =
            Family::new_with_constructor(|| Histogram::new(REQUEST_DURATION_BUCKETS));
        registry.register_with_unit(
            "http_request_duration",
            "Time from receiving a request to its response, by route template and method",
            Unit::Seconds,
            durations.clone(),
        );
        Metrics {
            registry,
            requests,
            durations,
        }
    }

    /// Record one answered request. `route` is the matched route template
    /// (`"/v1/keys/{keyId}"`), or `"unmatched"` when no route matched.
    pub fn observe_request(
        &self,
        route: &'static str,
        method: &Method,
        status: u16,
        elapsed: Duration,
    ) {
        let method = method_label(method);
        self.requests
            .get_or_create(&RequestLabels {
                route,
                method,
                status,
            })
            .inc();
        self.durations
            .get_or_create(&DurationLabels { route, method })
            .observe(elapsed.as_secs_f64());
    }

    /// The whole exposition ([`CONTENT_TYPE`]). `token` is `None` until the token has been
    /// opened, and then only `hsm_pki_token_up` is written: there are no counts to report
    /// yet, and a made-up zero pool size would be wrong. `token_up` is the daemon's view
    /// (the probe's last verdict), not `Token::is_healthy`, so it matches `/readyz`.
    pub fn render(&self, token: Option<&TokenStats>, token_up: bool) -> String {
        let token_registry = token_registry(token, token_up);
        let mut out = String::new();
        // Writing to a String cannot fail and every value here is encodable, so an error is
        // a bug in the encoder; log it rather than answer a scrape with a 500 forever.
        let result = encode_registry(&mut out, &self.registry)
            .and_then(|()| encode_registry(&mut out, &token_registry))
            .and_then(|()| encode_eof(&mut out));
        if result.is_err() {
            tracing::error!("metrics encoding failed");
        }
        out
    }

    /// The `GET /metrics` response. Reads only atomics and the health state: no token or
    /// database call, so it runs on the async worker and answers while the token is down.
    pub fn response(&self, app: &App) -> Response<Body> {
        let stats = app.token().map(|t| t.stats());
        let text = self.render(stats.as_ref(), app.health.is_ready());
        let mut resp = Response::new(Full::new(Bytes::from(text)));
        *resp.status_mut() = StatusCode::OK;
        resp.headers_mut()
            .insert(CONTENT_TYPE_HEADER, HeaderValue::from_static(CONTENT_TYPE));
        resp
    }
}

/// Standard methods by name; anything else folds into one value, because the method is
/// client-chosen and an extension method per request would add a series per request.
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::OPTIONS => "OPTIONS",
        Method::CONNECT => "CONNECT",
        Method::TRACE => "TRACE",
        _ => "other",
    }
}

/// A throw-away registry holding this scrape's token values as constant metrics.
fn token_registry(token: Option<&TokenStats>, token_up: bool) -> Registry {
    let mut r = Registry::with_prefix("hsm_pki_token");
    r.register(
        "up",
        "1 when the token is logged in and passed its last health probe, else 0",
        ConstGauge::new(i64::from(token_up)),
    );
    let Some(s) = token else {
        return r;
    };
    r.register(
        "signatures",
        "Signatures made by the token",
        ConstCounter::new(s.signatures),
    );
    r.register(
        "sign_errors",
        "Signing attempts that failed",
        ConstCounter::new(s.sign_errors),
    );
    r.register(
        "reconnects",
        "Attempts to rebuild the PKCS#11 context after a failed health probe",
        ConstCounter::new(s.reconnects),
    );
    r.register(
        "sessions_in_use",
        "Operation sessions checked out of the pool",
        ConstGauge::new(s.sessions_in_use as i64),
    );
    r.register(
        "sessions_max",
        "Size limit of the operation-session pool",
        ConstGauge::new(s.sessions_max as i64),
    );
    r.register(
        "searches",
        "C_FindObjects searches; on SoftHSM each reads every object of the token",
        ConstCounter::new(s.searches),
    );
    r.register(
        "cached_keys",
        "Keys whose handles are kept in memory (at most token.key_cache_size)",
        ConstGauge::new(s.cached_keys as i64),
    );
    r.register_with_unit(
        "sign_duration",
        "Time spent signing a digest, pool wait and failures included",
        Unit::Seconds,
        LatencyHistogram(s.sign_latency),
    );
    r
}

/// `hsm`'s fixed-bucket snapshot, encoded as an OpenMetrics histogram.
#[derive(Debug)]
struct LatencyHistogram(LatencySnapshot);

impl EncodeMetric for LatencyHistogram {
    fn encode(&self, mut encoder: MetricEncoder) -> Result<(), std::fmt::Error> {
        // Per-bucket counts, as the encoder expects (it accumulates them itself).
        let buckets: Vec<(f64, u64)> = SIGN_LATENCY_BOUNDS
            .iter()
            .map(Duration::as_secs_f64)
            .chain(std::iter::once(f64::INFINITY))
            .zip(self.0.buckets)
            .collect();
        encoder.encode_histogram::<NoLabelSet>(
            self.0.sum().as_secs_f64(),
            self.0.count(),
            &buckets,
            None,
        )
    }

    fn metric_type(&self) -> MetricType {
        MetricType::Histogram
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hsm::SIGN_LATENCY_BUCKETS;

    fn line<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
        text.lines().find(|l| l.starts_with(prefix))
    }

    /// The value of the sample whose name-and-labels part is exactly `series`.
    fn value(text: &str, series: &str) -> Option<String> {
        text.lines()
            .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
            .map(str::to_owned)
    }

    #[test]
    fn requests_are_counted_by_route_method_and_status() {
        let m = Metrics::new();
        let keys = "/v1/keys/{keyId}";
        m.observe_request(keys, &Method::GET, 200, Duration::from_millis(3));
        m.observe_request(keys, &Method::GET, 200, Duration::from_millis(30));
        m.observe_request(keys, &Method::DELETE, 404, Duration::from_micros(200));
        m.observe_request("unmatched", &Method::GET, 404, Duration::from_micros(100));
        let text = m.render(None, false);

        assert!(text.contains("# TYPE hsm_pki_http_requests counter"));
        assert_eq!(
            value(
                &text,
                r#"hsm_pki_http_requests_total{route="/v1/keys/{keyId}",method="GET",status="200"}"#
            )
            .as_deref(),
            Some("2")
        );
        assert_eq!(
            value(
                &text,
                r#"hsm_pki_http_requests_total{route="/v1/keys/{keyId}",method="DELETE",status="404"}"#
            )
            .as_deref(),
            Some("1")
        );
        assert_eq!(
            value(
                &text,
                r#"hsm_pki_http_requests_total{route="unmatched",method="GET",status="404"}"#
            )
            .as_deref(),
            Some("1")
        );

        assert!(text.contains("# TYPE hsm_pki_http_request_duration_seconds histogram"));
        assert!(text.contains("# UNIT hsm_pki_http_request_duration_seconds seconds"));
        let h = r#"hsm_pki_http_request_duration_seconds"#;
        let get = r#"route="/v1/keys/{keyId}",method="GET""#;
        assert_eq!(
            value(&text, &format!("{h}_count{{{get}}}")).as_deref(),
            Some("2")
        );
        // 3 ms falls in le=0.005, 30 ms only from le=0.05 on; buckets are cumulative and
        // prometheus-client writes `le` first.
        assert_eq!(
            value(&text, &format!(r#"{h}_bucket{{le="0.0025",{get}}}"#)).as_deref(),
            Some("0")
        );
        assert_eq!(
            value(&text, &format!(r#"{h}_bucket{{le="0.005",{get}}}"#)).as_deref(),
            Some("1")
        );
        assert_eq!(
            value(&text, &format!(r#"{h}_bucket{{le="0.05",{get}}}"#)).as_deref(),
            Some("2")
        );
        assert_eq!(
            value(&text, &format!(r#"{h}_bucket{{le="+Inf",{get}}}"#)).as_deref(),
            Some("2")
        );
        let sum: f64 = value(&text, &format!("{h}_sum{{{get}}}"))
            .unwrap()
            .parse()
            .unwrap();
        assert!((sum - 0.033).abs() < 1e-9, "{sum}");
        // Buckets span 0.5 ms .. 10 s.
        assert!(text.contains(r#"le="0.0005""#));
        assert!(text.contains(r#"le="10.0""#));
        assert!(text.ends_with("# EOF\n"));
        assert_eq!(text.matches("# EOF").count(), 1);
    }

    #[test]
    fn nonstandard_methods_share_one_label_value() {
        let m = Metrics::new();
        let purge = Method::from_bytes(b"PURGE").unwrap();
        let brew = Method::from_bytes(b"BREW").unwrap();
        m.observe_request("unmatched", &purge, 405, Duration::from_millis(1));
        m.observe_request("unmatched", &brew, 405, Duration::from_millis(1));
        let text = m.render(None, true);
        assert_eq!(
            value(
                &text,
                r#"hsm_pki_http_requests_total{route="unmatched",method="other",status="405"}"#
            )
            .as_deref(),
            Some("2")
        );
        assert!(!text.contains("PURGE") && !text.contains("BREW"));
    }

    #[test]
    fn token_metrics_come_from_the_given_stats() {
        let mut buckets = [0u64; SIGN_LATENCY_BUCKETS];
        buckets[0] = 3; // <= 0.5 ms
        buckets[3] = 1; // (2.5 ms, 5 ms]
        buckets[SIGN_LATENCY_BUCKETS - 1] = 1; // > 10 s
        let stats = TokenStats {
            signatures: 4,
            sign_errors: 1,
            reconnects: 2,
            sessions_in_use: 3,
            sessions_max: 8,
            searches: 6,
            cached_keys: 7,
            sign_latency: LatencySnapshot {
                buckets,
                sum_nanos: 12_500_000_000,
            },
        };
        let text = Metrics::new().render(Some(&stats), true);

        for (series, v) in [
            ("hsm_pki_token_signatures_total", "4"),
            ("hsm_pki_token_sign_errors_total", "1"),
            ("hsm_pki_token_reconnects_total", "2"),
            ("hsm_pki_token_up", "1"),
            ("hsm_pki_token_sessions_in_use", "3"),
            ("hsm_pki_token_sessions_max", "8"),
            ("hsm_pki_token_searches_total", "6"),
            ("hsm_pki_token_cached_keys", "7"),
            ("hsm_pki_token_sign_duration_seconds_count", "5"),
            ("hsm_pki_token_sign_duration_seconds_sum", "12.5"),
            (
                r#"hsm_pki_token_sign_duration_seconds_bucket{le="0.0005"}"#,
                "3",
            ),
            (
                r#"hsm_pki_token_sign_duration_seconds_bucket{le="0.0025"}"#,
                "3",
            ),
            (
                r#"hsm_pki_token_sign_duration_seconds_bucket{le="0.005"}"#,
                "4",
            ),
            (
                r#"hsm_pki_token_sign_duration_seconds_bucket{le="10.0"}"#,
                "4",
            ),
            (
                r#"hsm_pki_token_sign_duration_seconds_bucket{le="+Inf"}"#,
                "5",
            ),
        ] {
            assert_eq!(value(&text, series).as_deref(), Some(v), "{series}\n{text}");
        }
        assert!(text.contains("# TYPE hsm_pki_token_signatures counter"));
        assert!(text.contains("# TYPE hsm_pki_token_up gauge"));
        assert!(text.contains("# TYPE hsm_pki_token_sign_duration_seconds histogram"));
        assert!(text.ends_with("# EOF\n"));
        assert_eq!(text.matches("# EOF").count(), 1);
    }

    #[test]
    fn without_a_token_only_up_is_reported() {
        let text = Metrics::new().render(None, false);
        assert_eq!(value(&text, "hsm_pki_token_up").as_deref(), Some("0"));
        assert!(line(&text, "hsm_pki_token_signatures").is_none());
        assert!(line(&text, "hsm_pki_token_sessions").is_none());
        assert!(line(&text, "hsm_pki_token_sign_duration").is_none());
        // Up but not yet open cannot happen in the daemon; still no invented numbers.
        let text = Metrics::new().render(None, true);
        assert_eq!(value(&text, "hsm_pki_token_up").as_deref(), Some("1"));
    }

    /// Only counts and the documented low-cardinality labels ever leave: no label that
    /// could carry a key id, a PIN or a request path.
    #[test]
    fn only_documented_labels_appear() {
        let m = Metrics::new();
        m.observe_request(
            "/v1/keys/{keyId}",
            &Method::POST,
            201,
            Duration::from_millis(2),
        );
        let stats = TokenStats {
            signatures: 1,
            sessions_max: 4,
            ..TokenStats::default()
        };
        let text = m.render(Some(&stats), true);
        for l in text.lines().filter(|l| !l.starts_with('#')) {
            let (series, v) = l.rsplit_once(' ').unwrap();
            assert!(v.parse::<f64>().is_ok(), "{l}");
            assert!(series.starts_with("hsm_pki_"), "{l}");
            let Some(labels) = series.split_once('{').map(|(_, rest)| rest) else {
                continue;
            };
            for pair in labels.trim_end_matches('}').split(',') {
                let name = pair.split('=').next().unwrap();
                assert!(["route", "method", "status", "le"].contains(&name), "{l}");
            }
        }
    }

    #[test]
    fn response_reports_the_apps_token_state() {
        use http_body_util::BodyExt;
        let dir = tempfile::tempdir().unwrap();
        let store = crate::store::Store::open(&dir.path().join("db.sqlite")).unwrap();
        let app = App::new(std::sync::Arc::new(store), 2);
        let m = Metrics::new();
        m.observe_request("/metrics", &Method::GET, 200, Duration::from_micros(700));

        let resp = m.response(&app);
        assert_eq!(resp.status(), StatusCode::OK);
        assert_eq!(resp.headers()[CONTENT_TYPE_HEADER], CONTENT_TYPE);
        let body = futures_body(resp.into_body().collect());
        let text = std::str::from_utf8(&body).unwrap();
        // No token opened yet: the probe has not said Ready, and there are no counts.
        assert_eq!(value(text, "hsm_pki_token_up").as_deref(), Some("0"));
        assert!(line(text, "hsm_pki_token_signatures").is_none());
        assert_eq!(
            value(
                text,
                r#"hsm_pki_http_requests_total{route="/metrics",method="GET",status="200"}"#
            )
            .as_deref(),
            Some("1")
        );
    }

    /// A `Full` body is ready at once; poll its collect future to completion without a
    /// runtime.
    fn futures_body<F>(fut: F) -> Bytes
    where
        F: std::future::Future<
                Output = Result<http_body_util::Collected<Bytes>, std::convert::Infallible>,
            >,
    {
        let mut fut = std::pin::pin!(fut);
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        match fut.as_mut().poll(&mut cx) {
            std::task::Poll::Ready(Ok(c)) => c.to_bytes(),
            _ => panic!("a Full body is ready at once"),
        }
    }
}
