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

#[derive(Default)]
struct Requests {
    /// (route, method, status) -> requests.
    counts: HashMap<(String, String, u16), u64>,
    latency: HashMap<String, Histogram>,
}

#[derive(Default)]
pub struct Metrics {
    requests: Mutex<Requests>,
    rows_imported: AtomicU64,
}

impl Metrics {
    /// Counts one request; `route` is the matched route, so the labels stay few.
    pub fn request(&self, route: &str, method: &str, status: u16, seconds: f64) {
        // Clients choose methods: any but the usual ones is one label, so that made-up
        // methods cannot grow the metrics without bound.
        const METHODS: [&str; 7] = ["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"];
        let method = if METHODS.contains(&method) { method } else { "OTHER" };
        let Ok(mut r) = self.requests.lock() else { return };
        match r.counts.get_mut(&(route.to_string(), method.to_string(), status)) {
            Some(n) => *n += 1,
            None => {
                r.counts.insert((route.to_string(), method.to_string(), status), 1);
            }
        }
        let h = match r.latency.get_mut(route) {
            Some(h) => h,
            None => r.latency.entry(route.to_string()).or_default(),
        };
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
        let r = match self.requests.lock() {
            Ok(r) => r,
            Err(poisoned) => poisoned.into_inner(),
        };
        out.push_str("# HELP callsheet_http_requests_total HTTP requests answered, by route, method and status.\n");
        out.push_str("# TYPE callsheet_http_requests_total counter\n");
        let mut counts: Vec<_> = r.counts.iter().collect();
        counts.sort();
        for ((route, method, status), n) in counts {
            let _ = writeln!(
                out,
                "callsheet_http_requests_total{{route=\"{}\",method=\"{method}\",status=\"{status}\"}} {n}",
                escape(route)
            );
        }
        out.push_str("# HELP callsheet_http_request_duration_seconds Time to answer a request, by route.\n");
        out.push_str("# TYPE callsheet_http_request_duration_seconds histogram\n");
        let mut routes: Vec<_> = r.latency.iter().collect();
        routes.sort_by(|a, b| a.0.cmp(b.0));
        for (route, h) in routes {
            let route = escape(route);
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
        drop(r);
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
