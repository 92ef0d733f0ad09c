// Decode GEMMs (a few rows times a weight matrix) are memory-bound: one warp streams one
// weight row with 16-byte loads and keeps a running dot product per input row, so the weights
// are read once at full bandwidth. y[r, j] = Σ x[r, ·] · w[j, ·] for r < m ≤ 8.
#define GEMV_MAX_ROWS 8
struct alignas(16) u32x4 { unsigned x, y, z, w; };
#define GEMV_WARPS 8

__device__ __forceinline__ void unpack_bf16x8(u32x4 v, float* out) {
    unsigned words[4] = {v.x, v.y, v.z, v.w};
#pragma unroll
    for (int i = 0; i < 4; i++) {
        out[2 * i] = __uint_as_float(words[i] << 16);
        out[2 * i + 1] = __uint_as_float(words[i] & 0xffff0000u);
    }
}

extern "C" __global__ void __launch_bounds__(GEMV_WARPS * 32)
gemv_bf16(void* y, int y_is_f32, const bf16* __restrict__ x, const bf16* __restrict__ w, int m, int n, int k) {
    int row = blockIdx.x * GEMV_WARPS + (threadIdx.x >> 5), lane = threadIdx.x & 31;
    if (row >= n) return;
    const u32x4* __restrict__ weights = (const u32x4*)(w + (long)row * k);
    const u32x4* __restrict__ inputs = (const u32x4*)x;
    int chunks = k / 8;
    float acc[GEMV_MAX_ROWS];
#pragma unroll
    for (int r = 0; r < GEMV_MAX_ROWS; r++) acc[r] = 0.0f;
#pragma unroll 4
    for (int c = lane; c < chunks; c += 32) {
        float wf[8], xf[8];
        unpack_bf16x8(weights[c], wf);
#pragma unroll
        for (int r = 0; r < GEMV_MAX_ROWS; r++) {
            if (r >= m) break;
            unpack_bf16x8(inputs[(long)r * chunks + c], xf);
#pragma unroll
            for (int i = 0; i < 8; i++) acc[r] += wf[i] * xf[i];
        }
    }
#pragma unroll
    for (int r = 0; r < GEMV_MAX_ROWS; r++) {
        if (r >= m) break;
        float sum = warp_sum(acc[r]);
        if (lane == 0) {
            if (y_is_f32) ((float*)y)[(long)r * n + row] = sum;
            else store((bf16*)y + (long)r * n + row, sum);
        }
    }
}
