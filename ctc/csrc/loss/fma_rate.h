// Measured peak rate of double-precision fused multiply-adds (see fma_rate.cpp).
#pragma once

namespace carousel::ctc {

// Double-precision FMAs per second issued by `threads` threads together, each running
// independent FMA chains on four-double vectors for about `seconds`.
double fma_rate(int threads, double seconds);

}  // namespace carousel::ctc
