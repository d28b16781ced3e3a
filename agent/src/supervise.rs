//! Keeps a service running through errors that a later attempt can fix.
//!
//! The Windows service must reach the service control manager and stay there whatever its
//! settings say: an installer property such as `LABELS=probe` (not `KEY=VALUE`) must not make
//! the service exit before it reports RUNNING, which fails the MSI's StartServices (1053) and
//! rolls the whole install back. So the service starts, and then [`supervise`] runs the agent:
//! when an attempt fails (the configuration does not validate, no collector is set, the state
//! dir cannot be opened), the error is handed to a reporter (log file, event log, status file)
//! and the attempt is repeated after a growing delay, re-reading the configuration each time,
//! until the service is told to stop. Fixing the registry value or the config file is enough;
//! nobody has to restart the service.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;

/// First delay after a failed attempt; it doubles with each further failure.
pub const FIRST_RETRY: Duration = Duration::from_secs(5);
/// Longest delay between attempts.
pub const MAX_RETRY: Duration = Duration::from_secs(300);
/// An attempt that ran at least this long counts as a success: the next failure starts the
/// delays afresh.
const HEALTHY_RUN: Duration = Duration::from_secs(600);

/// Completes when the service is told to stop; each attempt gets one.
pub type Stop = Pin<Box<dyn Future<Output = ()> + Send>>;

/// The delay before attempt `failures + 1`: 5 s, 10 s, 20 s ... capped at five minutes.
pub fn retry_delay(failures: u32) -> Duration {
    FIRST_RETRY.saturating_mul(2u32.saturating_pow(failures.min(16))).min(MAX_RETRY)
}

/// Completes once `stop` holds `true` (or its sender is gone, which means the same).
pub fn stopped(mut stop: watch::Receiver<bool>) -> Stop {
    Box::pin(async move {
        let _ = stop.wait_for(|stopped| *stopped).await;
    })
}

/// Runs `attempt` until it returns `Ok` (it was told to stop) or `stop` is set; after each error
/// calls `report` with the error and the delay before the next attempt, then waits that long.
/// Returns the number of failed attempts.
pub async fn supervise<A, F>(
    stop: watch::Receiver<bool>,
    mut attempt: A,
    mut report: impl FnMut(&anyhow::Error, Duration),
) -> u32
where
    A: FnMut(Stop) -> F,
    F: Future<Output = anyhow::Result<()>>,
{
    let mut failures = 0u32;
    let mut total = 0u32;
    loop {
        if *stop.borrow() {
            return total;
        }
        let started = Instant::now();
        let Err(error) = attempt(stopped(stop.clone())).await else { return total };
        if started.elapsed() >= HEALTHY_RUN {
            failures = 0;
        }
        let delay = retry_delay(failures);
        failures = failures.saturating_add(1);
        total = total.saturating_add(1);
        report(&error, delay);
        tokio::select! {
            () = tokio::time::sleep(delay) => {}
            () = stopped(stop.clone()) => return total,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;

    #[test]
    fn delays_double_up_to_five_minutes() {
        let delays: Vec<u64> = (0..8).map(|n| retry_delay(n).as_secs()).collect();
        assert_eq!(delays, [5, 10, 20, 40, 80, 160, 300, 300]);
        assert_eq!(retry_delay(u32::MAX), MAX_RETRY);
    }

    /// A configuration that is wrong twice, then fixed: two reports with growing delays, then the
    /// agent runs until it is told to stop. Time is tokio's paused clock.
    #[tokio::test(start_paused = true)]
    async fn retries_until_the_configuration_is_fixed_then_runs_until_stopped() {
        let (stop_tx, stop_rx) = watch::channel(false);
        let stop_tx = Arc::new(stop_tx);
        let attempts = Arc::new(Mutex::new(Vec::new()));
        let begun = Instant::now();
        let reports = Arc::new(Mutex::new(Vec::new()));
        let failures = supervise(
            stop_rx,
            |stop| {
                let attempts = Arc::clone(&attempts);
                let stop_tx = Arc::clone(&stop_tx);
                async move {
                    let n = {
                        let mut attempts = attempts.lock().unwrap();
                        attempts.push(begun.elapsed().as_secs());
                        attempts.len()
                    };
                    if n < 3 {
                        anyhow::bail!(r#"HKLM\SOFTWARE\azver\Agent\Labels: "probe" is not KEY=VALUE"#);
                    }
                    // The configured agent runs a while, then the service manager stops it.
                    tokio::spawn(async move {
                        tokio::time::sleep(Duration::from_secs(7)).await;
                        let _ = stop_tx.send(true);
                    });
                    stop.await;
                    Ok(())
                }
            },
            |error, delay| reports.lock().unwrap().push((error.to_string(), delay.as_secs())),
        )
        .await;
        assert_eq!(failures, 2);
        assert_eq!(*attempts.lock().unwrap(), [0, 5, 15], "attempts at 0 s, then after 5 s and 10 s");
        let reports = reports.lock().unwrap();
        assert_eq!(reports.len(), 2);
        assert!(reports[0].0.contains("is not KEY=VALUE"), "{reports:?}");
        assert_eq!((reports[0].1, reports[1].1), (5, 10));
        assert_eq!(begun.elapsed().as_secs(), 22, "returns as soon as it is stopped");
    }

    #[tokio::test(start_paused = true)]
    async fn a_stop_during_the_wait_ends_it_at_once() {
        let (stop_tx, stop_rx) = watch::channel(false);
        let begun = Instant::now();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(2)).await;
            let _ = stop_tx.send(true);
        });
        let failures =
            supervise(stop_rx, |_stop| async { Err(anyhow::anyhow!("no collector configured")) }, |_, _| {}).await;
        assert_eq!(failures, 1);
        assert_eq!(begun.elapsed().as_secs(), 2, "did not sit out the 5 s delay");
    }

    #[tokio::test(start_paused = true)]
    async fn a_service_stopped_before_it_began_makes_no_attempt() {
        let (stop_tx, stop_rx) = watch::channel(false);
        stop_tx.send(true).unwrap();
        let mut called = false;
        let failures = supervise(
            stop_rx,
            |_stop| {
                called = true;
                async { Ok(()) }
            },
            |_, _| {},
        )
        .await;
        assert_eq!((failures, called), (0, false));
    }

    #[tokio::test(start_paused = true)]
    async fn a_long_healthy_run_starts_the_delays_afresh() {
        let (_stop_tx, stop_rx) = watch::channel(false);
        let mut runs = 0u32;
        let delays = Arc::new(Mutex::new(Vec::new()));
        let seen = Arc::clone(&delays);
        let supervisor = supervise(
            stop_rx,
            move |_stop| {
                runs += 1;
                let run = runs;
                async move {
                    // The third run is healthy for an hour before it fails.
                    if run == 3 {
                        tokio::time::sleep(Duration::from_secs(3600)).await;
                    }
                    Err(anyhow::anyhow!("collector gone"))
                }
            },
            move |_, delay| seen.lock().unwrap().push(delay.as_secs()),
        );
        let _ = tokio::time::timeout(Duration::from_secs(3600 + 60), supervisor).await;
        assert_eq!(delays.lock().unwrap()[..4], [5, 10, 5, 10]);
    }
}
