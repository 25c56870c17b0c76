// A KvCodec (model/kv_codec.h) as device code reads it: a plain struct of its format and sizes, built on
// the host. kv_codec.cuh holds the device functions that encode and decode rows with it.
#pragma once

#include "model/kv_codec.h"

namespace baleen::cuda {

struct DeviceCodec {
  int format = 0;  // KvFormat: 0 f32, 1 fp8 + bf16 rope, 2 fp4
  int dim = 0, rope_dim = 0, data_bytes = 0, scale_bytes = 0;
};

inline DeviceCodec device_codec(const KvCodec& c) {
  return {static_cast<int>(c.format()), static_cast<int>(c.dim()), static_cast<int>(c.rope_dim()),
          static_cast<int>(c.data_bytes()), static_cast<int>(c.scale_bytes())};
}

}  // namespace baleen::cuda
