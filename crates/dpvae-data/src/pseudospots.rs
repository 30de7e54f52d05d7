//! Pseudo-spots from a single-cell-resolution section: a Visium-like reference made of the cells themselves.
//!
//! Spot centres lie on a hexagonal grid (rows `pitch * sqrt(3) / 2` apart, every other row shifted by half a
//! pitch, as Visium's array); a spot's counts are the sum of the counts of the cells whose centroid lies in its
//! disc, and its position is the disc's centre. Spots with fewer than `min_cells` cells are dropped. Cells in
//! no disc are the natural single-cell query: none of them contributed to the reference.

use std::collections::BTreeMap;

use ndarray::Array2;

use crate::dataset::SpatialData;
use crate::error::{DataError, Result};
use crate::matrix::{CsrMatrix, Matrix};

/// The grid and discs of the pseudo-spots, in the section's coordinate units.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PseudoSpotParams {
    /// Distance between neighbouring spot centres (Visium: 100 um).
    pub pitch: f64,
    /// Disc radius (Visium: 27.5 um).
    pub radius: f64,
    /// Spots with fewer cells are dropped.
    pub min_cells: usize,
}

/// Pseudo-spots and which cells they hold.
#[derive(Debug, Clone)]
pub struct PseudoSpots {
    /// Spots x genes (summed counts), spot centres in `spatial`, names `spot_<row>_<col>`.
    pub spots: SpatialData,
    /// Per cell of the section, the spot (row of `spots`) it was summed into, if any.
    pub spot_of_cell: Vec<Option<usize>>,
    /// Cells in each spot.
    pub cells_per_spot: Vec<usize>,
}

impl PseudoSpotParams {
    /// Make the pseudo-spots of `cells` (counts and 2-d coordinates).
    pub fn build(&self, cells: &SpatialData) -> Result<PseudoSpots> {
        if !(self.pitch > 0.0 && self.radius > 0.0 && self.radius < self.pitch / 2.0) {
            return Err(DataError::data(
                "pseudo-spots",
                format!(
                    "need 0 < radius < pitch / 2 (discs that do not touch), got pitch {} radius {}",
                    self.pitch, self.radius
                ),
            ));
        }
        let xy = cells.require_spatial()?;
        let row_step = self.pitch * 3f64.sqrt() / 2.0;
        let (x0, y0) = (min(xy.column(0).iter()), min(xy.column(1).iter()));
        // Candidate disc of each cell: the nearest grid centre among the rows around it.
        let mut members: BTreeMap<(i64, i64), Vec<usize>> = BTreeMap::new();
        for (i, p) in xy.rows().into_iter().enumerate() {
            let (x, y) = (p[0] - x0, p[1] - y0);
            let r = (y / row_step).round() as i64;
            for row in [r - 1, r, r + 1] {
                let shift = if row.rem_euclid(2) == 1 {
                    self.pitch / 2.0
                } else {
                    0.0
                };
                let col = ((x - shift) / self.pitch).round() as i64;
                let (cx, cy) = (col as f64 * self.pitch + shift, row as f64 * row_step);
                if (x - cx).hypot(y - cy) <= self.radius {
                    members.entry((row, col)).or_default().push(i);
                    break;
                }
            }
        }
        members.retain(|_, cells| cells.len() >= self.min_cells.max(1));
        let csr = cells.x.to_csr();
        let n_genes = cells.n_vars();
        let mut spot_of_cell = vec![None; cells.n_obs()];
        let (mut indptr, mut indices, mut data) = (vec![0usize], Vec::new(), Vec::new());
        let mut centres = Vec::with_capacity(members.len() * 2);
        let mut names = Vec::with_capacity(members.len());
        let mut cells_per_spot = Vec::with_capacity(members.len());
        for (s, ((row, col), held)) in members.iter().enumerate() {
            let mut sum = vec![0f32; n_genes];
            for &c in held {
                spot_of_cell[c] = Some(s);
                let (idx, val) = csr.row(c);
                for (&j, &v) in idx.iter().zip(val) {
                    sum[j as usize] += v;
                }
            }
            for (j, &v) in sum.iter().enumerate() {
                if v != 0.0 {
                    indices.push(j as u32);
                    data.push(v);
                }
            }
            indptr.push(indices.len());
            let shift = if row.rem_euclid(2) == 1 {
                self.pitch / 2.0
            } else {
                0.0
            };
            centres.push(*col as f64 * self.pitch + shift + x0);
            centres.push(*row as f64 * row_step + y0);
            names.push(format!("spot_{row}_{col}"));
            cells_per_spot.push(held.len());
        }
        let n = names.len();
        if n == 0 {
            return Err(DataError::data(
                "pseudo-spots",
                format!("no disc holds {} cells or more", self.min_cells),
            ));
        }
        let x = CsrMatrix::new(n, n_genes, indptr, indices, data)?;
        let spatial = Array2::from_shape_vec((n, 2), centres).expect("two coordinates per spot");
        let spots = SpatialData::new(
            Matrix::Csr(x),
            names,
            cells.var_names.clone(),
            Some(spatial),
        )?;
        Ok(PseudoSpots {
            spots,
            spot_of_cell,
            cells_per_spot,
        })
    }
}

fn min<'a>(v: impl Iterator<Item = &'a f64>) -> f64 {
    v.copied().fold(f64::INFINITY, f64::min)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cells(xy: &[(f64, f64)]) -> SpatialData {
        let n = xy.len();
        let x = Array2::from_shape_fn((n, 2), |(i, j)| (i + j) as f32);
        let s = Array2::from_shape_fn((n, 2), |(i, j)| if j == 0 { xy[i].0 } else { xy[i].1 });
        SpatialData::new(
            Matrix::Dense(x),
            (0..n).map(|i| format!("c{i}")).collect(),
            vec!["a".into(), "b".into()],
            Some(s),
        )
        .unwrap()
    }

    #[test]
    fn cells_in_a_disc_are_summed_and_the_rest_left_out() {
        // Grid origin at the lowest x and y (0, 0); pitch 100: centres (0,0), (100,0), (50,86.6), ...
        let d = cells(&[
            (0.0, 0.0),
            (10.0, 5.0),
            (100.0, 0.0),
            (45.0, 80.0),
            (50.0, 40.0),
        ]);
        let p = PseudoSpotParams {
            pitch: 100.0,
            radius: 27.5,
            min_cells: 1,
        };
        let s = p.build(&d).unwrap();
        assert_eq!(s.spot_of_cell[4], None, "between discs");
        assert_eq!(s.spot_of_cell[0], s.spot_of_cell[1]);
        assert_eq!(s.spots.n_obs(), 3);
        let first = s.spot_of_cell[0].unwrap();
        // Counts of cells 0 and 1: [0, 1] + [1, 2].
        assert_eq!(s.spots.x.to_dense().row(first).to_vec(), vec![1.0, 3.0]);
        assert_eq!(s.cells_per_spot[first], 2);
        let xy = s.spots.spatial.as_ref().unwrap();
        let odd = s.spot_of_cell[3].unwrap();
        assert!((xy[[odd, 0]] - 50.0).abs() < 1e-9 && (xy[[odd, 1]] - 86.602).abs() < 1e-3);
        // At least two cells per spot leaves one spot.
        let two = PseudoSpotParams { min_cells: 2, ..p }.build(&d).unwrap();
        assert_eq!(two.spots.n_obs(), 1);
        assert_eq!(two.spot_of_cell.iter().flatten().count(), 2);
        assert!(PseudoSpotParams { radius: 60.0, ..p }.build(&d).is_err());
    }
}
