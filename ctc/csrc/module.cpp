#include <torch/extension.h>

#include "bindings.h"

PYBIND11_MODULE(_C, m) {
  m.doc() = "carousel compiled core: CTC loss (CPU/CUDA) and CTC decoding";
#ifdef WITH_CUDA
  m.attr("with_cuda") = true;
#else
  m.attr("with_cuda") = false;
#endif
  carousel::bind_loss(m);
  carousel::bind_decode(m);
}
