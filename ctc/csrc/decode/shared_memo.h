// A memo table shared by the threads that decode one batch, behind their private caches: what
// one thread computed (an LM score, a look-ahead) the others find instead of recomputing it.
// Insert-only open addressing (linear probing) without locks: a slot is claimed by a
// compare-and-swap on its key, its value is written, then the key is published with release
// order, so a reader that sees the key sees the value. The capacity is fixed while threads run;
// prepare() grows or empties the table between batches, and inserts stop at half load.
#pragma once

#include <atomic>
#include <cstdint>
#include <cstring>
#include <memory>
#include <utility>

#include "flat_map.h"

namespace carousel::decode {

class SharedMemo {
 public:
  // Single-threaded (no find/insert running): make room for at least `expected` more entries,
  // doubling up to max_slots, or start empty once that size is half full.
  void prepare(size_t expected, size_t max_slots = size_t{1} << 22) {
    const size_t used = size_.load(std::memory_order_relaxed);
    size_t want = capacity_ ? capacity_ : size_t{1} << 16;
    while (want < 2 * (used + expected) && want < max_slots) want *= 2;
    if (want == capacity_ && 2 * (used + expected) <= capacity_) return;
    std::unique_ptr<Slot[]> old = std::move(slots_);
    const size_t old_capacity = capacity_;
    slots_.reset(new Slot[want]);
    capacity_ = want;
    mask_ = want - 1;
    size_.store(0, std::memory_order_relaxed);
    if (2 * (used + expected) > capacity_) return;  // at the cap: start afresh
    for (size_t i = 0; i < old_capacity; ++i) {
      const uint64_t key = old[i].key.load(std::memory_order_relaxed);
      if (key < kBusy) insert(key, old[i].value.load(std::memory_order_relaxed));
    }
  }

  bool find(uint64_t key, uint64_t* value) const {
    if (!capacity_) return false;
    for (size_t i = mix64(key) & mask_, n = 0; n < capacity_; i = (i + 1) & mask_, ++n) {
      const uint64_t k = slots_[i].key.load(std::memory_order_acquire);
      if (k == key) {
        *value = slots_[i].value.load(std::memory_order_relaxed);
        return true;
      }
      if (k == kEmpty) return false;
    }
    return false;
  }

  // Keeps the first value stored for a key; drops the insert when the table is half full.
  void insert(uint64_t key, uint64_t value) {
    if (!capacity_ || 2 * size_.load(std::memory_order_relaxed) >= capacity_) return;
    for (size_t i = mix64(key) & mask_, n = 0; n < capacity_; i = (i + 1) & mask_, ++n) {
      uint64_t k = slots_[i].key.load(std::memory_order_acquire);
      while (k == kEmpty) {
        if (slots_[i].key.compare_exchange_weak(k, kBusy, std::memory_order_acquire)) {
          slots_[i].value.store(value, std::memory_order_relaxed);
          slots_[i].key.store(key, std::memory_order_release);
          size_.fetch_add(1, std::memory_order_relaxed);
          return;
        }
      }
      if (k == key) return;
    }
  }

  // Two 32-bit halves as a value: a float (its bits) and an int.
  static uint64_t pack(float x, int32_t n) {
    uint32_t bits;
    std::memcpy(&bits, &x, sizeof bits);
    return (uint64_t{bits} << 32) | uint32_t(n);
  }
  static std::pair<float, int32_t> unpack(uint64_t v) {
    const uint32_t bits = static_cast<uint32_t>(v >> 32);
    float x;
    std::memcpy(&x, &bits, sizeof x);
    return {x, static_cast<int32_t>(static_cast<uint32_t>(v))};
  }

 private:
  static constexpr uint64_t kEmpty = ~uint64_t{0}, kBusy = ~uint64_t{0} - 1;
  struct Slot {
    std::atomic<uint64_t> key{kEmpty};
    std::atomic<uint64_t> value{0};
  };
  std::unique_ptr<Slot[]> slots_;
  size_t capacity_ = 0, mask_ = 0;
  std::atomic<size_t> size_{0};
};

}  // namespace carousel::decode
