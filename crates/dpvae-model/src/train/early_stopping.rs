//! Early stopping on a validation score: patience, the best epoch and its model, and restoring it.

/// Watches one validation score per epoch (lower is better). With a patience it keeps a copy of the best
/// model and says when to stop; without one it only follows the best score, and the last model is kept.
pub(super) struct EarlyStopping<M> {
    patience: Option<usize>,
    min_delta: f64,
    /// Best score and its 1-based epoch.
    best: Option<(f64, usize)>,
    /// The model of the best epoch (kept only with a patience: it is restored at the end).
    best_model: Option<M>,
    /// Validation epochs since the best one.
    since_best: usize,
}

impl<M: Clone> EarlyStopping<M> {
    /// Stop after `patience` validation epochs without an improvement of more than `min_delta` (`None`:
    /// never stop, keep the last model).
    pub fn new(patience: Option<usize>, min_delta: f64) -> Self {
        Self {
            patience,
            min_delta,
            best: None,
            best_model: None,
            since_best: 0,
        }
    }

    /// Record `score` of 1-based `epoch`, whose weights are `model`; returns whether it is the new best
    /// (the first score, or one below the best by more than `min_delta`).
    pub fn observe(&mut self, epoch: usize, score: f64, model: &M) -> bool {
        let improved = self
            .best
            .is_none_or(|(best, _)| score < best - self.min_delta);
        if improved {
            self.best = Some((score, epoch));
            if self.patience.is_some() {
                self.best_model = Some(model.clone());
            }
            self.since_best = 0;
        } else {
            self.since_best += 1;
        }
        improved
    }

    /// Whether the patience has run out.
    pub fn should_stop(&self) -> bool {
        self.patience.is_some_and(|p| self.since_best >= p)
    }

    /// The best epoch so far (1-based), if any score was observed.
    pub fn best_epoch(&self) -> Option<usize> {
        self.best.map(|(_, epoch)| epoch)
    }

    /// The model to keep after `epochs_run` epochs that ended with `last`, and its epoch: the best one with a
    /// patience, otherwise `last`.
    pub fn finish(self, last: M, epochs_run: usize) -> (M, usize) {
        match (self.best_model, self.best) {
            (Some(model), Some((_, epoch))) => (model, epoch),
            _ => (last, epochs_run),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::EarlyStopping;

    /// Feed `scores` as epochs 1, 2, ... (the "model" is the epoch number); the epochs run and the kept one.
    fn run(patience: Option<usize>, min_delta: f64, scores: &[f64]) -> (usize, (usize, usize)) {
        let mut es = EarlyStopping::new(patience, min_delta);
        let mut last = 0;
        for (i, &s) in scores.iter().enumerate() {
            last = i + 1;
            es.observe(last, s, &last);
            if es.should_stop() {
                break;
            }
        }
        (last, es.finish(last, last))
    }

    #[test]
    fn stops_after_patience_epochs_without_improvement_and_keeps_the_best() {
        let (ran, kept) = run(Some(2), 0.0, &[5.0, 3.0, 4.0, 3.5, 1.0, 0.5]);
        assert_eq!(ran, 4, "epochs 3 and 4 did not improve on epoch 2");
        assert_eq!(kept, (2, 2));
    }

    #[test]
    fn an_improvement_resets_the_patience() {
        let (ran, kept) = run(Some(2), 0.0, &[5.0, 6.0, 4.0, 7.0, 3.0, 8.0, 9.0, 1.0]);
        assert_eq!(ran, 7);
        assert_eq!(kept, (5, 5));
    }

    #[test]
    fn min_delta_counts_small_gains_as_no_improvement() {
        let mut es = EarlyStopping::new(Some(1), 0.5);
        assert!(es.observe(1, 2.0, &1));
        assert!(!es.observe(2, 1.8, &2), "0.2 < min_delta");
        assert!(es.should_stop());
        assert_eq!(es.best_epoch(), Some(1));
        assert_eq!(es.finish(2, 2), (1, 1));
    }

    #[test]
    fn without_patience_it_never_stops_and_keeps_the_last_model() {
        let (ran, kept) = run(None, 0.0, &[1.0, 2.0, 3.0, 4.0]);
        assert_eq!(ran, 4);
        assert_eq!(kept, (4, 4));
    }

    #[test]
    fn with_no_validation_scores_the_last_model_is_kept() {
        let es = EarlyStopping::<usize>::new(Some(3), 0.0);
        assert!(!es.should_stop());
        assert_eq!(es.best_epoch(), None);
        assert_eq!(es.finish(9, 9), (9, 9));
    }
}
