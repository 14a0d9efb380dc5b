using System.Numerics.Tensors;

namespace ActionKit.Kernels.Cpu;

/// <summary>Mean over the positions of each clip: x [N, S, C] (S = D*H*W) to y [N, C].</summary>
public static unsafe class GlobalAveragePool
{
    /// <summary>y[n, c] = mean over s of x[n, s, c].</summary>
    public static void Forward(float* y, float* x, int batch, long positions, int channels) =>
        CpuParallel.For(batch, n =>
        {
            var sum = new Span<float>(y + (long)n * channels, channels);
            sum.Clear();
            float* xn = x + n * positions * channels;
            for (long s = 0; s < positions; s++)
                TensorPrimitives.Add(sum, new ReadOnlySpan<float>(xn + s * channels, channels), sum);
            TensorPrimitives.Multiply(sum, 1f / positions, sum);
        });

    /// <summary>dx[n, s, c] = dy[n, c] / S (overwritten).</summary>
    public static void Backward(float* dx, float* dy, int batch, long positions, int channels) =>
        CpuParallel.For(batch, n =>
        {
            Span<float> share = stackalloc float[channels];
            TensorPrimitives.Multiply(new ReadOnlySpan<float>(dy + (long)n * channels, channels), 1f / positions, share);
            float* dxn = dx + n * positions * channels;
            for (long s = 0; s < positions; s++)
                share.CopyTo(new Span<float>(dxn + s * channels, channels));
        });
}
