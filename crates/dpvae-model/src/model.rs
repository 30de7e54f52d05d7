//! The network: an MLP encoder to a diagonal Gaussian posterior in R^d, the reparameterised sample and an MLP
//! decoder back to genes, plus the per-gene likelihood parameter and the distance scale `lambda`.

use burn::module::Param;
use burn::nn::Linear;
use burn::prelude::*;
use burn::tensor::activation::relu;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::error::{ModelError, Result};

/// The observation model of the decoder.
#[derive(Config, Debug, PartialEq, Eq, Copy)]
pub enum Likelihood {
    /// Gaussian with unit variance on log-normalised expression (the paper's choice).
    Gaussian,
    /// Gaussian with a learned per-gene variance on log-normalised expression.
    GaussianLearnedVariance,
    /// Negative binomial on raw counts, mean = library size x softmax(decoder) (scVI-style), with a learned
    /// per-gene inverse dispersion `theta`.
    NegativeBinomial,
}

impl Likelihood {
    /// Whether the model consumes raw counts (and library sizes) rather than log-normalised values.
    pub fn uses_counts(self) -> bool {
        matches!(self, Self::NegativeBinomial)
    }

    /// A short name for logs and file names.
    pub fn name(self) -> &'static str {
        match self {
            Self::Gaussian => "gaussian",
            Self::GaussianLearnedVariance => "gaussian-learned-variance",
            Self::NegativeBinomial => "nb",
        }
    }
}

impl std::str::FromStr for Likelihood {
    type Err = ModelError;
    fn from_str(s: &str) -> Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "gaussian" | "normal" => Ok(Self::Gaussian),
            "gaussian-learned-variance" | "gaussian-learned" => Ok(Self::GaussianLearnedVariance),
            "nb" | "negative-binomial" | "negbin" => Ok(Self::NegativeBinomial),
            other => Err(ModelError::InvalidConfig(format!(
                "unknown likelihood `{other}` (expected gaussian, gaussian-learned-variance or nb)"
            ))),
        }
    }
}

/// Architecture of a dp-VAE: what a saved model needs to rebuild its network before its weights are loaded.
///
/// How a new network starts (the seed of its weights, the initial `lambda`) is not part of it: training owns
/// both ([`crate::TrainConfig::seed`], [`crate::TrainConfig::lambda_init`]) and hands them to
/// [`ModelConfig::init_with`]. Model directories written when this struct still had `seed` and `lambda_init`
/// load unchanged: the keys are ignored (the weights, `lambda` included, come from the record).
/// The widest hidden layer dpvae builds: wider only costs memory and time on a few thousand spots.
pub const MAX_HIDDEN_WIDTH: usize = 16_384;

/// The most weights a model may have: 10^8 f32 is 400 MB, and Adam keeps two more copies.
pub const MAX_PARAMETERS: usize = 100_000_000;

#[derive(Config, Debug, PartialEq)]
pub struct ModelConfig {
    /// Number of genes (input and output width).
    pub n_genes: usize,
    /// Hidden layer widths of the encoder; the decoder mirrors them. The paper uses one layer of 124.
    #[config(default = "vec![124]")]
    pub hidden: Vec<usize>,
    /// Latent dimension d (the paper's 2, so the latent space can be compared to the tissue).
    #[config(default = 2)]
    pub latent_dim: usize,
    /// Observation model.
    #[config(default = "Likelihood::Gaussian")]
    pub likelihood: Likelihood,
    /// Dropout probability after each hidden encoder layer during training (0: none). The masks are drawn on
    /// the host from the training seed, so runs stay bit-identical.
    #[config(default = 0.0)]
    pub dropout: f64,
}

impl ModelConfig {
    /// Validate the architecture.
    pub fn check(&self) -> Result<()> {
        if self.n_genes == 0 {
            return Err(ModelError::InvalidConfig("n_genes must be positive".into()));
        }
        if self.latent_dim == 0 {
            return Err(ModelError::InvalidConfig(
                "latent_dim must be positive".into(),
            ));
        }
        if self.hidden.is_empty() {
            return Err(ModelError::InvalidConfig(
                "hidden must name at least one layer width (e.g. [128])".into(),
            ));
        }
        if self.hidden.contains(&0) {
            return Err(ModelError::InvalidConfig(format!(
                "hidden layer widths must be positive, got {:?}",
                self.hidden
            )));
        }
        if let Some(w) = self.hidden.iter().find(|&&w| w > MAX_HIDDEN_WIDTH) {
            return Err(ModelError::InvalidConfig(format!(
                "a hidden layer of {w} units is more than the {MAX_HIDDEN_WIDTH} dpvae allows (hidden {:?})",
                self.hidden
            )));
        }
        if self.n_parameters() > MAX_PARAMETERS {
            return Err(ModelError::InvalidConfig(format!(
                "hidden {:?} with {} genes makes {} weights, more than the {MAX_PARAMETERS} (about 400 MB \
                 of f32, before the optimiser's two copies) dpvae allows",
                self.hidden,
                self.n_genes,
                self.n_parameters()
            )));
        }
        if !(0.0..1.0).contains(&self.dropout) {
            return Err(ModelError::InvalidConfig(format!(
                "dropout must be in [0, 1), got {}",
                self.dropout
            )));
        }
        Ok(())
    }

    /// Weights and biases of encoder and decoder (saturating, so absurd sizes cannot overflow).
    pub fn n_parameters(&self) -> usize {
        let mut enc = vec![self.n_genes];
        enc.extend(&self.hidden);
        enc.push(2 * self.latent_dim);
        let mut dec = vec![self.latent_dim];
        dec.extend(self.hidden.iter().rev());
        dec.push(self.n_genes);
        [enc, dec]
            .iter()
            .flat_map(|w| w.windows(2))
            .fold(0usize, |n, w| {
                n.saturating_add(w[0].saturating_mul(w[1]).saturating_add(w[1]))
            })
    }

    /// Build the network with seed 0 and `lambda = 1`: the shape a saved record is loaded into, or a
    /// quick untrained model. Training uses [`ModelConfig::init_with`].
    pub fn init<B: Backend>(&self, device: &B::Device) -> DpVae<B> {
        self.init_with(0, 1.0, device)
    }

    /// Build the network. Weights follow PyTorch's `nn.Linear` default, U(-1/sqrt(fan_in), 1/sqrt(fan_in)),
    /// drawn from a ChaCha8 stream seeded with `seed`, so initialisation does not depend on the backend's
    /// global RNG (which parallel tests would share); `lambda` starts at `lambda_init` (positive and finite,
    /// as the trainer checks).
    pub fn init_with<B: Backend>(
        &self,
        seed: u64,
        lambda_init: f64,
        device: &B::Device,
    ) -> DpVae<B> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut widths = vec![self.n_genes];
        widths.extend(&self.hidden);
        let enc_layers = widths
            .windows(2)
            .map(|w| linear(w[0], w[1], &mut rng, device))
            .collect();
        let last = *widths.last().expect("non-empty");
        let head = linear(last, 2 * self.latent_dim, &mut rng, device);
        let mut dec_widths = vec![self.latent_dim];
        dec_widths.extend(self.hidden.iter().rev());
        let dec_layers = dec_widths
            .windows(2)
            .map(|w| linear(w[0], w[1], &mut rng, device))
            .collect();
        let dec_last = *dec_widths.last().expect("non-empty");
        let out = linear(dec_last, self.n_genes, &mut rng, device);
        DpVae {
            encoder: Encoder {
                layers: enc_layers,
                head,
            },
            decoder: Decoder {
                layers: dec_layers,
                out,
            },
            // log variance (Gaussian) or log theta (NB) per gene; zero means unit variance / theta = 1.
            gene_log_param: Param::from_tensor(Tensor::zeros([self.n_genes], device)),
            log_lambda: Param::from_tensor(Tensor::from_floats([lambda_init.ln() as f32], device)),
        }
    }
}

fn linear<B: Backend>(
    fan_in: usize,
    fan_out: usize,
    rng: &mut ChaCha8Rng,
    device: &B::Device,
) -> Linear<B> {
    let bound = 1.0 / (fan_in as f32).sqrt();
    let w: Vec<f32> = (0..fan_in * fan_out)
        .map(|_| rng.gen_range(-bound..bound))
        .collect();
    let b: Vec<f32> = (0..fan_out).map(|_| rng.gen_range(-bound..bound)).collect();
    Linear {
        weight: Param::from_tensor(Tensor::from_data(
            TensorData::new(w, [fan_in, fan_out]),
            device,
        )),
        bias: Some(Param::from_tensor(Tensor::from_data(
            TensorData::new(b, [fan_out]),
            device,
        ))),
    }
}

/// Encoder MLP: genes -> hidden (ReLU) -> (mean, log-variance) of q(z | x).
#[derive(Module, Debug)]
pub struct Encoder<B: Backend> {
    /// Hidden layers, each followed by ReLU.
    pub layers: Vec<Linear<B>>,
    /// Output layer of width 2d: the first d columns are the mean, the last d the log-variance.
    pub head: Linear<B>,
}

impl<B: Backend> Encoder<B> {
    /// Posterior mean and log-variance, each `[n, d]`.
    pub fn forward(&self, x: Tensor<B, 2>) -> (Tensor<B, 2>, Tensor<B, 2>) {
        self.forward_masked(x, &[])
    }

    /// As [`Encoder::forward`], multiplying hidden layer `i`'s activations by `masks[i]` when given (inverted
    /// dropout: entries 0 or `1 / (1 - p)`).
    pub fn forward_masked(
        &self,
        x: Tensor<B, 2>,
        masks: &[Tensor<B, 2>],
    ) -> (Tensor<B, 2>, Tensor<B, 2>) {
        let mut h = x;
        for (i, layer) in self.layers.iter().enumerate() {
            h = relu(layer.forward(h));
            if let Some(m) = masks.get(i) {
                h = h * m.clone();
            }
        }
        let out = self.head.forward(h);
        let d = out.dims()[1] / 2;
        (out.clone().narrow(1, 0, d), out.narrow(1, d, d))
    }
}

/// Decoder MLP: latent -> hidden (ReLU) -> genes. Its output is the Gaussian mean, or the NB logits that a
/// softmax turns into expression proportions.
#[derive(Module, Debug)]
pub struct Decoder<B: Backend> {
    /// Hidden layers, each followed by ReLU.
    pub layers: Vec<Linear<B>>,
    /// Output layer.
    pub out: Linear<B>,
}

impl<B: Backend> Decoder<B> {
    /// Decoder output `[n, genes]`.
    pub fn forward(&self, z: Tensor<B, 2>) -> Tensor<B, 2> {
        let mut h = z;
        for layer in &self.layers {
            h = relu(layer.forward(h));
        }
        self.out.forward(h)
    }
}

/// The dp-VAE: encoder, decoder, per-gene likelihood parameter and the log of the distance scale `lambda`.
#[derive(Module, Debug)]
pub struct DpVae<B: Backend> {
    /// q(z | x).
    pub encoder: Encoder<B>,
    /// p(x | z).
    pub decoder: Decoder<B>,
    /// Per-gene log-variance (Gaussian with learned variance) or log inverse dispersion (NB); unused otherwise.
    pub gene_log_param: Param<Tensor<B, 1>>,
    /// log(lambda), so lambda stays positive while it is learned.
    pub log_lambda: Param<Tensor<B, 1>>,
}

/// The tensors of one forward pass.
#[derive(Debug, Clone)]
pub struct ForwardPass<B: Backend> {
    /// Posterior mean `[n, d]`.
    pub mean: Tensor<B, 2>,
    /// Posterior log-variance `[n, d]`.
    pub logvar: Tensor<B, 2>,
    /// Reparameterised sample `mean + exp(logvar / 2) * eps` `[n, d]`.
    pub z: Tensor<B, 2>,
    /// Decoder output `[n, genes]`.
    pub out: Tensor<B, 2>,
}

impl<B: Backend> DpVae<B> {
    /// Encode `x` (already in the encoder's input space) and decode the sample `mean + sigma * eps`.
    pub fn forward(&self, x: Tensor<B, 2>, eps: Tensor<B, 2>) -> ForwardPass<B> {
        self.forward_masked(x, eps, &[])
    }

    /// As [`DpVae::forward`] with dropout masks on the encoder's hidden layers.
    pub fn forward_masked(
        &self,
        x: Tensor<B, 2>,
        eps: Tensor<B, 2>,
        masks: &[Tensor<B, 2>],
    ) -> ForwardPass<B> {
        let (mean, logvar) = self.encoder.forward_masked(x, masks);
        let z = mean.clone() + logvar.clone().mul_scalar(0.5).exp() * eps;
        let out = self.decoder.forward(z.clone());
        ForwardPass {
            mean,
            logvar,
            z,
            out,
        }
    }

    /// Latent dimension d.
    pub fn latent_dim(&self) -> usize {
        self.encoder.head.weight.val().dims()[1] / 2
    }

    /// Number of genes.
    pub fn n_genes(&self) -> usize {
        self.decoder.out.weight.val().dims()[1]
    }

    /// Current value of lambda.
    pub fn lambda(&self) -> f64 {
        f64::from(self.log_lambda.val().into_scalar().elem::<f32>()).exp()
    }
}
