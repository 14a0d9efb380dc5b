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
    /// weight levels from <see cref="Pack"/> (zero padding is level 0).
    /// </summary>
    public static void Convolve(in Int8Tensor y, in Int8Tensor x, float[] weights, float* multiplier, float* bias, in ConvGeometry g, Activation activation)
    {
        g.Validate();
        if (!x.IsCodes || g.InChannels != g.OutChannels || g.KernelVolume > MaxTaps || weights.Length != g.KernelVolume * g.InChannels)
            throw new ArgumentException($"Int8DepthwiseConv: needs codes in, one channel per group and {g.KernelVolume} x {g.InChannels} weights: {g}");
        fixed (float* w = weights)
        {
            var job = new RowsJob(y, x, w, multiplier, bias, g, activation);
            Simd.Run(ref job, g.InChannels);
        }
    }

    readonly struct RowsJob(Int8Tensor y, Int8Tensor x, float* weight, float* multiplier, float* bias, ConvGeometry g, Activation activation) : ISimdKernel
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

        // One output row (n, z, y): its sums in this thread's scratch, then stored through the requantizing end.
        void Row<TSimd, TVector>(float* sums, int row) where TSimd : struct, ISimd<TVector> where TVector : struct
        {
            var (n, z, yy) = AxisTaps.RowAt(row, g.OutDepth, g.OutHeight);
            SumRow<TSimd, TVector>(sums, n, z, yy);
            long first = (((long)n * g.OutDepth + z) * g.OutHeight + yy) * RowLength;
            Requantize.StoreRows(y.At(first), sums, multiplier, bias, g.OutWidth, g.InChannels, g.InChannels, activation);
        }

        int RowLength => g.OutWidth * g.InChannels;

        // sums [oW, C] of output row (n, z, y): each (depth, height) tap pair's source row, then the width taps; four
        // positions with the same width taps share each weight load.
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
            var shift = TSimd.Broadcast(x.Shift);
            // Width 3, stride 1: the positions whose three taps lie inside the row go eight at a time through Slide.
            int slideStart = g.OutWidth, slideEnd = g.OutWidth;
            if (g.KernelWidth == 3 && g.StrideWidth == 1 && Math.Min(g.OutWidth, g.InWidth + g.PadWidth - 2) - g.PadWidth >= SlidePositions)
                (slideStart, slideEnd) = (g.PadWidth, Math.Min(g.OutWidth, g.InWidth + g.PadWidth - 2));
            for (int ox = slideStart; ox < slideEnd; ox += SlidePositions)
                Slide<TSimd, TVector>(sums, pairSource, pairTap, pairCount, Math.Min(ox, slideEnd - SlidePositions), shift);
            for (int ox = 0; ox < g.OutWidth;)
            {
                if (ox == slideStart)
                {
                    ox = slideEnd;
                    continue;
                }
                AxisTaps xTaps = AxisTaps.OfOutput(ox, g.KernelWidth, g.StrideWidth, g.PadWidth, g.InWidth);
                bool four = ox + 3 < (ox < slideStart ? slideStart : g.OutWidth) && AxisTaps.OfOutput(ox + 3, g.KernelWidth, g.StrideWidth, g.PadWidth, g.InWidth).SharesTapsWith(xTaps);
                nint advance = four ? (nint)g.StrideWidth * channels : 0;
                for (int c0 = 0; c0 < channels; c0 += TSimd.Width)
                {
                    nint c = Math.Min(c0, channels - TSimd.Width);
                    TVector a0 = TSimd.Zero, a1 = TSimd.Zero, a2 = TSimd.Zero, a3 = TSimd.Zero, weightSum = TSimd.Zero;
                    for (int pair = 0; pair < pairCount; pair++)
                    {
                        byte* s = pairSource[pair] + (nint)xTaps.Source * channels + c;
                        float* w = weight + (nint)(pairTap[pair] + xTaps.First) * channels + c;
                        for (int t = 0; t < xTaps.Count; t++, s += channels, w += channels)
                        {
                            var wt = TSimd.Load(w);
                            weightSum = TSimd.Add(weightSum, wt);
                            a0 = TSimd.MultiplyAdd(TSimd.LoadBytes(s), wt, a0);
                            if (four)
                            {
                                a1 = TSimd.MultiplyAdd(TSimd.LoadBytes(s + advance), wt, a1);
                                a2 = TSimd.MultiplyAdd(TSimd.LoadBytes(s + 2 * advance), wt, a2);
                                a3 = TSimd.MultiplyAdd(TSimd.LoadBytes(s + 3 * advance), wt, a3);
                            }
                        }
                    }
                    // Σ (u - shift) · w = Σ u · w - shift · Σ w, all exact integers.
                    var correction = TSimd.Multiply(shift, weightSum);
                    float* target = sums + (nint)ox * channels + c;
                    TSimd.Store(target, TSimd.Subtract(a0, correction));
                    if (four)
                    {
                        TSimd.Store(target + channels, TSimd.Subtract(a1, correction));
                        TSimd.Store(target + 2 * channels, TSimd.Subtract(a2, correction));
                        TSimd.Store(target + 3 * channels, TSimd.Subtract(a3, correction));
                    }
                }
                ox += four ? 4 : 1;
            }
        }
        // sums[ox + j] for j < 8 = Σ_pairs Σ_r level[ox - pad + j + r] · w[r]: each of the ten source vectors a pair
        // needs is loaded and widened once and meets every tap that reads it.
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        void Slide<TSimd, TVector>(float* sums, byte** pairSource, int* pairTap, int pairCount, int ox, TVector shift)
            where TSimd : struct, ISimd<TVector> where TVector : struct
        {
            nint channels = g.InChannels;
            for (int c0 = 0; c0 < channels; c0 += TSimd.Width)
            {
                nint c = Math.Min(c0, channels - TSimd.Width);
                TVector a0 = TSimd.Zero, a1 = TSimd.Zero, a2 = TSimd.Zero, a3 = TSimd.Zero, a4 = TSimd.Zero, a5 = TSimd.Zero, a6 = TSimd.Zero, a7 = TSimd.Zero;
                TVector weightSum = TSimd.Zero;
                for (int pair = 0; pair < pairCount; pair++)
                {
                    byte* s = pairSource[pair] + (ox - g.PadWidth) * channels + c;
                    float* w = weight + pairTap[pair] * channels + c;
                    TVector w0 = TSimd.Load(w), w1 = TSimd.Load(w + channels), w2 = TSimd.Load(w + 2 * channels);
                    weightSum = TSimd.Add(weightSum, TSimd.Add(w0, TSimd.Add(w1, w2)));
                    TVector s0 = TSimd.LoadBytes(s), s1 = TSimd.LoadBytes(s + channels), s2 = TSimd.LoadBytes(s + 2 * channels);
                    TVector s3 = TSimd.LoadBytes(s + 3 * channels), s4 = TSimd.LoadBytes(s + 4 * channels), s5 = TSimd.LoadBytes(s + 5 * channels);
                    TVector s6 = TSimd.LoadBytes(s + 6 * channels), s7 = TSimd.LoadBytes(s + 7 * channels), s8 = TSimd.LoadBytes(s + 8 * channels);
                    TVector s9 = TSimd.LoadBytes(s + 9 * channels);
                    a0 = Taps3<TSimd, TVector>(a0, s0, s1, s2, w0, w1, w2);
                    a1 = Taps3<TSimd, TVector>(a1, s1, s2, s3, w0, w1, w2);
                    a2 = Taps3<TSimd, TVector>(a2, s2, s3, s4, w0, w1, w2);
                    a3 = Taps3<TSimd, TVector>(a3, s3, s4, s5, w0, w1, w2);
                    a4 = Taps3<TSimd, TVector>(a4, s4, s5, s6, w0, w1, w2);
                    a5 = Taps3<TSimd, TVector>(a5, s5, s6, s7, w0, w1, w2);
                    a6 = Taps3<TSimd, TVector>(a6, s6, s7, s8, w0, w1, w2);
                    a7 = Taps3<TSimd, TVector>(a7, s7, s8, s9, w0, w1, w2);
                }
                var correction = TSimd.Multiply(shift, weightSum);
                float* t = sums + ox * channels + c;
                TSimd.Store(t, TSimd.Subtract(a0, correction));
                TSimd.Store(t + channels, TSimd.Subtract(a1, correction));
                TSimd.Store(t + 2 * channels, TSimd.Subtract(a2, correction));
                TSimd.Store(t + 3 * channels, TSimd.Subtract(a3, correction));
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
}
