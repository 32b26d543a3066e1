# The direct kernels on raw buffers, for the small-call fast path (fastpath.pyx): it has parsed
# the Python arguments and calls exactly these, as convops.conv would have.
from convops._kernels.common cimport floating

cdef int _direct(const floating* x, Py_ssize_t n_batch, Py_ssize_t height, Py_ssize_t width, Py_ssize_t c_in,
                 const floating* w, Py_ssize_t kh, Py_ssize_t kw, Py_ssize_t c_group, Py_ssize_t c_out,
                 floating* out, Py_ssize_t h_out, Py_ssize_t w_out, Py_ssize_t sh, Py_ssize_t sw,
                 Py_ssize_t dil_h, Py_ssize_t dil_w, Py_ssize_t pad_top, Py_ssize_t pad_left, Py_ssize_t groups,
                 int isa, int num_threads) except -1

cdef int _image(const floating* x, Py_ssize_t n_batch, Py_ssize_t height, Py_ssize_t width, const floating* w,
                Py_ssize_t kh, Py_ssize_t kw, floating* out, Py_ssize_t h_out, Py_ssize_t w_out, Py_ssize_t sh,
                Py_ssize_t dil_h, Py_ssize_t dil_w, Py_ssize_t pad_top, Py_ssize_t pad_left, int isa,
                int num_threads) noexcept
