using System.Numerics;

namespace ActionKit.Kernels.Cpu;

/// <summary>Mean over the positions of each clip: x [N, S, C] (S = D*H*W) to y [N, C].</summary>
public static unsafe class GlobalAveragePool
{
    /// <summary>y[n, c] = mean over s of x[n, s, c]; one thread per clip, positions summed in order.</summary>
    public static void Forward(float* y, float* x, int batch, long positions, int channels) =>
        CpuParallel.For(batch, n =>
        {
            float* sum = y + (long)n * channels, xn = x + n * positions * channels;
            new Span<float>(sum, channels).Clear();
            for (long s = 0; s < positions; s++)
                AddRow(sum, xn + s * channels, channels);
            float inverse = 1f / positions;
            for (int c = 0; c < channels; c++)
                sum[c] *= inverse;
        });

    /// <summary>dx[n, s, c] = dy[n, c] / S (overwritten).</summary>
    public static void Backward(float* dx, float* dy, int batch, long positions, int channels) =>
        CpuParallel.For(batch, n =>
        {
            float* share = stackalloc float[channels];
            for (int c = 0; c < channels; c++)
                share[c] = dy[(long)n * channels + c] / positions;
            float* dxn = dx + n * positions * channels;
            for (long s = 0; s < positions; s++)
                Buffer.MemoryCopy(share, dxn + s * channels, channels * sizeof(float), channels * sizeof(float));
        });

    static void AddRow(float* sum, float* row, int channels)
    {
        int c = 0;
        for (; c <= channels - Vector<float>.Count; c += Vector<float>.Count)
            (Vector.Load(sum + c) + Vector.Load(row + c)).Store(sum + c);
        for (; c < channels; c++)
            sum[c] += row[c];
    }
}
