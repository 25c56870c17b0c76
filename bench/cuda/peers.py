"""Peers for bench/cuda in the same run (called by scripts/gpu_test.sh): the FP8 tensor-core peak
(torch._scaled_mm, tensorwise scales, 8192^3) and dense bf16 GQA-8 SDPA decode attention (64 query heads,
8 KV heads, head 128, batch 1) at 8K, 128K and 1M context, timed with CUDA events over graph replays.
Prints 'fp8_peak_tflops X' and 'sdpa_decode_us CONTEXT US' lines."""
import torch
import torch.nn.functional as F


def time_us(fn, reps=20):
    stream = torch.cuda.Stream()
    with torch.cuda.stream(stream):
        fn()
        torch.cuda.synchronize()
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph, stream=stream):
            for _ in range(reps):
                fn()
        graph.replay()
        torch.cuda.synchronize()
        times = []
        for _ in range(5):
            start, stop = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record(stream)
            graph.replay()
            stop.record(stream)
            stop.synchronize()
            times.append(start.elapsed_time(stop) * 1000 / reps)
    times.sort()
    return times[len(times) // 2]


def fp8_peak():
    n = 8192
    a = torch.randn(n, n, device="cuda").to(torch.float8_e4m3fn)
    b = torch.randn(n, n, device="cuda").to(torch.float8_e4m3fn).t()
    one = torch.ones((), device="cuda")
    us = time_us(lambda: torch._scaled_mm(a, b, scale_a=one, scale_b=one, out_dtype=torch.bfloat16), reps=10)
    return 2 * n**3 / (us * 1e-6) / 1e12


def sdpa_decode(context):
    q = torch.randn(1, 64, 1, 128, device="cuda", dtype=torch.bfloat16)
    k = torch.randn(1, 8, context, 128, device="cuda", dtype=torch.bfloat16)
    v = torch.randn(1, 8, context, 128, device="cuda", dtype=torch.bfloat16)
    return time_us(lambda: F.scaled_dot_product_attention(q, k, v, enable_gqa=True))


def main():
    print(f"torch {torch.__version__}, {torch.cuda.get_device_name()}")
    print(f"fp8_peak_tflops {fp8_peak():.1f}")
    for context in (8192, 131072, 1048576):
        print(f"sdpa_decode_us {context} {sdpa_decode(context):.2f}")


if __name__ == "__main__":
    main()
