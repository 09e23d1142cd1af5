// A small CUDA program for tests/gpu/device-check.sh: adds two vectors on
// the GPU and checks the result on the host. Prints "CUDA OK <device>" and
// exits 0 on success.
#include <cstdio>
#include <cuda_runtime.h>

__global__ void Add(const float* a, const float* b, float* c, int n) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) c[i] = a[i] + b[i];
}

#define CHECK(call)                                                          \
  do {                                                                       \
    cudaError_t err_ = (call);                                               \
    if (err_ != cudaSuccess) {                                               \
      std::fprintf(stderr, "CUDA FAIL %s: %s\n", #call, cudaGetErrorString(err_)); \
      return 1;                                                              \
    }                                                                        \
  } while (0)

int main() {
  const int n = 1 << 20;
  int count = 0;
  CHECK(cudaGetDeviceCount(&count));
  cudaDeviceProp prop;
  CHECK(cudaGetDeviceProperties(&prop, 0));
  float *a, *b, *c;
  CHECK(cudaMallocManaged(&a, n * sizeof(float)));
  CHECK(cudaMallocManaged(&b, n * sizeof(float)));
  CHECK(cudaMallocManaged(&c, n * sizeof(float)));
  for (int i = 0; i < n; ++i) {
    a[i] = static_cast<float>(i);
    b[i] = 2.0f * static_cast<float>(i);
  }
  Add<<<(n + 255) / 256, 256>>>(a, b, c, n);
  CHECK(cudaGetLastError());
  CHECK(cudaDeviceSynchronize());
  for (int i = 0; i < n; ++i) {
    if (c[i] != 3.0f * static_cast<float>(i)) {
      std::fprintf(stderr, "CUDA FAIL: c[%d] = %f\n", i, c[i]);
      return 1;
    }
  }
  int driver = 0;
  CHECK(cudaDriverGetVersion(&driver));
  std::printf("CUDA OK %s (%d device(s), driver API %d)\n", prop.name, count, driver);
  cudaFree(a);
  cudaFree(b);
  cudaFree(c);
  return 0;
}
