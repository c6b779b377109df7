use handoffd_contract::crm::NewContact;
use handoffd_contract::identity::IdentityKey;
use handoffd_contract::task::TaskWrite;
use serde::{Deserialize, Serialize};

/// What an outbox job holds: the task, and what is needed to find or create its contact.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DeliveryPayload {
    /// `contact_id` is empty until the contact is known at delivery time.
    pub task: TaskWrite,
    /// The contact to create when none matches.
    pub contact: NewContact,
    /// Keys to look the contact up by (normalised phones, emails).
    pub lookup: Vec<IdentityKey>,
}
