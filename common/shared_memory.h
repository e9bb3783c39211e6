// shared_memory.h: memory that a parent and the children it forks afterwards
// share.
//
//   MT_ASSIGN_OR_RETURN(SharedObject<std::atomic<int>> running,
//                       SharedObject<std::atomic<int>>::Create(0));
//   // fork: both processes see the same *running, not copies of it
//   running->fetch_add(1);
//
// The mapping is anonymous (mmap MAP_SHARED | MAP_ANONYMOUS): it has no name,
// so nothing is left in /dev/shm if a process crashes, and it is freed when the
// last process that maps it unmaps it or exits. Only processes forked after
// Create() share it.
//
// Put only types that work across processes here: plain data, lock-free
// std::atomic (std::atomic<T>::is_always_lock_free), or process-shared pthread
// objects. A std::mutex or a std::string does not work in shared memory.

#ifndef MULTITASK_COMMON_SHARED_MEMORY_H_
#define MULTITASK_COMMON_SHARED_MEMORY_H_

#include <cstddef>
#include <new>
#include <type_traits>
#include <utility>

#include "absl/status/statusor.h"

namespace multitask {

// An anonymous shared mapping of `size` bytes, zero-filled, unmapped on
// destruction.
class SharedMapping {
 public:
  static absl::StatusOr<SharedMapping> Create(size_t size);

  SharedMapping() = default;
  SharedMapping(SharedMapping&& other) noexcept
      : data_(std::exchange(other.data_, nullptr)),
        size_(std::exchange(other.size_, 0)) {}
  SharedMapping& operator=(SharedMapping&& other) noexcept;
  SharedMapping(const SharedMapping&) = delete;
  SharedMapping& operator=(const SharedMapping&) = delete;
  ~SharedMapping() { Unmap(); }

  void* data() const { return data_; }
  size_t size() const { return size_; }

 private:
  SharedMapping(void* data, size_t size) : data_(data), size_(size) {}
  void Unmap();

  void* data_ = nullptr;
  size_t size_ = 0;
};

// One T constructed in its own shared mapping. ~T never runs (each process
// would run it), so T must be trivially destructible, as what belongs in shared
// memory usually is.
template <typename T>
class SharedObject {
  static_assert(
      std::is_trivially_destructible_v<T>,
      "SharedObject<T> needs a trivially destructible T: destructors would "
      "run once per process");

 public:
  template <typename... Args>
  static absl::StatusOr<SharedObject> Create(Args&&... args) {
    absl::StatusOr<SharedMapping> mapping = SharedMapping::Create(sizeof(T));
    if (!mapping.ok()) return mapping.status();
    T* object = new (mapping->data()) T(std::forward<Args>(args)...);
    return SharedObject(std::move(*mapping), object);
  }

  T* get() const { return object_; }
  T& operator*() const { return *object_; }
  T* operator->() const { return object_; }

 private:
  SharedObject(SharedMapping mapping, T* object)
      : mapping_(std::move(mapping)), object_(object) {}

  SharedMapping mapping_;
  T* object_;
};

}  // namespace multitask

#endif  // MULTITASK_COMMON_SHARED_MEMORY_H_
