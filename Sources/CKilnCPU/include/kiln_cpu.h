// Hot CPU kernels that need instruction sets chosen at run time (AVX-512, AVX2+FMA), which
// Swift cannot target per function. Swift code calls them through KilnCPU's safe wrappers.
#ifndef KILN_CPU_H
#define KILN_CPU_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Element formats of the B matrix.
/// llama.cpp's block formats store 32 weights per block along k (so k % 32 == 0): Q4_0
/// {fp16 d, 16 bytes of nibbles}, Q4_1 {fp16 d, fp16 m, 16 bytes}, Q8_0 {fp16 d, 32 int8};
/// they are widened to float32 in registers, the activations stay float32.
typedef enum {
    KILN_WEIGHTS_F32 = 0,
    KILN_WEIGHTS_BF16 = 1,
    KILN_WEIGHTS_Q4_0 = 2,
    KILN_WEIGHTS_Q4_1 = 3,
    KILN_WEIGHTS_Q8_0 = 4,
} kiln_weight_format;

/// The widest vector instruction set this CPU offers the kernels: 512 (AVX-512 F/BW/VL),
/// 256 (AVX2 + FMA) or 128 (the x86-64 baseline).
int kiln_cpu_vector_bits(void);

/// c[i * ldc + j] = sum_p a[i * k + p] * b[j * k + p] for i in [0, m), j in [row_begin, row_end):
/// rows row_begin..<row_end of C = A · Bᵀ, with B [n, k] in `format`. `vector_bits` picks the
/// kernel and must not exceed kiln_cpu_vector_bits().
void kiln_gemm_nt(int vector_bits, const float *a, int64_t m, int64_t k, const void *b, kiln_weight_format format,
                  int64_t row_begin, int64_t row_end, float *c, int64_t ldc);

/// A task of a parallel run: `index` in [0, count).
typedef void (*kiln_task_fn)(void *context, int64_t index);

/// Worker threads (the caller counts as one): KILN_THREADS, else every online core.
int kiln_thread_count(void);

/// Runs fn(context, i) for every i in [0, count) on the pool and returns when all are
/// done. Runs from two threads at once do not overlap: the later one runs inline.
void kiln_parallel_run(int count, kiln_task_fn fn, void *context);

#ifdef __cplusplus
}
#endif

#endif
