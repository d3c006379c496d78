//! The resident registry (住民基本台帳 as far as JPKI needs it): residents with the
//! basic 4 information and a My Number, and the history of their changes.

use std::sync::Arc;

use jpki_crypto::Clock;
use jpki_model::{BasicInfo, MyNumber};
use jpki_store::{HistoryEntry, NewResident, RegistryStore, Resident, ResidentId, StoreError};

use crate::AuthorityError;

/// Registry operations over any [`RegistryStore`].
#[derive(Debug, Clone)]
pub struct Registry<S> {
    store: S,
    clock: Arc<dyn Clock>,
}

impl<S: RegistryStore> Registry<S> {
    pub fn new(store: S, clock: Arc<dyn Clock>) -> Self {
        Self { store, clock }
    }

    /// Registers a resident. The My Number was validated when it was parsed.
    pub async fn register(
        &self,
        my_number: MyNumber,
        basic_info: BasicInfo,
    ) -> Result<Resident, AuthorityError> {
        let new = NewResident {
            my_number,
            basic_info,
        };
        match self.store.add_resident(&new, self.clock.now()).await {
            Ok(resident) => {
                tracing::info!(resident = %resident.id, "resident registered");
                Ok(resident)
            }
            Err(StoreError::Conflict { .. }) => Err(AuthorityError::DuplicateMyNumber),
            Err(other) => Err(other.into()),
        }
    }

    /// The resident with this id, or [`AuthorityError::UnknownResident`].
    pub async fn resident(&self, id: ResidentId) -> Result<Resident, AuthorityError> {
        self.store
            .resident(id)
            .await?
            .ok_or(AuthorityError::UnknownResident(id))
    }

    pub async fn resident_by_my_number(
        &self,
        my_number: &MyNumber,
    ) -> Result<Option<Resident>, AuthorityError> {
        Ok(self.store.resident_by_my_number(my_number).await?)
    }

    /// One page of residents in id order, starting after `after`.
    pub async fn list(
        &self,
        after: Option<ResidentId>,
        limit: u32,
    ) -> Result<Vec<Resident>, AuthorityError> {
        Ok(self.store.list_residents(after, limit).await?)
    }

    /// The resident's history, oldest first (the first entry is the registration).
    pub async fn history(&self, id: ResidentId) -> Result<Vec<HistoryEntry>, AuthorityError> {
        self.resident(id).await?;
        Ok(self.store.resident_history(id).await?)
    }
}
