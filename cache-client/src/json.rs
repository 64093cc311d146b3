//! (feature `serde`) JSON helpers over the byte-valued commands: `get_json` and `set_json`.
//! Values go through the near-cache as bytes; (de)serialization happens on each call.

use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::client::Client;
use crate::commands::{SetExpiry, SetOptions};
use crate::error::{Error, Result};

impl Client {
    /// `GET` and deserialize from JSON.
    ///
    /// # Errors
    ///
    /// [`Error::Serde`] when the value is not JSON of type `T`; transport errors.
    pub async fn get_json<T: DeserializeOwned>(&self, key: impl AsRef<[u8]>) -> Result<Option<T>> {
        match self.get(key).await? {
            None => Ok(None),
            Some(b) => serde_json::from_slice(&b).map(Some).map_err(|e| Error::Serde(Arc::new(e))),
        }
    }

    /// Serialize to JSON and `SET`, with an optional TTL.
    ///
    /// # Errors
    ///
    /// [`Error::Serde`] when `value` cannot be serialized; transport errors.
    pub async fn set_json<T: Serialize>(&self, key: impl AsRef<[u8]>, value: &T, ttl: Option<Duration>) -> Result<()> {
        let bytes = serde_json::to_vec(value).map_err(|e| Error::Serde(Arc::new(e)))?;
        let mut opts = SetOptions::default();
        if let Some(ttl) = ttl {
            opts = opts.expiry(SetExpiry::Px(u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1)));
        }
        self.set_with(key, bytes, opts).await.map(|_| ())
    }
}
