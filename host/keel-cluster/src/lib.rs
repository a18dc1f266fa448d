//! Keel server (being built).
