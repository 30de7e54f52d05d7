//! `dpvae convert`: any readable input to h5ad, or its coordinates to a CSV/Parquet table.

use anyhow::{Context, Result, bail};
use dpvae_data::io;

use crate::cli::convert::ConvertArgs;
use crate::config::{Invocation, beside};

pub fn run(inv: &Invocation, args: ConvertArgs) -> Result<()> {
    let output = args.output()?;
    let Some(s) = inv.prepare(&args.settings, &[&output, &beside(&output)])? else {
        return Ok(());
    };
    let mut data = io::read(&args.input)
        .with_context(|| format!("could not read {}", args.input.display()))?;
    let ext = output
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    match ext.as_str() {
        "h5ad" => {
            inv.record(
                &mut data,
                &s,
                serde_json::json!({"input": args.input.display().to_string()}),
            )?;
            io::h5ad::write_h5ad(&output, &data)?
        }
        "csv" | "parquet" => {
            let table = io::tables::CoordTable::from_spatial(&data, None).with_context(|| {
                format!(
                    "{} has no coordinates to write as a table",
                    args.input.display()
                )
            })?;
            if ext == "csv" {
                io::tables::write_coords_csv(&output, &table)?;
            } else {
                io::tables::write_coords_parquet(&output, &table)?;
            }
            inv.write_config(&beside(&output), &s)?;
        }
        other => bail!(
            "cannot tell what to write from the output name {} (extension '{other}'): use .h5ad for a full dataset, or .csv / .parquet for a coordinate table",
            output.display()
        ),
    }
    tracing::info!(
        "wrote {} ({} spots x {} genes)",
        output.display(),
        data.n_obs(),
        data.n_vars()
    );
    Ok(())
}
