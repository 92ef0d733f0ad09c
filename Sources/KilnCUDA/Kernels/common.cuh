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

// The persistent decode kernel (persistent.cu, its own module, built with KILN_PERSISTENT)
// runs the device functions below on some of a block's warps, the others streaming weights:
// there a "block-wide" step is a named barrier over the first KILN_GROUP_THREADS threads, and
// attention's over its first ATTN_THREADS. Everywhere else they are the whole block.
#if defined(KILN_PERSISTENT)
#define KILN_GROUP_THREADS PERSISTENT_CONSUMERS
#define KILN_GROUP_SYNC() asm volatile("bar.sync 1, %0;" ::"n"(PERSISTENT_CONSUMERS) : "memory")
#define ATTN_SYNC() asm volatile("bar.sync 2, 128;" ::: "memory")
#else
#define KILN_GROUP_THREADS blockDim.x
#define KILN_GROUP_SYNC() __syncthreads()
#define ATTN_SYNC() __syncthreads()
#endif

// sum over a group of up to 1024 threads; every thread gets the total
__device__ float block_sum(float v) {
    __shared__ float partial[32];
    __shared__ float total;
    v = warp_sum(v);
    if ((threadIdx.x & 31) == 0) partial[threadIdx.x >> 5] = v;
    KILN_GROUP_SYNC();
    if (threadIdx.x < 32) {
        float w = threadIdx.x < (KILN_GROUP_THREADS + 31) / 32 ? partial[threadIdx.x] : 0.0f;
        w = warp_sum(w);
        if (threadIdx.x == 0) total = w;
    }
    KILN_GROUP_SYNC();
    float result = total;
    KILN_GROUP_SYNC();
    return result;
}

// 16-byte loads: 8 bf16 values in four words, first value in the low half; or 4 floats
struct alignas(16) u32x4 { unsigned x, y, z, w; };
struct alignas(16) f32x4 { float x, y, z, w; };

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

// the 32-bit shared-memory address of a generic pointer into shared memory (what the
// asynchronous copies, mbarriers and cluster loads take)
__device__ __forceinline__ unsigned shared_address(const void* p) {
    unsigned long long address;
    asm("cvta.to.shared.u64 %0, %1;" : "=l"(address) : "l"(p));
    return (unsigned)address;
}

// 16 bytes from global to shared memory without passing through registers (Ampere and
// later; the copy completes by wait_async_copies, for the thread that issued it)
__device__ __forceinline__ void copy_async_16(void* shared, const void* global) {
#if __CUDA_ARCH__ >= 800
    asm volatile("cp.async.ca.shared.global [%0], [%1], 16;" ::"r"(shared_address(shared)), "l"(global) : "memory");
#else
    *(u32x4*)shared = *(const u32x4*)global;
#endif
}
__device__ __forceinline__ void wait_async_copies() {
#if __CUDA_ARCH__ >= 800
    asm volatile("cp.async.wait_all;" ::: "memory");
#endif
}

// Programmatic dependent launch (Hopper): every kernel waits until the previous kernel's
// writes are visible (KILN_WAIT_FOR_PRIOR_GRID). Small kernels that a GEMV follows (norms,
// elementwise, attention) also let it be scheduled as soon as they start
// (KILN_EARLY_DEPENDENTS): its blocks take the idle SMs and prefetch their weights while the
// small kernel runs. GEMVs let the next kernel launch once their first weight loads are
// issued: its blocks then take each SM as soon as it is free (on an H200, a one-row step
// 0.92 → 0.90–0.91 ms against triggering after each warp's last load; gemv.cuh).
// The persistent kernel orders its stages itself (and starts once the previous kernel has ended).
// With every wait taken out (timing only: the outputs are wrong) a one-row step took 0.78 ms
// against 0.90 on an H200: the waits cost ~0.12 ms, the kernels' starts and tails the rest
// (README, Performance).
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900 && !defined(KILN_PERSISTENT)
#define KILN_LAUNCH_DEPENDENTS() asm volatile("griddepcontrol.launch_dependents;" ::: "memory")
#define KILN_WAIT_ONLY() asm volatile("griddepcontrol.wait;" ::: "memory")
#else
#define KILN_LAUNCH_DEPENDENTS()
#define KILN_WAIT_ONLY()
#endif
#define KILN_WAIT_FOR_PRIOR_GRID() KILN_WAIT_ONLY()
#define KILN_EARLY_DEPENDENTS() do { KILN_LAUNCH_DEPENDENTS(); KILN_WAIT_ONLY(); } while (0)

// Thread block clusters (Hopper): blocks launched as one cluster read each other's shared
// memory. Elsewhere every block is a cluster of one.
#if __CUDA_ARCH__ >= 900
__device__ __forceinline__ unsigned cluster_rank() { unsigned r; asm("mov.u32 %0, %%cluster_ctarank;" : "=r"(r)); return r; }
__device__ __forceinline__ unsigned cluster_blocks() { unsigned n; asm("mov.u32 %0, %%cluster_nctarank;" : "=r"(n)); return n; }
// every block's shared-memory writes before it are seen by the cluster's reads after it
__device__ __forceinline__ void cluster_sync() {
    asm volatile("barrier.cluster.arrive.release.aligned;\n\tbarrier.cluster.wait.acquire.aligned;" ::: "memory");
}
// every block has started (its mbarriers initialized before it are seen), ordering no other memory
__device__ __forceinline__ void cluster_started() {
    asm volatile("barrier.cluster.arrive.relaxed.aligned;\n\tbarrier.cluster.wait.aligned;" ::: "memory");
}
// where `local` (a shared-memory address of this block) is in cluster block `rank`
__device__ __forceinline__ unsigned cluster_shared(unsigned local, unsigned rank) {
    unsigned remote;
    asm("mapa.shared::cluster.u32 %0, %1, %2;" : "=r"(remote) : "r"(local), "r"(rank));
    return remote;
}
// the 32-bit word at `local` in cluster block `rank`
__device__ __forceinline__ unsigned load_cluster_shared(unsigned local, unsigned rank) {
    unsigned word;
    asm volatile("ld.shared::cluster.b32 %0, [%1];" : "=r"(word) : "r"(cluster_shared(local, rank)) : "memory");
    return word;
}
// Stores `value` at `remote` (another cluster block's shared memory, from cluster_shared) and
// counts its 4 bytes on that block's mbarrier `landed`: no fence, and the sender need not wait
__device__ __forceinline__ void store_cluster_async(unsigned remote, float value, unsigned landed) {
    asm volatile("st.async.weak.shared::cluster.mbarrier::complete_tx::bytes.b32 [%0], %1, [%2];"
                 ::"r"(remote), "r"(__float_as_uint(value)), "r"(landed) : "memory");
}
// An mbarrier of one arrival, which `bytes` of asynchronous stores complete (the arrival is
// made here; its phase ends when the bytes have landed). Other cluster blocks may store to it
// once a cluster barrier has passed.
__device__ __forceinline__ void expect_bytes(unsigned long long* barrier, unsigned bytes) {
    unsigned address = shared_address(barrier);
    asm volatile("mbarrier.init.shared::cta.b64 [%0], 1;" ::"r"(address) : "memory");
    asm volatile("fence.mbarrier_init.release.cluster;" ::: "memory");
    asm volatile("mbarrier.arrive.expect_tx.shared::cta.b64 _, [%0], %1;" ::"r"(address), "r"(bytes) : "memory");
}
// Spins past ~10 s mean a wait for something that never comes (a bug): trap, so the step fails
// with an error instead of hanging the process.
__device__ __forceinline__ void check_spin(long long start) {
    if (clock64() - start > 20000000000LL) __trap();
}
// Waits until `barrier`'s phase of `parity` has completed. `from_cluster`: other cluster blocks
// stored what completes it (their stores are seen after); else this block's own copies did.
__device__ __forceinline__ void wait_parity(unsigned long long* barrier, unsigned parity, bool from_cluster = false) {
    unsigned address = shared_address(barrier), done = 0;
    long long start = clock64();
    while (true) {
        if (from_cluster)
            asm volatile("{ .reg .pred p; mbarrier.try_wait.parity.acquire.cluster.shared::cta.b64 p, [%1], %2; selp.u32 %0, 1, 0, p; }"
                         : "=r"(done) : "r"(address), "r"(parity) : "memory");
        else
            asm volatile("{ .reg .pred p; mbarrier.try_wait.parity.shared::cta.b64 p, [%1], %2; selp.u32 %0, 1, 0, p; }"
                         : "=r"(done) : "r"(address), "r"(parity) : "memory");
        if (done) return;
        check_spin(start);
    }
}
#else
__device__ __forceinline__ unsigned cluster_rank() { return 0; }
__device__ __forceinline__ unsigned cluster_blocks() { return 1; }
#endif
