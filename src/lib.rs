//! squeeze umbrella
