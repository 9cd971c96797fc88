//! Pure types and rules of callsheet, with no I/O.

pub mod account;
pub mod agent;
pub mod campaign;
pub mod contact;
pub mod customer;
pub mod filter;
pub mod ids;
pub mod job;
pub mod page;
pub mod phone;
pub mod text;
pub mod token;

/// Seconds since the Unix epoch, the unit of every stored timestamp but campaign times.
pub fn now_secs() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
}

/// Milliseconds since the Unix epoch, the unit of a campaign's `start_time` and
/// `end_time`: a campaign ends at its `end_time`, not at the next whole second.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

/// The moment, in epoch ms, of the second `now` (epoch s) a decision was taken in:
/// the clock's own milliseconds while it still reads that second, so that a
/// campaign's `start_time` and `end_time` are judged to the millisecond, and the
/// second's bounds otherwise (a `now` given by a test, or a second just past).
pub fn ms_within(now: i64) -> i64 {
    let start = now.saturating_mul(1000);
    now_ms().clamp(start, start.saturating_add(999))
}

/// An integer sent as text: digits with an optional `-`, spaces around them ignored.
/// Rust's own parse takes a leading `+` too, which callsheet refuses as every other
/// sign or symbol.
pub fn parse_integer<T: std::str::FromStr>(text: &str) -> Option<T> {
    let t = text.trim();
    if t.starts_with('+') { None } else { t.parse().ok() }
}

/// `104857600` -> "100 MiB"; sizes that are not whole MiB stay in bytes.
pub fn human_size(bytes: usize) -> String {
    const MIB: usize = 1024 * 1024;
    if bytes >= MIB && bytes.is_multiple_of(MIB) { format!("{} MiB", bytes / MIB) } else { format!("{bytes} bytes") }
}
