//! WhatsApp Business Cloud API connector: webhook handshake, signature verification, parsing
//! of every message and status type, and what the send proxy needs to know of Graph API sends.

mod config;

pub use config::WhatsappCloudConfig;
