pub mod analyze;
pub mod demo;
pub mod eval;
pub mod info;
pub mod simulate;
