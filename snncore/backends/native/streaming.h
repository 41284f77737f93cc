// Streaming (non-temporal) stores for the native loops' large outputs.
//
// A row of an output is computed into a scratch row that stays in L1 cache and then copied out
// with streaming stores, which write whole cache lines to memory without first reading them (a
// plain store to memory that is not in cache reads every line before writing it) and without
// evicting the loop's inputs from the cache. Only on x86 (SSE2, AVX, AVX-512 as built);
// elsewhere SNN_CAN_STREAM is false and the loops write their rows directly.
#pragma once
#include <cstdint>
#if defined(__SSE2__)
#include <immintrin.h>
#define SNN_CAN_STREAM 1
#else
#define SNN_CAN_STREAM 0
#endif

// Copy the n floats of src (a row in cache) to dst with streaming stores where dst is aligned.
static inline void snn_stream_row(float* dst, const float* src, int64_t n) {
    int64_t j = 0;
#if SNN_CAN_STREAM
#if defined(__AVX512F__)
    constexpr int64_t W = 16;
#elif defined(__AVX__)
    constexpr int64_t W = 8;
#else
    constexpr int64_t W = 4;
#endif
    constexpr uintptr_t ALIGN = uintptr_t(W) * sizeof(float) - 1;
    for (; j < n && (reinterpret_cast<uintptr_t>(dst + j) & ALIGN) != 0; ++j) dst[j] = src[j];
    for (; j + W <= n; j += W) {
#if defined(__AVX512F__)
        _mm512_stream_ps(dst + j, _mm512_loadu_ps(src + j));
#elif defined(__AVX__)
        _mm256_stream_ps(dst + j, _mm256_loadu_ps(src + j));
#else
        _mm_stream_ps(dst + j, _mm_loadu_ps(src + j));
#endif
    }
#endif
    for (; j < n; ++j) dst[j] = src[j];
}

// Streaming stores are weakly ordered: a thread makes its own visible before its part ends.
static inline void snn_stream_fence() {
#if SNN_CAN_STREAM
    _mm_sfence();
#endif
}
