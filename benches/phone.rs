//! Phone normalization rate: the Vietnam fast path, the general path, and the
//! `phonenumber` crate's parser as the floor, on the same generated numbers.
//!
//! `cargo bench --bench phone [-- N]` (default 1,000,000) prints a markdown table.

use std::hint::black_box;
use std::time::Instant;

use callsheet::domain::phone::{self, Region};
use support::{Figure, Row, Target};

mod support;

/// Numbers in the forms customer lists hold them, from a fixed seed.
fn sample(n: usize) -> Vec<String> {
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    (0..n)
        .map(|_| {
            let r = next();
            let subscriber = 10_000_000 + r % 90_000_000;
            let prefix = ["90", "91", "93", "97", "98", "86", "32", "70", "81", "56"][(r >> 40) as usize % 10];
            match (r >> 50) % 5 {
                0 => format!("0{prefix}{subscriber:07}"),
                1 => format!("84{prefix}{subscriber:07}"),
                2 => format!("+84 {prefix} {subscriber:07}"),
                3 => format!("{prefix}{subscriber:07}"),
                _ => format!("84{prefix}{subscriber:07}.0"),
            }
        })
        .collect()
}

/// Numbers per second of `f` over `input`, best of `rounds`.
fn rate(input: &[String], rounds: usize, mut f: impl FnMut(&str) -> bool) -> (f64, usize) {
    let mut best = f64::MAX;
    let mut kept = 0;
    for _ in 0..rounds {
        let start = Instant::now();
        kept = input.iter().filter(|s| f(s)).count();
        best = best.min(start.elapsed().as_secs_f64());
    }
    (input.len() as f64 / best, kept)
}

fn main() {
    let n = support::rows(1_000_000).max(1_000);
    let input = sample(n);
    let vn = Region::vietnam();
    phone::warm_up();
    let (fast, fast_kept) = rate(&input, 5, |s| black_box(phone::normalize(s, &vn)).is_some());
    let (general, general_kept) = rate(&input, 3, |s| black_box(phone::normalize_general(s, &vn)).is_some());
    let small = &input[..n.min(200_000)];
    let (crate_rate, _) =
        rate(small, 2, |s| black_box(phonenumber::parse(Some(phonenumber::country::Id::VN), s)).is_ok());
    assert_eq!(fast_kept, general_kept, "fast and general paths disagree");
    let floor = Figure::Rate(crate_rate, "numbers");
    let what = "`phonenumber` crate's parse";
    support::report(
        &format!("phone normalization: {n} numbers in the forms customer lists hold them, 1 core"),
        &[
            Row::new("phone normalization, Vietnam fast path", Figure::Rate(fast, "numbers"), Target::RateAtLeast(5e6))
                .floor(floor, what),
            Row::new("phone normalization, general path", Figure::Rate(general, "numbers"), Target::None)
                .floor(floor, what),
        ],
    );
}
