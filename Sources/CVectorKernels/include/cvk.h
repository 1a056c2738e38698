// 256-bit (AVX2) forms of the fast paths of UnifiedNormalization's RowKernels, chosen at run time.
//
// Why C: Swift has no per-function target attribute, and a plain `swift build` targets the
// x86-64 baseline (SSE2), where a SIMD8<Float> operation is two 128-bit instructions. These
// functions carry `__attribute__((target("avx2")))` and are called only after
// `cvk_avx2_available()` says the processor has AVX2; no build flag is needed.
//
// Each function performs exactly the operations of its Swift counterpart, lane for lane and in
// the same order (no fused multiply-add, no reassociation), so both give bit-identical results;
// the Swift tests compare them on generated inputs.
#ifndef CVK_H
#define CVK_H

#ifdef __cplusplus
extern "C" {
#endif

/// 1 when the processor supports AVX2 and these functions may be called, else 0.
int cvk_avx2_available(void);

/// Σ x_k over n entries: 32 lanes (four 8-wide accumulators), then 8-blocks into the first,
/// lanes combined as ((a0 + a1) + (a2 + a3)), summed in lane order from −0, then the tail.
float cvk_lane_sum_f32(const float *x, long n);
double cvk_lane_sum_f64(const double *x, long n);

/// Σ (x_k − m)² over n entries, in the lanes of cvk_lane_sum.
float cvk_lane_squares_f32(const float *x, long n, float m);
double cvk_lane_squares_f64(const double *x, long n, double m);

/// The output pass of one group, vector part only (the first n − n mod 8 entries):
/// z = (x − mean)·inv, y = w·z + b; y or z may be NULL. Returns 1 when every y written is finite.
int cvk_normalize_write_f32(
    const float *x, long n, float mean, float inv, const float *w, const float *b, float *y, float *z);
int cvk_normalize_write_f64(
    const double *x, long n, double mean, double inv, const double *w, const double *b, double *y, double *z);

/// y = a·x + b per channel over one row of c entries, vector part only (the first c − c mod 8).
/// Returns 1 when every y written is finite.
int cvk_channel_affine_f32(const float *x, long c, const float *a, const float *b, float *y);
int cvk_channel_affine_f64(const double *x, long c, const double *a, const double *b, double *y);

#ifdef __cplusplus
}
#endif

#endif
