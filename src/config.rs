//! Settings from flags and CALLSHEET_* variables.

use std::net::SocketAddr;

pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
pub const DEFAULT_DATABASE: &str = "sqlite://callsheet.db";

/// Limits on what one request may carry (CONTRACT §8).
#[derive(Debug, Clone)]
pub struct Limits {
    /// Largest request body, in bytes.
    pub upload_bytes: usize,
    /// Largest JSON or urlencoded body, and the most text a multipart body's
    /// non-file fields may hold in all, in bytes.
    pub json_bytes: usize,
    /// Most entries in one `listcontacts` (or `phones` of add-by-phones).
    pub listcontacts: usize,
    /// Most data rows in one uploaded file.
    pub file_rows: usize,
    /// Most bytes an .xlsx may unpack to (the zip-bomb guard).
    pub unpacked_bytes: u64,
    /// Uploads of at least this many bytes run as jobs unless they say `async=0`
    /// (0: only when they say `async=1`).
    pub async_upload_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            upload_bytes: 100 * 1024 * 1024,
            json_bytes: 32 * 1024 * 1024,
            listcontacts: 100_000,
            file_rows: 1_000_000,
            unpacked_bytes: 1024 * 1024 * 1024,
            async_upload_bytes: 64 * 1024 * 1024,
        }
    }
}

impl Limits {
    pub fn import(&self) -> crate::import::ImportLimits {
        crate::import::ImportLimits { max_rows: self.file_rows, max_unpacked_bytes: self.unpacked_bytes }
    }
}

/// What `callsheet serve` needs.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    pub listen: SocketAddr,
    pub database: String,
    pub limits: Limits,
}
