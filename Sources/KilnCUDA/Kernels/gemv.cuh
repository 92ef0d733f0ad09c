// Decode GEMMs (a few rows times a weight matrix) are memory-bound: the GEMV's job is to keep
// enough 16-byte weight loads in flight and to do little else. y[r, j] = Σ x[r, ·] · w[j, ·]
// for r < m ≤ 8, w bf16 [n, k] row-major.
//
// The grid is persistent — one block of 16 warps per SM, so a prologue's inputs are read once
// per SM, and the next kernel's blocks find room beside it — and every warp sweeps weight
// rows j = slot · gridDim + block, j += row slots in the grid: each lane reads chunks lane, lane + 32, …
// of a row, GEMV_DEPTH of them per trip. Before waiting for the previous kernel, each warp
// loads its first row's first tile (weights do not depend on it); then the block stages x in
// shared memory — copied, or computed by a fused prologue (RMSNorm with the residual add, an
// elementwise chain such as SwiGLU) — so the activations the GEMV reads never round-trip
// through their own kernel. While a row's sums are reduced, the next row's weights load.
#define GEMV_THREADS 512
#define GEMV_DEPTH 8

// A warp's place in the sweep and its tile of weights in flight. With `parts` > 1, that many
// warps of a block share each row, each taking a contiguous share of its chunks (rows with
// long k and few rows to go around), and add their sums in shared memory.
struct GemvSweep {
    int lane, warp, part, parts, row, stride, begin, end, chunks;
    const u32x4* __restrict__ weights;
    u32x4 tile[GEMV_DEPTH];
};

// weights are streamed once: keep them out of L1, where the staged activations live
__device__ __forceinline__ u32x4 load_streaming(const u32x4* p) {
    u32x4 v;
    asm volatile("ld.global.nc.L1::no_allocate.v4.u32 {%0, %1, %2, %3}, [%4];"
                 : "=r"(v.x), "=r"(v.y), "=r"(v.z), "=r"(v.w) : "l"(p));
    return v;
}

__device__ __forceinline__ void gemv_load_tile(GemvSweep& s, int base) {
    const u32x4* row = s.weights + (long)s.row * s.chunks;
#pragma unroll
    for (int u = 0; u < GEMV_DEPTH; u++) {
        int c = s.begin + base + s.lane + 32 * u;
        if (c < s.end) s.tile[u] = load_streaming(row + c);
    }
}

// The warp's first row and its first tile, loaded before the kernel waits for its inputs
__device__ __forceinline__ GemvSweep gemv_begin(const bf16* w, int n, int k, int parts) {
    GemvSweep s;
    s.lane = threadIdx.x & 31;
    s.warp = threadIdx.x >> 5;
    s.parts = parts;
    s.part = s.warp % parts;
    int slots = (blockDim.x >> 5) / parts;
    s.row = (s.warp / parts) * gridDim.x + blockIdx.x;
    s.stride = gridDim.x * slots;
    s.chunks = k / 8;
    int share = (s.chunks + parts - 1) / parts;
    s.begin = s.part * share;
    s.end = min(s.chunks, s.begin + share);
    s.weights = (const u32x4*)w;
    if (s.row < n) gemv_load_tile(s, 0);
    return s;
}

// Sweeps the warp's rows against x ([m, k] bf16, in shared or global memory); M: the rows
// the loop is unrolled for (1, 2, 4 or 8), rows past m repeat the last one and are not
// written. Every warp of a block runs the same number of trips (the shared-memory sums
// need the whole block), idle where its row is past n.
template <int M>
__device__ __forceinline__ void gemv_sweep(GemvSweep& s, const u32x4* x, void* y, int y_is_f32, int m, int n) {
    __shared__ float partial[GEMV_THREADS / 32][M];
    int first = blockIdx.x;  // the block's lowest row this trip
    for (; first < n; first += s.stride, s.row += s.stride) {
        float acc[M];
#pragma unroll
        for (int r = 0; r < M; r++) acc[r] = 0.0f;
        if (s.row < n) {
            for (int base = 0;;) {
#pragma unroll
                for (int u = 0; u < GEMV_DEPTH; u++) {
                    int c = s.begin + base + s.lane + 32 * u;
                    if (c >= s.end) break;
                    float wf[8];
                    unpack_bf16x8(s.tile[u], wf);
#pragma unroll
                    for (int r = 0; r < M; r++) {
                        float xf[8];
                        unpack_bf16x8(x[(long)min(r, m - 1) * s.chunks + c], xf);
#pragma unroll
                        for (int i = 0; i < 8; i++) acc[r] = fmaf(wf[i], xf[i], acc[r]);
                    }
                }
                base += 32 * GEMV_DEPTH;
                if (s.begin + base >= s.end) break;
                gemv_load_tile(s, base);
            }
        }
        int row = s.row;
        if (row + s.stride < n) {
            s.row += s.stride;
            gemv_load_tile(s, 0);  // in flight while this row's sums are reduced
            s.row = row;
        } else {
            // this warp has issued its last weight load: the next kernel may be scheduled
            KILN_LAUNCH_DEPENDENTS();
        }
#pragma unroll
        for (int r = 0; r < M; r++) acc[r] = warp_sum(acc[r]);
        if (s.parts == 1) {
#pragma unroll
            for (int r = 0; r < M; r++) {
                if (s.lane == 0 && r < m && row < n) {
                    if (y_is_f32) ((float*)y)[(long)r * n + row] = acc[r];
                    else store((bf16*)y + (long)r * n + row, acc[r]);
                }
            }
            continue;
        }
        if (s.lane == 0) {
#pragma unroll
            for (int r = 0; r < M; r++) partial[s.warp][r] = acc[r];
        }
        __syncthreads();
        if (s.part == 0 && s.lane < m && row < n) {
            float sum = 0.0f;
            for (int p = 0; p < s.parts; p++) sum += partial[s.warp + p][s.lane];
            if (y_is_f32) ((float*)y)[(long)s.lane * n + row] = sum;
            else store((bf16*)y + (long)s.lane * n + row, sum);
        }
        __syncthreads();
    }
}

__device__ __forceinline__ void gemv_run(GemvSweep& s, const u32x4* x, void* y, int y_is_f32, int m, int n) {
    if (m <= 1) gemv_sweep<1>(s, x, y, y_is_f32, m, n);
    else if (m <= 2) gemv_sweep<2>(s, x, y, y_is_f32, m, n);
    else if (m <= 4) gemv_sweep<4>(s, x, y, y_is_f32, m, n);
    else gemv_sweep<8>(s, x, y, y_is_f32, m, n);
}

// 8 values rounded to bf16 into 16 aligned bytes
__device__ __forceinline__ void store8(bf16* p, const float* v) {
    union { u32x4 words; bf16 values[8]; } packed;
#pragma unroll
    for (int i = 0; i < 8; i++) store(&packed.values[i], v[i]);
    *(u32x4*)p = packed.words;
}

// Prologue: x ([m, k]) into shared memory as it is
__device__ __forceinline__ void gemv_stage_copy(u32x4* staged, const bf16* x, int m, int k) {
    const u32x4* source = (const u32x4*)x;
    for (int i = threadIdx.x; i < m * k / 8; i += blockDim.x) staged[i] = source[i];
    __syncthreads();
}

// Prologue: RMSNorm of x (+ residual) into shared memory, as the norm kernels compute it: the
// sum rounded to bf16 (and written to `sum` by block 0, the residual stream's next value),
// then value / sqrt(mean(square) + eps) · weight rounded to bf16
__device__ void gemv_stage_rms_norm(u32x4* staged, const bf16* x, const bf16* residual, bf16* sum, const float* weight,
                                    float eps, int m, int k) {
    bf16* xs = (bf16*)staged;
    for (int r = 0; r < m; r++) {
        long row = (long)r * k;
        float squares = 0.0f;
        for (int c = threadIdx.x * 8; c < k; c += blockDim.x * 8) {
            float v[8];
            load8(x + row + c, v);
            if (residual) {
                float q[8];
                load8(residual + row + c, q);
#pragma unroll
                for (int i = 0; i < 8; i++) v[i] += q[i];
            }
            store8(xs + row + c, v);
            if (sum && blockIdx.x == 0) store8(sum + row + c, v);
            load8(xs + row + c, v);  // the rounded values, as the norm kernels square them
#pragma unroll
            for (int i = 0; i < 8; i++) squares += v[i] * v[i];
        }
        float inverse = 1.0f / sqrtf(block_sum(squares) / k + eps);
        for (int c = threadIdx.x * 8; c < k; c += blockDim.x * 8) {
            float v[8];
            load8(xs + row + c, v);
#pragma unroll
            for (int i = 0; i < 8; i++) v[i] = v[i] * inverse * weight[c + i];
            store8(xs + row + c, v);
        }
    }
    __syncthreads();
}
