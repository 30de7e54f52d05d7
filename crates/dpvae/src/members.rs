//! Training the ensemble's members side by side on the CPU, while whoever watches sees them one after another.
//!
//! A member's network is small, so one training run keeps two cores only partly busy; members run as
//! parallel tasks on rayon's pool instead (each member's arithmetic is the same whatever thread runs it, so
//! the models do not change). Their progress is relayed to the caller's observer on the calling thread, in
//! member order: the first member's epochs live, later members' events held back until the members before them
//! have finished, so a progress bar or a Python callback sees the sequence a sequential run would give.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Sender, channel};

use dpvae_model::{
    BackendKind, EpochRecord, EpochReport, ModelConfig, ModelError, TrainConfig, TrainInput,
    TrainObserver, TrainOutcome, TrainStart, TrainSummary,
};
use rayon::prelude::*;

/// What a member's run reports, sent to the relaying thread.
enum Event {
    Start(TrainStart),
    Epoch {
        record: EpochRecord,
        epochs: usize,
        best_epoch: Option<usize>,
        stopping: bool,
    },
    Finish(TrainSummary),
    /// The run failed; the caller's observer hears the error once every member has returned.
    Failed,
}

/// The observer a member's run sees: it forwards every event, and stops the run once the caller's observer
/// asks to stop (or another member failed).
struct Relay {
    member: usize,
    events: Sender<(usize, Event)>,
    stop: Arc<AtomicBool>,
}

impl Relay {
    fn send(&self, event: Event) {
        // The receiver outlives every member; a send can only fail once the relay loop is gone.
        let _ = self.events.send((self.member, event));
    }
}

impl TrainObserver for Relay {
    fn on_start(&mut self, start: &TrainStart) {
        self.send(Event::Start(start.clone()));
    }
    fn on_epoch(&mut self, r: &EpochReport<'_>) {
        self.send(Event::Epoch {
            record: r.record.clone(),
            epochs: r.epochs,
            best_epoch: r.best_epoch,
            stopping: r.stopping,
        });
    }
    fn on_finish(&mut self, summary: &TrainSummary) {
        self.send(Event::Finish(summary.clone()));
    }
    fn keep_going(&mut self) -> bool {
        !self.stop.load(Ordering::Relaxed)
    }
    fn on_error(&mut self, _: &ModelError) {
        self.stop.store(true, Ordering::Relaxed);
        self.send(Event::Failed);
    }
}

/// Train one run per config in `configs` (the members), in parallel, telling `observer` in member order.
/// Returns the outcomes in member order, or the first member's error that was not caused by stopping.
pub(crate) fn train_in_parallel(
    input: &TrainInput<'_>,
    network: &ModelConfig,
    configs: &[TrainConfig],
    backend: BackendKind,
    observer: &mut dyn TrainObserver,
) -> Vec<Result<TrainOutcome, ModelError>> {
    let stop = Arc::new(AtomicBool::new(false));
    let (tx, rx) = channel::<(usize, Event)>();
    std::thread::scope(|scope| {
        let workers = scope.spawn(|| {
            configs
                .par_iter()
                .enumerate()
                .map_with(tx, |tx, (member, cfg)| {
                    let mut relay = Relay {
                        member,
                        events: tx.clone(),
                        stop: Arc::clone(&stop),
                    };
                    dpvae_model::train_observed(input, network, cfg, backend, &mut relay)
                })
                .collect::<Vec<_>>()
        });
        let mut order = MemberOrder::new(configs.len());
        // Ends when every member's sender is gone, i.e. every member has returned.
        for (member, event) in rx {
            for event in order.arrived(member, event) {
                forward(observer, event);
                if !observer.keep_going() {
                    stop.store(true, Ordering::Relaxed);
                }
            }
        }
        workers.join().expect("a training thread panicked")
    })
}

fn forward(observer: &mut dyn TrainObserver, event: Event) {
    match event {
        Event::Start(s) => observer.on_start(&s),
        Event::Epoch {
            record,
            epochs,
            best_epoch,
            stopping,
        } => observer.on_epoch(&EpochReport {
            record: &record,
            epochs,
            best_epoch,
            stopping,
        }),
        Event::Finish(s) => observer.on_finish(&s),
        Event::Failed => {}
    }
}

/// Holds back the events of members whose predecessors have not finished.
struct MemberOrder {
    held: Vec<Vec<Event>>,
    /// The member whose events are passed on live.
    current: usize,
}

impl MemberOrder {
    fn new(members: usize) -> Self {
        Self {
            held: (0..members).map(|_| Vec::new()).collect(),
            current: 0,
        }
    }

    /// The events that may be passed on now that `event` of `member` has arrived, in order.
    fn arrived(&mut self, member: usize, event: Event) -> Vec<Event> {
        self.held[member].push(event);
        let mut out = Vec::new();
        while self.current < self.held.len() {
            let events = std::mem::take(&mut self.held[self.current]);
            let ended = events
                .iter()
                .any(|e| matches!(e, Event::Finish(_) | Event::Failed));
            out.extend(events);
            if !ended {
                break;
            }
            self.current += 1;
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary() -> Event {
        Event::Finish(TrainSummary {
            epochs_run: 1,
            best_epoch: 1,
            stopped_early: false,
        })
    }

    fn start() -> Event {
        Event::Start(TrainStart {
            epochs: 1,
            n_train: 1,
            n_validation: 0,
            batch_size: 1,
            lambda_init: 1.0,
        })
    }

    fn kinds(events: &[Event]) -> Vec<&'static str> {
        events
            .iter()
            .map(|e| match e {
                Event::Start(_) => "start",
                Event::Epoch { .. } => "epoch",
                Event::Finish(_) => "finish",
                Event::Failed => "failed",
            })
            .collect()
    }

    #[test]
    fn later_members_wait_for_earlier_ones_to_finish() {
        let mut order = MemberOrder::new(3);
        assert!(order.arrived(1, start()).is_empty(), "member 1 waits for 0");
        assert!(order.arrived(2, start()).is_empty());
        assert_eq!(kinds(&order.arrived(0, start())), ["start"]);
        assert!(
            order.arrived(2, summary()).is_empty(),
            "2 finished before 1"
        );
        // Member 0 finishing releases 1's held start; 1 is now live.
        assert_eq!(kinds(&order.arrived(0, summary())), ["finish", "start"]);
        // 1 finishing releases 2's whole held run.
        assert_eq!(
            kinds(&order.arrived(1, summary())),
            ["finish", "start", "finish"]
        );
        assert_eq!(order.current, 3);
    }

    #[test]
    fn a_failed_member_ends_its_turn() {
        let mut order = MemberOrder::new(2);
        assert!(order.arrived(1, start()).is_empty());
        assert_eq!(kinds(&order.arrived(0, Event::Failed)), ["failed", "start"]);
    }
}
