using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace ActionKit.Kernels.Cpu;

/// <summary>
/// The two ends of an integer layer: float activations to the 8-bit codes its FakeQuantize puts them on, and its s32
/// sums out with the per-channel scale (activation scale · weight scale), the bias and the activation fused (Swish in
/// a second pass over the chunk), as floats, floats on the next layer's grid, or that grid's codes.
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

    /// <summary>codes [rows, k] = the codes of x [rows, k] on the grid of <paramref name="codes"/> (a whole tensor quantized once).</summary>
    public static void ToByteCodes(in Int8Tensor codes, float* x, long rows, int k) =>
        ToByteCodes(codes.Codes, x, codes.Step, codes.Lowest, codes.Highest, codes.Shift, rows, k, k);

    /// <summary>
    /// codes [rows, channels] = the codes of x · scale + shift (one fused multiply-add a value, as BatchNorm's inference
    /// pass computes it) on the grid of <paramref name="codes"/>: a clip's per-channel normalization and the quantizing
    /// of its result in one pass that reads the floats once and writes a byte a value.
    /// </summary>
    public static void AffineToCodes(in Int8Tensor codes, float* x, float* scale, float* shift, long rows, int channels)
    {
        if (!codes.IsCodes || channels < 1)
            throw new ArgumentException($"Requantize: an affine pass into codes needs a code tensor and at least one channel, not {channels}.");
        var target = codes;
        const int rowsPerChunk = 1024;
        CpuParallel.For(CpuParallel.ChunkCount(rows, rowsPerChunk), chunk =>
        {
            long start = (long)chunk * rowsPerChunk, end = Math.Min(rows, start + rowsPerChunk);
            AffineRows(target, x, scale, shift, start * channels, end * channels, channels);
        });
    }

    // Values [first, end) of the flat tensor (first at a channel 0): eight at a time against scale and shift patterns
    // that repeat every `channels` values (8 · channels of them, so that a block of vectors meets the same patterns),
    // the rest one at a time.
    static void AffineRows(in Int8Tensor codes, float* x, float* scale, float* shift, long first, long end, int channels)
    {
        var grid = new FakeQuantize.Grid(codes.Step, codes.Lowest, codes.Highest);
        long i = first;
        if (Vector256.IsHardwareAccelerated && Fma.IsSupported)
        {
            int period = 8 * channels;
            float* scales = Scratch.Get(ScratchSlot.Chunk, 2L * period), shifts = scales + period;
            for (int j = 0; j < period; j++)
                (scales[j], shifts[j]) = (scale[j % channels], shift[j % channels]);
            var offset = Vector256.Create(codes.Shift);
            for (; i + period <= end; i += period)
                for (int j = 0; j < period; j += 8)
                {
                    var value = Fma.MultiplyAdd(Vector256.Load(x + i + j), Vector256.Load(scales + j), Vector256.Load(shifts + j));
                    var levels = Vector256.ConvertToInt32Native(FakeQuantize.Levels(value, grid)) + offset;
                    var words = Vector128.Narrow(levels.GetLower(), levels.GetUpper());
                    *(ulong*)(codes.Codes + i + j) = Vector128.Narrow(words.AsUInt16(), words.AsUInt16()).AsUInt64().ToScalar();
                }
        }
        for (; i < end; i++)
        {
            int c = (int)(i % channels);
            float value = MathF.FusedMultiplyAdd(x[i], scale[c], shift[c]);
            codes.Codes[i] = (byte)(Math.Clamp(MathF.Round(value / codes.Step), codes.Lowest, codes.Highest) + codes.Shift);
        }
    }

    /// <summary>
    /// wide [rows, depth] = codes - shift as 16-bit levels, zero from k to depth, for codes [rows, k] stored with
    /// <paramref name="stride"/> bytes a row: byte codes made ready for the vpmaddwd paths.
    /// </summary>
    public static void Widen(short* wide, byte* codes, int shift, long rows, int k, int stride, int depth)
    {
        for (long r = 0; r < rows; r++)
        {
            byte* source = codes + r * stride;
            short* target = wide + r * depth;
            int i = 0;
            if (Vector256.IsHardwareAccelerated)
                for (; i + 16 <= k; i += 16)
                    (Vector256.WidenLower(Vector256.Create(Vector128.Load(source + i), Vector128<byte>.Zero)).AsInt16() - Vector256.Create((short)shift)).Store(target + i);
            for (; i < k; i++)
                target[i] = (short)(source[i] - shift);
            for (; i < depth; i++)
                target[i] = 0;
        }
    }

    // Both code forms, 16 values a step: the levels plus shift, narrowed to 16 bits, and to 8 for byte codes.
    static void Quantize<TCode>(TCode* codes, float* x, float step, float lowest, float highest, int shift, long rows, int k, int depth)
        where TCode : unmanaged, IBinaryInteger<TCode>
    {
        float* rx = x;
        TCode* rc = codes;
        CpuParallel.For(CpuParallel.ChunkCount(rows, RowsPerChunk), chunk =>
        {
            long start = (long)chunk * RowsPerChunk;
            QuantizeRows(rc + start * depth, rx + start * k, step, lowest, highest, shift, Math.Min(rows - start, RowsPerChunk), k, depth);
        });
    }

    static void QuantizeRows<TCode>(TCode* codes, float* x, float step, float lowest, float highest, int shift, long rows, int k, int depth)
        where TCode : unmanaged, IBinaryInteger<TCode>
    {
        var grid = new FakeQuantize.Grid(step, lowest, highest);
        var offset = Vector256.Create(shift);
        for (long r = 0; r < rows; r++)
        {
            float* source = x + r * k;
            TCode* target = codes + r * depth;
            int i = 0;
            if (Vector256.IsHardwareAccelerated)
                for (; i + 16 <= k; i += 16)
                {
                    var first = Vector256.ConvertToInt32Native(FakeQuantize.Levels(Vector256.Load(source + i), grid)) + offset;
                    var second = Vector256.ConvertToInt32Native(FakeQuantize.Levels(Vector256.Load(source + i + 8), grid)) + offset;
                    var words = Vector256.Narrow(first, second);
                    if (typeof(TCode) == typeof(byte))
                        Vector128.Narrow(words.GetLower().AsUInt16(), words.GetUpper().AsUInt16()).Store((byte*)(target + i));
                    else
                        words.Store((short*)(target + i));
                }
            // Rows as short as X3D's (24, 54 inputs) leave up to 15 values: 8 more in one vector before the loop.
            if (Vector256.IsHardwareAccelerated && i + 8 <= k)
            {
                var levels = Vector256.ConvertToInt32Native(FakeQuantize.Levels(Vector256.Load(source + i), grid)) + offset;
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
    }

    /// <summary>
    /// y [rows, n] = act(c[r, o] · multiplier[o] + bias[o]) from the s32 sums c [rows, width] (width ≥ n, the GEMM's
    /// padded row); bias may be null. y takes them as floats, as floats on its grid (so the FakeQuantize that reads them
    /// needs no pass of its own), or as that grid's codes, one chunk of rows at a time while the chunk is in cache.
    /// </summary>
    public static void Store(in Int8Tensor y, int* c, float* multiplier, float* bias, long rows, int n, int width, Activation activation)
    {
        var target = y;
        CpuParallel.For(CpuParallel.ChunkCount(rows, RowsPerChunk), chunk =>
        {
            long start = (long)chunk * RowsPerChunk;
            StoreRows(target.At(start * n), c + start * width, multiplier, bias, (int)Math.Min(RowsPerChunk, rows - start), n, width, activation);
        });
    }

    /// <summary>
    /// <see cref="Store"/> on the calling thread, for a kernel that stores its sums as it makes them: s32 sums, or
    /// integer sums held exactly in floats (<typeparamref name="TSum"/> int or float). With <paramref name="rowSums"/>,
    /// rowSums [n] = Σ_rows act(c · multiplier + bias), the rows added in order: the floats before y's grid, summed
    /// for a pool that then need not read y (or cannot, when y is codes).
    /// </summary>
    internal static void StoreRows<TSum>(in Int8Tensor y, TSum* c, float* multiplier, float* bias, int rows, int n, int width, Activation activation,
        float* rowSums = null) where TSum : unmanaged
    {
        if (rowSums != null)
            new Span<float>(rowSums, n).Clear();
        if (n >= 16 && Wide)
        {
            if (rowSums != null)
                StoreRows512<TSum, On>(y, c, multiplier, bias, rows, n, width, activation, rowSums);
            else
                StoreRows512<TSum, Off>(y, c, multiplier, bias, rows, n, width, activation, null);
            return;
        }
        for (int start = 0; start < rows; start += RowsPerChunk)
        {
            int count = Math.Min(RowsPerChunk, rows - start);
            var target = y.At((long)start * n);
            float* values = Values(target, count * n);
            Dequantize(values, c + (long)start * width, multiplier, bias, count, n, width, activation);
            if (rowSums != null)
                AddRows(rowSums, values, count, n);
            Finish(target, values, count * n);
        }
    }

    static void StoreRows512<TSum, TRowSums>(in Int8Tensor y, TSum* c, float* multiplier, float* bias, int rows, int n, int width, Activation activation,
        float* rowSums) where TSum : unmanaged where TRowSums : struct, IFlag
    {
        if (y.IsCodes)
            StoreRows512<TSum, TRowSums, CodesOut>(y, c, multiplier, bias, rows, n, width, activation, rowSums);
        else if (y.Step > 0)
            StoreRows512<TSum, TRowSums, GridOut>(y, c, multiplier, bias, rows, n, width, activation, rowSums);
        else
            StoreRows512<TSum, TRowSums, FloatsOut>(y, c, multiplier, bias, rows, n, width, activation, rowSums);
    }

    // One pass, 16 outputs a vector: scale, bias, activation (added into the row sums) and then the output's grid or
    // codes, no float written in between (the epilogue was half of a thin layer's time). The rows go through one
    // 16-channel column at a time, its scale and bias loaded once and its row sums added in a register (in row order,
    // as the two-pass path adds them) and stored once. A row's last vector ends at n, overlapping the one before it,
    // which it recomputes to the same values (and adds to the row sums only in the lanes it adds). The arithmetic is
    // the two-pass path's at 16 lanes (Swish as Elementwise.Swish computes it there), so both give the same bits. Never
    // inlined: inside a kernel's loop the activation and grid would exceed the inliner's budget and stay calls.
    [MethodImpl(MethodImplOptions.AggressiveOptimization | MethodImplOptions.NoInlining)]
    static void StoreRows512<TSum, TRowSums, TForm>(in Int8Tensor y, TSum* c, float* multiplier, float* bias, int rows, int n, int width, Activation activation,
        float* rowSums) where TSum : unmanaged where TRowSums : struct, IFlag where TForm : struct, IOutputForm
    {
        var output = new Output512(y);
        var lanes = Vector512.Create(0f, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
        for (int o0 = 0; o0 < n; o0 += 16)
        {
            int o = Math.Min(o0, n - 16);
            var scale = Vector512.Load(multiplier + o);
            var shift = bias != null ? Vector512.Load(bias + o) : Vector512<float>.Zero;
            var fresh = Vector512.GreaterThanOrEqual(lanes, Vector512.Create((float)(o0 - o)));
            var total = TRowSums.IsOn ? Vector512.Load(rowSums + o) : Vector512<float>.Zero;
            TSum* source = c + o;
            for (int r = 0; r < rows; r++, source += width)
            {
                var sums = typeof(TSum) == typeof(int) ? Vector512.ConvertToSingle(Vector512.Load((int*)source)) : Vector512.Load((float*)source);
                var value = sums * scale;
                if (bias != null)
                    value += shift;
                value = Activate(value, activation);
                if (TRowSums.IsOn)
                    total += Vector512.ConditionalSelect(fresh, value, Vector512<float>.Zero);
                Store16<TForm>(output, (long)r * n + o, value);
            }
            if (TRowSums.IsOn)
                total.Store(rowSums + o);
        }
    }

    // total [n] += Σ_r values [r, :], the rows in order.
    static void AddRows(float* total, float* values, int rows, int n)
    {
        for (int r = 0; r < rows; r++)
            for (int o = 0; o < n; o++)
                total[o] += values[(long)r * n + o];
    }

    /// <summary>Whether the 16-wide one-pass stores run: AVX-512F, and no test holding the kernels to narrower vectors.</summary>
    internal static bool Wide => Simd.MaxWidth >= 16 && Avx512F.IsSupported;

    /// <summary>None, ReLU or Swish on 16 lanes, as the activations compute them.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector512<float> Activate(Vector512<float> value, Activation activation) => activation switch
    {
        Activation.Relu => Vector512.MaxNative(value, Vector512<float>.Zero),
        Activation.Swish => SwishActivation.Forward<Simd512, Vector512<float>>(value),
        _ => value,
    };

    /// <summary>16 computed values into y at <paramref name="at"/>: as they are, on y's grid, or as its codes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void Store16<TForm>(in Output512 y, long at, Vector512<float> value) where TForm : struct, IOutputForm
    {
        if (typeof(TForm) == typeof(FloatsOut))
        {
            value.Store(y.Values + at);
            return;
        }
        var level = FakeQuantize.Levels(value, y.Grid);
        if (typeof(TForm) == typeof(CodesOut))
            LowBytes(Vector512.ConvertToInt32Native(level) + y.Shift).Store(y.Codes + at);
        else
            (level * y.Grid.Step).Store(y.Values + at);
    }

    /// <summary>
    /// The low byte of each of 16 s32 lanes. vpmovdb straight to memory (what the JIT makes of narrowing and storing) is
    /// a slow instruction on AMD's Zen 4, the hottest one in the INT8 graph's profile there; vpermb into a register and
    /// a plain 16-byte store are not.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector128<byte> LowBytes(Vector512<int> lanes) => Avx512Vbmi.IsSupported
        ? Avx512Vbmi.PermuteVar64x8(lanes.AsByte(), Vector512.CreateSequence((byte)0, (byte)4)).GetLower().GetLower()
        : Avx512F.ConvertToVector128Byte(lanes);

    /// <summary>Where a chunk of at most 64 rows of n values for <paramref name="y"/> is computed as floats: y itself, or scratch for codes.</summary>
    internal static float* Values(in Int8Tensor y, int count) =>
        y.IsCodes ? Scratch.Get(ScratchSlot.Requantized, count) : y.Values;

    /// <summary>Puts <paramref name="count"/> computed floats (from <see cref="Values"/>) into y: nothing for plain floats, the grid, or codes.</summary>
    internal static void Finish(in Int8Tensor y, float* values, int count)
    {
        if (y.IsCodes)
            QuantizeRows(y.Codes, values, y.Step, y.Lowest, y.Highest, y.Shift, 1, count, count);
        else if (y.Step > 0)
            FakeQuantize.OnGrid(values, values, y.Step, y.Lowest, y.Highest, count);
    }

    // values [rows, n] = act(c · multiplier + bias) for rows of one chunk.
    static void Dequantize<TSum>(float* values, TSum* c, float* multiplier, float* bias, int rows, int n, int width, Activation activation)
        where TSum : unmanaged
    {
        for (int r = 0; r < rows; r++)
        {
            TSum* source = c + (long)r * width;
            float* target = values + (long)r * n;
            int o = 0;
            // The last vector ends at n, overlapping the one before it: a row as short as 54 leaves no scalar tail.
            if (Vector256.IsHardwareAccelerated && n >= 8)
            {
                for (int o0 = 0; o0 < n; o0 += 8)
                {
                    int at = Math.Min(o0, n - 8);
                    var sums = typeof(TSum) == typeof(int) ? Vector256.ConvertToSingle(Vector256.Load((int*)source + at)) : Vector256.Load((float*)source + at);
                    var value = sums * Vector256.Load(multiplier + at);
                    if (bias != null)
                        value += Vector256.Load(bias + at);
                    if (activation == Activation.Relu)
                        value = Vector256.MaxNative(value, Vector256<float>.Zero);
                    value.Store(target + at);
                }
                o = n;
            }
            for (; o < n; o++)
            {
                float sum = typeof(TSum) == typeof(int) ? ((int*)source)[o] : ((float*)source)[o];
                float value = sum * multiplier[o] + (bias != null ? bias[o] : 0f);
                target[o] = activation == Activation.Relu ? MathF.Max(value, 0f) : value;
            }
        }
        // Inside a chunk, Swish's own parallel loop runs on this thread.
        if (activation == Activation.Swish)
            Elementwise.Swish(values, values, (long)rows * n);
    }
}

/// <summary>The three forms of an <see cref="Int8Tensor"/> output as type arguments: a loop compiled for one tests none.</summary>
internal interface IOutputForm;

/// <summary>Plain floats.</summary>
internal readonly struct FloatsOut : IOutputForm;

/// <summary>Floats on the tensor's grid.</summary>
internal readonly struct GridOut : IOutputForm;

/// <summary>The grid's byte codes.</summary>
internal readonly struct CodesOut : IOutputForm;

/// <summary>An output's pointers, grid and code shift, read once before a loop of <see cref="Requantize.Store16{TForm}"/>.</summary>
internal readonly unsafe struct Output512(in Int8Tensor y)
{
    public readonly float* Values = y.Values;
    public readonly byte* Codes = y.Codes;
    public readonly FakeQuantize.Grid512 Grid = new(y.Step, y.Lowest, y.Highest);
    public readonly Vector512<int> Shift = Vector512.Create(y.Shift);
}
