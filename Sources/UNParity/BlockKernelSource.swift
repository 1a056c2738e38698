/// The kernels of one pre-norm Transformer block's inference, written once and compiled by
/// both device compilers: a short prelude maps the few dialect differences (qualifiers, work-item
/// indices, the work-group barrier) to OpenCL C or to CUDA C for NVRTC, so the OpenCL build that
/// runs under PoCL here tests the very text NVRTC compiles on a GPU machine. Single precision, as
/// the paper's timings were taken.
///
/// Launch geometry: every kernel is launched as `groups.x × groups.y × groups.z` work-groups of
/// `local.x × local.y` work-items; `BlockKernel` states each kernel's geometry.
public enum BlockKernelSource {
    /// The kernel names, in the order `BlockKernel` lists them.
    public static let names = [
        "block_layer_norm", "block_affine", "block_gemm", "block_epilogue", "block_softmax", "block_split_heads",
        "block_merge_heads",
    ]

    /// Work-items per group for the row kernels (LayerNorm, softmax): a power of two, so the tree
    /// reduction halves evenly.
    public static let rowGroup = 256
    /// The side of the block of C one GEMM work-group (16 × 16 items, 4 × 4 outputs each) computes.
    public static let tile = 64

    static let openCLPrelude = """
        #define KERNEL __kernel void
        #define GLOBAL __global
        #define SHARED __local
        #define SYNC() barrier(CLK_LOCAL_MEM_FENCE)
        #define LX ((int)get_local_id(0))
        #define LY ((int)get_local_id(1))
        #define GX ((int)get_group_id(0))
        #define GY ((int)get_group_id(1))
        #define GZ ((int)get_group_id(2))
        #define DEVICE
        #define EXPF exp
        #define ERFF erf
        #define SQRTF sqrt
        #define FMAXF fmax

        """

    static let cudaPrelude = """
        #define KERNEL extern "C" __global__ void
        #define GLOBAL
        #define SHARED __shared__
        #define SYNC() __syncthreads()
        #define LX ((int)threadIdx.x)
        #define LY ((int)threadIdx.y)
        #define GX ((int)blockIdx.x)
        #define GY ((int)blockIdx.y)
        #define GZ ((int)blockIdx.z)
        #define DEVICE __device__
        #define EXPF expf
        #define ERFF erff
        #define SQRTF sqrtf
        #define FMAXF fmaxf

        """

    /// The shared body. `mode` of the GEMM epilogue: bit 0 adds `bias[n]`, bit 1 applies the exact
    /// GELU `v·(1 + erf(v/√2))/2` (ViT's activation), bit 2 adds the residual `r` at C's index.
    static let body = """
        #define RG \(rowGroup)
        #define TILE \(tile)

        /* Tree sum over the work-group's RG partial values in s[]; every item gets the total. */
        #define GROUP_SUM(s, v) { s[LX] = (v); SYNC(); \\
            for (int h = RG / 2; h > 0; h >>= 1) { if (LX < h) s[LX] += s[LX + h]; SYNC(); } }
        #define GROUP_MAX(s, v) { s[LX] = (v); SYNC(); \\
            for (int h = RG / 2; h > 0; h >>= 1) { if (LX < h) s[LX] = FMAXF(s[LX], s[LX + h]); SYNC(); } }

        /* LayerNorm of one row per work-group: mean, then the mean squared deviation (two passes). */
        KERNEL block_layer_norm(GLOBAL const float* x, GLOBAL const float* g, GLOBAL const float* b,
                                GLOBAL float* y, int channels, float eps) {
            SHARED float s[RG];
            GLOBAL const float* xr = x + (long)GX * channels;
            GLOBAL float* yr = y + (long)GX * channels;
            float acc = 0.0f;
            for (int c = LX; c < channels; c += RG) acc += xr[c];
            GROUP_SUM(s, acc);
            float mean = s[0] / (float)channels;
            SYNC();
            acc = 0.0f;
            for (int c = LX; c < channels; c += RG) { float d = xr[c] - mean; acc += d * d; }
            GROUP_SUM(s, acc);
            float inv = 1.0f / SQRTF(s[0] / (float)channels + eps);
            for (int c = LX; c < channels; c += RG) yr[c] = g[c] * ((xr[c] - mean) * inv) + b[c];
        }

        /* UN's inference form: y = a ⊙ x + b per channel, one element per work-item. */
        KERNEL block_affine(GLOBAL const float* x, GLOBAL const float* a, GLOBAL const float* b, GLOBAL float* y,
                            int channels, int n) {
            int i = GX * RG + LX;
            if (i >= n) return;
            int c = i % channels;
            y[i] = a[c] * x[i] + b[c];
        }

        DEVICE float block_apply(float v, int n, long idx, int mode, GLOBAL const float* bias, GLOBAL const float* r) {
            if (mode & 1) v += bias[n];
            if (mode & 2) v = 0.5f * v * (1.0f + ERFF(v * 0.70710678118654752f));
            if (mode & 4) v += r[idx];
            return v;
        }

        /* C[z] = alpha · A[z] · op(B[z]), then the epilogue; row-major, A is M×K, B is N×K when
           transB (C = A·Bᵀ) else K×N; matrix z of a batch starts z·sA, z·sB, z·sC elements in.
           A work-group of 16×16 items computes a TILE×TILE block of C, each item a 4×4 register
           block (rows ty + 16i, columns tx + 16j), from TILE×16 slices of A and B staged in shared
           memory; every output sums its k terms in increasing order. */
        KERNEL block_gemm(GLOBAL const float* A, GLOBAL const float* B, GLOBAL float* C,
                          GLOBAL const float* bias, GLOBAL const float* r, int M, int N, int K, int transB,
                          long sA, long sB, long sC, float alpha, int mode) {
            SHARED float As[16][TILE + 1];
            SHARED float Bs[16][TILE + 1];
            int tx = LX, ty = LY, tid = ty * 16 + tx;
            int m0 = GY * TILE, n0 = GX * TILE;
            GLOBAL const float* a = A + GZ * sA;
            GLOBAL const float* bm = B + GZ * sB;
            float acc[4][4];
            for (int i = 0; i < 4; i++) for (int j = 0; j < 4; j++) acc[i][j] = 0.0f;
            for (int k0 = 0; k0 < K; k0 += 16) {
                for (int l = 0; l < 4; l++) {
                    int e = tid + 256 * l;
                    /* A's slice: row e/16, k e%16 (neighbouring items read neighbouring words). */
                    int row = e / 16, kk = e % 16;
                    int ga = m0 + row, ka = k0 + kk;
                    As[kk][row] = (ga < M && ka < K) ? a[(long)ga * K + ka] : 0.0f;
                    if (transB) {
                        int gb = n0 + row;
                        Bs[kk][row] = (gb < N && ka < K) ? bm[(long)gb * K + ka] : 0.0f;
                    } else {
                        int kb = k0 + e / TILE, col = e % TILE, gb = n0 + col;
                        Bs[e / TILE][col] = (kb < K && gb < N) ? bm[(long)kb * N + gb] : 0.0f;
                    }
                }
                SYNC();
                for (int kk = 0; kk < 16; kk++) {
                    float av[4], bv[4];
                    for (int i = 0; i < 4; i++) av[i] = As[kk][ty + 16 * i];
                    for (int j = 0; j < 4; j++) bv[j] = Bs[kk][tx + 16 * j];
                    for (int i = 0; i < 4; i++) for (int j = 0; j < 4; j++) acc[i][j] += av[i] * bv[j];
                }
                SYNC();
            }
            for (int i = 0; i < 4; i++) {
                int m = m0 + ty + 16 * i;
                if (m >= M) continue;
                for (int j = 0; j < 4; j++) {
                    int n = n0 + tx + 16 * j;
                    if (n >= N) continue;
                    long idx = GZ * sC + (long)m * N + n;
                    C[idx] = block_apply(alpha * acc[i][j], n, idx, mode, bias, r);
                }
            }
        }

        /* The epilogue alone, after a vendor GEMM: c[i] = apply(c[i]) over rows × cols. */
        KERNEL block_epilogue(GLOBAL float* c, GLOBAL const float* bias, GLOBAL const float* r, int cols, int n,
                              int mode) {
            int i = GX * RG + LX;
            if (i >= n) return;
            c[i] = block_apply(c[i], i % cols, i, mode, bias, r);
        }

        /* Softmax of one row per work-group, in place, with the row maximum subtracted. */
        KERNEL block_softmax(GLOBAL float* s_, int cols) {
            SHARED float s[RG];
            GLOBAL float* row = s_ + (long)GX * cols;
            float m = -3.402823466e38f;
            for (int c = LX; c < cols; c += RG) m = FMAXF(m, row[c]);
            GROUP_MAX(s, m);
            m = s[0];
            SYNC();
            float acc = 0.0f;
            for (int c = LX; c < cols; c += RG) { float e = EXPF(row[c] - m); row[c] = e; acc += e; }
            GROUP_SUM(s, acc);
            float inv = 1.0f / s[0];
            for (int c = LX; c < cols; c += RG) row[c] *= inv;
        }

        /* qkv [B, T, 3, H, D] → q, k, v each [B, H, T, D] (contiguous per head). */
        KERNEL block_split_heads(GLOBAL const float* qkv, GLOBAL float* q, GLOBAL float* k, GLOBAL float* v,
                                 int tokens, int heads, int dim, int n) {
            int i = GX * RG + LX;
            if (i >= n) return;
            int width = heads * dim;
            int d = i % dim, h = (i / dim) % heads, which = (i / width) % 3, t = (i / (3 * width)) % tokens;
            int bt = i / (3 * width * tokens);
            long o = (((long)bt * heads + h) * tokens + t) * dim + d;
            GLOBAL float* dst = which == 0 ? q : (which == 1 ? k : v);
            dst[o] = qkv[i];
        }

        /* o [B, H, T, D] → y [B, T, H·D]. */
        KERNEL block_merge_heads(GLOBAL const float* o, GLOBAL float* y, int tokens, int heads, int dim, int n) {
            int i = GX * RG + LX;
            if (i >= n) return;
            int d = i % dim, t = (i / dim) % tokens, h = (i / (dim * tokens)) % heads;
            int bt = i / (dim * tokens * heads);
            y[(((long)bt * tokens + t) * heads + h) * dim + d] = o[i];
        }
        """

    /// OpenCL C (`clBuildProgram`).
    public static var openCL: String { openCLPrelude + body }
    /// CUDA C for NVRTC; `extern "C"` keeps the names unmangled for `cuModuleGetFunction`.
    public static var cuda: String { cudaPrelude + body }
}
