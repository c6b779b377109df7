//! Wires the stages together and owns shutdown.
