/* The optimizers' updates (convops/nn/optimizers.py), one pass per variable, for
 * convops/_kernels/nn.pyx.
 *
 * Each loop is the NumPy reference (the optimizer's `_update_reference`) element by element: the
 * same operations on the same values in the same order, each rounded to the element type, so the
 * same bits (tests/test_nn_optimizers.py). setup.py compiles nn with -ffp-contract=off, so a
 * multiply then an add stays two roundings, and -fno-math-errno, so sqrt is one instruction.
 *
 * Why C: `restrict` -- the caller guarantees that no two arrays share memory (the slots are the
 * optimizer's own; optimizers.py sends a gradient that overlaps its variable to the reference) --
 * lets the compiler vectorise the loops, divisions and square roots included, for the
 * portable target. The same loops over Cython memoryviews ran one element at a time: slower than
 * NumPy's passes (205 vs 114 us on a 73,728-element variable, Zen 3).
 *
 * A scalar argument arrives in the element type (a Python float rounded once, as NumPy rounds a
 * Python scalar in an expression with a float32 array), except Adam's `alpha`: a float64 scalar
 * in the reference, which makes NumPy compute m*alpha and the quotient in double. */
#ifndef CONVOPS_NN_OPTIM_H
#define CONVOPS_NN_OPTIM_H
#include <math.h>
#include <stddef.h>

#include "simd_isa.h"

#define CONVOPS_OPTIM_DEFINE(T, SUFFIX, SQRT)                                                             \
    /* v = v*rho + (1-rho)*g*g; d = v + eps, or (v - a*a) + eps with a = a*rho + (1-rho)*g when          \
     * centered; inc = g*lr / sqrt(d); var -= inc, or m = m*momentum + inc and var -= m. */              \
    static void convops_rmsprop_##SUFFIX(ptrdiff_t n, T* CONVOPS_RESTRICT var, const T* CONVOPS_RESTRICT grad,            \
                                         T* CONVOPS_RESTRICT velocity, T* CONVOPS_RESTRICT average, T* CONVOPS_RESTRICT mom,       \
                                         T lr, T rho, T one_minus_rho, T epsilon, T momentum)              \
    {                                                                                                      \
        ptrdiff_t i;                                                                                       \
        if (average == NULL && mom == NULL) {                                                              \
            for (i = 0; i < n; i++) {                                                                      \
                T g = grad[i], v = velocity[i] * rho;                                                      \
                v = v + one_minus_rho * (g * g);                                                           \
                velocity[i] = v;                                                                           \
                var[i] = var[i] - (g * lr) / SQRT(v + epsilon);                                            \
            }                                                                                              \
            return;                                                                                        \
        }                                                                                                  \
        for (i = 0; i < n; i++) {                                                                          \
            T g = grad[i], v = velocity[i] * rho, d, inc;                                                  \
            v = v + one_minus_rho * (g * g);                                                               \
            velocity[i] = v;                                                                               \
            if (average != NULL) {                                                                         \
                T a = average[i] * rho;                                                                    \
                a = a + one_minus_rho * g;                                                                 \
                average[i] = a;                                                                            \
                d = (v - a * a) + epsilon;                                                                 \
            } else {                                                                                       \
                d = v + epsilon;                                                                           \
            }                                                                                              \
            inc = (g * lr) / SQRT(d);                                                                      \
            if (mom != NULL) {                                                                             \
                T m = mom[i] * momentum;                                                                   \
                m = m + inc;                                                                               \
                mom[i] = m;                                                                                \
                var[i] = var[i] - m;                                                                       \
            } else {                                                                                       \
                var[i] = var[i] - inc;                                                                     \
            }                                                                                              \
        }                                                                                                  \
    }                                                                                                      \
                                                                                                           \
    /* m += (g - m)*(1-b1); v += (g*g - v)*(1-b2); var -= (m*alpha) / (sqrt(v) + eps), the quotient in    \
     * double, var - quotient rounded once to T. */                                                       \
    static void convops_adam_##SUFFIX(ptrdiff_t n, T* CONVOPS_RESTRICT var, const T* CONVOPS_RESTRICT grad, T* CONVOPS_RESTRICT m_slot, \
                                      T* CONVOPS_RESTRICT v_slot, double alpha, T one_minus_beta_1,                \
                                      T one_minus_beta_2, T epsilon)                                       \
    {                                                                                                      \
        ptrdiff_t i;                                                                                       \
        for (i = 0; i < n; i++) {                                                                          \
            T g = grad[i], m = m_slot[i], v = v_slot[i];                                                   \
            m = m + (g - m) * one_minus_beta_1;                                                            \
            v = v + (g * g - v) * one_minus_beta_2;                                                        \
            m_slot[i] = m;                                                                                 \
            v_slot[i] = v;                                                                                 \
            var[i] = (T)((double)var[i] - ((double)m * alpha) / (double)(SQRT(v) + epsilon));              \
        }                                                                                                  \
    }                                                                                                      \
                                                                                                           \
    /* s = g*lr; var -= s, or m = m*momentum - s and var += m (Nesterov: var += m*momentum - s). */        \
    static void convops_sgd_##SUFFIX(ptrdiff_t n, T* CONVOPS_RESTRICT var, const T* CONVOPS_RESTRICT grad, T* CONVOPS_RESTRICT mom, \
                                     T lr, T momentum, int nesterov)                                       \
    {                                                                                                      \
        ptrdiff_t i;                                                                                       \
        if (mom == NULL) {                                                                                 \
            for (i = 0; i < n; i++)                                                                        \
                var[i] = var[i] - grad[i] * lr;                                                            \
        } else if (nesterov) {                                                                             \
            for (i = 0; i < n; i++) {                                                                      \
                T step = grad[i] * lr, m = mom[i] * momentum;                                              \
                m = m - step;                                                                              \
                mom[i] = m;                                                                                \
                var[i] = var[i] + (m * momentum - step);                                                   \
            }                                                                                              \
        } else {                                                                                           \
            for (i = 0; i < n; i++) {                                                                      \
                T step = grad[i] * lr, m = mom[i] * momentum;                                              \
                m = m - step;                                                                              \
                mom[i] = m;                                                                                \
                var[i] = var[i] + m;                                                                       \
            }                                                                                              \
        }                                                                                                  \
    }

CONVOPS_OPTIM_DEFINE(float, f32, sqrtf)
CONVOPS_OPTIM_DEFINE(double, f64, sqrt)
#undef CONVOPS_OPTIM_DEFINE

#endif /* CONVOPS_NN_OPTIM_H */
