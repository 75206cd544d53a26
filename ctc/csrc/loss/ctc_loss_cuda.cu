// CUDA CTC loss: one thread block per utterance, threads striding over the states s (no cap on
// the target length), frames sequential with a barrier per frame. Exact log-space recursion in
// double (see ctc_loss.h for conventions and the gradient each mode returns). The gradient is
// reduced per class without atomics: the states of each class are listed once per utterance
// (CSR), and one thread sums a class's states in that fixed order, so results are
// deterministic. Framework-free: raw device pointers and a cudaStream_t.
#include <cuda_runtime.h>

#include <cstdint>

#include "ctc_loss.h"

namespace carousel::ctc {
namespace {

constexpr int kThreads = 256;

template <typename T>
__device__ T* carve(void* base, size_t offset) {
  return reinterpret_cast<T*>(static_cast<char*>(base) + offset);
}

__device__ inline double log_add2(double a, double b) { return log_add3(a, b, -INFINITY); }

template <typename scalar_t, typename index_t>
__global__ void __launch_bounds__(kThreads)
    ctc_loss_kernel(Problem p, Layout l, const scalar_t* __restrict__ inputs,
                    const index_t* __restrict__ targets, const int64_t* __restrict__ offsets,
                    const int64_t* __restrict__ input_lengths,
                    const int64_t* __restrict__ target_lengths,
                    const double* __restrict__ grad_weights, double* __restrict__ costs,
                    scalar_t* __restrict__ grad, void* workspace) {
  const int64_t n = blockIdx.x;
  const int tid = threadIdx.x;
  void* slot = static_cast<char*>(workspace) + l.bytes * n;
  double* emit = carve<double>(slot, l.emit);
  double* alpha = carve<double>(slot, l.alpha);
  double* beta = carve<double>(slot, l.beta);
  double* beta_next = carve<double>(slot, l.temp);
  double* occ = carve<double>(slot, l.occ);
  double* norm = carve<double>(slot, l.norm);
  double* acc = carve<double>(slot, l.acc);
  int64_t* classes = carve<int64_t>(slot, l.classes);
  int32_t* state_class = carve<int32_t>(slot, l.state_class);
  int32_t* class_states = carve<int32_t>(slot, l.class_states);
  int32_t* class_start = carve<int32_t>(slot, l.class_start);
  int32_t* class_slot = carve<int32_t>(slot, l.slot);
  __shared__ int64_t shared_count[2];  // distinct classes, adjacent repeats
  __shared__ double shared_log_likelihood;

  const int64_t T = input_lengths[n], S = target_lengths[n], L = 2 * S + 1;
  const int64_t C = p.num_classes, row = l.row;
  const index_t* target = targets + offsets[n];
  const scalar_t* x = inputs + n * p.in_stride_batch;
  scalar_t* g = grad ? grad + n * p.grad_stride_batch : nullptr;
  const double w = grad_weights ? grad_weights[n] : 1.0;

  // padding frames: zero gradient
  if (g) {
    for (int64_t i = T * C + tid; i < p.max_time * C; i += kThreads) {
      g[(i / C) * p.grad_stride_time + i % C] = scalar_t(0);
    }
  }
  for (int64_t c = tid; c < C; c += kThreads) class_slot[c] = -1;
  __syncthreads();

  // distinct classes (blank first), state -> class, and the states of each class (CSR)
  if (tid == 0) {
    int64_t count = 0, repeats = 0;
    class_slot[p.blank] = 0;
    classes[count++] = p.blank;
    for (int64_t i = 0; i < S; ++i) {
      const int64_t k = static_cast<int64_t>(target[i]);
      if (class_slot[k] < 0) {
        class_slot[k] = static_cast<int32_t>(count);
        classes[count++] = k;
      }
      repeats += i > 0 && static_cast<int64_t>(target[i - 1]) == k;
    }
    for (int64_t s = 0; s < L; ++s) {
      state_class[s] = s % 2 == 0 ? 0 : class_slot[static_cast<int64_t>(target[s / 2])];
    }
    for (int64_t u = 0; u <= count; ++u) class_start[u] = 0;
    for (int64_t s = 0; s < L; ++s) ++class_start[state_class[s] + 1];
    for (int64_t u = 0; u < count; ++u) class_start[u + 1] += class_start[u];
    for (int64_t u = 0; u < count; ++u) acc[u] = 0.0;  // used as fill cursor below
    for (int64_t s = 0; s < L; ++s) {
      const int32_t u = state_class[s];
      class_states[class_start[u] + static_cast<int32_t>(acc[u])] = static_cast<int32_t>(s);
      acc[u] += 1.0;
    }
    shared_count[0] = count;
    shared_count[1] = repeats;
  }
  __syncthreads();
  const int64_t num_classes = shared_count[0];
  const bool feasible = T > 0 ? T >= S + shared_count[1] : S == 0;

  if (T == 0 || !feasible) {
    if (tid == 0) costs[n] = feasible ? 0.0 : INFINITY;
    if (g) {
      for (int64_t i = tid; i < T * C; i += kThreads) {
        g[(i / C) * p.grad_stride_time + i % C] = scalar_t(0);
      }
    }
    return;
  }

  // per-frame log normaliser (logits mode), then log emissions
  for (int64_t t = tid; t < T; t += kThreads) {
    double z = 0.0;
    if (p.logits) {
      const scalar_t* xt = x + t * p.in_stride_time;
      double m = -INFINITY;
      for (int64_t c = 0; c < C; ++c) m = fmax(m, static_cast<double>(xt[c]));
      double sum = 0.0;
      for (int64_t c = 0; c < C; ++c) sum += exp(static_cast<double>(xt[c]) - m);
      z = m == -INFINITY ? -INFINITY : m + log(sum);
    }
    norm[t] = z;
  }
  __syncthreads();
  for (int64_t i = tid; i < T * L; i += kThreads) {
    const int64_t t = i / L, s = i % L;
    const int64_t k = classes[state_class[s]];
    emit[t * row + s] = static_cast<double>(x[t * p.in_stride_time + k]) - norm[t];
  }
  __syncthreads();

  auto can_skip = [&](int64_t s) {  // state s may be entered from s - 2
    return s % 2 == 1 && s >= 3 && target[s / 2] != target[s / 2 - 1];
  };

  // alpha
  for (int64_t s = tid; s < L; s += kThreads) alpha[s] = s < 2 ? emit[s] : -INFINITY;
  __syncthreads();
  for (int64_t t = 1; t < T; ++t) {
    const double* prev = alpha + (t - 1) * row;
    double* cur = alpha + t * row;
    for (int64_t s = tid; s < L; s += kThreads) {
      const double a = prev[s];
      const double b = s >= 1 ? prev[s - 1] : -INFINITY;
      const double c = can_skip(s) ? prev[s - 2] : -INFINITY;
      cur[s] = emit[t * row + s] + log_add3(a, b, c);
    }
    __syncthreads();
  }
  if (tid == 0) {
    const double* last = alpha + (T - 1) * row;
    shared_log_likelihood = L >= 2 ? log_add2(last[L - 1], last[L - 2]) : last[L - 1];
  }
  __syncthreads();
  const double log_likelihood = shared_log_likelihood;
  if (tid == 0) costs[n] = -log_likelihood;
  if (!(log_likelihood > -INFINITY)) {
    if (g) {
      for (int64_t i = tid; i < T * C; i += kThreads) {
        g[(i / C) * p.grad_stride_time + i % C] = scalar_t(0);
      }
    }
    return;
  }
  if (!g) return;

  // beta (emission at t excluded), gradient row by row
  for (int64_t s = tid; s < L; s += kThreads) beta[s] = s >= L - 2 ? 0.0 : -INFINITY;
  __syncthreads();
  for (int64_t t = T - 1; t >= 0; --t) {
    const double* a = alpha + t * row;
    for (int64_t s = tid; s < L; s += kThreads) occ[s] = exp(a[s] + beta[s] - log_likelihood);
    __syncthreads();
    for (int64_t u = tid; u < num_classes; u += kThreads) {
      double sum = 0.0;
      for (int32_t i = class_start[u]; i < class_start[u + 1]; ++i) sum += occ[class_states[i]];
      acc[u] = sum;
    }
    __syncthreads();
    const scalar_t* xt = x + t * p.in_stride_time;
    scalar_t* gt = g + t * p.grad_stride_time;
    for (int64_t c = tid; c < C; c += kThreads) {
      const double base = p.logits ? exp(static_cast<double>(xt[c]) - norm[t]) : 0.0;
      const int32_t u = class_slot[c];
      gt[c] = static_cast<scalar_t>(w * (base - (u >= 0 ? acc[u] : 0.0)));
    }
    if (t > 0) {
      const double* e = emit + t * row;
      for (int64_t s = tid; s < L; s += kThreads) {
        const double a0 = beta[s] + e[s];
        const double a1 = s + 1 < L ? beta[s + 1] + e[s + 1] : -INFINITY;
        const double a2 = s + 2 < L && can_skip(s + 2) ? beta[s + 2] + e[s + 2] : -INFINITY;
        beta_next[s] = log_add3(a0, a1, a2);
      }
    }
    __syncthreads();
    double* swap = beta;
    beta = beta_next;
    beta_next = swap;
  }
}

}  // namespace

template <typename scalar_t, typename index_t>
int ctc_loss_cuda(const Problem& problem, const scalar_t* inputs, const index_t* targets,
                  const int64_t* target_offsets, const int64_t* input_lengths,
                  const int64_t* target_lengths, const double* grad_weights, double* costs,
                  scalar_t* grad, void* workspace, void* stream) {
  if (problem.batch == 0) return 0;
  const Layout layout =
      make_layout(problem.max_time, problem.max_target, problem.num_classes, /*cpu=*/false);
  ctc_loss_kernel<scalar_t, index_t>
      <<<static_cast<unsigned>(problem.batch), kThreads, 0, static_cast<cudaStream_t>(stream)>>>(
          problem, layout, inputs, targets, target_offsets, input_lengths, target_lengths,
          grad_weights, costs, grad, workspace);
  return static_cast<int>(cudaGetLastError());
}

#define CAROUSEL_INSTANTIATE(S, I)                                                           \
  template int ctc_loss_cuda<S, I>(const Problem&, const S*, const I*, const int64_t*,       \
                                   const int64_t*, const int64_t*, const double*, double*, S*, \
                                   void*, void*);
CAROUSEL_INSTANTIATE(float, int32_t)
CAROUSEL_INSTANTIATE(float, int64_t)
CAROUSEL_INSTANTIATE(double, int32_t)
CAROUSEL_INSTANTIATE(double, int64_t)
#undef CAROUSEL_INSTANTIATE

}  // namespace carousel::ctc
