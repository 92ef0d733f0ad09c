// Decode GEMMs (a few rows times a weight matrix) are memory-bound: warps stream weight rows
// with 16-byte loads and keep a running dot product per input row, so the weights are read
// once at full bandwidth. y[r, j] = Σ x[r, ·] · w[j, ·] for r < m ≤ 8. With few output rows
// (n) there are too few warps to keep enough loads in flight, so `split` warps share a row's
// k range and add their sums in shared memory.
#define GEMV_MAX_ROWS 8
#define GEMV_WARPS 8


// One warp (or `split` warps) per weight row: the row's place, and an L2 prefetch of its
// weights, which do not depend on the previous kernel and so start before waiting for it.
struct GemvRow {
    int warp, lane, row, part;
    bool valid;
    const u32x4* __restrict__ weights;
};

__device__ __forceinline__ GemvRow gemv_row(const bf16* __restrict__ w, int n, int k, int split) {
    GemvRow r;
    r.warp = threadIdx.x >> 5;
    r.lane = threadIdx.x & 31;
    r.row = blockIdx.x * (GEMV_WARPS / split) + r.warp / split;
    r.part = r.warp % split;
    r.valid = r.row < n;
    r.weights = (const u32x4*)(w + (long)(r.valid ? r.row : 0) * k);
    if (r.valid)
        for (int c = r.part * 32 + r.lane, i = 0; c < k / 8 && i < 8; c += 32 * split, i++)
            asm volatile("prefetch.global.L2 [%0];" :: "l"(r.weights + c));
    return r;
}

// y[r, row] = inputs[r, ·] · weights for r < m; M: the rows the loop is unrolled for (1, 2,
// 4 or 8), rows past m repeat the last one and are not written
template <int M>
__device__ __forceinline__ void gemv_dot(const GemvRow& g, const u32x4* inputs, void* y, int y_is_f32, int m, int n, int k, int split) {
    int chunks = k / 8;
    float acc[M];
#pragma unroll
    for (int r = 0; r < M; r++) acc[r] = 0.0f;
    if (g.valid) {
        // DEPTH chunks' loads are issued before any is used, so each lane keeps that many
        // 16-byte weight loads in flight (fewer for many rows, whose inputs take registers)
        const int DEPTH = M <= 2 ? 4 : 2, stride = 32 * split;
        int c = g.part * 32 + g.lane;
        for (; c + (DEPTH - 1) * stride < chunks; c += DEPTH * stride) {
            u32x4 wv[DEPTH], xv[M][DEPTH];
#pragma unroll
            for (int u = 0; u < DEPTH; u++) wv[u] = g.weights[c + u * stride];
#pragma unroll
            for (int r = 0; r < M; r++)
#pragma unroll
                for (int u = 0; u < DEPTH; u++) xv[r][u] = inputs[(long)min(r, m - 1) * chunks + c + u * stride];
#pragma unroll
            for (int u = 0; u < DEPTH; u++) {
                float wf[8], xf[8];
                unpack_bf16x8(wv[u], wf);
#pragma unroll
                for (int r = 0; r < M; r++) {
                    unpack_bf16x8(xv[r][u], xf);
#pragma unroll
                    for (int i = 0; i < 8; i++) acc[r] += wf[i] * xf[i];
                }
            }
        }
        for (; c < chunks; c += stride) {
            float wf[8], xf[8];
            unpack_bf16x8(g.weights[c], wf);
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
        if (g.lane == 0) partial[g.warp][r] = sum;
    }
    __syncthreads();
    if (!g.valid || g.part != 0 || g.lane >= m) return;
    float sum = 0.0f;
    for (int p = 0; p < split; p++) sum += partial[g.warp + p][g.lane];
    if (y_is_f32) ((float*)y)[(long)g.lane * n + g.row] = sum;
    else store((bf16*)y + (long)g.lane * n + g.row, sum);
}

#define GEMV_KERNEL(M) \
extern "C" __global__ void __launch_bounds__(GEMV_WARPS * 32) \
gemv_bf16_m##M(void* y, int y_is_f32, const bf16* __restrict__ x, const bf16* __restrict__ w, int m, int n, int k, int split) { \
    GemvRow g = gemv_row(w, n, k, split); \
    KILN_WAIT_ONLY(); \
    gemv_dot<M>(g, (const u32x4*)x, y, y_is_f32, m, n, k, split); \
}
GEMV_KERNEL(1)
GEMV_KERNEL(2)
GEMV_KERNEL(4)
GEMV_KERNEL(8)
