//! Settings from flags and CALLSHEET_* variables.

use std::net::SocketAddr;

pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
pub const DEFAULT_DATABASE: &str = "sqlite://callsheet.db";

/// Limits on what one request may carry (CONTRACT §8).
#[derive(Debug, Clone)]
pub struct Limits {
    /// Largest request body, in bytes.
    pub upload_bytes: usize,
    /// Most entries in one `listcontacts`.
    pub listcontacts: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { upload_bytes: 100 * 1024 * 1024, listcontacts: 100_000 }
    }
}

/// What `callsheet serve` needs.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    pub listen: SocketAddr,
    pub database: String,
    pub limits: Limits,
}
