//! dpvae-eval
