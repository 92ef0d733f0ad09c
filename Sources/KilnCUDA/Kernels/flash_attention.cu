// Prefill attention on tensor cores (bf16 and f16 activations), flash-attention style: a
// block takes a tile of query rows — up to FLASH_ROWS / group tokens of one sequence, times
// the query heads of one KV head, so each K and V row is loaded once for the GQA group — and
// walks the sequence's keys in tiles of FLASH_KEYS through the paged cache, keeping a running
// max and sum per row (online softmax) and the output in registers. Scores and outputs are
// mma.sync m16n8k16 products with f32 accumulation; the softmax weights are rounded to the
// activation type for the second product, as flash attention does. Tiles come from the host
// (`tiles`: first row and token count, a count of 0 leaves the block idle; without a list,
// in decode steps that fill the GPU, block t takes token t alone); q was rotated into `out`
// by write_kv, and each block overwrites exactly the rows it read.

#if defined(KILN_BF16) || defined(KILN_F16)

#define FLASH_ROWS 64
#define FLASH_KEYS 64
#define FLASH_THREADS 128  // four warps of 16 rows

#if defined(KILN_BF16)
#define FLASH_MMA "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32"
#define FLASH_PACK "cvt.rn.bf16x2.f32"
#else
#define FLASH_MMA "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32"
#define FLASH_PACK "cvt.rn.f16x2.f32"
#endif

// c += a · b for one 16×16 (row-major) by 16×8 (column-major) product
__device__ __forceinline__ void mma_16x8x16(float (&c)[4], const unsigned (&a)[4], unsigned b0, unsigned b1) {
    asm volatile(FLASH_MMA " {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, {%0, %1, %2, %3};"
                 : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

// two floats rounded to act, `low` in the low half (the earlier column)
__device__ __forceinline__ unsigned pack_act2(float low, float high) {
    unsigned packed;
    asm(FLASH_PACK " %0, %1, %2;" : "=r"(packed) : "f"(high), "f"(low));
    return packed;
}

__device__ __forceinline__ unsigned pair_bits(const act* low, const act* high) {
    return (unsigned)low->bits | ((unsigned)high->bits << 16);
}

// Thread layout of an m16n8k16 product (PTX ISA): lane = 4 · gid + tig; a thread holds rows
// gid and gid + 8, columns 2 · tig and 2 · tig + 1 of each 8-wide slice.
template <int D>
__device__ void flash_prefill(act* out, const act* cache, const int* positions, const int* token_seq, const int* tiles,
                              const int* block_tables, int max_blocks, int tokens_per_block, int num_heads, int num_kv_heads,
                              float scale, int window) {
    KILN_EARLY_DEPENDENTS();
    const int first = tiles ? tiles[2 * blockIdx.x] : blockIdx.x, tokens = tiles ? tiles[2 * blockIdx.x + 1] : 1;
    if (tokens == 0) return;
    constexpr int PITCH = D + 8;  // shared rows padded: the fragment loads of 8 rows hit 32 banks
    extern __shared__ u32x4 flash_shared[];
    act* q_shared = (act*)flash_shared;
    act* k_shared = q_shared + FLASH_ROWS * PITCH;
    act* v_shared = k_shared + FLASH_KEYS * PITCH;
    const int kv_head = blockIdx.y, group = num_heads / num_kv_heads, rows = tokens * group;
    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, gid = lane >> 2, tig = lane & 3;
    const int* table = block_tables + (long)token_seq[first] * max_blocks;
    const long v_offset = (long)num_kv_heads * tokens_per_block * D;

    // the tile's q rows (row r: token first + r / group, head kv_head · group + r % group); rows
    // past the tile are zeros
    for (int i = threadIdx.x; i < FLASH_ROWS * (D / 8); i += FLASH_THREADS) {
        int r = i / (D / 8), c = i % (D / 8);
        u32x4 value = {0, 0, 0, 0};
        if (r < rows) value = *(const u32x4*)(out + ((long)(first + r / group) * num_heads + kv_head * group + r % group) * D + c * 8);
        *(u32x4*)(q_shared + r * PITCH + c * 8) = value;
    }
    const int row0 = warp * 16 + gid, row1 = row0 + 8;
    const bool active = warp * 16 < rows;  // warps whose rows are all past the tile only load
    const int position0 = row0 < rows ? positions[first + row0 / group] : -1;
    const int position1 = row1 < rows ? positions[first + row1 / group] : -1;
    const int last = positions[first + tokens - 1];
    const int begin = window > 0 ? max(0, positions[first] + 1 - window) : 0;
    const float scale_log2 = scale * 1.4426950408889634f;  // scores in base 2: exp2 is one instruction

    float o[D / 8][4];
#pragma unroll
    for (int n = 0; n < D / 8; n++) o[n][0] = o[n][1] = o[n][2] = o[n][3] = 0.0f;
    float m0 = NEG_INF, m1 = NEG_INF, l0 = 0.0f, l1 = 0.0f;  // this thread's share of its rows' sums

    for (int tile = begin - begin % FLASH_KEYS; tile <= last; tile += FLASH_KEYS) {
        __syncthreads();  // the previous tile's K and V are no longer read
        for (int i = threadIdx.x; i < FLASH_KEYS * (D / 8); i += FLASH_THREADS) {
            int key = i / (D / 8), c = i % (D / 8), j = tile + key;
            u32x4 k = {0, 0, 0, 0}, v = {0, 0, 0, 0};  // zeros past the context: 0 · V must stay 0
            if (j <= last) {
                long row = key_row(table[j / tokens_per_block], j % tokens_per_block, kv_head, num_kv_heads, tokens_per_block);
                k = *(const u32x4*)(cache + row * D + c * 8);
                v = *(const u32x4*)(cache + row * D + v_offset + c * 8);
            }
            *(u32x4*)(k_shared + key * PITCH + c * 8) = k;
            *(u32x4*)(v_shared + key * PITCH + c * 8) = v;
        }
        __syncthreads();
        if (!active) continue;

        // scores: s[n] holds keys tile + 8n + 2 · tig (+1) of rows row0 (s[n][0..1]) and row1 (s[n][2..3])
        float s[FLASH_KEYS / 8][4];
#pragma unroll
        for (int n = 0; n < FLASH_KEYS / 8; n++) s[n][0] = s[n][1] = s[n][2] = s[n][3] = 0.0f;
#pragma unroll
        for (int d = 0; d < D; d += 16) {
            const act* q0 = q_shared + row0 * PITCH + d + 2 * tig;
            const act* q1 = q_shared + row1 * PITCH + d + 2 * tig;
            unsigned a[4] = {*(const unsigned*)q0, *(const unsigned*)q1, *(const unsigned*)(q0 + 8), *(const unsigned*)(q1 + 8)};
#pragma unroll
            for (int n = 0; n < FLASH_KEYS / 8; n++) {
                const act* k = k_shared + (8 * n + gid) * PITCH + d + 2 * tig;
                mma_16x8x16(s[n], a, *(const unsigned*)k, *(const unsigned*)(k + 8));
            }
        }
        // causal and sliding-window masks, then the tile folded into the running max and sum
        float top0 = NEG_INF, top1 = NEG_INF;
#pragma unroll
        for (int n = 0; n < FLASH_KEYS / 8; n++) {
#pragma unroll
            for (int e = 0; e < 4; e++) {
                int key = tile + 8 * n + 2 * tig + (e & 1), position = e < 2 ? position0 : position1;
                bool visible = key <= position && (window <= 0 || key > position - window);
                s[n][e] = visible ? s[n][e] * scale_log2 : NEG_INF;
            }
            top0 = fmaxf(top0, fmaxf(s[n][0], s[n][1]));
            top1 = fmaxf(top1, fmaxf(s[n][2], s[n][3]));
        }
        // the four threads of a row are adjacent lanes
        top0 = fmaxf(top0, __shfl_xor_sync(0xffffffffu, top0, 1));
        top0 = fmaxf(top0, __shfl_xor_sync(0xffffffffu, top0, 2));
        top1 = fmaxf(top1, __shfl_xor_sync(0xffffffffu, top1, 1));
        top1 = fmaxf(top1, __shfl_xor_sync(0xffffffffu, top1, 2));
        float new0 = fmaxf(m0, top0), new1 = fmaxf(m1, top1);
        // rows with no visible key yet keep a zero base, so exp2(-inf - base) is 0, not NaN
        float base0 = new0 == NEG_INF ? 0.0f : new0, base1 = new1 == NEG_INF ? 0.0f : new1;
        float correction0 = exp2f(m0 - base0), correction1 = exp2f(m1 - base1);
        m0 = new0;
        m1 = new1;
        l0 *= correction0;
        l1 *= correction1;
#pragma unroll
        for (int n = 0; n < D / 8; n++) {
            o[n][0] *= correction0; o[n][1] *= correction0;
            o[n][2] *= correction1; o[n][3] *= correction1;
        }
#pragma unroll
        for (int n = 0; n < FLASH_KEYS / 8; n++) {
            s[n][0] = exp2f(s[n][0] - base0); s[n][1] = exp2f(s[n][1] - base0);
            s[n][2] = exp2f(s[n][2] - base1); s[n][3] = exp2f(s[n][3] - base1);
            l0 += s[n][0] + s[n][1];
            l1 += s[n][2] + s[n][3];
        }
        // o += p · V: the scores' accumulator layout is the A operand's layout for 16 keys
#pragma unroll
        for (int kk = 0; kk < FLASH_KEYS / 16; kk++) {
            unsigned p[4] = {pack_act2(s[2 * kk][0], s[2 * kk][1]), pack_act2(s[2 * kk][2], s[2 * kk][3]),
                             pack_act2(s[2 * kk + 1][0], s[2 * kk + 1][1]), pack_act2(s[2 * kk + 1][2], s[2 * kk + 1][3])};
            const act* v = v_shared + (16 * kk + 2 * tig) * PITCH + gid;
#pragma unroll
            for (int n = 0; n < D / 8; n++) {
                const act* column = v + 8 * n;
                mma_16x8x16(o[n], p, pair_bits(column, column + PITCH), pair_bits(column + 8 * PITCH, column + 9 * PITCH));
            }
        }
    }
    if (!active) return;
    l0 += __shfl_xor_sync(0xffffffffu, l0, 1);
    l0 += __shfl_xor_sync(0xffffffffu, l0, 2);
    l1 += __shfl_xor_sync(0xffffffffu, l1, 1);
    l1 += __shfl_xor_sync(0xffffffffu, l1, 2);
    act* out0 = out + ((long)(first + row0 / group) * num_heads + kv_head * group + row0 % group) * D + 2 * tig;
    act* out1 = out + ((long)(first + row1 / group) * num_heads + kv_head * group + row1 % group) * D + 2 * tig;
#pragma unroll
    for (int n = 0; n < D / 8; n++) {
        if (row0 < rows) *(unsigned*)(out0 + 8 * n) = pack_act2(o[n][0] / l0, o[n][1] / l0);
        if (row1 < rows) *(unsigned*)(out1 + 8 * n) = pack_act2(o[n][2] / l1, o[n][3] / l1);
    }
}

// dynamic shared memory: q, k and v tiles of padded rows
#define FLASH_PREFILL_KERNEL(D) \
extern "C" __global__ void __launch_bounds__(FLASH_THREADS) \
flash_prefill_d##D(act* out, const act* cache, const int* positions, const int* token_seq, const int* tiles, const int* block_tables, \
                   int max_blocks, int tokens_per_block, int num_heads, int num_kv_heads, float scale, int window) { \
    flash_prefill<D>(out, cache, positions, token_seq, tiles, block_tables, max_blocks, tokens_per_block, num_heads, num_kv_heads, \
                     scale, window); \
}
FLASH_PREFILL_KERNEL(16)
FLASH_PREFILL_KERNEL(32)
FLASH_PREFILL_KERNEL(64)
FLASH_PREFILL_KERNEL(96)
FLASH_PREFILL_KERNEL(128)
FLASH_PREFILL_KERNEL(256)

#endif
