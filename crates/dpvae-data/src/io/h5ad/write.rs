//! The builder an `.h5ad` file is written with: the file root (the `anndata` element with its empty `obsp`,
//! `varm` and `varp` dicts) and what every element writer shares (encoding attributes, compression, booleans).

use hdf5_pure::{DatasetBuilder, EnumTypeBuilder, FileBuilder, FinishedGroup, GroupBuilder};

use super::H5adWriteOptions;
use super::dataframe::write_dataframe;
use super::mapping::write_uns_map;
use super::matrix::{write_f64_array, write_matrix};
use crate::dataset::SpatialData;
use crate::error::{DataError, Result};
use crate::io::hdf::vstr;

/// Something that holds datasets, groups and attributes: the file root or a group.
pub(super) trait Node {
    fn dataset(&mut self, name: &str) -> &mut DatasetBuilder;
    fn new_group(&mut self, name: &str) -> GroupBuilder;
    fn add(&mut self, group: FinishedGroup);
}

impl Node for FileBuilder {
    fn dataset(&mut self, name: &str) -> &mut DatasetBuilder {
        self.create_dataset(name)
    }
    fn new_group(&mut self, name: &str) -> GroupBuilder {
        self.create_group(name)
    }
    fn add(&mut self, group: FinishedGroup) {
        self.add_group(group)
    }
}

impl Node for GroupBuilder {
    fn dataset(&mut self, name: &str) -> &mut DatasetBuilder {
        self.create_dataset(name)
    }
    fn new_group(&mut self, name: &str) -> GroupBuilder {
        self.create_group(name)
    }
    fn add(&mut self, group: FinishedGroup) {
        self.add_group(group)
    }
}

pub(super) fn encode(b: &mut DatasetBuilder, kind: &str, version: &str) {
    b.set_attr("encoding-type", vstr(kind));
    b.set_attr("encoding-version", vstr(version));
}

pub(super) fn encode_group(g: &mut GroupBuilder, kind: &str, version: &str) {
    g.set_attr("encoding-type", vstr(kind));
    g.set_attr("encoding-version", vstr(version));
}

pub(super) fn compress(b: &mut DatasetBuilder, opts: &H5adWriteOptions, len: usize) {
    if let Some(level) = opts.gzip
        && len > 0
    {
        b.with_deflate(level.clamp(1, 9));
    }
}

/// numpy's boolean as h5py stores it: an 8-bit enum {FALSE = 0, TRUE = 1}.
pub(super) fn bool_type() -> Result<hdf5_pure::Datatype> {
    EnumTypeBuilder::with_base(hdf5_pure::make_i8_type())
        .value("FALSE", 0)
        .value("TRUE", 1)
        .build()
        .map_err(|e| DataError::data("bool type", e.to_string()))
}

pub(super) fn build_h5ad(data: &SpatialData, opts: &H5adWriteOptions) -> Result<FileBuilder> {
    let mut fb = FileBuilder::new();
    fb.set_attr("encoding-type", vstr("anndata"));
    fb.set_attr("encoding-version", vstr("0.1.0"));

    write_matrix(&mut fb, "X", &data.x, opts);

    let mut layers = fb.create_group("layers");
    encode_group(&mut layers, "dict", "0.1.0");
    for (key, m) in &data.layers {
        write_matrix(&mut layers, key, m, opts);
    }
    fb.add_group(layers.finish());

    write_dataframe(&mut fb, "obs", &data.obs_names, &data.obs, None)?;
    let gene_ids = data
        .var_ids
        .as_ref()
        .filter(|_| data.var.column("gene_ids").is_err())
        .map(|ids| ("gene_ids", ids.as_slice()));
    write_dataframe(&mut fb, "var", &data.var_names, &data.var, gene_ids)?;

    let mut obsm = fb.create_group("obsm");
    encode_group(&mut obsm, "dict", "0.1.0");
    if let Some(s) = &data.spatial {
        write_f64_array(&mut obsm, "spatial", s, opts);
    }
    for (key, m) in &data.obsm {
        if key == "spatial" && data.spatial.is_some() {
            continue;
        }
        write_f64_array(&mut obsm, key, m, opts);
    }
    fb.add_group(obsm.finish());

    for empty in ["obsp", "varm", "varp"] {
        let mut g = fb.create_group(empty);
        encode_group(&mut g, "dict", "0.1.0");
        fb.add_group(g.finish());
    }

    let mut uns = fb.create_group("uns");
    encode_group(&mut uns, "dict", "0.1.0");
    write_uns_map(&mut uns, &data.uns)?;
    fb.add_group(uns.finish());
    Ok(fb)
}
