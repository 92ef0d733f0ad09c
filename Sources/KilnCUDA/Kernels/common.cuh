// Shared by every Kiln kernel. Self-contained on purpose: NVRTC 13 ships no headers, so
// bf16 is handled by bit operations and nothing is #included; a machine with only the
// driver and NVRTC compiles these sources.

struct bf16 { unsigned short bits; };

__device__ __forceinline__ float load(const float* p) { return *p; }
__device__ __forceinline__ float load(const bf16* p) { return __uint_as_float(((unsigned)p->bits) << 16); }
__device__ __forceinline__ void store(float* p, float v) { *p = v; }
// round to nearest even, as the host's conversions do; NaN stays NaN
__device__ __forceinline__ void store(bf16* p, float v) {
    unsigned u = __float_as_uint(v);
    if ((u & 0x7fffffffu) > 0x7f800000u) { p->bits = 0x7fc0; return; }
    p->bits = (unsigned short)((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
}

// the type of activations and of the matrices GEMMs read: chosen per build (-DKILN_BF16)
#ifdef KILN_BF16
typedef bf16 act;
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
