// CPU CTC loss: utterances in parallel (OpenMP, dynamic schedule, largest first), one utterance
// per thread at a time. Per utterance: emissions gathered into a contiguous T x (2S+1) buffer,
// alpha kept for all frames, beta in one rolling row with the gradient written during the beta
// sweep, states outside the reachable window skipped. See ctc_loss.h for the numerics.
#include <omp.h>

#include <cstdio>
#include <cstring>
#include <numeric>
#include <vector>

#include "ctc_loss.h"

namespace carousel::ctc {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kLn2 = 0.69314718055994530942;

template <typename T>
T* carve(void* base, size_t offset) {
  return reinterpret_cast<T*>(static_cast<char*>(base) + offset);
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
        frame_(carve<double>(slot_memory, l.frame)),
        norm_(carve<double>(slot_memory, l.frame2)),
        acc_(carve<double>(slot_memory, l.acc)),
        classes_(carve<int64_t>(slot_memory, l.classes)),
        state_class_(carve<int32_t>(slot_memory, l.state_class)),
        slot_(carve<int32_t>(slot_memory, l.slot)) {
    std::fill_n(slot_, p.num_classes, -1);
  }

  // Loss of utterance n; writes its gradient rows (all max_time of them) when grad != nullptr.
  double run(int64_t n, const scalar_t* inputs, const index_t* targets, int64_t target_offset,
             int64_t frames, int64_t target_len, double weight, scalar_t* grad, bool* used_log) {
    in_ = inputs + n * p_.in_stride_batch;
    grad_ = grad ? grad + n * p_.grad_stride_batch : nullptr;
    frames_ = frames;
    states_ = 2 * target_len + 1;
    weight_ = weight;
    *used_log = false;
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
        scaled_ok = log_offset == log_offset && (sweep_scaled<double>(log_offset, cost) ||
                                                 sweep_scaled<long double>(log_offset, cost));
      }
      if (!scaled_ok) {
        *used_log = true;
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
    double m = -kInf;
    for (int64_t c = 0; c < p_.num_classes; ++c) m = std::max(m, static_cast<double>(x[c]));
    if (m == -kInf) return -kInf;
    double sum = 0.0;
    for (int64_t c = 0; c < p_.num_classes; ++c) sum += std::exp(static_cast<double>(x[c]) - m);
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
    for (int64_t t = 0; t < T; ++t) {
      const scalar_t* x = frame_in(t);
      double m = -kInf;
      for (int64_t u = 0; u < num_classes_; ++u) {
        v[u] = static_cast<double>(x[classes_[u]]);
        m = std::max(m, v[u]);
      }
      if (!(m > -kInf)) return std::numeric_limits<double>::quiet_NaN();
      for (int64_t u = 0; u < num_classes_; ++u) v[u] = std::exp(v[u] - m);
      const double z = frame_norm(x);
      norm_[t] = z;
      log_offset += m - z;
      double* e = emit_row(t);
      const int64_t lo = window_lo(L, T, t), hi = window_hi(L, t);
      for (int64_t s = lo; s <= hi; ++s) e[s] = v[state_class_[s]];
    }
    return log_offset;
  }

  // Alpha and beta in real_t (double, then long double for its wider exponent range) on the
  // scaled emissions; false when underflow lost mass that matters.
  template <typename real_t>
  bool sweep_scaled(double log_offset, double& cost) {
    using Limits = std::numeric_limits<real_t>;
    // a frame sum below this means the scaled probabilities have (nearly) underflowed
    const real_t tiny = std::pow(real_t(2), real_t(Limits::min_exponent / 6 * 5));
    // largest overlap accepted (see the beta sweep)
    const real_t cap = std::pow(real_t(2), real_t(Limits::max_exponent / 6 * 5));
    const int64_t T = frames_, L = states_;
    real_t* const alpha = reinterpret_cast<real_t*>(alpha_);
    auto alpha_at = [&](int64_t t) { return alpha + t * row_ + 2; };
    double* const cum_log_scale = frame_;

    // alpha, renormalised to sum 1 over the window at every frame (Graves 2006, eq. 9-10)
    double log_scale = 0.0;
    for (int64_t t = 0; t < T; ++t) {
      real_t* __restrict a = alpha_at(t);
      const double* __restrict e = emit_row(t);
      const int64_t lo = window_lo(L, T, t), hi = window_hi(L, t);
      a[-2] = a[-1] = 0;
      real_t sum = 0;
      if (t == 0) {
        for (int64_t s = lo; s <= hi; ++s) sum += (a[s] = e[s]);
      } else {
        const real_t* __restrict prev = alpha_at(t - 1);
        const double* __restrict sk = skip_;
#pragma omp simd reduction(+ : sum)
        for (int64_t s = lo; s <= hi; ++s) {
          const real_t x = e[s] * (prev[s] + prev[s - 1] + sk[s] * prev[s - 2]);
          a[s] = x;
          sum += x;
        }
      }
      if (!(sum > tiny)) return false;
      const real_t inv = 1 / sum;
#pragma omp simd
      for (int64_t s = lo; s <= hi; ++s) a[s] *= inv;
      a[hi + 1] = a[hi + 2] = 0;
      log_scale += static_cast<double>(std::log(sum));
      cum_log_scale[t] = log_scale;
    }

    // Beta sweep with the gradient folded in; beta renormalised to sum 1 per frame, so alpha and
    // beta share the exponent range. Their overlap z = sum_s alpha_t(s) beta_t(s) can still be
    // far below 1 on long inputs whose past and future disagree: the products are taken as
    // (alpha * h) * (beta * h) with h = 2^j adjusted every frame to keep z near 1. In exact
    // arithmetic log z - 2 j log 2 + (alpha and beta log scales) is the log likelihood at every
    // frame: a frame where it is not (beyond rounding) lost mass that matters to underflow, and
    // the caller falls back.
    const double tol = 1e-9 + 1e-12 * static_cast<double>(T);
    real_t* __restrict b = reinterpret_cast<real_t*>(beta_) + 2;
    real_t* __restrict bt = reinterpret_cast<real_t*>(temp_) + 2;
    real_t* __restrict occ = reinterpret_cast<real_t*>(occ_) + 2;
    {
      const int64_t lo = window_lo(L, T, T - 1), hi = window_hi(L, T - 1);
      for (int64_t s = lo; s <= hi; ++s) b[s] = 1;
    }
    double log_beta_scale = 0.0;
    int j = 0;  // h = 2^j
    for (int64_t t = T - 1; t >= 0; --t) {
      const int64_t lo = window_lo(L, T, t), hi = window_hi(L, t);
      const real_t* __restrict a = alpha_at(t);
      const real_t h = std::ldexp(real_t(1), j);
      real_t z = 0;
#pragma omp simd reduction(+ : z)
      for (int64_t s = lo; s <= hi; ++s) {
        const real_t x = (a[s] * h) * (b[s] * h);
        occ[s] = x;
        z += x;
      }
      if (!(z > tiny && z < cap)) return false;
      const double log_z = static_cast<double>(std::log(z)) - 2.0 * j * kLn2;
      if (!(std::fabs(log_z + cum_log_scale[t] + log_beta_scale - log_scale) <= tol)) {
        return false;
      }
      if (grad_) write_grad_row(t, lo, hi, occ, 1 / z, x_row_norm(t));
      if (t == 0) break;
      int exponent;
      std::frexp(z, &exponent);
      j -= exponent / 2;  // next frame's overlap is close to this one's
      const double* __restrict e = emit_row(t);
#pragma omp simd
      for (int64_t s = lo; s <= hi; ++s) bt[s] = e[s] * b[s];
      bt[lo - 2] = bt[lo - 1] = 0;
      bt[hi + 1] = bt[hi + 2] = 0;
      const int64_t plo = window_lo(L, T, t - 1), phi = window_hi(L, t - 1);
      const double* __restrict sk = skip_;
      real_t sum = 0;
#pragma omp simd reduction(+ : sum)
      for (int64_t s = plo; s <= phi; ++s) {
        const real_t x = bt[s] + bt[s + 1] + sk[s + 2] * bt[s + 2];
        b[s] = x;
        sum += x;
      }
      if (!(sum > tiny)) return false;
      const real_t inv = 1 / sum;
#pragma omp simd
      for (int64_t s = plo; s <= phi; ++s) b[s] *= inv;
      log_beta_scale += static_cast<double>(std::log(sum));
    }
    cost = -(log_offset + log_scale);  // the last window holds only the final states
    return true;
  }

  double x_row_norm(int64_t t) const { return p_.logits ? norm_[t] : 0.0; }

  // Gradient row t from the occupancy numerators occ[lo..hi] scaled by inv_z.
  template <typename real_t>
  void write_grad_row(int64_t t, int64_t lo, int64_t hi, const real_t* occ, real_t inv_z,
                      double log_norm) {
    for (int64_t u = 0; u < num_classes_; ++u) acc_[u] = 0.0;
    for (int64_t s = lo; s <= hi; ++s) {
      acc_[state_class_[s]] += static_cast<double>(occ[s] * inv_z);
    }
    scalar_t* g = frame_grad(t);
    const double w = weight_;
    if (p_.logits) {
      const scalar_t* x = frame_in(t);
      for (int64_t c = 0; c < p_.num_classes; ++c) {
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
  double* frame_;
  double* norm_;
  double* acc_;
  int64_t* classes_;
  int32_t* state_class_;
  int32_t* slot_;
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
                  scalar_t* grad, uint8_t* used_log, void* workspace, int num_threads) {
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
      bool fell_back = false;
      costs[n] = worker.run(n, inputs, targets, target_offsets[n], input_lengths[n],
                            target_lengths[n], grad_weights ? grad_weights[n] : 1.0, grad,
                            &fell_back);
      if (used_log) used_log[n] = fell_back;
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
