// Token choice on the GPU, so only the chosen ids cross to the host.

// the index of each row's largest logit (the first one on ties, as the host sampler picks)
extern "C" __global__ void argmax_rows(int* out, const float* logits, int width) {
    const float* row = logits + (long)blockIdx.x * width;
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
    if ((threadIdx.x & 31) == 0) { values[threadIdx.x >> 5] = best; indices[threadIdx.x >> 5] = index; }
    __syncthreads();
    if (threadIdx.x == 0) {
        for (int w = 1; w < (blockDim.x + 31) / 32; w++)
            if (values[w] > best || (values[w] == best && indices[w] < index)) { best = values[w]; index = indices[w]; }
        out[blockIdx.x] = index;
    }
}
