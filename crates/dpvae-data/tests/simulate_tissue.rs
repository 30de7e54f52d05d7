//! The tissue simulator has what real Visium data has: spatially autocorrelated markers, expression distance
//! growing with spatial distance, many zeros, Visium geometry, and determinism by seed.

use dpvae_data::preprocess::normalize::{log1p, normalize_total};
use dpvae_data::simulate::{SPOT_SPACING_UM, SimulateParams};
use ndarray::Array2;

fn sim(seed: u64) -> dpvae_data::SpatialData {
    SimulateParams {
        n_spots: 600,
        n_genes: 300,
        n_domains: 7,
        seed,
        ..Default::default()
    }
    .simulate()
    .unwrap()
}

/// Moran's I of `values` with binary weights to the k nearest neighbours.
fn morans_i(values: &[f64], knn: &[Vec<usize>]) -> f64 {
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    let dev: Vec<f64> = values.iter().map(|v| v - mean).collect();
    let denom: f64 = dev.iter().map(|d| d * d).sum();
    let (mut num, mut w) = (0.0, 0.0);
    for (i, nb) in knn.iter().enumerate() {
        for &j in nb {
            num += dev[i] * dev[j];
            w += 1.0;
        }
    }
    n / w * num / denom
}

fn knn(xy: &Array2<f64>, k: usize) -> Vec<Vec<usize>> {
    let n = xy.nrows();
    (0..n)
        .map(|i| {
            let mut d: Vec<(f64, usize)> = (0..n)
                .filter(|&j| j != i)
                .map(|j| ((xy[[i, 0]] - xy[[j, 0]]).hypot(xy[[i, 1]] - xy[[j, 1]]), j))
                .collect();
            d.sort_by(|a, b| a.0.total_cmp(&b.0));
            d.iter().take(k).map(|p| p.1).collect()
        })
        .collect()
}

fn pearson(a: &[f64], b: &[f64]) -> f64 {
    let n = a.len() as f64;
    let (ma, mb) = (a.iter().sum::<f64>() / n, b.iter().sum::<f64>() / n);
    let (mut sab, mut saa, mut sbb) = (0.0, 0.0, 0.0);
    for (x, y) in a.iter().zip(b) {
        sab += (x - ma) * (y - mb);
        saa += (x - ma).powi(2);
        sbb += (y - mb).powi(2);
    }
    sab / (saa * sbb).sqrt()
}

#[test]
fn geometry_metadata_and_counts_look_like_visium() {
    let d = sim(11);
    assert_eq!((d.n_obs(), d.n_vars()), (600, 300));
    let xy = d.spatial.clone().unwrap();
    // Nearest-neighbour distance is the Visium spacing for every spot (hexagonal grid, 100 um).
    let nn = knn(&xy, 1);
    for (i, nb) in nn.iter().enumerate() {
        let dist = (xy[[i, 0]] - xy[[nb[0], 0]]).hypot(xy[[i, 1]] - xy[[nb[0], 1]]);
        assert!((dist - SPOT_SPACING_UM).abs() < 1e-6, "spot {i}: {dist}");
    }
    let domains = d.obs.column("domain").unwrap().str().unwrap().clone();
    let distinct: std::collections::BTreeSet<String> =
        domains.iter().flatten().map(String::from).collect();
    assert_eq!(distinct.len(), 7, "{distinct:?}");
    assert_eq!(d.uns["simulation"]["params"]["n_domains"], 7);
    assert_eq!(d.uns["simulation"]["spot_diameter_um"], 55.0);
    let x = d.x.to_dense();
    assert!(
        x.iter().all(|v| *v >= 0.0 && v.fract() == 0.0),
        "raw integer counts"
    );
    let zeros = x.iter().filter(|v| **v == 0.0).count() as f64 / x.len() as f64;
    assert!(zeros > 0.4 && zeros < 0.95, "fraction of zeros {zeros}");
    let totals = d.x.row_sums();
    let mean = totals.iter().sum::<f64>() / totals.len() as f64;
    let sd = (totals.iter().map(|t| (t - mean).powi(2)).sum::<f64>() / totals.len() as f64).sqrt();
    assert!(
        sd / mean > 0.2 && sd / mean < 1.0,
        "library size CV {}",
        sd / mean
    );
    assert!(d.var_names.iter().any(|g| g.starts_with("mt-")));
}

#[test]
fn markers_are_spatially_autocorrelated_and_expression_tracks_distance() {
    let d = sim(12);
    let mut x = d.x.clone();
    normalize_total(&mut x, None).unwrap();
    log1p(&mut x);
    let x = x.to_dense();
    let xy = d.spatial.clone().unwrap();
    let nb = knn(&xy, 6);
    let kind = d.var.column("kind").unwrap().str().unwrap().clone();
    let kinds: Vec<String> = kind.iter().map(|k| k.unwrap().to_string()).collect();
    let mi = |j: usize| {
        morans_i(
            &x.column(j).iter().map(|&v| v as f64).collect::<Vec<_>>(),
            &nb,
        )
    };
    let markers: Vec<f64> = (0..x.ncols())
        .filter(|&j| kinds[j] == "marker")
        .map(mi)
        .collect();
    let background: Vec<f64> = (0..x.ncols())
        .filter(|&j| kinds[j] == "background")
        .map(mi)
        .collect();
    let median = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let (m, b) = (median(markers), median(background));
    assert!(m > 0.3, "median Moran's I of markers {m}");
    assert!(b.abs() < 0.1, "median Moran's I of background genes {b}");

    // Pairwise expression distance vs spatial distance over a subsample of pairs.
    let n = x.nrows();
    let (mut de, mut ds) = (Vec::new(), Vec::new());
    for i in (0..n).step_by(7) {
        for j in (i + 1..n).step_by(11) {
            let e: f64 = x
                .row(i)
                .iter()
                .zip(x.row(j))
                .map(|(a, b)| ((a - b) as f64).powi(2))
                .sum();
            de.push(e.sqrt());
            ds.push((xy[[i, 0]] - xy[[j, 0]]).hypot(xy[[i, 1]] - xy[[j, 1]]));
        }
    }
    let r = pearson(&de, &ds);
    assert!(r > 0.2, "expression vs spatial distance correlation {r}");
}

#[test]
fn deterministic_by_seed_and_validated() {
    let a = sim(5);
    let b = sim(5);
    assert_eq!(a.x, b.x);
    assert_eq!(a.spatial, b.spatial);
    assert_eq!(a.obs, b.obs);
    let c = sim(6);
    assert_ne!(a.x, c.x);
    let square = SimulateParams {
        n_spots: 100,
        n_genes: 50,
        irregular_outline: false,
        ..Default::default()
    }
    .simulate()
    .unwrap();
    assert_eq!(square.n_obs(), 100);
    let poisson = SimulateParams {
        n_spots: 100,
        n_genes: 50,
        noise: 0.0,
        ..Default::default()
    }
    .simulate()
    .unwrap();
    assert_eq!(poisson.n_vars(), 50);
    assert!(
        SimulateParams {
            n_domains: 0,
            ..Default::default()
        }
        .simulate()
        .is_err()
    );
    assert!(
        SimulateParams {
            n_genes: 5,
            ..Default::default()
        }
        .simulate()
        .is_err()
    );
    assert!(
        SimulateParams {
            noise: f64::NAN,
            ..Default::default()
        }
        .simulate()
        .is_err()
    );
}
