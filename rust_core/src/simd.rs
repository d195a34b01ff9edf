//! The CPU level of the hot kernels. The crate is built for baseline x86-64 so that one wheel
//! runs everywhere; the branch-free pattern scans and the running sums run about a third faster
//! compiled for x86-64-v3 (AVX2, FMA, BMI), so those kernels get a second copy compiled for it,
//! picked at run time. Results are identical: Rust never fuses `a * b + c` into an FMA, and
//! every vector lane computes the same IEEE operation as the scalar code.

use std::sync::atomic::{AtomicU8, Ordering};

/// 0: not detected yet, 1: baseline, 2: x86-64-v3.
static LEVEL: AtomicU8 = AtomicU8::new(0);

/// Whether this CPU runs x86-64-v3 code (detected once, then one load).
#[inline]
pub(crate) fn has_v3() -> bool {
    match LEVEL.load(Ordering::Relaxed) {
        0 => {
            let level = if detect_v3() { 2 } else { 1 };
            LEVEL.store(level, Ordering::Relaxed);
            level == 2
        }
        level => level == 2,
    }
}

fn detect_v3() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx2")
            && std::arch::is_x86_feature_detected!("fma")
            && std::arch::is_x86_feature_detected!("bmi1")
            && std::arch::is_x86_feature_detected!("bmi2")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// Makes every kernel take its baseline copy (`true`) or the best the CPU runs (`false`), so
/// that tests can check both copies on one machine.
pub fn baseline_only(yes: bool) {
    LEVEL.store(if yes { 1 } else { 0 }, Ordering::Relaxed);
}

/// Defines `$name`, which runs `$body` compiled for x86-64-v3 when the CPU has it and for the
/// baseline otherwise. `$body` should call `#[inline(always)]` code, so that all of it is
/// compiled twice.
macro_rules! dispatch {
    ($(#[$doc:meta])* $vis:vis fn $name:ident$(<$($g:ident: $bound:path),*>)?($($arg:ident: $ty:ty),* $(,)?) $(-> $ret:ty)? $body:block) => {
        $(#[$doc])*
        $vis fn $name$(<$($g: $bound),*>)?($($arg: $ty),*) $(-> $ret)? {
            #[inline(always)]
            fn portable$(<$($g: $bound),*>)?($($arg: $ty),*) $(-> $ret)? $body

            #[cfg(target_arch = "x86_64")]
            #[target_feature(enable = "avx2,fma,bmi1,bmi2")]
            fn v3$(<$($g: $bound),*>)?($($arg: $ty),*) $(-> $ret)? {
                portable$(::<$($g),*>)?($($arg),*)
            }

            #[cfg(target_arch = "x86_64")]
            if $crate::simd::has_v3() {
                // SAFETY: `v3` needs nothing but the CPU features just detected.
                #[allow(unsafe_code)]
                unsafe {
                    return v3$(::<$($g),*>)?($($arg),*);
                }
            }
            portable$(::<$($g),*>)?($($arg),*)
        }
    };
}
pub(crate) use dispatch;
