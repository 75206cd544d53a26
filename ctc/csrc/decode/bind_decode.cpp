#include "../bindings.h"

namespace carousel {

void bind_decode(pybind11::module_& m) { (void)m; }

}  // namespace carousel
