//! A trained model independent of any backend, and encoding data with it.

use burn::prelude::*;
use burn::record::{FullPrecisionSettings, NamedMpkBytesRecorder, Recorder};
use ndarray::{Array2, ArrayView2};

use crate::backend::{BackendKind, FlexBackend, NdArrayBackend};
use crate::error::{ModelError, Result};
use crate::model::{DpVae, ModelConfig};

/// Rows encoded per forward pass, bounding memory on large query sets.
const ENCODE_CHUNK: usize = 8192;

/// A trained dp-VAE: its configuration and its weights as a burn record (named MessagePack, full precision),
/// which can be materialised on any backend.
#[derive(Debug, Clone, PartialEq)]
pub struct FittedModel {
    config: ModelConfig,
    record: Vec<u8>,
}

/// Posterior of q(z | x) for each spot.
#[derive(Debug, Clone, PartialEq)]
pub struct Embedding {
    /// Posterior means `[spots, d]` (the embedding).
    pub mean: Array2<f32>,
    /// Posterior variances `[spots, d]`.
    pub variance: Array2<f32>,
}

fn recorder() -> NamedMpkBytesRecorder<FullPrecisionSettings> {
    NamedMpkBytesRecorder::default()
}

impl FittedModel {
    /// Capture a module's weights.
    pub fn from_module<B: Backend>(config: ModelConfig, module: DpVae<B>) -> Result<Self> {
        let record = Recorder::<B>::record(&recorder(), module.into_record(), ())
            .map_err(|e| ModelError::InvalidInput(format!("cannot serialise the model: {e}")))?;
        Ok(Self { config, record })
    }

    /// Rebuild from a configuration and record bytes, checking that they fit together.
    pub fn from_record_bytes(config: ModelConfig, record: Vec<u8>) -> Result<Self> {
        config.check()?;
        let fitted = Self { config, record };
        fitted.to_module::<FlexBackend>(&Default::default())?;
        Ok(fitted)
    }

    /// The architecture.
    pub fn config(&self) -> &ModelConfig {
        &self.config
    }

    /// The burn record (named MessagePack).
    pub fn record_bytes(&self) -> &[u8] {
        &self.record
    }

    /// Materialise the network on backend `B`. Fails when the record does not match the configuration.
    pub fn to_module<B: Backend>(&self, device: &B::Device) -> Result<DpVae<B>> {
        let fresh = self.config.init::<B>(device);
        let expected = fresh.param_shapes();
        let bytes = self.record.clone();
        let loaded = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            Recorder::<B>::load(&recorder(), bytes, device).map(|r| fresh.load_record(r))
        }))
        .map_err(|_| {
            ModelError::InvalidInput(
                "the weights do not fit the architecture in config.json (was config.json edited, or the \
                 weights file taken from another model?)"
                    .into(),
            )
        })?
        // burn's own message suggests a feature flag, which is no help to a user: the file is damaged.
        .map_err(|e| {
            tracing::debug!("burn could not read the record: {e}");
            ModelError::InvalidInput(format!(
                "the weights file ({} bytes) cannot be read: it is truncated or damaged; restore it or retrain",
                self.record.len()
            ))
        })?;
        let got = loaded.param_shapes();
        if got != expected {
            return Err(ModelError::InvalidInput(format!(
                "the weights' tensor shapes {got:?} do not match the architecture in config.json \
                 ({expected:?}): was config.json edited, or the weights file taken from another model?"
            )));
        }
        Ok(loaded)
    }

    /// Every weight as one flat vector (see [`DpVae::flat_params`]); equal vectors mean equal models.
    pub fn parameters(&self) -> Result<Vec<f32>> {
        self.to_module::<FlexBackend>(&Default::default())?
            .flat_params()
    }

    /// Current lambda.
    pub fn lambda(&self) -> Result<f64> {
        Ok(self.to_module::<FlexBackend>(&Default::default())?.lambda())
    }

    /// Posterior means and variances of `x` (`[spots, genes]`, genes in the model's order, preprocessed as for
    /// training: log-normalised for Gaussian models, raw counts for NB).
    pub fn encode(&self, x: ArrayView2<'_, f32>, backend: BackendKind) -> Result<Embedding> {
        backend.ensure_available()?;
        match backend {
            BackendKind::Flex => self.encode_on::<FlexBackend>(x, &Default::default()),
            BackendKind::Ndarray => self.encode_on::<NdArrayBackend>(x, &Default::default()),
            #[cfg(feature = "cuda")]
            BackendKind::Cuda => {
                self.encode_on::<crate::backend::CudaBackend>(x, &Default::default())
            }
            #[cfg(not(feature = "cuda"))]
            BackendKind::Cuda => unreachable!("ensure_available rejects cuda without the feature"),
        }
    }

    fn encode_on<B: Backend>(
        &self,
        x: ArrayView2<'_, f32>,
        device: &B::Device,
    ) -> Result<Embedding> {
        let module = self.to_module::<B>(device)?;
        let (n, g) = x.dim();
        if g != self.config.n_genes {
            return Err(ModelError::InvalidInput(format!(
                "the data has {g} genes but the model was trained on {}; align it to the model's gene list",
                self.config.n_genes
            )));
        }
        let counts = self.config.likelihood.uses_counts();
        let d = self.config.latent_dim;
        let mut mean = Array2::<f32>::zeros((n, d));
        let mut variance = Array2::<f32>::zeros((n, d));
        for start in (0..n).step_by(ENCODE_CHUNK) {
            let end = (start + ENCODE_CHUNK).min(n);
            let mut buf = Vec::with_capacity((end - start) * g);
            for row in x.slice(ndarray::s![start..end, ..]).rows() {
                for &v in row {
                    if !v.is_finite() {
                        return Err(ModelError::InvalidInput(format!(
                            "non-finite expression value {v} in the data to encode"
                        )));
                    }
                    buf.push(if counts { v.max(0.0).ln_1p() } else { v });
                }
            }
            let t = Tensor::<B, 2>::from_data(TensorData::new(buf, [end - start, g]), device);
            let (m, lv) = module.encoder.forward(t);
            let m = to_vec(m)?;
            let v: Vec<f32> = to_vec(lv)?.into_iter().map(f32::exp).collect();
            for (i, row) in (start..end).enumerate() {
                for k in 0..d {
                    mean[[row, k]] = m[i * d + k];
                    variance[[row, k]] = v[i * d + k];
                }
            }
        }
        Ok(Embedding { mean, variance })
    }
}

pub(crate) fn to_vec<B: Backend, const D: usize>(t: Tensor<B, D>) -> Result<Vec<f32>> {
    t.into_data()
        .convert::<f32>()
        .into_vec::<f32>()
        .map_err(|e| ModelError::InvalidInput(format!("reading a tensor: {e:?}")))
}

impl<B: Backend> DpVae<B> {
    /// Shapes of every parameter, in a fixed order (used to validate loaded records).
    pub fn param_shapes(&self) -> Vec<Vec<usize>> {
        let mut out = Vec::new();
        let lin = |l: &burn::nn::Linear<B>, out: &mut Vec<Vec<usize>>| {
            out.push(l.weight.val().dims().to_vec());
            if let Some(b) = &l.bias {
                out.push(b.val().dims().to_vec());
            }
        };
        for l in &self.encoder.layers {
            lin(l, &mut out);
        }
        lin(&self.encoder.head, &mut out);
        for l in &self.decoder.layers {
            lin(l, &mut out);
        }
        lin(&self.decoder.out, &mut out);
        out.push(self.gene_log_param.val().dims().to_vec());
        out.push(self.log_lambda.val().dims().to_vec());
        out
    }

    /// Every parameter value, flattened in the order of [`Self::param_shapes`].
    pub fn flat_params(&self) -> Result<Vec<f32>> {
        let mut tensors: Vec<Tensor<B, 1>> = Vec::new();
        let mut lin = |l: &burn::nn::Linear<B>| {
            tensors.push(l.weight.val().flatten(0, 1));
            if let Some(b) = &l.bias {
                tensors.push(b.val());
            }
        };
        self.encoder.layers.iter().for_each(&mut lin);
        lin(&self.encoder.head);
        self.decoder.layers.iter().for_each(&mut lin);
        lin(&self.decoder.out);
        tensors.push(self.gene_log_param.val());
        tensors.push(self.log_lambda.val());
        to_vec(Tensor::cat(tensors, 0))
    }
}
