//! Small random helpers on top of a seeded [`ChaCha8Rng`], so every draw is reproducible.
//!
//! Floats are used only for shapes (latencies, durations, noise); anything that becomes money or
//! hours goes through [`cents`], which rounds to two places before making a `Decimal`.

use gigstream_core::Decimal;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

pub(crate) type Rng8 = ChaCha8Rng;

/// Independent, reproducible stream `stream` for `seed` (one per concern, so that changing how
/// many draws one part makes never shifts another part's output).
pub(crate) fn rng(seed: u64, stream: u64) -> Rng8 {
    let mut r = ChaCha8Rng::seed_from_u64(seed);
    r.set_stream(stream);
    r
}

/// Uniform in [0, 1).
pub(crate) fn unit(r: &mut Rng8) -> f64 {
    r.random::<f64>()
}

pub(crate) fn uniform(r: &mut Rng8, lo: f64, hi: f64) -> f64 {
    lo + (hi - lo) * unit(r)
}

/// Uniform integer in `lo..=hi`.
pub(crate) fn int(r: &mut Rng8, lo: i64, hi: i64) -> i64 {
    if hi <= lo {
        return lo;
    }
    r.random_range(lo..=hi)
}

pub(crate) fn chance(r: &mut Rng8, p: f64) -> bool {
    unit(r) < p
}

/// Standard normal (Box-Muller).
pub(crate) fn normal(r: &mut Rng8) -> f64 {
    let u1 = unit(r).max(f64::MIN_POSITIVE);
    let u2 = unit(r);
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

pub(crate) fn gauss(r: &mut Rng8, mean: f64, sd: f64) -> f64 {
    mean + sd * normal(r)
}

/// Exponential with the given mean.
pub(crate) fn exp_mean(r: &mut Rng8, mean: f64) -> f64 {
    -mean * (1.0 - unit(r)).ln()
}

/// Log-uniform in [lo, hi]: as many values per decade (hours-to-days delays).
pub(crate) fn log_uniform(r: &mut Rng8, lo: f64, hi: f64) -> f64 {
    (lo.ln() + (hi.ln() - lo.ln()) * unit(r)).exp()
}

/// A log-normal value whose 95th percentile is `p95` and whose log has deviation `sigma`.
pub(crate) fn lognormal_p95(r: &mut Rng8, p95: f64, sigma: f64) -> f64 {
    (p95.ln() - 1.645 * sigma + sigma * normal(r)).exp()
}

/// A log-normal value with mean `mean` and log deviation `sigma`.
pub(crate) fn lognormal_mean(r: &mut Rng8, mean: f64, sigma: f64) -> f64 {
    (mean.ln() - sigma * sigma / 2.0 + sigma * normal(r)).exp()
}

/// Picks an item by weight (weights need not sum to 1).
pub(crate) fn weighted<T: Copy>(r: &mut Rng8, items: &[(T, f64)]) -> T {
    let total: f64 = items.iter().map(|(_, w)| w).sum();
    let mut x = unit(r) * total;
    for (item, w) in items {
        if x < *w {
            return *item;
        }
        x -= w;
    }
    items
        .last()
        .expect("invariant: weighted() is given a non-empty table")
        .0
}

pub(crate) fn pick<'a, T>(r: &mut Rng8, items: &'a [T]) -> &'a T {
    &items[r.random_range(0..items.len())]
}

/// Fisher-Yates shuffle.
pub(crate) fn shuffle<T>(r: &mut Rng8, items: &mut [T]) {
    for i in (1..items.len()).rev() {
        let j = r.random_range(0..=i);
        items.swap(i, j);
    }
}

/// `x` rounded to two decimal places as an exact decimal (money, hours).
pub(crate) fn cents(x: f64) -> Decimal {
    Decimal::new((x * 100.0).round() as i64, 2)
}

/// `x` rounded to a multiple of `step` (a whole number), as a decimal with two places.
pub(crate) fn round_step(x: f64, step: f64) -> Decimal {
    cents((x / step).round() * step)
}
