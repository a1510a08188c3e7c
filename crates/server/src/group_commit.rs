//! Group commit: writes that wait for the one SQLite writer are committed together.
//!
//! A durable commit costs an fsync, and SQLite has one writer, so one commit per push caps the
//! server at one push per fsync and turns the queue of pushes into their latency. Here a push
//! joins a queue; the push that finds no committer at work becomes the committer and, until
//! the queue is empty, takes everything that waits (up to a weight) and commits it as one
//! transaction. Pushes that arrive during a commit form the next group, so a group is as large
//! as the load makes it and no push waits for a timer. Each job is answered only after the
//! commit that holds it returned, so an acknowledged push is as durable as before.

use std::collections::VecDeque;
use std::sync::{Mutex, MutexGuard};

/// Jobs waiting for the writer, and whether a committer is draining them.
pub(crate) struct CommitQueue<J> {
    state: Mutex<QueueState<J>>,
    /// A group stops growing once its jobs weigh this much (it holds at least one job).
    max_weight: usize,
}

struct QueueState<J> {
    waiting: VecDeque<J>,
    draining: bool,
}

impl<J> CommitQueue<J> {
    pub(crate) fn new(max_weight: usize) -> CommitQueue<J> {
        CommitQueue { state: Mutex::new(QueueState { waiting: VecDeque::new(), draining: false }), max_weight }
    }

    /// Queue `job`. True when no committer is at work: the caller must start one, which then
    /// calls [`CommitQueue::next_group`] until it returns `None`.
    pub(crate) fn submit(&self, job: J) -> bool {
        let mut state = self.lock();
        state.waiting.push_back(job);
        !std::mem::replace(&mut state.draining, true)
    }

    /// The oldest waiting jobs, as many as fit in the weight (at least one), or `None` when
    /// nothing waits, which ends the committer's turn: the next `submit` starts another.
    pub(crate) fn next_group(&self, weight: impl Fn(&J) -> usize) -> Option<Vec<J>> {
        let mut state = self.lock();
        if state.waiting.is_empty() {
            state.draining = false;
            return None;
        }
        let mut taken = 0;
        let mut total = 0;
        for job in &state.waiting {
            if taken > 0 && total + weight(job) > self.max_weight {
                break;
            }
            total += weight(job);
            taken += 1;
        }
        Some(state.waiting.drain(..taken).collect())
    }

    /// Marks the committer's turn, so that a committer that panics does not leave the queue
    /// waiting for it for ever: dropping the turn while unwinding drops every waiting job
    /// (their callers get an error) and lets the next `submit` start a committer.
    pub(crate) fn turn(&self) -> Turn<'_, J> {
        Turn { queue: self }
    }

    fn lock(&self) -> MutexGuard<'_, QueueState<J>> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// See [`CommitQueue::turn`].
pub(crate) struct Turn<'a, J> {
    queue: &'a CommitQueue<J>,
}

impl<J> Drop for Turn<'_, J> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let mut state = self.queue.lock();
            state.waiting.clear();
            state.draining = false;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_job_starts_a_committer_and_later_ones_join_its_queue() {
        let queue = CommitQueue::new(10);
        assert!(queue.submit(1));
        assert!(!queue.submit(2), "a committer is at work");
        assert_eq!(queue.next_group(|_| 1), Some(vec![1, 2]));
        assert!(!queue.submit(3), "still its turn until it finds the queue empty");
        assert_eq!(queue.next_group(|_| 1), Some(vec![3]));
        assert_eq!(queue.next_group(|_| 1), None);
        assert!(queue.submit(4), "the turn ended: the next job starts a committer");
    }

    #[test]
    fn a_group_stops_at_its_weight_but_always_takes_one_job() {
        let queue = CommitQueue::new(10);
        for weight in [4, 5, 3, 50, 1] {
            queue.submit(weight);
        }
        let by_value = |job: &usize| *job;
        assert_eq!(queue.next_group(by_value), Some(vec![4, 5]));
        assert_eq!(queue.next_group(by_value), Some(vec![3]));
        assert_eq!(queue.next_group(by_value), Some(vec![50]), "heavier than a group, alone");
        assert_eq!(queue.next_group(by_value), Some(vec![1]));
        assert_eq!(queue.next_group(by_value), None);
    }

    #[test]
    fn a_committer_that_panics_hands_the_queue_back() {
        let queue = std::sync::Arc::new(CommitQueue::new(10));
        assert!(queue.submit(1));
        let committer = {
            let queue = queue.clone();
            std::thread::spawn(move || {
                let _turn = queue.turn();
                let _group = queue.next_group(|_| 1);
                queue.submit(2);
                panic!("a committer fails");
            })
        };
        assert!(committer.join().is_err());
        assert!(queue.submit(3), "a new job starts a new committer");
        assert_eq!(queue.next_group(|_| 1), Some(vec![3]), "the jobs of the failed turn were dropped");
    }
}
