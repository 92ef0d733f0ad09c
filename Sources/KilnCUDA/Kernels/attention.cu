// Attention over the paged KV cache. The cache of one layer is [block][k|v][kv head]
// [token in block][head dim]. One kernel serves prefill and decode: a block takes one query
// token and one KV head, with all the query heads of that GQA group, so each K and V row is
// loaded once for the group; with `splits` > 1 (decode: few query tokens) the keys are also
// split across blocks (flash-decoding), merged by attention_combine.

#define MAX_GROUP 8
#define MAX_HEAD_DIM 256

#define ATTN_THREADS 128

// The cache row (head_dim values) holding the key of token `offset` of cache block `block`
// for KV head `head`; its value is num_kv_heads · tokens_per_block rows further
__device__ __forceinline__ long key_row(long block, int offset, int head, int num_kv_heads, int tokens_per_block) {
    return (block * 2 * num_kv_heads + head) * tokens_per_block + offset;
}

// k and v of one token for KV heads [first_head, first_head + heads), rotated and written
// into the token's cache slot
__device__ __forceinline__ void write_token_kv(act* cache, const act* k, const act* v, int first_head, int heads, int position, int slot,
                                               const float* inverse_frequencies, float factor, int rotary, int num_kv_heads,
                                               int head_dim, int tokens_per_block) {
    int half = head_dim / 2;
    long block = slot / tokens_per_block, offset = slot % tokens_per_block;
    for (int i = threadIdx.x; i < heads * half; i += ATTN_THREADS) {
        int head = first_head + i / half, pair = i % half;
        const act* k_head = k + head * head_dim;
        const act* v_head = v + head * head_dim;
        act* k_slot = cache + key_row(block, offset, head, num_kv_heads, tokens_per_block) * head_dim;
        act* v_slot = k_slot + (long)num_kv_heads * tokens_per_block * head_dim;
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
    for (int i = threadIdx.x; i < num_heads * half; i += ATTN_THREADS) {
        int head = i / half, pair = i % half;
        long base = ((long)t * num_heads + head) * head_dim, source = (long)t * q_stride + head * head_dim;
        if (rotary) rotate_pair(q + source, q_out + base, position, inverse_frequencies, factor, pair, half);
        else { q_out[base + pair] = q[source + pair]; q_out[base + pair + half] = q[source + pair + half]; }
    }
    write_token_kv(cache, k + (long)t * k_stride, v + (long)t * v_stride, 0, num_kv_heads, position, slots[t], inverse_frequencies, factor,
                   rotary, num_kv_heads, head_dim, tokens_per_block);
}

// Folds a tile's scores (p_shared[g][0 … keys)) into each head's running max and sum: a warp
// per head; leaves the tile's weights in p_shared and the factor earlier sums are scaled by in
// rescale
__device__ __forceinline__ void fold_tile(float (*p_shared)[ATTN_THREADS], int keys, int group, float* m_shared, float* l_shared,
                                          float* rescale) {
    int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    for (int g = warp; g < group; g += ATTN_THREADS / 32) {
        float top = NEG_INF;
        for (int i = lane; i < keys; i += 32) top = fmaxf(top, p_shared[g][i]);
        for (int offset = 16; offset > 0; offset >>= 1) top = fmaxf(top, __shfl_xor_sync(0xffffffffu, top, offset));
        float previous = m_shared[g], m_new = fmaxf(previous, top), sum = 0.0f;
        for (int i = lane; i < keys; i += 32) {
            float p = expf(p_shared[g][i] - m_new);
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
}

// acc[g][·] (dimensions 8·chunk … of head g) rescaled, plus the tile's V rows key_lane,
// key_lane + step, … < keys weighted by the tile's weights; loads unrolled so several are in flight
template <int G>
__device__ __forceinline__ void add_values(float (&acc)[G][8], const float (*p_shared)[ATTN_THREADS], const float* rescale, const act* cache,
                                           const long* rows, long v_offset, int head_dim, int chunk, int key_lane, int step, int keys, int group) {
#pragma unroll
    for (int g = 0; g < G; g++) {
        if (g >= group) break;
#pragma unroll
        for (int e = 0; e < 8; e++) acc[g][e] *= rescale[g];
    }
#pragma unroll 4
    for (int key = key_lane; key < keys; key += step) {
        float v[8];
        load8(cache + rows[key] * head_dim + v_offset + chunk * 8, v);
#pragma unroll
        for (int g = 0; g < G; g++) {
            if (g >= group) break;
            float p = p_shared[g][key];
#pragma unroll
            for (int e = 0; e < 8; e++) acc[g][e] += p * v[e];
        }
    }
}

// The keys [begin, end) of one query token for the query heads of one KV head, whose scaled
// q rows are in q_shared: the output (splits == 1) or a split's record in partial
// [token][head][split < stride][head_dim + 2] (acc, max, sum). Keys are taken in tiles of one per
// thread: a thread reads a whole K row and scores it for every query head of the group, and
// the tile's softmax is folded into the running max and sum. V rows are then read 16 bytes at
// a time: thread (chunk c, key lane l) adds dimensions 8c … 8c + 7 of keys l, l + lanes, …
// for every head, so a tile's V loads are all in flight at once; the key lanes (adjacent
// threads) add their sums by shuffles at the end. Loads of different keys are independent,
// so the memory system sees many at once.
__device__ void attend(const float* q_shared, act* out, float* partial, const act* cache, const int* table, int t, int kv_head, int split,
                       int begin, int end, int tokens_per_block, int num_heads, int num_kv_heads, int head_dim, int splits, int stride) {
    int tid = threadIdx.x;
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
    ATTN_SYNC();

    for (int tile = begin; tile < end; tile += ATTN_THREADS) {
        int j = tile + tid;
        long row = -1;
        float s[MAX_GROUP];
#pragma unroll
        for (int g = 0; g < MAX_GROUP; g++) s[g] = 0.0f;
        if (j < end) {
            row = key_row(table[j / tokens_per_block], j % tokens_per_block, kv_head, num_kv_heads, tokens_per_block);
            const act* k_row = cache + row * head_dim;
            // unrolled so the row's loads are issued together, not one round trip per chunk
#pragma unroll 8
            for (int d = 0; d < head_dim; d += 8) {
                float k[8];
                load8(k_row + d, k);
#pragma unroll
                for (int g = 0; g < MAX_GROUP; g++) {
                    if (g >= group) break;
                    // q in two 16-byte shared loads, not eight
                    f32x4 a = *(const f32x4*)(q_shared + g * head_dim + d), b = *(const f32x4*)(q_shared + g * head_dim + d + 4);
                    s[g] += a.x * k[0] + a.y * k[1] + a.z * k[2] + a.w * k[3] + b.x * k[4] + b.y * k[5] + b.z * k[6] + b.w * k[7];
                }
            }
        }
#pragma unroll
        for (int g = 0; g < MAX_GROUP; g++) if (g < group) p_shared[g][tid] = row >= 0 ? s[g] : NEG_INF;
        rows[tid] = row;
        ATTN_SYNC();
        fold_tile(p_shared, min(ATTN_THREADS, end - tile), group, m_shared, l_shared, rescale);
        ATTN_SYNC();
        if (adds) add_values<MAX_GROUP>(acc, p_shared, rescale, cache, rows, v_offset, head_dim, chunk, key_lane, lanes, min(ATTN_THREADS, end - tile), group);
        ATTN_SYNC();
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
            float* record = partial + (head * stride + split) * (head_dim + 2);
#pragma unroll
            for (int e = 0; e < 8; e++) record[chunk * 8 + e] = acc[g][e];
            if (chunk == 0) { record[head_dim] = m_shared[g]; record[head_dim + 1] = l_shared[g]; }
        }
    }
}

__device__ __forceinline__ void prefetch_l2(const void* p) { asm volatile("prefetch.global.L2 [%0];" ::"l"(p)); }

// the keys of query token t that split `split` of `splits` takes: [begin, end)
__device__ __forceinline__ void split_range(int position, int window, int split, int splits, int* begin, int* end) {
    int first = window > 0 ? max(0, position + 1 - window) : 0;
    int chunk = (position + 1 - first + splits - 1) / splits;
    *begin = first + split * chunk;
    *end = min(position + 1, *begin + chunk);
}

// The splits a decode token's keys take of the `splits` launched: a split's fixed costs (q,
// merging) outweigh fewer than 16 keys, so short contexts use fewer (16 measured best on an
// H200 against 48–256 at batch 1 and 8)
__device__ __forceinline__ int decode_splits(int position, int window, int splits) {
    int first = window > 0 ? max(0, position + 1 - window) : 0;
    return min(splits, (position + 1 - first + 15) / 16);
}

// Asks L2 for the keys and values of a sequence's tokens [begin, end), a token a thread: the
// cached ones depend on nothing the step computes, so this goes before waiting for it
__device__ __forceinline__ void prefetch_keys(const act* cache, const int* table, int begin, int end, int kv_head, int num_kv_heads,
                                              int tokens_per_block, int head_dim) {
    int j = begin + threadIdx.x;
    if (j >= end) return;
    long row = key_row(table[j / tokens_per_block], j % tokens_per_block, kv_head, num_kv_heads, tokens_per_block);
    long v_offset = (long)num_kv_heads * tokens_per_block * head_dim;
    for (int d = 0; d < head_dim; d += 128 / (int)sizeof(act)) {  // one 128-byte line at a time
        prefetch_l2(cache + row * head_dim + d);
        prefetch_l2(cache + row * head_dim + v_offset + d);
    }
}

// Split records are read after other blocks wrote them (the writers fenced, the counter or
// the kernel boundary orders them): through L2, never a stale L1 line
__device__ __forceinline__ float load_cg(const float* p) {
    float v;
    asm volatile("ld.global.cg.f32 %0, [%1];" : "=f"(v) : "l"(p) : "memory");
    return v;
}

#define MAX_SPLITS 32

// Split records ([head of the group][split][head_dim + 2]: acc, max, sum) other blocks wrote
// to global memory: `base` is the group's first head's first record
struct GlobalRecords {
    const float* base;
    int stride, head_dim;
    __device__ __forceinline__ float operator()(int g, int split, int i) const {
        return load_cg(base + ((long)g * stride + split) * (head_dim + 2) + i);
    }
};

// merges the split records of the `heads` heads of a group into `out`: one warp per head
// weighs the splits (their max and sum), then thread i takes outputs first + step · i, … of the
// group's heads · head_dim, with every record's load issued before any is used
template <typename Records>
__device__ void combine_splits(act* out, Records records, int heads, int head_dim, int splits, int first, int step) {
    __shared__ float weights[MAX_GROUP][MAX_SPLITS];
    int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    for (int g = warp; g < heads; g += ATTN_THREADS >> 5) {
        float m = lane < splits ? records(g, lane, head_dim) : NEG_INF;
        float l = lane < splits ? records(g, lane, head_dim + 1) : 0.0f;
        float top = m;
        for (int offset = 16; offset > 0; offset >>= 1) top = fmaxf(top, __shfl_xor_sync(0xffffffffu, top, offset));
        float weight = m == NEG_INF ? 0.0f : expf(m - top);
        float total = warp_sum(l * weight);
        if (lane < splits) weights[g][lane] = weight / total;
    }
    ATTN_SYNC();
    for (int i = first + threadIdx.x * step; i < heads * head_dim; i += ATTN_THREADS * step) {
        int g = i / head_dim, d = i % head_dim;
        float parts[MAX_SPLITS];
#pragma unroll
        for (int z = 0; z < MAX_SPLITS; z++) if (z < splits) parts[z] = records(g, z, d);
        float value = 0.0f;
#pragma unroll
        for (int z = 0; z < MAX_SPLITS; z++) if (z < splits) value += parts[z] * weights[g][z];
        store(out + (long)g * head_dim + d, value);
    }
}

// Split records rank 0 of a Hopper cluster gathered in its shared memory: [split][head of the
// group][head_dim + 2]
struct SharedRecords {
    const float* base;
    int heads, head_dim;
    __device__ __forceinline__ float operator()(int g, int split, int i) const { return base[(split * heads + g) * (head_dim + 2) + i]; }
};

// Where a decode split writes its record (acc, max, sum; head g's at g · step): nowhere — the
// split is the whole context and writes the output — or memory this block addresses (`partial`
// in global memory, or its own shared memory where it merges its cluster's splits), or, on
// Hopper, rank 0's shared memory in its cluster, stored asynchronously and counted there by
// the mbarrier `landed` (shared::cluster addresses)
struct SplitRecord {
    enum Kind { OUTPUT, LOCAL, REMOTE } kind;
    float* local;
    unsigned remote, landed;
    int step;
    __device__ __forceinline__ void put(int g, int i, float value) const {
#if __CUDA_ARCH__ >= 900
        if (kind == REMOTE) { store_cluster_async(remote + 4u * (unsigned)(g * step + i), value, landed); return; }
#endif
        local[(long)g * step + i] = value;
    }
};

// Prefill and mixed steps: q already rotated by write_kv (in `q`), every key in the cache.
extern "C" __global__ void __launch_bounds__(ATTN_THREADS)
paged_attention(act* out, float* partial, const act* q, const act* cache, const int* positions, const int* token_seq,
                const int* block_tables, int max_blocks, int tokens_per_block, int num_heads, int num_kv_heads,
                int head_dim, float scale, int window, int splits) {
    KILN_EARLY_DEPENDENTS();
    int t = blockIdx.x, kv_head = blockIdx.y, split = blockIdx.z, group = num_heads / num_kv_heads;
    __shared__ alignas(16) float q_shared[MAX_GROUP * MAX_HEAD_DIM];
    for (int i = threadIdx.x; i < group * head_dim; i += ATTN_THREADS)
        q_shared[i] = load(q + ((long)t * num_heads + kv_head * group) * head_dim + i) * scale;
    int begin, end;
    split_range(positions[t], window, split, splits, &begin, &end);
    attend(q_shared, out, partial, cache, block_tables + (long)token_seq[t] * max_blocks, t, kv_head, split, begin, end, tokens_per_block,
           num_heads, num_kv_heads, head_dim, splits, splits);
}

// A decode block's keys [begin, end) are few (one split of one token's context), so its work is
// spread across threads rather than keys: for the scores, thread (key k, chunk c) — chunks
// adjacent — dots dimensions 8c … 8c + 7 of key k with every head's q and the chunks' partial
// sums are added by shuffles; for the values, the same thread adds chunk c of keys k,
// k + keys a pass, … for every head, and the key lanes' sums are added through shared memory
// once at the end (`reduce`: dynamic shared memory of ATTN_THREADS / span · group · head_dim
// floats). It writes the output or the split's record, as `record` says. G: the group size
// the loops are unrolled for (a power of two ≥ the group), so registers follow the model's
// group, not the largest.
// Thread slots a decode key takes: a power of two ≥ its 16-byte chunks, so they share a warp
__device__ __forceinline__ int key_span(int head_dim) {
    int span = 1;
    while (span < head_dim / 8) span <<= 1;
    return span;
}

template <int G>
__device__ __forceinline__ void attend_decode(const float* q_shared, act* out, SplitRecord record, const act* cache,
                                              const int* table, int t, int kv_head, int begin, int end, int tokens_per_block,
                                              int num_heads, int num_kv_heads, int head_dim) {
    int tid = threadIdx.x;
    int group = num_heads / num_kv_heads, chunks = head_dim / 8, span = key_span(head_dim);
    int per_pass = ATTN_THREADS / span, chunk = tid % span, key_lane = tid / span;
    bool reads = chunk < chunks;
    long v_offset = (long)num_kv_heads * tokens_per_block * head_dim;
    __shared__ float p_shared[MAX_GROUP][ATTN_THREADS];
    __shared__ long rows[ATTN_THREADS];
    __shared__ float m_shared[MAX_GROUP], l_shared[MAX_GROUP], rescale[MAX_GROUP];
    extern __shared__ float reduce[];
    if (tid < group) { m_shared[tid] = NEG_INF; l_shared[tid] = 0.0f; }
    float acc[G][8];
#pragma unroll
    for (int g = 0; g < G; g++)
#pragma unroll
        for (int e = 0; e < 8; e++) acc[g][e] = 0.0f;

    for (int tile = begin; tile < end; tile += ATTN_THREADS) {
        int keys = min(ATTN_THREADS, end - tile);
        if (tid < keys) {
            int j = tile + tid;
            rows[tid] = key_row(table[j / tokens_per_block], j % tokens_per_block, kv_head, num_kv_heads, tokens_per_block);
        }
        ATTN_SYNC();
        // unrolled: several keys' loads in flight per thread (long contexts take many passes)
#pragma unroll 4
        for (int base = 0; base < keys; base += per_pass) {
            int key = base + key_lane;
            float s[G];
#pragma unroll
            for (int g = 0; g < G; g++) s[g] = 0.0f;
            if (key < keys && reads) {
                float k[8];
                load8(cache + rows[key] * head_dim + chunk * 8, k);
#pragma unroll
                for (int g = 0; g < G; g++) {
                    if (g >= group) break;
                    f32x4 a = *(const f32x4*)(q_shared + g * head_dim + chunk * 8), b = *(const f32x4*)(q_shared + g * head_dim + chunk * 8 + 4);
                    s[g] = a.x * k[0] + a.y * k[1] + a.z * k[2] + a.w * k[3] + b.x * k[4] + b.y * k[5] + b.z * k[6] + b.w * k[7];
                }
            }
#pragma unroll
            for (int g = 0; g < G; g++) {
                if (g >= group) break;
                for (int offset = span / 2; offset > 0; offset >>= 1) s[g] += __shfl_xor_sync(0xffffffffu, s[g], offset);
                if (chunk == 0 && key < keys) p_shared[g][key] = s[g];
            }
        }
        ATTN_SYNC();
        fold_tile(p_shared, keys, group, m_shared, l_shared, rescale);
        ATTN_SYNC();
        if (reads) add_values<G>(acc, p_shared, rescale, cache, rows, v_offset, head_dim, chunk, key_lane, per_pass, keys, group);
        ATTN_SYNC();
    }
    // the key lanes' sums: [key lane][head][dimension] in shared memory, then one output a thread
    if (reads) {
#pragma unroll
        for (int g = 0; g < G; g++) {
            if (g >= group) break;
#pragma unroll
            for (int e = 0; e < 8; e++) reduce[(key_lane * group + g) * head_dim + chunk * 8 + e] = acc[g][e];
        }
    }
    ATTN_SYNC();
    for (int o = tid; o < group * head_dim; o += ATTN_THREADS) {
        int g = o / head_dim, d = o % head_dim;
        float value = 0.0f;
        for (int l = 0; l < per_pass; l++) value += reduce[(l * group + g) * head_dim + d];
        if (record.kind == SplitRecord::OUTPUT) {
            store(out + ((long)t * num_heads + kv_head * group + g) * head_dim + d, value / l_shared[g]);
        } else {
            record.put(g, d, value);
            if (d == 0) { record.put(g, head_dim, m_shared[g]); record.put(g, head_dim + 1, l_shared[g]); }
        }
    }
}

// Decode steps (one new token per sequence, token t is sequence t), in one kernel: each
// block — (token t, KV head, split) — rotates its group's q itself, and the block whose keys
// include the new token writes that token's k and v into the cache first. With splits, they
// are merged by rank 0 of their cluster (Hopper launches a (token, KV head)'s splits as one
// cluster), the others storing their records into its shared memory and leaving — on an H200
// a one-row step took 0.925 ms this way against 0.979 with every rank reading every record
// between two cluster barriers, each a GPU-scope fence — or else by the last block of a
// (token, KV head) to finish, counted in `arrivals` (reset by that block for the next use).
// One kernel per group size (decode_attention_g1 … _g8), each with the registers its group
// needs; the persistent kernel calls this for its attention blocks.
// HD, TPB: the head size and tokens a cache block, where the build fixed them (0: as given) —
// the decode step is latency-bound, and with them known its index arithmetic folds away (also
// in attend_decode, inlined here).
template <int G, int HD, int TPB>
__device__ __forceinline__ void decode_attention(act* out, float* partial, int* arrivals, act* cache, const act* q, const act* k, const act* v,
                 int q_stride, int k_stride, int v_stride, const int* positions, const int* slots, const int* block_tables,
                 int max_blocks, int tokens_per_block, const float* inverse_frequencies, float factor, int rotary,
                 int num_heads, int num_kv_heads, int head_dim, float scale, int window, int splits, int t, int kv_head, int split) {
    if (HD) head_dim = HD;
    if (TPB) tokens_per_block = TPB;
    // the step's metadata and the cached keys do not depend on the previous kernel: the split's
    // first keys are fetched into L2 before waiting for it, so the wait ends with them close by
    KILN_LAUNCH_DEPENDENTS();
    int group = num_heads / num_kv_heads, half = head_dim / 2;
    int position = positions[t], slot = slots[t];
    bool clustered = cluster_blocks() > 1;
    // records keep the launch's stride: tokens of one step may use different counts
    int stride = splits;
    splits = decode_splits(position, window, splits);
    int record_floats = head_dim + 2;  // a head's record: acc, max, sum
    extern __shared__ float reduce[];
    // where a cluster merges: every split's record in rank 0's shared memory, after its key lanes' sums
    float* gathered = reduce + ATTN_THREADS / key_span(head_dim) * group * head_dim;
#if __CUDA_ARCH__ >= 900
    // rank 0 counts the other splits' records landing (an idle block sends none); the cluster
    // barrier, before the wait for the previous kernel, only makes the mbarrier visible
    __shared__ alignas(8) unsigned long long landed;
    if (clustered) {
        if (cluster_rank() == 0 && threadIdx.x == 0) expect_bytes(&landed, (unsigned)((splits - 1) * group * record_floats * 4));
        cluster_started();
    }
#endif
    if (split >= splits) return;
    int begin, end;
    split_range(position, window, split, splits, &begin, &end);
    const int* table = block_tables + (long)t * max_blocks;
    prefetch_keys(cache, table, begin, end, kv_head, num_kv_heads, tokens_per_block, head_dim);
    KILN_WAIT_ONLY();
    // this split's record: the cluster's rank 0 gathers them (its own in place), else it goes
    // to `partial` ([token · heads + head][stride][head_dim + 2]) for the last block to merge
    SplitRecord record{SplitRecord::OUTPUT, nullptr, 0u, 0u, record_floats};
    if (splits > 1 && !clustered) {
        record.kind = SplitRecord::LOCAL;
        record.local = partial + (((long)t * num_heads + kv_head * group) * stride + split) * record_floats;
        record.step = stride * record_floats;
    } else if (splits > 1) {
        unsigned rank = cluster_rank();
        record.kind = rank == 0 ? SplitRecord::LOCAL : SplitRecord::REMOTE;
        if (rank == 0) record.local = gathered;
#if __CUDA_ARCH__ >= 900
        record.remote = cluster_shared(shared_address(gathered + rank * group * record_floats), 0);
        record.landed = cluster_shared(shared_address(&landed), 0);
#endif
    }
    __shared__ alignas(16) float q_shared[MAX_GROUP * MAX_HEAD_DIM];
    // q's pairs, and the new token's k and v where this block writes them: each iteration
    // issues all its loads before using any, one round trip to memory
    bool writes = position >= begin && position < end;
    const act* k_head = k + (long)t * k_stride + kv_head * head_dim;
    const act* v_head = v + (long)t * v_stride + kv_head * head_dim;
    long k_slot = key_row(slot / tokens_per_block, slot % tokens_per_block, kv_head, num_kv_heads, tokens_per_block) * head_dim;
    long v_slot = k_slot + (long)num_kv_heads * tokens_per_block * head_dim;
    for (int i = threadIdx.x; i < group * half; i += ATTN_THREADS) {
        int g = i / half, pair = i % half;
        bool kv = writes && i < half;
        const act* source = q + (long)t * q_stride + (kv_head * group + g) * head_dim;
        float x = load(source + pair), y = load(source + pair + half), kx = 0, ky = 0, vx = 0, vy = 0;
        if (kv) { kx = load(k_head + pair); ky = load(k_head + pair + half); vx = load(v_head + pair); vy = load(v_head + pair + half); }
        if (rotary) rotation(x, y, position, inverse_frequencies, factor, pair, &x, &y);
        act rounded[2];  // as write_kv stores q
        store(&rounded[0], x);
        store(&rounded[1], y);
        q_shared[g * head_dim + pair] = load(&rounded[0]) * scale;
        q_shared[g * head_dim + pair + half] = load(&rounded[1]) * scale;
        if (kv) {
            if (rotary) rotation(kx, ky, position, inverse_frequencies, factor, pair, &kx, &ky);
            store(cache + k_slot + pair, kx);
            store(cache + k_slot + pair + half, ky);
            store(cache + v_slot + pair, vx);
            store(cache + v_slot + pair + half, vy);
        }
    }
    ATTN_SYNC();  // the new key is in the cache for this block's reads
    attend_decode<G>(q_shared, out, record, cache, table, t, kv_head, begin, end, tokens_per_block, num_heads, num_kv_heads, head_dim);
    if (splits == 1) return;
    act* group_out = out + ((long)t * num_heads + kv_head * group) * head_dim;
#if __CUDA_ARCH__ >= 900
    if (clustered) {
        // the others' records are on their way to rank 0, which alone merges: no second barrier
        if (record.kind == SplitRecord::REMOTE) return;
        ATTN_SYNC();  // rank 0's own record
        wait_parity(&landed, 0, true);
        combine_splits(group_out, SharedRecords{gathered, group, head_dim}, group, head_dim, splits, 0, 1);
        return;
    }
#endif
    __shared__ int last;
    __threadfence();  // this split's record is visible before it is counted
    ATTN_SYNC();
    if (threadIdx.x == 0) {
        int* counter = arrivals + t * num_kv_heads + kv_head;
        last = atomicAdd(counter, 1) == splits - 1;
        if (last) *counter = 0;
    }
    ATTN_SYNC();
    if (!last) return;
    __threadfence();
    combine_splits(group_out, GlobalRecords{partial + ((long)t * num_heads + kv_head * group) * stride * record_floats, stride, head_dim},
                   group, head_dim, splits, 0, 1);
}

// The model's head size and tokens a cache block, where the build gives them
// (-DKILN_DECODE_HEAD_DIM=…, -DKILN_DECODE_TOKENS_PER_BLOCK=…): launches that ask for it
// (`specialized`) take a copy of the kernel specialized for that shape. On an H200 it made a
// one-row step 0.961 → 0.945 ms, but an eight-row step 1.204 → 1.257, so only one-row steps ask.
#ifndef KILN_DECODE_HEAD_DIM
#define KILN_DECODE_HEAD_DIM 0
#endif
#ifndef KILN_DECODE_TOKENS_PER_BLOCK
#define KILN_DECODE_TOKENS_PER_BLOCK 0
#endif
#define DECODE_ATTENTION_CALL(G, HD, TPB) \
    decode_attention<G, HD, TPB>(out, partial, arrivals, cache, q, k, v, q_stride, k_stride, v_stride, positions, slots, block_tables, \
                                 max_blocks, tokens_per_block, inverse_frequencies, factor, rotary, num_heads, num_kv_heads, head_dim, \
                                 scale, window, splits, blockIdx.x, blockIdx.y, blockIdx.z)

// At most 96 registers a thread: a block then fits an SM beside a one- or two-row GEMV block
// (104 × 512 of the 65,536), so the o projection, launched while attention runs, loads its
// weights then
#define DECODE_ATTENTION_KERNEL(G) \
extern "C" __global__ void __maxnreg__(96) \
decode_attention_g##G(act* out, float* partial, int* arrivals, act* cache, const act* q, const act* k, const act* v, \
                      int q_stride, int k_stride, int v_stride, const int* positions, const int* slots, const int* block_tables, \
                      int max_blocks, int tokens_per_block, const float* inverse_frequencies, float factor, int rotary, \
                      int num_heads, int num_kv_heads, int head_dim, float scale, int window, int splits, int specialized) { \
    if (KILN_DECODE_HEAD_DIM && specialized && head_dim == KILN_DECODE_HEAD_DIM && tokens_per_block == KILN_DECODE_TOKENS_PER_BLOCK) \
        DECODE_ATTENTION_CALL(G, KILN_DECODE_HEAD_DIM, KILN_DECODE_TOKENS_PER_BLOCK); \
    else \
        DECODE_ATTENTION_CALL(G, 0, 0); \
}
DECODE_ATTENTION_KERNEL(1)
DECODE_ATTENTION_KERNEL(2)
DECODE_ATTENTION_KERNEL(4)
DECODE_ATTENTION_KERNEL(8)

// merges the splits of each (token, KV head)'s group of query heads
extern "C" __global__ void __launch_bounds__(ATTN_THREADS) attention_combine(act* out, const float* partial, int num_heads, int num_kv_heads,
                                                                            int head_dim, int splits) {
    KILN_EARLY_DEPENDENTS();
    int group = num_heads / num_kv_heads;
    long first = (long)blockIdx.x * num_heads + blockIdx.y * group;
    combine_splits(out + first * head_dim, GlobalRecords{partial + first * splits * (head_dim + 2), splits, head_dim}, group, head_dim, splits, 0, 1);
}
