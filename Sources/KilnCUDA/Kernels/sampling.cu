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

// Greedy picks: gridDim.y blocks a row each take a slice of it (one block would stream a
// 128k-entry row through one SM), and the last of a row's blocks to finish (counted in
// `arrivals`, which it resets) picks among the slices' winners, the first on ties. The pick
// goes to `out` (where the next step's embedding reads it) and to `host_out`, pinned host
// memory the host reads once the step's event has passed (no copy queued after the kernel).
extern "C" __global__ void argmax_rows(int* out, int* host_out, const float* logits, int width, float* best_values, int* best_indices,
                                       int* arrivals) {
    KILN_WAIT_FOR_PRIOR_GRID();
    int row = blockIdx.x, split = blockIdx.y, splits = gridDim.y;
    int chunk = (width + splits - 1) / splits, begin = min(width, split * chunk), end = min(width, begin + chunk);
    float best;
    int index = block_argmax(logits + (long)row * width + begin, end - begin, &best);
    __shared__ int last;
    if (threadIdx.x == 0) {
        best_values[row * splits + split] = best;
        best_indices[row * splits + split] = index == 0x7fffffff ? index : index + begin;  // an empty slice loses every tie
        __threadfence();  // this slice's winner is visible before it is counted
        last = atomicAdd(arrivals + row, 1) == splits - 1;
    }
    __syncthreads();
    if (!last || threadIdx.x != 0) return;
    __threadfence();
    float top = NEG_INF;
    int pick = 0x7fffffff;
    for (int s = 0; s < splits; s++) {
        float value = __ldcg(best_values + row * splits + s);
        int at = __ldcg(best_indices + row * splits + s);
        if (value > top || (value == top && at < pick)) { top = value; pick = at; }
    }
    arrivals[row] = 0;
    if (pick == 0x7fffffff) pick = 0;  // a row of NaNs: a valid id, not one past the vocabulary
    out[row] = pick;
    host_out[row] = pick;
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
