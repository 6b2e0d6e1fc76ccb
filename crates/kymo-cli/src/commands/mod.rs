pub mod info;
pub mod simulate;
