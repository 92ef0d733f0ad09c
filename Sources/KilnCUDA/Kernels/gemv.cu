// The GEMV kernels (the sweep is in gemv.cuh; generated elementwise prologues live with the
// generated kernels). `staged`: x fits in shared memory and is copied there; otherwise the
// sweep reads it from global memory (through L1).

template <int M>
__device__ __forceinline__ void gemv_bf16_body(void* y, int y_is_f32, const bf16* __restrict__ x, const bf16* __restrict__ w,
                                               int m, int n, int k, int parts, int staged) {
    extern __shared__ u32x4 gemv_shared[];
    GemvSweep<M> s = gemv_begin<M>(w, n, k, parts);
    KILN_WAIT_ONLY();
    if (staged) gemv_stage_copy(gemv_shared, x, m, k);
    gemv_sweep<M>(s, staged ? gemv_shared : (const u32x4*)x, y, y_is_f32, m, n);
}
GEMV_KERNELS(gemv_bf16,
             (void* y, int y_is_f32, const bf16* __restrict__ x, const bf16* __restrict__ w, int m, int n, int k, int parts, int staged),
             (y, y_is_f32, x, w, m, n, k, parts, staged))

// y = rmsNorm(x + residual) · wᵀ, the norm computed by every block into shared memory; block 0
// also writes x + residual to `sum` (residual and sum may be null: a plain RMSNorm)
template <int M>
__device__ __forceinline__ void gemv_rms_norm_body(void* y, int y_is_f32, const bf16* __restrict__ x, const bf16* __restrict__ residual,
                                                   bf16* __restrict__ sum, const float* __restrict__ norm_weight, float eps,
                                                   const bf16* __restrict__ w, int m, int n, int k, int parts) {
    extern __shared__ u32x4 gemv_shared[];
    GemvSweep<M> s = gemv_begin<M>(w, n, k, parts);
    KILN_WAIT_ONLY();
    gemv_stage_rms_norm(gemv_shared, x, residual, sum, norm_weight, eps, m, k);
    gemv_sweep<M>(s, gemv_shared, y, y_is_f32, m, n);
}
GEMV_KERNELS(gemv_rms_norm,
             (void* y, int y_is_f32, const bf16* __restrict__ x, const bf16* __restrict__ residual, bf16* __restrict__ sum,
              const float* __restrict__ norm_weight, float eps, const bf16* __restrict__ w, int m, int n, int k, int parts),
             (y, y_is_f32, x, residual, sum, norm_weight, eps, w, m, n, k, parts))
