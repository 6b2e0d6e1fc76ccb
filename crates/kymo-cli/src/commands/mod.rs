pub mod analyze;
pub mod eval;
pub mod info;
pub mod simulate;
