//! `train_observed`: the observer hears the start, every epoch in order and the end (or the error), and
//! `train` behaves as `train_observed` with the tracing observer.

mod common;

use dpvae_model::{
    BackendKind, EpochRecord, EpochReport, ModelConfig, ModelError, TracingObserver, TrainConfig,
    TrainInput, TrainObserver, TrainStart, TrainSummary, train, train_observed,
};

#[derive(Debug, PartialEq)]
enum Event {
    Start(TrainStart),
    Epoch {
        record: EpochRecord,
        epochs: usize,
        best_epoch: Option<usize>,
        stopping: bool,
    },
    Finish(TrainSummary),
    Error(String),
}

#[derive(Default)]
struct Recorder(Vec<Event>);

impl TrainObserver for Recorder {
    fn on_start(&mut self, start: &TrainStart) {
        self.0.push(Event::Start(start.clone()));
    }
    fn on_epoch(&mut self, r: &EpochReport<'_>) {
        self.0.push(Event::Epoch {
            record: r.record.clone(),
            epochs: r.epochs,
            best_epoch: r.best_epoch,
            stopping: r.stopping,
        });
    }
    fn on_finish(&mut self, summary: &TrainSummary) {
        self.0.push(Event::Finish(summary.clone()));
    }
    fn on_error(&mut self, error: &ModelError) {
        self.0.push(Event::Error(error.to_string()));
    }
}

fn cfg(epochs: usize) -> TrainConfig {
    TrainConfig {
        epochs,
        batch_size: 32,
        learning_rate: 3e-3,
        seed: 5,
        alpha2: 5.0,
        validation_fraction: 0.25,
        ..TrainConfig::default()
    }
}

fn arch() -> ModelConfig {
    ModelConfig::new(10).with_hidden(vec![16])
}

/// Check the event sequence against the outcome: start, one report per history epoch in order, finish.
fn check_sequence(events: &[Event], out: &dpvae_model::TrainOutcome, cfg: &TrainConfig) {
    let Some(Event::Start(start)) = events.first() else {
        panic!("the first event must be the start: {events:?}");
    };
    assert_eq!(start.epochs, cfg.epochs);
    assert_eq!(start.n_train, out.train_indices.len());
    assert_eq!(start.n_validation, out.validation_indices.len());
    assert_eq!(start.lambda_init, out.lambda_init);
    let epochs: Vec<_> = events[1..events.len() - 1]
        .iter()
        .map(|e| match e {
            Event::Epoch {
                record,
                epochs,
                stopping,
                ..
            } => {
                assert_eq!(*epochs, cfg.epochs);
                (record.clone(), *stopping)
            }
            other => panic!("expected an epoch report, got {other:?}"),
        })
        .collect();
    let records: Vec<_> = epochs.iter().map(|(r, _)| r.clone()).collect();
    assert_eq!(records, out.history.epochs, "the reports are the history");
    let numbers: Vec<_> = records.iter().map(|r| r.epoch).collect();
    assert_eq!(numbers, (1..=records.len()).collect::<Vec<_>>());
    let stops: Vec<_> = epochs.iter().map(|(_, s)| *s).collect();
    let mut expected = vec![false; stops.len()];
    if out.stopped_early {
        *expected.last_mut().unwrap() = true;
    }
    assert_eq!(stops, expected);
    assert_eq!(
        events.last(),
        Some(&Event::Finish(TrainSummary {
            epochs_run: out.history.epochs.len(),
            best_epoch: out.best_epoch,
            stopped_early: out.stopped_early,
        }))
    );
}

#[test]
fn a_recording_observer_sees_every_epoch_in_order() {
    let t = common::tissue(8, 10, 3);
    let input = TrainInput::new(t.lognorm.view(), t.coords.view());
    let c = cfg(6);
    let mut rec = Recorder::default();
    let out = train_observed(&input, &arch(), &c, BackendKind::Flex, &mut rec).unwrap();
    assert_eq!(out.history.epochs.len(), 6);
    check_sequence(&rec.0, &out, &c);
    // The observer only watches: `train` (the tracing observer) gives the same weights, seen through the
    // encodings they give (the records also hold each parameter's random id, which differs per run).
    let encode = |o: &dpvae_model::TrainOutcome| {
        o.model
            .encode(t.lognorm.view(), BackendKind::Flex)
            .unwrap()
            .mean
    };
    let plain = train(&input, &arch(), &c, BackendKind::Flex).unwrap();
    assert_eq!(encode(&plain), encode(&out));
    let traced =
        train_observed(&input, &arch(), &c, BackendKind::Flex, &mut TracingObserver).unwrap();
    assert_eq!(encode(&traced), encode(&out));
}

#[test]
fn early_stopping_is_reported_on_the_last_epoch() {
    let t = common::tissue(8, 10, 4);
    let input = TrainInput::new(t.lognorm.view(), t.coords.view());
    // An impossible min_delta: no epoch after the first improves, so patience 2 stops after epoch 3.
    let c = TrainConfig {
        early_stopping_patience: Some(2),
        min_delta: 1e12,
        ..cfg(20)
    };
    let mut rec = Recorder::default();
    let out = train_observed(&input, &arch(), &c, BackendKind::Flex, &mut rec).unwrap();
    assert!(out.stopped_early);
    assert_eq!(out.history.epochs.len(), 3);
    assert_eq!(out.best_epoch, 1);
    check_sequence(&rec.0, &out, &c);
    let best: Vec<_> = rec
        .0
        .iter()
        .filter_map(|e| match e {
            Event::Epoch { best_epoch, .. } => Some(*best_epoch),
            _ => None,
        })
        .collect();
    assert_eq!(best, vec![Some(1); 3]);
}

#[test]
fn a_failed_run_ends_with_the_error() {
    let mut t = common::tissue(6, 10, 4);
    t.lognorm.row_mut(3).fill(1e30);
    let input = TrainInput::new(t.lognorm.view(), t.coords.view());
    let mut rec = Recorder::default();
    let err = train_observed(&input, &arch(), &cfg(2), BackendKind::Flex, &mut rec).unwrap_err();
    assert!(matches!(err, ModelError::NonFiniteLoss { .. }), "{err}");
    assert!(
        matches!(rec.0.first(), Some(Event::Start(_))),
        "{:?}",
        rec.0
    );
    assert_eq!(rec.0.last(), Some(&Event::Error(err.to_string())));
    assert_eq!(rec.0.len(), 2, "no epoch finished: {:?}", rec.0);
}

/// Stops the run after `after` epochs, as a Ctrl-C in a notebook does.
struct StopAfter {
    after: usize,
    seen: usize,
}

impl TrainObserver for StopAfter {
    fn on_epoch(&mut self, _: &EpochReport<'_>) {
        self.seen += 1;
    }
    fn keep_going(&mut self) -> bool {
        self.seen < self.after
    }
}

#[test]
fn an_observer_can_interrupt_the_run() {
    let t = common::tissue(6, 10, 4);
    let input = TrainInput::new(t.lognorm.view(), t.coords.view());
    let mut stop = StopAfter { after: 2, seen: 0 };
    let err = train_observed(&input, &arch(), &cfg(10), BackendKind::Flex, &mut stop).unwrap_err();
    assert!(matches!(err, ModelError::Interrupted { epoch: 2 }), "{err}");
    assert_eq!(stop.seen, 2, "no epoch runs after the request");
}
