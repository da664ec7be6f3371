//! Signing latency, recorded without a metrics library.
//!
//! The token layer counts; `http` turns the counts into Prometheus metrics at scrape time.
//! A fixed-bucket histogram of atomics keeps `hsm` free of any metrics crate and costs a
//! handful of relaxed atomic adds per signature (no lock on the signing path), while still
//! letting the exposition layer publish a real histogram rather than only an average.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Upper bounds (inclusive, as Prometheus' `le`) of the signing-latency buckets; one more
/// bucket counts everything slower. 0.5 ms covers an ECDSA signature on a local SoftHSM,
/// 10 s a network HSM under load or an RSA-4096 signature waiting for a pool session.
pub const SIGN_LATENCY_BOUNDS: [Duration; 14] = [
    Duration::from_micros(500),
    Duration::from_millis(1),
    Duration::from_micros(2_500),
    Duration::from_millis(5),
    Duration::from_millis(10),
    Duration::from_millis(25),
    Duration::from_millis(50),
    Duration::from_millis(100),
    Duration::from_millis(250),
    Duration::from_millis(500),
    Duration::from_secs(1),
    Duration::from_micros(2_500_000),
    Duration::from_secs(5),
    Duration::from_secs(10),
];

/// Number of buckets: one per bound plus the overflow bucket.
pub const SIGN_LATENCY_BUCKETS: usize = SIGN_LATENCY_BOUNDS.len() + 1;

/// A point-in-time copy of the signing-latency histogram.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LatencySnapshot {
    /// Per-bucket (not cumulative) counts: `buckets[i]` counts durations `d` with
    /// `SIGN_LATENCY_BOUNDS[i-1] < d <= SIGN_LATENCY_BOUNDS[i]`; the last counts those above
    /// every bound.
    pub buckets: [u64; SIGN_LATENCY_BUCKETS],
    /// Sum of all recorded durations, in nanoseconds (u64 holds 584 years of them).
    pub sum_nanos: u64,
}

impl LatencySnapshot {
    /// Number of recorded durations. Derived from the buckets rather than kept separately,
    /// so the count always equals the `+Inf` bucket even when read during a recording.
    pub fn count(&self) -> u64 {
        self.buckets.iter().sum()
    }

    pub fn sum(&self) -> Duration {
        Duration::from_nanos(self.sum_nanos)
    }
}

/// The live histogram, updated from any thread.
#[derive(Debug, Default)]
pub(crate) struct LatencyRecorder {
    buckets: [AtomicU64; SIGN_LATENCY_BUCKETS],
    sum_nanos: AtomicU64,
}

impl LatencyRecorder {
    pub(crate) fn record(&self, d: Duration) {
        let i = SIGN_LATENCY_BOUNDS
            .iter()
            .position(|bound| d <= *bound)
            .unwrap_or(SIGN_LATENCY_BOUNDS.len());
        self.buckets[i].fetch_add(1, Ordering::Relaxed);
        let nanos = u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
        self.sum_nanos.fetch_add(nanos, Ordering::Relaxed);
    }

    /// Relaxed loads: the buckets of one snapshot may straddle a concurrent recording, which
    /// a scrape tolerates (the next one is consistent again); no ordering with other memory is
    /// needed.
    pub(crate) fn snapshot(&self) -> LatencySnapshot {
        LatencySnapshot {
            buckets: std::array::from_fn(|i| self.buckets[i].load(Ordering::Relaxed)),
            sum_nanos: self.sum_nanos.load(Ordering::Relaxed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_land_in_le_buckets() {
        let r = LatencyRecorder::default();
        r.record(Duration::from_micros(100)); // <= 0.5 ms
        r.record(Duration::from_micros(500)); // exactly on the bound: same bucket (le)
        r.record(Duration::from_micros(501)); // <= 1 ms
        r.record(Duration::from_millis(7)); // <= 10 ms
        r.record(Duration::from_secs(60)); // overflow
        let s = r.snapshot();
        assert_eq!(s.buckets[0], 2);
        assert_eq!(s.buckets[1], 1);
        assert_eq!(s.buckets[4], 1);
        assert_eq!(s.buckets[SIGN_LATENCY_BUCKETS - 1], 1);
        assert_eq!(s.count(), 5);
        assert_eq!(
            s.sum(),
            Duration::from_micros(100 + 500 + 501 + 7_000) + Duration::from_secs(60)
        );
    }

    #[test]
    fn bounds_are_increasing() {
        assert!(SIGN_LATENCY_BOUNDS.windows(2).all(|w| w[0] < w[1]));
    }
}
