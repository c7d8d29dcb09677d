//! `--limit-rate`: one token bucket shared by every download thread of a run, so the total
//! bandwidth stays under the cap whatever the number of parallel downloads.

use super::Pace;
use std::sync::Mutex;
use std::time::Duration;

/// A token bucket of bytes. It holds at most one second's worth: a burst after a pause is
/// that large at most.
pub struct RateLimiter {
    rate: u64,
    state: Mutex<Bucket>,
}

struct Bucket {
    /// Bytes that may pass now; negative when taken ahead (the taker waits the debt off).
    tokens: f64,
    at: Duration,
}

impl RateLimiter {
    /// A limiter of `rate` bytes per second (at least 1), starting full.
    pub fn new(rate: u64, pace: &dyn Pace) -> RateLimiter {
        let rate = rate.max(1);
        RateLimiter {
            rate,
            state: Mutex::new(Bucket {
                tokens: rate as f64,
                at: pace.elapsed(),
            }),
        }
    }

    pub fn rate(&self) -> u64 {
        self.rate
    }

    /// Takes `n` bytes from the bucket, waiting (outside the lock) until the bucket has paid
    /// them back when it runs short.
    pub fn take(&self, n: u64, pace: &dyn Pace) {
        let wait = {
            let mut b = self.state.lock().unwrap_or_else(|e| e.into_inner());
            let now = pace.elapsed();
            let gained = now.saturating_sub(b.at).as_secs_f64() * self.rate as f64;
            b.tokens = (b.tokens + gained).min(self.rate as f64) - n as f64;
            b.at = now;
            if b.tokens < 0.0 {
                Duration::from_secs_f64(-b.tokens / self.rate as f64)
            } else {
                Duration::ZERO
            }
        };
        if !wait.is_zero() {
            pace.sleep(wait);
        }
    }
}

/// Parses a rate such as `20M`, `512k`, `1.5M` or `100000` (bytes per second; K, M and G
/// are powers of 1024, as in curl and wget).
pub fn parse_rate(s: &str) -> Option<u64> {
    let s = s.trim();
    let (num, mult) = match s.char_indices().last()? {
        (i, c) if c.eq_ignore_ascii_case(&'k') => (&s[..i], 1024.0),
        (i, c) if c.eq_ignore_ascii_case(&'m') => (&s[..i], 1024.0 * 1024.0),
        (i, c) if c.eq_ignore_ascii_case(&'g') => (&s[..i], 1024.0 * 1024.0 * 1024.0),
        _ => (s, 1.0),
    };
    let v: f64 = num.trim().parse().ok()?;
    let bytes = v * mult;
    (bytes.is_finite() && bytes >= 1.0 && bytes < u64::MAX as f64).then_some(bytes as u64)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU64, Ordering};

    /// A pace whose time moves only when something waits.
    #[derive(Default)]
    pub(crate) struct FakePace {
        pub nanos: AtomicU64,
    }

    impl Pace for FakePace {
        fn elapsed(&self) -> Duration {
            Duration::from_nanos(self.nanos.load(Ordering::SeqCst))
        }
        fn sleep(&self, d: Duration) {
            self.nanos.fetch_add(d.as_nanos() as u64, Ordering::SeqCst);
        }
    }

    #[test]
    fn the_total_rate_stays_under_the_cap() {
        let pace = FakePace::default();
        let lim = RateLimiter::new(1000, &pace);
        // 10,000 bytes in chunks of 100: the first second's worth passes at once, the rest
        // at 1,000 bytes a second.
        for _ in 0..100 {
            lim.take(100, &pace);
        }
        let t = pace.elapsed().as_secs_f64();
        assert!((8.9..=9.1).contains(&t), "took {t} s");
    }

    #[test]
    fn an_idle_bucket_refills_only_to_one_second() {
        let pace = FakePace::default();
        let lim = RateLimiter::new(1000, &pace);
        pace.sleep(Duration::from_secs(100));
        let before = pace.elapsed();
        lim.take(3000, &pace);
        let waited = (pace.elapsed() - before).as_secs_f64();
        assert!((1.9..=2.1).contains(&waited), "waited {waited} s");
    }

    #[test]
    fn rates_parse_with_binary_suffixes() {
        assert_eq!(parse_rate("20M"), Some(20 * 1024 * 1024));
        assert_eq!(parse_rate("512k"), Some(512 * 1024));
        assert_eq!(parse_rate("100000"), Some(100_000));
        assert_eq!(parse_rate("1.5K"), Some(1536));
        assert_eq!(parse_rate("0"), None);
        assert_eq!(parse_rate("fast"), None);
        assert_eq!(parse_rate(""), None);
    }
}
