// An open-addressing hash map from 64-bit keys to small values (linear probing, load <= 1/2),
// for the decoder's per-thread caches: much cheaper to query than std::unordered_map.
#pragma once

#include <algorithm>
#include <cstdint>
#include <utility>
#include <vector>

namespace carousel::decode {

// MurmurHash3's 64-bit finaliser: every key bit reaches the low bits that pick a slot.
inline uint64_t mix64(uint64_t k) {
  k ^= k >> 33;
  k *= 0xFF51AFD7ED558CCDULL;
  k ^= k >> 33;
  k *= 0xC4CEB9FE1A85EC53ULL;
  return k ^ (k >> 33);
}

// The key of a pair of non-negative ids.
inline uint64_t pair_key(int32_t hi, int32_t lo) {
  return (uint64_t(uint32_t(hi)) << 32) | uint32_t(lo);
}

template <typename Value>
class FlatMap {
 public:
  static constexpr uint64_t kEmpty = ~uint64_t{0};  // never a pair_key of non-negative ids

  // The value of key, or nullptr.
  const Value* find(uint64_t k) const {
    if (keys_.empty()) return nullptr;
    for (uint64_t i = mix64(k) & mask_;; i = (i + 1) & mask_) {
      if (keys_[i] == k) return &values_[i];
      if (keys_[i] == kEmpty) return nullptr;
    }
  }

  // The value of key, inserted as `init` if absent; second: whether it was inserted.
  std::pair<Value*, bool> try_emplace(uint64_t k, const Value& init) {
    if (2 * (size_ + 1) > keys_.size()) grow();
    for (uint64_t i = mix64(k) & mask_;; i = (i + 1) & mask_) {
      if (keys_[i] == k) return {&values_[i], false};
      if (keys_[i] == kEmpty) {
        keys_[i] = k;
        values_[i] = init;
        ++size_;
        return {&values_[i], true};
      }
    }
  }

  size_t size() const { return size_; }
  void clear() {
    std::fill(keys_.begin(), keys_.end(), kEmpty);
    size_ = 0;
  }

 private:
  void grow() {
    std::vector<uint64_t> keys(std::max<size_t>(64, keys_.size() * 2), kEmpty);
    std::vector<Value> values(keys.size());
    const uint64_t mask = keys.size() - 1;
    for (size_t j = 0; j < keys_.size(); ++j) {
      if (keys_[j] == kEmpty) continue;
      uint64_t i = mix64(keys_[j]) & mask;
      while (keys[i] != kEmpty) i = (i + 1) & mask;
      keys[i] = keys_[j];
      values[i] = values_[j];
    }
    keys_.swap(keys);
    values_.swap(values);
    mask_ = mask;
  }
  std::vector<uint64_t> keys_;
  std::vector<Value> values_;
  uint64_t mask_ = 0;
  size_t size_ = 0;
};

}  // namespace carousel::decode
