#include "common/shared_memory.h"

#include <sys/mman.h>

#include "common/syscall.h"

namespace multitask {

absl::StatusOr<SharedMapping> SharedMapping::Create(size_t size) {
  if (size == 0) return absl::InvalidArgumentError("shared mapping of 0 bytes");
  void* data = ::mmap(nullptr, size, PROT_READ | PROT_WRITE,
                      MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (data == MAP_FAILED) return ErrnoStatus("mmap shared ", size, " bytes");
  return SharedMapping(data, size);
}

SharedMapping& SharedMapping::operator=(SharedMapping&& other) noexcept {
  if (this != &other) {
    Unmap();
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
  }
  return *this;
}

void SharedMapping::Unmap() {
  if (data_ != nullptr) ::munmap(std::exchange(data_, nullptr), size_);
}

}  // namespace multitask
