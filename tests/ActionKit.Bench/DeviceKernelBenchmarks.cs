using ActionKit.Engine;
using ActionKit.Kernels;

namespace ActionKit.Bench;

/// <summary>
/// GFLOP/s (2 x multiply-adds per second) of the depthwise and pointwise operations of a backend that is not the CPU
/// (the GPU), on X3D-XS's stage-2 activation at 8x224x224, batch 16 [16, 8, 28, 28, 108], each next to the CPU
/// backend running the same operation in the same run. scripts/device-bench.sh measures PyTorch at the same shape.
/// </summary>
public static class DeviceKernelBenchmarks
{
    public const string DepthwiseCase = "depthwise 3x3x3, 16x8x28x28x108";

    public static IEnumerable<BenchmarkRow> Run(IBackend device)
    {
        using var cpu = new CpuBackend();
        var g = new ConvGeometry(16, 8, 28, 28, 108, 108, 3, 3, 3, PadDepth: 1, PadHeight: 1, PadWidth: 1);
        double flops = 2.0 * g.MultiplyAdds(g.InChannels);
        using (Operands on = new(device, g), peer = new(cpu, g))
        {
            yield return Row(DepthwiseCase, "forward", flops, on.DepthwiseForward, peer.DepthwiseForward);
            yield return Row(DepthwiseCase, "forward+backward", 3 * flops, on.DepthwiseForwardBackward, peer.DepthwiseForwardBackward);
            double gemmFlops = 2.0 * on.Rows * g.InChannels * Operands.PointwiseOut;
            yield return Row($"pointwise 108->48, M={on.Rows}", "forward+backward", 3 * gemmFlops, on.PointwiseForwardBackward, peer.PointwiseForwardBackward);
        }
    }

    static BenchmarkRow Row(string group, string name, double flops, Action kernel, Action peer) =>
        new(group, name, flops / Timing.MedianSeconds(kernel) / 1e9, "GFLOP/s", "cpu backend, same run", flops / Timing.MedianSeconds(peer, warmup: 1, minRuns: 3) / 1e9);

    /// <summary>The tensors of one backend's depthwise and pointwise passes; each pass waits for the device.</summary>
    sealed class Operands : IDisposable
    {
        public const int PointwiseOut = 48;
        readonly IBackend backend;
        readonly ConvGeometry g;
        readonly Tensor x, y, w, dx, dy, dw, pointwiseWeight, pointwiseOut, pointwiseDWeight;

        public Operands(IBackend backend, ConvGeometry g)
        {
            this.backend = backend;
            this.g = g;
            Rows = g.Batch * g.InDepth * g.InHeight * g.InWidth;
            (x, dx) = (Filled(g.InputLength, 0.37), backend.Allocate((int)g.InputLength));
            (y, dy) = (backend.Allocate((int)g.OutputLength), Filled(g.OutputLength, 0.11));
            (w, dw) = (Filled((long)g.InChannels * g.KernelVolume, 0.7), backend.Allocate(g.InChannels * g.KernelVolume));
            pointwiseWeight = Filled((long)PointwiseOut * g.InChannels, 0.3);
            pointwiseOut = Filled((long)Rows * PointwiseOut, 0.5);
            pointwiseDWeight = backend.Allocate(PointwiseOut * g.InChannels);
        }

        public int Rows { get; }

        Tensor Filled(long length, double frequency)
        {
            var t = backend.Allocate(checked((int)length));
            t.CopyFrom([.. Enumerable.Range(0, (int)length).Select(i => (float)Math.Sin(i * frequency))]);
            return t;
        }

        public void DepthwiseForward()
        {
            backend.DepthwiseConv3dForward(y, x, w, g);
            backend.Synchronize();
        }

        public void DepthwiseForwardBackward()
        {
            backend.DepthwiseConv3dForward(y, x, w, g);
            backend.DepthwiseConv3dBackwardInput(dx, dy, w, g);
            backend.DepthwiseConv3dBackwardWeight(dw, dy, x, g);
            backend.Synchronize();
        }

        // Y = X·Wᵀ, dX = dY·W, dW += dYᵀ·X over [rows, 108] and [rows, 48], as a 1x1x1 convolution runs them.
        public void PointwiseForwardBackward()
        {
            int cin = g.InChannels;
            backend.MatMul(pointwiseOut, x, pointwiseWeight, Rows, PointwiseOut, cin, false, true, false);
            backend.MatMul(dx, pointwiseOut, pointwiseWeight, Rows, cin, PointwiseOut, false, false, false);
            backend.MatMul(pointwiseDWeight, pointwiseOut, x, PointwiseOut, cin, Rows, true, false, true);
            backend.Synchronize();
        }

        public void Dispose()
        {
            foreach (var t in new[] { x, y, w, dx, dy, dw, pointwiseWeight, pointwiseOut, pointwiseDWeight })
                t.Dispose();
        }
    }
}
