//! The tenant's audit log, read through the API (the chain check is `hsm-pki audit verify`).

use std::sync::Arc;

use crate::store::StoredEvent;

use super::{App, OpContext, ServiceError};

/// One page of the caller's tenant's events after `after` (a sequence number), filtered by
/// event name and object id; the second value is the last row's position when there is more.
pub async fn list(
    app: &Arc<App>,
    ctx: &OpContext,
    event: Option<String>,
    object_id: Option<String>,
    after: i64,
    limit: usize,
) -> Result<(Vec<StoredEvent>, Option<i64>), ServiceError> {
    super::read(
        app,
        ctx,
        "AUDIT_EVENT_RETRIEVE_LIST",
        None,
        move |store, tenant| {
            let rows = store.list_events(
                tenant,
                event.as_deref(),
                object_id.as_deref(),
                after,
                limit + 1,
            )?;
            let rows = rows.into_iter().map(|r| (r.seq, r)).collect();
            super::page(rows, limit, |r: &StoredEvent| Ok(r.clone()))
        },
    )
    .await
}
