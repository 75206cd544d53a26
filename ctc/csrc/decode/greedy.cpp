#include "greedy.h"

namespace carousel::decode {

std::vector<GreedyResult> greedy_batch(const float* log_probs, int batch, int time, int vocab,
                                       const int64_t* lengths, int blank) {
  std::vector<GreedyResult> out(batch);
  for (int b = 0; b < batch; ++b) {
    GreedyResult& r = out[b];
    int prev = -1;
    double score = 0.0;
    for (int t = 0; t < lengths[b]; ++t) {
      const float* row = log_probs + (static_cast<int64_t>(b) * time + t) * vocab;
      int best = 0;
      for (int v = 1; v < vocab; ++v)
        if (row[v] > row[best]) best = v;
      score += row[best];
      if (best != blank && best != prev) {
        r.tokens.push_back(best);
        r.frames.push_back(t);
      }
      prev = best;
    }
    r.score = static_cast<float>(score);
  }
  return out;
}

}  // namespace carousel::decode
