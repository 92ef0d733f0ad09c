// A pool of worker threads that spin briefly between kernels before sleeping: a decode
// step launches hundreds of short kernels, and waking a sleeping thread for each (as
// Dispatch does) costs more than many of them take.

#include "kiln_cpu.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
#if defined(__x86_64__)
#include <immintrin.h>
#define CPU_RELAX() _mm_pause()
#else
#define CPU_RELAX() ((void)0)
#endif

enum { SPIN_NANOSECONDS = 200000 };

static struct {
    pthread_once_t once;
    pthread_mutex_t caller;  // one parallel run at a time; others run inline
    pthread_mutex_t lock;
    pthread_cond_t wake;
    _Atomic uint64_t generation;
    _Atomic int pending;
    kiln_task_fn fn;
    void *context;
    int count;
    int threads;
} pool = { .once = PTHREAD_ONCE_INIT, .caller = PTHREAD_MUTEX_INITIALIZER, .lock = PTHREAD_MUTEX_INITIALIZER,
           .wake = PTHREAD_COND_INITIALIZER };

static uint64_t nanoseconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void *worker_main(void *argument) {
    int index = (int)(intptr_t)argument;
    uint64_t seen = 0;
    for (;;) {
        uint64_t deadline = nanoseconds() + SPIN_NANOSECONDS;
        for (int spins = 0; atomic_load_explicit(&pool.generation, memory_order_acquire) == seen; spins++) {
            CPU_RELAX();
            if ((spins & 255) == 255 && nanoseconds() > deadline) {
                pthread_mutex_lock(&pool.lock);
                while (atomic_load_explicit(&pool.generation, memory_order_acquire) == seen)
                    pthread_cond_wait(&pool.wake, &pool.lock);
                pthread_mutex_unlock(&pool.lock);
                break;
            }
        }
        seen = atomic_load_explicit(&pool.generation, memory_order_acquire);
        if (index < pool.count) pool.fn(pool.context, index);
        atomic_fetch_sub_explicit(&pool.pending, 1, memory_order_acq_rel);
    }
    return NULL;
}

static void start_pool(void) {
    pool.threads = kiln_thread_count();
    for (int i = 1; i < pool.threads; i++) {
        pthread_t thread;
        pthread_attr_t attributes;
        pthread_attr_init(&attributes);
        pthread_attr_setdetachstate(&attributes, PTHREAD_CREATE_DETACHED);
        if (pthread_create(&thread, &attributes, worker_main, (void *)(intptr_t)i) != 0) {
            pool.threads = i;  // run with the workers we have
            break;
        }
        pthread_attr_destroy(&attributes);
    }
}

int kiln_thread_count(void) {
    const char *requested = getenv("KILN_THREADS");
    int n = requested ? atoi(requested) : 0;
    if (n <= 0) n = (int)sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? n : 1;
}

void kiln_parallel_run(int count, kiln_task_fn fn, void *context) {
    pthread_once(&pool.once, start_pool);
    if (count <= 1 || pool.threads <= 1 || pthread_mutex_trylock(&pool.caller) != 0) {
        for (int i = 0; i < count; i++) fn(context, i);
        return;
    }
    int inline_from = count < pool.threads ? count : pool.threads;
    pool.fn = fn;
    pool.context = context;
    pool.count = inline_from;
    atomic_store_explicit(&pool.pending, pool.threads - 1, memory_order_relaxed);
    pthread_mutex_lock(&pool.lock);
    atomic_fetch_add_explicit(&pool.generation, 1, memory_order_release);
    pthread_cond_broadcast(&pool.wake);
    pthread_mutex_unlock(&pool.lock);
    fn(context, 0);
    for (int i = inline_from; i < count; i++) fn(context, i);  // more tasks than threads
    while (atomic_load_explicit(&pool.pending, memory_order_acquire) != 0) CPU_RELAX();
    pthread_mutex_unlock(&pool.caller);
}
