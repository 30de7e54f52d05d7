//! dpvae-geometry
