//! The grammar of `dpvae train`: its arguments and the settings they fill.

use clap::Args;
use dpvae_data::preprocess::HvgFlavor;
use dpvae_model::{LambdaMode, Likelihood, MaskSpec};
use std::path::PathBuf;

/// Flags shared by every command that trains (`train`, `run`). Unset flags leave the config file's value; the
/// file has [preprocess], [model] and [train] tables and `backend` (see --print-config), and --seed lands in
/// `train.seed`.
#[derive(Debug, Clone, Args)]
pub struct TrainFlags {
    /// Weight of the distance-preserving loss (0: plain VAE) [default: 10, against the VAE terms per input
    /// feature; the paper's protocol: 100 against the sum over genes].
    #[arg(long)]
    pub alpha2: Option<f64>,
    /// Most training epochs; early stopping on the validation spots usually ends sooner [default: 200].
    #[arg(long)]
    pub epochs: Option<usize>,
    /// Spots per step (0: full batch) [default: 256, grown to about n/16 for large references, at most 512; an epoch is then at most 16 steps].
    #[arg(long)]
    pub batch_size: Option<usize>,
    /// Learning rate of Adam(W) [default: 0.001].
    #[arg(long)]
    pub lr: Option<f64>,
    /// Weight of the KL term [default: 1].
    #[arg(long)]
    pub beta: Option<f64>,
    /// Latent dimension; 2 is read as coordinates, more is reduced to 2-d by SMACOF [default: 2].
    #[arg(long)]
    pub latent_dim: Option<usize>,
    /// Hidden layer widths, comma separated [default: 256,128; the paper: 124].
    #[arg(long, value_delimiter = ',')]
    pub hidden: Option<Vec<usize>>,
    /// Observation model: gaussian, gaussian-learned-variance or nb (raw counts) [default: gaussian].
    #[arg(long, value_name = "LIKELIHOOD")]
    pub likelihood: Option<Likelihood>,
    /// Pairs in the distance-preserving loss: none, knn:K, radius:R, clusters:K [default: none, every pair].
    #[arg(long)]
    pub mask: Option<MaskSpec>,
    /// Highly variable genes to keep, chosen among the genes the query shares (0: all genes) [default: 2000].
    #[arg(long)]
    pub hvg: Option<usize>,
    /// HVG flavor: variance (top variance of the log data), seurat_v3 (on raw counts), seurat or cell_ranger;
    /// giving it fixes the gene selection (no automatic choice) [default: chosen per reference, see --no-auto].
    #[arg(long)]
    pub flavor: Option<HvgFlavor>,
    /// Do not choose the gene selection per reference: use variance (or --flavor). By default each of
    /// variance, seurat_v3 and seurat trains 2 members, and the one whose members place the reference's own
    /// validation spots best (Procrustes disparity against their true coordinates) is completed to the
    /// ensemble; the query is never used to choose. That costs 9 member runs instead of 5 (about 1.8x the
    /// training time); above 50000 spots the search runs on a subsample of 50000 and the chosen selection
    /// trains afresh (11 runs). The choice and every score are stored in placement.json and
    /// uns['dpvae']['placement']['selection'] (settings: [placement.auto]).
    #[arg(long)]
    pub no_auto: bool,
    /// Fraction of spots held out for validation / early stopping [default: 0.1].
    #[arg(long)]
    pub validation_fraction: Option<f64>,
    /// Stop after this many epochs without improvement of the validation spots' DP loss; the best epoch is
    /// kept [default: 40].
    #[arg(long)]
    pub patience: Option<usize>,
    /// lambda, the latent-per-spatial distance scale: fixed at its initial value or learned [default: fixed
    /// at 1, on coordinates standardised to unit spread].
    #[arg(long, value_name = "fixed|learned")]
    pub lambda: Option<LambdaMode>,
    /// Dropout after each hidden encoder layer [default: 0.1].
    #[arg(long)]
    pub dropout: Option<f64>,
    /// AdamW weight decay (0: Adam) [default: 0.0001].
    #[arg(long)]
    pub weight_decay: Option<f64>,
    /// Ensemble members (seeds seed, seed+1, ...) whose placements are averaged in the reference's frame
    /// [default: 5].
    #[arg(long)]
    pub members: Option<usize>,
    /// Principal components of the log-normalised HVGs the model sees (0: the genes themselves) [default: 30].
    #[arg(long)]
    pub pca: Option<usize>,
}

#[derive(Debug, Args)]
pub struct TrainArgs {
    /// Reference with raw counts and coordinates (any supported format).
    pub reference: PathBuf,
    /// Model directory to write (with config.toml, the effective settings, and history.csv).
    #[arg(long)]
    pub out: PathBuf,
    /// A query (any supported format) to be placed later: genes are chosen among those it has, so none of the
    /// model's genes will be missing from it (`dpvae run` does this itself).
    #[arg(long, value_name = "QUERY")]
    pub shared_with: Option<PathBuf>,
    #[command(flatten)]
    pub flags: TrainFlags,
}
