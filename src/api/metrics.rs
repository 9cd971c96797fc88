//! Prometheus metrics (GET /metrics): requests by route, method and status, their
//! latency by route, rows imported, and the database pool's use.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::store::PoolUse;

/// Upper bounds of the latency histogram's buckets, in seconds.
const BUCKETS: [f64; 14] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0];

#[derive(Default)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

/// One route's figures: requests by (method, status), and their latency.
#[derive(Default)]
struct Route {
    counts: HashMap<(&'static str, u16), u64>,
    latency: Histogram,
}

#[derive(Default)]
pub struct Metrics {
    /// By matched route: a request looks its route up by `&str` and allocates nothing
    /// but the first time a route is seen.
    routes: Mutex<HashMap<String, Route>>,
    rows_imported: AtomicU64,
}

/// Methods with a label of their own; clients choose methods, so any other is `OTHER`
/// and made-up methods cannot grow the metrics without bound.
const METHODS: [&str; 7] = ["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"];

impl Metrics {
    /// Counts one request; `route` is the matched route, so the labels stay few.
    pub fn request(&self, route: &str, method: &str, status: u16, seconds: f64) {
        let method = METHODS.iter().copied().find(|m| *m == method).unwrap_or("OTHER");
        let Ok(mut routes) = self.routes.lock() else { return };
        let r = match routes.get_mut(route) {
            Some(r) => r,
            None => routes.entry(route.to_string()).or_default(),
        };
        *r.counts.entry((method, status)).or_default() += 1;
        let h = &mut r.latency;
        h.count += 1;
        h.sum += seconds;
        if let Some(i) = BUCKETS.iter().position(|b| seconds <= *b) {
            h.counts[i] += 1;
        }
    }

    /// Counts rows added to campaigns or the CRM.
    pub fn rows_imported(&self, rows: i64) {
        self.rows_imported.fetch_add(rows.max(0) as u64, Ordering::Relaxed);
    }

    /// The text exposition format.
    pub fn render(&self, pool: PoolUse) -> String {
        let mut out = String::new();
        let routes = match self.routes.lock() {
            Ok(r) => r,
            Err(poisoned) => poisoned.into_inner(),
        };
        let mut sorted: Vec<(&String, &Route)> = routes.iter().collect();
        sorted.sort_by(|a, b| a.0.cmp(b.0));
        out.push_str("# HELP callsheet_http_requests_total HTTP requests answered, by route, method and status.\n");
        out.push_str("# TYPE callsheet_http_requests_total counter\n");
        for (route, r) in &sorted {
            let route = escape(route);
            let mut counts: Vec<_> = r.counts.iter().collect();
            counts.sort();
            for ((method, status), n) in counts {
                let _ = writeln!(
                    out,
                    "callsheet_http_requests_total{{route=\"{route}\",method=\"{method}\",status=\"{status}\"}} {n}"
                );
            }
        }
        out.push_str("# HELP callsheet_http_request_duration_seconds Time to answer a request, by route.\n");
        out.push_str("# TYPE callsheet_http_request_duration_seconds histogram\n");
        for (route, r) in &sorted {
            let (route, h) = (escape(route), &r.latency);
            let mut cumulative = 0;
            for (bound, n) in BUCKETS.iter().zip(h.counts) {
                cumulative += n;
                let _ = writeln!(
                    out,
                    "callsheet_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"{bound}\"}} {cumulative}"
                );
            }
            let _ = writeln!(
                out,
                "callsheet_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"+Inf\"}} {}",
                h.count
            );
            let _ = writeln!(out, "callsheet_http_request_duration_seconds_sum{{route=\"{route}\"}} {}", h.sum);
            let _ = writeln!(out, "callsheet_http_request_duration_seconds_count{{route=\"{route}\"}} {}", h.count);
        }
        drop(sorted);
        drop(routes);
        out.push_str("# HELP callsheet_rows_imported_total Rows added to campaigns and the CRM.\n");
        out.push_str("# TYPE callsheet_rows_imported_total counter\n");
        let _ = writeln!(out, "callsheet_rows_imported_total {}", self.rows_imported.load(Ordering::Relaxed));
        out.push_str("# HELP callsheet_db_pool_connections Database connections, by state.\n");
        out.push_str("# TYPE callsheet_db_pool_connections gauge\n");
        let _ = writeln!(out, "callsheet_db_pool_connections{{state=\"in_use\"}} {}", pool.in_use);
        let _ = writeln!(out, "callsheet_db_pool_connections{{state=\"idle\"}} {}", pool.idle);
        out
    }
}

fn escape(label: &str) -> String {
    label.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}
