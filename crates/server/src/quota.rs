//! Per-device push quotas: events per minute and ciphertext bytes per day.
//!
//! A stolen or broken laptop must not be able to fill the server's disk or starve the other
//! devices. Usage is kept in memory (a restart forgets it, which only ever lets a device send
//! more, never less); a push over either quota is refused whole with 429 and `Retry-After`.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use uuid::Uuid;

/// The quotas of every device; zero turns a quota off.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Quota {
    /// Events one device may push in a minute (a token bucket refilled evenly).
    pub events_per_minute: u32,
    /// Ciphertext bytes one device may push in a day (a window that starts with its first push).
    pub bytes_per_day: u64,
}

impl Default for Quota {
    /// Far above what a clinic laptop sends (a few hundred events a day), enough for a laptop
    /// coming back after weeks offline to send its backlog at full speed.
    fn default() -> Quota {
        Quota { events_per_minute: 20_000, bytes_per_day: 1024 * 1024 * 1024 }
    }
}

/// Why a push was refused, and when the device may try again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exceeded {
    EventsPerMinute { limit: u32, retry_after: Duration },
    BytesPerDay { limit: u64, retry_after: Duration },
}

impl Exceeded {
    pub fn retry_after(&self) -> Duration {
        match self {
            Exceeded::EventsPerMinute { retry_after, .. } | Exceeded::BytesPerDay { retry_after, .. } => *retry_after,
        }
    }
}

const MINUTE: Duration = Duration::from_secs(60);
const DAY: Duration = Duration::from_secs(24 * 60 * 60);

/// The usage of every device that pushed since the server started.
#[derive(Debug, Default)]
pub struct Quotas {
    quota: Quota,
    usage: Mutex<HashMap<Uuid, Usage>>,
}

#[derive(Debug)]
struct Usage {
    /// Events the device may still push now (fractional: the bucket refills continuously).
    tokens: f64,
    refilled_at: Instant,
    day_started: Instant,
    bytes_today: u64,
}

impl Quotas {
    pub fn new(quota: Quota) -> Quotas {
        Quotas { quota, usage: Mutex::new(HashMap::new()) }
    }

    /// Counts a push of `events` events holding `bytes` bytes of ciphertext, or refuses it whole
    /// (and counts nothing) when it would pass a quota.
    pub fn charge(&self, device: Uuid, events: usize, bytes: u64) -> Result<(), Exceeded> {
        self.charge_at(device, events, bytes, Instant::now())
    }

    fn charge_at(&self, device: Uuid, events: usize, bytes: u64, now: Instant) -> Result<(), Exceeded> {
        let Quota { events_per_minute, bytes_per_day } = self.quota;
        let capacity = f64::from(events_per_minute);
        let mut usage = self.usage.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let entry = usage.entry(device).or_insert(Usage {
            tokens: capacity,
            refilled_at: now,
            day_started: now,
            bytes_today: 0,
        });
        if now.duration_since(entry.day_started) >= DAY {
            entry.day_started = now;
            entry.bytes_today = 0;
        }
        let rate = capacity / MINUTE.as_secs_f64();
        entry.tokens = (entry.tokens + now.duration_since(entry.refilled_at).as_secs_f64() * rate).min(capacity);
        entry.refilled_at = now;

        // A batch larger than the whole bucket is let through once the bucket is full, so a
        // quota below the batch size slows a device down instead of blocking it for ever.
        let cost = (events as f64).min(capacity);
        if events_per_minute > 0 && entry.tokens < cost {
            let wait = Duration::from_secs_f64((cost - entry.tokens) / rate);
            return Err(Exceeded::EventsPerMinute { limit: events_per_minute, retry_after: round_up(wait) });
        }
        if bytes_per_day > 0 && entry.bytes_today.saturating_add(bytes) > bytes_per_day {
            let wait = DAY.saturating_sub(now.duration_since(entry.day_started));
            return Err(Exceeded::BytesPerDay { limit: bytes_per_day, retry_after: round_up(wait) });
        }
        if events_per_minute > 0 {
            entry.tokens -= cost;
        }
        entry.bytes_today = entry.bytes_today.saturating_add(bytes);
        Ok(())
    }
}

/// Whole seconds, at least one (what `Retry-After` can say).
fn round_up(wait: Duration) -> Duration {
    Duration::from_secs(wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(Duration::from_secs(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_per_minute_refill_evenly() {
        let quotas = Quotas::new(Quota { events_per_minute: 60, bytes_per_day: 0 });
        let (device, start) = (Uuid::from_u128(1), Instant::now());
        quotas.charge_at(device, 50, 0, start).unwrap();
        let refused = quotas.charge_at(device, 20, 0, start).unwrap_err();
        // 10 tokens left, 20 asked: 10 more events at one a second.
        assert_eq!(refused, Exceeded::EventsPerMinute { limit: 60, retry_after: Duration::from_secs(10) });
        quotas.charge_at(device, 20, 0, start + Duration::from_secs(10)).unwrap();
        // Another device has its own bucket.
        quotas.charge_at(Uuid::from_u128(2), 60, 0, start).unwrap();
    }

    #[test]
    fn a_batch_larger_than_the_bucket_passes_when_it_is_full() {
        let quotas = Quotas::new(Quota { events_per_minute: 10, bytes_per_day: 0 });
        let (device, start) = (Uuid::from_u128(1), Instant::now());
        quotas.charge_at(device, 500, 0, start).unwrap();
        assert!(quotas.charge_at(device, 500, 0, start + Duration::from_secs(30)).is_err());
        quotas.charge_at(device, 500, 0, start + Duration::from_secs(60)).unwrap();
    }

    #[test]
    fn bytes_per_day_reset_a_day_after_the_first_push() {
        let quotas = Quotas::new(Quota { events_per_minute: 0, bytes_per_day: 1000 });
        let (device, start) = (Uuid::from_u128(1), Instant::now());
        quotas.charge_at(device, 1, 600, start).unwrap();
        let refused = quotas.charge_at(device, 1, 600, start + Duration::from_secs(3600)).unwrap_err();
        assert_eq!(refused, Exceeded::BytesPerDay { limit: 1000, retry_after: DAY - Duration::from_secs(3600) });
        // A refused push counted nothing: 400 more bytes still fit today.
        quotas.charge_at(device, 1, 400, start + Duration::from_secs(3600)).unwrap();
        quotas.charge_at(device, 1, 1000, start + DAY).unwrap();
    }

    #[test]
    fn zero_turns_a_quota_off() {
        let quotas = Quotas::new(Quota { events_per_minute: 0, bytes_per_day: 0 });
        let device = Uuid::from_u128(1);
        for _ in 0..100 {
            quotas.charge(device, 1000, u64::MAX / 200).unwrap();
        }
    }
}
