#include "cvk.h"

// Exactly the operations written: no contraction of a·b + c into a fused multiply-add.
#pragma clang fp contract(off)

#if defined(__x86_64__) && (defined(__clang__) || defined(__GNUC__))
#include <immintrin.h>
#include <math.h>

#define AVX2 __attribute__((target("avx2")))

int cvk_avx2_available(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") ? 1 : 0;
}

// An 8-lane vector of floats is one __m256; of doubles, two __m256d (lanes 0–3, then 4–7).
AVX2 static float sum8f(__m256 v) {
    float t[8];
    _mm256_storeu_ps(t, v);
    float s = -0.0f;
    for (int i = 0; i < 8; i++) s += t[i];
    return s;
}

AVX2 static double sum8d(__m256d lo, __m256d hi) {
    double t[8];
    _mm256_storeu_pd(t, lo);
    _mm256_storeu_pd(t + 4, hi);
    double s = -0.0;
    for (int i = 0; i < 8; i++) s += t[i];
    return s;
}

AVX2 float cvk_lane_sum_f32(const float *x, long n) {
    __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    long k = 0;
    for (; k + 32 <= n; k += 32) {
        a0 = _mm256_add_ps(a0, _mm256_loadu_ps(x + k));
        a1 = _mm256_add_ps(a1, _mm256_loadu_ps(x + k + 8));
        a2 = _mm256_add_ps(a2, _mm256_loadu_ps(x + k + 16));
        a3 = _mm256_add_ps(a3, _mm256_loadu_ps(x + k + 24));
    }
    for (; k + 8 <= n; k += 8) a0 = _mm256_add_ps(a0, _mm256_loadu_ps(x + k));
    float s = sum8f(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)));
    for (; k < n; k++) s += x[k];
    return s;
}

AVX2 double cvk_lane_sum_f64(const double *x, long n) {
    __m256d l0 = _mm256_setzero_pd(), h0 = l0, l1 = l0, h1 = l0, l2 = l0, h2 = l0, l3 = l0, h3 = l0;
    long k = 0;
    for (; k + 32 <= n; k += 32) {
        l0 = _mm256_add_pd(l0, _mm256_loadu_pd(x + k));
        h0 = _mm256_add_pd(h0, _mm256_loadu_pd(x + k + 4));
        l1 = _mm256_add_pd(l1, _mm256_loadu_pd(x + k + 8));
        h1 = _mm256_add_pd(h1, _mm256_loadu_pd(x + k + 12));
        l2 = _mm256_add_pd(l2, _mm256_loadu_pd(x + k + 16));
        h2 = _mm256_add_pd(h2, _mm256_loadu_pd(x + k + 20));
        l3 = _mm256_add_pd(l3, _mm256_loadu_pd(x + k + 24));
        h3 = _mm256_add_pd(h3, _mm256_loadu_pd(x + k + 28));
    }
    for (; k + 8 <= n; k += 8) {
        l0 = _mm256_add_pd(l0, _mm256_loadu_pd(x + k));
        h0 = _mm256_add_pd(h0, _mm256_loadu_pd(x + k + 4));
    }
    double s = sum8d(
        _mm256_add_pd(_mm256_add_pd(l0, l1), _mm256_add_pd(l2, l3)),
        _mm256_add_pd(_mm256_add_pd(h0, h1), _mm256_add_pd(h2, h3)));
    for (; k < n; k++) s += x[k];
    return s;
}

AVX2 float cvk_lane_squares_f32(const float *x, long n, float m) {
    __m256 mv = _mm256_set1_ps(m);
    __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    long k = 0;
    for (; k + 32 <= n; k += 32) {
        __m256 d0 = _mm256_sub_ps(_mm256_loadu_ps(x + k), mv);
        __m256 d1 = _mm256_sub_ps(_mm256_loadu_ps(x + k + 8), mv);
        __m256 d2 = _mm256_sub_ps(_mm256_loadu_ps(x + k + 16), mv);
        __m256 d3 = _mm256_sub_ps(_mm256_loadu_ps(x + k + 24), mv);
        a0 = _mm256_add_ps(a0, _mm256_mul_ps(d0, d0));
        a1 = _mm256_add_ps(a1, _mm256_mul_ps(d1, d1));
        a2 = _mm256_add_ps(a2, _mm256_mul_ps(d2, d2));
        a3 = _mm256_add_ps(a3, _mm256_mul_ps(d3, d3));
    }
    for (; k + 8 <= n; k += 8) {
        __m256 d = _mm256_sub_ps(_mm256_loadu_ps(x + k), mv);
        a0 = _mm256_add_ps(a0, _mm256_mul_ps(d, d));
    }
    float s = sum8f(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)));
    for (; k < n; k++) {
        float d = x[k] - m;
        float d2 = d * d;
        s += d2;
    }
    return s;
}

AVX2 static __m256d sq(__m256d v, __m256d m) {
    __m256d d = _mm256_sub_pd(v, m);
    return _mm256_mul_pd(d, d);
}

AVX2 double cvk_lane_squares_f64(const double *x, long n, double m) {
    __m256d mv = _mm256_set1_pd(m);
    __m256d l0 = _mm256_setzero_pd(), h0 = l0, l1 = l0, h1 = l0, l2 = l0, h2 = l0, l3 = l0, h3 = l0;
    long k = 0;
    for (; k + 32 <= n; k += 32) {
        l0 = _mm256_add_pd(l0, sq(_mm256_loadu_pd(x + k), mv));
        h0 = _mm256_add_pd(h0, sq(_mm256_loadu_pd(x + k + 4), mv));
        l1 = _mm256_add_pd(l1, sq(_mm256_loadu_pd(x + k + 8), mv));
        h1 = _mm256_add_pd(h1, sq(_mm256_loadu_pd(x + k + 12), mv));
        l2 = _mm256_add_pd(l2, sq(_mm256_loadu_pd(x + k + 16), mv));
        h2 = _mm256_add_pd(h2, sq(_mm256_loadu_pd(x + k + 20), mv));
        l3 = _mm256_add_pd(l3, sq(_mm256_loadu_pd(x + k + 24), mv));
        h3 = _mm256_add_pd(h3, sq(_mm256_loadu_pd(x + k + 28), mv));
    }
    for (; k + 8 <= n; k += 8) {
        l0 = _mm256_add_pd(l0, sq(_mm256_loadu_pd(x + k), mv));
        h0 = _mm256_add_pd(h0, sq(_mm256_loadu_pd(x + k + 4), mv));
    }
    double s = sum8d(
        _mm256_add_pd(_mm256_add_pd(l0, l1), _mm256_add_pd(l2, l3)),
        _mm256_add_pd(_mm256_add_pd(h0, h1), _mm256_add_pd(h2, h3)));
    for (; k < n; k++) {
        double d = x[k] - m;
        double d2 = d * d;
        s += d2;
    }
    return s;
}

AVX2 int cvk_normalize_write_f32(
    const float *x, long n, float mean, float inv, const float *w, const float *b, float *y, float *z) {
    __m256 mv = _mm256_set1_ps(mean), iv = _mm256_set1_ps(inv), probe = _mm256_setzero_ps();
    long v = n - n % 8;
    for (long k = 0; k < v; k += 8) {
        __m256 zk = _mm256_mul_ps(_mm256_sub_ps(_mm256_loadu_ps(x + k), mv), iv);
        if (z) _mm256_storeu_ps(z + k, zk);
        if (y) {
            __m256 yk = _mm256_add_ps(_mm256_mul_ps(_mm256_loadu_ps(w + k), zk), _mm256_loadu_ps(b + k));
            probe = _mm256_add_ps(probe, _mm256_sub_ps(yk, yk));
            _mm256_storeu_ps(y + k, yk);
        }
    }
    return isfinite(sum8f(probe)) ? 1 : 0;
}

AVX2 int cvk_normalize_write_f64(
    const double *x, long n, double mean, double inv, const double *w, const double *b, double *y, double *z) {
    __m256d mv = _mm256_set1_pd(mean), iv = _mm256_set1_pd(inv), probe = _mm256_setzero_pd();
    long v = n - n % 8;
    for (long k = 0; k < v; k += 4) {
        __m256d zk = _mm256_mul_pd(_mm256_sub_pd(_mm256_loadu_pd(x + k), mv), iv);
        if (z) _mm256_storeu_pd(z + k, zk);
        if (y) {
            __m256d yk = _mm256_add_pd(_mm256_mul_pd(_mm256_loadu_pd(w + k), zk), _mm256_loadu_pd(b + k));
            probe = _mm256_add_pd(probe, _mm256_sub_pd(yk, yk));
            _mm256_storeu_pd(y + k, yk);
        }
    }
    return isfinite(sum8d(probe, _mm256_setzero_pd())) ? 1 : 0;
}

AVX2 int cvk_channel_affine_f32(const float *x, long c, const float *a, const float *b, float *y) {
    __m256 probe = _mm256_setzero_ps();
    long v = c - c % 8;
    for (long k = 0; k < v; k += 8) {
        __m256 ax = _mm256_mul_ps(_mm256_loadu_ps(a + k), _mm256_loadu_ps(x + k));
        __m256 yk = _mm256_add_ps(ax, _mm256_loadu_ps(b + k));
        probe = _mm256_add_ps(probe, _mm256_sub_ps(yk, yk));
        _mm256_storeu_ps(y + k, yk);
    }
    return isfinite(sum8f(probe)) ? 1 : 0;
}

AVX2 int cvk_channel_affine_f64(const double *x, long c, const double *a, const double *b, double *y) {
    __m256d probe = _mm256_setzero_pd();
    long v = c - c % 8;
    for (long k = 0; k < v; k += 4) {
        __m256d ax = _mm256_mul_pd(_mm256_loadu_pd(a + k), _mm256_loadu_pd(x + k));
        __m256d yk = _mm256_add_pd(ax, _mm256_loadu_pd(b + k));
        probe = _mm256_add_pd(probe, _mm256_sub_pd(yk, yk));
        _mm256_storeu_pd(y + k, yk);
    }
    return isfinite(sum8d(probe, _mm256_setzero_pd())) ? 1 : 0;
}

#else
// Not x86-64: never called (cvk_avx2_available is 0); defined so that the module links.
int cvk_avx2_available(void) { return 0; }
float cvk_lane_sum_f32(const float *x, long n) { (void)x; (void)n; return 0; }
double cvk_lane_sum_f64(const double *x, long n) { (void)x; (void)n; return 0; }
float cvk_lane_squares_f32(const float *x, long n, float m) { (void)x; (void)n; (void)m; return 0; }
double cvk_lane_squares_f64(const double *x, long n, double m) { (void)x; (void)n; (void)m; return 0; }
int cvk_normalize_write_f32(
    const float *x, long n, float mean, float inv, const float *w, const float *b, float *y, float *z) {
    (void)x; (void)n; (void)mean; (void)inv; (void)w; (void)b; (void)y; (void)z; return 0;
}
int cvk_normalize_write_f64(
    const double *x, long n, double mean, double inv, const double *w, const double *b, double *y, double *z) {
    (void)x; (void)n; (void)mean; (void)inv; (void)w; (void)b; (void)y; (void)z; return 0;
}
int cvk_channel_affine_f32(const float *x, long c, const float *a, const float *b, float *y) {
    (void)x; (void)c; (void)a; (void)b; (void)y; return 0;
}
int cvk_channel_affine_f64(const double *x, long c, const double *a, const double *b, double *y) {
    (void)x; (void)c; (void)a; (void)b; (void)y; return 0;
}
#endif
