# Fused types shared by the kernel modules, declared once.
#
# Index names used throughout the kernels: n (batch), oy/ox (output row/column), ky/kx (filter
# tap), c (channel), sh/sw (strides), dil_h/dil_w (dilations), top/left (padding before).
from cython cimport floating  # float, double

# BLAS takes C ints: every dimension of a GEMM call stays at most this (2**31 - 1).
cdef enum:
    BLAS_INT_MAX = 2147483647

ctypedef fused pool_t:
    signed char
    short
    int
    long long
    unsigned char
    unsigned short
    float
    double

ctypedef fused index_t:
    int
    long long
