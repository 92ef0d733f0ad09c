// Decode GEMMs (a few rows times a weight matrix) are memory-bound: the GEMV's job is to keep
// enough 16-byte weight loads in flight and to do little else. y[r, j] = Σ x[r, ·] · w[j, ·]
// for r < m ≤ 8, w bf16 [n, k] row-major.
//
// The grid is persistent — one block of 16 warps per SM, so a prologue's inputs are read once
// per SM — and every warp sweeps weight rows j = slot · gridDim + block, j += row slots in the
// grid: each lane reads chunks lane, lane + 32, … of a row, GEMV_DEPTH of them per tile. Before
// waiting for the previous kernel, each warp loads its first tiles (weights do not depend on
// it) and lets the next kernel launch, so that its blocks take each SM the moment this one's
// block leaves it; then the block stages x in shared memory — copied, or computed by a fused prologue
// (RMSNorm with the residual add, an elementwise chain such as SwiGLU) — so the activations the
// GEMV reads never round-trip through their own kernel. While a tile is summed (and a row's
// sums reduced), the next tiles' weights load.
//
// Measured on an H200 and left out: two blocks an SM for the one- and two-row kernels (64
// registers, so the next GEMV's block could start beside this one's tail: ITL 1.03 → 1.22 ms);
// 256-thread blocks, so two GEMVs' blocks share an SM (0.97 → 1.14 ms); and asking L2 for
// this or the next GEMV's weights ahead with bulk prefetches (slower at every budget tried,
// 8–48 MiB), or for the GEMV after next from decode attention, while the memory is otherwise
// idle (12–48 MiB: 0.97 → 1.00–1.05 ms; the prefetches delay the step's dependent reads);
// copying up to three more tiles a warp into shared memory with bulk copies before the wait
// (one-row ITL 0.95 → 1.10 ms with two, 1.16 with three: gate|up timed alone 23 → 29 µs); and
// loading only the first tile before the wait, the second after the prologue (no change).
#define GEMV_THREADS 512
#define GEMV_DEPTH 8

// Tiles a warp keeps in flight: two in the one- and two-row kernels (the next tile loads while
// one is summed, and a kernel's start — the loads it issues before waiting for its inputs —
// covers twice the weights: on an H200, batch-1 ITL 1.03 ms against 1.13 with one), one for more
// rows, whose sums and activations need those registers.
template <int M> struct GemvStages { static const int count = M <= 2 ? 2 : 1; };

// A warp's place in the sweep and its tiles of weights in flight. Tile i of a warp is tile
// i % per_row of its row in trip i / per_row. With `parts` > 1, that many warps of a block
// share each row, each taking a contiguous share of its chunks (rows with long k and few rows
// to go around), and add their sums in shared memory.
template <int M>
struct GemvSweep {
    int lane, warp, part, parts, row, stride, begin, end, chunks, per_row, tiles;
    const u32x4* __restrict__ weights;
    u32x4 tile[GemvStages<M>::count][GEMV_DEPTH];
};

// weights are streamed once: keep them out of L1, where the staged activations live
__device__ __forceinline__ u32x4 load_streaming(const u32x4* p) {
    u32x4 v;
    asm volatile("ld.global.nc.L1::no_allocate.v4.u32 {%0, %1, %2, %3}, [%4];"
                 : "=r"(v.x), "=r"(v.y), "=r"(v.z), "=r"(v.w) : "l"(p));
    return v;
}

template <int M>
__device__ __forceinline__ int gemv_tile_row(const GemvSweep<M>& s, int i) { return s.row + i / s.per_row * s.stride; }
template <int M>
__device__ __forceinline__ int gemv_tile_base(const GemvSweep<M>& s, int i) { return s.begin + i % s.per_row * 32 * GEMV_DEPTH; }

// Issues the loads of the warp's tile i into `tile` (none past its last tile or row n)
template <int M>
__device__ __forceinline__ void gemv_load_tile(const GemvSweep<M>& s, u32x4 (&tile)[GEMV_DEPTH], int i, int n) {
    int row = gemv_tile_row(s, i), base = gemv_tile_base(s, i);
    if (i >= s.tiles || row >= n) return;
    const u32x4* weights = s.weights + (long)row * s.chunks;
#pragma unroll
    for (int u = 0; u < GEMV_DEPTH; u++) {
        int c = base + s.lane + 32 * u;
        if (c < s.end) tile[u] = load_streaming(weights + c);
    }
}

// The warp's place and its first tiles, loaded before the kernel waits for its inputs
template <int M>
__device__ __forceinline__ GemvSweep<M> gemv_begin(const bf16* w, int n, int k, int parts) {
    GemvSweep<M> s;
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
    // the same count for every warp of the block (the shared-memory sums need them all)
    s.per_row = (share + 32 * GEMV_DEPTH - 1) / (32 * GEMV_DEPTH);
    s.tiles = (n - (int)blockIdx.x + s.stride - 1) / s.stride * s.per_row;
#pragma unroll
    for (int b = 0; b < GemvStages<M>::count; b++) gemv_load_tile(s, s.tile[b], b, n);
    KILN_LAUNCH_DEPENDENTS();
    return s;
}

// Adds tile i (in `tile`) to the sums, loads tile i + stages into the same registers, and at
// the row's last tile reduces and writes the row (y[r, row] for r < m).
template <int M>
__device__ __forceinline__ void gemv_step(GemvSweep<M>& s, u32x4 (&tile)[GEMV_DEPTH], int i, float (&acc)[M], const u32x4* x,
                                          void* y, int y_is_f32, int m, int n, float (*partial)[M]) {
    const int stages = GemvStages<M>::count;
    int row = gemv_tile_row(s, i), base = gemv_tile_base(s, i);
    if (row < n) {
#pragma unroll
        for (int u = 0; u < GEMV_DEPTH; u++) {
            int c = base + s.lane + 32 * u;
            if (c >= s.end) break;
            float wf[8];
            unpack_bf16x8(tile[u], wf);
#pragma unroll
            for (int r = 0; r < M; r++) {
                float xf[8];
                unpack_bf16x8(x[(long)min(r, m - 1) * s.chunks + c], xf);
#pragma unroll
                for (int e = 0; e < 8; e++) acc[r] = fmaf(wf[e], xf[e], acc[r]);
            }
        }
    }
    gemv_load_tile(s, tile, i + stages, n);  // in flight while the sums go on
    if (i % s.per_row != s.per_row - 1) return;
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
    } else {
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
#pragma unroll
    for (int r = 0; r < M; r++) acc[r] = 0.0f;
}

// Sweeps the warp's tiles against x ([m, k] bf16, in shared or global memory); M: the rows
// the loop is unrolled for (1, 2, 4 or 8), rows past m repeat the last one and are not
// written. Every warp of a block takes the same number of steps, idle where its row is past n.
template <int M>
__device__ __forceinline__ void gemv_sweep(GemvSweep<M>& s, const u32x4* x, void* y, int y_is_f32, int m, int n) {
    __shared__ float partial[GEMV_THREADS / 32][M];
    const int stages = GemvStages<M>::count;
    float acc[M];
#pragma unroll
    for (int r = 0; r < M; r++) acc[r] = 0.0f;
    for (int i = 0; i < s.tiles; i += stages) {
#pragma unroll
        for (int b = 0; b < stages; b++)
            if (i + b < s.tiles) gemv_step(s, s.tile[b], i + b, acc, x, y, y_is_f32, m, n, partial);
    }
}

// One kernel per row count the sweep is unrolled for (M = 1, 2, 4, 8: `name`_m1 … _m8), from
// `name`_body<M>, so registers follow M (one kernel for all took 128 registers a thread). The
// one- and two-row kernels are held to 104 registers a thread (they take 107–115 otherwise): a
// 512-thread block then fits an SM beside a decode-attention block (at most 96 registers ×
// 128 threads), so the o projection, launched while attention runs, loads its weights then.
#define GEMV_KERNEL(M, bounds, name, parameters, arguments) \
    extern "C" __global__ void bounds name##_m##M parameters { name##_body<M> arguments; }
#define GEMV_KERNELS(name, parameters, arguments) \
    GEMV_KERNEL(1, __maxnreg__(104), name, parameters, arguments) \
    GEMV_KERNEL(2, __maxnreg__(104), name, parameters, arguments) \
    GEMV_KERNEL(4, __launch_bounds__(GEMV_THREADS), name, parameters, arguments) \
    GEMV_KERNEL(8, __launch_bounds__(GEMV_THREADS), name, parameters, arguments)

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
    for (int i = threadIdx.x; i < m * k / 8; i += KILN_GROUP_THREADS) staged[i] = source[i];
    KILN_GROUP_SYNC();
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
        for (int c = threadIdx.x * 8; c < k; c += KILN_GROUP_THREADS * 8) {
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
        for (int c = threadIdx.x * 8; c < k; c += KILN_GROUP_THREADS * 8) {
            float v[8];
            load8(xs + row + c, v);
#pragma unroll
            for (int i = 0; i < 8; i++) v[i] = v[i] * inverse * weight[c + i];
            store8(xs + row + c, v);
        }
    }
    KILN_GROUP_SYNC();
}
