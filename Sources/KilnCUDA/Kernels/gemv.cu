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
// The norm's weights depend on nothing: each thread copies the ones it will scale by into
// shared memory (after x) before the wait, so the prologue's only reads on the step's critical
// path are x and the residual.
template <int M>
__device__ __forceinline__ void gemv_rms_norm_body(void* y, int y_is_f32, const bf16* __restrict__ x, const bf16* __restrict__ residual,
                                                   bf16* __restrict__ sum, const float* __restrict__ norm_weight, float eps,
                                                   const bf16* __restrict__ w, int m, int n, int k, int parts) {
    extern __shared__ u32x4 gemv_shared[];
    float* norm_staged = (float*)(gemv_shared + m * k / 8);
    for (int c = threadIdx.x * 8; c < k; c += KILN_GROUP_THREADS * 8) {
        copy_async_16(norm_staged + c, norm_weight + c);
        copy_async_16(norm_staged + c + 4, norm_weight + c + 4);
    }
    GemvSweep<M> s = gemv_begin<M>(w, n, k, parts);
    KILN_WAIT_ONLY();
    wait_async_copies();  // a thread reads only the weights it copied
    gemv_stage_rms_norm(gemv_shared, x, residual, sum, norm_staged, eps, m, k);
    gemv_sweep<M>(s, gemv_shared, y, y_is_f32, m, n);
}
GEMV_KERNELS(gemv_rms_norm,
             (void* y, int y_is_f32, const bf16* __restrict__ x, const bf16* __restrict__ residual, bf16* __restrict__ sum,
              const float* __restrict__ norm_weight, float eps, const bf16* __restrict__ w, int m, int n, int k, int parts),
             (y, y_is_f32, x, residual, sum, norm_weight, eps, w, m, n, k, parts))
