//! Owned by its own session; see ARCHITECTURE.md.
