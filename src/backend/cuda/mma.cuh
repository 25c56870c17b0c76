// Warp-level tensor-core tiles (PTX mma.sync, sm_89+) and shared-memory fragment loads. Fragment layouts
// are PTX's: g = lane / 4 (row group), t = lane % 4; C/D hold (row g, cols 2t, 2t+1) and (row g+8, same).
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp8.h>

#include <cstdint>

namespace baleen::cuda {

// d += a·b for an m16n8k32 e4m3 tile. a: (row g, k 4t..4t+3), (row g+8, same), (row g, k 16+4t..),
// (row g+8, k 16+4t..); b: (k 4t.., col g), (k 16+4t.., col g).
__device__ __forceinline__ void mma_e4m3_16x8x32(float (&d)[4], const uint32_t (&a)[4],
                                                 const uint32_t (&b)[2]) {
  asm("mma.sync.aligned.m16n8k32.row.col.f32.e4m3.e4m3.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
      "{%0,%1,%2,%3};\n"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
}

// d += a·b for an m16n8k32 s8 tile, exact in int32; the fragments are mma_e4m3_16x8x32's.
__device__ __forceinline__ void mma_s8_16x8x32(int (&d)[4], const uint32_t (&a)[4], const uint32_t (&b)[2]) {
  asm("mma.sync.aligned.m16n8k32.row.col.s32.s8.s8.s32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
      "{%0,%1,%2,%3};\n"
      : "+r"(d[0]), "+r"(d[1]), "+r"(d[2]), "+r"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
}

// d += a·b for an m16n8k16 bf16 tile. a: (row g, k 2t..2t+1), (row g+8, same), (row g, k 8+2t..),
// (row g+8, k 8+2t..); b: (k 2t.., col g), (k 8+2t.., col g).
__device__ __forceinline__ void mma_bf16_16x8x16(float (&d)[4], const uint32_t (&a)[4],
                                                 const uint32_t (&b)[2]) {
  asm("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
      "{%0,%1,%2,%3};\n"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
}

// Four 8×8 b16 matrices from shared memory; lane l gives the row address of matrix l / 8.
__device__ __forceinline__ void ldmatrix_x4(uint32_t (&r)[4], const void* smem_row) {
  const auto addr = static_cast<uint32_t>(__cvta_generic_to_shared(smem_row));
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(addr));
}
// The same, each matrix transposed.
__device__ __forceinline__ void ldmatrix_x4_trans(uint32_t (&r)[4], const void* smem_row) {
  const auto addr = static_cast<uint32_t>(__cvta_generic_to_shared(smem_row));
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0,%1,%2,%3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(addr));
}

// Two floats as a bf16 pair (round to nearest even), the first in the low half: an MMA operand word.
__device__ __forceinline__ uint32_t pack_bf16(float a, float b) {
  const __nv_bfloat162 v = __floats2bfloat162_rn(a, b);
  return *reinterpret_cast<const uint32_t*>(&v);
}

// 4 e4m3 codes × scale → 4 bf16 (exact: e4m3 values times a power of two fit bf16).
__device__ __forceinline__ uint2 e4m3x4_to_bf16(uint32_t codes, float scale) {
  const __half2_raw lo =
      __nv_cvt_fp8x2_to_halfraw2(static_cast<__nv_fp8x2_storage_t>(codes & 0xFFFF), __NV_E4M3);
  const __half2_raw hi =
      __nv_cvt_fp8x2_to_halfraw2(static_cast<__nv_fp8x2_storage_t>(codes >> 16), __NV_E4M3);
  const float2 a = __half22float2(__half2(lo)), b = __half22float2(__half2(hi));
  return make_uint2(pack_bf16(a.x * scale, a.y * scale), pack_bf16(b.x * scale, b.y * scale));
}

// 16 e4m3 codes × scale as 16 bf16 at dst (32 bytes, 16-byte aligned, shared memory).
__device__ __forceinline__ void store_e4m3x16_as_bf16(const uint4& v, float scale, void* dst) {
  const uint2 b0 = e4m3x4_to_bf16(v.x, scale), b1 = e4m3x4_to_bf16(v.y, scale);
  const uint2 b2 = e4m3x4_to_bf16(v.z, scale), b3 = e4m3x4_to_bf16(v.w, scale);
  uint4* d = static_cast<uint4*>(dst);
  d[0] = make_uint4(b0.x, b0.y, b1.x, b1.y);
  d[1] = make_uint4(b2.x, b2.y, b3.x, b3.y);
}

// A 16-byte global load of read-only data that skips L1 (weights and KV rows are streamed once). Not
// volatile, so the compiler may hoist it above earlier tensor-core work.
__device__ __forceinline__ uint4 load_stream(const void* p) {
  uint4 v;
  asm("ld.global.nc.L1::no_allocate.v4.u32 {%0,%1,%2,%3}, [%4];\n"
      : "=r"(v.x), "=r"(v.y), "=r"(v.z), "=r"(v.w)
      : "l"(p));
  return v;
}

}  // namespace baleen::cuda
