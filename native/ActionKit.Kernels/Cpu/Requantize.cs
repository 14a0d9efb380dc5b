using System.Runtime.Intrinsics;

namespace ActionKit.Kernels.Cpu;

/// <summary>
/// The two ends of an integer layer: float activations to the u8 codes its FakeQuantize puts them on, and its s32
/// sums back to float with the per-channel scale (activation scale · weight scale), the bias and the activation
/// fused (Swish in a second pass).
/// </summary>
public static unsafe class Requantize
{
    const int RowsPerChunk = 64;

    /// <summary>
    /// codes [rows, depth] = clamp(round(x / step), 0, 255) for x [rows, k], zero from k to depth: exactly the levels
    /// of FakeQuantize(levels 256, low 0, high 255 · step), computed as it computes them (a division, ties to even).
    /// </summary>
    public static void ToCodes(ushort* codes, float* x, float step, long rows, int k, int depth)
    {
        if (!(step > 0))
            throw new ArgumentException($"Requantize: a quantization step of {step} has no codes.");
        float* rx = x;
        ushort* rc = codes;
        CpuParallel.For(CpuParallel.ChunkCount(rows, RowsPerChunk), chunk =>
        {
            long start = (long)chunk * RowsPerChunk, end = Math.Min(rows, start + RowsPerChunk);
            var divisor = Vector256.Create(step);
            var top = Vector256.Create(255f);
            for (long r = start; r < end; r++)
            {
                float* source = rx + r * k;
                ushort* target = rc + r * depth;
                int i = 0;
                if (Vector256.IsHardwareAccelerated)
                    for (; i + 8 <= k; i += 8)
                    {
                        var level = Vector256.Min(Vector256.Max(Vector256.Round(Vector256.Load(source + i) / divisor), Vector256<float>.Zero), top);
                        var integers = Vector256.ConvertToInt32(level);
                        Vector128.Store(Vector128.Narrow(integers.GetLower(), integers.GetUpper()).AsUInt16(), target + i);
                    }
                for (; i < k; i++)
                    target[i] = (ushort)Math.Clamp(MathF.Round(source[i] / step), 0f, 255f);
                for (; i < depth; i++)
                    target[i] = 0;
            }
        });
    }

    /// <summary>
    /// y [rows, n] = act(c[r, o] · multiplier[o] + bias[o]) from the s32 sums c [rows, width] (width ≥ n, the GEMM's
    /// padded row); bias may be null.
    /// </summary>
    public static void ToFloat(float* y, int* c, float* multiplier, float* bias, long rows, int n, int width, Activation activation)
    {
        float* ry = y, rm = multiplier, rb = bias;
        int* rc = c;
        CpuParallel.For(CpuParallel.ChunkCount(rows, RowsPerChunk), chunk =>
        {
            long start = (long)chunk * RowsPerChunk, end = Math.Min(rows, start + RowsPerChunk);
            for (long r = start; r < end; r++)
            {
                int* source = rc + r * width;
                float* target = ry + r * n;
                int o = 0;
                if (Vector256.IsHardwareAccelerated)
                    for (; o + 8 <= n; o += 8)
                    {
                        var value = Vector256.ConvertToSingle(Vector256.Load(source + o)) * Vector256.Load(rm + o);
                        if (rb != null)
                            value += Vector256.Load(rb + o);
                        if (activation == Activation.Relu)
                            value = Vector256.Max(value, Vector256<float>.Zero);
                        value.Store(target + o);
                    }
                for (; o < n; o++)
                {
                    float value = source[o] * rm[o] + (rb != null ? rb[o] : 0f);
                    target[o] = activation == Activation.Relu ? MathF.Max(value, 0f) : value;
                }
            }
        });
        if (activation == Activation.Swish)
            Elementwise.Swish(y, y, rows * n);
    }
}
