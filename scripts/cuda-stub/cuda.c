// A stand-in for libcuda.so.1 and libcublas.so that runs on the CPU: device memory is host memory,
// each block kernel is emulated in C from BlockKernelSource's semantics (not from its PTX), SGEMM is
// the column-major definition in cuBLAS's documentation. It checks the CUDA host path of
// unverify-parity without a GPU: argument packing, launch geometry and limits, the cuBLAS mapping,
// events, error paths. Built and run by scripts/check-cuda-host.sh. Environment: STUB_LOG (print
// launches), STUB_LOADFAIL (cuModuleLoadData fails with 222), STUB_NAN (fresh memory is NaN),
// STUB_NOCOMPUTE (launches do nothing). Written for this project (a user's trial, 2026-12-02).
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#include <math.h>
#include <time.h>
static const char* names[] = {"block_layer_norm","block_affine","block_gemm","block_epilogue","block_softmax","block_split_heads","block_merge_heads"};
static int nocompute(void){ return getenv("STUB_NOCOMPUTE") != NULL; }
int cuInit(unsigned f){ return 0; }
int cuDeviceGet(int* d, int o){ *d = 0; return 0; }
int cuDeviceGetName(char* b, int n, int d){ snprintf(b, n, "FAKE stub GPU"); return 0; }
int cuDevicePrimaryCtxRetain(void** c, int d){ *c = (void*)0x1; return 0; }
int cuCtxSetCurrent(void* c){ return 0; }
int cuModuleLoadData(void** m, const void* img){
  if (getenv("STUB_LOADFAIL")) return 222; *m = (void*)0x2;
  if (getenv("STUB_PTXHEAD")) fprintf(stderr, "stub: PTX %.60s\n", (const char*)img);
  return 0; }
int cuModuleGetFunction(void** f, void* m, const char* name){
  for (int i = 0; i < 7; i++) if (!strcmp(name, names[i])) { *f = (void*)(intptr_t)(i + 1); return 0; }
  return 500; }
static size_t allocated = 0;
int cuMemAlloc_v2(uint64_t* p, size_t n){ void* q = malloc(n); if(!q) return 2; memset(q, getenv("STUB_NAN") ? 0xff : 0x7f, n); *p = (uint64_t)q; allocated += n; return 0; }
int cuMemFree_v2(uint64_t p){ free((void*)p); return 0; }
int cuMemcpyHtoD_v2(uint64_t d, const void* s, size_t n){ memcpy((void*)d, s, n); return 0; }
int cuMemcpyDtoH_v2(void* d, uint64_t s, size_t n){ memcpy(d, (void*)s, n); return 0; }
int cuCtxSynchronize(void){ return 0; }
int cuMemGetInfo_v2(size_t* f, size_t* t){ *t = (size_t)140 << 30; *f = *t - allocated; return 0; }
int cuModuleUnload(void* m){ return 0; }
int cuGetErrorName(int r, const char** s){ *s = r == 222 ? "CUDA_ERROR_UNSUPPORTED_PTX_VERSION" : "CUDA_ERROR_STUB"; return 0; }
static double now_ms(void){ struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec * 1e3 + t.tv_nsec * 1e-6; }
static double events[64]; static int nevents = 0;
int cuEventCreate(void** e, unsigned f){ if (nevents >= 64) return 2; *e = (void*)(intptr_t)(++nevents); return 0; }
int cuEventRecord(void* e, void* s){ events[(intptr_t)e - 1] = now_ms(); return 0; }
int cuEventSynchronize(void* e){ return 0; }
int cuEventElapsedTime(float* ms, void* a, void* b){ *ms = (float)(events[(intptr_t)b - 1] - events[(intptr_t)a - 1]); return 0; }
#define P(i,T) (*(T*)params[i])
#define F(i) ((float*)P(i,uint64_t))
static float apply(float v, int n, long idx, int mode, const float* bias, const float* r){
  if (mode & 1) v += bias[n];
  if (mode & 2) v = 0.5f * v * (1.0f + erff(v * 0.70710678118654752f));
  if (mode & 4) v += r[idx];
  return v; }
int cuLaunchKernel(void* f, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by, unsigned bz,
                   unsigned shm, void* stream, void** params, void** extra){
  int k = (int)(intptr_t)f - 1;
  if (getenv("STUB_LOG")) fprintf(stderr, "stub: %s grid(%u,%u,%u) block(%u,%u,%u)\n", names[k], gx, gy, gz, bx, by, bz);
  if (gy > 65535 || gz > 65535 || gx > 2147483647u || bx*by*bz > 1024 || bz != 1 || shm || extra) { fprintf(stderr, "stub: LIMIT %s\n", names[k]); return 1; }
  if (k == 2) { if (bx != 16 || by != 16) return 1; } else if (bx != 256 || by != 1) { fprintf(stderr,"stub: bad block\n"); return 1; }
  if (nocompute() || (getenv("STUB_COMPUTE_MAX") && (long)gx*gy*gz*bx*by > atol(getenv("STUB_COMPUTE_MAX")))) return 0;
  long RG = 256;
  switch (k) {
  case 0: { float *x=F(0),*g=F(1),*b=F(2),*y=F(3); int C=P(4,int); float eps=P(5,float);
    for (long r = 0; r < gx; r++) { float* xr = x + r*C; float* yr = y + r*C; double s=0; for(int c=0;c<C;c++) s+=xr[c];
      float mean = s / C; double v=0; for(int c=0;c<C;c++){float d=xr[c]-mean; v+=d*d;} float inv = 1.0f/sqrtf(v/C+eps);
      for(int c=0;c<C;c++) yr[c] = g[c]*((xr[c]-mean)*inv)+b[c]; } break; }
  case 1: { float *x=F(0),*a=F(1),*b=F(2),*y=F(3); int C=P(4,int), n=P(5,int);
    for (long i = 0; i < (long)gx*RG; i++) if (i < n) y[i] = a[i%C]*x[i]+b[i%C]; break; }
  case 2: { float *A=F(0),*B=F(1),*Cm=F(2),*bias=F(3),*r=F(4); int M=P(5,int),N=P(6,int),K=P(7,int),tb=P(8,int);
    long sA=P(9,long), sB=P(10,long), sC=P(11,long); float alpha=P(12,float); int mode=P(13,int);
    for (long z=0; z<gz; z++) for (long by_=0; by_<gy; by_++) for (long bx_=0; bx_<gx; bx_++)
      for (int ty=0; ty<64; ty++) for (int tx=0; tx<64; tx++) { long m = by_*64+ty, n = bx_*64+tx; if (m>=M||n>=N) continue;
        const float* a = A + z*sA; const float* bm = B + z*sB; float acc=0;
        for (int kk=0; kk<K; kk++) acc += a[m*K+kk] * (tb ? bm[n*K+kk] : bm[(long)kk*N+n]);
        long idx = z*sC + m*N + n; Cm[idx] = apply(alpha*acc, n, idx, mode, bias, r); } break; }
  case 3: { float *c=F(0),*bias=F(1),*r=F(2); int cols=P(3,int), n=P(4,int), mode=P(5,int);
    for (long i=0;i<(long)gx*RG;i++) if (i<n) c[i] = apply(c[i], i%cols, i, mode, bias, r); break; }
  case 4: { float* s=F(0); int cols=P(1,int);
    for (long r=0;r<gx;r++){ float* row=s+r*cols; float m=-3.402823466e38f; for(int c=0;c<cols;c++) m=fmaxf(m,row[c]);
      float acc=0; for(int c=0;c<cols;c++){ row[c]=expf(row[c]-m); acc+=row[c]; } for(int c=0;c<cols;c++) row[c]*=1.0f/acc; } break; }
  case 5: { float *qkv=F(0),*q=F(1),*kk=F(2),*v=F(3); int T=P(4,int),H=P(5,int),D=P(6,int),n=P(7,int); int W=H*D;
    for (long i=0;i<(long)gx*RG;i++) if (i<n) { int d=i%D, h=(i/D)%H, w=(i/W)%3, t=(i/(3*W))%T; long bt=i/(3L*W*T);
      long o=((bt*H+h)*T+t)*D+d; (w==0?q:(w==1?kk:v))[o]=qkv[i]; } break; }
  case 6: { float *o=F(0),*y=F(1); int T=P(2,int),H=P(3,int),D=P(4,int),n=P(5,int);
    for (long i=0;i<(long)gx*RG;i++) if (i<n) { int d=i%D, t=(i/D)%T, h=(i/((long)D*T))%H; long bt=i/((long)D*T*H);
      y[((bt*T+t)*H+h)*D+d]=o[i]; } break; }
  }
  return 0; }
// cuBLAS (column-major reference)
int cublasCreate_v2(void** h){ *h = (void*)0x3; return 0; }
int cublasDestroy_v2(void* h){ return 0; }
static void sg(int ta, int tb, int m, int n, int k, float al, const float* A, int lda, const float* B, int ldb, float be, float* C, int ldc){
  if (nocompute()) return;
  for (int j=0;j<n;j++) for (int i=0;i<m;i++){ float acc=0; for(int p=0;p<k;p++){
    float a = ta ? A[p + (long)i*lda] : A[i + (long)p*lda]; float b = tb ? B[j + (long)p*ldb] : B[p + (long)j*ldb]; acc += a*b; }
    C[i + (long)j*ldc] = al*acc + (be != 0 ? be*C[i+(long)j*ldc] : 0); } }
int cublasSgemm_v2(void* h, int ta, int tb, int m, int n, int k, const float* al, const float* A, int lda, const float* B, int ldb, const float* be, float* C, int ldc){
  if (getenv("STUB_LOG")) fprintf(stderr, "stub: sgemm ta=%d tb=%d m=%d n=%d k=%d lda=%d ldb=%d ldc=%d\n", ta,tb,m,n,k,lda,ldb,ldc);
  sg(ta,tb,m,n,k,*al,A,lda,B,ldb,*be,C,ldc); return 0; }
int cublasSgemmStridedBatched(void* h, int ta, int tb, int m, int n, int k, const float* al, const float* A, int lda, long long sA,
  const float* B, int ldb, long long sB, const float* be, float* C, int ldc, long long sC, int bc){
  if (getenv("STUB_LOG")) fprintf(stderr, "stub: sgemmStridedBatched ta=%d tb=%d m=%d n=%d k=%d lda=%d sA=%lld ldb=%d sB=%lld ldc=%d sC=%lld batch=%d\n", ta,tb,m,n,k,lda,sA,ldb,sB,ldc,sC,bc);
  for (int z=0; z<bc; z++) sg(ta,tb,m,n,k,*al,A+z*sA,lda,B+z*sB,ldb,*be,C+z*sC,ldc); return 0; }
