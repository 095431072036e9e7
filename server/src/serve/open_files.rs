//! The connection cap as the process's open-file limit allows it: every connection is
//! a file descriptor, and running out of them makes `accept` fail for everyone.

/// Descriptors kept for everything but client connections: the database and its
/// journal, provider and webhook connections, logs.
const RESERVED: u64 = 256;

/// Raises the soft open-file limit to the hard one and returns the limit now in force;
/// `None` when it cannot be read (the configured cap then stands).
pub fn raise_limit() -> Option<u64> {
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) => Some(limit),
        Err(err) => {
            tracing::warn!(error = %err, "cannot read or raise the open-file limit");
            None
        }
    }
}

/// The cap in force: the configured one, lowered so that connections, `extra`
/// descriptors (refusals under way) and the reserve fit under `open_files`.
pub fn effective_cap(configured: usize, open_files: Option<u64>, extra: usize) -> usize {
    let Some(open_files) = open_files else {
        return configured;
    };
    let room = open_files.saturating_sub(RESERVED + extra as u64);
    configured
        .min(usize::try_from(room).unwrap_or(usize::MAX))
        .max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cap_leaves_room_for_the_reserve() {
        assert_eq!(effective_cap(10_000, Some(1_048_576), 64), 10_000);
        assert_eq!(effective_cap(10_000, Some(1_024), 64), 1_024 - 256 - 64);
        assert_eq!(effective_cap(10_000, None, 64), 10_000);
        // Even a tiny limit leaves one connection rather than none.
        assert_eq!(effective_cap(10_000, Some(100), 64), 1);
        assert_eq!(effective_cap(10_000, Some(u64::MAX), 64), 10_000);
    }

    #[test]
    fn raising_never_lowers_the_limit() {
        let before = rlimit::getrlimit(rlimit::Resource::NOFILE).unwrap().0;
        let after = raise_limit().unwrap();
        assert!(after >= before, "{after} < {before}");
    }
}
