pub mod batch;
pub mod export;
