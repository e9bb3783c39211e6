// ipc_shared.h: a value or an array in memory shared by processes created by
// fork, optionally guarded by a process-shared lock (Python's
// multiprocessing.Value and Array).
//
//   MT_ASSIGN_OR_RETURN(auto counter, ipc::SharedValue<int>::Create(0));
//   // ... fork; in each child:
//   counter.Update([](int n) { return n + 1; });     // read-modify-write,
//   locked
//   // ... after the children: counter.Load() is exact
//
// Locking::kLocked (the default, like Python's lock=True) puts a robust
// process-shared mutex next to the data, and Load, Store, Update and WithLock
// take it. Locking::kUnlocked has no lock: each Load and Store is one memory
// access (a relaxed atomic for numbers), and Update(f) is Load, f, Store with
// nothing stopping another process in between: two processes can both load 5
// and both store 6. The queue_ipc lesson forces exactly that interleaving to
// show the lost update.
//
// T must be trivially copyable (a number, a struct of numbers): a pointer or a
// std::string would point into one process's private memory. Create before
// fork; the mapping is anonymous (nothing left in /dev/shm) and each process
// unmaps its view when its handle is destroyed. Handles are move-only.
// An index out of range aborts (it is a bug, like Python's IndexError).
// If a process dies inside Update while holding the lock, the next locker
// proceeds; the element holds whatever the dead process last stored (an
// aligned 1, 2, 4 or 8-byte T is never torn).

#ifndef MULTITASK_COMMON_IPC_SHARED_H_
#define MULTITASK_COMMON_IPC_SHARED_H_

#include <atomic>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <initializer_list>
#include <new>
#include <type_traits>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "common/ipc_robust_mutex.h"
#include "common/shared_memory.h"

namespace multitask::ipc {

enum class Locking { kLocked, kUnlocked };

template <typename T>
class SharedArray {
  static_assert(std::is_trivially_copyable_v<T> &&
                    std::is_trivially_destructible_v<T>,
                "SharedArray<T> needs a plain T: a pointer would point into "
                "one process's private memory");

 public:
  static absl::StatusOr<SharedArray> Create(
      size_t size, T initial = T{}, Locking locking = Locking::kLocked) {
    absl::StatusOr<SharedArray> array = Allocate(size, locking);
    if (!array.ok()) return array.status();
    for (size_t i = 0; i < size; ++i) array->data_[i] = initial;
    return array;
  }
  static absl::StatusOr<SharedArray> Create(
      std::initializer_list<T> values, Locking locking = Locking::kLocked) {
    absl::StatusOr<SharedArray> array = Allocate(values.size(), locking);
    if (!array.ok()) return array.status();
    size_t i = 0;
    for (const T& value : values) array->data_[i++] = value;
    return array;
  }

  size_t size() const { return size_; }
  bool locked() const { return mutex_ != nullptr; }

  T Get(size_t i) const {
    Guard guard(this);
    return LoadAt(Checked(i));
  }
  void Set(size_t i, T value) {
    Guard guard(this);
    StoreAt(Checked(i), value);
  }
  // data[i] = f(data[i]), under the lock if there is one; returns the new
  // value.
  template <typename F>
  T Update(size_t i, F f) {
    Guard guard(this);
    const T updated = f(LoadAt(Checked(i)));
    StoreAt(i, updated);
    return updated;
  }
  // Calls f(absl::Span<T>) with the lock held, for several elements at once.
  template <typename F>
  auto WithLock(F f) {
    Guard guard(this);
    return f(absl::MakeSpan(data_, size_));
  }
  std::vector<T> Snapshot() const {
    Guard guard(this);
    return std::vector<T>(data_, data_ + size_);
  }
  // No lock at all: for the lesson's race demonstrations, or when the caller
  // orders accesses some other way.
  T* unsafe_data() const { return data_; }

 private:
  class Guard {
   public:
    explicit Guard(const SharedArray* array) : mutex_(array->mutex_) {
      if (mutex_ != nullptr) (void)mutex_->Lock();
    }
    ~Guard() {
      if (mutex_ != nullptr) mutex_->Unlock();
    }
    Guard(const Guard&) = delete;
    Guard& operator=(const Guard&) = delete;

   private:
    RobustMutex* mutex_;
  };

  static constexpr size_t kDataOffset =
      (sizeof(RobustMutex) + alignof(std::max_align_t) - 1) /
      alignof(std::max_align_t) * alignof(std::max_align_t);
  static_assert(alignof(T) <= alignof(std::max_align_t));

  static absl::StatusOr<SharedArray> Allocate(size_t size, Locking locking) {
    absl::StatusOr<SharedMapping> mapping =
        SharedMapping::Create(kDataOffset + (size == 0 ? 1 : size) * sizeof(T));
    if (!mapping.ok()) return mapping.status();
    char* base = static_cast<char*>(mapping->data());
    RobustMutex* mutex =
        locking == Locking::kLocked ? new (base) RobustMutex() : nullptr;
    T* data = reinterpret_cast<T*>(base + kDataOffset);
    return SharedArray(*std::move(mapping), mutex, data, size);
  }

  SharedArray(SharedMapping mapping, RobustMutex* mutex, T* data, size_t size)
      : mapping_(std::move(mapping)), mutex_(mutex), data_(data), size_(size) {}

  // A number is loaded and stored as a relaxed atomic: one real memory access
  // each time (the compiler may not merge a loop of unlocked Updates into one
  // addition), and no undefined behaviour when unlocked accesses race. The
  // race between the load and the store stays: that is the lesson.
  T LoadAt(size_t i) const {
    if constexpr (std::is_arithmetic_v<T>) {
      return std::atomic_ref<T>(data_[i]).load(std::memory_order_relaxed);
    } else {
      return data_[i];
    }
  }
  void StoreAt(size_t i, T value) const {
    if constexpr (std::is_arithmetic_v<T>) {
      std::atomic_ref<T>(data_[i]).store(value, std::memory_order_relaxed);
    } else {
      data_[i] = value;
    }
  }

  size_t Checked(size_t i) const {
    if (i >= size_) {
      std::fprintf(stderr, "SharedArray: index %zu out of range (size %zu)\n",
                   i, size_);
      std::abort();
    }
    return i;
  }

  SharedMapping mapping_;
  RobustMutex* mutex_;
  T* data_;
  size_t size_;
};

template <typename T>
class SharedValue {
 public:
  static absl::StatusOr<SharedValue> Create(
      T initial = T{}, Locking locking = Locking::kLocked) {
    absl::StatusOr<SharedArray<T>> array =
        SharedArray<T>::Create(1, initial, locking);
    if (!array.ok()) return array.status();
    return SharedValue(*std::move(array));
  }

  T Load() const { return array_.Get(0); }
  void Store(T value) { array_.Set(0, value); }
  template <typename F>
  T Update(F f) {
    return array_.Update(0, std::move(f));
  }
  // Calls f(T&) with the lock held.
  template <typename F>
  auto WithLock(F f) {
    return array_.WithLock([&](absl::Span<T> data) { return f(data[0]); });
  }
  bool locked() const { return array_.locked(); }
  T* unsafe_pointer() const { return array_.unsafe_data(); }

 private:
  explicit SharedValue(SharedArray<T> array) : array_(std::move(array)) {}
  SharedArray<T> array_;
};

}  // namespace multitask::ipc

#endif  // MULTITASK_COMMON_IPC_SHARED_H_
