//! A simulator of an imaging-based single-cell section (Xenium / CosMx / MERFISH-like): up to 10^7 cells, a few
//! hundred genes, written as sparse counts, so scale can be tested without downloads.
//!
//! Model (all draws from ChaCha8 streams seeded from `seed`, so a seed fixes the section, whatever the number
//! of threads):
//! - **Geometry**: cells about [`CELL_SPACING_UM`] apart on a jittered grid inside a random smooth outline (as
//!   the spot simulator's), in microns.
//! - **Niches**: the spot simulator's domains (layers between wavy arcs, and compact regions), on the cells.
//! - **Cell types**: `2 * n_niches` types. A niche holds mostly its own type (55%) and a second type of its own
//!   (25%); the remaining 20% are drawn from every type, so types mix across niche borders as in tissue.
//! - **Genes**: 40% of the panel are type markers (fold change 4.5-20x in their type); 15% are niche genes,
//!   higher (2-4.5x) in every cell of their niche whatever its type, as signalling context and segmentation
//!   spillover make them in imaging data; 10% follow smooth spatial gradients (linear, radial, or along the
//!   layer depth; evaluated per cell, never stored as a cells x fields matrix); the rest are background.
//! - **Counts**: a log-normal library size per cell (median about 0.4 of a unit, about 200 transcripts on 300
//!   genes), negative-binomial counts with the spot simulator's overdispersion and dropout. Cells are drawn in
//!   blocks of [`BLOCK`] in parallel, each block from its own seeded stream.

use ndarray::Array2;
use polars::prelude::{Column, DataFrame};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::dataset::SpatialData;
use crate::error::{DataError, Result};
use crate::matrix::{CsrMatrix, Matrix};
use crate::simulate::{
    MAX_DRAWS, MAX_GENES, MAX_SPOTS, SimulateParams, extent, random_outline, sample_count,
};

/// Typical distance between neighbouring cell centres in an imaging section (um).
pub const CELL_SPACING_UM: f64 = 12.0;
/// Cells per independently seeded block of count draws.
pub const BLOCK: usize = 4096;

/// Parameters of a simulated single-cell section.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CellSimParams {
    pub n_cells: usize,
    pub n_genes: usize,
    /// Spatial niches (layers and regions); there are twice as many cell types.
    pub n_niches: usize,
    /// Scales overdispersion and dropout, as for spots.
    pub noise: f64,
    pub seed: u64,
}

impl Default for CellSimParams {
    fn default() -> Self {
        CellSimParams {
            n_cells: 100_000,
            n_genes: 300,
            n_niches: 7,
            noise: 1.0,
            seed: 0,
        }
    }
}

/// One gene of the panel.
#[derive(Debug, Clone)]
struct Gene {
    name: String,
    kind: Kind,
    log_base: f64,
    effect: f64,
    overdispersion: f64,
}

#[derive(Debug, Clone, Copy)]
enum Kind {
    Marker(usize),
    Niche(usize),
    Gradient(usize),
    Background,
}

/// A smooth field in [-1, 1] over the section, evaluated at a cell.
#[derive(Debug, Clone, Copy)]
enum Field {
    Linear { angle: f64 },
    Radial { centre: [f64; 2] },
    Depth { sign: f64 },
}

/// What the count model reads per cell: position, layer depth, type and niche.
#[derive(Clone, Copy)]
struct Cells<'a> {
    xy: &'a [[f64; 2]],
    depth: &'a [f64],
    cell_type: &'a [usize],
    niche: &'a [usize],
}

/// What a field needs to know about the section: its centre and extent, and the range of the layer depth.
struct Frame {
    centre: [f64; 2],
    extent: f64,
    depth: (f64, f64),
}

impl Field {
    fn at(&self, p: [f64; 2], depth: f64, f: &Frame) -> f64 {
        match *self {
            Field::Linear { angle } => {
                ((p[0] - f.centre[0]) * angle.cos() + (p[1] - f.centre[1]) * angle.sin()) / f.extent
            }
            Field::Radial { centre } => {
                let r = ((p[0] - centre[0]).powi(2) + (p[1] - centre[1]).powi(2)).sqrt() / f.extent;
                1.0 - r.min(2.0)
            }
            Field::Depth { sign } => {
                let u = (depth - f.depth.0) / (f.depth.1 - f.depth.0).max(1e-9);
                sign * (2.0 * u - 1.0)
            }
        }
    }
}

impl CellSimParams {
    /// Refuse sizes that cannot be simulated, stating the limits (shared with the spot simulator).
    pub fn check(&self) -> Result<()> {
        let bad = |msg: String| Err(DataError::data("simulate", msg));
        if !(100..=MAX_SPOTS).contains(&self.n_cells) {
            return bad(format!(
                "the number of cells must be from 100 to {MAX_SPOTS}, got {}",
                self.n_cells
            ));
        }
        if !(1..=20).contains(&self.n_niches) {
            return bad(format!("n_niches must be in 1..=20, got {}", self.n_niches));
        }
        let min_genes = 4 * self.n_niches;
        if self.n_genes < min_genes.max(20) || self.n_genes > MAX_GENES {
            return bad(format!(
                "n_genes must be from max(20, 4 * n_niches) = {} to {MAX_GENES}, got {}",
                min_genes.max(20),
                self.n_genes
            ));
        }
        if self.n_cells.saturating_mul(self.n_genes) > MAX_DRAWS {
            return bad(format!(
                "{} cells x {} genes is more than the {MAX_DRAWS} counts dpvae simulates at once",
                self.n_cells, self.n_genes
            ));
        }
        if !(self.noise.is_finite() && (0.0..=5.0).contains(&self.noise)) {
            return bad(format!("noise must be in [0, 5], got {}", self.noise));
        }
        Ok(())
    }

    /// Simulate the section: raw counts in X (CSR), microns in `spatial`, `obs['cell_type']` and
    /// `obs['niche']`, `var['kind']`, and the parameters in `uns['simulation']`.
    pub fn simulate(&self) -> Result<SpatialData> {
        self.check()?;
        let mut rng = ChaCha8Rng::seed_from_u64(self.seed);
        let xy = self.positions(&mut rng);
        let layout = SimulateParams {
            n_spots: self.n_cells,
            n_domains: self.n_niches,
            ..SimulateParams::default()
        };
        let (niche, niche_names, depth) = layout.domains(&xy, CELL_SPACING_UM, &mut rng);
        let n_types = 2 * self.n_niches;
        let cell_type = self.cell_types(&niche, n_types, &mut rng);
        let genes = self.genes(n_types, niche_names.len(), &mut rng);
        let fields = fields(&genes, &xy, &mut rng);
        let (cx, cy, ext) = extent(&xy);
        let frame = Frame {
            centre: [cx, cy],
            extent: ext,
            depth: depth
                .iter()
                .fold((f64::MAX, f64::MIN), |(a, b), &d| (a.min(d), b.max(d))),
        };
        let cells = Cells {
            xy: &xy,
            depth: &depth,
            cell_type: &cell_type,
            niche: &niche,
        };
        let x = self.counts(&genes, &fields, &frame, &cells)?;

        let n = xy.len();
        let obs_names = (0..n).map(|i| format!("cell{i:07}")).collect();
        let var_names = genes.iter().map(|g| g.name.clone()).collect();
        let spatial = Array2::from_shape_fn((n, 2), |(i, k)| xy[i][k]);
        let mut out = SpatialData::new(Matrix::Csr(x), obs_names, var_names, Some(spatial))?;
        let table = |e: polars::prelude::PolarsError| DataError::data("simulate", e.to_string());
        out.obs = DataFrame::new(
            n,
            vec![
                Column::new(
                    "cell_type".into(),
                    cell_type
                        .iter()
                        .map(|&t| format!("Type{}", t + 1))
                        .collect::<Vec<_>>(),
                ),
                Column::new(
                    "niche".into(),
                    niche
                        .iter()
                        .map(|&d| niche_names[d].clone())
                        .collect::<Vec<_>>(),
                ),
            ],
        )
        .map_err(table)?;
        out.var = DataFrame::new(
            genes.len(),
            vec![Column::new(
                "kind".into(),
                genes
                    .iter()
                    .map(|g| match g.kind {
                        Kind::Marker(_) => "marker",
                        Kind::Niche(_) => "niche",
                        Kind::Gradient(_) => "gradient",
                        Kind::Background => "background",
                    })
                    .collect::<Vec<_>>(),
            )],
        )
        .map_err(table)?;
        out.uns.insert(
            "simulation".into(),
            serde_json::json!({
                "generator": "dpvae-data simulate (single cells)",
                "params": self,
                "cell_spacing_um": CELL_SPACING_UM,
                "niches": niche_names,
                "coordinates": "microns",
            }),
        );
        tracing::info!(
            n_cells = n,
            n_genes = genes.len(),
            "simulated a single-cell section"
        );
        Ok(out)
    }

    /// `n_cells` jittered grid points deepest inside a smooth random outline, with a margin.
    fn positions(&self, rng: &mut ChaCha8Rng) -> Vec<[f64; 2]> {
        let outline = random_outline(rng);
        let s = CELL_SPACING_UM;
        let r0 = (self.n_cells as f64 * s * s / std::f64::consts::PI).sqrt();
        let half = (1.8 * r0 / s).ceil() as i64;
        let mut cand: Vec<(f64, [f64; 2])> = Vec::with_capacity((2 * half as usize + 1).pow(2));
        for r in -half..=half {
            for c in -half..=half {
                let jitter = [rng.gen_range(-0.3..0.3) * s, rng.gen_range(-0.3..0.3) * s];
                let (x, y) = (c as f64 * s + jitter[0], r as f64 * s + jitter[1]);
                let rho = (x * x + y * y).sqrt() / (r0 * outline(y.atan2(x)));
                cand.push((rho, [x, y]));
            }
        }
        cand.select_nth_unstable_by(self.n_cells - 1, |a, b| a.0.total_cmp(&b.0));
        cand.truncate(self.n_cells);
        let (x0, y0) = cand.iter().fold((f64::MAX, f64::MAX), |(a, b), c| {
            (a.min(c.1[0]), b.min(c.1[1]))
        });
        let mut xy: Vec<[f64; 2]> = cand
            .into_iter()
            .map(|(_, p)| [p[0] - x0 + 10.0 * s, p[1] - y0 + 10.0 * s])
            .collect();
        // Row-major order, as an imaging pipeline's cell ids roughly follow the scan.
        xy.sort_by(|a, b| {
            ((a[1] / s).floor(), a[0])
                .partial_cmp(&((b[1] / s).floor(), b[0]))
                .unwrap_or(std::cmp::Ordering::Equal)
        });
        xy
    }

    /// A cell type per cell from its niche's composition.
    fn cell_types(&self, niche: &[usize], n_types: usize, rng: &mut ChaCha8Rng) -> Vec<usize> {
        let k = self.n_niches;
        niche
            .iter()
            .map(|&d| {
                let u: f64 = rng.r#gen();
                if u < 0.55 {
                    d
                } else if u < 0.80 {
                    k + d
                } else {
                    rng.gen_range(0..n_types)
                }
            })
            .collect()
    }

    /// Type markers (40% of the panel), niche genes (15%), gradient genes (10%) and background genes.
    fn genes(&self, n_types: usize, n_niches: usize, rng: &mut ChaCha8Rng) -> Vec<Gene> {
        let g = self.n_genes;
        let per_type = (g * 2 / 5 / n_types).max(1);
        let per_niche = (g * 3 / 20 / n_niches).max(1);
        let n_gradient = (g / 10).min(g.saturating_sub(per_type * n_types + per_niche * n_niches));
        let base = Normal::new(-0.7, 1.5).expect("valid sd");
        let marker_base = Normal::new(0.0, 1.0).expect("valid sd");
        let dispersion = |rng: &mut ChaCha8Rng| self.noise * rng.gen_range(0.05..0.5);
        let mut genes = Vec::with_capacity(g);
        for t in 0..n_types {
            for m in 0..per_type {
                genes.push(Gene {
                    name: format!("Type{}_marker{}", t + 1, m + 1),
                    kind: Kind::Marker(t),
                    log_base: marker_base.sample(rng),
                    effect: rng.gen_range(1.5..3.0),
                    overdispersion: dispersion(rng),
                });
            }
        }
        for d in 0..n_niches {
            for m in 0..per_niche {
                genes.push(Gene {
                    name: format!("Niche{}_gene{}", d + 1, m + 1),
                    kind: Kind::Niche(d),
                    log_base: marker_base.sample(rng),
                    effect: rng.gen_range(0.7..1.5),
                    overdispersion: dispersion(rng),
                });
            }
        }
        for k in 0..n_gradient {
            genes.push(Gene {
                name: format!("Gradient{}", k + 1),
                kind: Kind::Gradient(k),
                log_base: marker_base.sample(rng),
                effect: rng.gen_range(0.5..1.2),
                overdispersion: dispersion(rng),
            });
        }
        while genes.len() < g {
            genes.push(Gene {
                name: format!("Gene{:05}", genes.len() + 1),
                kind: Kind::Background,
                log_base: base.sample(rng),
                effect: 0.0,
                overdispersion: dispersion(rng),
            });
        }
        genes
    }

    /// Negative-binomial counts, cells x genes, drawn block by block in parallel from per-block streams.
    fn counts(
        &self,
        genes: &[Gene],
        fields: &[Field],
        frame: &Frame,
        cells: &Cells,
    ) -> Result<CsrMatrix> {
        let Cells {
            xy,
            depth,
            cell_type,
            niche,
        } = *cells;
        let n = xy.len();
        let lib_noise = Normal::new(0.0, 0.45).expect("valid sd");
        let blocks: Vec<(Vec<usize>, Vec<u32>, Vec<f32>)> = (0..n.div_ceil(BLOCK))
            .into_par_iter()
            .map(|b| {
                let mut rng = ChaCha8Rng::seed_from_u64(self.seed ^ 0x9E37_79B9_7F4A_7C15);
                rng.set_stream(b as u64 + 1);
                let (mut counts, mut indices, mut data) = (Vec::new(), Vec::new(), Vec::new());
                for c in b * BLOCK..((b + 1) * BLOCK).min(n) {
                    let z: f64 = lib_noise.sample(&mut rng);
                    let lib = 0.4 * z.exp();
                    for (j, g) in genes.iter().enumerate() {
                        let mut log_mu = g.log_base;
                        match g.kind {
                            Kind::Marker(t) if t == cell_type[c] => log_mu += g.effect,
                            Kind::Niche(d) if d == niche[c] => log_mu += g.effect,
                            Kind::Gradient(f) => {
                                log_mu += g.effect * fields[f].at(xy[c], depth[c], frame)
                            }
                            _ => {}
                        }
                        let v = sample_count(
                            lib * log_mu.exp(),
                            g.overdispersion,
                            self.noise,
                            &mut rng,
                        );
                        if v > 0.0 {
                            indices.push(j as u32);
                            data.push(v as f32);
                        }
                    }
                    counts.push(data.len());
                }
                (counts, indices, data)
            })
            .collect();
        let nnz: usize = blocks.iter().map(|b| b.2.len()).sum();
        let mut indptr = Vec::with_capacity(n + 1);
        let (mut indices, mut data) = (Vec::with_capacity(nnz), Vec::with_capacity(nnz));
        indptr.push(0);
        for (ends, idx, val) in blocks {
            let offset = data.len();
            indptr.extend(ends.iter().map(|e| e + offset));
            indices.extend(idx);
            data.extend(val);
        }
        CsrMatrix::new(n, genes.len(), indptr, indices, data)
    }
}

/// One field per gradient gene: linear, radial or along the depth, in turn.
fn fields(genes: &[Gene], xy: &[[f64; 2]], rng: &mut ChaCha8Rng) -> Vec<Field> {
    let n_fields = genes
        .iter()
        .filter(|g| matches!(g.kind, Kind::Gradient(_)))
        .count();
    (0..n_fields)
        .map(|k| match k % 3 {
            0 => Field::Linear {
                angle: rng.gen_range(0.0..std::f64::consts::TAU),
            },
            1 => Field::Radial {
                centre: xy[rng.gen_range(0..xy.len())],
            },
            _ => Field::Depth {
                sign: if rng.gen_bool(0.5) { 1.0 } else { -1.0 },
            },
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small(seed: u64) -> SpatialData {
        CellSimParams {
            n_cells: 6000,
            n_genes: 120,
            seed,
            ..Default::default()
        }
        .simulate()
        .unwrap()
    }

    #[test]
    fn cells_are_dense_sparse_and_typed_by_niche() {
        let d = small(1);
        assert_eq!((d.n_obs(), d.n_vars()), (6000, 120));
        let density = d.x.to_csr().nnz() as f64 / (6000.0 * 120.0);
        assert!((0.05..0.6).contains(&density), "density {density}");
        // Neighbouring cells are about CELL_SPACING_UM apart: the section's area is about n * spacing^2.
        let s = d.spatial.as_ref().unwrap();
        let (w, h) = (0..2)
            .map(|k| {
                let c = s.column(k);
                c.iter().cloned().fold(f64::MIN, f64::max)
                    - c.iter().cloned().fold(f64::MAX, f64::min)
            })
            .fold(
                (0.0, 0.0),
                |acc, v| if acc.0 == 0.0 { (v, 0.0) } else { (acc.0, v) },
            );
        let area_per_cell = w * h / 6000.0;
        assert!(
            (0.5..2.5).contains(&(area_per_cell / (CELL_SPACING_UM * CELL_SPACING_UM))),
            "{area_per_cell}"
        );
        // A niche's own type dominates it.
        let types = d.obs.column("cell_type").unwrap().str().unwrap().clone();
        let niches = d.obs.column("niche").unwrap().str().unwrap().clone();
        let in_layer1: Vec<&str> = types
            .iter()
            .zip(niches.iter())
            .filter(|(_, n)| *n == Some("Layer1"))
            .map(|(t, _)| t.unwrap())
            .collect();
        let own = in_layer1.iter().filter(|t| **t == "Type1").count() as f64;
        assert!(
            own / in_layer1.len() as f64 > 0.45,
            "{own} of {}",
            in_layer1.len()
        );
    }

    #[test]
    fn a_seed_fixes_the_section_whatever_the_threads() {
        let a = small(7);
        let b = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .unwrap()
            .install(|| small(7));
        assert_eq!(a.x.to_csr().data(), b.x.to_csr().data());
        assert_eq!(a.spatial, b.spatial);
        assert_ne!(small(8).x.to_csr().data(), a.x.to_csr().data());
    }

    #[test]
    fn sizes_are_bounded() {
        let p = CellSimParams {
            n_cells: 20_000_000,
            ..Default::default()
        };
        assert!(p.check().unwrap_err().to_string().contains("10000000"));
    }
}
