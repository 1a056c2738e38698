/// The kernels' source text, one per backend, compiled at run time by the device's own compiler
/// (OpenCL's `clBuildProgram`, CUDA's NVRTC). `REAL` is `float` or `double`.
public enum KernelSources {
    public static let names = ["un_affine", "linear", "mean_square", "log_gm", "layer_norm"]

    /// OpenCL C. Every work item guards its index, so global sizes may be rounded up to a
    /// multiple of the work-group size (odd problem sizes included).
    public static func openCL(_ p: Precision) -> String {
        (p == .double ? "#pragma OPENCL EXTENSION cl_khr_fp64 : enable\n#define REAL double\n" : "#define REAL float\n")
            + """
            __kernel void un_affine(__global const REAL* x, __global const REAL* a, __global const REAL* b, __global \
            REAL* y, const int channels, const int n) {
                int i = get_global_id(0); if (i >= n) return;
                int c = i % channels; y[i] = a[c] * x[i] + b[c];
            }
            __kernel void linear(__global const REAL* x, __global const REAL* w, __global const REAL* bias, __global \
            REAL* y, const int inputs, const int outputs, const int rows) {
                int i = get_global_id(0); if (i >= rows * outputs) return;
                int r = i / outputs, o = i % outputs; REAL s = 0;
                for (int k = 0; k < inputs; k++) s += w[o * inputs + k] * x[r * inputs + k];
                y[i] = s + bias[o];
            }
            __kernel void mean_square(__global const REAL* x, __global const int* real, __global REAL* out, const int \
            rows, const int channels) {
                int c = get_global_id(0); if (c >= channels) return;
                REAL s = 0; int t = 0;
                for (int r = 0; r < rows; r++) if (real[r]) { REAL v = x[r * channels + c]; s += v * v; t++; }
                out[c] = s / (REAL)t;
            }
            __kernel void log_gm(__global const REAL* buf, __global REAL* out, const int window, const int channels) {
                int c = get_global_id(0); if (c >= channels) return;
                REAL s = 0; for (int k = 0; k < window; k++) s += log(buf[k * channels + c]);
                out[c] = exp(s / (REAL)window);
            }
            __kernel void layer_norm(__global const REAL* x, __global const REAL* g, __global const REAL* b, __global \
            REAL* y, const int rows, const int channels, const REAL eps) {
                int r = get_global_id(0); if (r >= rows) return;
                REAL m = 0; for (int c = 0; c < channels; c++) m += x[r * channels + c]; m /= (REAL)channels;
                REAL v = 0;
                for (int c = 0; c < channels; c++) { REAL d = x[r * channels + c] - m; v += d * d; }
                v /= (REAL)channels;
                REAL s = sqrt(v + eps);
                for (int c = 0; c < channels; c++) y[r * channels + c] = g[c] * ((x[r * channels + c] - m) / s) + b[c];
            }
            """
    }

    /// CUDA C for NVRTC (`extern "C"` so the names are not mangled).
    public static func cuda(_ p: Precision) -> String {
        "#define REAL \(p == .double ? "double" : "float")\n" + """
            extern "C" __global__ void un_affine(const REAL* x, const REAL* a, const REAL* b, REAL* y, int channels, \
            int n) {
                int i = blockIdx.x * blockDim.x + threadIdx.x; if (i >= n) return;
                int c = i % channels; y[i] = a[c] * x[i] + b[c];
            }
            extern "C" __global__ void linear(const REAL* x, const REAL* w, const REAL* bias, REAL* y, int inputs, int \
            outputs, int rows) {
                int i = blockIdx.x * blockDim.x + threadIdx.x; if (i >= rows * outputs) return;
                int r = i / outputs, o = i % outputs; REAL s = 0;
                for (int k = 0; k < inputs; k++) s += w[o * inputs + k] * x[r * inputs + k];
                y[i] = s + bias[o];
            }
            extern "C" __global__ void mean_square(const REAL* x, const int* real, REAL* out, int rows, int channels) {
                int c = blockIdx.x * blockDim.x + threadIdx.x; if (c >= channels) return;
                REAL s = 0; int t = 0;
                for (int r = 0; r < rows; r++) if (real[r]) { REAL v = x[r * channels + c]; s += v * v; t++; }
                out[c] = s / (REAL)t;
            }
            extern "C" __global__ void log_gm(const REAL* buf, REAL* out, int window, int channels) {
                int c = blockIdx.x * blockDim.x + threadIdx.x; if (c >= channels) return;
                REAL s = 0; for (int k = 0; k < window; k++) s += log(buf[k * channels + c]);
                out[c] = exp(s / (REAL)window);
            }
            extern "C" __global__ void layer_norm(const REAL* x, const REAL* g, const REAL* b, REAL* y, int rows, int \
            channels, REAL eps) {
                int r = blockIdx.x * blockDim.x + threadIdx.x; if (r >= rows) return;
                REAL m = 0; for (int c = 0; c < channels; c++) m += x[r * channels + c]; m /= (REAL)channels;
                REAL v = 0;
                for (int c = 0; c < channels; c++) { REAL d = x[r * channels + c] - m; v += d * d; }
                v /= (REAL)channels;
                REAL s = sqrt(v + eps);
                for (int c = 0; c < channels; c++) y[r * channels + c] = g[c] * ((x[r * channels + c] - m) / s) + b[c];
            }
            """
    }
}
