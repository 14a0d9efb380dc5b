using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace ActionKit.Kernels.Cpu;

/// <summary>The instructions an integer kernel runs on; chosen at run time (<see cref="Int8Gemm.Path"/>), forced by tests.</summary>
public enum Int8Path
{
    /// <summary>Plain loops.</summary>
    Scalar,

    /// <summary>vpmaddwd on 256-bit vectors: 16 products of 16-bit operands per instruction.</summary>
    Avx2,

    /// <summary>vpmaddwd on 512-bit vectors (AVX-512 BW): 32 products per instruction.</summary>
    Avx512,

    /// <summary>
    /// vpdpbusd on 256-bit vectors (AVX-VNNI): 32 products of u8 activation and s8 weight bytes, summed in fours into
    /// s32 lanes and added to them, in one instruction that never saturates.
    /// </summary>
    AvxVnni,
}

/// <summary>
/// Integer GEMM for the pointwise convolutions of a quantized model: c [M, N] (s32) = a [M, K] (8-bit activation
/// codes, u8 0..255 or s8 -128..127) · bᵀ, b [N, K] (s8 weight codes), exact. Two forms, chosen at run time
/// (<see cref="Path"/>). With AVX-VNNI the codes go in as bytes (s8 codes shifted by 128 into u8, the shift taken out
/// again through the weights' column sums) and vpdpbusd adds four u8 · s8 products into each s32 lane without an
/// intermediate 16-bit sum. Without it the codes are widened to 16 bits and vpmaddwd multiplies pairs: each pair sum
/// is at most 2 · 255 · 128 in magnitude, far inside s32. (vpmaddubsw would take the bytes directly but saturates its
/// 16-bit pair sums at u8 · s8 values as small as 255 · 65 · 2; OpenVINO avoids that on CPUs without VNNI by
/// quantizing weights to 7 bits, which costs accuracy; widening costs half of vpmaddubsw's rate and keeps all 8 bits.
/// .NET 10 exposes VNNI only VEX-encoded, on 256-bit vectors: no 512-bit vpdpbusd path.)
/// </summary>
public static unsafe class Int8Gemm
{
    /// <summary>Output channels per packed panel (one 512-bit vector of s32).</summary>
    public const int PanelWidth = 16;

    const int RowsPerChunk = 64;

    /// <summary>The fastest path this CPU runs.</summary>
    public static Int8Path Best => AvxVnni.IsSupported ? Int8Path.AvxVnni : Avx512BW.IsSupported ? Int8Path.Avx512 : Avx2.IsSupported ? Int8Path.Avx2 : Int8Path.Scalar;

    /// <summary>The path the kernels take: <see cref="Best"/> unless a test forces one.</summary>
    public static Int8Path Path { get; set; } = Best;

    /// <summary>Whether this CPU can run <paramref name="path"/>.</summary>
    public static bool IsSupported(Int8Path path) => path switch
    {
        Int8Path.AvxVnni => AvxVnni.IsSupported,
        Int8Path.Avx512 => Avx512BW.IsSupported,
        Int8Path.Avx2 => Avx2.IsSupported,
        _ => true,
    };

    /// <summary>K rounded up to even: the row length of widened activation codes and of packed weight pairs.</summary>
    internal static int PairDepth(int k) => (k + 1) & ~1;

    /// <summary>K rounded up to a multiple of 4: the row length of byte codes and of packed weight quads.</summary>
    internal static int QuadDepth(int k) => (k + 3) & ~3;

    /// <summary>N rounded up to whole panels: the row length of the s32 result.</summary>
    public static int PaddedWidth(int n) => (n + PanelWidth - 1) / PanelWidth * PanelWidth;

    /// <summary>b [N, K] s8 packed once for every path (<see cref="Int8Weights"/>).</summary>
    public static Int8Weights Pack(ReadOnlySpan<sbyte> b, int n, int k) => new(b, n, k);

    /// <summary>
    /// c [rows, PaddedWidth(N)] (s32) = codes(x) · bᵀ, exact: x [rows, K] is byte codes, or floats put on the codes of
    /// its grid (<see cref="Int8Tensor.OnGrid"/>: the per-tensor FakeQuantize that reads it). Columns from N on are
    /// padding, with no defined value.
    /// </summary>
    public static void Multiply(int* c, in Int8Tensor x, Int8Weights weights, long rows)
    {
        var (path, input) = (CheckedPath(), CheckedInput(x));
        int width = PaddedWidth(weights.N);
        CpuParallel.For(CpuParallel.ChunkCount(rows, RowsPerChunk), chunk =>
        {
            long start = (long)chunk * RowsPerChunk;
            MultiplyChunk(path, c + start * width, input.At(start * weights.K), weights, (int)Math.Min(RowsPerChunk, rows - start));
        });
    }

    /// <summary>
    /// A pointwise convolution of a quantized graph in one pass over chunks of rows: y [rows, N] =
    /// act(c · multiplier + bias) with c = codes(x) · bᵀ as <see cref="Multiply"/> computes it, y stored as
    /// <see cref="Requantize.Store"/> stores it (floats, floats on a grid, or codes). A chunk's codes and s32 sums live in
    /// this thread's scratch, in cache, instead of whole-tensor buffers that would cost trips to memory.
    /// </summary>
    public static void Convolve(in Int8Tensor y, in Int8Tensor x, Int8Weights weights, float* multiplier, float* bias, long rows, Activation activation)
    {
        var (path, input, output) = (CheckedPath(), CheckedInput(x), y);
        int n = weights.N, width = PaddedWidth(n);
        CpuParallel.For(CpuParallel.ChunkCount(rows, RowsPerChunk), chunk =>
        {
            long start = (long)chunk * RowsPerChunk;
            int count = (int)Math.Min(RowsPerChunk, rows - start);
            int* sums = (int*)Scratch.Get(ScratchSlot.CallPartials, (long)RowsPerChunk * width);
            MultiplyChunk(path, sums, input.At(start * weights.K), weights, count);
            Requantize.StoreRows(output.At(start * n), sums, multiplier, bias, count, n, width, activation);
        });
    }

    /// <summary>
    /// A dense convolution of a quantized graph as the same integer GEMM over gathered rows: for each chunk of 64 output
    /// positions, the codes of the taps each position reads (padding is level 0) go into one row of K = taps · Cin bytes
    /// in this thread's scratch, and the chunk is multiplied and stored as <see cref="Convolve"/> does. The weights are
    /// packed in that order, [Cout, taps, Cin] (<see cref="PackGathered"/>). X3D's stem (3 input channels, 1x3x3 taps) is
    /// the layer this is for: an im2col that never leaves the cache. x must stay readable 16 bytes past its end.
    /// </summary>
    public static void ConvolveGathered(in Int8Tensor y, in Int8Tensor x, Int8Weights weights, float* multiplier, float* bias, in ConvGeometry g,
        Activation activation)
    {
        g.Validate();
        if (!x.IsCodes || weights.K != g.KernelVolume * g.InChannels || weights.N != g.OutChannels)
            throw new ArgumentException($"Int8Gemm: a gathered convolution needs codes in and {g.OutChannels} x {g.KernelVolume * g.InChannels} weights: {g}");
        var (path, input, output, geometry) = (CheckedPath(), CheckedInput(x), y, g);
        int n = weights.N, k = weights.K, width = PaddedWidth(n);
        long rows = g.OutputLength / g.OutChannels;
        CpuParallel.For(CpuParallel.ChunkCount(rows, RowsPerChunk), chunk =>
        {
            long start = (long)chunk * RowsPerChunk;
            int count = (int)Math.Min(RowsPerChunk, rows - start);
            // Slack after the last row: a quad read past its end (meeting zero weights) and a 16-byte copy's spill.
            byte* gathered = (byte*)Scratch.Get(ScratchSlot.Chunk, ((long)RowsPerChunk * k + 16) / 4 + 1);
            Gather(gathered, input, geometry, start, count);
            int* sums = (int*)Scratch.Get(ScratchSlot.CallPartials, (long)RowsPerChunk * width);
            MultiplyChunk(path, sums, Int8Tensor.AsCodes(gathered, input.Step, input.Lowest, input.Highest), weights, count);
            Requantize.StoreRows(output.At(start * n), sums, multiplier, bias, count, n, width, activation);
        });
    }

    /// <summary>Dense convolution weight levels [Cout, Cin, taps] (the graph's order) packed as [Cout, taps, Cin] for <see cref="ConvolveGathered"/>.</summary>
    public static Int8Weights PackGathered(ReadOnlySpan<sbyte> levels, int outputs, int inputs, int taps)
    {
        if (levels.Length != (long)outputs * inputs * taps)
            throw new ArgumentException($"Int8Gemm: {levels.Length} weights are not {outputs} x {inputs} x {taps}.");
        var reordered = new sbyte[levels.Length];
        for (int o = 0; o < outputs; o++)
            for (int i = 0; i < inputs; i++)
                for (int tap = 0; tap < taps; tap++)
                    reordered[((long)o * taps + tap) * inputs + i] = levels[(o * inputs + i) * taps + tap];
        return new Int8Weights(reordered, outputs, inputs * taps);
    }

    // rows [count, taps · Cin] for output positions start.., channels-last: each tap's Cin codes, or level 0 (the byte
    // `shift`) where the tap falls in the padding. The source rows of an output row's (depth, height) tap pairs are
    // found once for the row; a pair whose width taps all lie inside its source row is one contiguous copy (kW · Cin
    // bytes on both sides), up to 16 bytes as one vector (the stem's 9; what it writes past the span, later spans
    // overwrite).
    static void Gather(byte* rows, in Int8Tensor x, in ConvGeometry g, long start, int count)
    {
        int cin = g.InChannels, k = g.KernelVolume * cin, span = g.KernelWidth * cin, pairs = g.KernelDepth * g.KernelHeight;
        byte zero = (byte)x.Shift;
        byte** sources = stackalloc byte*[pairs];
        for (int r = 0; r < count;)
        {
            long position = start + r, line = position / g.OutWidth;
            int ox = (int)(position % g.OutWidth), oy = (int)(line % g.OutHeight), oz = (int)(line / g.OutHeight % g.OutDepth);
            long n = line / g.OutHeight / g.OutDepth;
            for (int kz = 0; kz < g.KernelDepth; kz++)
                for (int ky = 0; ky < g.KernelHeight; ky++)
                {
                    int iz = oz * g.StrideDepth - g.PadDepth + kz, iy = oy * g.StrideHeight - g.PadHeight + ky;
                    bool inside = iz >= 0 && iz < g.InDepth && iy >= 0 && iy < g.InHeight;
                    sources[kz * g.KernelHeight + ky] = inside ? x.Codes + ((n * g.InDepth + iz) * g.InHeight + iy) * g.InWidth * cin : null;
                }
            for (int end = Math.Min(count, r + g.OutWidth - ox); r < end; r++, ox++)
            {
                byte* row = rows + (long)r * k;
                int firstX = ox * g.StrideWidth - g.PadWidth;
                bool widthInside = firstX >= 0 && firstX + g.KernelWidth <= g.InWidth;
                for (int pair = 0; pair < pairs; pair++, row += span)
                {
                    byte* source = sources[pair];
                    if (source == null)
                        new Span<byte>(row, span).Fill(zero);
                    else if (widthInside && span <= 16)
                        Vector128.Load(source + (long)firstX * cin).Store(row);
                    else if (widthInside)
                        Unsafe.CopyBlockUnaligned(row, source + (long)firstX * cin, (uint)span);
                    else
                        for (int kx = 0; kx < g.KernelWidth; kx++)
                        {
                            int ix = firstX + kx;
                            for (int c = 0; c < cin; c++)
                                row[kx * cin + c] = ix >= 0 && ix < g.InWidth ? source[(long)ix * cin + c] : zero;
                        }
                }
            }
        }
    }

    static Int8Path CheckedPath()
    {
        var path = Path;
        return IsSupported(path) ? path : throw new PlatformNotSupportedException($"Int8Gemm: this CPU cannot run the {path} path.");
    }

    static Int8Tensor CheckedInput(in Int8Tensor x) =>
        x.Step > 0 && (x.IsCodes || (x.Lowest, x.Highest) is ((0, 255) or (-128, 127)))
            ? x
            : throw new ArgumentException($"Int8Gemm: an input needs the grid of a 256-level FakeQuantize on u8 or s8 codes, not step {x.Step} with levels {x.Lowest}..{x.Highest}.");

    // One chunk of rows: its codes in the path's form (in this thread's scratch unless they are bytes the VNNI path
    // reads where they are), then the path's GEMM into c.
    static void MultiplyChunk(Int8Path path, int* c, in Int8Tensor x, Int8Weights weights, int rows)
    {
        int k = weights.K, width = PaddedWidth(weights.N);
        if (path == Int8Path.AvxVnni)
        {
            // s8 codes shifted into u8; the shift comes back out through the column sums. Codes in memory are read
            // with their own row length: a row's last quad runs up to 3 bytes into the next row (or the slack after the
            // tensor), which meet zero weights.
            int depth = QuadDepth(k);
            byte* codes = x.Codes;
            int stride = k;
            if (!x.IsCodes)
            {
                codes = (byte*)Scratch.Get(ScratchSlot.CallOperand, ((long)rows * depth + 3) / 4);
                Requantize.ToByteCodes(codes, x.Values, x.Step, x.Lowest, x.Highest, x.Shift, rows, k, depth);
                stride = depth;
            }
            RowsVnni(c, codes, stride, weights.QuadsPointer, weights.ColumnSumsPointer, x.Shift, rows, depth, width, weights.N);
            return;
        }
        int pairDepth = PairDepth(k), panels = width / PanelWidth;
        short* wide = (short*)Scratch.Get(ScratchSlot.CallOperand, ((long)rows * pairDepth + 1) / 2);
        if (x.IsCodes)
            Requantize.Widen(wide, x.Codes, x.Shift, rows, k, k, pairDepth);
        else
            Requantize.ToCodes(wide, x.Values, x.Step, x.Lowest, x.Highest, rows, k, pairDepth);
        switch (path)
        {
            case Int8Path.Avx512:
                Rows512(c, wide, weights.PairsPointer, rows, pairDepth, panels);
                break;
            case Int8Path.Avx2:
                Rows256(c, wide, weights.PairsPointer, rows, pairDepth, panels);
                break;
            default:
                RowsScalar(c, wide, weights.PairsPointer, rows, pairDepth, panels);
                break;
        }
    }

    /// <summary>
    /// Four rows by two panels of 8 at a time: eight accumulators, each quad of k one broadcast of 4 code bytes per row
    /// and one vpdpbusd per row and panel; the stores take shift · Σ_k b back out. A last block with 8 or fewer of the
    /// n real columns computes its first panel only (n = 54 pads to 56, not 64).
    /// </summary>
    static void RowsVnni(int* c, byte* a, int stride, sbyte* quads, int* columnSums, int shift, int rows, int depth, int width, int n)
    {
        for (int column = 0; column < width; column += 16)
        {
            if (column + 8 < n)
                ColumnsVnni<On>(c, a, stride, quads, columnSums, shift, rows, depth, width, column);
            else
                ColumnsVnni<Off>(c, a, stride, quads, columnSums, shift, rows, depth, width, column);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void ColumnsVnni<THigh>(int* c, byte* a, int stride, sbyte* quads, int* columnSums, int shift, int rows, int depth, int width, int column)
        where THigh : struct, IFlag
    {
        int quadCount = depth / 4;
        sbyte* low = quads + (long)column * depth, high = low + 8L * depth;
        Vector256<int> lowShift = Vector256.Load(columnSums + column) * shift, highShift = Vector256.Load(columnSums + column + 8) * shift;
        int r = 0;
        for (; r + 4 <= rows; r += 4)
        {
            int* a0 = (int*)(a + (long)r * stride), a1 = (int*)(a + (long)(r + 1) * stride), a2 = (int*)(a + (long)(r + 2) * stride), a3 = (int*)(a + (long)(r + 3) * stride);
            Vector256<int> s0 = default, t0 = default, s1 = default, t1 = default, s2 = default, t2 = default, s3 = default, t3 = default;
            for (int q = 0; q < quadCount; q++)
            {
                Vector256<sbyte> w0 = Vector256.Load(low + q * 32);
                Vector256<byte> x0 = Vector256.Create(a0[q]).AsByte(), x1 = Vector256.Create(a1[q]).AsByte();
                Vector256<byte> x2 = Vector256.Create(a2[q]).AsByte(), x3 = Vector256.Create(a3[q]).AsByte();
                s0 = AvxVnni.MultiplyWideningAndAdd(s0, x0, w0);
                s1 = AvxVnni.MultiplyWideningAndAdd(s1, x1, w0);
                s2 = AvxVnni.MultiplyWideningAndAdd(s2, x2, w0);
                s3 = AvxVnni.MultiplyWideningAndAdd(s3, x3, w0);
                if (THigh.IsOn)
                {
                    Vector256<sbyte> w1 = Vector256.Load(high + q * 32);
                    t0 = AvxVnni.MultiplyWideningAndAdd(t0, x0, w1);
                    t1 = AvxVnni.MultiplyWideningAndAdd(t1, x1, w1);
                    t2 = AvxVnni.MultiplyWideningAndAdd(t2, x2, w1);
                    t3 = AvxVnni.MultiplyWideningAndAdd(t3, x3, w1);
                }
            }
            int* row = c + (long)r * width + column;
            (s0 - lowShift).Store(row);
            (s1 - lowShift).Store(row + width);
            (s2 - lowShift).Store(row + 2 * width);
            (s3 - lowShift).Store(row + 3 * width);
            if (THigh.IsOn)
            {
                (t0 - highShift).Store(row + 8);
                (t1 - highShift).Store(row + width + 8);
                (t2 - highShift).Store(row + 2 * width + 8);
                (t3 - highShift).Store(row + 3 * width + 8);
            }
        }
        for (; r < rows; r++)
        {
            int* ar = (int*)(a + (long)r * stride);
            Vector256<int> s = default, t = default;
            for (int q = 0; q < quadCount; q++)
            {
                var x = Vector256.Create(ar[q]).AsByte();
                s = AvxVnni.MultiplyWideningAndAdd(s, x, Vector256.Load(low + q * 32));
                if (THigh.IsOn)
                    t = AvxVnni.MultiplyWideningAndAdd(t, x, Vector256.Load(high + q * 32));
            }
            (s - lowShift).Store(c + (long)r * width + column);
            if (THigh.IsOn)
                (t - highShift).Store(c + (long)r * width + column + 8);
        }
    }

    static void RowsScalar(int* c, short* a, short* packed, int rows, int depth, int panels)
    {
        int width = panels * PanelWidth;
        for (int r = 0; r < rows; r++)
            for (int panel = 0; panel < panels; panel++)
                for (int lane = 0; lane < PanelWidth; lane++)
                {
                    int sum = 0;
                    for (int pair = 0; pair < depth / 2; pair++)
                    {
                        short* w = packed + (panel * (depth / 2) + pair) * PanelWidth * 2 + lane * 2;
                        sum += a[(long)r * depth + pair * 2] * w[0] + a[(long)r * depth + pair * 2 + 1] * w[1];
                    }
                    c[(long)r * width + panel * PanelWidth + lane] = sum;
                }
    }

    /// <summary>Four rows by one panel at a time: four accumulators, each pair of k one broadcast and one vpmaddwd per row.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Rows512(int* c, short* a, short* packed, int rows, int depth, int panels)
    {
        int width = panels * PanelWidth, pairs = depth / 2;
        for (int panel = 0; panel < panels; panel++)
        {
            short* panelStart = packed + (long)panel * pairs * PanelWidth * 2;
            int r = 0;
            for (; r + 4 <= rows; r += 4)
            {
                int* a0 = (int*)(a + (long)r * depth), a1 = (int*)(a + (long)(r + 1) * depth), a2 = (int*)(a + (long)(r + 2) * depth), a3 = (int*)(a + (long)(r + 3) * depth);
                Vector512<int> s0 = default, s1 = default, s2 = default, s3 = default;
                for (int pair = 0; pair < pairs; pair++)
                {
                    var w = Vector512.Load(panelStart + pair * PanelWidth * 2);
                    s0 += Avx512BW.MultiplyAddAdjacent(Vector512.Create(a0[pair]).AsInt16(), w);
                    s1 += Avx512BW.MultiplyAddAdjacent(Vector512.Create(a1[pair]).AsInt16(), w);
                    s2 += Avx512BW.MultiplyAddAdjacent(Vector512.Create(a2[pair]).AsInt16(), w);
                    s3 += Avx512BW.MultiplyAddAdjacent(Vector512.Create(a3[pair]).AsInt16(), w);
                }
                int* row = c + (long)r * width + panel * PanelWidth;
                s0.Store(row);
                s1.Store(row + width);
                s2.Store(row + 2 * width);
                s3.Store(row + 3 * width);
            }
            for (; r < rows; r++)
            {
                int* ar = (int*)(a + (long)r * depth);
                Vector512<int> sum = default;
                for (int pair = 0; pair < pairs; pair++)
                    sum += Avx512BW.MultiplyAddAdjacent(Vector512.Create(ar[pair]).AsInt16(), Vector512.Load(panelStart + pair * PanelWidth * 2));
                sum.Store(c + (long)r * width + panel * PanelWidth);
            }
        }
    }

    /// <summary>The 256-bit version: a panel is two vectors, so four rows keep eight accumulators.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Rows256(int* c, short* a, short* packed, int rows, int depth, int panels)
    {
        int width = panels * PanelWidth, pairs = depth / 2;
        for (int panel = 0; panel < panels; panel++)
        {
            short* panelStart = packed + (long)panel * pairs * PanelWidth * 2;
            int r = 0;
            for (; r + 4 <= rows; r += 4)
            {
                int* a0 = (int*)(a + (long)r * depth), a1 = (int*)(a + (long)(r + 1) * depth), a2 = (int*)(a + (long)(r + 2) * depth), a3 = (int*)(a + (long)(r + 3) * depth);
                Vector256<int> s0 = default, t0 = default, s1 = default, t1 = default, s2 = default, t2 = default, s3 = default, t3 = default;
                for (int pair = 0; pair < pairs; pair++)
                {
                    short* w = panelStart + pair * PanelWidth * 2;
                    Vector256<short> low = Vector256.Load(w), high = Vector256.Load(w + 16);
                    Vector256<short> x0 = Vector256.Create(a0[pair]).AsInt16(), x1 = Vector256.Create(a1[pair]).AsInt16();
                    Vector256<short> x2 = Vector256.Create(a2[pair]).AsInt16(), x3 = Vector256.Create(a3[pair]).AsInt16();
                    s0 += Avx2.MultiplyAddAdjacent(x0, low);
                    t0 += Avx2.MultiplyAddAdjacent(x0, high);
                    s1 += Avx2.MultiplyAddAdjacent(x1, low);
                    t1 += Avx2.MultiplyAddAdjacent(x1, high);
                    s2 += Avx2.MultiplyAddAdjacent(x2, low);
                    t2 += Avx2.MultiplyAddAdjacent(x2, high);
                    s3 += Avx2.MultiplyAddAdjacent(x3, low);
                    t3 += Avx2.MultiplyAddAdjacent(x3, high);
                }
                int* row = c + (long)r * width + panel * PanelWidth;
                s0.Store(row);
                t0.Store(row + 8);
                s1.Store(row + width);
                t1.Store(row + width + 8);
                s2.Store(row + 2 * width);
                t2.Store(row + 2 * width + 8);
                s3.Store(row + 3 * width);
                t3.Store(row + 3 * width + 8);
            }
            for (; r < rows; r++)
            {
                int* ar = (int*)(a + (long)r * depth);
                Vector256<int> low = default, high = default;
                for (int pair = 0; pair < pairs; pair++)
                {
                    short* w = panelStart + pair * PanelWidth * 2;
                    var x = Vector256.Create(ar[pair]).AsInt16();
                    low += Avx2.MultiplyAddAdjacent(x, Vector256.Load(w));
                    high += Avx2.MultiplyAddAdjacent(x, Vector256.Load(w + 16));
                }
                low.Store(c + (long)r * width + panel * PanelWidth);
                high.Store(c + (long)r * width + panel * PanelWidth + 8);
            }
        }
    }
}
