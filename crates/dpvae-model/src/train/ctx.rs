//! The shared, read-only context of a run (prepared data, mask, likelihood) and the loss terms it evaluates.

use burn::prelude::*;
use ndarray::Array2;
use rand_chacha::ChaCha8Rng;

use super::data::Prepared;
use crate::encode::to_vec;
use crate::error::Result;
use crate::loss::{
    SpotMask, dp_loss_grad, gaussian_nll, kl_standard_normal, nb_gamma_terms, nb_nll_differentiable,
};
use crate::model::{DpVae, Likelihood};

/// Loss terms of one step or one evaluation.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Terms {
    pub recon: f64,
    pub kl: f64,
    pub dp: f64,
    pub total: f64,
}

impl Terms {
    pub fn first_non_finite(&self) -> Option<(&'static str, f64)> {
        [
            ("recon", self.recon),
            ("kl", self.kl),
            ("dp", self.dp),
            ("total", self.total),
        ]
        .into_iter()
        .find(|(_, v)| !v.is_finite())
    }

    pub fn describe(last: Option<(usize, Terms, f64)>) -> String {
        match last {
            None => "none (the first step failed)".into(),
            Some((epoch, t, lambda)) => format!(
                "epoch {epoch}: recon {}, kl {}, dp {}, total {}, lambda {lambda}",
                t.recon, t.kl, t.dp, t.total
            ),
        }
    }
}

/// The host part of the NB likelihood: its value and dL/dtheta.
pub(super) type NbHostTerms = (f64, Vec<f32>);

/// Host buffers reused between steps.
#[derive(Default)]
pub(super) struct Scratch {
    input: Vec<f32>,
    target: Vec<f32>,
    coords: Vec<f32>,
    log_library: Vec<f32>,
    labels: Vec<u32>,
    pairs: Vec<(u32, u32)>,
    position: Vec<u32>,
}

/// Shared, read-only context of a run.
pub(super) struct Ctx {
    pub prep: Prepared,
    pub mask: Option<SpotMask>,
    pub likelihood: Likelihood,
    pub latent_dim: usize,
    /// The weight of the VAE terms (`alpha1`, divided by the features for [`super::VaeScale::PerFeature`]).
    pub alpha1: f64,
}

impl Ctx {
    /// Gather a batch and build its input/target tensors (and log library sizes for NB).
    pub fn batch_tensors<B: Backend>(
        &self,
        idx: &[usize],
        s: &mut Scratch,
        device: &B::Device,
    ) -> (Tensor<B, 2>, Tensor<B, 2>, Option<Tensor<B, 2>>) {
        let (b, g) = (idx.len(), self.prep.genes);
        Prepared::gather(&self.prep.input, g, idx, &mut s.input);
        let x = Tensor::<B, 2>::from_data(TensorData::new(s.input.clone(), [b, g]), device);
        let target = match &self.prep.target {
            Some(t) => {
                Prepared::gather(t, g, idx, &mut s.target);
                Tensor::from_data(TensorData::new(s.target.clone(), [b, g]), device)
            }
            None => x.clone(),
        };
        let lib = self.likelihood.uses_counts().then(|| {
            Prepared::gather(&self.prep.log_library, 1, idx, &mut s.log_library);
            Tensor::from_data(TensorData::new(s.log_library.clone(), [b, 1]), device)
        });
        (x, target, lib)
    }

    /// Differentiable reconstruction term, plus the host part of the NB likelihood (value, dL/dtheta).
    pub fn recon<B: Backend>(
        &self,
        model: &DpVae<B>,
        out: Tensor<B, 2>,
        target: Tensor<B, 2>,
        log_library: Option<Tensor<B, 2>>,
        idx: &[usize],
        s: &mut Scratch,
    ) -> Result<(Tensor<B, 1>, Option<NbHostTerms>)> {
        Ok(match self.likelihood {
            Likelihood::Gaussian => (gaussian_nll(out, target, None), None),
            Likelihood::GaussianLearnedVariance => (
                gaussian_nll(out, target, Some(model.gene_log_param.val())),
                None,
            ),
            Likelihood::NegativeBinomial => {
                let log_theta = model.gene_log_param.val();
                let t = nb_nll_differentiable(
                    out,
                    target,
                    log_library.expect("NB batches carry library sizes"),
                    log_theta.clone(),
                );
                let theta: Vec<f32> = to_vec(log_theta)?.into_iter().map(f32::exp).collect();
                let counts = self.prep.target.as_ref().expect("NB keeps counts");
                Prepared::gather(counts, self.prep.genes, idx, &mut s.target);
                (t, Some(nb_gamma_terms(&s.target, idx.len(), &theta)))
            }
        })
    }

    /// DP value and gradients for a batch whose latent sample is `z_host`.
    pub fn dp(
        &self,
        z_host: &[f32],
        idx: &[usize],
        lambda: f64,
        s: &mut Scratch,
    ) -> Option<crate::loss::DpGrad> {
        let (coords, mask) = (self.prep.coords.as_ref()?, self.mask.as_ref()?);
        let c = self.prep.coord_dim;
        Prepared::gather(coords, c, idx, &mut s.coords);
        if s.position.len() != self.prep.n {
            s.position = vec![u32::MAX; self.prep.n];
        }
        let bm = mask.for_batch(idx, &mut s.position, &mut s.labels, &mut s.pairs);
        Some(dp_loss_grad(
            z_host,
            self.latent_dim,
            &s.coords,
            c,
            lambda as f32,
            bm,
        ))
    }

    /// Objective terms on `idx` with posterior means (no sampling), without gradients.
    pub fn evaluate<B: Backend>(
        &self,
        model: &DpVae<B>,
        idx: &[usize],
        beta: f64,
        alpha2: f64,
        device: &B::Device,
        s: &mut Scratch,
    ) -> Result<Terms> {
        let (x, target, lib) = self.batch_tensors::<B>(idx, s, device);
        let (mean, logvar) = model.encoder.forward(x);
        let out = model.decoder.forward(mean.clone());
        let (recon, host) = self.recon(model, out, target, lib, idx, s)?;
        let kl = kl_standard_normal(mean.clone(), logvar);
        let vals = to_vec(Tensor::cat(vec![recon, kl], 0))?;
        let recon = f64::from(vals[0]) + host.map_or(0.0, |h| h.0);
        let kl = f64::from(vals[1]);
        let dp = self
            .dp(&to_vec(mean)?, idx, model.lambda(), s)
            .map_or(0.0, |d| d.loss);
        Ok(Terms {
            recon,
            kl,
            dp,
            total: self.alpha1 * (recon + beta * kl) + alpha2 * dp,
        })
    }

    /// Posterior means of `idx`.
    pub fn means<B: Backend>(
        &self,
        model: &DpVae<B>,
        idx: &[usize],
        device: &B::Device,
        s: &mut Scratch,
    ) -> Result<Array2<f32>> {
        let mut out = Array2::<f32>::zeros((idx.len(), self.latent_dim));
        for (chunk_no, chunk) in idx.chunks(8192).enumerate() {
            let (x, _, _) = self.batch_tensors::<B>(chunk, s, device);
            let m = to_vec(model.encoder.forward(x).0)?;
            for (r, row) in m.chunks(self.latent_dim).enumerate() {
                for (k, v) in row.iter().enumerate() {
                    out[[chunk_no * 8192 + r, k]] = *v;
                }
            }
        }
        Ok(out)
    }
}

/// Inverted-dropout masks for the encoder's hidden layers of a batch of `b` spots (none when p = 0).
pub(super) fn dropout_masks<B: Backend>(
    hidden: &[usize],
    p: f64,
    b: usize,
    rng: &mut ChaCha8Rng,
    device: &B::Device,
) -> Vec<Tensor<B, 2>> {
    if p <= 0.0 {
        return Vec::new();
    }
    let keep = (1.0 / (1.0 - p)) as f32;
    hidden
        .iter()
        .map(|&w| {
            let m: Vec<f32> = (0..b * w)
                .map(|_| {
                    if rand::Rng::r#gen::<f64>(rng) < p {
                        0.0
                    } else {
                        keep
                    }
                })
                .collect();
            Tensor::from_data(TensorData::new(m, [b, w]), device)
        })
        .collect()
}
