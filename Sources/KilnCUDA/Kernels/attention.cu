// Attention over the paged KV cache. The cache of one layer is [block][k|v][kv head]
// [token in block][head dim]. One kernel serves prefill and decode: a block takes one query
// token and one KV head, with all the query heads of that GQA group, so each K and V row is
// loaded once for the group; its 4 warps split the keys and keep online-softmax state, and
// with `splits` > 1 (decode: few query tokens) the keys are also split across blocks
// (flash-decoding), merged by attention_combine.

#define MAX_GROUP 8
#define MAX_PER_LANE 8  // head_dim up to 256
#define WARPS 4

// Rotates q (into q_out) and k by their positions when `rotary`, and writes k and v into the
// cache slot of each token. q, k and v rows may sit inside wider rows (the fused q|k|v
// projection's output): their strides are given.
extern "C" __global__ void write_kv(act* q_out, act* cache, const act* q, const act* k, const act* v,
                                    const int* positions, const int* slots, const float* inverse_frequencies, float factor,
                                    int rotary, int num_heads, int num_kv_heads, int head_dim, int tokens_per_block,
                                    int q_stride, int k_stride, int v_stride) {
    int t = blockIdx.x, position = positions[t], slot = slots[t], half = head_dim / 2;
    long block = slot / tokens_per_block, offset = slot % tokens_per_block;
    for (int i = threadIdx.x; i < num_heads * half; i += blockDim.x) {
        int head = i / half, pair = i % half;
        long base = ((long)t * num_heads + head) * head_dim, source = (long)t * q_stride + head * head_dim;
        if (rotary) rotate_pair(q + source, q_out + base, position, inverse_frequencies, factor, pair, half);
        else { q_out[base + pair] = q[source + pair]; q_out[base + pair + half] = q[source + pair + half]; }
    }
    for (int i = threadIdx.x; i < num_kv_heads * half; i += blockDim.x) {
        int head = i / half, pair = i % half;
        long source = (long)t * k_stride + head * head_dim, v_source = (long)t * v_stride + head * head_dim;
        act* k_slot = cache + (((block * 2) * num_kv_heads + head) * tokens_per_block + offset) * head_dim;
        act* v_slot = cache + (((block * 2 + 1) * num_kv_heads + head) * tokens_per_block + offset) * head_dim;
        if (rotary) rotate_pair(k + source, k_slot, position, inverse_frequencies, factor, pair, half);
        else { k_slot[pair] = k[source + pair]; k_slot[pair + half] = k[source + pair + half]; }
        v_slot[pair] = v[v_source + pair];
        v_slot[pair + half] = v[v_source + pair + half];
    }
}

// out (splits == 1) or partial [token][head][split][head_dim + 2] (acc, max, sum)
extern "C" __global__ void __launch_bounds__(WARPS * 32)
paged_attention(act* out, float* partial, const act* q, const act* cache, const int* positions, const int* token_seq,
                const int* block_tables, int max_blocks, int tokens_per_block, int num_heads, int num_kv_heads,
                int head_dim, float scale, int window, int splits) {
    int t = blockIdx.x, kv_head = blockIdx.y, split = blockIdx.z;
    int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    // lane l holds dims l·per_lane … ; with head_dim < 32 the upper lanes hold none
    int group = num_heads / num_kv_heads, per_lane = (head_dim + 31) >> 5;
    int position = positions[t];
    int first = window > 0 ? max(0, position + 1 - window) : 0;
    int chunk = (position + 1 - first + splits - 1) / splits;
    int begin = first + split * chunk, end = min(position + 1, begin + chunk);
    const int* table = block_tables + (long)token_seq[t] * max_blocks;
    long kv_stride = (long)num_kv_heads * tokens_per_block * head_dim;

    float qv[MAX_GROUP][MAX_PER_LANE], acc[MAX_GROUP][MAX_PER_LANE], m[MAX_GROUP], l[MAX_GROUP];
#pragma unroll
    for (int g = 0; g < MAX_GROUP; g++) {
        m[g] = NEG_INF; l[g] = 0.0f;
#pragma unroll
        for (int d = 0; d < MAX_PER_LANE; d++) {
            acc[g][d] = 0.0f;
            qv[g][d] = (g < group && d < per_lane && lane * per_lane + d < head_dim)
                ? load(q + ((long)t * num_heads + kv_head * group + g) * head_dim + lane * per_lane + d) * scale : 0.0f;
        }
    }
    for (int j = begin + warp; j < end; j += WARPS) {
        long block = table[j / tokens_per_block];
        const act* k_row = cache + (((block * 2) * num_kv_heads + kv_head) * tokens_per_block + j % tokens_per_block) * head_dim
                           + lane * per_lane;
        const act* v_row = k_row + kv_stride;
        float kr[MAX_PER_LANE], vr[MAX_PER_LANE];
#pragma unroll
        for (int d = 0; d < MAX_PER_LANE; d++) {
            bool valid = d < per_lane && lane * per_lane + d < head_dim;
            kr[d] = valid ? load(k_row + d) : 0.0f;
            vr[d] = valid ? load(v_row + d) : 0.0f;
        }
#pragma unroll
        for (int g = 0; g < MAX_GROUP; g++) {
            if (g >= group) break;
            float dot = 0.0f;
#pragma unroll
            for (int d = 0; d < MAX_PER_LANE; d++) dot += qv[g][d] * kr[d];
            float s = warp_sum(dot);
            float m_new = fmaxf(m[g], s);
            float correction = expf(m[g] - m_new), p = expf(s - m_new);
            l[g] = l[g] * correction + p;
#pragma unroll
            for (int d = 0; d < MAX_PER_LANE; d++) acc[g][d] = acc[g][d] * correction + p * vr[d];
            m[g] = m_new;
        }
    }
    __shared__ float shared_m[WARPS][MAX_GROUP], shared_l[WARPS][MAX_GROUP];
    __shared__ float shared_acc[WARPS][MAX_GROUP][MAX_PER_LANE * 32];
#pragma unroll
    for (int g = 0; g < MAX_GROUP; g++) {
        if (g >= group) break;
        if (lane == 0) { shared_m[warp][g] = m[g]; shared_l[warp][g] = l[g]; }
#pragma unroll
        for (int d = 0; d < MAX_PER_LANE; d++)
            if (d < per_lane && lane * per_lane + d < head_dim) shared_acc[warp][g][lane * per_lane + d] = acc[g][d];
    }
    __syncthreads();
    for (int i = threadIdx.x; i < group * head_dim; i += blockDim.x) {
        int g = i / head_dim, d = i % head_dim;
        float top = NEG_INF;
        for (int w = 0; w < WARPS; w++) top = fmaxf(top, shared_m[w][g]);
        float sum = 0.0f, value = 0.0f;
        for (int w = 0; w < WARPS; w++) {
            float weight = shared_m[w][g] == NEG_INF ? 0.0f : expf(shared_m[w][g] - top);
            sum += shared_l[w][g] * weight;
            value += shared_acc[w][g][d] * weight;
        }
        long head = (long)t * num_heads + kv_head * group + g;
        if (splits == 1) {
            store(out + head * head_dim + d, value / sum);
        } else {
            float* record = partial + (head * splits + split) * (head_dim + 2);
            record[d] = value;
            if (d == 0) { record[head_dim] = top; record[head_dim + 1] = sum; }
        }
    }
}

// merges the splits of each (token, head): one thread per head dimension
extern "C" __global__ void attention_combine(act* out, const float* partial, int num_heads, int head_dim, int splits) {
    long head = (long)blockIdx.x * num_heads + blockIdx.y;
    int d = threadIdx.x;
    const float* records = partial + head * splits * (head_dim + 2);
    float top = NEG_INF;
    for (int z = 0; z < splits; z++) top = fmaxf(top, records[z * (head_dim + 2) + head_dim]);
    float sum = 0.0f, value = 0.0f;
    for (int z = 0; z < splits; z++) {
        const float* record = records + z * (head_dim + 2);
        float weight = record[head_dim] == NEG_INF ? 0.0f : expf(record[head_dim] - top);
        sum += record[head_dim + 1] * weight;
        value += record[d] * weight;
    }
    store(out + head * head_dim + d, value / sum);
}
