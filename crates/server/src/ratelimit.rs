//! A limit on failed attempts (a sliding window), for the whole server and per client address.
//!
//! Redeeming an invitation is the one request a stranger can make with a guessed token; each
//! failed attempt (an unknown token, a certificate that does not verify) is counted, and once
//! the limit is reached every attempt waits until the oldest failure leaves the window.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Most client addresses remembered; past this, the ones with no recent failure are dropped.
const MAX_TRACKED_ADDRESSES: usize = 10_000;

/// Failed attempts within a window, globally and per address.
pub struct FailureLimiter {
    per_address: usize,
    global: usize,
    window: Duration,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    global: VecDeque<Instant>,
    by_address: HashMap<IpAddr, VecDeque<Instant>>,
}

/// Why an attempt must wait.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Limited {
    /// The server as a whole saw too many failures.
    Global { retry_after: Duration },
    /// This address saw too many failures.
    Address { retry_after: Duration },
}

impl Limited {
    pub fn retry_after(self) -> Duration {
        match self {
            Limited::Global { retry_after } | Limited::Address { retry_after } => retry_after,
        }
    }
}

impl FailureLimiter {
    /// At most `per_address` failed attempts per `window` from one address, and `global` from
    /// all (including requests whose address is unknown).
    pub fn new(per_address: usize, global: usize, window: Duration) -> FailureLimiter {
        FailureLimiter { per_address, global, window, state: Mutex::new(State::default()) }
    }

    /// May an attempt from `address` (when known) go ahead now?
    pub fn check(&self, address: Option<IpAddr>) -> Result<(), Limited> {
        self.check_at(address, Instant::now())
    }

    /// Count a failed attempt from `address` (when known).
    pub fn record_failure(&self, address: Option<IpAddr>) {
        self.record_failure_at(address, Instant::now());
    }

    fn check_at(&self, address: Option<IpAddr>, now: Instant) -> Result<(), Limited> {
        let mut state = self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(retry_after) = self.full(&mut state.global, self.global, now) {
            return Err(Limited::Global { retry_after });
        }
        if let Some(address) = address
            && let Some(failures) = state.by_address.get_mut(&address)
            && let Some(retry_after) = self.full(failures, self.per_address, now)
        {
            return Err(Limited::Address { retry_after });
        }
        Ok(())
    }

    fn record_failure_at(&self, address: Option<IpAddr>, now: Instant) {
        let mut state = self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        self.forget_old(&mut state.global, now);
        state.global.push_back(now);
        if let Some(address) = address {
            if state.by_address.len() >= MAX_TRACKED_ADDRESSES && !state.by_address.contains_key(&address) {
                let window = self.window;
                state.by_address.retain(|_, failures| failures.back().is_some_and(|t| now.duration_since(*t) < window));
            }
            let failures = state.by_address.entry(address).or_default();
            self.forget_old(failures, now);
            failures.push_back(now);
        }
    }

    /// When `failures` holds `limit` in the window: how long until one leaves it.
    fn full(&self, failures: &mut VecDeque<Instant>, limit: usize, now: Instant) -> Option<Duration> {
        self.forget_old(failures, now);
        if failures.len() < limit {
            return None;
        }
        let oldest = *failures.front()?;
        Some(self.window.saturating_sub(now.duration_since(oldest)))
    }

    fn forget_old(&self, failures: &mut VecDeque<Instant>, now: Instant) {
        while failures.front().is_some_and(|t| now.duration_since(*t) >= self.window) {
            failures.pop_front();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_is_limited_in_a_sliding_window() {
        let limiter = FailureLimiter::new(3, 100, Duration::from_secs(60));
        let start = Instant::now();
        let noisy: IpAddr = "192.0.2.1".parse().unwrap();
        let quiet: IpAddr = "192.0.2.2".parse().unwrap();
        for second in 0..3 {
            let at = start + Duration::from_secs(second);
            assert_eq!(limiter.check_at(Some(noisy), at), Ok(()));
            limiter.record_failure_at(Some(noisy), at);
        }
        let refused = limiter.check_at(Some(noisy), start + Duration::from_secs(10)).unwrap_err();
        assert_eq!(refused, Limited::Address { retry_after: Duration::from_secs(50) });
        // Another address may still try.
        assert_eq!(limiter.check_at(Some(quiet), start + Duration::from_secs(10)), Ok(()));
        // Once the oldest failure is a minute old, one more attempt may go ahead.
        assert_eq!(limiter.check_at(Some(noisy), start + Duration::from_secs(60)), Ok(()));
    }

    #[test]
    fn the_whole_server_is_limited_too() {
        let limiter = FailureLimiter::new(3, 4, Duration::from_secs(60));
        let start = Instant::now();
        for (index, address) in ["192.0.2.1", "192.0.2.2", "192.0.2.3"].iter().enumerate() {
            limiter.record_failure_at(Some(address.parse().unwrap()), start + Duration::from_secs(index as u64));
        }
        limiter.record_failure_at(None, start + Duration::from_secs(5));
        let fresh: IpAddr = "192.0.2.9".parse().unwrap();
        let refused = limiter.check_at(Some(fresh), start + Duration::from_secs(6)).unwrap_err();
        assert_eq!(refused, Limited::Global { retry_after: Duration::from_secs(54) });
        assert!(matches!(limiter.check_at(None, start + Duration::from_secs(6)), Err(Limited::Global { .. })));
        assert_eq!(limiter.check_at(Some(fresh), start + Duration::from_secs(61)), Ok(()));
    }

    #[test]
    fn old_addresses_are_forgotten_past_the_cap() {
        let limiter = FailureLimiter::new(3, usize::MAX, Duration::from_secs(60));
        let start = Instant::now();
        for index in 0..MAX_TRACKED_ADDRESSES as u32 {
            limiter.record_failure_at(Some(IpAddr::from(index.to_be_bytes())), start);
        }
        let later = start + Duration::from_secs(61);
        limiter.record_failure_at(Some("192.0.2.1".parse().unwrap()), later);
        assert_eq!(limiter.state.lock().unwrap().by_address.len(), 1);
    }
}
