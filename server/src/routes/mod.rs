pub mod batch;
pub mod campaigns;
pub mod definitions;
pub mod export;
mod request;
pub mod segment_members;
pub mod segments;
pub mod sync;
