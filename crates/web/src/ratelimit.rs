//! In-memory token buckets for the login forms: per client address, and per operator
//! account.
//!
//! A bucket holds up to `capacity` tokens and refills at `capacity` per `period`; an
//! attempt takes a token, and with none left the page answers 429 with `Retry-After`.
//! Time comes from the injected clock (tests move it). Buckets are per process: several
//! portals behind one address each keep their own, so the effective limit is a multiple
//! (what a shared store would fix; a login is still bounded by the PINs' own counters on
//! the card and the phone, and by argon2 for operators).

use std::collections::HashMap;
use std::sync::Mutex;

use time::{Duration, OffsetDateTime};

/// Buckets are forgotten once this many exist and they are full again (memory bound
/// against address-spraying clients).
const PRUNE_ABOVE: usize = 10_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    pub capacity: u32,
    pub period: Duration,
}

impl RateLimit {
    pub const fn new(capacity: u32, period: Duration) -> Self {
        Self { capacity, period }
    }

    fn refill_per_second(&self) -> f64 {
        let seconds = self.period.as_seconds_f64();
        if seconds <= 0.0 {
            f64::INFINITY
        } else {
            f64::from(self.capacity) / seconds
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    updated: OffsetDateTime,
}

/// Token buckets by key (see the module docs).
#[derive(Debug)]
pub struct RateLimiter {
    limit: RateLimit,
    buckets: Mutex<HashMap<String, Bucket>>,
}

impl RateLimiter {
    pub fn new(limit: RateLimit) -> Self {
        Self {
            limit,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    fn with_bucket<T>(
        &self,
        key: &str,
        now: OffsetDateTime,
        f: impl FnOnce(&mut Bucket) -> T,
    ) -> T {
        let mut buckets = match self.buckets.lock() {
            Ok(guard) => guard,
            // A panic elsewhere while holding the lock leaves plain numbers behind.
            Err(poisoned) => poisoned.into_inner(),
        };
        let capacity = f64::from(self.limit.capacity);
        let rate = self.limit.refill_per_second();
        if buckets.len() > PRUNE_ABOVE {
            buckets.retain(|_, bucket| {
                let elapsed = (now - bucket.updated).as_seconds_f64().max(0.0);
                bucket.tokens + elapsed * rate < capacity
            });
        }
        let bucket = buckets.entry(key.to_owned()).or_insert(Bucket {
            tokens: capacity,
            updated: now,
        });
        let elapsed = (now - bucket.updated).as_seconds_f64().max(0.0);
        bucket.tokens = (bucket.tokens + elapsed * rate).min(capacity);
        bucket.updated = now;
        f(bucket)
    }

    fn wait(&self, tokens: f64) -> u64 {
        let rate = self.limit.refill_per_second();
        if rate.is_infinite() || rate <= 0.0 {
            return 1;
        }
        // Whole seconds, at least one.
        let seconds = ((1.0 - tokens) / rate).ceil();
        if seconds.is_finite() && seconds >= 1.0 {
            seconds as u64
        } else {
            1
        }
    }

    /// Takes a token for `key`; `Err(seconds)` to wait when there is none.
    pub fn take(&self, key: &str, now: OffsetDateTime) -> Result<(), u64> {
        self.with_bucket(key, now, |bucket| {
            if bucket.tokens >= 1.0 {
                bucket.tokens -= 1.0;
                Ok(())
            } else {
                Err(bucket.tokens)
            }
        })
        .map_err(|tokens| self.wait(tokens))
    }

    /// Whether `key` has a token, without taking it (take it with [`Self::take`] on a
    /// failure only, so that failures alone use up an account's bucket).
    pub fn check(&self, key: &str, now: OffsetDateTime) -> Result<(), u64> {
        self.with_bucket(key, now, |bucket| {
            if bucket.tokens >= 1.0 {
                Ok(())
            } else {
                Err(bucket.tokens)
            }
        })
        .map_err(|tokens| self.wait(tokens))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn buckets_empty_then_refill_with_time() {
        let limiter = RateLimiter::new(RateLimit::new(3, Duration::minutes(1)));
        let t0 = datetime!(2026-11-26 01:00 UTC);
        for _ in 0..3 {
            assert!(limiter.take("ip:1", t0).is_ok());
        }
        assert_eq!(limiter.take("ip:1", t0), Err(20));
        assert!(limiter.take("ip:2", t0).is_ok(), "keys are separate");
        assert!(limiter.check("ip:1", t0 + Duration::seconds(19)).is_err());
        assert!(limiter.take("ip:1", t0 + Duration::seconds(20)).is_ok());
        assert!(limiter.take("ip:1", t0 + Duration::seconds(20)).is_err());
        assert!(limiter.check("ip:1", t0 + Duration::hours(1)).is_ok());
    }

    #[test]
    fn check_does_not_consume() {
        let limiter = RateLimiter::new(RateLimit::new(1, Duration::minutes(1)));
        let t0 = datetime!(2026-11-26 01:00 UTC);
        for _ in 0..5 {
            assert!(limiter.check("a", t0).is_ok());
        }
        assert!(limiter.take("a", t0).is_ok());
        assert!(limiter.check("a", t0).is_err());
    }
}
