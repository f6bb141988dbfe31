//! The Custos HTTP API (being built).
#![forbid(unsafe_code)]
