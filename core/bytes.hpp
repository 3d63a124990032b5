#pragma once
// Byte buffers that a read fills: allocated without zero-filling.

#include <memory>
#include <new>
#include <utility>
#include <vector>

namespace faultline {

// An allocator that leaves new elements uninitialized: a read buffer is
// written by the read, so zero-filling it first would be wasted work.
template <class T>
struct UninitializedAllocator : std::allocator<T> {
  template <class U>
  struct rebind {
    using other = UninitializedAllocator<U>;
  };
  UninitializedAllocator() = default;
  template <class U>
  UninitializedAllocator(const UninitializedAllocator<U>&) noexcept {}
  template <class U>
  void construct(U* p) noexcept {
    ::new (static_cast<void*>(p)) U;
  }
  template <class U, class... Args>
  void construct(U* p, Args&&... args) {
    ::new (static_cast<void*>(p)) U(std::forward<Args>(args)...);
  }
};

using Bytes = std::vector<char, UninitializedAllocator<char>>;

}  // namespace faultline
