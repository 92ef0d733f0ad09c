// Decode GEMMs (a few rows times a weight matrix) are memory-bound: warps stream weight rows
// with 16-byte loads and keep a running dot product per input row, so the weights are read
// once at full bandwidth. y[r, j] = Σ x[r, ·] · w[j, ·] for r < m ≤ 8. With few output rows
// (n) there are too few warps to keep enough loads in flight, so `split` warps share a row's
// k range and add their sums in shared memory.
#define GEMV_MAX_ROWS 8
#define GEMV_WARPS 8


// M: the rows the loop is unrolled for (1, 2, 4 or 8); m ≤ M are real
template <int M>
__device__ __forceinline__ void gemv(void* y, int y_is_f32, const bf16* __restrict__ x, const bf16* __restrict__ w, int m, int n, int k,
                                     int split) {
    int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    int row = blockIdx.x * (GEMV_WARPS / split) + warp / split, part = warp % split;
    bool valid = row < n;
    int chunks = k / 8;
    const u32x4* __restrict__ weights = (const u32x4*)(w + (long)(valid ? row : 0) * k);
    const u32x4* __restrict__ inputs = (const u32x4*)x;
    // the weights do not depend on the previous kernel: start pulling them into L2 now
    if (valid)
        for (int c = part * 32 + lane, i = 0; c < chunks && i < 8; c += 32 * split, i++)
            asm volatile("prefetch.global.L2 [%0];" :: "l"(weights + c));
    KILN_WAIT_ONLY();
    float acc[M];
#pragma unroll
    for (int r = 0; r < M; r++) acc[r] = 0.0f;
    if (valid) {
#pragma unroll 4
        for (int c = part * 32 + lane; c < chunks; c += 32 * split) {
            float wf[8], xf[8];
            unpack_bf16x8(weights[c], wf);
#pragma unroll
            for (int r = 0; r < M; r++) {
                unpack_bf16x8(inputs[(long)min(r, m - 1) * chunks + c], xf);
#pragma unroll
                for (int i = 0; i < 8; i++) acc[r] += wf[i] * xf[i];
            }
        }
    }
    __shared__ float partial[GEMV_WARPS][GEMV_MAX_ROWS];
#pragma unroll
    for (int r = 0; r < M; r++) {
        float sum = warp_sum(acc[r]);
        if (lane == 0) partial[warp][r] = sum;
    }
    __syncthreads();
    if (!valid || part != 0 || lane >= m) return;
    float sum = 0.0f;
    for (int p = 0; p < split; p++) sum += partial[warp + p][lane];
    if (y_is_f32) ((float*)y)[(long)lane * n + row] = sum;
    else store((bf16*)y + (long)lane * n + row, sum);
}

#define GEMV_KERNEL(M) \
extern "C" __global__ void __launch_bounds__(GEMV_WARPS * 32) \
gemv_bf16_m##M(void* y, int y_is_f32, const bf16* __restrict__ x, const bf16* __restrict__ w, int m, int n, int k, int split) { \
    gemv<M>(y, y_is_f32, x, w, m, n, k, split); \
}
GEMV_KERNEL(1)
GEMV_KERNEL(2)
GEMV_KERNEL(4)
GEMV_KERNEL(8)
