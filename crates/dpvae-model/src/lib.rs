//! dpvae-model
