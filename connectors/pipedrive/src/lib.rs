//! Pipedrive connector (in progress).
