//! A simulator of a Visium-like tissue section: the embedded default dataset, so the main job runs without a
//! download.
//!
//! Model (all draws from `ChaCha8Rng::seed_from_u64(seed)`, so a seed fixes the section):
//! - **Geometry**: Visium's hexagonal grid, 100 um centre to centre (rows 86.6 um apart, odd rows shifted by
//!   50 um), 55 um spots; `array_row`/`array_col` as Space Ranger numbers them (columns step by 2). With
//!   `irregular_outline` the spots are the `n_spots` grid points deepest inside a random smooth outline
//!   `r(theta) = R (1 + sum_k a_k cos(k theta + phi_k))`, k = 2..6; otherwise a near-square block.
//! - **Domains**: `n_domains - n_domains / 3` cortical-like layers (bands of unequal thickness between wavy
//!   concentric arcs around a far-away centre) and `n_domains / 3` compact regions with curved borders laid over
//!   them. Domain membership is blurred over the neighbouring spots (Gaussian, sigma 50 um) so borders are soft.
//! - **Genes**: per-domain markers (fold change 3-12x inside their domain), genes with smooth spatial gradients
//!   (linear, radial, or along the layer depth), and background genes without spatial structure (three of them
//!   mitochondrial, `mt-`). Base means are log-normal, as real gene means are.
//! - **Counts**: library size per spot log-normal (sd 0.35) with a smooth spatial trend and a per-domain shift;
//!   negative-binomial counts (gamma-Poisson, per-gene overdispersion `noise * U(0.05, 0.5)`), then dropout
//!   (a count is zeroed with probability `noise * 0.15 * exp(-mean / 2)`, more often for weakly expressed genes).
//!   `noise = 0` gives Poisson counts without dropout.

use std::collections::HashMap;

use ndarray::Array2;
use polars::prelude::{Column, DataFrame};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Gamma, Normal, Poisson};
use serde::{Deserialize, Serialize};

use crate::dataset::SpatialData;
use crate::error::{DataError, Result};
use crate::matrix::{CsrMatrix, Matrix};

/// Centre-to-centre distance of Visium spots (um).
pub const SPOT_SPACING_UM: f64 = 100.0;
/// Visium spot diameter (um).
pub const SPOT_DIAMETER_UM: f64 = 55.0;

/// Parameters of a simulated section.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SimulateParams {
    pub n_spots: usize,
    pub n_genes: usize,
    /// Spatial domains: `n_domains - n_domains / 3` layers and `n_domains / 3` regions.
    pub n_domains: usize,
    /// Scales overdispersion and dropout; 0 = Poisson counts, 1 = typical Visium, 2 = very noisy.
    pub noise: f64,
    pub seed: u64,
    /// Keep only spots inside an irregular tissue outline (otherwise a near-square block of the grid).
    pub irregular_outline: bool,
}

impl Default for SimulateParams {
    fn default() -> Self {
        SimulateParams {
            n_spots: 2000,
            n_genes: 1000,
            n_domains: 7,
            noise: 1.0,
            seed: 0,
            irregular_outline: true,
        }
    }
}

/// Most spots: the outline's candidate grid holds about three times as many points, each about 100 bytes.
pub const MAX_SPOTS: usize = 10_000_000;
/// Most genes.
pub const MAX_GENES: usize = 100_000;
/// Most spot x gene counts drawn: each is a random draw, and 5e9 of them take over an hour.
pub const MAX_DRAWS: usize = 5_000_000_000;

impl SimulateParams {
    pub fn check(&self) -> Result<()> {
        let bad = |msg: String| Err(DataError::data("simulate", msg));
        if self.n_spots < 10 {
            return bad(format!("n_spots must be at least 10, got {}", self.n_spots));
        }
        if self.n_spots > MAX_SPOTS {
            return bad(format!(
                "n_spots must be at most {MAX_SPOTS}, got {}",
                self.n_spots
            ));
        }
        if self.n_genes > MAX_GENES {
            return bad(format!(
                "n_genes must be at most {MAX_GENES}, got {}",
                self.n_genes
            ));
        }
        if self.n_spots.saturating_mul(self.n_genes) > MAX_DRAWS {
            return bad(format!(
                "{} spots x {} genes is more than the {MAX_DRAWS} counts dpvae simulates at once",
                self.n_spots, self.n_genes
            ));
        }
        if self.n_domains == 0 || self.n_domains > 50 {
            return bad(format!(
                "n_domains must be in 1..=50, got {}",
                self.n_domains
            ));
        }
        if self.n_spots < 5 * self.n_domains {
            return bad(format!(
                "{} spots are too few for {} domains (need at least 5 spots per domain)",
                self.n_spots, self.n_domains
            ));
        }
        if self.n_genes < 10 || self.n_genes < 3 * self.n_domains {
            return bad(format!(
                "n_genes must be at least max(10, 3 * n_domains) = {}, got {}",
                (3 * self.n_domains).max(10),
                self.n_genes
            ));
        }
        if !(self.noise.is_finite() && (0.0..=5.0).contains(&self.noise)) {
            return bad(format!("noise must be in [0, 5], got {}", self.noise));
        }
        Ok(())
    }

    /// Simulate the section: raw counts in X (CSR), coordinates in microns in `spatial`, `obs['domain']`,
    /// `obs['array_row']`/`['array_col']`, `var['kind']`/`['domain']`, and the parameters in `uns['simulation']`.
    pub fn simulate(&self) -> Result<SpatialData> {
        self.check()?;
        let mut rng = ChaCha8Rng::seed_from_u64(self.seed);
        let grid = self.spots(&mut rng);
        let n = grid.len();
        let xy: Vec<[f64; 2]> = grid.iter().map(|g| g.xy).collect();
        let (domain, names, depth) = self.domains(&xy, SPOT_SPACING_UM, &mut rng);
        let membership = soft_membership(&xy, &domain, names.len());
        let genes = self.genes(&names, &mut rng);
        let fields = gradient_fields(&xy, &depth, &genes, &mut rng);

        let lib = library_sizes(&xy, &domain, names.len(), &mut rng);
        let x = self.sample_counts(&genes, &membership, &fields, &lib, &mut rng)?;

        let obs_names = (0..n).map(barcode).collect();
        let var_names = genes.iter().map(|g| g.name.clone()).collect();
        let spatial = Array2::from_shape_fn((n, 2), |(i, k)| xy[i][k]);
        let mut out = SpatialData::new(Matrix::Csr(x), obs_names, var_names, Some(spatial))?;
        annotate(&mut out, &grid, &domain, &names, &genes)?;
        out.uns.insert(
            "simulation".into(),
            serde_json::json!({
                "generator": "dpvae-data simulate",
                "params": self,
                "spot_spacing_um": SPOT_SPACING_UM,
                "spot_diameter_um": SPOT_DIAMETER_UM,
                "domains": names,
                "coordinates": "microns",
            }),
        );
        out.validate()?;
        tracing::info!(n_spots = n, n_genes = genes.len(), "simulated a section");
        Ok(out)
    }

    /// Negative-binomial counts for every spot and gene (spots in rows), drawn from `rng` spot by spot.
    fn sample_counts(
        &self,
        genes: &[Gene],
        membership: &Array2<f64>,
        fields: &Array2<f64>,
        lib: &[f64],
        rng: &mut ChaCha8Rng,
    ) -> Result<CsrMatrix> {
        let n = lib.len();
        let mut indptr = Vec::with_capacity(n + 1);
        let mut indices = Vec::new();
        let mut data = Vec::new();
        indptr.push(0);
        for s in 0..n {
            for (j, g) in genes.iter().enumerate() {
                let mut log_mu = g.log_base;
                match g.kind {
                    GeneKind::Marker(d) => log_mu += g.effect * membership[[s, d]],
                    GeneKind::Gradient(f) => log_mu += g.effect * fields[[f, s]],
                    GeneKind::Background | GeneKind::Mitochondrial => {}
                }
                let mu = lib[s] * log_mu.exp();
                let c = sample_count(mu, g.overdispersion, self.noise, rng);
                if c > 0.0 {
                    indices.push(j as u32);
                    data.push(c as f32);
                }
            }
            indptr.push(data.len());
        }
        CsrMatrix::new(n, genes.len(), indptr, indices, data)
    }

    /// Grid points of the section.
    fn spots(&self, rng: &mut ChaCha8Rng) -> Vec<Spot> {
        let dy = SPOT_SPACING_UM * 3f64.sqrt() / 2.0;
        let n = self.n_spots;
        let mut cand: Vec<(f64, Spot)> = Vec::new();
        if self.irregular_outline {
            let outline = random_outline(rng);
            let r0 = (n as f64 * SPOT_SPACING_UM * dy / std::f64::consts::PI).sqrt();
            let half_rows = (1.8 * r0 / dy).ceil() as i32;
            let half_cols = (1.8 * r0 / SPOT_SPACING_UM).ceil() as i32;
            for r in -half_rows..=half_rows {
                for c in -half_cols..=half_cols {
                    let col = 2 * c + r.rem_euclid(2);
                    let (x, y) = (col as f64 * SPOT_SPACING_UM / 2.0, r as f64 * dy);
                    let rho = (x * x + y * y).sqrt() / (r0 * outline(y.atan2(x)));
                    cand.push((
                        rho,
                        Spot {
                            row: r,
                            col,
                            xy: [x, y],
                        },
                    ));
                }
            }
            cand.sort_by(|a, b| a.0.total_cmp(&b.0));
            cand.truncate(n);
        } else {
            let per_row = ((n as f64 * dy / SPOT_SPACING_UM).sqrt().ceil() as usize).max(1);
            for i in 0..n {
                let (r, c) = ((i / per_row) as i32, (i % per_row) as i32);
                let col = 2 * c + r % 2;
                let xy = [col as f64 * SPOT_SPACING_UM / 2.0, r as f64 * dy];
                cand.push((0.0, Spot { row: r, col, xy }));
            }
        }
        // Space Ranger-like numbering from 0 (keep column parity) and positive coordinates with a margin.
        let min_r = cand.iter().map(|c| c.1.row).min().unwrap_or(0);
        let min_c = cand.iter().map(|c| c.1.col).min().unwrap_or(0);
        let shift_c = min_c - (min_c - min_r).rem_euclid(2);
        let mut spots: Vec<Spot> = cand
            .into_iter()
            .map(|(_, mut s)| {
                s.row -= min_r;
                s.col -= shift_c;
                s.xy = [
                    s.col as f64 * SPOT_SPACING_UM / 2.0 + SPOT_SPACING_UM,
                    s.row as f64 * dy + SPOT_SPACING_UM,
                ];
                s
            })
            .collect();
        spots.sort_by_key(|s| (s.row, s.col));
        spots
    }

    /// Domain of every spot, domain names, and the cortical depth coordinate.
    /// `spacing` is the distance between neighbouring points (um), which sets the regions' size.
    pub(crate) fn domains(
        &self,
        xy: &[[f64; 2]],
        spacing: f64,
        rng: &mut ChaCha8Rng,
    ) -> (Vec<usize>, Vec<String>, Vec<f64>) {
        let n = xy.len();
        let n_regions = self.n_domains / 3;
        let n_layers = self.n_domains - n_regions;
        let (cx, cy, ext) = extent(xy);
        // Layers: bands between wavy arcs centred far outside the tissue, so borders curve gently.
        let alpha = rng.gen_range(0.0..std::f64::consts::TAU);
        let dist = 2.5 * ext;
        let (px, py) = (cx + dist * alpha.cos(), cy + dist * alpha.sin());
        let waves = rng.gen_range(2.0..4.0);
        let phase = rng.gen_range(0.0..std::f64::consts::TAU);
        let depth: Vec<f64> = xy
            .iter()
            .map(|p| {
                let (dx, dy) = (p[0] - px, p[1] - py);
                let theta = dy.atan2(dx);
                (dx * dx + dy * dy).sqrt() + 0.06 * ext * (waves * theta * 2.5 + phase).sin()
            })
            .collect();
        let mut order: Vec<usize> = (0..n).collect();
        order.sort_by(|&a, &b| depth[a].total_cmp(&depth[b]));
        let widths: Vec<f64> = (0..n_layers).map(|_| rng.gen_range(0.6..1.4)).collect();
        let total: f64 = widths.iter().sum();
        let mut domain = vec![0usize; n];
        let mut acc = 0.0;
        let mut start = 0;
        for (l, w) in widths.iter().enumerate() {
            acc += w / total;
            // Every later layer keeps at least one spot.
            let end = if l + 1 == n_layers {
                n
            } else {
                ((acc * n as f64).round() as usize).clamp(start + 1, n - (n_layers - 1 - l))
            };
            for &i in &order[start..end] {
                domain[i] = l;
            }
            start = end;
        }
        // Regions: blobs with curved borders, each about a domain's share of the section.
        let spot_area = spacing * spacing * 3f64.sqrt() / 2.0;
        for r in 0..n_regions {
            let centre = xy[rng.gen_range(0..n)];
            let size = n as f64 / self.n_domains as f64 * rng.gen_range(0.6..1.0);
            let radius = (size * spot_area / std::f64::consts::PI).sqrt();
            let (a2, p2, a3, p3) = (
                rng.gen_range(0.1..0.25),
                rng.gen_range(0.0..std::f64::consts::TAU),
                rng.gen_range(0.05..0.15),
                rng.gen_range(0.0..std::f64::consts::TAU),
            );
            for (i, p) in xy.iter().enumerate() {
                let (dx, dy) = (p[0] - centre[0], p[1] - centre[1]);
                let t = dy.atan2(dx);
                let edge = radius * (1.0 + a2 * (2.0 * t + p2).cos() + a3 * (3.0 * t + p3).cos());
                if (dx * dx + dy * dy).sqrt() < edge {
                    domain[i] = n_layers + r;
                }
            }
        }
        let names = (0..n_layers)
            .map(|l| format!("Layer{}", l + 1))
            .chain((0..n_regions).map(|r| format!("Region{}", r + 1)))
            .collect();
        (domain, names, depth)
    }

    fn genes(&self, domains: &[String], rng: &mut ChaCha8Rng) -> Vec<Gene> {
        let g = self.n_genes;
        let nd = domains.len();
        let per_domain = ((0.3 * g as f64) / nd as f64).floor().max(1.0) as usize;
        let n_gradient = ((0.15 * g as f64).round() as usize).min(g - per_domain * nd);
        let base = Normal::new(-0.7, 1.5).expect("valid sd");
        let marker_base = Normal::new(0.5, 1.0).expect("valid sd");
        let dispersion = |rng: &mut ChaCha8Rng| self.noise * rng.gen_range(0.05..0.5);
        let mut genes = Vec::with_capacity(g);
        for (d, name) in domains.iter().enumerate() {
            for k in 0..per_domain {
                genes.push(Gene {
                    name: format!("{name}_marker{}", k + 1),
                    kind: GeneKind::Marker(d),
                    log_base: marker_base.sample(rng),
                    effect: rng.gen_range(1.2..2.5),
                    overdispersion: dispersion(rng),
                });
            }
        }
        for k in 0..n_gradient {
            genes.push(Gene {
                name: format!("Gradient{}", k + 1),
                kind: GeneKind::Gradient(k),
                log_base: marker_base.sample(rng),
                effect: rng.gen_range(0.7..1.6),
                overdispersion: dispersion(rng),
            });
        }
        let mt_names = ["mt-Co1", "mt-Nd1", "mt-Cytb"];
        let mut k = 0;
        while genes.len() < g {
            let mito = g >= 50 && k < mt_names.len();
            genes.push(Gene {
                name: if mito {
                    mt_names[k].to_string()
                } else {
                    format!("Gene{:05}", k + 1)
                },
                kind: if mito {
                    GeneKind::Mitochondrial
                } else {
                    GeneKind::Background
                },
                log_base: if mito {
                    rng.gen_range(2.0..3.0)
                } else {
                    base.sample(rng)
                },
                effect: 0.0,
                overdispersion: dispersion(rng),
            });
            k += 1;
        }
        genes
    }
}

#[derive(Debug, Clone, Copy)]
struct Spot {
    row: i32,
    col: i32,
    xy: [f64; 2],
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum GeneKind {
    Marker(usize),
    Gradient(usize),
    Background,
    Mitochondrial,
}

impl GeneKind {
    fn label(&self) -> &'static str {
        match self {
            GeneKind::Marker(_) => "marker",
            GeneKind::Gradient(_) => "gradient",
            GeneKind::Background => "background",
            GeneKind::Mitochondrial => "mitochondrial",
        }
    }
}

#[derive(Debug, Clone)]
struct Gene {
    name: String,
    kind: GeneKind,
    /// log of the expected count at library size 1 outside any effect.
    log_base: f64,
    /// log fold change (markers) or gradient amplitude.
    effect: f64,
    /// NB overdispersion 1/size (0 = Poisson).
    overdispersion: f64,
}

/// Library size per spot: log-normal, times a smooth spatial trend and a shift per domain.
fn library_sizes(
    xy: &[[f64; 2]],
    domain: &[usize],
    n_domains: usize,
    rng: &mut ChaCha8Rng,
) -> Vec<f64> {
    let n = xy.len();
    let (cx, cy, ext) = extent(xy);
    let trend_dir = rng.gen_range(0.0..std::f64::consts::TAU);
    let dom_shift: Vec<f64> = (0..n_domains).map(|_| rng.gen_range(-0.2..0.2)).collect();
    let lib_noise = Normal::new(0.0, 0.35).expect("valid sd");
    (0..n)
        .map(|s| {
            let u = ((xy[s][0] - cx) * trend_dir.cos() + (xy[s][1] - cy) * trend_dir.sin()) / ext;
            (lib_noise.sample(rng) + 0.25 * (2.0 * u).sin() + dom_shift[domain[s]]).exp()
        })
        .collect()
}

/// `obs` (domain, array row and column) and `var` (gene kind, marker domain) of the simulated section.
fn annotate(
    out: &mut SpatialData,
    grid: &[Spot],
    domain: &[usize],
    names: &[String],
    genes: &[Gene],
) -> Result<()> {
    let n = grid.len();
    let table = |e: polars::prelude::PolarsError| DataError::data("simulate", e.to_string());
    out.obs = DataFrame::new(
        n,
        vec![
            Column::new(
                "domain".into(),
                domain.iter().map(|&d| names[d].clone()).collect::<Vec<_>>(),
            ),
            Column::new(
                "array_row".into(),
                grid.iter().map(|g| g.row).collect::<Vec<i32>>(),
            ),
            Column::new(
                "array_col".into(),
                grid.iter().map(|g| g.col).collect::<Vec<i32>>(),
            ),
        ],
    )
    .map_err(table)?;
    out.var = DataFrame::new(
        genes.len(),
        vec![
            Column::new(
                "kind".into(),
                genes
                    .iter()
                    .map(|g| g.kind.label().to_string())
                    .collect::<Vec<_>>(),
            ),
            Column::new(
                "domain".into(),
                genes
                    .iter()
                    .map(|g| match g.kind {
                        GeneKind::Marker(d) => names[d].clone(),
                        _ => String::new(),
                    })
                    .collect::<Vec<_>>(),
            ),
        ],
    )
    .map_err(table)?;
    Ok(())
}

/// A smooth random tissue outline, the radius factor `1 + sum_k a_k cos(k theta + phi_k)` (k = 2..6) as a
/// function of the angle theta; shared by the spot and the single-cell simulators.
pub(crate) fn random_outline(rng: &mut ChaCha8Rng) -> impl Fn(f64) -> f64 + use<> {
    let coef: Vec<(f64, f64)> = (2..=6)
        .map(|k| {
            (
                rng.gen_range(-0.12..0.12) / (k as f64).sqrt(),
                rng.gen_range(0.0..std::f64::consts::TAU),
            )
        })
        .collect();
    move |t: f64| {
        1.0 + coef
            .iter()
            .enumerate()
            .map(|(i, (a, p))| a * ((i + 2) as f64 * t + p).cos())
            .sum::<f64>()
    }
}

/// Centre and half-diagonal of the coordinates.
pub(crate) fn extent(xy: &[[f64; 2]]) -> (f64, f64, f64) {
    let (mut x0, mut x1, mut y0, mut y1) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
    for p in xy {
        x0 = x0.min(p[0]);
        x1 = x1.max(p[0]);
        y0 = y0.min(p[1]);
        y1 = y1.max(p[1]);
    }
    let ext = 0.5 * ((x1 - x0).powi(2) + (y1 - y0).powi(2)).sqrt();
    ((x0 + x1) / 2.0, (y0 + y1) / 2.0, ext.max(SPOT_SPACING_UM))
}

/// Domain indicator blurred with a Gaussian (sigma 50 um) over spots within 150 um: soft borders.
fn soft_membership(xy: &[[f64; 2]], domain: &[usize], n_domains: usize) -> Array2<f64> {
    const RADIUS: f64 = 150.0;
    const SIGMA: f64 = 50.0;
    let cell = |p: &[f64; 2]| {
        (
            (p[0] / RADIUS).floor() as i64,
            (p[1] / RADIUS).floor() as i64,
        )
    };
    let mut buckets: HashMap<(i64, i64), Vec<usize>> = HashMap::new();
    for (i, p) in xy.iter().enumerate() {
        buckets.entry(cell(p)).or_default().push(i);
    }
    let mut m = Array2::<f64>::zeros((xy.len(), n_domains));
    for (i, p) in xy.iter().enumerate() {
        let (cx, cy) = cell(p);
        let mut total = 0.0;
        for bx in cx - 1..=cx + 1 {
            for by in cy - 1..=cy + 1 {
                for &j in buckets.get(&(bx, by)).map_or(&[][..], |v| v.as_slice()) {
                    let d2 = (xy[j][0] - p[0]).powi(2) + (xy[j][1] - p[1]).powi(2);
                    if d2 <= RADIUS * RADIUS {
                        let w = (-d2 / (2.0 * SIGMA * SIGMA)).exp();
                        m[[i, domain[j]]] += w;
                        total += w;
                    }
                }
            }
        }
        m.row_mut(i).mapv_inplace(|v| v / total);
    }
    m
}

/// One smooth field in [-1, 1] per gradient gene: linear, radial, or along the layer depth.
fn gradient_fields(
    xy: &[[f64; 2]],
    depth: &[f64],
    genes: &[Gene],
    rng: &mut ChaCha8Rng,
) -> Array2<f64> {
    let n_fields = genes
        .iter()
        .filter(|g| matches!(g.kind, GeneKind::Gradient(_)))
        .count();
    let (cx, cy, ext) = extent(xy);
    let (dmin, dmax) = depth
        .iter()
        .fold((f64::MAX, f64::MIN), |(a, b), &d| (a.min(d), b.max(d)));
    let mut f = Array2::<f64>::zeros((n_fields, xy.len()));
    for k in 0..n_fields {
        match k % 3 {
            0 => {
                let t: f64 = rng.gen_range(0.0..std::f64::consts::TAU);
                for (s, p) in xy.iter().enumerate() {
                    f[[k, s]] = ((p[0] - cx) * t.cos() + (p[1] - cy) * t.sin()) / ext;
                }
            }
            1 => {
                let c = xy[rng.gen_range(0..xy.len())];
                for (s, p) in xy.iter().enumerate() {
                    let r = ((p[0] - c[0]).powi(2) + (p[1] - c[1]).powi(2)).sqrt() / ext;
                    f[[k, s]] = 1.0 - r.min(2.0);
                }
            }
            _ => {
                let sign = if rng.gen_bool(0.5) { 1.0 } else { -1.0 };
                for s in 0..xy.len() {
                    let u = (depth[s] - dmin) / (dmax - dmin).max(1e-9);
                    f[[k, s]] = sign * (2.0 * u - 1.0);
                }
            }
        }
    }
    f
}

/// A negative-binomial (gamma-Poisson) count with mean `mu`, then dropout.
pub(crate) fn sample_count(mu: f64, overdispersion: f64, noise: f64, rng: &mut ChaCha8Rng) -> f64 {
    if mu.is_nan() || mu <= 0.0 {
        return 0.0;
    }
    let lambda = if overdispersion > 0.0 {
        let shape = 1.0 / overdispersion;
        match Gamma::new(shape, mu / shape) {
            Ok(g) => g.sample(rng),
            Err(_) => mu,
        }
    } else {
        mu
    };
    let count = if lambda > 0.0 {
        Poisson::new(lambda).map_or(0.0, |p| p.sample(rng))
    } else {
        0.0
    };
    if count > 0.0 && noise > 0.0 && rng.gen_bool((noise * 0.15 * (-mu / 2.0).exp()).min(0.9)) {
        0.0
    } else {
        count
    }
}

/// A Visium-like barcode for spot `i`: 16 nucleotides encoding the index, then `-1`.
fn barcode(i: usize) -> String {
    let mut s = String::with_capacity(18);
    let mut v = i as u64 ^ 0x5bd1_e995;
    for _ in 0..16 {
        s.push(['A', 'C', 'G', 'T'][(v & 3) as usize]);
        v >>= 2;
    }
    s.push_str("-1");
    s
}
