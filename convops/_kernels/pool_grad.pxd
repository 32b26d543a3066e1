# The pooling gradients' runs of a planned call (pool_grad.pyx), for its def functions and
# fastpath.pyx's plain calls: one place that turns a plan into threads and chunks.
from convops._kernels.pool cimport PoolPlan

# max pooling's argmax (and window maxima) over `rows` output rows; `work` (rows * W_out * KH * KW
# * C) sets the thread count. Sets plan.failed if a task could not allocate its scratch row.
cdef void run_argmax(PoolPlan* plan, Py_ssize_t rows, Py_ssize_t work, int num_threads) noexcept nogil
# dx[n, argmax[n, j]] += dy[n, j] over `n_batch` whole images (plan.size_in, plan.size_out per image).
cdef void run_scatter(PoolPlan* plan, Py_ssize_t n_batch, int num_threads) noexcept nogil
# average pooling's gradient over `rows` input rows (N * H): every dx cell is written.
cdef void run_avg_grad(PoolPlan* plan, Py_ssize_t rows, int num_threads) noexcept nogil
