using System.Numerics.Tensors;

namespace ActionKit.Kernels.Cpu;

/// <summary>Per-clip, per-channel scaling (squeeze-excitation's gate): y[n, s, c] = x[n, s, c] · scale[n, c].</summary>
public static unsafe class ChannelScale
{
    /// <summary>y = x · scale, broadcast over the S positions of each clip.</summary>
    public static void Forward(float* y, float* x, float* scale, int batch, long positions, int channels) =>
        Elementwise.ForChunks((long)batch * positions, (row, rows) =>
        {
            for (long r = row; r < row + rows; r++)
            {
                var gate = new ReadOnlySpan<float>(scale + r / positions * channels, channels);
                TensorPrimitives.Multiply(new ReadOnlySpan<float>(x + r * channels, channels), gate, new Span<float>(y + r * channels, channels));
            }
        });

    /// <summary>dx = dy · scale and dScale[n, c] = Σ_s dy · x (both overwritten).</summary>
    public static void Backward(float* dx, float* dScale, float* dy, float* x, float* scale, int batch, long positions, int channels) =>
        CpuParallel.For(batch, n =>
        {
            var gate = new ReadOnlySpan<float>(scale + (long)n * channels, channels);
            var sum = new Span<float>(dScale + (long)n * channels, channels);
            sum.Clear();
            long first = n * positions;
            for (long r = first; r < first + positions; r++)
            {
                var dyr = new ReadOnlySpan<float>(dy + r * channels, channels);
                TensorPrimitives.MultiplyAdd(dyr, new ReadOnlySpan<float>(x + r * channels, channels), sum, sum);
                TensorPrimitives.Multiply(dyr, gate, new Span<float>(dx + r * channels, channels));
            }
        });
}
