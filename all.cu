// Shared by every Kiln kernel. Self-contained on purpose: NVRTC 13 ships no headers, so
// bf16 is handled by bit operations, f16 by the conversion instructions, and nothing is
// #included; a machine with only the driver and NVRTC compiles these sources.

struct bf16 { unsigned short bits; };
struct f16 { unsigned short bits; };

__device__ __forceinline__ float load(const float* p) { return *p; }
__device__ __forceinline__ float load(const bf16* p) { return __uint_as_float(((unsigned)p->bits) << 16); }
__device__ __forceinline__ void store(float* p, float v) { *p = v; }
// round to nearest even, as the host's conversions do; NaN stays NaN
__device__ __forceinline__ void store(bf16* p, float v) {
    unsigned u = __float_as_uint(v);
    if ((u & 0x7fffffffu) > 0x7f800000u) { p->bits = 0x7fc0; return; }
    p->bits = (unsigned short)((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
}

__device__ __forceinline__ float load(const f16* p) {
    float v;
    asm("cvt.f32.f16 %0, %1;" : "=f"(v) : "h"(p->bits));
    return v;
}
__device__ __forceinline__ void store(f16* p, float v) {
    unsigned short bits;
    asm("cvt.rn.f16.f32 %0, %1;" : "=h"(bits) : "f"(v));
    p->bits = bits;
}

// the type of activations and of the matrices GEMMs read: chosen per build (-DKILN_BF16,
// -DKILN_F16, else f32)
#if defined(KILN_BF16)
typedef bf16 act;
#elif defined(KILN_F16)
typedef f16 act;
#else
typedef float act;
#endif

#define NEG_INF __int_as_float(0xff800000)

__device__ __forceinline__ float warp_sum(float v) {
    for (int offset = 16; offset > 0; offset >>= 1) v += __shfl_xor_sync(0xffffffffu, v, offset);
    return v;
}

// sum over a block of up to 1024 threads; every thread gets the total
__device__ float block_sum(float v) {
    __shared__ float partial[32];
    __shared__ float total;
    v = warp_sum(v);
    if ((threadIdx.x & 31) == 0) partial[threadIdx.x >> 5] = v;
    __syncthreads();
    if (threadIdx.x < 32) {
        float w = threadIdx.x < (blockDim.x + 31) / 32 ? partial[threadIdx.x] : 0.0f;
        w = warp_sum(w);
        if (threadIdx.x == 0) total = w;
    }
    __syncthreads();
    float result = total;
    __syncthreads();
    return result;
}

// 16-byte loads: 8 bf16 values in four words, first value in the low half
struct alignas(16) u32x4 { unsigned x, y, z, w; };

__device__ __forceinline__ void unpack_bf16x8(u32x4 v, float* out) {
    unsigned words[4] = {v.x, v.y, v.z, v.w};
#pragma unroll
    for (int i = 0; i < 4; i++) {
        out[2 * i] = __uint_as_float(words[i] << 16);
        out[2 * i + 1] = __uint_as_float(words[i] & 0xffff0000u);
    }
}

// 8 consecutive values (16-byte aligned for bf16 and f16, 32-byte for f32)
__device__ __forceinline__ void load8(const bf16* p, float* out) { unpack_bf16x8(*(const u32x4*)p, out); }
__device__ __forceinline__ void load8(const f16* p, float* out) {
    u32x4 v = *(const u32x4*)p;
    unsigned words[4] = {v.x, v.y, v.z, v.w};
#pragma unroll
    for (int i = 0; i < 4; i++) {
        f16 low = {(unsigned short)(words[i] & 0xffffu)}, high = {(unsigned short)(words[i] >> 16)};
        out[2 * i] = load(&low);
        out[2 * i + 1] = load(&high);
    }
}
__device__ __forceinline__ void load8(const float* p, float* out) {
    const u32x4* words = (const u32x4*)p;
    u32x4 a = words[0], b = words[1];
    out[0] = __uint_as_float(a.x); out[1] = __uint_as_float(a.y); out[2] = __uint_as_float(a.z); out[3] = __uint_as_float(a.w);
    out[4] = __uint_as_float(b.x); out[5] = __uint_as_float(b.y); out[6] = __uint_as_float(b.z); out[7] = __uint_as_float(b.w);
}

// Programmatic dependent launch (Hopper): every kernel waits until the previous kernel's
// writes are visible (KILN_WAIT_FOR_PRIOR_GRID). Small kernels that a GEMV follows (norms,
// elementwise, attention) also let it be scheduled as soon as they start
// (KILN_EARLY_DEPENDENTS): its blocks take the idle SMs and prefetch their weights while the
// small kernel runs. Large kernels do not, as waiting blocks would take their SM slots.
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
#define KILN_LAUNCH_DEPENDENTS() asm volatile("griddepcontrol.launch_dependents;" ::: "memory")
#define KILN_WAIT_ONLY() asm volatile("griddepcontrol.wait;" ::: "memory")
#else
#define KILN_LAUNCH_DEPENDENTS()
#define KILN_WAIT_ONLY()
#endif
#define KILN_WAIT_FOR_PRIOR_GRID() KILN_WAIT_ONLY()
#define KILN_EARLY_DEPENDENTS() do { KILN_LAUNCH_DEPENDENTS(); KILN_WAIT_ONLY(); } while (0)
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

// A warp's place in the sweep and its weights in flight: the current row's tile and the next
// row's first tile (loaded a row ahead, so two rows' loads overlap). With `parts` > 1, that
// many warps of a block share each row, each taking a contiguous share of its chunks (rows
// with long k and few rows to go around), and add their sums in shared memory.
struct GemvSweep {
    int lane, warp, part, parts, row, stride, begin, end, chunks;
    const u32x4* __restrict__ weights;
    u32x4 tile[GEMV_DEPTH], ahead[GEMV_DEPTH];
};

// weights are streamed once: keep them out of L1, where the staged activations live
__device__ __forceinline__ u32x4 load_streaming(const u32x4* p) {
    u32x4 v;
    asm volatile("ld.global.nc.L1::no_allocate.v4.u32 {%0, %1, %2, %3}, [%4];"
                 : "=r"(v.x), "=r"(v.y), "=r"(v.z), "=r"(v.w) : "l"(p));
    return v;
}

__device__ __forceinline__ void gemv_load_tile(const GemvSweep& s, int row, int base, u32x4 (&tile)[GEMV_DEPTH]) {
    const u32x4* weights = s.weights + (long)row * s.chunks;
#pragma unroll
    for (int u = 0; u < GEMV_DEPTH; u++) {
        int c = s.begin + base + s.lane + 32 * u;
        if (c < s.end) tile[u] = load_streaming(weights + c);
    }
}

// The warp's first two rows' first tiles, loaded before the kernel waits for its inputs
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
    if (s.row < n) gemv_load_tile(s, s.row, 0, s.tile);
    if (s.row + s.stride < n) gemv_load_tile(s, s.row + s.stride, 0, s.ahead);
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
                gemv_load_tile(s, s.row, base, s.tile);
            }
        }
        int row = s.row;
        // the next row's tile becomes current, and the row after it starts loading
#pragma unroll
        for (int u = 0; u < GEMV_DEPTH; u++) s.tile[u] = s.ahead[u];
        if (row + 2 * s.stride < n) gemv_load_tile(s, row + 2 * s.stride, 0, s.ahead);
        else KILN_LAUNCH_DEPENDENTS();  // this warp has issued its last weight load: the next kernel may be scheduled
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
// Row kernels: embedding gather, RMSNorm (alone and fused with the residual add), rotary
// embedding, gathers and copies between activations. One block per token row.

extern "C" __global__ void embedding(act* out, const act* table, const int* ids, int width) {
    KILN_EARLY_DEPENDENTS();
    long row = blockIdx.x;
    const act* source = table + (long)ids[row] * width;
    for (int i = threadIdx.x; i < width; i += blockDim.x) out[row * width + i] = source[i];
}

// Both norms keep a row in registers (up to NORM_MAX_PER_THREAD values a thread, usually two)
// and load it all before storing anything: outputs may alias inputs as far as the compiler
// knows, so interleaved loads and stores would wait for memory one element at a time.
#define NORM_MAX_PER_THREAD 16

// out = values / sqrt(mean(square) + eps) · weight, from this thread's values of the row
// (element threadIdx.x + k · blockDim.x at k) and their sum of squares
__device__ __forceinline__ void store_normalized(act* out, const float* values, float squares, const float* weight, int width, float eps) {
    float inverse = 1.0f / sqrtf(block_sum(squares) / width + eps);
#pragma unroll
    for (int k = 0; k < NORM_MAX_PER_THREAD; k++) {
        int i = threadIdx.x + k * blockDim.x;
        if (k * blockDim.x >= width) break;
        if (i < width) store(out + i, values[k] * inverse * weight[i]);
    }
}

extern "C" __global__ void rms_norm(act* out, const act* x, const float* weight, int width, float eps) {
    KILN_EARLY_DEPENDENTS();
    long row = (long)blockIdx.x * width;
    float values[NORM_MAX_PER_THREAD];
    float squares = 0.0f;
#pragma unroll
    for (int k = 0; k < NORM_MAX_PER_THREAD; k++) {
        int i = threadIdx.x + k * blockDim.x;
        if (k * blockDim.x >= width) break;
        values[k] = i < width ? load(x + row + i) : 0.0f;
        squares += values[k] * values[k];
    }
    store_normalized(out + row, values, squares, weight, width, eps);
}

// sum = x + residual (the residual stream, rounded to act), normed = rmsNorm(sum) · weight
extern "C" __global__ void residual_rms_norm(act* sum, act* normed, const act* x, const act* residual, const float* weight,
                                             int width, float eps) {
    KILN_EARLY_DEPENDENTS();
    long row = (long)blockIdx.x * width;
    float values[NORM_MAX_PER_THREAD];
#pragma unroll
    for (int k = 0; k < NORM_MAX_PER_THREAD; k++) {
        int i = threadIdx.x + k * blockDim.x;
        if (k * blockDim.x >= width) break;
        values[k] = i < width ? load(x + row + i) + load(residual + row + i) : 0.0f;
    }
    float squares = 0.0f;
#pragma unroll
    for (int k = 0; k < NORM_MAX_PER_THREAD; k++) {
        int i = threadIdx.x + k * blockDim.x;
        if (k * blockDim.x >= width) break;
        act rounded;
        store(&rounded, values[k]);
        values[k] = load(&rounded);
        squares += values[k] * values[k];
        if (i < width) sum[row + i] = rounded;
    }
    store_normalized(normed + row, values, squares, weight, width, eps);
}

// "rotate half" pairs (i, i + headDim/2) of every head, by position × inverse frequency
__device__ __forceinline__ void rotation(float a, float b, int position, const float* inverse_frequencies, float factor, int pair,
                                         float* x, float* y) {
    float angle = (float)position * inverse_frequencies[pair];  // float32 angle, as transformers forms it
    float c = cosf(angle) * factor, s = sinf(angle) * factor;
    *x = a * c - b * s;
    *y = b * c + a * s;
}

__device__ __forceinline__ void rotate_pair(const act* in, act* out, int position, const float* inverse_frequencies, float factor,
                                            int pair, int half) {
    float x, y;
    rotation(load(in + pair), load(in + pair + half), position, inverse_frequencies, factor, pair, &x, &y);
    store(out + pair, x);
    store(out + pair + half, y);
}

extern "C" __global__ void rope(act* out, const act* x, const int* positions, const float* inverse_frequencies, float factor,
                                int width, int head_dim) {
    KILN_WAIT_FOR_PRIOR_GRID();
    long row = (long)blockIdx.x * width;
    int half = head_dim / 2;
    for (int i = threadIdx.x; i < width / 2; i += blockDim.x) {
        int head = i / half, pair = i % half;
        long base = row + (long)head * head_dim;
        rotate_pair(x + base, out + base, positions[blockIdx.x], inverse_frequencies, factor, pair, half);
    }
}

extern "C" __global__ void gather_rows(act* out, const act* x, const int* rows, int width) {
    KILN_WAIT_FOR_PRIOR_GRID();
    const act* source = x + (long)rows[blockIdx.x] * width;
    for (int i = threadIdx.x; i < width; i += blockDim.x) out[(long)blockIdx.x * width + i] = source[i];
}

extern "C" __global__ void gather_rows_f32(float* out, const float* x, const int* rows, int width) {
    KILN_WAIT_FOR_PRIOR_GRID();
    const float* source = x + (long)rows[blockIdx.x] * width;
    for (int i = threadIdx.x; i < width; i += blockDim.x) out[(long)blockIdx.x * width + i] = source[i];
}

// row o of out gets `count` elements at out_offset from in's row o at in_offset (slice, concat)
extern "C" __global__ void copy_rows(act* out, const act* in, int count, int in_stride, int in_offset, int out_stride, int out_offset) {
    KILN_WAIT_FOR_PRIOR_GRID();
    const act* source = in + (long)blockIdx.x * in_stride + in_offset;
    act* target = out + (long)blockIdx.x * out_stride + out_offset;
    for (int i = threadIdx.x; i < count; i += blockDim.x) target[i] = source[i];
}
// Attention over the paged KV cache. The cache of one layer is [block][k|v][kv head]
// [token in block][head dim]. One kernel serves prefill and decode: a block takes one query
// token and one KV head, with all the query heads of that GQA group, so each K and V row is
// loaded once for the group; with `splits` > 1 (decode: few query tokens) the keys are also
// split across blocks (flash-decoding), merged by attention_combine.

#define MAX_GROUP 8
#define MAX_HEAD_DIM 256

#define ATTN_THREADS 128

// k and v of one token for KV heads [first_head, first_head + heads), rotated and written
// into the token's cache slot
__device__ __forceinline__ void write_token_kv(act* cache, const act* k, const act* v, int first_head, int heads, int position, int slot,
                                               const float* inverse_frequencies, float factor, int rotary, int num_kv_heads,
                                               int head_dim, int tokens_per_block) {
    int half = head_dim / 2;
    long block = slot / tokens_per_block, offset = slot % tokens_per_block;
    for (int i = threadIdx.x; i < heads * half; i += blockDim.x) {
        int head = first_head + i / half, pair = i % half;
        const act* k_head = k + head * head_dim;
        const act* v_head = v + head * head_dim;
        act* k_slot = cache + (((block * 2) * num_kv_heads + head) * tokens_per_block + offset) * head_dim;
        act* v_slot = cache + (((block * 2 + 1) * num_kv_heads + head) * tokens_per_block + offset) * head_dim;
        if (rotary) rotate_pair(k_head, k_slot, position, inverse_frequencies, factor, pair, half);
        else { k_slot[pair] = k_head[pair]; k_slot[pair + half] = k_head[pair + half]; }
        v_slot[pair] = v_head[pair];
        v_slot[pair + half] = v_head[pair + half];
    }
}

// Rotates q (into q_out) and k by their positions when `rotary`, and writes k and v into the
// cache slot of each token. q, k and v rows may sit inside wider rows (the fused q|k|v
// projection's output): their strides are given.
extern "C" __global__ void write_kv(act* q_out, act* cache, const act* q, const act* k, const act* v,
                                    const int* positions, const int* slots, const float* inverse_frequencies, float factor,
                                    int rotary, int num_heads, int num_kv_heads, int head_dim, int tokens_per_block,
                                    int q_stride, int k_stride, int v_stride) {
    KILN_WAIT_FOR_PRIOR_GRID();
    int t = blockIdx.x, position = positions[t], half = head_dim / 2;
    for (int i = threadIdx.x; i < num_heads * half; i += blockDim.x) {
        int head = i / half, pair = i % half;
        long base = ((long)t * num_heads + head) * head_dim, source = (long)t * q_stride + head * head_dim;
        if (rotary) rotate_pair(q + source, q_out + base, position, inverse_frequencies, factor, pair, half);
        else { q_out[base + pair] = q[source + pair]; q_out[base + pair + half] = q[source + pair + half]; }
    }
    write_token_kv(cache, k + (long)t * k_stride, v + (long)t * v_stride, 0, num_kv_heads, position, slots[t], inverse_frequencies, factor,
                   rotary, num_kv_heads, head_dim, tokens_per_block);
}

// The keys [begin, end) of one query token for the query heads of one KV head, whose scaled
// q rows are in q_shared: the output (splits == 1) or a split's record in partial
// [token][head][split][head_dim + 2] (acc, max, sum). Keys are taken in tiles of one per
// thread: a thread reads a whole K row and scores it for every query head of the group, and
// the tile's softmax is folded into the running max and sum. V rows are then read 16 bytes at
// a time: thread (chunk c, key lane l) adds dimensions 8c … 8c + 7 of keys l, l + lanes, …
// for every head, so a tile's V loads are all in flight at once; the key lanes (adjacent
// threads) add their sums by shuffles at the end. Loads of different keys are independent,
// so the memory system sees many at once.
__device__ void attend(const float* q_shared, act* out, float* partial, const act* cache, const int* table, int t, int kv_head, int split,
                       int begin, int end, int tokens_per_block, int num_heads, int num_kv_heads, int head_dim, int splits) {
    int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31;
    int group = num_heads / num_kv_heads;
    long v_offset = (long)num_kv_heads * tokens_per_block * head_dim;
    __shared__ float p_shared[MAX_GROUP][ATTN_THREADS];
    __shared__ long rows[ATTN_THREADS];
    __shared__ float m_shared[MAX_GROUP], l_shared[MAX_GROUP], rescale[MAX_GROUP];
    if (tid < group) { m_shared[tid] = NEG_INF; l_shared[tid] = 0.0f; }
    // the V layout: key lanes a power of two ≤ 32 (adjacent threads of one warp)
    int chunks = head_dim / 8, lanes = 32;
    while (lanes * chunks > ATTN_THREADS) lanes >>= 1;
    int chunk = tid / lanes, key_lane = tid % lanes;
    bool adds = chunk < chunks;
    float acc[MAX_GROUP][8];
#pragma unroll
    for (int g = 0; g < MAX_GROUP; g++)
#pragma unroll
        for (int e = 0; e < 8; e++) acc[g][e] = 0.0f;
    __syncthreads();

    for (int tile = begin; tile < end; tile += ATTN_THREADS) {
        int j = tile + tid;
        long row = -1;
        float s[MAX_GROUP];
#pragma unroll
        for (int g = 0; g < MAX_GROUP; g++) s[g] = 0.0f;
        if (j < end) {
            long block = table[j / tokens_per_block];
            row = ((block * 2) * num_kv_heads + kv_head) * tokens_per_block + j % tokens_per_block;
            const act* k_row = cache + row * head_dim;
            // unrolled so the row's loads are issued together, not one round trip per chunk
#pragma unroll 8
            for (int d = 0; d < head_dim; d += 8) {
                float k[8];
                load8(k_row + d, k);
#pragma unroll
                for (int g = 0; g < MAX_GROUP; g++) {
                    if (g >= group) break;
#pragma unroll
                    for (int e = 0; e < 8; e++) s[g] += q_shared[g * head_dim + d + e] * k[e];
                }
            }
        }
#pragma unroll
        for (int g = 0; g < MAX_GROUP; g++) if (g < group) p_shared[g][tid] = row >= 0 ? s[g] : NEG_INF;
        rows[tid] = row;
        __syncthreads();
        // fold the tile into each head's running max and sum: a warp per head
        for (int g = warp; g < group; g += ATTN_THREADS / 32) {
            float top = NEG_INF;
            for (int i = lane; i < ATTN_THREADS; i += 32) top = fmaxf(top, p_shared[g][i]);
            for (int offset = 16; offset > 0; offset >>= 1) top = fmaxf(top, __shfl_xor_sync(0xffffffffu, top, offset));
            float previous = m_shared[g], m_new = fmaxf(previous, top), sum = 0.0f;
            for (int i = lane; i < ATTN_THREADS; i += 32) {
                float p = p_shared[g][i] == NEG_INF ? 0.0f : expf(p_shared[g][i] - m_new);
                p_shared[g][i] = p;
                sum += p;
            }
            sum = warp_sum(sum);
            if (lane == 0) {
                float correction = previous == NEG_INF ? 0.0f : expf(previous - m_new);
                rescale[g] = correction;
                l_shared[g] = l_shared[g] * correction + sum;
                m_shared[g] = m_new;
            }
        }
        __syncthreads();
        if (adds) {
            int keys = min(ATTN_THREADS, end - tile);
#pragma unroll
            for (int g = 0; g < MAX_GROUP; g++) {
                if (g >= group) break;
#pragma unroll
                for (int e = 0; e < 8; e++) acc[g][e] *= rescale[g];
            }
#pragma unroll 8
            for (int i = key_lane; i < keys; i += lanes) {
                float v[8];
                load8(cache + rows[i] * head_dim + v_offset + chunk * 8, v);
#pragma unroll
                for (int g = 0; g < MAX_GROUP; g++) {
                    if (g >= group) break;
                    float p = p_shared[g][i];
#pragma unroll
                    for (int e = 0; e < 8; e++) acc[g][e] += p * v[e];
                }
            }
        }
        __syncthreads();
    }
    // every thread of a warp takes part in the shuffles (threads past the chunks add zeros)
#pragma unroll
    for (int g = 0; g < MAX_GROUP; g++) {
        if (g >= group) break;
#pragma unroll
        for (int e = 0; e < 8; e++)
            for (int offset = lanes / 2; offset > 0; offset >>= 1) acc[g][e] += __shfl_xor_sync(0xffffffffu, acc[g][e], offset);
    }
    if (!adds || key_lane != 0) return;
#pragma unroll
    for (int g = 0; g < MAX_GROUP; g++) {
        if (g >= group) break;
        long head = (long)t * num_heads + kv_head * group + g;
        if (splits == 1) {
#pragma unroll
            for (int e = 0; e < 8; e++) store(out + head * head_dim + chunk * 8 + e, acc[g][e] / l_shared[g]);
        } else {
            float* record = partial + (head * splits + split) * (head_dim + 2);
#pragma unroll
            for (int e = 0; e < 8; e++) record[chunk * 8 + e] = acc[g][e];
            if (chunk == 0) { record[head_dim] = m_shared[g]; record[head_dim + 1] = l_shared[g]; }
        }
    }
}

// the keys of query token t that split `split` of `splits` takes: [begin, end)
__device__ __forceinline__ void split_range(int position, int window, int split, int splits, int* begin, int* end) {
    int first = window > 0 ? max(0, position + 1 - window) : 0;
    int chunk = (position + 1 - first + splits - 1) / splits;
    *begin = first + split * chunk;
    *end = min(position + 1, *begin + chunk);
}

// Split records are read after other blocks wrote them (the writers fenced, the counter or
// the kernel boundary orders them): through L2, never a stale L1 line
__device__ __forceinline__ float load_cg(const float* p) {
    float v;
    asm volatile("ld.global.cg.f32 %0, [%1];" : "=f"(v) : "l"(p) : "memory");
    return v;
}

#define MAX_SPLITS 32

// merges the split records of heads [first, first + heads) of the block: one warp per head
// weighs the splits (their max and sum), then each thread sums its dimensions' records, with
// every record's load issued before any is used
__device__ void combine_splits(act* out, const float* partial, long first, int heads, int head_dim, int splits) {
    __shared__ float weights[MAX_GROUP][MAX_SPLITS];
    int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    for (int g = warp; g < heads; g += blockDim.x >> 5) {
        const float* records = partial + (first + g) * splits * (head_dim + 2);
        float m = lane < splits ? load_cg(records + lane * (head_dim + 2) + head_dim) : NEG_INF;
        float l = lane < splits ? load_cg(records + lane * (head_dim + 2) + head_dim + 1) : 0.0f;
        float top = m;
        for (int offset = 16; offset > 0; offset >>= 1) top = fmaxf(top, __shfl_xor_sync(0xffffffffu, top, offset));
        float weight = m == NEG_INF ? 0.0f : expf(m - top);
        float total = warp_sum(l * weight);
        if (lane < splits) weights[g][lane] = weight / total;
    }
    __syncthreads();
    for (int i = threadIdx.x; i < heads * head_dim; i += blockDim.x) {
        int g = i / head_dim, d = i % head_dim;
        const float* records = partial + (first + g) * splits * (head_dim + 2) + d;
        float parts[MAX_SPLITS];
#pragma unroll
        for (int z = 0; z < MAX_SPLITS; z++) if (z < splits) parts[z] = load_cg(records + z * (head_dim + 2));
        float value = 0.0f;
#pragma unroll
        for (int z = 0; z < MAX_SPLITS; z++) if (z < splits) value += parts[z] * weights[g][z];
        store(out + (first + g) * head_dim + d, value);
    }
}

// Prefill and mixed steps: q already rotated by write_kv (in `q`), every key in the cache.
extern "C" __global__ void __launch_bounds__(ATTN_THREADS)
paged_attention(act* out, float* partial, const act* q, const act* cache, const int* positions, const int* token_seq,
                const int* block_tables, int max_blocks, int tokens_per_block, int num_heads, int num_kv_heads,
                int head_dim, float scale, int window, int splits) {
    KILN_EARLY_DEPENDENTS();
    int t = blockIdx.x, kv_head = blockIdx.y, split = blockIdx.z, group = num_heads / num_kv_heads;
    __shared__ float q_shared[MAX_GROUP * MAX_HEAD_DIM];
    for (int i = threadIdx.x; i < group * head_dim; i += ATTN_THREADS)
        q_shared[i] = load(q + ((long)t * num_heads + kv_head * group) * head_dim + i) * scale;
    int begin, end;
    split_range(positions[t], window, split, splits, &begin, &end);
    attend(q_shared, out, partial, cache, block_tables + (long)token_seq[t] * max_blocks, t, kv_head, split, begin, end, tokens_per_block,
           num_heads, num_kv_heads, head_dim, splits);
}

// Decode steps (one new token per sequence, token t is sequence t), in one kernel: each
// block rotates its group's q itself, the block whose keys include the new token writes that
// token's k and v into the cache first, and with splits the last block of a (token, KV head)
// to finish merges them (counted in `arrivals`, which it resets for the next use).
extern "C" __global__ void __launch_bounds__(ATTN_THREADS)
decode_attention(act* out, float* partial, int* arrivals, act* cache, const act* q, const act* k, const act* v,
                 int q_stride, int k_stride, int v_stride, const int* positions, const int* slots, const int* block_tables,
                 int max_blocks, int tokens_per_block, const float* inverse_frequencies, float factor, int rotary,
                 int num_heads, int num_kv_heads, int head_dim, float scale, int window, int splits) {
    KILN_EARLY_DEPENDENTS();
    int t = blockIdx.x, kv_head = blockIdx.y, split = blockIdx.z, group = num_heads / num_kv_heads, half = head_dim / 2;
    int position = positions[t];
    // splits past one per tile of keys would only add merging: short contexts use fewer
    int first = window > 0 ? max(0, position + 1 - window) : 0;
    splits = min(splits, (position + 1 - first + ATTN_THREADS - 1) / ATTN_THREADS);
    if (split >= splits) return;
    __shared__ float q_shared[MAX_GROUP * MAX_HEAD_DIM];
    for (int i = threadIdx.x; i < group * half; i += ATTN_THREADS) {
        int g = i / half, pair = i % half;
        const act* source = q + (long)t * q_stride + (kv_head * group + g) * head_dim;
        float x = load(source + pair), y = load(source + pair + half);
        if (rotary) rotation(x, y, position, inverse_frequencies, factor, pair, &x, &y);
        act rounded[2];  // as write_kv stores q
        store(&rounded[0], x);
        store(&rounded[1], y);
        q_shared[g * head_dim + pair] = load(&rounded[0]) * scale;
        q_shared[g * head_dim + pair + half] = load(&rounded[1]) * scale;
    }
    int begin, end;
    split_range(position, window, split, splits, &begin, &end);
    if (position >= begin && position < end)
        write_token_kv(cache, k + (long)t * k_stride, v + (long)t * v_stride, kv_head, 1, position, slots[t], inverse_frequencies, factor,
                       rotary, num_kv_heads, head_dim, tokens_per_block);
    __syncthreads();  // the new key is in the cache for this block's reads
    attend(q_shared, out, partial, cache, block_tables + (long)t * max_blocks, t, kv_head, split, begin, end, tokens_per_block,
           num_heads, num_kv_heads, head_dim, splits);
    if (splits == 1) return;
    __shared__ int last;
    __threadfence();  // this split's record is visible before it is counted
    __syncthreads();
    if (threadIdx.x == 0) {
        int* counter = arrivals + t * num_kv_heads + kv_head;
        last = atomicAdd(counter, 1) == splits - 1;
        if (last) *counter = 0;
    }
    __syncthreads();
    if (!last) return;
    __threadfence();
    combine_splits(out, partial, (long)t * num_heads + kv_head * group, group, head_dim, splits);
}

// merges the splits of each (token, KV head)'s group of query heads
extern "C" __global__ void __launch_bounds__(ATTN_THREADS) attention_combine(act* out, const float* partial, int num_heads, int num_kv_heads,
                                                                            int head_dim, int splits) {
    KILN_EARLY_DEPENDENTS();
    int group = num_heads / num_kv_heads;
    combine_splits(out, partial, (long)blockIdx.x * num_heads + blockIdx.y * group, group, head_dim, splits);
}
// Token choice on the GPU, so only the chosen ids cross to the host. The same algorithm as
// TokenChoice.pick on the host: thresholds found by bisection (no sort), then a draw in
// vocabulary order with the caller's uniform number.

struct TokenChoice { float temperature; int top_k; float top_p; float uniform; };

#define SAMPLE_BISECTIONS 32

__device__ float block_max(float v) {
    __shared__ float partial[32];
    __shared__ float total;
    for (int offset = 16; offset > 0; offset >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, offset));
    if ((threadIdx.x & 31) == 0) partial[threadIdx.x >> 5] = v;
    __syncthreads();
    if (threadIdx.x < 32) {
        float w = threadIdx.x < (blockDim.x + 31) / 32 ? partial[threadIdx.x] : NEG_INF;
        for (int offset = 16; offset > 0; offset >>= 1) w = fmaxf(w, __shfl_xor_sync(0xffffffffu, w, offset));
        if (threadIdx.x == 0) total = w;
    }
    __syncthreads();
    float result = total;
    __syncthreads();
    return result;
}

// the index of the row's largest value (the first on ties) and the value
__device__ int block_argmax(const float* row, int width, float* best_value) {
    float best = NEG_INF;
    int index = 0x7fffffff;
    for (int i = threadIdx.x; i < width; i += blockDim.x) {
        float v = row[i];
        if (v > best || (v == best && i < index)) { best = v; index = i; }
    }
    for (int offset = 16; offset > 0; offset >>= 1) {
        float other = __shfl_xor_sync(0xffffffffu, best, offset);
        int other_index = __shfl_xor_sync(0xffffffffu, index, offset);
        if (other > best || (other == best && other_index < index)) { best = other; index = other_index; }
    }
    __shared__ float values[32];
    __shared__ int indices[32];
    __shared__ float final_value;
    __shared__ int final_index;
    if ((threadIdx.x & 31) == 0) { values[threadIdx.x >> 5] = best; indices[threadIdx.x >> 5] = index; }
    __syncthreads();
    if (threadIdx.x == 0) {
        for (int w = 1; w < (blockDim.x + 31) / 32; w++)
            if (values[w] > best || (values[w] == best && indices[w] < index)) { best = values[w]; index = indices[w]; }
        final_value = best;
        final_index = index;
    }
    __syncthreads();
    *best_value = final_value;
    int result = final_index;
    __syncthreads();
    return result;
}

extern "C" __global__ void argmax_rows(int* out, const float* logits, int width) {
    KILN_WAIT_FOR_PRIOR_GRID();
    float best;
    int index = block_argmax(logits + (long)blockIdx.x * width, width, &best);
    if (threadIdx.x == 0) out[blockIdx.x] = index;
}

// exclusive prefix sum over the block's threads, in thread order
__device__ float block_exclusive_scan(float v) {
    __shared__ float totals[32];
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    float inclusive = v;
    for (int offset = 1; offset < 32; offset <<= 1) {
        float other = __shfl_up_sync(0xffffffffu, inclusive, offset);
        if (lane >= offset) inclusive += other;
    }
    if (lane == 31) totals[warp] = inclusive;
    __syncthreads();
    if (warp == 0) {
        float t = lane < (blockDim.x + 31) / 32 ? totals[lane] : 0.0f;
        for (int offset = 1; offset < 32; offset <<= 1) {
            float other = __shfl_up_sync(0xffffffffu, t, offset);
            if (lane >= offset) t += other;
        }
        totals[lane] = t;
    }
    __syncthreads();
    float result = inclusive - v + (warp > 0 ? totals[warp - 1] : 0.0f);
    __syncthreads();
    return result;
}

// `scratch` holds a row of floats per sampled row: the scaled logits, then the weights, so
// the bisections compare stored values instead of recomputing a division and an exp each
// step (each thread reads back only what it wrote, so no extra synchronization is needed).
extern "C" __global__ void __launch_bounds__(1024) sample_rows(int* out, const float* logits, int width, const TokenChoice* choices,
                                                               float* scratch) {
    KILN_WAIT_FOR_PRIOR_GRID();
    const float* row = logits + (long)blockIdx.x * width;
    float* values = scratch + (long)blockIdx.x * width;
    TokenChoice choice = choices[blockIdx.x];
    float best;
    int index = block_argmax(row, width, &best);
    if (choice.temperature <= 0.0f) {
        if (threadIdx.x == 0) out[blockIdx.x] = index;
        return;
    }
    float t = choice.temperature, top = best / t;
    float lowest = top;
    for (int i = threadIdx.x; i < width; i += blockDim.x) {
        values[i] = row[i] / t;
        lowest = fminf(lowest, values[i]);
    }
    float floor = -block_max(-lowest);
    // top-k: the largest threshold with at least k scaled logits at or above it
    float keep_from = floor;
    if (choice.top_k > 0 && choice.top_k < width) {
        float low = floor, high = top + 1.0f;
        for (int step = 0; step < SAMPLE_BISECTIONS; step++) {
            float middle = (low + high) / 2, count = 0.0f;
            for (int i = threadIdx.x; i < width; i += blockDim.x) count += values[i] >= middle ? 1.0f : 0.0f;
            if (block_sum(count) >= (float)choice.top_k) low = middle; else high = middle;
        }
        keep_from = low;
    }
    // the kept tokens' weights, in place of their scaled logits
    float mass = 0.0f;
    for (int i = threadIdx.x; i < width; i += blockDim.x) {
        values[i] = values[i] >= keep_from ? expf(values[i] - top) : 0.0f;
        mass += values[i];
    }
    float total = block_sum(mass);
    // top-p: the largest weight threshold whose kept mass still reaches p
    float minimum = 0.0f;
    if (choice.top_p < 1.0f) {
        float low = 0.0f, high = 1.0000001f;
        for (int step = 0; step < SAMPLE_BISECTIONS; step++) {
            float middle = (low + high) / 2, kept = 0.0f;
            for (int i = threadIdx.x; i < width; i += blockDim.x) kept += values[i] >= middle ? values[i] : 0.0f;
            if (block_sum(kept) >= choice.top_p * total) low = middle; else high = middle;
        }
        minimum = low;
    }
    __syncthreads();  // the draw reads runs of the row other threads wrote
    // the draw: each thread owns a contiguous run of the vocabulary
    int run = (width + blockDim.x - 1) / blockDim.x, begin = threadIdx.x * run, end = min(width, begin + run);
    float local = 0.0f;
    for (int i = begin; i < end; i++) local += values[i] >= minimum ? values[i] : 0.0f;
    float before = block_exclusive_scan(local);
    float target = choice.uniform * block_sum(local);
    if (threadIdx.x == 0) out[blockIdx.x] = index;  // if rounding leaves the target past the end
    __syncthreads();
    if (target >= before && target < before + local) {
        float running = before;
        for (int i = begin; i < end; i++) {
            float w = values[i];
            if (w < minimum || w <= 0.0f) continue;
            running += w;
            if (target < running) { out[blockIdx.x] = i; break; }
        }
    }
}
// The GEMV kernels (the sweep is in gemv.cuh; generated elementwise prologues live with the
// generated kernels). `staged`: x fits in shared memory and is copied there; otherwise the
// sweep reads it from global memory (through L1).

extern "C" __global__ void __launch_bounds__(GEMV_THREADS)
gemv_bf16(void* y, int y_is_f32, const bf16* __restrict__ x, const bf16* __restrict__ w, int m, int n, int k, int parts, int staged) {
    extern __shared__ u32x4 gemv_shared[];
    GemvSweep s = gemv_begin(w, n, k, parts);
    KILN_WAIT_ONLY();
    if (staged) gemv_stage_copy(gemv_shared, x, m, k);
    gemv_run(s, staged ? gemv_shared : (const u32x4*)x, y, y_is_f32, m, n);
}

// y = rmsNorm(x + residual) · wᵀ, the norm computed by every block into shared memory; block 0
// also writes x + residual to `sum` (residual and sum may be null: a plain RMSNorm)
extern "C" __global__ void __launch_bounds__(GEMV_THREADS)
gemv_rms_norm(void* y, int y_is_f32, const bf16* __restrict__ x, const bf16* __restrict__ residual, bf16* __restrict__ sum,
              const float* __restrict__ norm_weight, float eps, const bf16* __restrict__ w, int m, int n, int k, int parts) {
    extern __shared__ u32x4 gemv_shared[];
    GemvSweep s = gemv_begin(w, n, k, parts);
    KILN_WAIT_ONLY();
    gemv_stage_rms_norm(gemv_shared, x, residual, sum, norm_weight, eps, m, k);
    gemv_run(s, gemv_shared, y, y_is_f32, m, n);
}
extern "C" __global__ void __launch_bounds__(GEMV_THREADS) gemv_ew_abc(void* y, int y_is_f32, const bf16* __restrict__ w, int m, int n, int k, int parts, const act* __restrict__ in0, int w0, int r0, const float* __restrict__ in1, int w1, int r1) {
    extern __shared__ u32x4 gemv_shared[];
    GemvSweep s = gemv_begin(w, n, k, parts);
    KILN_WAIT_ONLY();
    bf16* xs = (bf16*)gemv_shared;
    for (long i = threadIdx.x * 8; i < (long)m * k; i += blockDim.x * 8) {
        float v0[8]; load8(in0 + (i / w0) * r0 + i % w0, v0);
        float v1[8];
#pragma unroll
        for (int e = 0; e < 8; e++) v1[e] = 1.0f / (1.0f + expf(-v0[e]));
        float v2[8]; load8(in1 + (i / w1) * r1 + i % w1, v2);
        float v3[8];
#pragma unroll
        for (int e = 0; e < 8; e++) v3[e] = v1[e] * v2[e];
        store8(xs + i, v3);
    }
    __syncthreads();
    gemv_run(s, gemv_shared, y, y_is_f32, m, n);
}
