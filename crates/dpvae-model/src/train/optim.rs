//! The optimiser a [`super::TrainConfig`] names.

use burn::optim::adaptor::OptimizerAdaptor;
use burn::optim::{Adam, AdamConfig, AdamW, AdamWConfig, GradientsParams, Optimizer};
use burn::tensor::backend::AutodiffBackend;

use super::TrainConfig;
use crate::model::DpVae;

/// Adam, or AdamW when weight decay is asked for (kept apart so weight_decay = 0 stays bit-identical to the
/// plain Adam runs recorded before AdamW existed).
pub(super) enum Optim<B: AutodiffBackend> {
    Adam(OptimizerAdaptor<Adam, DpVae<B>, B>),
    AdamW(OptimizerAdaptor<AdamW, DpVae<B>, B>),
}

impl<B: AutodiffBackend> Optim<B> {
    /// The optimiser of `cfg.optimizer` and `cfg.weight_decay`. The hyperparameters are f32 in burn; the
    /// defaults (0.9, 0.999, 1e-8) convert to exactly the f32 values burn's own defaults and earlier versions
    /// of this trainer used.
    pub fn new(cfg: &TrainConfig) -> Self {
        let o = &cfg.optimizer;
        let (beta_1, beta_2, epsilon) = (o.beta1 as f32, o.beta2 as f32, o.epsilon as f32);
        if cfg.weight_decay > 0.0 {
            Optim::AdamW(
                AdamWConfig::new()
                    .with_beta_1(beta_1)
                    .with_beta_2(beta_2)
                    .with_epsilon(epsilon)
                    .with_weight_decay(cfg.weight_decay as f32)
                    .init(),
            )
        } else {
            Optim::Adam(
                AdamConfig::new()
                    .with_beta_1(beta_1)
                    .with_beta_2(beta_2)
                    .with_epsilon(epsilon)
                    .init(),
            )
        }
    }

    pub fn step(&mut self, lr: f64, model: DpVae<B>, grads: GradientsParams) -> DpVae<B> {
        match self {
            Optim::Adam(o) => o.step(lr, model, grads),
            Optim::AdamW(o) => o.step(lr, model, grads),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::OptimizerConfig;

    /// The defaults must reach burn as the f32 literals the trainer passed before they were configurable.
    #[test]
    fn default_hyperparameters_are_the_former_f32_constants() {
        let o = OptimizerConfig::default();
        assert_eq!((o.beta1 as f32).to_bits(), 0.9f32.to_bits());
        assert_eq!((o.beta2 as f32).to_bits(), 0.999f32.to_bits());
        assert_eq!((o.epsilon as f32).to_bits(), 1e-8f32.to_bits());
    }
}
