//! The Salesforce connector against the bundled Salesforce mock, which speaks its wire formats.

mod compliance;
mod support;
mod wire;
