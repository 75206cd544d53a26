// Each part of the extension registers its Python bindings through one of these functions;
// module.cpp is the only translation unit that defines the module itself.
#pragma once

#include <pybind11/pybind11.h>

namespace carousel {

void bind_loss(pybind11::module_& m);    // loss/bind_loss.cpp
void bind_decode(pybind11::module_& m);  // decode/bind_decode.cpp

}  // namespace carousel
