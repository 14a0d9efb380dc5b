using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace ActionKit.Kernels.Cpu;

/// <summary>
/// Depthwise 3-D convolution of a quantized graph on 8-bit activation codes (channels-last, <see cref="Int8Tensor"/>)
/// and s8 weights with one scale per channel. Each output row's sums Σ_taps level · weight are exact integers, made in
/// one of two ways, and the row then goes out as <see cref="Requantize.Store"/> stores integer sums: scale, bias,
/// activation, and floats, grid or codes.
/// <list type="bullet">
/// <item>With AVX-VNNI (<see cref="Int8Gemm.Path"/>) and X3D's 3-wide kernel rows, vpdpbusd adds four u8 · s8 products
/// into each s32 lane: the input's rows are rearranged into quads that hold, for every channel, the codes of four
/// neighbouring columns, and one quad meets a channel's three width taps as (w0, w1, w2, 0) for one output position and
/// (0, w0, w1, w2) for the next. A thread rearranges each input row once, into a small window of rows that stays in
/// cache while the (depth, height) taps of the output rows around it read it.</item>
/// <item>Otherwise the codes are widened to floats as they are loaded and multiplied by the weight levels held as floats:
/// every partial sum stays an integer below 2^24 (at most 512 taps of 255 · 128), which a float holds exactly. The
/// multiply-adds are the float kernel's; the memory read is a quarter of it.</item>
/// </list>
/// </summary>
public static unsafe class Int8DepthwiseConv
{
    const int MaxChunks = 32;
    const int SlidePositions = 8;

    /// <summary>The most taps a kernel may have for its sums to stay exact in float (2^24 / (255 · 128)).</summary>
    public const int MaxTaps = 512;

    /// <summary>Weight levels [C, taps] (the graph's [C, 1, kD, kH, kW] order) packed for both forms of the kernel.</summary>
    public static Int8DepthwiseWeights Pack(ReadOnlySpan<sbyte> levels, int channels, int taps)
    {
        if (channels < 1 || taps < 1 || taps > MaxTaps || levels.Length != channels * taps)
            throw new ArgumentException($"Int8DepthwiseConv: {levels.Length} weights are not {channels} channels of 1 to {MaxTaps} taps.");
        return new Int8DepthwiseWeights(levels, channels, taps);
    }

    /// <summary>
    /// y [N, oD, oH, oW, C] = act(Σ_taps codes(x) · w · multiplier + bias) for x [N, D, H, W, C] as codes, w the
    /// weight levels from <see cref="Pack"/> (zero padding is level 0). With <paramref name="rowSums"/>, each output row's
    /// sum over its positions of the float outputs (before y's grid, when y has one) goes to rowSums [N · oD · oH, C] as
    /// the row is written, for <see cref="GlobalAveragePool.FromRowSums"/>: a global pool of the float output that does
    /// not read it again, while y itself may go out as the codes that a squeeze-excitation gate reads.
    /// </summary>
    public static void Convolve(in Int8Tensor y, in Int8Tensor x, Int8DepthwiseWeights weights, float* multiplier, float* bias, in ConvGeometry g,
        Activation activation, float* rowSums = null)
    {
        g.Validate();
        if (!x.IsCodes || g.InChannels != g.OutChannels || g.KernelVolume > MaxTaps || weights.Taps != g.KernelVolume || weights.Channels != g.InChannels)
            throw new ArgumentException($"Int8DepthwiseConv: needs codes in, one channel per group and {g.KernelVolume} x {g.InChannels} weights: {g}");
        // Level 0 as codes: what source columns in the width padding read (shared read-only by every thread).
        byte* padding = stackalloc byte[g.InChannels];
        new Span<byte>(padding, g.InChannels).Fill((byte)x.Shift);
        if (TakesQuads(g, weights))
        {
            fixed (sbyte* quads = weights.Quads)
            fixed (int* quadSums = weights.QuadSums)
                new QuadRowsJob(y, x, quads, quadSums, multiplier, bias, g, activation, rowSums, padding).Run();
            return;
        }
        fixed (float* w = weights.Floats)
        {
            var job = new RowsJob(y, x, w, multiplier, bias, g, activation, rowSums, padding);
            Simd.Run(ref job, g.InChannels);
        }
    }

    // The vpdpbusd form: AVX-VNNI chosen, kernel rows 3 wide at stride 1 or 2 (a quad then starts every two input
    // columns), and at least one 16-channel vector for the rearranging.
    static bool TakesQuads(in ConvGeometry g, Int8DepthwiseWeights weights) =>
        Int8Gemm.Path == Int8Path.AvxVnni && weights.Quads is not null && g.KernelWidth == 3 && g.StrideWidth is 1 or 2 && g.InChannels >= 16;

    /// <summary>
    /// The vpdpbusd form, over chunks of (clip, band of output rows): each thread walks its band's rows with the depth
    /// fastest, rearranging the input rows they read into quads in a window of <c>(kH − 1) · D + kD</c> rows (the span
    /// that one output row's taps reach, in that order), so that every input row is rearranged once per band.
    /// </summary>
    readonly struct QuadRowsJob(Int8Tensor y, Int8Tensor x, sbyte* quads, int* quadSums, float* multiplier, float* bias, ConvGeometry g,
        Activation activation, float* rowSums, byte* padding)
    {
        // The output's extent (ConvGeometry computes it with a division each time it is asked) and the quads per input
        // row: one per output position pair at stride 1, one per output position at stride 2.
        readonly int outDepth = g.OutDepth, outHeight = g.OutHeight, outWidth = g.OutWidth;
        readonly int quadCount = g.StrideWidth == 1 ? (g.OutWidth + 1) / 2 : g.OutWidth;

        long QuadRowBytes => (long)quadCount * 4 * g.InChannels;

        int WindowRows => (g.KernelHeight - 1) * g.InDepth + g.KernelDepth;

        public void Run()
        {
            var job = this;
            // Bands of output rows: whole clips when there are enough of them for every thread twice, else clips cut
            // into as many bands as that takes (each band rereads the input rows at its edges).
            int height = outHeight;
            int bands = Math.Clamp((2 * CpuParallel.MaxThreads + g.Batch - 1) / g.Batch, 1, height);
            int bandRows = (height + bands - 1) / bands;
            bands = (height + bandRows - 1) / bandRows;
            CpuParallel.For(g.Batch * bands, chunk =>
            {
                int n = chunk / bands, first = chunk % bands * bandRows;
                job.Band(n, first, Math.Min(height, first + bandRows));
            });
        }

        void Band(int n, int firstRow, int endRow)
        {
            int windowRows = WindowRows, channels = g.InChannels;
            long quadRowBytes = QuadRowBytes;
            // The window: which input row each slot holds (-1: none yet), then the slots' quads.
            float* scratch = Scratch.Get(ScratchSlot.Window, windowRows + (windowRows * quadRowBytes + 3) / 4);
            int* held = (int*)scratch;
            byte* window = (byte*)(scratch + windowRows);
            new Span<int>(held, windowRows).Fill(-1);
            int positions = Math.Max(outWidth, 2 * quadCount);
            int* sums = (int*)Scratch.Get(ScratchSlot.Chunk, (long)positions * channels);
            int pairs = g.KernelDepth * g.KernelHeight;
            byte** pairRow = stackalloc byte*[pairs];
            sbyte** pairWeights = stackalloc sbyte*[pairs];
            int** pairWeightSums = stackalloc int*[pairs];
            for (int yy = firstRow; yy < endRow; yy++)
            {
                AxisTaps yTaps = AxisTaps.OfOutput(yy, g.KernelHeight, g.StrideHeight, g.PadHeight, g.InHeight);
                for (int z = 0; z < outDepth; z++)
                {
                    AxisTaps zTaps = AxisTaps.OfOutput(z, g.KernelDepth, g.StrideDepth, g.PadDepth, g.InDepth);
                    int pairCount = 0;
                    for (int j = 0; j < yTaps.Count; j++)
                        for (int i = 0; i < zTaps.Count; i++)
                        {
                            int iy = yTaps.Source + j, iz = zTaps.Source + i;
                            // Numbered with the depth fastest, as the rows are walked: one output row's taps span fewer
                            // than windowRows numbers, so the slots they take are distinct.
                            int key = (n * g.InHeight + iy) * g.InDepth + iz, slot = key % windowRows;
                            byte* quadRow = window + slot * quadRowBytes;
                            if (held[slot] != key)
                            {
                                Rearrange(quadRow, x.Codes + (((long)n * g.InDepth + iz) * g.InHeight + iy) * g.InWidth * channels);
                                held[slot] = key;
                            }
                            int pair = (zTaps.First + i) * g.KernelHeight + yTaps.First + j;
                            pairRow[pairCount] = quadRow;
                            pairWeights[pairCount] = quads + pair * 8L * channels;
                            pairWeightSums[pairCount++] = quadSums + pair * channels;
                        }
                    SumQuadRow(sums, new QuadTaps(pairRow, pairWeights, pairWeightSums, pairCount));
                    long outputRow = ((long)n * outDepth + z) * outHeight + yy;
                    Requantize.StoreRows(y.At(outputRow * outWidth * channels), sums, multiplier, bias, outWidth, channels, channels, activation,
                        rowSums == null ? null : rowSums + outputRow * channels);
                }
            }
        }

        // Quad q of an input row holds, for each channel c, the codes of padded columns 2q .. 2q + 3 in bytes
        // 4c .. 4c + 3 (columns in the padding or past the row read level 0): two byte and two word interleaves of
        // four 16-channel loads. The last vector of a row ends at C, overlapping the one before it.
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        void Rearrange(byte* target, byte* source)
        {
            nint channels = g.InChannels;
            for (int q = 0; q < quadCount; q++, target += 4 * channels)
            {
                byte* c0 = Column(source, 2 * q), c1 = Column(source, 2 * q + 1), c2 = Column(source, 2 * q + 2), c3 = Column(source, 2 * q + 3);
                for (nint c0Start = 0; c0Start < channels; c0Start += 16)
                {
                    nint c = Math.Min(c0Start, channels - 16);
                    Vector128<byte> a = Vector128.Load(c0 + c), b = Vector128.Load(c1 + c), d = Vector128.Load(c2 + c), e = Vector128.Load(c3 + c);
                    Vector128<ushort> abLow = Sse2.UnpackLow(a, b).AsUInt16(), abHigh = Sse2.UnpackHigh(a, b).AsUInt16();
                    Vector128<ushort> deLow = Sse2.UnpackLow(d, e).AsUInt16(), deHigh = Sse2.UnpackHigh(d, e).AsUInt16();
                    byte* t = target + 4 * c;
                    Sse2.UnpackLow(abLow, deLow).AsByte().Store(t);
                    Sse2.UnpackHigh(abLow, deLow).AsByte().Store(t + 16);
                    Sse2.UnpackLow(abHigh, deHigh).AsByte().Store(t + 32);
                    Sse2.UnpackHigh(abHigh, deHigh).AsByte().Store(t + 48);
                }
            }
        }

        byte* Column(byte* source, int padded)
        {
            int ix = padded - g.PadWidth;
            return (uint)ix < (uint)g.InWidth ? source + (nint)ix * g.InChannels : padding;
        }

        // sums [positions, C] of one output row from its pairs' quad rows, in blocks of up to 8 positions (4 quads at
        // stride 1, 8 at stride 2), the last block ending at the row's end and overlapping the one before it. At stride
        // 1 the last quad's second position may lie one past the row: sums has room for it, and it is not stored.
        void SumQuadRow(int* sums, QuadTaps taps)
        {
            bool twoPerQuad = g.StrideWidth == 1;
            int units = quadCount, largest = twoPerQuad ? 4 : 8;
            for (int u = 0; u < units;)
            {
                int block = largest;
                while (block > 1 && (block > units || block / 2 >= units - u))
                    block /= 2;
                int start = Math.Min(u, units - block);
                switch ((twoPerQuad, block))
                {
                    case (true, 4): SumQuads<Eight, On>(sums, taps, start); break;
                    case (true, 2): SumQuads<Four, On>(sums, taps, start); break;
                    case (true, _): SumQuads<Two, On>(sums, taps, start); break;
                    case (false, 8): SumQuads<Eight, Off>(sums, taps, start); break;
                    case (false, 4): SumQuads<Four, Off>(sums, taps, start); break;
                    case (false, 2): SumQuads<Two, Off>(sums, taps, start); break;
                    default: SumQuads<One, Off>(sums, taps, start); break;
                }
                u = start + block;
            }
        }

        // The P positions from quad `first` on (two per quad at stride 1, one at stride 2), 8 channels a vector: each
        // quad is loaded once and meets (w0, w1, w2, 0) for its first position and (0, w0, w1, w2) for its second.
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        void SumQuads<TBlock, TTwoPerQuad>(int* sums, QuadTaps taps, int first)
            where TBlock : struct, IBlock where TTwoPerQuad : struct, IFlag
        {
            nint channels = g.InChannels, quadBytes = 4 * channels, start = first * quadBytes;
            int p = TBlock.Positions, shift = x.Shift;
            bool two = TTwoPerQuad.IsOn;
            for (nint c0 = 0; c0 < channels; c0 += 8)
            {
                nint c = Math.Min(c0, channels - 8), at = start + 4 * c;
                Vector256<int> a0 = default, a1 = default, a2 = default, a3 = default, a4 = default, a5 = default, a6 = default, a7 = default;
                Vector256<int> weightSum = default;
                for (int pair = 0; pair < taps.Count; pair++)
                {
                    byte* q = taps.Rows[pair] + at;
                    sbyte* w = taps.Weights[pair] + 4 * c;
                    if (shift != 0)
                        weightSum += Vector256.Load(taps.WeightSums[pair] + c);
                    Vector256<sbyte> lead = Vector256.Load(w);
                    if (two)
                    {
                        Vector256<sbyte> trail = Vector256.Load(w + quadBytes);
                        Vector256<byte> q0 = Vector256.Load(q);
                        a0 = AvxVnni.MultiplyWideningAndAdd(a0, q0, lead);
                        a1 = AvxVnni.MultiplyWideningAndAdd(a1, q0, trail);
                        if (p < 4)
                            continue;
                        Vector256<byte> q1 = Vector256.Load(q + quadBytes);
                        a2 = AvxVnni.MultiplyWideningAndAdd(a2, q1, lead);
                        a3 = AvxVnni.MultiplyWideningAndAdd(a3, q1, trail);
                        if (p < 8)
                            continue;
                        Vector256<byte> q2 = Vector256.Load(q + 2 * quadBytes), q3 = Vector256.Load(q + 3 * quadBytes);
                        a4 = AvxVnni.MultiplyWideningAndAdd(a4, q2, lead);
                        a5 = AvxVnni.MultiplyWideningAndAdd(a5, q2, trail);
                        a6 = AvxVnni.MultiplyWideningAndAdd(a6, q3, lead);
                        a7 = AvxVnni.MultiplyWideningAndAdd(a7, q3, trail);
                        continue;
                    }
                    a0 = AvxVnni.MultiplyWideningAndAdd(a0, Vector256.Load(q), lead);
                    if (p < 2)
                        continue;
                    a1 = AvxVnni.MultiplyWideningAndAdd(a1, Vector256.Load(q + quadBytes), lead);
                    if (p < 4)
                        continue;
                    a2 = AvxVnni.MultiplyWideningAndAdd(a2, Vector256.Load(q + 2 * quadBytes), lead);
                    a3 = AvxVnni.MultiplyWideningAndAdd(a3, Vector256.Load(q + 3 * quadBytes), lead);
                    if (p < 8)
                        continue;
                    a4 = AvxVnni.MultiplyWideningAndAdd(a4, Vector256.Load(q + 4 * quadBytes), lead);
                    a5 = AvxVnni.MultiplyWideningAndAdd(a5, Vector256.Load(q + 5 * quadBytes), lead);
                    a6 = AvxVnni.MultiplyWideningAndAdd(a6, Vector256.Load(q + 6 * quadBytes), lead);
                    a7 = AvxVnni.MultiplyWideningAndAdd(a7, Vector256.Load(q + 7 * quadBytes), lead);
                }
                // Codes stored shifted (s8 levels + 128): Σ (u - shift) · w = Σ u · w - shift · Σ w.
                var correction = weightSum * shift;
                int* t = sums + (two ? 2 * first : first) * channels + c;
                (a0 - correction).Store(t);
                if (p < 2)
                    continue;
                (a1 - correction).Store(t + channels);
                if (p < 4)
                    continue;
                (a2 - correction).Store(t + 2 * channels);
                (a3 - correction).Store(t + 3 * channels);
                if (p < 8)
                    continue;
                (a4 - correction).Store(t + 4 * channels);
                (a5 - correction).Store(t + 5 * channels);
                (a6 - correction).Store(t + 6 * channels);
                (a7 - correction).Store(t + 7 * channels);
            }
        }
    }

    readonly struct RowsJob(Int8Tensor y, Int8Tensor x, float* weight, float* multiplier, float* bias, ConvGeometry g, Activation activation,
        float* rowSums, byte* padding) : ISimdKernel
    {
        // The output's extent, computed once (ConvGeometry divides each time it is asked).
        readonly int outDepth = g.OutDepth, outHeight = g.OutHeight, outWidth = g.OutWidth;

        public void Run<TSimd, TVector>() where TSimd : struct, ISimd<TVector> where TVector : struct
        {
            var job = this;
            int rows = g.Batch * outDepth * outHeight, rowsPerChunk = CpuParallel.ChunkCount(rows, MaxChunks);
            CpuParallel.For(CpuParallel.ChunkCount(rows, rowsPerChunk), chunk =>
            {
                float* sums = Scratch.Get(ScratchSlot.Chunk, job.RowLength);
                for (int row = chunk * rowsPerChunk; row < Math.Min(rows, (chunk + 1) * rowsPerChunk); row++)
                    job.Row<TSimd, TVector>(sums, row);
            });
        }

        // One output row (n, z, y): its sums in this thread's scratch, then stored through the requantizing end (which
        // takes the row sums of the floats it makes, when asked).
        void Row<TSimd, TVector>(float* sums, int row) where TSimd : struct, ISimd<TVector> where TVector : struct
        {
            var (n, z, yy) = AxisTaps.RowAt(row, outDepth, outHeight);
            SumRow<TSimd, TVector>(sums, n, z, yy);
            long outputRow = ((long)n * outDepth + z) * outHeight + yy;
            Requantize.StoreRows(y.At(outputRow * RowLength), sums, multiplier, bias, outWidth, g.InChannels, g.InChannels, activation,
                rowSums == null ? null : rowSums + outputRow * g.InChannels);
        }

        int RowLength => outWidth * g.InChannels;

        // sums [oW, C] of output row (n, z, y): each (depth, height) tap pair's source row, then the width taps. Width 3
        // at stride 1 (X3D's) slides over the row in blocks of 8, 4, 2 or 1 positions; other widths take four positions
        // with the same width taps at a time, sharing each weight load.
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        void SumRow<TSimd, TVector>(float* sums, int n, int z, int yy) where TSimd : struct, ISimd<TVector> where TVector : struct
        {
            int channels = g.InChannels, pairCount = 0;
            byte** pairSource = stackalloc byte*[g.KernelDepth * g.KernelHeight];
            int* pairTap = stackalloc int[g.KernelDepth * g.KernelHeight];
            AxisTaps zTaps = AxisTaps.OfOutput(z, g.KernelDepth, g.StrideDepth, g.PadDepth, g.InDepth);
            AxisTaps yTaps = AxisTaps.OfOutput(yy, g.KernelHeight, g.StrideHeight, g.PadHeight, g.InHeight);
            for (int i = 0; i < zTaps.Count; i++)
                for (int j = 0; j < yTaps.Count; j++)
                {
                    long sourceRow = ((long)n * g.InDepth + zTaps.Source + i) * g.InHeight + yTaps.Source + j;
                    pairSource[pairCount] = x.Codes + sourceRow * g.InWidth * channels;
                    pairTap[pairCount++] = ((zTaps.First + i) * g.KernelHeight + yTaps.First + j) * g.KernelWidth;
                }
            if (g.KernelWidth == 3 && g.StrideWidth == 1)
            {
                SlideRow<TSimd, TVector>(sums, pairSource, pairTap, pairCount);
                return;
            }
            byte** tapSource = stackalloc byte*[g.KernelVolume];
            float** tapWeight = stackalloc float*[g.KernelVolume];
            for (int ox = 0; ox < outWidth;)
            {
                AxisTaps xTaps = AxisTaps.OfOutput(ox, g.KernelWidth, g.StrideWidth, g.PadWidth, g.InWidth);
                int taps = 0;
                for (int pair = 0; pair < pairCount; pair++)
                    for (int t = 0; t < xTaps.Count; t++, taps++)
                    {
                        tapSource[taps] = pairSource[pair] + (nint)(xTaps.Source + t) * channels;
                        tapWeight[taps] = weight + (nint)(pairTap[pair] + xTaps.First + t) * channels;
                    }
                // Four positions with the same width taps share each weight load; one alone spreads its taps over four sums.
                bool four = ox + 3 < outWidth && AxisTaps.OfOutput(ox + 3, g.KernelWidth, g.StrideWidth, g.PadWidth, g.InWidth).SharesTapsWith(xTaps);
                float* target = sums + (nint)ox * channels;
                if (four)
                    SumFour<TSimd, TVector>(target, tapSource, tapWeight, taps, (nint)g.StrideWidth * channels);
                else
                    SumOne<TSimd, TVector>(target, tapSource, tapWeight, taps);
                ox += four ? 4 : 1;
            }
        }

        // The row in blocks of 8 positions, the rest in one block of 4, 2 or 1 (ending at the row's end, overlapping the
        // block before it by a position or two, which it recomputes to the same sums). A block's source columns that
        // fall in the padding point at a row of level-0 codes, so the row's ends need no taps of their own.
        void SlideRow<TSimd, TVector>(float* sums, byte** pairSource, int* pairTap, int pairCount) where TSimd : struct, ISimd<TVector> where TVector : struct
        {
            int channels = g.InChannels, width = outWidth;
            byte** columns = stackalloc byte*[pairCount * (SlidePositions + 2)];
            for (int ox = 0; ox < width;)
            {
                int left = width - ox;
                int positions = left >= 8 ? 8 : left > 4 ? (width >= 8 ? 8 : 4) : left > 2 ? (width >= 4 ? 4 : 2) : left;
                int start = Math.Min(ox, width - positions);
                for (int pair = 0; pair < pairCount; pair++)
                    for (int j = 0; j < positions + 2; j++)
                    {
                        int ix = start - g.PadWidth + j;
                        columns[pair * (positions + 2) + j] = ix >= 0 && ix < g.InWidth ? pairSource[pair] + (nint)ix * channels : padding;
                    }
                float* target = sums + (nint)start * channels;
                switch (positions)
                {
                    case 8: Slide<TSimd, TVector, Eight>(target, columns, pairTap, pairCount); break;
                    case 4: Slide<TSimd, TVector, Four>(target, columns, pairTap, pairCount); break;
                    case 2: Slide<TSimd, TVector, Two>(target, columns, pairTap, pairCount); break;
                    default: Slide<TSimd, TVector, One>(target, columns, pairTap, pairCount); break;
                }
                ox = start + positions;
            }
        }

        // target[b · C + c] = Σ_tap level(source_tap[b · advance + c]) · w_tap[c] for the four positions b.
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        void SumFour<TSimd, TVector>(float* target, byte** tapSource, float** tapWeight, int taps, nint advance)
            where TSimd : struct, ISimd<TVector> where TVector : struct
        {
            nint channels = g.InChannels;
            bool shifted = Shifted;
            for (int c0 = 0; c0 < channels; c0 += TSimd.Width)
            {
                nint c = Math.Min(c0, channels - TSimd.Width);
                TVector a0 = TSimd.Zero, a1 = TSimd.Zero, a2 = TSimd.Zero, a3 = TSimd.Zero, weightSum = TSimd.Zero;
                for (int tap = 0; tap < taps; tap++)
                {
                    byte* s = tapSource[tap] + c;
                    var w = TSimd.Load(tapWeight[tap] + c);
                    if (shifted)
                        weightSum = TSimd.Add(weightSum, w);
                    a0 = TSimd.MultiplyAdd(TSimd.LoadBytes(s), w, a0);
                    a1 = TSimd.MultiplyAdd(TSimd.LoadBytes(s + advance), w, a1);
                    a2 = TSimd.MultiplyAdd(TSimd.LoadBytes(s + 2 * advance), w, a2);
                    a3 = TSimd.MultiplyAdd(TSimd.LoadBytes(s + 3 * advance), w, a3);
                }
                var correction = Correction<TSimd, TVector>(weightSum);
                TSimd.Store(target + c, TSimd.Subtract(a0, correction));
                TSimd.Store(target + channels + c, TSimd.Subtract(a1, correction));
                TSimd.Store(target + 2 * channels + c, TSimd.Subtract(a2, correction));
                TSimd.Store(target + 3 * channels + c, TSimd.Subtract(a3, correction));
            }
        }

        // target[c] = Σ_tap level(source_tap[c]) · w_tap[c], the taps dealt over four sums so that the multiply-adds do
        // not wait on each other (any order gives the same exact integers).
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        void SumOne<TSimd, TVector>(float* target, byte** tapSource, float** tapWeight, int taps)
            where TSimd : struct, ISimd<TVector> where TVector : struct
        {
            nint channels = g.InChannels;
            bool shifted = Shifted;
            for (int c0 = 0; c0 < channels; c0 += TSimd.Width)
            {
                nint c = Math.Min(c0, channels - TSimd.Width);
                TVector a0 = TSimd.Zero, a1 = TSimd.Zero, a2 = TSimd.Zero, a3 = TSimd.Zero, weightSum = TSimd.Zero;
                int tap = 0;
                for (; tap + 4 <= taps; tap += 4)
                {
                    TVector w0 = TSimd.Load(tapWeight[tap] + c), w1 = TSimd.Load(tapWeight[tap + 1] + c);
                    TVector w2 = TSimd.Load(tapWeight[tap + 2] + c), w3 = TSimd.Load(tapWeight[tap + 3] + c);
                    if (shifted)
                        weightSum = TSimd.Add(weightSum, TSimd.Add(TSimd.Add(w0, w1), TSimd.Add(w2, w3)));
                    a0 = TSimd.MultiplyAdd(TSimd.LoadBytes(tapSource[tap] + c), w0, a0);
                    a1 = TSimd.MultiplyAdd(TSimd.LoadBytes(tapSource[tap + 1] + c), w1, a1);
                    a2 = TSimd.MultiplyAdd(TSimd.LoadBytes(tapSource[tap + 2] + c), w2, a2);
                    a3 = TSimd.MultiplyAdd(TSimd.LoadBytes(tapSource[tap + 3] + c), w3, a3);
                }
                for (; tap < taps; tap++)
                {
                    var w = TSimd.Load(tapWeight[tap] + c);
                    if (shifted)
                        weightSum = TSimd.Add(weightSum, w);
                    a0 = TSimd.MultiplyAdd(TSimd.LoadBytes(tapSource[tap] + c), w, a0);
                }
                var sum = TSimd.Add(TSimd.Add(a0, a1), TSimd.Add(a2, a3));
                TSimd.Store(target + c, TSimd.Subtract(sum, Correction<TSimd, TVector>(weightSum)));
            }
        }

        // Codes stored shifted (s8 levels + 128): Σ (u - shift) · w = Σ u · w - shift · Σ w, all exact integers.
        bool Shifted => x.Shift != 0;

        TVector Correction<TSimd, TVector>(TVector weightSum) where TSimd : struct, ISimd<TVector> where TVector : struct =>
            Shifted ? TSimd.Multiply(TSimd.Broadcast(x.Shift), weightSum) : TSimd.Zero;

        // target[j] for j < P = Σ_pairs Σ_r level(column_{j + r}) · w[r], the P + 2 columns of each pair given: each
        // source vector is loaded and widened once and meets every tap that reads it.
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        void Slide<TSimd, TVector, TBlock>(float* target, byte** columns, int* pairTap, int pairCount)
            where TSimd : struct, ISimd<TVector> where TVector : struct where TBlock : struct, IBlock
        {
            nint channels = g.InChannels;
            int p = TBlock.Positions, span = p + 2;
            bool shifted = Shifted;
            for (int c0 = 0; c0 < channels; c0 += TSimd.Width)
            {
                nint c = Math.Min(c0, channels - TSimd.Width);
                TVector a0 = TSimd.Zero, a1 = TSimd.Zero, a2 = TSimd.Zero, a3 = TSimd.Zero, a4 = TSimd.Zero, a5 = TSimd.Zero, a6 = TSimd.Zero, a7 = TSimd.Zero;
                TVector weightSum = TSimd.Zero;
                for (int pair = 0; pair < pairCount; pair++)
                {
                    byte** column = columns + pair * span;
                    float* w = weight + pairTap[pair] * channels + c;
                    TVector w0 = TSimd.Load(w), w1 = TSimd.Load(w + channels), w2 = TSimd.Load(w + 2 * channels);
                    if (shifted)
                        weightSum = TSimd.Add(weightSum, TSimd.Add(w0, TSimd.Add(w1, w2)));
                    TVector s0 = TSimd.LoadBytes(column[0] + c), s1 = TSimd.LoadBytes(column[1] + c), s2 = TSimd.LoadBytes(column[2] + c);
                    a0 = Taps3<TSimd, TVector>(a0, s0, s1, s2, w0, w1, w2);
                    if (p < 2)
                        continue;
                    TVector s3 = TSimd.LoadBytes(column[3] + c);
                    a1 = Taps3<TSimd, TVector>(a1, s1, s2, s3, w0, w1, w2);
                    if (p < 4)
                        continue;
                    TVector s4 = TSimd.LoadBytes(column[4] + c), s5 = TSimd.LoadBytes(column[5] + c);
                    a2 = Taps3<TSimd, TVector>(a2, s2, s3, s4, w0, w1, w2);
                    a3 = Taps3<TSimd, TVector>(a3, s3, s4, s5, w0, w1, w2);
                    if (p < 8)
                        continue;
                    TVector s6 = TSimd.LoadBytes(column[6] + c), s7 = TSimd.LoadBytes(column[7] + c);
                    TVector s8 = TSimd.LoadBytes(column[8] + c), s9 = TSimd.LoadBytes(column[9] + c);
                    a4 = Taps3<TSimd, TVector>(a4, s4, s5, s6, w0, w1, w2);
                    a5 = Taps3<TSimd, TVector>(a5, s5, s6, s7, w0, w1, w2);
                    a6 = Taps3<TSimd, TVector>(a6, s6, s7, s8, w0, w1, w2);
                    a7 = Taps3<TSimd, TVector>(a7, s7, s8, s9, w0, w1, w2);
                }
                var correction = Correction<TSimd, TVector>(weightSum);
                float* t = target + c;
                TSimd.Store(t, TSimd.Subtract(a0, correction));
                if (p < 2)
                    continue;
                TSimd.Store(t + channels, TSimd.Subtract(a1, correction));
                if (p < 4)
                    continue;
                TSimd.Store(t + 2 * channels, TSimd.Subtract(a2, correction));
                TSimd.Store(t + 3 * channels, TSimd.Subtract(a3, correction));
                if (p < 8)
                    continue;
                TSimd.Store(t + 4 * channels, TSimd.Subtract(a4, correction));
                TSimd.Store(t + 5 * channels, TSimd.Subtract(a5, correction));
                TSimd.Store(t + 6 * channels, TSimd.Subtract(a6, correction));
                TSimd.Store(t + 7 * channels, TSimd.Subtract(a7, correction));
            }
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        static TVector Taps3<TSimd, TVector>(TVector sum, TVector s0, TVector s1, TVector s2, TVector w0, TVector w1, TVector w2)
            where TSimd : struct, ISimd<TVector> where TVector : struct =>
            TSimd.MultiplyAdd(s2, w2, TSimd.MultiplyAdd(s1, w1, TSimd.MultiplyAdd(s0, w0, sum)));
    }

    /// <summary>The (depth, height) tap pairs of one output row in the vpdpbusd form: their rows of quads, weight quads and weight sums.</summary>
    readonly struct QuadTaps(byte** rows, sbyte** weights, int** weightSums, int count)
    {
        public byte** Rows { get; } = rows;
        public sbyte** Weights { get; } = weights;
        public int** WeightSums { get; } = weightSums;
        public int Count { get; } = count;
    }

    /// <summary>How many positions one slide computes (a constant per instantiation, so unused accumulators compile away).</summary>
    interface IBlock
    {
        static abstract int Positions { get; }
    }

    readonly struct Eight : IBlock
    {
        public static int Positions => 8;
    }

    readonly struct Four : IBlock
    {
        public static int Positions => 4;
    }

    readonly struct Two : IBlock
    {
        public static int Positions => 2;
    }

    readonly struct One : IBlock
    {
        public static int Positions => 1;
    }
}

/// <summary>
/// Depthwise weight levels packed once for both forms of <see cref="Int8DepthwiseConv"/>: as floats in tap-major order,
/// and, when the taps come in rows of three, as the byte quads of the vpdpbusd form.
/// </summary>
public sealed class Int8DepthwiseWeights
{
    internal Int8DepthwiseWeights(ReadOnlySpan<sbyte> levels, int channels, int taps)
    {
        Channels = channels;
        Taps = taps;
        Floats = GC.AllocateArray<float>(channels * taps, pinned: true);
        for (int c = 0; c < channels; c++)
            for (int tap = 0; tap < taps; tap++)
                Floats[tap * channels + c] = levels[c * taps + tap];
        if (taps % 3 != 0)
            return;
        int pairs = taps / 3;
        Quads = new sbyte[pairs * 2 * channels * 4];
        QuadSums = new int[pairs * channels];
        for (int pair = 0; pair < pairs; pair++)
            for (int c = 0; c < channels; c++)
            {
                int lead = (pair * 2 * channels + c) * 4, trail = lead + channels * 4;
                for (int kx = 0; kx < 3; kx++)
                {
                    sbyte w = levels[c * taps + pair * 3 + kx];
                    Quads[lead + kx] = w;
                    Quads[trail + kx + 1] = w;
                    QuadSums[pair * channels + c] += w;
                }
            }
    }

    /// <summary>Channels (one filter each).</summary>
    public int Channels { get; }

    /// <summary>Taps per channel (kD · kH · kW).</summary>
    public int Taps { get; }

    /// <summary>[taps, C]: the levels as floats, for the form that widens codes to floats.</summary>
    internal float[] Floats { get; }

    /// <summary>
    /// [taps / 3, 2, C, 4]: per (depth, height) tap pair and channel, its three width taps as (w0, w1, w2, 0), for the
    /// position whose first column a quad starts with, then as (0, w0, w1, w2), for the next; null unless taps is a
    /// multiple of 3 (used only when the kernel's rows are 3 wide).
    /// </summary>
    internal sbyte[]? Quads { get; }

    /// <summary>[taps / 3, C]: each pair's w0 + w1 + w2, for the correction of shifted s8 codes.</summary>
    internal int[]? QuadSums { get; }
}
