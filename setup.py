"""Builds the compiled extension ``ctc._C``; everything else is declared in pyproject.toml.

C++ sources under ``ctc/csrc`` are always compiled (with OpenMP); ``.cu`` sources only when the
installed torch was built with CUDA and ``nvcc`` is found, in which case ``WITH_CUDA`` is defined.
"""

from __future__ import annotations

import glob
import os
import shutil

from setuptools import setup
from torch.utils import cpp_extension

CSRC = os.path.join("ctc", "csrc")


def _sources(pattern: str) -> list[str]:
    return sorted(glob.glob(os.path.join(CSRC, "**", pattern), recursive=True))


def _want_cuda() -> bool:
    import torch

    if os.environ.get("CAROUSEL_NO_CUDA") == "1":
        return False
    return torch.version.cuda is not None and (
        cpp_extension.CUDA_HOME is not None or shutil.which("nvcc") is not None
    )


def _extension():
    debug = os.environ.get("CAROUSEL_DEBUG") == "1"
    opt = ["-O0", "-g", "-DCAROUSEL_DEBUG"] if debug else ["-O3"]
    cxx = [*opt, "-std=c++20", "-fopenmp", "-march=x86-64-v3", "-fno-math-errno"]
    sources = _sources("*.cpp")
    # rpath to torch's libraries so that `import ctc._C` works before `import torch`
    torch_lib = os.path.join(os.path.dirname(cpp_extension.__file__), "..", "lib")
    link = ["-fopenmp", f"-Wl,-rpath,{os.path.realpath(torch_lib)}"]
    kwargs = {"extra_compile_args": {"cxx": cxx}, "extra_link_args": link}
    if _want_cuda():
        sources += _sources("*.cu")
        kwargs["extra_compile_args"]["cxx"].append("-DWITH_CUDA")
        kwargs["extra_compile_args"]["nvcc"] = [*opt, "-DWITH_CUDA", "--use_fast_math"]
        return cpp_extension.CUDAExtension("ctc._C", sources, **kwargs)
    return cpp_extension.CppExtension("ctc._C", sources, **kwargs)


# The Makefile installs with CAROUSEL_SKIP_EXT=1 and then builds in place with ninja, so that a
# fresh machine compiles the extension once; a plain `pip install -e .` builds it here.
setup(
    ext_modules=[] if os.environ.get("CAROUSEL_SKIP_EXT") == "1" else [_extension()],
    cmdclass={"build_ext": cpp_extension.BuildExtension.with_options(use_ninja=True)},
)
