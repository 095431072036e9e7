//! Delivering: claims the deliveries whose instant has come, checks each again
//! (expiry, the user's current permission and devices), and hands it to the providers
//! with a bounded number in flight; a writer stores the outcomes and attempts in
//! batches, and drops the tokens providers call unregistered. Deliveries planned for
//! later wait in the store, so a restart resumes them.

use std::collections::HashMap;
use std::sync::Arc;

use tokio::sync::{mpsc, watch, Semaphore};

use super::due::{expired, nap, needs_recheck, withdrawn};
use super::outbound::{attempt_record, outbound, settle, SendExtras};
use super::{pause_after, stopped, Context, ERROR_PAUSE, MAX_NAP};
use crate::delivery::Outbound;
use crate::store::{Audience, DeliveryResult, DeliveryStatus, DueDelivery, StoreError};

/// Deliveries claimed at a time.
const CLAIM_BATCH: usize = 256;
/// Outcomes stored in one transaction, at most.
const RESULT_BATCH: usize = 512;
/// Sends whose extras are kept in memory; the cache starts over past this.
const EXTRAS_CACHE: usize = 1024;
/// Times an outcome is stored again after a store error before it is left for the
/// next start (which releases the claim and delivers again).
const RESULT_TRIES: usize = 3;

/// An outcome to store, and the token to drop when the provider disowned it.
struct Settled {
    result: DeliveryResult,
    unregistered: Option<(String, String)>,
}

pub(super) async fn run(ctx: Arc<Context>, mut stop: watch::Receiver<bool>) {
    let (results, outcomes) = mpsc::channel::<Settled>(RESULT_BATCH * 2);
    let writer = tokio::spawn(write_results(Arc::clone(&ctx), outcomes));
    let permits = Arc::new(Semaphore::new(ctx.concurrency));
    let mut extras: HashMap<String, Arc<SendExtras>> = HashMap::new();
    let mut clock = ctx.clock.watch();
    loop {
        if *stop.borrow() {
            break;
        }
        let failed = match ctx.store.claim_due(ctx.clock.now(), CLAIM_BATCH).await {
            Ok(due) if !due.is_empty() => {
                match dispatch(&ctx, due, &permits, &results, &mut extras).await {
                    Ok(()) => continue,
                    Err(err) => Some((err, "cannot hand out due deliveries")),
                }
            }
            Ok(_) => None,
            Err(err) => Some((err, "cannot claim due deliveries")),
        };
        if let Some((err, what)) = failed {
            if !pause_after(&err, what, &mut stop).await {
                break;
            }
            continue;
        }
        let next = ctx.store.next_due().await.unwrap_or_else(|err| {
            tracing::error!(error = %err, "cannot read when the next delivery is due");
            None
        });
        let wait = nap(next, ctx.clock.now(), MAX_NAP);
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = ctx.deliver_wake.notified() => {}
            _ = clock.moved() => {}
            _ = stopped(&mut stop) => break,
        }
    }
    // Let the deliveries in flight finish and their outcomes be stored.
    let _ = permits.acquire_many(ctx.concurrency as u32).await;
    drop(results);
    let _ = writer.await;
}

/// Checks each claimed delivery and starts the ones to send, waiting for room when
/// the bound of deliveries in flight is reached.
async fn dispatch(
    ctx: &Arc<Context>,
    due: Vec<DueDelivery>,
    permits: &Arc<Semaphore>,
    results: &mpsc::Sender<Settled>,
    extras: &mut HashMap<String, Arc<SendExtras>>,
) -> Result<(), StoreError> {
    let claimed_at = ctx.clock.now();
    let mut users: Vec<String> = due
        .iter()
        .filter(|d| needs_recheck(d, claimed_at))
        .map(|d| d.user_key.clone())
        .collect();
    users.sort();
    users.dedup();
    let audiences: HashMap<String, Audience> = if users.is_empty() {
        HashMap::new()
    } else {
        match ctx.store.audiences(users).await {
            Ok(audiences) => audiences
                .into_iter()
                .map(|a| (a.user_key.clone(), a))
                .collect(),
            Err(err) => {
                release(results, due).await;
                return Err(err);
            }
        }
    };
    let mut due = due.into_iter();
    while let Some(delivery) = due.next() {
        let now = ctx.clock.now();
        if expired(&delivery, now) {
            let detail = format!(
                "its expiry passed before it could be sent (due {}, expired {})",
                delivery.deliver_at,
                delivery.expires_at.unwrap_or(now)
            );
            finish(results, &delivery, DeliveryStatus::Expired, detail).await;
            continue;
        }
        if let Some(why) = audiences
            .get(&delivery.user_key)
            // Only those that waited were read again; the others stand as planned.
            .filter(|_| needs_recheck(&delivery, claimed_at))
            .and_then(|audience| withdrawn(&delivery, audience))
        {
            finish(results, &delivery, DeliveryStatus::Skipped, why).await;
            continue;
        }
        let stored = match extras.get(&delivery.send_id) {
            Some(known) => Ok(Some(Arc::clone(known))),
            None => ctx.store.send(delivery.send_id.clone()).await.map(|send| {
                send.map(|send| {
                    if extras.len() >= EXTRAS_CACHE {
                        extras.clear();
                    }
                    let known = Arc::new(SendExtras::of(&send));
                    extras.insert(send.id, Arc::clone(&known));
                    known
                })
            }),
        };
        let send_extras = match stored {
            Ok(Some(known)) => known,
            Ok(None) => {
                let detail = format!("send {} is not stored", delivery.send_id);
                finish(results, &delivery, DeliveryStatus::Failed, detail).await;
                continue;
            }
            Err(err) => {
                release(results, std::iter::once(delivery).chain(due).collect()).await;
                return Err(err);
            }
        };
        let message = match outbound(&send_extras, &delivery) {
            Ok(message) => message,
            Err(why) => {
                finish(results, &delivery, DeliveryStatus::Failed, why).await;
                continue;
            }
        };
        let permit = Arc::clone(permits)
            .acquire_owned()
            .await
            .expect("the semaphore is never closed");
        let (ctx, results) = (Arc::clone(ctx), results.clone());
        tokio::spawn(async move {
            let settled = deliver(&ctx, delivery, message).await;
            let _ = results.send(settled).await;
            drop(permit);
        });
    }
    Ok(())
}

/// One delivery through its provider, retried by the policy, every attempt kept.
async fn deliver(ctx: &Context, delivery: DueDelivery, message: Outbound) -> Settled {
    let attempts = ctx.providers.deliver(&message, &ctx.retry).await;
    let (status, detail) = settle(&attempts);
    let unregistered = (status == DeliveryStatus::Unregistered
        && matches!(message, Outbound::Push { .. }))
    .then(|| {
        let reason = format!("{}: {detail}", message.provider_name());
        (delivery.recipient.clone(), reason)
    });
    Settled {
        result: DeliveryResult {
            id: delivery.id,
            send_id: delivery.send_id,
            status,
            detail: Some(detail),
            attempts: attempts.iter().map(attempt_record).collect(),
        },
        unregistered,
    }
}

/// A delivery settled without a provider (expired, withdrawn, unbuildable).
async fn finish(
    results: &mpsc::Sender<Settled>,
    delivery: &DueDelivery,
    status: DeliveryStatus,
    detail: String,
) {
    let settled = Settled {
        result: DeliveryResult {
            id: delivery.id,
            send_id: delivery.send_id.clone(),
            status,
            detail: Some(detail),
            attempts: Vec::new(),
        },
        unregistered: None,
    };
    let _ = results.send(settled).await;
}

/// Gives claimed deliveries back untouched, to be claimed again.
async fn release(results: &mpsc::Sender<Settled>, due: Vec<DueDelivery>) {
    for delivery in due {
        let settled = Settled {
            result: DeliveryResult {
                id: delivery.id,
                send_id: delivery.send_id,
                status: DeliveryStatus::Pending,
                detail: None,
                attempts: Vec::new(),
            },
            unregistered: None,
        };
        let _ = results.send(settled).await;
    }
}

/// Stores outcomes as they come, as many per transaction as are waiting.
async fn write_results(ctx: Arc<Context>, mut outcomes: mpsc::Receiver<Settled>) {
    while let Some(first) = outcomes.recv().await {
        let mut batch = vec![first];
        while batch.len() < RESULT_BATCH {
            match outcomes.try_recv() {
                Ok(next) => batch.push(next),
                Err(_) => break,
            }
        }
        let mut tokens = Vec::new();
        let results: Vec<DeliveryResult> = batch
            .into_iter()
            .map(|settled| {
                tokens.extend(settled.unregistered);
                settled.result
            })
            .collect();
        // Tokens first: once a send reads done, the tokens it found gone are gone.
        for (token, reason) in tokens {
            match ctx.store.drop_push_token(token, reason).await {
                Ok(_) => {}
                Err(err) => tracing::error!(error = %err, "cannot drop an unregistered token"),
            }
        }
        let mut tries = 0;
        loop {
            tries += 1;
            match ctx
                .store
                .record_results(results.clone(), ctx.clock.now())
                .await
            {
                Ok(()) => break,
                // A damaged database takes nothing more: no use trying again.
                Err(err) if tries < RESULT_TRIES && !err.is_damage() => {
                    tracing::error!(error = %err, "cannot store delivery outcomes; trying again");
                    tokio::time::sleep(ERROR_PAUSE).await;
                }
                Err(err) => {
                    tracing::error!(error = %err, count = results.len(),
                        "cannot store delivery outcomes; they are delivered again after a restart");
                    break;
                }
            }
        }
    }
}
