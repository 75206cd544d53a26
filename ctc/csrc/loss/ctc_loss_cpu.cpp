// CPU CTC loss: utterances in parallel (OpenMP, dynamic schedule, largest first), one utterance
// per thread at a time. Per utterance and frame, in one forward pass over the input: the dense
// part of the gradient row (softmax for logits, zeros for log-probs), the scaled emission of each
// distinct class of the target, and alpha. Alpha is kept at one checkpoint per segment; the
// backward pass recomputes each segment from its checkpoint (in cache), then sweeps beta over it
// in one rolling row, writing the label columns of each gradient row. Every gradient element is
// written by this kernel (padding frames included), so the output needs no zero fill. States
// outside the reachable window are skipped. Block-scaled double numerics first, exact log space
// when they detect underflow (see ctc_loss.h).
#include <immintrin.h>
#include <omp.h>

#include <bit>
#include <cstring>
#include <numeric>
#include <type_traits>
#include <vector>

#include "ctc_loss.h"

namespace carousel::ctc {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kLn2 = 0.69314718055994530942;
// Which numerics an utterance ended with (reported per utterance for tests and benchmarks).
constexpr uint8_t kTierScaled = 0;  // block-scaled double
constexpr uint8_t kTierLog = 1;     // exact log space

template <typename T>
T* carve(void* base, size_t offset) {
  return reinterpret_cast<T*>(static_cast<char*>(base) + offset);
}

// Four doubles in one AVX register (GCC/Clang vector extension): the recursions below are
// written with it because GCC 12 neither vectorised them with `omp simd reductions` (it kept
// the accumulator on the stack) nor with plain unrolling. Fixed order: reproducible results.
using v4d = double __attribute__((vector_size(32)));
inline v4d load4(const double* p) {
  v4d v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
inline void store4(double* p, v4d v) { std::memcpy(p, &v, sizeof v); }
inline v4d splat4(double x) { return v4d{x, x, x, x}; }
inline double hsum(v4d v) { return (v[0] + v[1]) + (v[2] + v[3]); }
inline v4d vmax(v4d a, v4d b) { return a > b ? a : b; }
inline double hmax(v4d v) { return std::max(std::max(v[0], v[1]), std::max(v[2], v[3])); }

// exp of four doubles: 2^n e^r with n = round(x / ln 2), |r| <= ln(2) / 2 (Cody-Waite
// reduction with fdlibm's split of ln 2), e^r by its Taylor series to degree 12 (error below
// 2e-16 relative). x < -708 gives 0 (exp(-inf) = 0); x is assumed <= 709.
using v4l = long long __attribute__((vector_size(32)));
inline v4d exp4(v4d x) {
  const v4d lo = splat4(-708.0), hi = splat4(709.0), shifter = splat4(0x1.8p52);
  v4d xc = x < lo ? lo : x;
  xc = xc > hi ? hi : xc;
  const v4d t = xc * splat4(1.4426950408889634) + shifter;
  const v4d n = t - shifter;
  const v4d r = (xc - n * splat4(6.93147180369123816490e-01)) -
                n * splat4(1.90821492927058770002e-10);
  constexpr double kInvFact[13] = {1.0,          1.0,           1.0 / 2,
                                   1.0 / 6,      1.0 / 24,      1.0 / 120,
                                   1.0 / 720,    1.0 / 5040,    1.0 / 40320,
                                   1.0 / 362880, 1.0 / 3628800, 1.0 / 39916800,
                                   1.0 / 479001600};
  v4d poly = splat4(kInvFact[12]);
  for (int k = 11; k >= 0; --k) poly = poly * r + splat4(kInvFact[k]);
  v4l bits, shift_bits;
  std::memcpy(&bits, &t, sizeof bits);
  std::memcpy(&shift_bits, &shifter, sizeof shift_bits);
  const v4l scale_bits = ((bits - shift_bits) + 1023) << 52;  // 2^n
  v4d scale;
  std::memcpy(&scale, &scale_bits, sizeof scale);
  const v4d result = poly * scale;
  return x < lo ? splat4(0.0) : result;
}

// exp of eight floats (float inputs of the fused softmax): same reduction as exp4, Taylor to
// degree 7 (error about 1 ulp). x < -87 gives 0; x is assumed <= 88.
using v8f = float __attribute__((vector_size(32)));
using v8i = int __attribute__((vector_size(32)));
inline v8f splat8(float x) { return v8f{x, x, x, x, x, x, x, x}; }
inline v8f exp8f(v8f x) {
  const v8f lo = splat8(-87.0f), hi = splat8(88.0f), shifter = splat8(0x1.8p23f);
  v8f xc = x < lo ? lo : x;
  xc = xc > hi ? hi : xc;
  const v8f t = xc * splat8(1.44269504f) + shifter;
  const v8f n = t - shifter;
  const v8f r = (xc - n * splat8(0.693359375f)) - n * splat8(-2.12194440e-4f);
  constexpr float kInvFact[8] = {1.0f,        1.0f,         1.0f / 2,   1.0f / 6,
                                 1.0f / 24,   1.0f / 120,   1.0f / 720, 1.0f / 5040};
  v8f poly = splat8(kInvFact[7]);
  for (int k = 6; k >= 0; --k) poly = poly * r + splat8(kInvFact[k]);
  v8i bits, shift_bits;
  std::memcpy(&bits, &t, sizeof bits);
  std::memcpy(&shift_bits, &shifter, sizeof shift_bits);
  const v8i scale_bits = ((bits - shift_bits) + 127) << 23;  // 2^n
  v8f scale;
  std::memcpy(&scale, &scale_bits, sizeof scale);
  const v8f result = poly * scale;
  return x < lo ? splat8(0.0f) : result;
}

inline v8f load8f(const float* p) {
  v8f v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

inline void store8f(float* p, v8f v) { std::memcpy(p, &v, sizeof v); }
inline float hmax8f(v8f v) {
  float m = v[0];
  for (int i = 1; i < 8; ++i) m = std::max(m, v[i]);
  return m;
}

// A hint to load the cache line of p. Inline assembly: GCC 12 deletes loops that hold nothing
// but __builtin_prefetch (it does not count the hint as a side effect).
inline void prefetch(const void* p) { asm volatile("prefetcht0 %0" : : "m"(*static_cast<const char*>(p))); }

// Lanes of the vector of states s..s+3 that lie in [lo, hi] keep x; the others become +0.0
// (a bitwise select, so NaN read from outside the window cannot leak in).
inline v4d keep_window(v4d x, int64_t s, int64_t lo, int64_t hi) {
  const v4l index = v4l{s, s + 1, s + 2, s + 3};
  const v4l keep = (index >= v4l{lo, lo, lo, lo}) & (index <= v4l{hi, hi, hi, hi});
  v4l bits;
  std::memcpy(&bits, &x, sizeof bits);
  bits &= keep;
  std::memcpy(&x, &bits, sizeof x);
  return x;
}

// 2^e for e <= 0, exactly (subnormal results included); 0 below the double range.
inline double pow2_nonpositive(int32_t e) {
  if (e >= -1022) return std::bit_cast<double>(static_cast<uint64_t>(e + 1023) << 52);
  if (e >= -1074) return std::bit_cast<double>(uint64_t{1} << (e + 1074));
  return 0.0;
}

// Block floating point for alpha and beta: a row of states is cut into blocks of 32, each with
// one power-of-two exponent per frame; a block's mantissas are rescaled (lazily) when its
// largest value leaves [2^-128, 2^128]. The exponent range is limited only by int32, so long
// inputs whose past and future disagree strongly keep the states that matter. In exact
// arithmetic log(sum_s alpha_t(s) beta_t(s)) is the log likelihood at every frame; a frame where
// it is not (beyond rounding) lost mass within a block to underflow, and the caller falls back.
constexpr int kShift = 5;                 // 32 states per block
constexpr int64_t kVectorsPerBlock = 8;   // of four doubles
constexpr int32_t kNone = std::numeric_limits<int32_t>::min() / 4;  // all-zero block
constexpr int64_t kPad = 4;               // doubles before state 0 of a row (make_layout)
constexpr int64_t kAhead = 6;             // frames between a prefetch and the use of its lines
// Gradients larger than this (bytes) bypass the caches: they cannot stay there until used.
constexpr int64_t kStreamBytes = int64_t{16} << 20;

// Exponent of the block whose vectors j0..j1 of m have largest value mx, relative to `base`:
// kNone when the block is zero; otherwise its mantissas are rescaled when mx left
// [2^-128, 2^128] (so that alpha beta products stay far inside the double range).
inline int32_t renormalise(double* m, int64_t j0, int64_t j1, int32_t base, double mx) {
  if (!(mx > 0.0)) return kNone;
  if (mx >= 0x1p-128 && mx <= 0x1p128) return base;
  const int biased = static_cast<int>(std::bit_cast<uint64_t>(mx) >> 52) & 0x7ff;
  int ex;  // mx = f 2^ex with f in [0.5, 1), as frexp
  double scale;
  if (biased > 64 && biased < 1984) {
    ex = biased - 1022;
    scale = std::bit_cast<double>(static_cast<uint64_t>(1023 - ex) << 52);
  } else {  // mx near the ends of the double range
    std::frexp(mx, &ex);
    scale = std::ldexp(1.0, -ex);
  }
  const v4d f = splat4(scale);
  for (int64_t j = j0; j <= j1; ++j) store4(m + 4 * j, load4(m + 4 * j) * f);
  return base + ex;
}

template <typename scalar_t, typename index_t>
class Utterance {
 public:
  Utterance(const Problem& p, const Layout& l, void* slot_memory)
      : p_(p), row_(l.row), segment_(l.segment), blocks_(l.blocks),
        class_width_(l.class_width),
        emit_(carve<double>(slot_memory, l.emit)),
        alpha_(carve<double>(slot_memory, l.alpha)),
        alpha_exp_(carve<int32_t>(slot_memory, l.alpha_exp)),
        checkpoint_(carve<double>(slot_memory, l.checkpoint)),
        checkpoint_exp_(carve<int32_t>(slot_memory, l.checkpoint_exp)),
        values_(carve<double>(slot_memory, l.values)),
        beta_(carve<double>(slot_memory, l.beta) + kPad),
        temp_(carve<double>(slot_memory, l.temp) + kPad),
        occ_(carve<double>(slot_memory, l.occ) + kPad),
        skip_(carve<double>(slot_memory, l.skip) + kPad),
        beta_exp_(carve<int32_t>(slot_memory, l.beta_exp) + 1),
        temp_exp_(carve<int32_t>(slot_memory, l.beta_exp) + l.blocks + 1),
        norm_(carve<double>(slot_memory, l.norm)),
        scale_(carve<double>(slot_memory, l.scale)),
        acc_(carve<double>(slot_memory, l.acc)),
        classes_(carve<int64_t>(slot_memory, l.classes)),
        state_class_(carve<int32_t>(slot_memory, l.state_class)),
        class_states_(carve<int32_t>(slot_memory, l.class_states)),
        class_start_(carve<int32_t>(slot_memory, l.class_start)),
        slot_(carve<int32_t>(slot_memory, l.slot)),
        scratch_(carve<scalar_t>(slot_memory, l.scratch)),
        stream_(p.batch * p.max_time * p.num_classes * static_cast<int64_t>(sizeof(scalar_t)) >
                kStreamBytes) {
    std::fill_n(slot_, p.num_classes, -1);
  }

  // Loss of utterance n; writes its gradient rows (all max_time of them) when grad != nullptr.
  double run(int64_t n, const scalar_t* inputs, const index_t* targets, int64_t target_offset,
             int64_t frames, int64_t target_len, double weight, scalar_t* grad, uint8_t* tier) {
    in_ = inputs + n * p_.in_stride_batch;
    grad_ = grad ? grad + n * p_.grad_stride_batch : nullptr;
    frames_ = frames;
    states_ = 2 * target_len + 1;
    weight_ = weight;
    dense_frames_ = 0;
    *tier = kTierScaled;
    if (grad_) {
      for (int64_t t = frames; t < p_.max_time; ++t) zero_row(t);
    }
    const int64_t repeats = set_labels(targets + target_offset, target_len);
    double cost = kInf;
    if (frames == 0) {
      cost = target_len == 0 ? 0.0 : kInf;
    } else if (frames >= target_len + repeats) {  // else infeasible: too few frames
      const bool scaled_ok = p_.numerics == Numerics::kAuto && sweep<true>(cost);
      if (!scaled_ok) {
        *tier = kTierLog;
        sweep<false>(cost);
      }
    }
    if (!(cost < kInf)) {  // inf or NaN: infeasible, or a score the loss reads is NaN
      const bool nan_in = reads_nan();
      cost = nan_in ? std::numeric_limits<double>::quiet_NaN() : kInf;
      if (grad_) {
        const scalar_t fill = nan_in ? std::numeric_limits<scalar_t>::quiet_NaN() : scalar_t(0);
        for (int64_t t = 0; t < frames; ++t) std::fill_n(frame_grad(t), p_.num_classes, fill);
      }
    }
    for (int64_t u = 0; u < num_classes_; ++u) slot_[classes_[u]] = -1;
    if (stream_) _mm_sfence();  // streaming stores are weakly ordered: drain them
    return cost;
  }

 private:
  const scalar_t* frame_in(int64_t t) const { return in_ + t * p_.in_stride_time; }
  scalar_t* frame_grad(int64_t t) const { return grad_ + t * p_.grad_stride_time; }
  void zero_row(int64_t t) const {
    std::memset(frame_grad(t), 0, p_.num_classes * sizeof(scalar_t));
  }
  // Rows of the segment buffer (slot r holds frame t0 + r), of checkpoints, of class values.
  double* alpha_row(int64_t r) const { return alpha_ + r * row_ + kPad; }
  int32_t* alpha_exp(int64_t r) const { return alpha_exp_ + r * blocks_ + 1; }
  double* emit_row(int64_t r) const { return emit_ + r * row_ + kPad; }
  double* values(int64_t t) const { return values_ + t * class_width_; }
  int64_t lo(int64_t t) const { return window_lo(states_, frames_, t); }
  int64_t hi(int64_t t) const { return window_hi(states_, t); }

  // Whether a score this utterance's loss reads is NaN: every class of its frames for logits
  // (the normaliser reads them all), else its label classes. Only asked of a non-finite cost, so
  // a finite loss pays nothing for it.
  bool reads_nan() const {
    for (int64_t t = 0; t < frames_; ++t) {
      const scalar_t* x = frame_in(t);
      if (p_.logits) {
        for (int64_t c = 0; c < p_.num_classes; ++c) {
          if (x[c] != x[c]) return true;
        }
      } else {
        for (int64_t u = 0; u < num_classes_; ++u) {
          if (x[classes_[u]] != x[classes_[u]]) return true;
        }
      }
    }
    return false;
  }

  // Distinct classes (blank first), state -> class index (blank beyond the last state), skip
  // mask; returns the number of adjacent repeats.
  int64_t set_labels(const index_t* target, int64_t len) {
    num_classes_ = 0;
    auto class_of = [this](int64_t k) {
      if (slot_[k] < 0) {
        slot_[k] = static_cast<int32_t>(num_classes_);
        classes_[num_classes_++] = k;
      }
      return slot_[k];
    };
    class_of(p_.blank);
    int64_t repeats = 0;
    std::fill_n(skip_ - kPad, row_, 0.0);
    std::fill_n(state_class_, row_, 0);
    for (int64_t i = 0; i < len; ++i) {
      const int64_t k = static_cast<int64_t>(target[i]);
      state_class_[2 * i + 1] = class_of(k);
      const bool repeat = i > 0 && static_cast<int64_t>(target[i - 1]) == k;
      repeats += repeat;
      skip_[2 * i + 1] = (i > 0 && !repeat) ? 1.0 : 0.0;
    }
    // label states grouped by class (CSR): class u >= 1 owns class_states_[class_start_[u]..)
    std::fill_n(class_start_, num_classes_ + 1, 0);
    for (int64_t i = 0; i < len; ++i) ++class_start_[state_class_[2 * i + 1] + 1];
    for (int64_t u = 0; u < num_classes_; ++u) class_start_[u + 1] += class_start_[u];
    for (int64_t i = 0; i < len; ++i) {
      class_states_[class_start_[state_class_[2 * i + 1]]++] = static_cast<int32_t>(2 * i + 1);
    }
    for (int64_t u = num_classes_; u > 0; --u) class_start_[u] = class_start_[u - 1];
    class_start_[0] = 0;
    return repeats;
  }

  // ------------------------------------------------------------------ dense part of a frame
  // Log normaliser of frame t (logsumexp over classes for logits, else 0). The first call for
  // a frame also writes the dense part of its gradient row: w softmax(x_t) for logits, zeros
  // for log-probs (the label columns are overwritten in the backward pass). Frames in order.
  double dense_frame(int64_t t) {
    if (t < dense_frames_) return norm_[t];
    scalar_t* g = grad_ ? frame_grad(t) : nullptr;
    double log_norm = 0.0;
    if (p_.logits) {
      log_norm = softmax_row(frame_in(t), g, t + 1 < frames_ ? frame_in(t + 1) : nullptr);
    } else if (g) {
      write_scaled_row(g, nullptr, 0.0);
    }
    norm_[t] = log_norm;
    dense_frames_ = t + 1;
    return log_norm;
  }

  // logsumexp of x[0..C); when g != nullptr also g = w softmax(x). Three passes over the row:
  // the first (the maximum) brings it into the L1 cache and prefetches the next frame's row,
  // the second computes the exponentials into a scratch row in L1, the third writes the scaled
  // row to g; the input is read from memory once, each exponential is computed once, and a
  // large output is written with streaming stores (no read for ownership of its lines).
  double softmax_row(const scalar_t* x, scalar_t* g, const scalar_t* next) const {
    const int64_t C = p_.num_classes;
    int64_t c = 0;
    double m = -kInf;
    if constexpr (std::is_same_v<scalar_t, float>) {
      v8f top0 = splat8(-std::numeric_limits<float>::infinity()), top1 = top0;
      for (; c + 15 < C; c += 16) {  // one cache line, and the same line of the next frame
        if (next) prefetch(next + c);
        const v8f v0 = load8f(x + c), v1 = load8f(x + c + 8);
        top0 = v0 > top0 ? v0 : top0;
        top1 = v1 > top1 ? v1 : top1;
      }
      top0 = top1 > top0 ? top1 : top0;
      m = hmax8f(top0);
    } else {
      v4d top0 = splat4(-kInf), top1 = top0;
      for (; c + 7 < C; c += 8) {
        if (next) prefetch(next + c);
        top0 = vmax(top0, load4(x + c));
        top1 = vmax(top1, load4(x + c + 4));
      }
      m = hmax(vmax(top0, top1));
    }
    if (next && c < C) prefetch(next + c);
    for (; c < C; ++c) m = std::max(m, static_cast<double>(x[c]));
    if (!(m > -kInf)) {  // all -inf (or NaN): no finite normaliser, and the loss is not finite
      if (g) std::fill_n(g, C, scalar_t(0));
      return m;
    }
    scalar_t* y = scratch_;
    v4d acc = splat4(0.0);
    c = 0;
    if constexpr (std::is_same_v<scalar_t, float>) {
      const v8f mf = splat8(static_cast<float>(m));
      for (; c + 15 < C; c += 16) {  // exponentials in float, pairs summed in float, then double
        const v8f y0 = exp8f(load8f(x + c) - mf), y1 = exp8f(load8f(x + c + 8) - mf);
        store8f(y + c, y0);
        store8f(y + c + 8, y1);
        const v8f pair = y0 + y1;
        acc += __builtin_convertvector(__builtin_shufflevector(pair, pair, 0, 1, 2, 3), v4d) +
               __builtin_convertvector(__builtin_shufflevector(pair, pair, 4, 5, 6, 7), v4d);
      }
      if (c + 7 < C) {
        const v8f e = exp8f(load8f(x + c) - mf);
        store8f(y + c, e);
        acc += __builtin_convertvector(__builtin_shufflevector(e, e, 0, 1, 2, 3), v4d) +
               __builtin_convertvector(__builtin_shufflevector(e, e, 4, 5, 6, 7), v4d);
        c += 8;
      }
    } else {
      for (; c + 3 < C; c += 4) {
        const v4d e = exp4(load4(x + c) - splat4(m));
        store4(y + c, e);
        acc += e;
      }
    }
    double sum = hsum(acc);
    for (; c < C; ++c) {
      y[c] = static_cast<scalar_t>(std::exp(static_cast<double>(x[c]) - m));
      sum += static_cast<double>(y[c]);
    }
    if (g) write_scaled_row(g, y, weight_ / sum);
    return m + std::log(sum);
  }

  // g[c] = f y[c] (y = nullptr: zeros), with streaming stores when the gradient is too large
  // to stay in the caches until it is used.
  void write_scaled_row(scalar_t* g, const scalar_t* y, double f) const {
    const int64_t C = p_.num_classes;
    int64_t c = 0;
    if (stream_) {
      for (; c < C && (reinterpret_cast<uintptr_t>(g + c) & 31) != 0; ++c) {
        g[c] = y ? static_cast<scalar_t>(y[c] * f) : scalar_t(0);
      }
      if constexpr (std::is_same_v<scalar_t, float>) {
        const __m256 ff = _mm256_set1_ps(static_cast<float>(f));
        for (; c + 7 < C; c += 8) {
          _mm256_stream_ps(g + c, y ? _mm256_mul_ps(_mm256_loadu_ps(y + c), ff)
                                    : _mm256_setzero_ps());
        }
      } else {
        const __m256d ff = _mm256_set1_pd(f);
        for (; c + 3 < C; c += 4) {
          _mm256_stream_pd(g + c, y ? _mm256_mul_pd(_mm256_loadu_pd(y + c), ff)
                                    : _mm256_setzero_pd());
        }
      }
    } else if (y) {
      if constexpr (std::is_same_v<scalar_t, float>) {
        const v8f ff = splat8(static_cast<float>(f));
        for (; c + 7 < C; c += 8) store8f(g + c, load8f(y + c) * ff);
      } else {
        for (; c + 3 < C; c += 4) store4(g + c, load4(y + c) * splat4(f));
      }
    } else {
      std::memset(g, 0, C * sizeof(scalar_t));
      return;
    }
    for (; c < C; ++c) g[c] = y ? static_cast<scalar_t>(y[c] * f) : scalar_t(0);
  }

  // Occupancy numerator of each distinct class from occ (zero outside the window: the scaled
  // path keeps it so) and the blank states' sum, summed class by class.
  void class_occupancy(const double* occ, double blank_sum) {
    acc_[0] = blank_sum;
    for (int64_t u = 1; u < num_classes_; ++u) {
      double sum0 = 0.0, sum1 = 0.0;
      int32_t i = class_start_[u];
      const int32_t end = class_start_[u + 1];
      for (; i + 1 < end; i += 2) {
        sum0 += occ[class_states_[i]];
        sum1 += occ[class_states_[i + 1]];
      }
      if (i < end) sum0 += occ[class_states_[i]];
      acc_[u] = sum0 + sum1;
    }
  }

  // Gradient of frame t's label columns (and blank) from the class occupancy numerators in acc_
  // scaled by inv_z.
  void write_label_grad(int64_t t, double inv_z, bool scaled) {
    scalar_t* g = frame_grad(t);
    const double w = weight_;
    if (p_.logits) {
      const double* v = values(t);
      const scalar_t* x = frame_in(t);
      for (int64_t u = 0; u < num_classes_; ++u) {
        const int64_t c = classes_[u];
        const double softmax = scaled ? v[u] * scale_[t]
                                      : std::exp(static_cast<double>(x[c]) - norm_[t]);
        g[c] = static_cast<scalar_t>(w * (softmax - acc_[u] * inv_z));
      }
    } else {
      for (int64_t u = 0; u < num_classes_; ++u) {
        g[classes_[u]] = static_cast<scalar_t>(-w * (acc_[u] * inv_z));
      }
    }
  }

  // ------------------------------------------------------------------ driver
  // Forward over all frames (alpha kept at checkpoints), then backward segment by segment:
  // recompute the segment's alpha from its checkpoint, sweep beta over it. kScaled: block
  // floating point, false when it detects underflow; else exact log space (always true).
  template <bool kScaled>
  bool sweep(double& cost) {
    const int64_t T = frames_, K = segment_;
    const int64_t segments = (T + K - 1) / K;
    double log_offset = 0.0;
    for (int64_t t = 0, r = 0; t < T; ++t, r = r + 1 == K ? 0 : r + 1) {
      const int64_t previous = r == 0 ? K - 1 : r - 1;
      if constexpr (kScaled) {
        double offset;
        if (!class_values(t, offset)) return false;
        log_offset += offset;
        expand(t, emit_row(r));
        alpha_scaled(t, r, previous);
      } else {
        dense_frame(t);
        emission_log(t, emit_row(r));
        alpha_log(t, r, previous);
      }
      const int64_t j = t / K;
      if (r == 0 && j + 1 < segments) save_checkpoint(j);
    }
    double log_likelihood;
    {
      const int64_t L = states_;
      const int64_t r = (T - 1) % K;
      const double* a = alpha_row(r);
      if constexpr (kScaled) {
        const int32_t* k = alpha_exp(r);
        const int32_t k1 = k[(L - 1) >> kShift];
        const int32_t k2 = L >= 2 ? k[(L - 2) >> kShift] : kNone;
        const int32_t top = std::max(k1, k2);
        if (top == kNone) return false;
        const double sum = a[L - 1] * pow2_nonpositive(k1 - top) +
                           (L >= 2 ? a[L - 2] * pow2_nonpositive(k2 - top) : 0.0);
        log_likelihood = std::log(sum) + top * kLn2;
      } else {
        log_likelihood = L >= 2 ? log_add3(a[L - 1], a[L - 2], -kInf) : a[L - 1];
        if (!(log_likelihood > -kInf)) {
          cost = kInf;
          return true;
        }
      }
    }
    if constexpr (kScaled) {
      std::fill_n(occ_ - kPad, row_, 0.0);
      init_beta_scaled();
    } else {
      init_beta_log();
    }
    const double tol = 1e-9 + 1e-12 * static_cast<double>(T);
    for (int64_t j = segments - 1; j >= 0; --j) {
      const int64_t t0 = j * K, t1 = std::min(T, t0 + K);
      if (j + 1 < segments) {  // recompute the segment from its checkpoint
        restore_checkpoint(j);
        for (int64_t t = t0; t < t1; ++t) {
          if constexpr (kScaled) {
            expand(t, emit_row(t - t0));
            if (t > t0) alpha_scaled(t, t - t0, t - t0 - 1);
          } else {
            emission_log(t, emit_row(t - t0));
            if (t > t0) alpha_log(t, t - t0, t - t0 - 1);
          }
        }
      }
      for (int64_t t = t1 - 1; t >= t0; --t) {
        if constexpr (kScaled) {
          if (!backward_scaled(t, t - t0, log_likelihood, tol)) return false;
        } else {
          backward_log(t, t - t0);
        }
      }
    }
    cost = kScaled ? -(log_offset + log_likelihood) : -log_likelihood;
    return true;
  }

  void save_checkpoint(int64_t j) {
    std::memcpy(checkpoint_ + j * row_, alpha_row(0) - kPad, row_ * sizeof(double));
    std::memcpy(checkpoint_exp_ + j * blocks_, alpha_exp(0) - 1, blocks_ * sizeof(int32_t));
  }
  void restore_checkpoint(int64_t j) {
    std::memcpy(alpha_row(0) - kPad, checkpoint_ + j * row_, row_ * sizeof(double));
    std::memcpy(alpha_exp(0) - 1, checkpoint_exp_ + j * blocks_, blocks_ * sizeof(int32_t));
  }

  // ------------------------------------------------------------------ scaled probability space
  // Frame t's emissions divided by their largest value m over the label set: values(t)[u] =
  // exp(x[classes[u]] - m). offset = m - log normaliser, the log of that divisor. False when no
  // label class is possible at t (m = -inf) or the scores are NaN.
  bool class_values(int64_t t, double& offset) {
    if (t + kAhead < frames_) prefetch_classes(frame_in(t + kAhead));
    const double log_norm = dense_frame(t);
    const scalar_t* x = frame_in(t);
    double* v = values(t);
    double m = -kInf;
    for (int64_t u = 0; u < num_classes_; ++u) {
      v[u] = static_cast<double>(x[classes_[u]]);
      m = std::max(m, v[u]);
    }
    offset = m - log_norm;
    if (!(m > -kInf) || offset != offset) return false;
    for (int64_t u = num_classes_; u < class_width_; ++u) v[u] = m;  // padding lanes: finite
    for (int64_t u = 0; u < num_classes_; u += 4) store4(v + u, exp4(load4(v + u) - splat4(m)));
    scale_[t] = std::exp(offset);
    return true;
  }

  // The cache lines of row x (input or gradient) that hold the utterance's classes: the label
  // columns of a wide row are far apart and would each miss the cache when read.
  void prefetch_classes(const scalar_t* x) const {
    if (p_.num_classes * static_cast<int64_t>(sizeof(scalar_t)) <= 256) {
      for (int64_t c = 0; c < p_.num_classes; c += 64 / sizeof(scalar_t)) prefetch(x + c);
      return;
    }
    for (int64_t u = 0; u < num_classes_; ++u) prefetch(x + classes_[u]);
  }

  // Emission row of frame t over the whole vectors that cover its window.
  void expand(int64_t t, double* e) const {
    const double* v = values(t);
    const double blank = v[0];
    for (int64_t s = lo(t) & ~int64_t{3}, end = hi(t); s <= end; s += 4) {
      store4(e + s, v4d{blank, v[state_class_[s + 1]], blank, v[state_class_[s + 3]]});
    }
  }

  // Alpha of frame t (slot r) from frame t-1 (slot rp):
  //   alpha_t(s) = e_t(s) (alpha_{t-1}(s) + alpha_{t-1}(s-1) + skip(s) alpha_{t-1}(s-2)),
  // each block in units of 2^max(k[blk], k[blk-1]) of the previous frame's exponents.
  void alpha_scaled(int64_t t, int64_t r, int64_t rp) {
    const int64_t lo = this->lo(t), hi = this->hi(t);
    double* m = alpha_row(r);
    int32_t* k = alpha_exp(r);
    const double* e = emit_row(r);
    const double* sk = skip_;
    std::fill_n(m - kPad, kPad, 0.0);
    const int64_t b_lo = lo >> kShift, b_hi = hi >> kShift;
    k[b_lo - 1] = k[b_hi + 1] = kNone;
    if (t == 0) {
      const v4d x = keep_window(load4(e), 0, lo, hi);
      store4(m, x);
      k[0] = renormalise(m, 0, 0, 0, hmax(x));
      m[hi + 1] = m[hi + 2] = 0.0;
      return;
    }
    const double* p = alpha_row(rp);
    const int32_t* kp = alpha_exp(rp);
    for (int64_t blk = b_lo; blk <= b_hi; ++blk) {
      if (blk == b_lo || blk == b_hi) {
        k[blk] = alpha_block<true>(e, p, kp, m, blk, lo, hi, sk);
      } else {
        k[blk] = alpha_block<false>(e, p, kp, m, blk, lo, hi, sk);
      }
    }
    m[hi + 1] = m[hi + 2] = 0.0;
  }

  // One block of alpha_scaled; returns its exponent. kEdge: the block holds an end of the
  // window [lo, hi], whose outer lanes are set to zero.
  template <bool kEdge>
  __attribute__((always_inline)) static int32_t alpha_block(
      const double* e, const double* p, const int32_t* kp, double* m, int64_t blk, int64_t lo,
      int64_t hi, const double* sk) {
    const int64_t j_lo = lo >> 2, j_hi = hi >> 2;
    const int64_t first = blk * kVectorsPerBlock;
    const int64_t j0 = kEdge ? std::max(j_lo, first) : first;
    const int64_t j1 = kEdge ? std::min(j_hi, first + kVectorsPerBlock - 1)
                             : first + kVectorsPerBlock - 1;
    const int32_t base = std::max(kp[blk], kp[blk - 1]);
    if (base == kNone) {
      for (int64_t j = j0; j <= j1; ++j) store4(m + 4 * j, splat4(0.0));
      return kNone;
    }
    const double fs = pow2_nonpositive(kp[blk] - base);
    const double fp = pow2_nonpositive(kp[blk - 1] - base);
    v4d mx = splat4(0.0);
    int64_t j = j0;
    if (j == first) {  // states 0 and 1 of the block read states of the previous block
      const int64_t s = 4 * j;
      v4d x = load4(e + s) * (splat4(fs) * load4(p + s) + v4d{fp, fs, fs, fs} * load4(p + s - 1) +
                              load4(sk + s) * v4d{fp, fp, fs, fs} * load4(p + s - 2));
      if (kEdge && (j == j_lo || j == j_hi)) x = keep_window(x, s, lo, hi);
      store4(m + s, x);
      mx = vmax(mx, x);
      ++j;
    }
    auto body = [&](int64_t jj, v4d f) {
      const int64_t s = 4 * jj;
      v4d x = f * load4(e + s) *
              (load4(p + s) + load4(p + s - 1) + load4(sk + s) * load4(p + s - 2));
      if (kEdge && (jj == j_lo || jj == j_hi)) x = keep_window(x, s, lo, hi);
      store4(m + s, x);
      mx = vmax(mx, x);
    };
    if (kEdge) {
      for (; j <= j1; ++j) body(j, splat4(fs));
    } else {  // whole block: seven more vectors
#pragma GCC unroll 7
      for (int64_t i = 1; i < kVectorsPerBlock; ++i) body(first + i, splat4(fs));
    }
    return renormalise(m, j0, j1, base, hmax(mx));
  }

  void init_beta_scaled() {
    const int64_t t = frames_ - 1, lo = this->lo(t), hi = this->hi(t);
    std::fill_n(beta_exp_ - 1, blocks_, kNone);
    for (int64_t s = lo & ~int64_t{3}; s <= hi; s += 4) {
      store4(beta_ + s, keep_window(splat4(1.0), s, lo, hi));
    }
    for (int64_t blk = lo >> kShift; blk <= hi >> kShift; ++blk) beta_exp_[blk] = 0;
  }

  // Frame t (alpha in slot r, beta_t in beta_): occupancy, the consistency check against the
  // forward likelihood, the gradient row, then beta_{t-1}:
  //   beta_{t-1}(s) = q(s) + q(s+1) + skip(s+2) q(s+2),  q = e_t beta_t,
  // each block in units of 2^max(kq[blk], kq[blk+1]).
  bool backward_scaled(int64_t t, int64_t r, double log_likelihood, double tol) {
    const int64_t lo = this->lo(t), hi = this->hi(t);
    const int64_t b_lo = lo >> kShift, b_hi = hi >> kShift;
    const int64_t j_lo = lo >> 2, j_hi = hi >> 2;
    const double* a = alpha_row(r);
    const int32_t* ka = alpha_exp(r);
    const double* e = emit_row(r);
    double* b = beta_;
    int32_t* kb = beta_exp_;
    double* q = temp_;
    int32_t* kq = temp_exp_;
    double* occ = occ_;
    int32_t top = kNone;
    for (int64_t blk = b_lo; blk <= b_hi; ++blk) {
      if (ka[blk] != kNone && kb[blk] != kNone) top = std::max(top, ka[blk] + kb[blk]);
    }
    if (top == kNone) return false;
    v4d z = splat4(0.0), z_blank = splat4(0.0);
    const v4d blank_lanes = {1.0, 0.0, 1.0, 0.0};  // s = 4j + lane is even: a blank state
    for (int64_t blk = b_lo; blk <= b_hi; ++blk) {
      const int64_t first = blk * kVectorsPerBlock;
      const int64_t j0 = std::max(j_lo, first), j1 = std::min(j_hi, first + kVectorsPerBlock - 1);
      const v4d f = splat4(ka[blk] == kNone || kb[blk] == kNone
                               ? 0.0 : pow2_nonpositive(ka[blk] + kb[blk] - top));
      for (int64_t j = j0; j <= j1; ++j) {
        const int64_t s = 4 * j;
        const v4d bv = load4(b + s);
        const v4d o = load4(a + s) * bv * f;
        store4(occ + s, o);
        z += o;
        z_blank += o * blank_lanes;
        store4(q + s, load4(e + s) * bv);
      }
    }
    const double sum = hsum(z);
    if (!(sum > 1e-290)) return false;
    if (!(std::fabs(std::log(sum) + top * kLn2 - log_likelihood) <= tol)) return false;
    if (grad_) {
      if (t >= kAhead) prefetch_classes(frame_grad(t - kAhead));
      store4(occ + 4 * (j_hi + 1), splat4(0.0));  // held frame t+1's states above the window
      class_occupancy(occ, hsum(z_blank));
      write_label_grad(t, 1.0 / sum, true);
    }
    if (t == 0) return true;

    q[lo - 2] = q[lo - 1] = q[hi + 1] = q[hi + 2] = 0.0;
    for (int64_t blk = b_lo; blk <= b_hi; ++blk) kq[blk] = kb[blk];
    kq[b_lo - 1] = kq[b_hi + 1] = kNone;
    const int64_t plo = this->lo(t - 1), phi = this->hi(t - 1);
    const int64_t pb_lo = plo >> kShift, pb_hi = phi >> kShift;
    for (int64_t blk = pb_lo; blk <= pb_hi; ++blk) {
      if (blk == pb_lo || blk == pb_hi) {
        kb[blk] = beta_block<true>(q, kq, b, blk, plo, phi, skip_);
      } else {
        kb[blk] = beta_block<false>(q, kq, b, blk, plo, phi, skip_);
      }
    }
    kb[pb_lo - 1] = kb[pb_hi + 1] = kNone;
    return true;
  }

  // One block of beta_{t-1} (window [lo, hi] of frame t-1) from q = e_t beta_t; returns its
  // exponent. kEdge: the block holds an end of the window.
  template <bool kEdge>
  __attribute__((always_inline)) static int32_t beta_block(
      const double* q, const int32_t* kq, double* b, int64_t blk, int64_t lo, int64_t hi,
      const double* sk) {
    const int64_t j_lo = lo >> 2, j_hi = hi >> 2;
    const int64_t first = blk * kVectorsPerBlock, last = first + kVectorsPerBlock - 1;
    const int64_t j0 = kEdge ? std::max(j_lo, first) : first;
    const int64_t j1 = kEdge ? std::min(j_hi, last) : last;
    const int32_t base = std::max(kq[blk], kq[blk + 1]);
    if (base == kNone) {
      for (int64_t j = j0; j <= j1; ++j) store4(b + 4 * j, splat4(0.0));
      return kNone;
    }
    const double fs = pow2_nonpositive(kq[blk] - base);
    const double fn = pow2_nonpositive(kq[blk + 1] - base);
    const v4d f = splat4(fs);
    v4d mx = splat4(0.0);
    auto body = [&](int64_t j) {
      const int64_t s = 4 * j;
      v4d x = f * (load4(q + s) + load4(q + s + 1) + load4(sk + s + 2) * load4(q + s + 2));
      if (kEdge && (j == j_lo || j == j_hi)) x = keep_window(x, s, lo, hi);
      store4(b + s, x);
      mx = vmax(mx, x);
    };
    if (kEdge) {
      for (int64_t j = j0, end = std::min(j1, last - 1); j <= end; ++j) body(j);
    } else {  // whole block: seven vectors, then the last
#pragma GCC unroll 7
      for (int64_t i = 0; i < kVectorsPerBlock - 1; ++i) body(first + i);
    }
    if (j1 == last) {  // states 30 and 31 of the block read states of the next block
      const int64_t s = 4 * last;
      v4d x = f * load4(q + s) + v4d{fs, fs, fs, fn} * load4(q + s + 1) +
              load4(sk + s + 2) * v4d{fs, fs, fn, fn} * load4(q + s + 2);
      if (kEdge && (last == j_lo || last == j_hi)) x = keep_window(x, s, lo, hi);
      store4(b + s, x);
      mx = vmax(mx, x);
    }
    return renormalise(b, j0, j1, base, hmax(mx));
  }

  // ------------------------------------------------------------------ exact log space
  void emission_log(int64_t t, double* e) const {
    const scalar_t* x = frame_in(t);
    const double z = norm_[t];
    for (int64_t s = lo(t), end = hi(t); s <= end; ++s) {
      e[s] = static_cast<double>(x[classes_[state_class_[s]]]) - z;
    }
  }

  void alpha_log(int64_t t, int64_t r, int64_t rp) {
    const int64_t lo = this->lo(t), hi = this->hi(t);
    double* a = alpha_row(r);
    const double* e = emit_row(r);
    a[-2] = a[-1] = -kInf;
    if (t == 0) {
      for (int64_t s = lo; s <= hi; ++s) a[s] = e[s];
    } else {
      const double* prev = alpha_row(rp);
      for (int64_t s = lo; s <= hi; ++s) {
        a[s] = e[s] + log_add3(prev[s], prev[s - 1], skip_[s] > 0.0 ? prev[s - 2] : -kInf);
      }
    }
    a[hi + 1] = a[hi + 2] = -kInf;
  }

  void init_beta_log() {
    const int64_t t = frames_ - 1;
    for (int64_t s = lo(t), end = hi(t); s <= end; ++s) beta_[s] = 0.0;
  }

  void backward_log(int64_t t, int64_t r) {
    const int64_t lo = this->lo(t), hi = this->hi(t);
    const double* a = alpha_row(r);
    double* b = beta_;
    double* bt = temp_;
    double* occ = occ_;
    double m = -kInf;
    for (int64_t s = lo; s <= hi; ++s) {
      occ[s] = a[s] + b[s];
      m = std::max(m, occ[s]);
    }
    double z = 0.0;
    for (int64_t s = lo; s <= hi; ++s) z += std::exp(occ[s] - m);
    const double log_z = m + std::log(z);
    if (grad_) {
      for (int64_t u = 0; u < num_classes_; ++u) acc_[u] = 0.0;
      for (int64_t s = lo; s <= hi; ++s) acc_[state_class_[s]] += std::exp(occ[s] - log_z);
      write_label_grad(t, 1.0, false);
    }
    if (t == 0) return;
    const double* e = emit_row(r);
    for (int64_t s = lo; s <= hi; ++s) bt[s] = e[s] + b[s];
    bt[lo - 2] = bt[lo - 1] = bt[hi + 1] = bt[hi + 2] = -kInf;
    for (int64_t s = this->lo(t - 1), end = this->hi(t - 1); s <= end; ++s) {
      b[s] = log_add3(bt[s], bt[s + 1], skip_[s + 2] > 0.0 ? bt[s + 2] : -kInf);
    }
  }

  const Problem& p_;
  const int64_t row_, segment_, blocks_, class_width_;
  double* emit_;
  double* alpha_;
  int32_t* alpha_exp_;
  double* checkpoint_;
  int32_t* checkpoint_exp_;
  double* values_;
  double* beta_;
  double* temp_;
  double* occ_;
  double* skip_;
  int32_t* beta_exp_;
  int32_t* temp_exp_;
  double* norm_;
  double* scale_;
  double* acc_;
  int64_t* classes_;
  int32_t* state_class_;
  int32_t* class_states_;
  int32_t* class_start_;
  int32_t* slot_;
  scalar_t* scratch_;
  const bool stream_;  // write dense gradient rows with streaming stores
  const scalar_t* in_ = nullptr;
  scalar_t* grad_ = nullptr;
  int64_t frames_ = 0, states_ = 0, num_classes_ = 0, dense_frames_ = 0;
  double weight_ = 1.0;
};

}  // namespace

template <typename scalar_t, typename index_t>
void ctc_loss_cpu(const Problem& problem, const scalar_t* inputs, const index_t* targets,
                  const int64_t* target_offsets, const int64_t* input_lengths,
                  const int64_t* target_lengths, const double* grad_weights, double* costs,
                  scalar_t* grad, uint8_t* numerics_used, void* workspace, int num_threads) {
  const int64_t n_utt = problem.batch;
  // largest first, so that the dynamic schedule does not end on a long utterance
  std::vector<int64_t> order(n_utt);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) {
    return input_lengths[a] * (2 * target_lengths[a] + 1) >
           input_lengths[b] * (2 * target_lengths[b] + 1);
  });
  const Layout layout =
      make_layout(problem.max_time, problem.max_target, problem.num_classes, /*cpu=*/true);
  const int threads = static_cast<int>(std::max<int64_t>(1, std::min<int64_t>(num_threads, n_utt)));
#pragma omp parallel num_threads(threads)
  {
    void* slot = static_cast<char*>(workspace) + layout.bytes * omp_get_thread_num();
    Utterance<scalar_t, index_t> worker(problem, layout, slot);
#pragma omp for schedule(dynamic, 1)
    for (int64_t i = 0; i < n_utt; ++i) {
      const int64_t n = order[i];
      uint8_t tier = 0;
      costs[n] = worker.run(n, inputs, targets, target_offsets[n], input_lengths[n],
                            target_lengths[n], grad_weights ? grad_weights[n] : 1.0, grad,
                            &tier);
      if (numerics_used) numerics_used[n] = tier;
    }
  }
}

#define CAROUSEL_INSTANTIATE(S, I)                                                            \
  template void ctc_loss_cpu<S, I>(const Problem&, const S*, const I*, const int64_t*,        \
                                   const int64_t*, const int64_t*, const double*, double*, S*, \
                                   uint8_t*, void*, int);
CAROUSEL_INSTANTIATE(float, int32_t)
CAROUSEL_INSTANTIATE(float, int64_t)
CAROUSEL_INSTANTIATE(double, int32_t)
CAROUSEL_INSTANTIATE(double, int64_t)
#undef CAROUSEL_INSTANTIATE

}  // namespace carousel::ctc
