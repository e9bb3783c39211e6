// A ThreadSanitizer suppression for one known false report, linked into the
// tests that share std::shared_ptr<pool_internal::Slot> between a ProcessPool's
// manager thread and the caller.
//
// libstdc++ 12 releases the last reference of a shared_ptr on a fast path: an
// acquire load of both counts as one 64-bit word, then delete without an atomic
// read-modify-write (bits/shared_ptr_base.h, _Sp_counted_base::_M_release).
// TSan does not pair that load with the other thread's 32-bit release
// decrement, so it reports the delete as racing with the last read the other
// thread made before it dropped its reference. The ordering is real (ASan sees
// no use after free); the report is not. The suppression names only the Slot's
// control block, so any other race in the pool is still reported.

extern "C" const char* __tsan_default_suppressions() {
  return "race:std::_Sp_counted_ptr_inplace<multitask::pool_internal::Slot\n";
}
