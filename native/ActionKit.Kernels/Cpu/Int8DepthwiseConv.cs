using System.Runtime.CompilerServices;

namespace ActionKit.Kernels.Cpu;

/// <summary>
/// Depthwise 3-D convolution of a quantized graph on 8-bit activation codes (channels-last, <see cref="Int8Tensor"/>)
/// and s8 weights with one scale per channel. Each output row's sums Σ_taps level · weight are exact integers: the
/// codes are widened to floats as they are loaded and multiplied by the weight levels held as floats, and every
/// partial sum stays an integer below 2^24 (at most 512 taps of 255 · 128), which a float holds exactly. The row then
/// goes out as <see cref="Requantize.Store"/> stores integer sums: scale, bias, activation, and floats, grid or codes.
/// The multiply-adds are the float kernel's; the memory read is a quarter of it.
/// </summary>
public static unsafe class Int8DepthwiseConv
{
    const int MaxChunks = 32;
    const int SlidePositions = 8;

    /// <summary>The most taps a kernel may have for its sums to stay exact in float (2^24 / (255 · 128)).</summary>
    public const int MaxTaps = 512;

    /// <summary>Weight levels [C, taps] (the graph's [C, 1, kD, kH, kW] order) as pinned floats in tap-major order [taps, C].</summary>
    public static float[] Pack(ReadOnlySpan<sbyte> levels, int channels, int taps)
    {
        if (channels < 1 || taps < 1 || taps > MaxTaps || levels.Length != channels * taps)
            throw new ArgumentException($"Int8DepthwiseConv: {levels.Length} weights are not {channels} channels of 1 to {MaxTaps} taps.");
        var packed = GC.AllocateArray<float>(channels * taps, pinned: true);
        for (int c = 0; c < channels; c++)
            for (int tap = 0; tap < taps; tap++)
                packed[tap * channels + c] = levels[c * taps + tap];
        return packed;
    }

    /// <summary>
    /// y [N, oD, oH, oW, C] = act(Σ_taps codes(x) · w · multiplier + bias) for x [N, D, H, W, C] as codes, w the
    /// weight levels from <see cref="Pack"/> (zero padding is level 0). With <paramref name="rowSums"/>, each output row's
    /// sum over its positions of the float outputs (before y's grid, when y has one) goes to rowSums [N · oD · oH, C] as
    /// the row is written, for <see cref="GlobalAveragePool.FromRowSums"/>: a global pool of the float output that does
    /// not read it again, while y itself may go out as the codes that a squeeze-excitation gate reads.
    /// </summary>
    public static void Convolve(in Int8Tensor y, in Int8Tensor x, float[] weights, float* multiplier, float* bias, in ConvGeometry g, Activation activation,
        float* rowSums = null)
    {
        g.Validate();
        if (!x.IsCodes || g.InChannels != g.OutChannels || g.KernelVolume > MaxTaps || weights.Length != g.KernelVolume * g.InChannels)
            throw new ArgumentException($"Int8DepthwiseConv: needs codes in, one channel per group and {g.KernelVolume} x {g.InChannels} weights: {g}");
        // Level 0 as codes: what source columns in the width padding read (shared read-only by every thread).
        byte* padding = stackalloc byte[g.InChannels];
        new Span<byte>(padding, g.InChannels).Fill((byte)x.Shift);
        fixed (float* w = weights)
        {
            var job = new RowsJob(y, x, w, multiplier, bias, g, activation, rowSums, padding);
            Simd.Run(ref job, g.InChannels);
        }
    }

    readonly struct RowsJob(Int8Tensor y, Int8Tensor x, float* weight, float* multiplier, float* bias, ConvGeometry g, Activation activation,
        float* rowSums, byte* padding) : ISimdKernel
    {
        public void Run<TSimd, TVector>() where TSimd : struct, ISimd<TVector> where TVector : struct
        {
            var job = this;
            int rows = g.Batch * g.OutDepth * g.OutHeight, rowsPerChunk = CpuParallel.ChunkCount(rows, MaxChunks);
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
            var (n, z, yy) = AxisTaps.RowAt(row, g.OutDepth, g.OutHeight);
            SumRow<TSimd, TVector>(sums, n, z, yy);
            long outputRow = ((long)n * g.OutDepth + z) * g.OutHeight + yy;
            Requantize.StoreRows(y.At(outputRow * RowLength), sums, multiplier, bias, g.OutWidth, g.InChannels, g.InChannels, activation,
                rowSums == null ? null : rowSums + outputRow * g.InChannels);
        }

        int RowLength => g.OutWidth * g.InChannels;

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
            for (int ox = 0; ox < g.OutWidth;)
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
                bool four = ox + 3 < g.OutWidth && AxisTaps.OfOutput(ox + 3, g.KernelWidth, g.StrideWidth, g.PadWidth, g.InWidth).SharesTapsWith(xTaps);
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
            int channels = g.InChannels, width = g.OutWidth;
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
