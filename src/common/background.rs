//! Beckon's own threads (the engagement thread, the upload thread) run at background
//! priority: their work can wait a few milliseconds, the app's threads calling `track`
//! should not wait for it. On a phone's few cores the scheduler then gives a core to
//! the app's thread first when both want one. Linux and Android: nice 10, Android's
//! `THREAD_PRIORITY_BACKGROUND`; Apple platforms: the utility quality of service.

/// Lowers the calling thread's priority to background, where the platform allows it;
/// elsewhere, or when refused, the thread keeps its priority.
pub fn lower_this_thread() {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    // SAFETY: plain system calls on the calling thread's own id.
    unsafe {
        let thread = libc::gettid();
        libc::setpriority(libc::PRIO_PROCESS, thread as libc::id_t, BACKGROUND_NICE);
    }
    #[cfg(target_vendor = "apple")]
    // SAFETY: sets the calling thread's own class; no pointer is passed.
    unsafe {
        libc::pthread_set_qos_class_self_np(libc::qos_class_t::QOS_CLASS_UTILITY, 0);
    }
}

/// Android's `Process.THREAD_PRIORITY_BACKGROUND`.
#[cfg(any(target_os = "linux", target_os = "android"))]
const BACKGROUND_NICE: libc::c_int = 10;

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    fn nice_of_this_thread() -> libc::c_int {
        // SAFETY: as above.
        unsafe { libc::getpriority(libc::PRIO_PROCESS, libc::gettid() as libc::id_t) }
    }

    #[test]
    fn a_lowered_thread_runs_at_background_priority_and_the_others_do_not() {
        let before = nice_of_this_thread();
        let lowered = std::thread::spawn(|| {
            lower_this_thread();
            nice_of_this_thread()
        })
        .join()
        .unwrap();
        assert_eq!(lowered, BACKGROUND_NICE.max(before));
        assert_eq!(nice_of_this_thread(), before, "only the calling thread");
    }
}
