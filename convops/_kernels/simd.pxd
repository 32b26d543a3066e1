# Instruction sets of the SIMD kernels, declared once (src/simd_isa.h). The Python layer chooses
# the instruction set of each call (convops.dispatch) and passes its index to the kernel; kernel
# modules cimport these names instead of keeping their own choice.
cdef extern from "simd_isa.h" nogil:
    int CONVOPS_ISA_BASE
    int CONVOPS_ISA_AVX2
    int CONVOPS_ISA_AVX512
    int CONVOPS_SIMD_AVAILABLE
    int convops_simd_supported(int isa)
    int convops_avx2_fewer_idle(Py_ssize_t channel_bytes)
    int convops_block_isa(int isa, Py_ssize_t channel_bytes, int avx512_halves)

# convops_block_isa with this CPU's answer to "512-bit FMAs in two halves?", measured on first need
# (simd.pyx): the instruction set a register-blocked conv kernel runs by default.
cdef int block_isa_here(int isa, Py_ssize_t channel_bytes) except -1
