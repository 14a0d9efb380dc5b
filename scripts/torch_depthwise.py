#!/usr/bin/env python3
"""PyTorch's depthwise 3x3x3 convolution alone, at the shape ActionKit's device kernels benchmark measures
(X3D-XS stage 2 at 8x224x224, batch 16: [16, 108, 8, 28, 28], groups 108, padding 1): forward, and forward with
both backward passes, in GFLOP/s counted as ActionKit counts them (2 x 27 multiply-adds per output, as ConvGeometry.MultiplyAdds).

  python3 scripts/torch_depthwise.py [--device cuda|cpu] [--batch 16]

Prints one JSON line per memory format (contiguous NCDHW, channels_last_3d).
"""
import argparse, json, time
import torch
import torch.nn.functional as F


def sync(dev):
    if dev.type == "cuda":
        torch.cuda.synchronize()


def timed(fn, dev, warmup=5, min_runs=10, min_seconds=1.0):
    for _ in range(warmup):
        fn()
    sync(dev)
    runs, start = 0, time.perf_counter()
    while runs < min_runs or time.perf_counter() - start < min_seconds:
        fn()
        runs += 1
    sync(dev)
    return (time.perf_counter() - start) / runs


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--device", default="cuda")
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--channels", type=int, default=108)
    p.add_argument("--frames", type=int, default=8)
    p.add_argument("--size", type=int, default=28)
    a = p.parse_args()
    torch.backends.cudnn.benchmark = True
    dev = torch.device(a.device)
    n, c, d, s = a.batch, a.channels, a.frames, a.size
    flops = 2.0 * n * c * d * s * s * 27
    for fmt_name, fmt in (("contiguous", torch.contiguous_format), ("channels_last_3d", torch.channels_last_3d)):
        x = torch.randn(n, c, d, s, s, device=dev).to(memory_format=fmt).requires_grad_(True)
        w = torch.randn(c, 1, 3, 3, 3, device=dev).requires_grad_(True)
        dy = torch.randn(n, c, d, s, s, device=dev).to(memory_format=fmt)

        def forward():
            with torch.no_grad():
                F.conv3d(x, w, padding=1, groups=c)

        def forward_backward():
            y = F.conv3d(x, w, padding=1, groups=c)
            torch.autograd.grad(y, (x, w), dy)

        t_fwd, t_all = timed(forward, dev), timed(forward_backward, dev)
        print(json.dumps({
            "engine": "pytorch", "torch": torch.__version__, "op": "depthwise 3x3x3", "format": fmt_name,
            "shape": [n, d, s, s, c], "device": torch.cuda.get_device_name() if dev.type == "cuda" else "cpu",
            "forward_gflops": round(flops / t_fwd / 1e9, 2), "forward_backward_gflops": round(3 * flops / t_all / 1e9, 2)}))


if __name__ == "__main__":
    main()
