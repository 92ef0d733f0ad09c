// One-row decode steps (batch 1) in a single persistent kernel (Hopper). A decode step is ~80
// dependent kernels that each stream a few megabytes of weights; between kernels the memory
// system idles while one grid drains and the next starts. Here one block per SM runs the
// step's stages (embedding, GEMVs with their fused prologues, attention) in order, separated
// by grid-wide counters instead of kernel boundaries, and its last warp streams the block's
// share of every GEMV's weights into a shared-memory ring with bulk copies, without waiting for
// any stage's inputs (weights depend on nothing). So while the other warps wait for a stage's
// inputs (the counter, a norm, attention), the ring keeps filling with the next weights, and
// memory stays busy across stage boundaries.
//
// Stage records (PersistentOp) are what the kernel-per-stage path would launch, translated by
// PersistentDecode.swift: same pointers, same arguments. Rows of a GEMV are split into one
// contiguous range per block; a ring slot holds whole rows (as many as fit), consumed by one
// warp. Activation reads after a counter wait are ordinary loads: the waiting thread's acquire
// orders them (and drops stale L1 lines), then the named barrier hands them to the group.

#define PERSISTENT_THREADS 512
// PERSISTENT_CONSUMERS (threads 0 … 479, fifteen warps) is defined by the module's options
#define PERSISTENT_MAX_SLOTS 32

#define OP_EMBEDDING 0
#define OP_GEMV 1
#define OP_ATTENTION 2

#define GEMV_COPY 0
#define GEMV_RMS_NORM 1
#define GEMV_ELEMENTWISE 2  // + the prologue's index

// A stage, as the host lays it out (192 bytes): kind, variant, a GEMV's rows a ring fill, then by kind:
// embedding: p = out, table, ids, feeds, picks; i = width, rows
// GEMV: p = y, w, then x (copy) | x, residual, sum, norm weight (RMSNorm, f[0] = eps) | the
//   elementwise operands (p[2 + j], width i[4 + 2j], row stride i[5 + 2j]); i = y is f32, m, n, k
// attention (variant = the GQA group the kernel is unrolled for): p = out, partial, arrivals,
//   cache, q, k, v, positions, slots, block tables, inverse frequencies; i = q, k, v strides,
//   max blocks, tokens per block, rotary, heads, KV heads, head dim, window, splits, tokens;
//   f = rotary factor, scale
struct PersistentOp {
    int kind, variant, fill, unused;
    unsigned long long p[12];
    int i[16];
    float f[4];
};

// Generated with the module, for the graph at hand: the elementwise prologue `which` into xs,
// and one attention block of the GQA group the graph's attention has (each group unrolled for
// takes its own static shared memory, so only those the graph needs are built)
__device__ void persistent_stage_elementwise(int which, bf16* xs, int m, int k, const PersistentOp& op);
__device__ void persistent_attention(const PersistentOp& op, int t, int kv_head, int split);

__device__ __forceinline__ unsigned long long global_time() {
    unsigned long long ns;
    asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(ns));
    return ns;
}

// The first `count` stages complete in every block: thread 0 waits for the counter, then the
// group goes on
__device__ __forceinline__ void wait_for_stages(const unsigned* counter, unsigned count) {
    if (threadIdx.x == 0) {
        long long start = clock64();
        unsigned seen;
        while (true) {
            asm volatile("ld.acquire.gpu.global.u32 %0, [%1];" : "=r"(seen) : "l"(counter) : "memory");
            if (seen >= count) break;
            check_spin(start);
        }
    }
    KILN_GROUP_SYNC();  // the acquire, passed on to the group
}

// This block's writes of the stage are all made (the group synchronized): count them; the
// last block past the last stage resets the counter for the next launch
__device__ __forceinline__ void finish_stage(unsigned* counter, int stage, int count) {
    if (stage < count - 1) {
        // a release reduction: no fence and no round trip on this thread's path
        asm volatile("red.release.gpu.global.add.u32 [%0], 1;" ::"l"(counter) : "memory");
    } else {
        __threadfence();
        if (atomicAdd(counter, 1) == count * gridDim.x - 1) *counter = 0;  // every block is past its last wait
    }
}

// RMSNorm of one row in registers (x + residual, the sum rounded to bf16 and written to `sum`
// by block 0, then value / sqrt(mean(square) + eps) · weight rounded to bf16 into xs), as
// gemv_stage_rms_norm computes it; its weights loaded before the stage's wait (they depend on
// nothing), so only x and the residual are read on the step's critical path. Rows up to
// NORM_CHUNKS · 8 · PERSISTENT_CONSUMERS values.
#define NORM_CHUNKS 4
struct NormWeights { float w[NORM_CHUNKS][8]; };

__device__ __forceinline__ bool norm_in_registers(const PersistentOp& op) {
    return op.kind == OP_GEMV && op.variant == GEMV_RMS_NORM && op.i[1] == 1 && op.i[3] <= NORM_CHUNKS * 8 * PERSISTENT_CONSUMERS;
}

__device__ __forceinline__ void load_norm_weights(NormWeights& weights, const float* weight, int k) {
#pragma unroll
    for (int j = 0; j < NORM_CHUNKS; j++) {
        int c = (threadIdx.x + j * PERSISTENT_CONSUMERS) * 8;
        if (c < k) load8(weight + c, weights.w[j]);
    }
}

__device__ void stage_rms_norm_row(u32x4* staged, const bf16* x, const bf16* residual, bf16* sum, const NormWeights& weights, float eps,
                                   int k) {
    bf16* xs = (bf16*)staged;
    float v[NORM_CHUNKS][8], squares = 0.0f;
#pragma unroll
    for (int j = 0; j < NORM_CHUNKS; j++) {
        int c = (threadIdx.x + j * PERSISTENT_CONSUMERS) * 8;
        if (c >= k) continue;
        load8(x + c, v[j]);
        if (residual) {
            float q[8];
            load8(residual + c, q);
#pragma unroll
            for (int i = 0; i < 8; i++) v[j][i] += q[i];
        }
        store8(xs + c, v[j]);
        if (sum && blockIdx.x == 0) store8(sum + c, v[j]);
        load8(xs + c, v[j]);  // the rounded values, as the norm kernels square them
#pragma unroll
        for (int i = 0; i < 8; i++) squares += v[j][i] * v[j][i];
    }
    float inverse = 1.0f / sqrtf(block_sum(squares) / k + eps);
#pragma unroll
    for (int j = 0; j < NORM_CHUNKS; j++) {
        int c = (threadIdx.x + j * PERSISTENT_CONSUMERS) * 8;
        if (c >= k) continue;
        float out[8];
#pragma unroll
        for (int i = 0; i < 8; i++) out[i] = v[j][i] * inverse * weights.w[j][i];
        store8(xs + c, out);
    }
    KILN_GROUP_SYNC();
}

// Before an attention stage's wait: its first item's keys and values (all but the new
// token's, written earlier steps) fetched into L2, as decode_attention does before its wait
__device__ void prefetch_attention(const PersistentOp& op) {
    int tokens = op.i[11], heads = op.i[7], e = blockIdx.x;
    if (e >= tokens * heads * op.i[10]) return;
    int t = e % tokens, kv_head = e / tokens % heads, split = e / (tokens * heads);
    int window = op.i[9], position = ((const int*)op.p[7])[t];
    int splits = decode_splits(position, window, op.i[10]);
    if (split >= splits) return;
    int begin, end;
    split_range(position, window, split, splits, &begin, &end);
    prefetch_keys((const act*)op.p[3], (const int*)op.p[9] + (long)t * op.i[3], begin, end, kv_head, op.i[7], op.i[4], op.i[8]);
}

// The producer: the block's rows of every GEMV, in stage order, into the ring, `fill` rows
// (the record's) a slot — a slot is refilled once the warp that read it released it
__device__ void stream_weights(const PersistentOp* ops, int count, unsigned char* ring, int slot_bytes, int slots,
                               unsigned long long* full, unsigned long long* empty) {
    unsigned long long stage = 0;
    for (int o = 0; o < count; o++) {
        const PersistentOp& op = ops[o];
        if (op.kind != OP_GEMV) continue;
        int n = op.i[2], k = op.i[3], per_fill = op.fill;
        long row_bytes = (long)k * 2;
        int first = (int)((long)blockIdx.x * n / gridDim.x), last = (int)((long)(blockIdx.x + 1) * n / gridDim.x);
        const unsigned char* weights = (const unsigned char*)op.p[1];
        for (int row = first; row < last; row += per_fill, stage++) {
            int slot = stage % slots;
            if (stage >= (unsigned long long)slots) wait_parity(&empty[slot], ((stage / slots) & 1) ^ 1);
            unsigned bytes = (unsigned)(min(per_fill, last - row) * row_bytes);
            unsigned barrier = shared_address(&full[slot]);
            asm volatile("mbarrier.arrive.expect_tx.shared::cta.b64 _, [%0], %1;" ::"r"(barrier), "r"(bytes) : "memory");
            asm volatile("cp.async.bulk.shared::cluster.global.mbarrier::complete_tx::bytes [%0], [%1], %2, [%3];"
                         ::"r"(shared_address(ring + (long)slot * slot_bytes)), "l"(weights + row * row_bytes), "r"(bytes), "r"(barrier)
                         : "memory");
        }
    }
}

// Rows a warp sums at once: each its own sum (so every row adds in the order the GEMV
// kernels use), their loads and multiply-adds interleaved
#define RING_ROWS 4

// The dot products of `count` ≤ RING_ROWS rows of a fill with x, written to y
__device__ __forceinline__ void ring_rows(const PersistentOp& op, const u32x4* rows, const u32x4* xs, int chunks, int row, int count) {
    int lane = threadIdx.x & 31;
    float acc[RING_ROWS] = {};
#pragma unroll 2
    for (int c = lane; c < chunks; c += 32) {
        float xf[8];
        unpack_bf16x8(xs[c], xf);
#pragma unroll
        for (int r = 0; r < RING_ROWS; r++) {
            if (r >= count) break;
            float wf[8];
            unpack_bf16x8(rows[(long)r * chunks + c], wf);
#pragma unroll
            for (int e = 0; e < 8; e++) acc[r] = fmaf(wf[e], xf[e], acc[r]);
        }
    }
#pragma unroll
    for (int r = 0; r < RING_ROWS; r++)
        if (r < count) acc[r] = warp_sum(acc[r]);  // count is the warp's own: every lane takes the same branches
#pragma unroll
    for (int r = 0; r < RING_ROWS; r++) {
        if (r >= count || lane != r) continue;
        if (op.i[0]) ((float*)op.p[0])[row + r] = acc[r];
        else store((bf16*)op.p[0] + row + r, acc[r]);
    }
}

// The consumers' part of a GEMV (one row), x staged: fill s of the ring goes to warp
// s % readers (readers divides the slots), so each slot has one reader, who waits for each of
// its phases in turn (a waiter a phase ahead would take the previous phase's completion for
// its own). The warp writes the dot products of the fill's rows with x.
__device__ void gemv_from_ring(const PersistentOp& op, const u32x4* xs, const unsigned char* ring, int slot_bytes, int slots, int readers,
                               unsigned long long* full, unsigned long long* empty, unsigned long long& stage) {
    int n = op.i[2], k = op.i[3], chunks = k / 8, per_fill = op.fill;
    int first = (int)((long)blockIdx.x * n / gridDim.x), last = (int)((long)(blockIdx.x + 1) * n / gridDim.x);
    int fills = (last - first + per_fill - 1) / per_fill;
    int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    int own = (int)((warp - (int)(stage % readers) + readers) % readers);  // this warp's first fill of the stage
    for (int j = warp < readers ? own : fills; j < fills; j += readers) {
        unsigned long long s = stage + j;
        int slot = s % slots;
        wait_parity(&full[slot], (s / slots) & 1);
        const u32x4* rows = (const u32x4*)(ring + (long)slot * slot_bytes);
        int row = first + j * per_fill, count = min(per_fill, last - row);
        for (int r = 0; r < count; r += RING_ROWS) ring_rows(op, rows + (long)r * chunks, xs, chunks, row + r, min(RING_ROWS, count - r));
        __syncwarp();
        if (lane == 0) asm volatile("mbarrier.arrive.shared::cta.b64 _, [%0];" ::"r"(shared_address(&empty[slot])) : "memory");
    }
    stage += fills;
}

template <int G>
__device__ __forceinline__ void attention_stage(const PersistentOp& op, int t, int kv_head, int split) {
    decode_attention<G, 0, 0>((act*)op.p[0], (float*)op.p[1], (int*)op.p[2], (act*)op.p[3], (const act*)op.p[4], (const act*)op.p[5],
                        (const act*)op.p[6], op.i[0], op.i[1], op.i[2], (const int*)op.p[7], (const int*)op.p[8], (const int*)op.p[9],
                        op.i[3], op.i[4], (const float*)op.p[10], op.f[0], op.i[5], op.i[6], op.i[7], op.i[8], op.f[1], op.i[9],
                        op.i[10], t, kv_head, split);
}

// the step's (token, KV head, split) attention blocks, spread over the grid; ATTN_THREADS threads each
__device__ void attention_blocks(const PersistentOp& op) {
    int tokens = op.i[11], heads = op.i[7], items = tokens * heads * op.i[10];
    for (int e = blockIdx.x; e < items; e += gridDim.x) {
        int t = e % tokens, kv_head = e / tokens % heads, split = e / (tokens * heads);
        persistent_attention(op, t, kv_head, split);
        ATTN_SYNC();  // the block's shared memory is reused by its next item
    }
}

// `counter`: stages finished, summed over blocks (0 at launch; the last block to finish resets it).
// `readers`: the warps that read the ring (at most the consumers' fifteen, dividing `slots`).
// `trace` (profiles; may be null): each block's start, the end of each of its stages, then when
// each stage's wait ended (ns).
// Dynamic shared memory: `staged` bytes (a GEMV's x, attention's key-lane sums), then the ring.
extern "C" __global__ void __launch_bounds__(PERSISTENT_THREADS, 1)
persistent_decode(const PersistentOp* ops, int count, unsigned* counter, int staged, int slot_bytes, int slots, int readers,
                  unsigned long long* trace) {
    extern __shared__ u32x4 persistent_shared[];
    __shared__ alignas(8) unsigned long long full[PERSISTENT_MAX_SLOTS], empty[PERSISTENT_MAX_SLOTS];
    unsigned char* ring = (unsigned char*)persistent_shared + staged;
    if (threadIdx.x == 0) {
        for (int s = 0; s < slots; s++) {
            asm volatile("mbarrier.init.shared::cta.b64 [%0], 1;" ::"r"(shared_address(&full[s])));
            asm volatile("mbarrier.init.shared::cta.b64 [%0], 1;" ::"r"(shared_address(&empty[s])));
        }
        asm volatile("fence.mbarrier_init.release.cluster;" ::: "memory");
    }
    __syncthreads();
    if (trace && threadIdx.x == 0) trace[blockIdx.x] = global_time();
    if (threadIdx.x >= PERSISTENT_CONSUMERS) {
        if (threadIdx.x == PERSISTENT_CONSUMERS) stream_weights(ops, count, ring, slot_bytes, slots, full, empty);
        return;
    }
    unsigned long long stage = 0;
    NormWeights norm;
    for (int o = 0; o < count; o++) {
        const PersistentOp& op = ops[o];
        // what the stage reads that no earlier stage writes, fetched before waiting for them
        if (norm_in_registers(op)) load_norm_weights(norm, (const float*)op.p[5], op.i[3]);
        else if (op.kind == OP_ATTENTION && threadIdx.x < ATTN_THREADS) prefetch_attention(op);
        if (o > 0) wait_for_stages(counter, o * gridDim.x);
        if (trace && threadIdx.x == 0) trace[(count + 1 + o) * gridDim.x + blockIdx.x] = global_time();
        if (op.kind == OP_EMBEDDING) {
            if (blockIdx.x < op.i[1])
                embed_row((act*)op.p[0], (const act*)op.p[1], (const int*)op.p[2], (const int*)op.p[3], (const int*)op.p[4], op.i[0],
                          blockIdx.x, PERSISTENT_CONSUMERS);
        } else if (op.kind == OP_GEMV) {
            u32x4* xs = persistent_shared;
            int m = op.i[1], k = op.i[3];
            if (op.variant == GEMV_COPY) gemv_stage_copy(xs, (const bf16*)op.p[2], m, k);
            else if (norm_in_registers(op))
                stage_rms_norm_row(xs, (const bf16*)op.p[2], (const bf16*)op.p[3], (bf16*)op.p[4], norm, op.f[0], k);
            else if (op.variant == GEMV_RMS_NORM)
                gemv_stage_rms_norm(xs, (const bf16*)op.p[2], (const bf16*)op.p[3], (bf16*)op.p[4], (const float*)op.p[5], op.f[0], m, k);
            else persistent_stage_elementwise(op.variant - GEMV_ELEMENTWISE, (bf16*)xs, m, k, op);
            gemv_from_ring(op, xs, ring, slot_bytes, slots, readers, full, empty, stage);
        } else if (threadIdx.x < ATTN_THREADS) {
            attention_blocks(op);
        }
        KILN_GROUP_SYNC();  // the stage's writes are all made (and its shared memory free)
        if (threadIdx.x == 0) {
            if (trace) trace[(o + 1) * gridDim.x + blockIdx.x] = global_time();
            finish_stage(counter, o, count);
        }
    }
}
