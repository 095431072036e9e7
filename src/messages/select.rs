//! Which campaign to show when a trigger fires: a pure decision over the campaigns,
//! what just happened, what is known about the user, and the time.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::campaign::{Campaign, CampaignStatus, FiredTrigger};
use crate::protocol::DEFAULT_MIN_GAP;

/// Settings that apply across campaigns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SelectionPolicy {
    /// No message is shown within this long of the previous one.
    pub min_gap: Duration,
}

impl Default for SelectionPolicy {
    fn default() -> Self {
        Self {
            min_gap: DEFAULT_MIN_GAP,
        }
    }
}

/// What the decision needs to know about the user.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct UserState {
    /// Ids of the segments the user is in now.
    pub segments: HashSet<String>,
    /// When each campaign was shown to the user, by campaign id (any order).
    pub impressions: HashMap<String, Vec<DateTime<Utc>>>,
    /// When the last message (of any campaign) was shown. The gap is measured from
    /// the later of this and the latest impression.
    pub last_shown: Option<DateTime<Utc>>,
}

/// Why no message is shown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NoMessage {
    /// No campaign listens to this trigger.
    NoTriggerMatch,
    /// Campaigns listen to this trigger, but none may be shown; each with its reason,
    /// in the order given.
    Ineligible { rejected: Vec<Rejected> },
    /// A campaign would be shown, but the previous message was too recent.
    GapNotElapsed {
        remaining: Duration,
        /// The campaign that would have been shown.
        candidate: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejected {
    pub campaign_id: String,
    pub reason: Rejection,
}

/// Why a campaign whose trigger fired may not be shown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rejection {
    NotActive(CampaignStatus),
    NotStarted {
        starts_at: DateTime<Utc>,
    },
    Ended {
        ends_at: DateTime<Utc>,
    },
    /// The user is in one of the excluded segments.
    Excluded {
        segment_id: String,
    },
    /// The user is in none of the audience's segments.
    NotInAudience,
    TotalCapReached {
        shown: u32,
        max: u32,
    },
    /// The rolling window's cap; the campaign may be shown again from `until`.
    WindowCapReached {
        shown: u32,
        max: u32,
        until: DateTime<Utc>,
    },
}

/// Picks the campaign to show: among active campaigns whose trigger matches `fired`,
/// inside their schedule, whose audience includes the user and whose caps are not
/// reached, the highest priority; on a tie, the smallest id. Nothing is shown
/// within `policy.min_gap` of the previous message.
///
/// Clocks move backwards (the user changes the time, a sync corrects it): a last
/// impression in the future counts as happening `now`, so a message is never shown
/// twice within the gap and caps never loosen. Persist [`clamp_to_now`] of stored
/// times, or the gap holds until the clock passes the stored time again.
pub fn select<'a>(
    campaigns: &'a [Campaign],
    fired: &FiredTrigger,
    user: &UserState,
    now: DateTime<Utc>,
    policy: &SelectionPolicy,
) -> Result<&'a Campaign, NoMessage> {
    let mut rejected = Vec::new();
    let mut best: Option<&Campaign> = None;
    let mut any_triggered = false;
    for campaign in campaigns.iter().filter(|c| c.trigger().matches(fired)) {
        any_triggered = true;
        match eligibility(campaign, user, now) {
            Ok(()) => {
                let wins = best.is_none_or(|b| {
                    (campaign.priority(), std::cmp::Reverse(campaign.id()))
                        > (b.priority(), std::cmp::Reverse(b.id()))
                });
                if wins {
                    best = Some(campaign);
                }
            }
            Err(reason) => rejected.push(Rejected {
                campaign_id: campaign.id().to_owned(),
                reason,
            }),
        }
    }
    let Some(best) = best else {
        return Err(if any_triggered {
            NoMessage::Ineligible { rejected }
        } else {
            NoMessage::NoTriggerMatch
        });
    };
    let latest = user
        .impressions
        .values()
        .flatten()
        .copied()
        .chain(user.last_shown)
        .max();
    if let Some(latest) = latest {
        let elapsed = since(clamp_to_now(latest, now), now);
        if elapsed < policy.min_gap {
            return Err(NoMessage::GapNotElapsed {
                remaining: policy.min_gap - elapsed,
                candidate: best.id().to_owned(),
            });
        }
    }
    Ok(best)
}

/// Whether `campaign` may be shown to `user` at `now`, its trigger aside.
/// Checks status, schedule, audience (exclusions first), then caps.
pub fn eligibility(
    campaign: &Campaign,
    user: &UserState,
    now: DateTime<Utc>,
) -> Result<(), Rejection> {
    if campaign.status() != CampaignStatus::Active {
        return Err(Rejection::NotActive(campaign.status()));
    }
    if let Some(starts_at) = campaign.starts_at().filter(|s| now < *s) {
        return Err(Rejection::NotStarted { starts_at });
    }
    if let Some(ends_at) = campaign.ends_at().filter(|e| now >= *e) {
        return Err(Rejection::Ended { ends_at });
    }
    let audience = campaign.audience();
    if let Some(segment_id) = audience.exclude.iter().find(|s| user.segments.contains(*s)) {
        return Err(Rejection::Excluded {
            segment_id: segment_id.clone(),
        });
    }
    if !audience.segments.is_empty() && !audience.segments.iter().any(|s| user.segments.contains(s))
    {
        return Err(Rejection::NotInAudience);
    }
    check_caps(campaign, user, now)
}

fn check_caps(campaign: &Campaign, user: &UserState, now: DateTime<Utc>) -> Result<(), Rejection> {
    let shown: &[DateTime<Utc>] = user
        .impressions
        .get(campaign.id())
        .map_or(&[], Vec::as_slice);
    let cap = campaign.cap();
    if let Some(max) = cap.total {
        let count = count_u32(shown.len());
        if count >= max {
            return Err(Rejection::TotalCapReached { shown: count, max });
        }
    }
    if let Some(window) = cap.window {
        let length = i64::try_from(window.seconds)
            .ok()
            .and_then(chrono::TimeDelta::try_seconds)
            .unwrap_or(chrono::TimeDelta::MAX);
        let opened = now
            .checked_sub_signed(length)
            .unwrap_or(DateTime::<Utc>::MIN_UTC);
        // Impressions in the future count as now.
        let mut inside: Vec<DateTime<Utc>> = shown
            .iter()
            .map(|t| clamp_to_now(*t, now))
            .filter(|t| *t > opened)
            .collect();
        let count = count_u32(inside.len());
        if count >= window.max {
            inside.sort_unstable();
            // Once this many of the oldest have left the window, one more fits.
            let leaving = inside.len() - window.max as usize;
            return Err(Rejection::WindowCapReached {
                shown: count,
                max: window.max,
                until: inside[leaving]
                    .checked_add_signed(length)
                    .unwrap_or(DateTime::<Utc>::MAX_UTC),
            });
        }
    }
    Ok(())
}

/// `time`, or `now` if `time` is in the future: what to store after the clock was
/// set backwards.
pub fn clamp_to_now(time: DateTime<Utc>, now: DateTime<Utc>) -> DateTime<Utc> {
    time.min(now)
}

/// Time from `earlier` to `now`; zero if `earlier` is later.
fn since(earlier: DateTime<Utc>, now: DateTime<Utc>) -> Duration {
    (now - earlier).to_std().unwrap_or(Duration::ZERO)
}

fn count_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests;
