//! Runs jobs on a few worker threads, longest first, skipping finished ones; a failed job is reported and the
//! others go on, so a re-run only repeats what failed.

use std::collections::VecDeque;
use std::sync::Mutex;

use anyhow::{Result, bail};
use indicatif::{ProgressBar, ProgressStyle};

use super::jobs::{Context, Job, Store, run_and_store};

/// Run every job of `jobs` that has not finished under the current profile.
pub fn run_all(
    ctx: &Context,
    store: &Store,
    jobs: &[Job],
    workers: usize,
    quiet: bool,
) -> Result<()> {
    let mut todo: Vec<Job> = jobs
        .iter()
        .filter(|j| store.load(j, &ctx.profile).is_none())
        .cloned()
        .collect();
    let done = jobs.len() - todo.len();
    if done > 0 {
        tracing::info!(
            "{done} of {} jobs already finished; not re-running them",
            jobs.len()
        );
    }
    if todo.is_empty() {
        return Ok(());
    }
    todo.sort_by(|a, b| {
        b.cost(&ctx.panel, &ctx.profile)
            .total_cmp(&a.cost(&ctx.panel, &ctx.profile))
    });
    let bar = if quiet {
        ProgressBar::hidden()
    } else {
        ProgressBar::new(todo.len() as u64)
    };
    bar.set_style(
        ProgressStyle::with_template("{elapsed_precise} [{bar:30}] {pos}/{len} jobs  {msg}")
            .expect("static template")
            .progress_chars("=> "),
    );
    let queue = Mutex::new(VecDeque::from(todo));
    let failures = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..workers.max(1) {
            scope.spawn(|| {
                loop {
                    let Some(job) = queue.lock().expect("queue").pop_front() else {
                        break;
                    };
                    bar.set_message(job.key());
                    match run_and_store(ctx, store, &job) {
                        Ok(rec) => {
                            tracing::info!(job = %job.key(), seconds = rec.seconds, "finished")
                        }
                        Err(e) => {
                            tracing::error!("{e:#}");
                            failures.lock().expect("failures").push(format!("{e:#}"));
                        }
                    }
                    bar.inc(1);
                }
            });
        }
    });
    bar.finish_and_clear();
    let failures = failures.into_inner().expect("failures");
    if !failures.is_empty() {
        bail!(
            "{} job(s) failed (finished jobs are kept; re-run to retry only these):\n  {}",
            failures.len(),
            failures.join("\n  ")
        );
    }
    Ok(())
}
