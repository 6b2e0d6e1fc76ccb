//! Spike detection.
