//! A value the running daemon swaps whole on reload: readers take the current one for a round
//! and keep it until the round ends, so a round never sees half of an old configuration and
//! half of a new one.

use std::sync::{Arc, RwLock};

pub struct Shared<T>(Arc<RwLock<Arc<T>>>);

impl<T> Clone for Shared<T> {
    fn clone(&self) -> Self {
        Self(self.0.clone())
    }
}

impl<T> Shared<T> {
    pub fn new(value: T) -> Self {
        Self(Arc::new(RwLock::new(Arc::new(value))))
    }

    pub fn from_arc(value: Arc<T>) -> Self {
        Self(Arc::new(RwLock::new(value)))
    }

    /// The current value, for as long as the caller holds it.
    pub fn get(&self) -> Arc<T> {
        self.0.read().expect("shared value").clone()
    }

    /// From now on, readers get `value`; those holding the old one finish with it.
    pub fn replace(&self, value: T) {
        *self.0.write().expect("shared value") = Arc::new(value);
    }
}
