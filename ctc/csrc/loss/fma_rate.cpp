// Peak rate of double-precision fused multiply-adds this build can issue, for benchmarks that
// report the CTC loss's share of the arithmetic limit: the kernel's vector width (four doubles,
// -march=x86-64-v3) and twelve independent accumulation chains per thread, enough to cover the
// FMA latency on current x86 cores.
#include <omp.h>

#include <chrono>
#include <cstdint>
#include <cstring>

#include "fma_rate.h"

namespace carousel::ctc {
namespace {

using v4d = double __attribute__((vector_size(32)));
constexpr int kChains = 12;  // fma_chains' independent accumulators

// `steps` rounds of kChains FMAs on four doubles; returns a value that depends on all of them.
double fma_chains(int64_t steps) {
  const v4d a = {0.999999, 0.999999, 0.999999, 0.999999};
  const v4d b = {1e-6, 1e-6, 1e-6, 1e-6};
  v4d c0 = b, c1 = b, c2 = b, c3 = b, c4 = b, c5 = b, c6 = b, c7 = b, c8 = b, c9 = b, c10 = b,
      c11 = b;
  for (int64_t k = 0; k < steps; ++k) {
    c0 = c0 * a + b, c1 = c1 * a + b, c2 = c2 * a + b, c3 = c3 * a + b;
    c4 = c4 * a + b, c5 = c5 * a + b, c6 = c6 * a + b, c7 = c7 * a + b;
    c8 = c8 * a + b, c9 = c9 * a + b, c10 = c10 * a + b, c11 = c11 * a + b;
    // each chain stays in a register, and no FMA can be hoisted out of the loop
    asm volatile("" : "+x"(c0), "+x"(c1), "+x"(c2), "+x"(c3), "+x"(c4), "+x"(c5), "+x"(c6),
                 "+x"(c7), "+x"(c8), "+x"(c9), "+x"(c10), "+x"(c11));
  }
  const v4d sum = ((c0 + c1) + (c2 + c3)) + ((c4 + c5) + (c6 + c7)) + ((c8 + c9) + (c10 + c11));
  return sum[0] + sum[1] + sum[2] + sum[3];
}

}  // namespace

double fma_rate(int threads, double seconds) {
  threads = threads > 0 ? threads : 1;
  // calibrate on one thread, then time all threads together on the same number of steps
  int64_t steps = 1 << 16;
  double elapsed = 0.0;
  for (;;) {
    const auto start = std::chrono::steady_clock::now();
    volatile double sink = fma_chains(steps);
    static_cast<void>(sink);
    elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (elapsed >= seconds / 8 || steps > (int64_t{1} << 40)) break;
    steps *= 2;
  }
  steps = static_cast<int64_t>(static_cast<double>(steps) * seconds / elapsed) + 1;
  double sink = 0.0;
  const auto start = std::chrono::steady_clock::now();
#pragma omp parallel num_threads(threads) reduction(+ : sink)
  sink += fma_chains(steps);
  elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  volatile double keep = sink;
  static_cast<void>(keep);
  return static_cast<double>(threads) * static_cast<double>(steps) * kChains * 4 / elapsed;
}

}  // namespace carousel::ctc
