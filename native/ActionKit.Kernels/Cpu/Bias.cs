using System.Numerics.Tensors;

namespace ActionKit.Kernels.Cpu;

/// <summary>Per-channel bias on rows: y [rows, C] += bias [C]; its backward sums dy over rows.</summary>
public static unsafe class Bias
{
    const int RowsPerChunk = 1024;

    /// <summary>y[r, c] += bias[c].</summary>
    public static void Forward(float* y, float* bias, long rows, int channels) =>
        Elementwise.ForChunks(rows, (row, count) =>
        {
            var b = new ReadOnlySpan<float>(bias, channels);
            for (long r = row; r < row + count; r++)
            {
                var yr = new Span<float>(y + r * channels, channels);
                TensorPrimitives.Add(yr, b, yr);
            }
        });

    /// <summary>dBias[c] += Σ_r dy[r, c], per fixed chunk then in chunk order.</summary>
    public static void Backward(float* dBias, float* dy, long rows, int channels)
    {
        int chunks = CpuParallel.ChunkCount(rows, RowsPerChunk);
        float* partials = Scratch.Get(ScratchSlot.CallPartials, (long)chunks * channels);
        CpuParallel.For(chunks, chunk =>
        {
            var sum = new Span<float>(partials + (long)chunk * channels, channels);
            sum.Clear();
            long start = (long)chunk * RowsPerChunk, end = Math.Min(rows, start + RowsPerChunk);
            for (long r = start; r < end; r++)
                TensorPrimitives.Add(sum, new ReadOnlySpan<float>(dy + r * channels, channels), sum);
        });
        var total = new Span<float>(dBias, channels);
        for (int chunk = 0; chunk < chunks; chunk++)
            TensorPrimitives.Add(total, new ReadOnlySpan<float>(partials + (long)chunk * channels, channels), total);
    }
}
