using System.Numerics;
using System.Runtime.Intrinsics;

namespace ActionKit.Kernels.Cpu;

/// <summary>
/// The two ends of an integer layer: float activations to the 8-bit codes its FakeQuantize puts them on, and its s32
/// sums back to float with the per-channel scale (activation scale · weight scale), the bias and the activation
/// fused (Swish in a second pass).
/// </summary>
public static unsafe class Requantize
{
    const int RowsPerChunk = 64;

    /// <summary>
    /// codes [rows, depth] = clamp(round(x / step), lowest, highest) for x [rows, k], zero from k to depth: exactly
    /// the levels of a per-tensor FakeQuantize with that step and those end codes (0..255 for u8, -128..127 for s8),
    /// computed as it computes them (a division, ties to even).
    /// </summary>
    public static void ToCodes(short* codes, float* x, float step, float lowest, float highest, long rows, int k, int depth)
    {
        if (!(step > 0) || lowest < short.MinValue || highest > short.MaxValue || lowest > highest)
            throw new ArgumentException($"Requantize: step {step} with codes {lowest}..{highest} gives no 16-bit codes.");
        Quantize(codes, x, step, lowest, highest, 0, rows, k, depth);
    }

    /// <summary>
    /// codes [rows, depth] (bytes) = clamp(round(x / step), lowest, highest) + shift for x [rows, k], zero from k to
    /// depth: <see cref="ToCodes"/>'s levels, moved into u8 (shift 128 for s8 codes) for vpdpbusd.
    /// </summary>
    public static void ToByteCodes(byte* codes, float* x, float step, float lowest, float highest, int shift, long rows, int k, int depth)
    {
        if (!(step > 0) || lowest + shift < 0 || highest + shift > 255 || lowest > highest)
            throw new ArgumentException($"Requantize: step {step} with codes {lowest}..{highest} shifted by {shift} gives no u8 codes.");
        Quantize(codes, x, step, lowest, highest, shift, rows, k, depth);
    }

    // Both code forms, 16 values a step: the levels plus shift, narrowed to 16 bits, and to 8 for byte codes.
    static void Quantize<TCode>(TCode* codes, float* x, float step, float lowest, float highest, int shift, long rows, int k, int depth)
        where TCode : unmanaged, IBinaryInteger<TCode>
    {
        float* rx = x;
        TCode* rc = codes;
        CpuParallel.For(CpuParallel.ChunkCount(rows, RowsPerChunk), chunk =>
        {
            long start = (long)chunk * RowsPerChunk, end = Math.Min(rows, start + RowsPerChunk);
            var divisor = Vector256.Create(step);
            Vector256<float> bottom = Vector256.Create(lowest), top = Vector256.Create(highest);
            var offset = Vector256.Create(shift);
            for (long r = start; r < end; r++)
            {
                float* source = rx + r * k;
                TCode* target = rc + r * depth;
                int i = 0;
                if (Vector256.IsHardwareAccelerated)
                    for (; i + 16 <= k; i += 16)
                    {
                        var first = Vector256.ConvertToInt32(Vector256.Min(Vector256.Max(Vector256.Round(Vector256.Load(source + i) / divisor), bottom), top)) + offset;
                        var second = Vector256.ConvertToInt32(Vector256.Min(Vector256.Max(Vector256.Round(Vector256.Load(source + i + 8) / divisor), bottom), top)) + offset;
                        var words = Vector256.Narrow(first, second);
                        if (typeof(TCode) == typeof(byte))
                            Vector128.Narrow(words.GetLower().AsUInt16(), words.GetUpper().AsUInt16()).Store((byte*)(target + i));
                        else
                            words.Store((short*)(target + i));
                    }
                // Rows as short as X3D's (24, 54 inputs) leave up to 15 values: 8 more in one vector before the loop.
                if (Vector256.IsHardwareAccelerated && i + 8 <= k)
                {
                    var levels = Vector256.ConvertToInt32(Vector256.Min(Vector256.Max(Vector256.Round(Vector256.Load(source + i) / divisor), bottom), top)) + offset;
                    var words = Vector128.Narrow(levels.GetLower(), levels.GetUpper());
                    if (typeof(TCode) == typeof(byte))
                        *(ulong*)(target + i) = Vector128.Narrow(words.AsUInt16(), words.AsUInt16()).AsUInt64().ToScalar();
                    else
                        words.Store((short*)(target + i));
                    i += 8;
                }
                for (; i < k; i++)
                    target[i] = TCode.CreateTruncating((int)Math.Clamp(MathF.Round(source[i] / step), lowest, highest) + shift);
                for (; i < depth; i++)
                    target[i] = TCode.Zero;
            }
        });
    }

    /// <summary>
    /// y [rows, n] = act(c[r, o] · multiplier[o] + bias[o]) from the s32 sums c [rows, width] (width ≥ n, the GEMM's
    /// padded row); bias may be null. With a <paramref name="gridStep"/> above 0, y is then put on the grid of the
    /// per-tensor FakeQuantize that reads it (<see cref="FakeQuantize.OnGrid"/>), so that layer needs no pass of its own.
    /// </summary>
    public static void ToFloat(float* y, int* c, float* multiplier, float* bias, long rows, int n, int width, Activation activation,
        float gridStep = 0, float lowest = 0, float highest = 0)
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
            if (gridStep > 0 && activation != Activation.Swish)
                FakeQuantize.OnGrid(ry + start * n, ry + start * n, gridStep, lowest, highest, (int)((end - start) * n));
        });
        if (activation == Activation.Swish)
        {
            Elementwise.Swish(y, y, rows * n);
            if (gridStep > 0)
                Elementwise.ForChunks(rows * n, (offset, length) => FakeQuantize.OnGrid(ry + offset, ry + offset, gridStep, lowest, highest, length));
        }
    }
}
