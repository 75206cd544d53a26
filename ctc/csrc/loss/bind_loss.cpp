// Python binding of the CTC loss: validates tensors and lengths, allocates the output and the
// workspace, dispatches on dtype and device. The arithmetic is in ctc_loss_cpu.cpp / .cu.
#include <torch/extension.h>

#include <mutex>
#include <string>

#include "../bindings.h"
#include "ctc_loss.h"
#include "fma_rate.h"

#ifdef WITH_CUDA
#include <c10/cuda/CUDAStream.h>
#include <c10/cuda/CUDAGuard.h>
#endif

namespace carousel {
namespace {

namespace py = pybind11;

[[noreturn]] void fail(const std::string& message) { throw py::value_error(message); }

// Per-utterance offsets of the targets; checks lengths and labels, naming the utterance.
template <typename index_t>
std::vector<int64_t> check_targets(const torch::Tensor& targets, const int64_t* input_lengths,
                                   const int64_t* target_lengths, int64_t batch, int64_t frames,
                                   int64_t num_classes, int64_t blank) {
  const bool padded = targets.dim() == 2;
  const int64_t width = padded ? targets.size(1) : targets.numel();
  const index_t* data = targets.data_ptr<index_t>();
  std::vector<int64_t> offsets(batch);
  int64_t position = 0;
  for (int64_t n = 0; n < batch; ++n) {
    const int64_t tl = target_lengths[n], il = input_lengths[n];
    if (il < 0 || il > frames) {
      fail("ctc_loss: utterance " + std::to_string(n) + ": input length " + std::to_string(il) +
           " is outside [0, " + std::to_string(frames) + "] (the time dimension of log_probs)");
    }
    if (tl < 0) {
      fail("ctc_loss: utterance " + std::to_string(n) + ": negative target length " +
           std::to_string(tl));
    }
    offsets[n] = padded ? n * width : position;
    if (padded ? tl > width : position + tl > width) {
      fail("ctc_loss: utterance " + std::to_string(n) + ": target length " + std::to_string(tl) +
           (padded ? " exceeds the padded target width " + std::to_string(width)
                   : " runs past the end of the concatenated targets (" +
                         std::to_string(width) + " labels)"));
    }
    position += tl;
    for (int64_t i = 0; i < tl; ++i) {
      const int64_t k = static_cast<int64_t>(data[offsets[n] + i]);
      if (k < 0 || k >= num_classes || k == blank) {
        fail("ctc_loss: utterance " + std::to_string(n) + ": label " + std::to_string(k) +
             " at target position " + std::to_string(i) +
             (k == blank ? " equals the blank index"
                         : " is outside [0, " + std::to_string(num_classes) + ")"));
      }
    }
  }
  return offsets;
}

// A uint8 block kept between calls: reallocated only when it is not reusable, smaller than
// `bytes` or more than 4x larger (the old block is released before the new one is allocated).
void refit_block(torch::Tensor& block, int64_t bytes, bool reusable) {
  if (reusable && block.defined() && block.numel() >= bytes && block.numel() <= 4 * bytes) return;
  block = torch::Tensor();
  block = torch::empty({bytes}, torch::kUInt8);
}

// The CPU kernel's workspace (a few MiB per thread: O(sqrt(T)) rows, see ctc_loss.h) is kept
// between calls, so that a training loop does not map and fault in fresh pages every step (page
// faults and their zeroing measured 10-140 ms per call with the former O(T) workspace). A call
// made while another holds it gets a buffer of its own.
struct CpuWorkspace {
  std::unique_lock<std::mutex> lock;
  torch::Tensor buffer;
};

CpuWorkspace cpu_workspace(size_t bytes) {
  static std::mutex mutex;
  static torch::Tensor* cached = new torch::Tensor();  // never destroyed: outlives torch at exit
  const int64_t size = static_cast<int64_t>(std::max<size_t>(bytes, 64));
  std::unique_lock<std::mutex> lock(mutex, std::try_to_lock);
  if (!lock.owns_lock()) return {std::move(lock), torch::empty({size}, torch::kUInt8)};
  refit_block(*cached, size, /*reusable=*/true);
  return {std::move(lock), *cached};
}

// The gradient of a contiguous CPU input is carved from a block kept between calls once nothing
// else holds it (a training step frees the previous step's gradient before the next loss): a
// fresh (T, N, C) tensor costs page faults and the zeroing of every page on each call (32 x 400
// x 1000 float32: 24-28 ms per call fresh, 9 ms with the kept block; with huge pages 8-38 ms of
// system time, 190 ms when they had to be compacted). The kernel writes every element, so reused
// memory needs no clearing. Otherwise (another layout, a concurrent call) a new tensor; a block
// the caller still holds is left to it.
torch::Tensor cpu_gradient_like(const torch::Tensor& inputs) {
  static std::mutex mutex;
  static torch::Tensor* pool = new torch::Tensor();  // never destroyed: outlives torch at exit
  if (!inputs.is_contiguous()) return torch::empty_like(inputs, at::MemoryFormat::Preserve);
  const int64_t bytes = static_cast<int64_t>(inputs.nbytes());
  std::unique_lock<std::mutex> lock(mutex, std::try_to_lock);
  if (!lock.owns_lock() || bytes == 0) return torch::empty_like(inputs);
  refit_block(*pool, bytes, /*reusable=*/pool->defined() && pool->storage().use_count() == 1);
  return torch::empty({0}, inputs.options())
      .set_(pool->storage(), 0, inputs.sizes(), inputs.strides());
}

torch::Tensor int64_lengths(const torch::Tensor& lengths, int64_t batch, const char* name) {
  if (lengths.dim() != 1 || lengths.size(0) != batch) {
    fail(std::string("ctc_loss: ") + name + " must have shape (batch,) = (" +
         std::to_string(batch) + ",)");
  }
  if (lengths.is_floating_point() || lengths.is_complex()) {
    fail(std::string("ctc_loss: ") + name + " must hold integers");
  }
  return lengths.to(torch::kCPU, torch::kInt64).contiguous();
}

// Returns (costs float64 (N,), gradient or None, numerics_used uint8 (N,): 0 block-scaled
// double, 1 log space; always 1 on CUDA).
py::tuple ctc_loss(torch::Tensor inputs, torch::Tensor targets, torch::Tensor input_lengths,
                   torch::Tensor target_lengths, int64_t blank, bool batch_first, bool logits,
                   c10::optional<torch::Tensor> grad_weights, bool want_grad, int numerics) {
  if (inputs.dim() != 3) {
    fail(std::string("ctc_loss: log_probs must be 3-D ") +
         (batch_first ? "(batch, time, classes)" : "(time, batch, classes)") + ", got " +
         std::to_string(inputs.dim()) + "-D");
  }
  if (inputs.scalar_type() != torch::kFloat && inputs.scalar_type() != torch::kDouble) {
    fail("ctc_loss: log_probs must be float32 or float64");
  }
  if (targets.scalar_type() != torch::kInt && targets.scalar_type() != torch::kLong) {
    fail("ctc_loss: targets must be int32 or int64");
  }
  if (targets.dim() != 1 && targets.dim() != 2) {
    fail("ctc_loss: targets must be padded (batch, max_target) or concatenated (sum(lengths),)");
  }
  if (inputs.stride(2) != 1) inputs = inputs.contiguous();
  const int64_t time_dim = batch_first ? 1 : 0, batch_dim = batch_first ? 0 : 1;
  const int64_t frames = inputs.size(time_dim), batch = inputs.size(batch_dim);
  const int64_t num_classes = inputs.size(2);
  if (blank < 0 || blank >= num_classes) {
    fail("ctc_loss: blank " + std::to_string(blank) + " is outside [0, " +
         std::to_string(num_classes) + ")");
  }
  if (targets.dim() == 2 && targets.size(0) != batch) {
    fail("ctc_loss: padded targets have " + std::to_string(targets.size(0)) +
         " rows for a batch of " + std::to_string(batch));
  }
  const torch::Tensor il = int64_lengths(input_lengths, batch, "input_lengths");
  const torch::Tensor tl = int64_lengths(target_lengths, batch, "target_lengths");
  const torch::Tensor host_targets = targets.to(torch::kCPU).contiguous();
  std::vector<int64_t> offsets;
  AT_DISPATCH_INDEX_TYPES(host_targets.scalar_type(), "ctc_loss_check", [&] {
    offsets = check_targets<index_t>(host_targets, il.data_ptr<int64_t>(),
                                     tl.data_ptr<int64_t>(), batch, frames, num_classes, blank);
  });
  const int64_t* tl_data = tl.data_ptr<int64_t>();
  const int64_t max_target = batch ? *std::max_element(tl_data, tl_data + batch) : 0;

  const auto device = inputs.device();
  auto f64 = torch::TensorOptions().dtype(torch::kDouble).device(device);
  torch::Tensor costs = torch::empty({batch}, f64);
  torch::Tensor numerics_used = torch::full({batch}, device.is_cpu() ? 0 : 1, torch::kUInt8);
  torch::Tensor grad;
  if (want_grad) {
    grad = device.is_cpu() ? cpu_gradient_like(inputs)
                           : torch::empty_like(inputs, at::MemoryFormat::Preserve);
  }
  torch::Tensor weights;
  if (grad_weights.has_value()) {
    weights = grad_weights->to(device, torch::kDouble).contiguous();
    if (weights.numel() != batch) fail("ctc_loss: grad_weights must have shape (batch,)");
  }

  ctc::Problem problem;
  problem.batch = batch;
  problem.max_time = frames;
  problem.max_target = max_target;
  problem.num_classes = num_classes;
  problem.in_stride_time = inputs.stride(time_dim);
  problem.in_stride_batch = inputs.stride(batch_dim);
  problem.grad_stride_time = want_grad ? grad.stride(time_dim) : 0;
  problem.grad_stride_batch = want_grad ? grad.stride(batch_dim) : 0;
  problem.blank = blank;
  problem.logits = logits;
  problem.numerics = numerics == 1 ? ctc::Numerics::kLog : ctc::Numerics::kAuto;
  if (batch == 0) return py::make_tuple(costs, want_grad ? py::cast(grad) : py::none(), numerics_used);

  if (device.is_cpu()) {
    const int threads = std::max(1, std::min<int>(at::get_num_threads(), static_cast<int>(batch)));
    CpuWorkspace workspace =
        cpu_workspace(ctc::workspace_size(frames, max_target, num_classes, threads, /*cpu=*/true));
    AT_DISPATCH_FLOATING_TYPES(inputs.scalar_type(), "ctc_loss_cpu", [&] {
      AT_DISPATCH_INDEX_TYPES(host_targets.scalar_type(), "ctc_loss_cpu", [&] {
        py::gil_scoped_release no_gil;
        ctc::ctc_loss_cpu<scalar_t, index_t>(
            problem, inputs.data_ptr<scalar_t>(), host_targets.data_ptr<index_t>(),
            offsets.data(), il.data_ptr<int64_t>(), tl.data_ptr<int64_t>(),
            weights.defined() ? weights.data_ptr<double>() : nullptr, costs.data_ptr<double>(),
            want_grad ? grad.data_ptr<scalar_t>() : nullptr, numerics_used.data_ptr<uint8_t>(),
            workspace.buffer.data_ptr(), threads);
      });
    });
    return py::make_tuple(costs, want_grad ? py::cast(grad) : py::none(), numerics_used);
  }
#ifdef WITH_CUDA
  if (device.is_cuda()) {
    c10::cuda::CUDAGuard guard(device);
    auto on_device = [&](const torch::Tensor& t) { return t.to(device).contiguous(); };
    const torch::Tensor d_targets = on_device(host_targets);
    const torch::Tensor d_offsets = on_device(torch::tensor(offsets, torch::kInt64));
    const torch::Tensor d_il = on_device(il), d_tl = on_device(tl);
    torch::Tensor workspace = torch::empty(
        {static_cast<int64_t>(
            ctc::workspace_size(frames, max_target, num_classes, batch, /*cpu=*/false))},
        torch::TensorOptions().dtype(torch::kUInt8).device(device));
    int status = 0;
    AT_DISPATCH_FLOATING_TYPES(inputs.scalar_type(), "ctc_loss_cuda", [&] {
      AT_DISPATCH_INDEX_TYPES(d_targets.scalar_type(), "ctc_loss_cuda", [&] {
        status = ctc::ctc_loss_cuda<scalar_t, index_t>(
            problem, inputs.data_ptr<scalar_t>(), d_targets.data_ptr<index_t>(),
            d_offsets.data_ptr<int64_t>(), d_il.data_ptr<int64_t>(), d_tl.data_ptr<int64_t>(),
            weights.defined() ? weights.data_ptr<double>() : nullptr, costs.data_ptr<double>(),
            want_grad ? grad.data_ptr<scalar_t>() : nullptr, workspace.data_ptr(),
            c10::cuda::getCurrentCUDAStream().stream());
      });
    });
    TORCH_CHECK(status == 0, "ctc_loss: CUDA kernel failed with error ", status);
    return py::make_tuple(costs, want_grad ? py::cast(grad) : py::none(), numerics_used);
  }
#endif
  fail("ctc_loss: unsupported device " + device.str());
}

}  // namespace

void bind_loss(pybind11::module_& m) {
  m.def("ctc_loss", &ctc_loss, py::arg("inputs"), py::arg("targets"), py::arg("input_lengths"),
        py::arg("target_lengths"), py::arg("blank"), py::arg("batch_first"), py::arg("logits"),
        py::arg("grad_weights"), py::arg("want_grad"), py::arg("numerics"),
        "CTC negative log-likelihood per utterance (float64) and, if want_grad, its gradient "
        "w.r.t. the inputs (exact d loss / d log_probs, or softmax - occupancy for logits), "
        "scaled per utterance by grad_weights. Returns (costs, grad or None, numerics_used: 0 scaled, 1 log).");
  m.def("fma_rate", &ctc::fma_rate, py::arg("threads"), py::arg("seconds") = 0.5,
        py::call_guard<py::gil_scoped_release>(),
        "Double-precision fused multiply-adds per second that `threads` threads issue together "
        "on four-double vectors (the CTC kernel's width): the arithmetic limit of benchmarks.");
}

}  // namespace carousel
