// Best-path CTC decoding of a batch: per-frame argmax, repeats merged, blanks dropped.
#pragma once

#include <cstdint>
#include <vector>

namespace carousel::decode {

struct GreedyResult {
  std::vector<int32_t> tokens;
  std::vector<int32_t> frames;  // frame where each token is first emitted
  float score = 0.0f;           // sum of the per-frame maxima
};

// log_probs: (batch, time, vocab) row-major; lengths: (batch,) valid frames.
std::vector<GreedyResult> greedy_batch(const float* log_probs, int batch, int time, int vocab,
                                       const int64_t* lengths, int blank);

}  // namespace carousel::decode
