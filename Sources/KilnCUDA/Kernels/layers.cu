// Row kernels: embedding gather, RMSNorm (alone and fused with the residual add), rotary
// embedding, gathers and copies between activations. One block per token row.

// A row whose feed is set (feeds[row] ≥ 0) takes the token the previous step picked at that
// output row: a decode step is queued before those picks reach the host.
__device__ __forceinline__ void embed_row(act* out, const act* table, const int* ids, const int* feeds, const int* picks, int width,
                                          long row, int threads) {
    int id = feeds && feeds[row] >= 0 ? picks[feeds[row]] : ids[row];
    const act* source = table + (long)id * width;
    for (int i = threadIdx.x; i < width; i += threads) out[row * width + i] = source[i];
}
extern "C" __global__ void embedding(act* out, const act* table, const int* ids, const int* feeds, const int* picks, int width) {
    KILN_EARLY_DEPENDENTS();
    embed_row(out, table, ids, feeds, picks, width, blockIdx.x, blockDim.x);
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
