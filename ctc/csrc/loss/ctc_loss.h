// CTC negative log-likelihood and its gradient (Graves et al. 2006, "Connectionist Temporal
// Classification", sec. 4.1-4.2): framework-free templates over raw pointers.
//
// Conventions (one utterance, T frames, target l of length S, extended target l' of length
// L = 2S + 1 with blanks between labels and at both ends):
//   alpha_t(s) = sum over prefixes of paths that are in state s at frame t, emission at t included
//                (Graves eq. 5-7);
//   beta_t(s)  = sum over suffixes of paths leaving state s at frame t, emission at t EXCLUDED,
//                so that for every t:  p(l|x) = sum_s alpha_t(s) beta_t(s)        (cf. eq. 14).
// Occupancy gamma_t(k) = sum_{s: l'_s = k} alpha_t(s) beta_t(s) / p(l|x): the posterior
// probability that frame t emits class k.  With y = the input scores:
//   log-prob input:  d(-log p) / d y[t, k] = -gamma_t(k)               (exact, no normalisation
//                    assumed: gradcheck holds on y itself);
//   logits input:    y are raw logits normalised by log_softmax inside the kernel and
//                    d(-log p) / d y[t, k] = softmax(y_t)_k - gamma_t(k).
//
// Two numerics on the CPU, chosen per utterance:
//   scaled: probabilities, emissions divided by their largest value over the utterance's label
//           set at each frame, alpha and beta stored as double mantissas with one power-of-two
//           exponent per block of 32 states and frame (block floating point, in the spirit of
//           Graves 2006 eq. 9-10 scaling but with a far wider range): three multiply-adds per
//           cell, vectorised over s. At every frame sum_s alpha_t(s) beta_t(s) must equal the
//           forward likelihood; a frame where it does not (beyond rounding) lost mass to
//           underflow (e.g. emission log-probs near -1000), and the utterance is recomputed in
//   log:    the exact log-space recursion with an -inf-safe three-term logsumexp.
// Memory on the CPU is O(sqrt(T)) rows per thread, not O(T): alpha is kept at one checkpoint
// frame per segment of `segment` frames, and each segment is recomputed from its checkpoint
// just before the beta sweep reaches it (checkpointing, Griewank 1992 "Achieving logarithmic
// growth of temporal and spatial complexity in reverse automatic differentiation"; for HMMs
// Tarnas & Hughey 1998, "Reduced space hidden Markov model training"). The segment is sized to
// stay in the core's L2 cache, so the beta sweep reads alpha from cache, not from memory; when
// the whole utterance fits, there is one segment and nothing is recomputed.
// The CUDA kernel uses the log-space recursion only, with all T rows of alpha.
// Memory belongs to the caller: workspace_size() gives the bytes, and the same Layout is used
// by the kernels to carve it.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>

#if defined(__CUDACC__)
#define CAROUSEL_HD __host__ __device__
#else
#define CAROUSEL_HD
#endif

namespace carousel::ctc {

enum class Numerics : int32_t { kAuto = 0, kLog = 1 };

// Shapes and strides of one call. Strides are in elements; the class stride is 1.
struct Problem {
  int64_t batch = 0;        // N
  int64_t max_time = 0;     // T: frames in the input tensor
  int64_t max_target = 0;   // S: largest target length in the batch
  int64_t num_classes = 0;  // C
  int64_t in_stride_time = 0, in_stride_batch = 0;
  int64_t grad_stride_time = 0, grad_stride_batch = 0;
  int64_t blank = 0;
  bool logits = false;      // inputs are raw logits (fused log_softmax)
  Numerics numerics = Numerics::kAuto;
};

// Per-slot workspace: a slot is one CPU thread or one GPU utterance. Offsets in bytes.
struct Layout {
  int64_t row = 0;       // doubles per padded state row (CPU: states s live at [4, 4 + L))
  int64_t segment = 0;   // frames of alpha and emissions held at once (GPU: all T)
  int64_t checkpoints = 0;  // alpha rows kept at segment starts (CPU only)
  int64_t class_width = 0;  // doubles per frame of per-class emissions (CPU only)
  int64_t blocks = 0;    // exponents per row: blocks of 32 states, plus sentinels (CPU only)
  size_t emit = 0;       // segment x row  doubles: emissions (scaled or log)
  size_t alpha = 0;      // segment x row  doubles
  size_t alpha_exp = 0;  // segment x blocks int32: block exponents of alpha (CPU)
  size_t checkpoint = 0;      // checkpoints x row doubles (CPU)
  size_t checkpoint_exp = 0;  // checkpoints x blocks int32 (CPU)
  size_t values = 0;     // T x class_width doubles: scaled emission of each distinct class (CPU)
  size_t beta = 0;       // row      doubles: beta_t
  size_t temp = 0;       // row      doubles: emission * beta_t
  size_t occ = 0;        // row      doubles: alpha_t * beta_t
  size_t skip = 0;       // row      doubles: 1 where state s may be entered from s - 2
  size_t beta_exp = 0;   // 2 x blocks int32: block exponents of beta and of emission * beta (CPU)
  size_t norm = 0;       // T        doubles: per-frame log normaliser (logits mode)
  size_t scale = 0;      // T        doubles: exp(largest label-class score - log normaliser) (CPU)
  size_t acc = 0;        // S + 1    doubles: occupancy per distinct class
  size_t classes = 0;    // S + 1    int64: distinct classes, blank first
  size_t state_class = 0;  // row    int32: state -> index into classes
  size_t class_states = 0; // row    int32: states grouped by class (CSR, used on GPU)
  size_t class_start = 0;  // S + 2  int32: CSR offsets into class_states
  size_t slot = 0;       // C        int32: class -> index into classes, or -1
  size_t scratch = 0;    // C        doubles: one frame's exponentials (CPU)
  size_t bytes = 0;      // total per slot
};

CAROUSEL_HD inline size_t align_up(size_t bytes) { return (bytes + 63) / 64 * 64; }

// Bytes of alpha and emission rows a CPU segment may hold: half of a 2 MiB L2 cache, so that the
// recomputed segment is still in cache when the beta sweep reads it back.
constexpr size_t kCpuSegmentBytes = size_t{1024} << 10;

// Frames per CPU segment: as many as fit kCpuSegmentBytes, at least sqrt(T) (which bounds the
// checkpoints plus the segment at 2 sqrt(T) rows when rows are too wide for the cache), at most T.
CAROUSEL_HD inline int64_t cpu_segment_frames(int64_t max_time, int64_t row) {
  const int64_t t = max_time > 0 ? max_time : 1;
  int64_t k = static_cast<int64_t>(kCpuSegmentBytes / (2 * sizeof(double) * static_cast<size_t>(row)));
  int64_t root = 1;
  while (root * root < t) ++root;
  k = k > root ? k : root;
  k = k > 2 ? k : 2;
  return k < t ? k : t;
}

// `cpu`: the layout of the CPU kernel (segments, checkpoints, per-class emissions, block
// exponents); otherwise the GPU's (all T rows, log space).
CAROUSEL_HD inline Layout make_layout(int64_t max_time, int64_t max_target, int64_t num_classes,
                                      bool cpu) {
  Layout l;
  const int64_t states = 2 * max_target + 1;
  l.row = (states + 12 + 7) / 8 * 8;  // CPU: 4 doubles before, >= 8 after the states
  const int64_t frames = max_time > 0 ? max_time : 1;
  const size_t t = static_cast<size_t>(frames);
  const size_t row = static_cast<size_t>(l.row);
  const size_t s1 = static_cast<size_t>(max_target + 1);
  if (cpu) {
    l.segment = cpu_segment_frames(frames, l.row);
    l.checkpoints = (frames + l.segment - 1) / l.segment;
    const int64_t width = max_target + 1 < num_classes ? max_target + 1 : num_classes;
    l.class_width = (width + 3) / 4 * 4;
    l.blocks = l.row / 32 + 3;
  } else {
    l.segment = frames;
  }
  const size_t seg = static_cast<size_t>(l.segment);
  const size_t ckpt = static_cast<size_t>(l.checkpoints);
  const size_t blocks = static_cast<size_t>(l.blocks);
  size_t at = 0;
  auto take = [&at](size_t bytes) {
    const size_t here = at;
    at += align_up(bytes);
    return here;
  };
  l.emit = take(seg * row * sizeof(double));
  l.alpha = take(seg * row * sizeof(double));
  l.alpha_exp = take(seg * blocks * sizeof(int32_t));
  l.checkpoint = take(ckpt * row * sizeof(double));
  l.checkpoint_exp = take(ckpt * blocks * sizeof(int32_t));
  l.values = take((cpu ? t : 0) * static_cast<size_t>(l.class_width) * sizeof(double));
  l.beta = take(row * sizeof(double));
  l.temp = take(row * sizeof(double));
  l.occ = take(row * sizeof(double));
  l.skip = take(row * sizeof(double));
  l.beta_exp = take(2 * blocks * sizeof(int32_t));
  l.norm = take(t * sizeof(double));
  l.scale = take((cpu ? t : 0) * sizeof(double));
  l.acc = take(s1 * sizeof(double));
  l.classes = take(s1 * sizeof(int64_t));
  l.state_class = take(row * sizeof(int32_t));
  l.class_states = take(row * sizeof(int32_t));
  l.class_start = take((s1 + 1) * sizeof(int32_t));
  l.slot = take(static_cast<size_t>(num_classes) * sizeof(int32_t));
  l.scratch = take((cpu ? static_cast<size_t>(num_classes) : 0) * sizeof(double));
  l.bytes = at;
  return l;
}

// The one size function: bytes of workspace for `slots` slots (CPU: threads; GPU: utterances).
CAROUSEL_HD inline size_t workspace_size(int64_t max_time, int64_t max_target,
                                         int64_t num_classes, int64_t slots, bool cpu) {
  return make_layout(max_time, max_target, num_classes, cpu).bytes * static_cast<size_t>(slots);
}

// Window of states that can lie on a complete path at frame t of T (0-based): at most two
// states are advanced per frame, from the start (s <= 2t + 1) and towards the end.
CAROUSEL_HD inline int64_t window_lo(int64_t states, int64_t frames, int64_t t) {
  const int64_t lo = states - 2 * (frames - t);
  return lo > 0 ? lo : 0;
}
CAROUSEL_HD inline int64_t window_hi(int64_t states, int64_t t) {
  const int64_t hi = 2 * t + 1;
  return hi < states - 1 ? hi : states - 1;
}

// log(exp(a) + exp(b) + exp(c)) without branches; -inf when all three are -inf, never NaN.
CAROUSEL_HD inline double log_add3(double a, double b, double c) {
  const double m = fmax(a, fmax(b, c));
  const double base = m == -INFINITY ? 0.0 : m;
  return base + log(exp(a - base) + exp(b - base) + exp(c - base));
}

// ---------------------------------------------------------------------------------------------
// CPU: one utterance at a time on the calling thread; the OpenMP driver is in ctc_loss_cpu.cpp.
// ---------------------------------------------------------------------------------------------

template <typename scalar_t, typename index_t>
void ctc_loss_cpu(const Problem& problem, const scalar_t* inputs, const index_t* targets,
                  const int64_t* target_offsets, const int64_t* input_lengths,
                  const int64_t* target_lengths, const double* grad_weights, double* costs,
                  scalar_t* grad, uint8_t* numerics_used, void* workspace, int num_threads);

#if defined(WITH_CUDA) || defined(__CUDACC__)
// GPU: one block per utterance. Same arguments; all pointers on the device; `stream` is a
// cudaStream_t. Log-space numerics only. Returns a cudaError_t as int.
template <typename scalar_t, typename index_t>
int ctc_loss_cuda(const Problem& problem, const scalar_t* inputs, const index_t* targets,
                  const int64_t* target_offsets, const int64_t* input_lengths,
                  const int64_t* target_lengths, const double* grad_weights, double* costs,
                  scalar_t* grad, void* workspace, void* stream);
#endif

}  // namespace carousel::ctc
