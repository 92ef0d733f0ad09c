// Token choice on the GPU, so only the chosen ids cross to the host. The same algorithm as
// TokenChoice.pick on the host: thresholds found by bisection (no sort), then a draw in
// vocabulary order with the caller's uniform number.

struct TokenChoice { float temperature; int top_k; float top_p; float uniform; };

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

// Sampled picks. A row's vocabulary is shared by a thread block cluster on Hopper (grid
// (cluster, rows): each block keeps its slice's values in shared memory, and the blocks combine
// their sums through each other's), elsewhere taken by one block (its values in global scratch).
// The bisections of TokenChoice.pick take SAMPLE_BISECTIONS steps each; a pass over the values
// decides SAMPLE_LEVELS of them at once, measuring at every midpoint those steps could probe —
// the same floats the host computes — and then following the decisions. So one pass and one
// combine stand for four steps, and a pass only looks closely at values between the interval's
// lowest probe and its top: the rest count for every probe or for none.
#define SAMPLE_THREADS 512
#define SAMPLE_MAX_CLUSTER 8  // the blocks a row's cluster has at most (CUDAExecutable.samplingCluster)
#define SAMPLE_BISECTIONS 32
#define SAMPLE_LEVELS 4
#define SAMPLE_PROBES 15  // 2^SAMPLE_LEVELS - 1, in heap order: node j's halves are 2j + 1 (lower) and 2j + 2

// a value and where it is: the row's best, the first on ties
struct Best { float value; int index; };

struct Sum { __device__ float operator()(float a, float b) const { return a + b; } };
struct Min { __device__ float operator()(float a, float b) const { return fminf(a, b); } };
struct Better {
    __device__ Best operator()(Best a, Best b) const { return b.value > a.value || (b.value == a.value && b.index < a.index) ? b : a; }
};

__device__ __forceinline__ float shuffle_xor(float v, int offset) { return __shfl_xor_sync(0xffffffffu, v, offset); }
__device__ __forceinline__ Best shuffle_xor(Best v, int offset) {
    return {__shfl_xor_sync(0xffffffffu, v.value, offset), __shfl_xor_sync(0xffffffffu, v.index, offset)};
}
#if __CUDA_ARCH__ >= 900
__device__ __forceinline__ float load_cluster(const float* local, unsigned rank) {
    return __uint_as_float(load_cluster_shared(shared_address(local), rank));
}
__device__ __forceinline__ Best load_cluster(const Best* local, unsigned rank) {
    return {__uint_as_float(load_cluster_shared(shared_address(&local->value), rank)), (int)load_cluster_shared(shared_address(&local->index), rank)};
}
#endif

// Each block's totals for the cluster to read: two sets, as a block may write the next combine's
// while another still reads this one's (not the one after: the combine between waits for all)
__shared__ alignas(16) unsigned char sample_exchange[2][SAMPLE_PROBES * sizeof(Best)];

// Combines every thread's v[0 … N) over the row — the block's threads, then the cluster's blocks
// in rank order — in place, the same totals in every thread of every block. `round` counts the
// row's combines (the exchange set they use).
template <int N, typename T, typename Op>
__device__ void row_totals(T (&v)[N], Op op, int& round) {
    __shared__ T warps[SAMPLE_THREADS / 32][N];
    __shared__ T totals[N];
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
#pragma unroll
    for (int i = 0; i < N; i++)
        for (int offset = 16; offset > 0; offset >>= 1) v[i] = op(v[i], shuffle_xor(v[i], offset));
    if (lane == 0) {
#pragma unroll
        for (int i = 0; i < N; i++) warps[warp][i] = v[i];
    }
    __syncthreads();
    T* mine = (T*)sample_exchange[round++ & 1];
    bool clustered = false;
#if __CUDA_ARCH__ >= 900
    clustered = cluster_blocks() > 1;
#endif
    if (threadIdx.x < N) {
        T total = warps[0][threadIdx.x];
        for (int w = 1; w < SAMPLE_THREADS / 32; w++) total = op(total, warps[w][threadIdx.x]);
        if (clustered) mine[threadIdx.x] = total;
        totals[threadIdx.x] = total;
    }
#if __CUDA_ARCH__ >= 900
    if (clustered) {
        cluster_sync();  // every block's totals are in its shared memory
        if (threadIdx.x < N) {
            // every block's load in flight before any is added
            T blocks[SAMPLE_MAX_CLUSTER];
#pragma unroll
            for (unsigned r = 0; r < SAMPLE_MAX_CLUSTER; r++)
                if (r < cluster_blocks()) blocks[r] = load_cluster(mine + threadIdx.x, r);
            T total = blocks[0];
#pragma unroll
            for (unsigned r = 1; r < SAMPLE_MAX_CLUSTER; r++)
                if (r < cluster_blocks()) total = op(total, blocks[r]);
            totals[threadIdx.x] = total;
        }
    }
#endif
    __syncthreads();
#pragma unroll
    for (int i = 0; i < N; i++) v[i] = totals[i];
}

// row_totals of one value a thread
template <typename T, typename Op>
__device__ T row_total(T v, Op op, int& round) {
    T values[1] = {v};
    row_totals(values, op, round);
    return values[0];
}

// Greedy picks: gridDim.y blocks a row each take a slice of it (one block would stream a
// 128k-entry row through one SM), and the last of a row's blocks to finish (counted in
// `arrivals`, which it resets) picks among the slices' winners, the first on ties. The pick
// goes to `out` (where the next step's embedding reads it) and to `host_out`, pinned host
// memory the host reads once the step's event has passed (no copy queued after the kernel).
extern "C" __global__ void __launch_bounds__(SAMPLE_THREADS) argmax_rows(int* out, int* host_out, const float* logits, int width,
                                                                         float* best_values, int* best_indices, int* arrivals) {
    KILN_WAIT_FOR_PRIOR_GRID();
    int row = blockIdx.x, split = blockIdx.y, splits = gridDim.y;
    int chunk = (width + splits - 1) / splits, begin = min(width, split * chunk), end = min(width, begin + chunk);
    // the slice's largest value, the first on ties (NaNs never win)
    Best best = {NEG_INF, 0x7fffffff};
    const float* slice = logits + (long)row * width + begin;
    for (int i = threadIdx.x; i < end - begin; i += SAMPLE_THREADS) best = Better()(best, Best{slice[i], i});
    int round = 0;
    best = row_total(best, Better(), round);
    __shared__ int last;
    if (threadIdx.x == 0) {
        best_values[row * splits + split] = best.value;
        best_indices[row * splits + split] = best.index == 0x7fffffff ? best.index : best.index + begin;  // an empty slice loses every tie
        __threadfence();  // this slice's winner is visible before it is counted
        last = atomicAdd(arrivals + row, 1) == splits - 1;
    }
    __syncthreads();
    if (!last || threadIdx.x != 0) return;
    __threadfence();
    Best top = {NEG_INF, 0x7fffffff};
    for (int s = 0; s < splits; s++) top = Better()(top, Best{__ldcg(best_values + row * splits + s), __ldcg(best_indices + row * splits + s)});
    int pick = top.index;
    arrivals[row] = 0;
    if (pick == 0x7fffffff) pick = 0;  // a row of NaNs: a valid id, not one past the vocabulary
    out[row] = pick;
    host_out[row] = pick;
}

// this block's `v` (the same in all its threads) summed over the cluster's blocks before it
// (into *before) and over all of them (returned), in rank order
__device__ float row_prefix(float v, float* before, int& round) {
    float* mine = (float*)sample_exchange[round++ & 1];
    if (threadIdx.x == 0) *mine = v;
    float total = v, preceding = 0.0f;
#if __CUDA_ARCH__ >= 900
    if (cluster_blocks() > 1) {
        cluster_sync();  // every block's value is in its shared memory
        float blocks[SAMPLE_MAX_CLUSTER];
#pragma unroll
        for (unsigned r = 0; r < SAMPLE_MAX_CLUSTER; r++)
            if (r < cluster_blocks()) blocks[r] = load_cluster(mine, r);
        total = 0.0f;
#pragma unroll
        for (unsigned r = 0; r < SAMPLE_MAX_CLUSTER; r++) {
            if (r == cluster_rank()) preceding = total;
            if (r < cluster_blocks()) total += blocks[r];
        }
    }
#endif
    *before = preceding;
    return total;
}

// what a value adds to the measure at a threshold it reaches: one (top-k counts) or itself (top-p mass)
struct Count { __device__ float operator()(float) const { return 1.0f; } };
struct Mass { __device__ float operator()(float w) const { return w; } };

// TokenChoice.pick's bisection of [low, high): each step keeps the upper half while the row's
// measure at or above the midpoint reaches `goal`; returns the final low. `values`: the
// block's n values.
template <typename Measure>
__device__ float bisect(const float* values, int n, float low, float high, float goal, Measure measure, int& round) {
    for (int pass = 0; pass < SAMPLE_BISECTIONS / SAMPLE_LEVELS; pass++) {
        // the midpoints of every path of the next SAMPLE_LEVELS steps, computed as the steps would
        float probe[SAMPLE_PROBES], lower[SAMPLE_PROBES], upper[SAMPLE_PROBES];
        lower[0] = low;
        upper[0] = high;
#pragma unroll
        for (int j = 0; j < SAMPLE_PROBES; j++) {
            probe[j] = (lower[j] + upper[j]) / 2;
            if (2 * j + 2 < SAMPLE_PROBES) {
                lower[2 * j + 1] = lower[j]; upper[2 * j + 1] = probe[j];
                lower[2 * j + 2] = probe[j]; upper[2 * j + 2] = upper[j];
            }
        }
        // values at or above `high` reach every probe, values below the lowest (node 7) none
        float sums[SAMPLE_PROBES], reaching_all = 0.0f;
#pragma unroll
        for (int j = 0; j < SAMPLE_PROBES; j++) sums[j] = 0.0f;
        for (int i = threadIdx.x; i < n; i += SAMPLE_THREADS) {
            float v = values[i];
            if (v >= high) {
                reaching_all += measure(v);
            } else if (v >= probe[7]) {
                float m = measure(v);
#pragma unroll
                for (int j = 0; j < SAMPLE_PROBES; j++) sums[j] += v >= probe[j] ? m : 0.0f;
            }
        }
#pragma unroll
        for (int j = 0; j < SAMPLE_PROBES; j++) sums[j] += reaching_all;
        row_totals(sums, Sum(), round);
        int node = 0;
#pragma unroll
        for (int level = 0; level < SAMPLE_LEVELS; level++) {
            float sum = 0.0f, middle = 0.0f;
#pragma unroll
            for (int j = 0; j < SAMPLE_PROBES; j++)
                if (j == node) { sum = sums[j]; middle = probe[j]; }
            if (sum >= goal) { low = middle; node = 2 * node + 2; }
            else { high = middle; node = 2 * node + 1; }
        }
    }
    return low;
}

// One row's pick into *out and *host_out. This block takes the row's [begin, end) and keeps
// that slice's values (scaled logits, then weights) in `values`.
__device__ void sample_row(int* out, int* host_out, const float* row, int width, int begin, int end, TokenChoice choice, float* values) {
    int round = 0, n = end - begin;
    bool writer = cluster_rank() == 0 && threadIdx.x == 0;
    Best best = {NEG_INF, 0x7fffffff};
    for (int i = begin + threadIdx.x; i < end; i += SAMPLE_THREADS)
        if (row[i] > best.value) best = {row[i], i};
    best = row_total(best, Better(), round);
    int pick = best.index == 0x7fffffff ? 0 : best.index;  // a row of NaNs: a valid id
    if (choice.temperature > 0.0f) {
        float t = choice.temperature, top = best.value / t, lowest = top;
        for (int i = threadIdx.x; i < n; i += SAMPLE_THREADS) {
            values[i] = row[begin + i] / t;
            lowest = fminf(lowest, values[i]);
        }
        // top-k: the largest threshold with at least k scaled logits at or above it
        float keep_from = NEG_INF;  // keeps every number, as the host's lowest value does
        if (choice.top_k > 0 && choice.top_k < width)
            keep_from = bisect(values, n, row_total(lowest, Min(), round), top + 1.0f, (float)choice.top_k, Count(), round);
        // the kept tokens' weights, in place of their scaled logits (each thread reads back only what it wrote)
        float mass = 0.0f;
        for (int i = threadIdx.x; i < n; i += SAMPLE_THREADS) {
            values[i] = values[i] >= keep_from ? expf(values[i] - top) : 0.0f;
            mass += values[i];
        }
        float total = row_total(mass, Sum(), round);
        // top-p: the largest weight threshold whose kept mass still reaches p
        float minimum = choice.top_p < 1.0f ? bisect(values, n, 0.0f, 1.0000001f, choice.top_p * total, Mass(), round) : 0.0f;
        __syncthreads();  // the draw reads runs of the slice other threads wrote
        // the draw: each thread owns a contiguous run of the slice, the blocks' slices in rank order
        // (an odd length, so that a warp's threads read 32 different shared-memory banks)
        int run = (n + SAMPLE_THREADS - 1) / SAMPLE_THREADS | 1, first = min(n, (int)threadIdx.x * run), last = min(n, first + run);
        float local = 0.0f;
        for (int i = first; i < last; i++) local += values[i] >= minimum ? values[i] : 0.0f;
        float before = block_exclusive_scan(local), preceding;
        float row_mass = row_prefix(block_sum(local), &preceding, round);
        float target = choice.uniform * row_mass, start = preceding + before;
        // the first kept token whose running mass passes the target; ties between threads (rounding) go to the first
        float hit = -NEG_INF;
        if (target >= start && target < start + local) {
            float running = start;
            for (int i = first; i < last; i++) {
                float w = values[i];
                if (w < minimum || w <= 0.0f) continue;
                running += w;
                if (target < running) { hit = (float)(begin + i); break; }
            }
        }
        hit = row_total(hit, Min(), round);
        if (hit != -NEG_INF) pick = (int)hit;  // else rounding left the target past the end: the best token
    }
    if (writer) { *out = pick; *host_out = pick; }
#if __CUDA_ARCH__ >= 900
    if (cluster_blocks() > 1) cluster_sync();  // no block leaves, freeing its totals, while another reads them
#endif
}

// The sampled kernels read each row's choice from, and write its pick to, pinned host memory
// the host wrote and reads (`choices`, `host_out`), so no copy is queued around them; the pick
// also goes to `out`, where the next step's embedding reads it. The choices depend on nothing
// the step computes: they are read before waiting for the logits.

// Hopper: each row's vocabulary shared by a cluster (grid (cluster, rows)), each block's slice
// of ⌈width / cluster⌉ values in dynamic shared memory
extern "C" __global__ void __launch_bounds__(SAMPLE_THREADS) sample_rows_clustered(int* out, int* host_out, const float* logits, int width,
                                                                                 const TokenChoice* choices) {
    TokenChoice choice = choices[blockIdx.y];
    KILN_WAIT_FOR_PRIOR_GRID();
    extern __shared__ float slice_values[];
    int share = (width + gridDim.x - 1) / gridDim.x, begin = min(width, (int)blockIdx.x * share), end = min(width, begin + share);
    sample_row(out + blockIdx.y, host_out + blockIdx.y, logits + (long)blockIdx.y * width, width, begin, end, choice, slice_values);
}

// Elsewhere: a block a row, its values in `scratch` (a row of floats per row)
extern "C" __global__ void __launch_bounds__(SAMPLE_THREADS) sample_rows(int* out, int* host_out, const float* logits, int width,
                                                                       const TokenChoice* choices, float* scratch) {
    TokenChoice choice = choices[blockIdx.x];
    KILN_WAIT_FOR_PRIOR_GRID();
    sample_row(out + blockIdx.x, host_out + blockIdx.x, logits + (long)blockIdx.x * width, width, 0, width, choice, scratch + (long)blockIdx.x * width);
}
