// CPU CTC loss: utterances in parallel (OpenMP, dynamic schedule, largest first), one utterance
// per thread at a time. Per utterance: emissions gathered into a contiguous T x (2S+1) buffer,
// alpha kept for all frames, beta in one rolling row with the gradient row written during the
// beta sweep (each gradient element written exactly once, padding frames included, so the
// output needs no zero fill), states outside the reachable window skipped. Block-scaled
// double numerics first, exact log space when they detect underflow (see ctc_loss.h).
#include <omp.h>

#include <cstdio>
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

using v4f = float __attribute__((vector_size(16)));

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

template <typename scalar_t>
inline v4d load4_as_double(const scalar_t* x) {
  if constexpr (std::is_same_v<scalar_t, float>) {
    v4f v;
    std::memcpy(&v, x, sizeof v);
    return __builtin_convertvector(v, v4d);
  } else {
    return load4(x);
  }
}

template <typename scalar_t>
inline void store4_from_double(scalar_t* out, v4d v) {
  if constexpr (std::is_same_v<scalar_t, float>) {
    const v4f f = __builtin_convertvector(v, v4f);
    std::memcpy(out, &f, sizeof f);
  } else {
    store4(out, v);
  }
}

// out[s] = a[s] b[s] f for s in [s0, s1]; returns their sum.
inline double product_sum(const double* a, const double* b, double f, double* out, int64_t s0,
                          int64_t s1) {
  v4d acc = splat4(0.0);
  const v4d fv = splat4(f);
  int64_t s = s0;
  for (; s + 3 <= s1; s += 4) {
    const v4d x = load4(a + s) * load4(b + s) * fv;
    store4(out + s, x);
    acc += x;
  }
  double sum = hsum(acc);
  for (; s <= s1; ++s) sum += (out[s] = a[s] * b[s] * f);
  return sum;
}

// alpha: m[s] = f e[s] (p[s] + p[s-1] + skip[s] p[s-2]); returns the largest.
inline double alpha_block(const double* e, const double* p, const double* skip, double f,
                          double* m, int64_t s0, int64_t s1) {
  v4d mx = splat4(0.0);
  const v4d fv = splat4(f);
  int64_t s = s0;
  for (; s + 3 <= s1; s += 4) {
    const v4d x = fv * load4(e + s) *
                  (load4(p + s) + load4(p + s - 1) + load4(skip + s) * load4(p + s - 2));
    store4(m + s, x);
    mx = vmax(mx, x);
  }
  double best = hmax(mx);
  for (; s <= s1; ++s) {
    m[s] = f * e[s] * (p[s] + p[s - 1] + skip[s] * p[s - 2]);
    best = std::max(best, m[s]);
  }
  return best;
}

// beta: b[s] = f (q[s] + q[s+1] + skip[s+2] q[s+2]); returns the largest.
inline double beta_block(const double* q, const double* skip, double f, double* b, int64_t s0,
                         int64_t s1) {
  v4d mx = splat4(0.0);
  const v4d fv = splat4(f);
  int64_t s = s0;
  for (; s + 3 <= s1; s += 4) {
    const v4d x = fv * (load4(q + s) + load4(q + s + 1) + load4(skip + s + 2) * load4(q + s + 2));
    store4(b + s, x);
    mx = vmax(mx, x);
  }
  double best = hmax(mx);
  for (; s <= s1; ++s) {
    b[s] = f * (q[s] + q[s + 1] + skip[s + 2] * q[s + 2]);
    best = std::max(best, b[s]);
  }
  return best;
}

template <typename scalar_t, typename index_t>
class Utterance {
 public:
  Utterance(const Problem& p, const Layout& l, void* slot_memory)
      : p_(p), row_(l.row),
        emit_(carve<double>(slot_memory, l.emit)),
        alpha_(carve<double>(slot_memory, l.alpha)),
        beta_(carve<double>(slot_memory, l.beta)),
        temp_(carve<double>(slot_memory, l.temp)),
        occ_(carve<double>(slot_memory, l.occ)),
        skip_(carve<double>(slot_memory, l.skip) + 2),
        norm_(carve<double>(slot_memory, l.norm)),
        acc_(carve<double>(slot_memory, l.acc)),
        classes_(carve<int64_t>(slot_memory, l.classes)),
        state_class_(carve<int32_t>(slot_memory, l.state_class)),
        slot_(carve<int32_t>(slot_memory, l.slot)),
        exponents_(carve<int32_t>(slot_memory, l.exponents)),
        blocks_(l.blocks) {
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
    *tier = kTierScaled;
    if (grad_) {
      for (int64_t t = frames; t < p_.max_time; ++t) zero_row(t);
    }
    const int64_t repeats = set_labels(targets + target_offset, target_len);
    double cost;
    if (frames == 0) {
      cost = target_len == 0 ? 0.0 : kInf;
    } else if (frames < target_len + repeats) {
      cost = kInf;  // infeasible: no path emits the target in so few frames
    } else {
      cost = kInf;
      bool scaled_ok = false;
      if (p_.numerics == Numerics::kAuto) {
        const double log_offset = gather_scaled();
        scaled_ok = log_offset == log_offset && sweep_blocked(log_offset, cost);
      }
      if (!scaled_ok) {
        *tier = kTierLog;
        cost = log_space();
      }
    }
    if (grad_ && cost == kInf) {
      for (int64_t t = 0; t < frames; ++t) zero_row(t);
    }
    for (int64_t u = 0; u < num_classes_; ++u) slot_[classes_[u]] = -1;
    return cost;
  }

 private:
  const scalar_t* frame_in(int64_t t) const { return in_ + t * p_.in_stride_time; }
  scalar_t* frame_grad(int64_t t) const { return grad_ + t * p_.grad_stride_time; }
  double* emit_row(int64_t t) const { return emit_ + t * row_ + 2; }
  double* alpha_row(int64_t t) const { return alpha_ + t * row_ + 2; }  // log space

  void zero_row(int64_t t) const { std::memset(frame_grad(t), 0, p_.num_classes * sizeof(scalar_t)); }

  // Distinct classes (blank first), state -> class index, skip mask; returns adjacent repeats.
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
    skip_[-2] = skip_[-1] = 0.0;
    for (int64_t s = 0; s < states_ + 2; ++s) skip_[s] = 0.0;
    for (int64_t i = 0; i < len; ++i) {
      const int64_t k = static_cast<int64_t>(target[i]);
      state_class_[2 * i] = 0;
      state_class_[2 * i + 1] = class_of(k);
      const bool repeat = i > 0 && static_cast<int64_t>(target[i - 1]) == k;
      repeats += repeat;
      skip_[2 * i + 1] = (i > 0 && !repeat) ? 1.0 : 0.0;
    }
    state_class_[2 * len] = 0;
    return repeats;
  }

  // Per-frame log normaliser of the inputs: logsumexp over classes for logits, else 0.
  double frame_norm(const scalar_t* x) const {
    if (!p_.logits) return 0.0;
    const int64_t C = p_.num_classes;
    v4d top = splat4(-kInf);
    int64_t k = 0;
    for (; k + 3 < C; k += 4) top = vmax(top, load4_as_double(x + k));
    double m = hmax(top);
    for (; k < C; ++k) m = std::max(m, static_cast<double>(x[k]));
    if (m == -kInf) return -kInf;
    v4d acc = splat4(0.0);
    int64_t c = 0;
    if constexpr (std::is_same_v<scalar_t, float>) {
      const v8f mf = splat8(static_cast<float>(m));
      for (; c + 7 < C; c += 8) {  // exponentials in float, summed in double
        const v8f y = exp8f(load8f(x + c) - mf);
        acc += __builtin_convertvector(__builtin_shufflevector(y, y, 0, 1, 2, 3), v4d) +
               __builtin_convertvector(__builtin_shufflevector(y, y, 4, 5, 6, 7), v4d);
      }
    }
    for (; c + 3 < C; c += 4) acc += exp4(load4_as_double(x + c) - splat4(m));
    double sum = hsum(acc);
    for (; c < C; ++c) sum += std::exp(static_cast<double>(x[c]) - m);
    return m + std::log(sum);
  }

  // ------------------------------------------------------------------ scaled probability space
  // Emissions divided by their largest value over the label set at each frame; returns the sum
  // over frames of the log of that divisor (minus the logits normaliser), or NaN when a frame
  // has no possible class.
  double gather_scaled() {
    const int64_t T = frames_, L = states_;
    double value[512];
    std::vector<double> heap;
    double* v = value;
    if (num_classes_ > 512) {
      heap.resize(num_classes_);
      v = heap.data();
    }
    double log_offset = 0.0;
    constexpr int64_t kAhead = 4;  // frames: the label columns of a wide row miss the cache
    for (int64_t t = 0; t < T; ++t) {
      const scalar_t* x = frame_in(t);
      if (t + kAhead < T && p_.num_classes > 64) {
        const scalar_t* ahead = frame_in(t + kAhead);
        for (int64_t u = 0; u < num_classes_; ++u) __builtin_prefetch(ahead + classes_[u]);
      }
      double m = -kInf;
      for (int64_t u = 0; u < num_classes_; ++u) {
        v[u] = static_cast<double>(x[classes_[u]]);
        m = std::max(m, v[u]);
      }
      if (!(m > -kInf)) return std::numeric_limits<double>::quiet_NaN();
      int64_t u = 0;
      for (; u + 3 < num_classes_; u += 4) store4(v + u, exp4(load4(v + u) - splat4(m)));
      for (; u < num_classes_; ++u) v[u] = std::exp(v[u] - m);
      const double z = frame_norm(x);
      norm_[t] = z;
      log_offset += m - z;
      double* e = emit_row(t);
      const int64_t lo = window_lo(L, T, t), hi = window_hi(L, t);
      for (int64_t s = lo; s <= hi; ++s) e[s] = v[state_class_[s]];
    }
    return log_offset;
  }

  // Alpha and beta as double mantissas with one power-of-two exponent per block of 32 states
  // and frame (block floating point): three multiply-adds per state, vectorised over s, and an
  // exponent range limited only by int32, so long inputs whose past and future disagree
  // strongly keep the states that matter. In exact arithmetic
  // log(sum_s alpha_t(s) beta_t(s)) is the log likelihood at every frame; a frame where it is
  // not (beyond rounding) lost mass within a block to underflow, and the caller falls back.
  static constexpr int kShift = 5;
  static constexpr int64_t kBlock = int64_t{1} << kShift;
  static constexpr int32_t kNone = std::numeric_limits<int32_t>::min() / 4;  // all-zero block

  // Exponent of block m[s0..s1] (largest value mx) relative to `base`: kNone when the block is
  // zero; otherwise the mantissas are rescaled by a power of two when mx has left
  // [2^-32, 2^32] (lazily: most frames need no rescaling pass).
  static int32_t renormalise(double* __restrict m, int64_t s0, int64_t s1, int32_t base,
                             double mx) {
    if (!(mx > 0.0)) return kNone;
    if (mx >= 0x1p-32 && mx <= 0x1p32) return base;
    int ex;
    std::frexp(mx, &ex);
    const double scale = std::ldexp(1.0, -ex);
#pragma omp simd
    for (int64_t s = s0; s <= s1; ++s) m[s] *= scale;
    return base + ex;
  }

  static double pow2(int32_t exponent) {  // 2^exponent, 0 below the double range
    return exponent < -1100 ? 0.0 : std::ldexp(1.0, exponent);
  }

  bool sweep_blocked(double log_offset, double& cost) {
    const int64_t T = frames_, L = states_, nb = blocks_;
    auto m_at = [&](int64_t t) { return alpha_ + t * row_ + 2; };
    auto k_at = [&](int64_t t) { return exponents_ + t * nb + 1; };  // block -1 exists
    const double* __restrict sk = skip_;

    for (int64_t t = 0; t < T; ++t) {
      double* __restrict m = m_at(t);
      int32_t* k = k_at(t);
      const double* __restrict e = emit_row(t);
      const int64_t lo = window_lo(L, T, t), hi = window_hi(L, t);
      const int64_t b_lo = lo >> kShift, b_hi = hi >> kShift;
      m[-2] = m[-1] = 0.0;
      k[b_lo - 1] = k[b_hi + 1] = kNone;
      if (t == 0) {
        double mx = 0.0;
        for (int64_t s = lo; s <= hi; ++s) mx = std::max(mx, m[s] = e[s]);
        k[0] = renormalise(m, lo, hi, 0, mx);
      } else {
        const double* __restrict p = m_at(t - 1);
        const int32_t* kp = k_at(t - 1);
        for (int64_t blk = b_lo; blk <= b_hi; ++blk) {
          const int64_t first = blk << kShift;
          const int64_t s0 = std::max(lo, first), s1 = std::min(hi, first + kBlock - 1);
          const int32_t base = std::max(kp[blk], kp[blk - 1]);
          if (base == kNone) {
            for (int64_t s = s0; s <= s1; ++s) m[s] = 0.0;
            k[blk] = kNone;
            continue;
          }
          const double fs = pow2(kp[blk] - base), fp = pow2(kp[blk - 1] - base);
          const int64_t edge = first + 2;  // states below read from the previous block
          double mx = 0.0;
          for (int64_t s = s0; s <= std::min(s1, edge - 1); ++s) {
            const double f1 = s - 1 >= first ? fs : fp;
            m[s] = e[s] * (fs * p[s] + f1 * p[s - 1] + sk[s] * fp * p[s - 2]);
            mx = std::max(mx, m[s]);
          }
          mx = std::max(mx, alpha_block(e, p, sk, fs, m, std::max(s0, edge), s1));
          k[blk] = renormalise(m, s0, s1, base, mx);
        }
      }
      m[hi + 1] = m[hi + 2] = 0.0;
    }
    // likelihood from the final states (scaled emissions): log(sum m 2^k)
    double log_likelihood;
    {
      const double* m = m_at(T - 1);
      const int32_t* k = k_at(T - 1);
      const int32_t k1 = k[(L - 1) >> kShift];
      const int32_t k2 = L >= 2 ? k[(L - 2) >> kShift] : kNone;
      const int32_t top = std::max(k1, k2);
      if (top == kNone) return false;
      const double sum = m[L - 1] * pow2(k1 - top) + (L >= 2 ? m[L - 2] * pow2(k2 - top) : 0.0);
      log_likelihood = std::log(sum) + top * kLn2;
    }

    const double tol = 1e-9 + 1e-12 * static_cast<double>(T);
    double* __restrict b = beta_ + 2;
    double* __restrict bt = temp_ + 2;
    double* __restrict occ = occ_ + 2;
    int32_t* kb = exponents_ + T * nb + 1;
    int32_t* kbt = exponents_ + (T + 1) * nb + 1;
    std::fill_n(kb - 1, nb, kNone);
    {
      const int64_t lo = window_lo(L, T, T - 1), hi = window_hi(L, T - 1);
      for (int64_t s = lo; s <= hi; ++s) b[s] = 1.0;
      for (int64_t blk = lo >> kShift; blk <= hi >> kShift; ++blk) kb[blk] = 0;
    }
    for (int64_t t = T - 1; t >= 0; --t) {
      const int64_t lo = window_lo(L, T, t), hi = window_hi(L, t);
      const int64_t b_lo = lo >> kShift, b_hi = hi >> kShift;
      const double* __restrict a = m_at(t);
      const int32_t* ka = k_at(t);
      int32_t top = kNone;
      for (int64_t blk = b_lo; blk <= b_hi; ++blk) {
        if (ka[blk] != kNone && kb[blk] != kNone) top = std::max(top, ka[blk] + kb[blk]);
      }
      if (top == kNone) return false;
      double z = 0.0;
      for (int64_t blk = b_lo; blk <= b_hi; ++blk) {
        const int64_t s0 = std::max(lo, blk << kShift);
        const int64_t s1 = std::min(hi, (blk << kShift) + kBlock - 1);
        const double f = ka[blk] == kNone || kb[blk] == kNone ? 0.0
                                                               : pow2(ka[blk] + kb[blk] - top);
        z += product_sum(a, b, f, occ, s0, s1);
      }
      if (!(z > 1e-290)) return false;
      if (!(std::fabs(std::log(z) + top * kLn2 - log_likelihood) <= tol)) return false;
      if (grad_) write_grad_row(t, lo, hi, occ, 1.0 / z, x_row_norm(t));
      if (t == 0) break;

      const double* __restrict e = emit_row(t);
#pragma omp simd
      for (int64_t s = lo; s <= hi; ++s) bt[s] = e[s] * b[s];
      bt[lo - 2] = bt[lo - 1] = 0.0;
      bt[hi + 1] = bt[hi + 2] = 0.0;
      for (int64_t blk = b_lo; blk <= b_hi; ++blk) kbt[blk] = kb[blk];
      kbt[b_lo - 1] = kbt[b_hi + 1] = kNone;

      const int64_t plo = window_lo(L, T, t - 1), phi = window_hi(L, t - 1);
      for (int64_t blk = plo >> kShift; blk <= phi >> kShift; ++blk) {
        const int64_t first = blk << kShift, last = first + kBlock - 1;
        const int64_t s0 = std::max(plo, first), s1 = std::min(phi, last);
        const int32_t base = std::max(kbt[blk], kbt[blk + 1]);
        if (base == kNone) {
          for (int64_t s = s0; s <= s1; ++s) b[s] = 0.0;
          kb[blk] = kNone;
          continue;
        }
        const double fs = pow2(kbt[blk] - base), fn = pow2(kbt[blk + 1] - base);
        const int64_t edge = last - 1;  // states from here on read from the next block
        double mx = beta_block(bt, sk, fs, b, s0, std::min(s1, edge - 1));
        for (int64_t s = std::max(s0, edge); s <= s1; ++s) {
          const double f1 = s + 1 <= last ? fs : fn;
          b[s] = fs * bt[s] + f1 * bt[s + 1] + sk[s + 2] * fn * bt[s + 2];
          mx = std::max(mx, b[s]);
        }
        kb[blk] = renormalise(b, s0, s1, base, mx);
      }
      kb[(plo >> kShift) - 1] = kb[(phi >> kShift) + 1] = kNone;
    }
    cost = -(log_offset + log_likelihood);
    return true;
  }

  double x_row_norm(int64_t t) const { return p_.logits ? norm_[t] : 0.0; }

  // Gradient row t from the occupancy numerators occ[lo..hi] scaled by inv_z. Blank states
  // (even s) are summed in registers; label states scatter into their class.
  void write_grad_row(int64_t t, int64_t lo, int64_t hi, const double* __restrict occ,
                      double inv_z, double log_norm) {
    double blank = 0.0;
#pragma omp simd reduction(+ : blank)
    for (int64_t s = lo + (lo & 1); s <= hi; s += 2) blank += occ[s];
    acc_[0] = blank;
    for (int64_t u = 1; u < num_classes_; ++u) acc_[u] = 0.0;
    for (int64_t s = lo | 1; s <= hi; s += 2) acc_[state_class_[s]] += occ[s];
    for (int64_t u = 0; u < num_classes_; ++u) acc_[u] *= inv_z;
    scalar_t* g = frame_grad(t);
    const double w = weight_;
    if (p_.logits) {
      const scalar_t* x = frame_in(t);
      const int64_t C = p_.num_classes;
      int64_t c = 0;
      if constexpr (std::is_same_v<scalar_t, float>) {
        // softmax in float for float inputs; x - log_norm in double, rounded once
        const v8f wf = splat8(static_cast<float>(w));
        for (; c + 7 < C; c += 8) {
          const v4d d0 = load4_as_double(x + c) - splat4(log_norm);
          const v4d d1 = load4_as_double(x + c + 4) - splat4(log_norm);
          const v8f y = __builtin_shufflevector(__builtin_convertvector(d0, v4f),
                                                __builtin_convertvector(d1, v4f), 0, 1, 2, 3,
                                                4, 5, 6, 7);
          const v8f out = wf * exp8f(y);
          std::memcpy(g + c, &out, sizeof out);
        }
      }
      for (; c + 3 < C; c += 4) {
        store4_from_double(g + c, splat4(w) * exp4(load4_as_double(x + c) - splat4(log_norm)));
      }
      for (; c < C; ++c) {
        g[c] = static_cast<scalar_t>(w * std::exp(static_cast<double>(x[c]) - log_norm));
      }
      for (int64_t u = 0; u < num_classes_; ++u) {
        const int64_t c = classes_[u];
        g[c] = static_cast<scalar_t>(w * (std::exp(static_cast<double>(x[c]) - log_norm) -
                                          acc_[u]));
      }
    } else {
      std::memset(g, 0, p_.num_classes * sizeof(scalar_t));
      for (int64_t u = 0; u < num_classes_; ++u) {
        g[classes_[u]] = static_cast<scalar_t>(-w * acc_[u]);
      }
    }
  }

  // ------------------------------------------------------------------ exact log space
  double log_space() {
    const int64_t T = frames_, L = states_;
    for (int64_t t = 0; t < T; ++t) {
      const scalar_t* x = frame_in(t);
      const double z = frame_norm(x);
      norm_[t] = z;
      double* e = emit_row(t);
      const int64_t lo = window_lo(L, T, t), hi = window_hi(L, t);
      for (int64_t s = lo; s <= hi; ++s) {
        e[s] = static_cast<double>(x[classes_[state_class_[s]]]) - z;
      }
    }
    // skip mask as 0 / -inf in log space
    std::vector<double> log_skip(L + 4);
    for (int64_t s = -2; s < L + 2; ++s) log_skip[s + 2] = skip_[s] > 0.0 ? 0.0 : -kInf;
    const double* sk = log_skip.data() + 2;

    for (int64_t t = 0; t < T; ++t) {
      double* a = alpha_row(t);
      const double* e = emit_row(t);
      const int64_t lo = window_lo(L, T, t), hi = window_hi(L, t);
      a[-2] = a[-1] = -kInf;
      if (t == 0) {
        for (int64_t s = lo; s <= hi; ++s) a[s] = e[s];
      } else {
        const double* prev = alpha_row(t - 1);
        for (int64_t s = lo; s <= hi; ++s) {
          a[s] = e[s] + log_add3(prev[s], prev[s - 1], sk[s] + prev[s - 2]);
        }
      }
      a[hi + 1] = a[hi + 2] = -kInf;
    }
    const double* last = alpha_row(T - 1);
    const double log_likelihood =
        L >= 2 ? log_add3(last[L - 1], last[L - 2], -kInf) : last[L - 1];
    if (!(log_likelihood > -kInf)) return kInf;

    double* b = beta_ + 2;
    double* bt = temp_ + 2;
    double* occ = occ_ + 2;
    {
      const int64_t lo = window_lo(L, T, T - 1), hi = window_hi(L, T - 1);
      for (int64_t s = lo; s <= hi; ++s) b[s] = 0.0;
    }
    for (int64_t t = T - 1; t >= 0; --t) {
      const int64_t lo = window_lo(L, T, t), hi = window_hi(L, t);
      const double* a = alpha_row(t);
      double m = -kInf;
      for (int64_t s = lo; s <= hi; ++s) {
        occ[s] = a[s] + b[s];
        m = std::max(m, occ[s]);
      }
      double z = 0.0;
      for (int64_t s = lo; s <= hi; ++s) z += std::exp(occ[s] - m);
      const double log_z = m + std::log(z);
#ifdef CAROUSEL_DEBUG
      if (std::fabs(log_z - log_likelihood) > 1e-6 * (1.0 + std::fabs(log_likelihood))) {
        std::fprintf(stderr, "carousel ctc: forward %.12g != backward %.12g at frame %lld\n",
                     log_likelihood, log_z, static_cast<long long>(t));
      }
#endif
      if (grad_) {
        for (int64_t s = lo; s <= hi; ++s) occ[s] = std::exp(occ[s] - log_z);
        write_grad_row(t, lo, hi, occ, 1.0, x_row_norm(t));
      }
      if (t == 0) break;
      const double* e = emit_row(t);
      for (int64_t s = lo; s <= hi; ++s) bt[s] = e[s] + b[s];
      bt[lo - 2] = bt[lo - 1] = -kInf;
      bt[hi + 1] = bt[hi + 2] = -kInf;
      const int64_t plo = window_lo(L, T, t - 1), phi = window_hi(L, t - 1);
      for (int64_t s = plo; s <= phi; ++s) {
        b[s] = log_add3(bt[s], bt[s + 1], sk[s + 2] + bt[s + 2]);
      }
    }
    return -log_likelihood;  // the log normaliser of logits is already in the emissions
  }

  const Problem& p_;
  const int64_t row_;
  double* emit_;
  double* alpha_;
  double* beta_;
  double* temp_;
  double* occ_;
  double* skip_;
  double* norm_;
  double* acc_;
  int64_t* classes_;
  int32_t* state_class_;
  int32_t* slot_;
  int32_t* exponents_;
  const int64_t blocks_;
  const scalar_t* in_ = nullptr;
  scalar_t* grad_ = nullptr;
  int64_t frames_ = 0, states_ = 0, num_classes_ = 0;
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
  const Layout layout = make_layout(problem.max_time, problem.max_target, problem.num_classes);
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
