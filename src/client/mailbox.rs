//! What the app's threads hand to the engagement thread, in the order they hand it: the
//! stored payloads of tracked events, end to end in one buffer, and commands.
//!
//! Handing each event over on its own cost the app's thread more than storing it: a
//! channel message and a wake-up of the engagement thread per event, and frees of what
//! one thread allocated on another, which take the allocator's lock the app's thread is
//! using. So `track` copies its payload into the buffer and only the first event of a
//! burst wakes the engagement thread; a command always wakes it. The engagement thread
//! takes the whole mailbox once the events pause ([`Burst`]) or a command comes, and
//! handles it in order: the events before a command are folded before it runs. While
//! the app tracks, the engagement thread neither competes for the store's lock nor runs
//! beside it.

use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// What was handed over, in order.
pub(crate) struct Mail<C> {
    bytes: Vec<u8>,
    items: Vec<Item<C>>,
    events: usize,
    /// The engagement thread is gone: nothing more is taken.
    closed: bool,
}

enum Item<C> {
    /// A payload, ending at this offset of `bytes`.
    Event(usize),
    Command(C),
}

/// One piece of mail, in order.
pub(crate) enum Piece<'a, C> {
    Event(&'a [u8]),
    Command(C),
}

impl<C> Default for Mail<C> {
    fn default() -> Self {
        Mail {
            bytes: Vec::new(),
            items: Vec::new(),
            events: 0,
            closed: false,
        }
    }
}

impl<C> Mail<C> {
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    fn commands(&self) -> usize {
        self.items.len() - self.events
    }

    /// Each piece in order, the mail left empty with its memory kept for the next turn.
    pub fn drain(&mut self) -> impl Iterator<Item = Piece<'_, C>> {
        let bytes = &self.bytes;
        let mut start = 0;
        self.events = 0;
        self.items.drain(..).map(move |item| match item {
            Item::Event(end) => {
                let payload = &bytes[start..end];
                start = end;
                Piece::Event(payload)
            }
            Item::Command(command) => Piece::Command(command),
        })
    }

    /// Empties the bytes too; to be called once the drained payloads are no longer read.
    pub fn clear(&mut self) {
        self.bytes.clear();
        self.items.clear();
        self.events = 0;
    }
}

pub(crate) struct Mailbox<C> {
    mail: Mutex<Mail<C>>,
    wake: Condvar,
}

impl<C> Default for Mailbox<C> {
    fn default() -> Self {
        Mailbox {
            mail: Mutex::new(Mail::default()),
            wake: Condvar::new(),
        }
    }
}

/// What ends a wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Wake {
    OnAnything,
    OnCommand,
}

/// What a wait found in the mailbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Found {
    pub events: usize,
    pub commands: usize,
}

impl<C> Mailbox<C> {
    fn lock(&self) -> MutexGuard<'_, Mail<C>> {
        self.mail.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Hands over an event's payload; wakes the engagement thread only if the mailbox
    /// was empty.
    pub fn post_event(&self, payload: &[u8]) {
        let mut mail = self.lock();
        mail.bytes.extend_from_slice(payload);
        let end = mail.bytes.len();
        mail.items.push(Item::Event(end));
        mail.events += 1;
        let first = mail.items.len() == 1;
        drop(mail);
        if first {
            self.wake.notify_one();
        }
    }

    /// Hands over a command, after the events and commands already posted; gives it
    /// back when the engagement thread is gone.
    pub fn post(&self, command: C) -> Result<(), C> {
        let mut mail = self.lock();
        if mail.closed {
            return Err(command);
        }
        mail.items.push(Item::Command(command));
        drop(mail);
        self.wake.notify_one();
        Ok(())
    }

    /// Waits at most `timeout` for anything (`Wake::OnAnything`) or only for a command
    /// (`Wake::OnCommand`, while the events of a burst wait); what is there then.
    pub fn wait(&self, timeout: Duration, wake: Wake) -> Found {
        let mail = self.lock();
        let (mail, _) = self
            .wake
            .wait_timeout_while(mail, timeout, |mail| match wake {
                Wake::OnAnything => mail.items.is_empty(),
                Wake::OnCommand => mail.commands() == 0,
            })
            .unwrap_or_else(|e| e.into_inner());
        Found {
            events: mail.events,
            commands: mail.commands(),
        }
    }

    /// Swaps what was posted into `spent`, which the caller emptied: the two buffers
    /// take turns, so a burst finds one already grown rather than growing it.
    pub fn take(&self, spent: &mut Mail<C>) {
        debug_assert!(spent.is_empty());
        let mut mail = self.lock();
        std::mem::swap(&mut mail.bytes, &mut spent.bytes);
        std::mem::swap(&mut mail.items, &mut spent.items);
        std::mem::swap(&mut mail.events, &mut spent.events);
    }

    /// The engagement thread is leaving: later commands are refused, and what waits
    /// is dropped (a caller waiting for an answer then hears that it is gone).
    pub fn close(&self) {
        let mut mail = self.lock();
        mail.closed = true;
        let dropped = std::mem::take(&mut mail.items);
        mail.clear();
        // Dropped once the lock is released: a command may hold the app's objects.
        drop(mail);
        drop(dropped);
    }
}

/// When to take the events of a burst: once no new one came for [`Burst::PAUSE`], or
/// when waiting longer would keep too many, or the first too long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Burst {
    started: Instant,
    seen: usize,
}

/// What to do after a look at the mailbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Look {
    /// Take the events now.
    Take,
    /// Look again after [`Burst::PAUSE`].
    Wait(Burst),
}

impl Burst {
    /// How long the events must pause before they are taken.
    pub const PAUSE: Duration = Duration::from_millis(20);
    /// The most events kept waiting.
    pub const MAX_EVENTS: usize = 4_096;
    /// The longest the first event of a burst waits.
    pub const MAX_WAIT: Duration = Duration::from_secs(1);

    /// A burst found at `now` with `waiting` events.
    pub fn start(now: Instant, waiting: usize) -> Burst {
        Burst {
            started: now,
            seen: waiting,
        }
    }

    /// Judges a look at the mailbox, `waiting` events in it, at `now`.
    pub fn look(self, waiting: usize, now: Instant) -> Look {
        let paused = waiting == self.seen;
        let too_many = waiting >= Burst::MAX_EVENTS;
        let too_long = now.duration_since(self.started) >= Burst::MAX_WAIT;
        if paused || too_many || too_long {
            Look::Take
        } else {
            Look::Wait(Burst {
                seen: waiting,
                ..self
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    fn drained(mail: &mut Mail<&'static str>) -> Vec<String> {
        let pieces = mail
            .drain()
            .map(|piece| match piece {
                Piece::Event(payload) => String::from_utf8(payload.to_vec()).unwrap(),
                Piece::Command(command) => format!("<{command}>"),
            })
            .collect();
        mail.clear();
        pieces
    }

    #[test]
    fn events_and_commands_come_out_in_the_order_they_went_in() {
        let mailbox = Mailbox::default();
        mailbox.post_event(b"a");
        mailbox.post("set locale").unwrap();
        mailbox.post_event(b"");
        mailbox.post_event(b"cc");
        let mut mail = Mail::default();
        mailbox.take(&mut mail);
        assert_eq!(drained(&mut mail), ["a", "<set locale>", "", "cc"]);
        mailbox.take(&mut mail);
        assert!(mail.is_empty());
    }

    #[test]
    fn the_grown_buffer_is_used_again() {
        let mailbox: Mailbox<&str> = Mailbox::default();
        mailbox.post_event(&[b'x'; 10_000]);
        let mut mail = Mail::default();
        mailbox.take(&mut mail);
        drained(&mut mail);
        mailbox.take(&mut mail);
        mailbox.post_event(b"y");
        assert!(mailbox.lock().bytes.capacity() >= 10_000);
    }

    #[test]
    fn events_alone_do_not_end_a_wait_and_a_command_ends_it_at_once() {
        let mailbox = Arc::new(Mailbox::default());
        mailbox.post_event(b"a");
        let started = Instant::now();
        let found = mailbox.wait(Duration::from_millis(50), Wake::OnCommand);
        assert!(started.elapsed() >= Duration::from_millis(50));
        assert_eq!(
            found,
            Found {
                events: 1,
                commands: 0
            }
        );
        assert_eq!(
            mailbox.wait(Duration::from_secs(10), Wake::OnAnything),
            Found {
                events: 1,
                commands: 0
            },
            "an event is something"
        );

        let poster = {
            let mailbox = mailbox.clone();
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(20));
                mailbox.post("stop").unwrap();
            })
        };
        let started = Instant::now();
        let found = mailbox.wait(Duration::from_secs(10), Wake::OnCommand);
        assert!(started.elapsed() < Duration::from_secs(5));
        assert_eq!(
            found,
            Found {
                events: 1,
                commands: 1
            }
        );
        poster.join().unwrap();
        mailbox.close();
        assert_eq!(mailbox.post("late"), Err("late"));
    }

    #[test]
    fn a_burst_is_taken_when_it_pauses() {
        let t0 = Instant::now();
        let burst = Burst::start(t0, 1);
        let Look::Wait(burst) = burst.look(5, t0 + Burst::PAUSE) else {
            panic!("still arriving")
        };
        let Look::Wait(burst) = burst.look(9, t0 + Burst::PAUSE * 2) else {
            panic!("still arriving")
        };
        assert_eq!(burst.look(9, t0 + Burst::PAUSE * 3), Look::Take);
    }

    #[test]
    fn a_burst_that_goes_on_is_taken_after_a_while_or_when_large() {
        let t0 = Instant::now();
        let mut burst = Burst::start(t0, 0);
        let mut waiting = 0;
        let mut at = t0;
        let taken_after = loop {
            waiting += 10;
            at += Burst::PAUSE;
            match burst.look(waiting, at) {
                Look::Wait(next) => burst = next,
                Look::Take => break at - t0,
            }
        };
        assert_eq!(taken_after, Burst::MAX_WAIT);
        assert_eq!(
            Burst::start(t0, 1).look(Burst::MAX_EVENTS, t0 + Burst::PAUSE),
            Look::Take
        );
    }
}
