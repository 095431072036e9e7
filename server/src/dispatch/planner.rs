//! Planning: takes the oldest send whose audience is not planned, reads it again
//! against the stored definitions, resolves its audience, plans every user and stores
//! the deliveries chunk by chunk, waking the deliverer after each.

use std::sync::Arc;

use tokio::sync::{mpsc, watch};

use super::audience::{scan, segment_set, Chunk};
use super::definitions::CatalogDefinitions;
use super::rows::{deliveries, is_known, recipient, unknown_user};
use super::{pause_after, stopped, Context, IDLE_RECHECK};
use crate::sends::{plan, Send};
use crate::store::{NewDelivery, SendRecord, StoreError};

/// Chunks of users read ahead of planning.
const CHUNKS_AHEAD: usize = 2;

pub(super) async fn run(ctx: Arc<Context>, mut stop: watch::Receiver<bool>) {
    loop {
        if *stop.borrow() {
            return;
        }
        let (err, what) = match ctx.store.next_to_plan().await {
            Ok(Some(send)) => {
                let id = send.id.clone();
                // Stopping drops the planning where it is; the next start plans the
                // send again, adding only what is missing.
                let planned = tokio::select! {
                    planned = plan_send(&ctx, send) => planned,
                    _ = stopped(&mut stop) => return,
                };
                match planned {
                    Ok(()) => continue,
                    Err(err) => (err, format!("planning send {id} failed")),
                }
            }
            Ok(None) => {
                tokio::select! {
                    _ = ctx.plan_wake.notified() => {}
                    _ = tokio::time::sleep(IDLE_RECHECK) => {}
                    _ = stopped(&mut stop) => return,
                }
                continue;
            }
            Err(err) => (err, "cannot read the sends to plan".to_owned()),
        };
        if !pause_after(&err, &what, &mut stop).await {
            return;
        }
    }
}

/// Plans one send to the end, or until an admin cancels it.
async fn plan_send(ctx: &Context, record: SendRecord) -> Result<(), StoreError> {
    let id = record.id.clone();
    ctx.store.start_planning(id.clone()).await?;
    let catalog = ctx.store.catalog().await?;
    let send = match Send::from_value(
        &record.request,
        &CatalogDefinitions(&catalog),
        record.created_at,
    ) {
        Ok(send) => Arc::new(send),
        Err(err) => {
            let why = format!("the request no longer reads against the stored definitions: {err}");
            return give_up(ctx, id, why).await;
        }
    };
    let set = match segment_set(&catalog, send.target()) {
        Ok(set) => set,
        Err(why) => {
            return give_up(ctx, id, format!("its audience cannot be evaluated: {why}")).await
        }
    };
    tracing::info!(send = %id, "planning a send");
    let (out, chunks) = mpsc::channel::<Chunk>(CHUNKS_AHEAD);
    let scanning = scan(&ctx.store, send.target().clone(), set, ctx.clock.now(), out);
    let planning = {
        let (send, id) = (&send, &id);
        // Owns the receiver: when planning stops early (or is dropped), the scan sees
        // it closed.
        async move {
            let mut chunks = chunks;
            while let Some(chunk) = chunks.recv().await {
                if !plan_chunk(ctx, send, id, chunk).await? {
                    return Ok::<bool, StoreError>(false);
                }
            }
            Ok(true)
        }
    };
    let (scanned, planned) = tokio::join!(scanning, planning);
    let complete = planned?;
    let users = scanned?;
    if !complete {
        return Ok(());
    }
    ctx.store
        .finish_planning(id.clone(), None, ctx.clock.now())
        .await?;
    ctx.deliver_wake.notify_one();
    tracing::info!(send = %id, users, "send planned");
    Ok(())
}

/// Plans and stores one chunk; false once the send no longer takes deliveries.
async fn plan_chunk(
    ctx: &Context,
    send: &Arc<Send>,
    send_id: &str,
    chunk: Chunk,
) -> Result<bool, StoreError> {
    let keys: Vec<String> = chunk.iter().map(|(key, _)| key.clone()).collect();
    let audiences = ctx.store.audiences(keys).await?;
    let now = ctx.clock.now();
    let send = Arc::clone(send);
    // Rendering a thousand users is CPU work: off the threads serving requests.
    let rows = tokio::task::spawn_blocking(move || {
        let campaign = send.campaign_id();
        let mut new_message_id = || uuid::Uuid::now_v7().to_string();
        let mut rows: Vec<NewDelivery> = Vec::with_capacity(chunk.len());
        for ((key, history), audience) in chunk.into_iter().zip(audiences) {
            if !is_known(&audience) {
                rows.push(unknown_user(&key));
                continue;
            }
            let decision = plan(&send, &recipient(audience, history), now);
            rows.extend(deliveries(&key, decision, campaign, &mut new_message_id));
        }
        rows
    })
    .await
    .map_err(|err| StoreError::Task(err.to_string()))?;
    let added = ctx
        .store
        .add_deliveries(send_id.to_owned(), rows, now)
        .await?;
    if added.deliveries > 0 {
        ctx.deliver_wake.notify_one();
    }
    Ok(added.open)
}

/// The send cannot be planned (its campaign or segment changed since it was
/// accepted): it ends with the reason and whatever was already planned.
async fn give_up(ctx: &Context, id: String, why: String) -> Result<(), StoreError> {
    tracing::warn!(send = %id, reason = %why, "a send cannot be planned");
    ctx.store
        .finish_planning(id, Some(why), ctx.clock.now())
        .await
}
