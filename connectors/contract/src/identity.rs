//! Identity keys as connectors report them.
//!
//! A connector reports what it saw, raw: it does not normalise phones (that needs the
//! connector's configured default region and the country quirks the identity stage owns).

use serde::{Deserialize, Serialize};

/// One key that identifies a person on some channel or system.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum IdentityKey {
    /// A phone number as written by the vendor (e.g. WhatsApp's `wa_id` "919820012345" is
    /// reported as "+919820012345" because it always carries a country code).
    Phone { value: String },
    /// An email address as written by the vendor.
    Email { value: String },
    /// An id in a vendor's own namespace: `system` is e.g. `whatsapp`, `whatsapp_bsuid`,
    /// `vapi`, `hubspot`; `id` is that system's id for the person.
    Vendor { system: String, id: String },
}

impl IdentityKey {
    pub fn phone(value: impl Into<String>) -> Self {
        Self::Phone { value: value.into() }
    }

    pub fn email(value: impl Into<String>) -> Self {
        Self::Email { value: value.into() }
    }

    pub fn vendor(system: impl Into<String>, id: impl Into<String>) -> Self {
        Self::Vendor { system: system.into(), id: id.into() }
    }
}
