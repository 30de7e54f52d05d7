//! Shared set-up of the xtask integration tests.

use std::path::Path;
use std::process::{Command, Output};

use dpvae_data::simulate::SimulateParams;

/// A data directory laid out as ../shared/data: panel/*.h5ad and a MANIFEST.tsv listing them.
pub fn simulated_panel(dir: &Path) {
    std::fs::create_dir_all(dir.join("panel")).unwrap();
    let mut manifest = "name\tpath\tformat\ttech\tspecies\tpaper_dataset\tn_obs\n".to_string();
    for (i, name) in ["sim_a", "sim_b", "sim_c"].iter().enumerate() {
        let data = SimulateParams {
            n_spots: 220 + 20 * i,
            n_genes: 150,
            seed: i as u64,
            ..SimulateParams::default()
        }
        .simulate()
        .unwrap();
        let rel = format!("panel/{name}.h5ad");
        dpvae_data::io::h5ad::write_h5ad(&dir.join(&rel), &data).unwrap();
        manifest.push_str(&format!(
            "{name}\t{rel}\th5ad\tVisium\tsimulated\tFalse\t{}\n",
            data.n_obs()
        ));
    }
    std::fs::write(dir.join("MANIFEST.tsv"), manifest).unwrap();
}

/// `xtask TASK ARGS --data DATA --out OUT`.
pub fn xtask(task: &str, args: &[&str], data: &Path, out: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_xtask"))
        // CI's DPVAE_PYTHON has anndata only; the placement peers are not part of these tests.
        .env_remove("DPVAE_PYTHON")
        .arg(task)
        .args(args)
        .arg("--data")
        .arg(data)
        .arg("--out")
        .arg(out)
        .output()
        .expect("the xtask binary runs")
}

/// stdout and stderr together, for assertion messages.
pub fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}
