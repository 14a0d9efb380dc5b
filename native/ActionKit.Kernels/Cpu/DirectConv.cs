using System.Runtime.CompilerServices;

namespace ActionKit.Kernels.Cpu;

/// <summary>
/// The loops shared by the direct (no im2col) convolutions on channels-last tensors: depthwise (groups = channels)
/// and dense (groups 1, <typeparamref name="TDense"/> on). Weights are used tap-major: [taps, C] for depthwise, and
/// [taps, S, T] for dense, a row of T target channels per source channel. Every inner loop vectorizes over the
/// target's channels; when the vector width does not divide them, the last vector overlaps the one before it.
/// </summary>
/// <remarks>
/// The gathers compute each target row whole in one chunk; the weight gradient sums per-chunk partials within each
/// clip in chunk order, then the clips in <see cref="BatchTree"/> order. Chunk boundaries depend only on one clip's
/// geometry, so results are bit-reproducible and data-parallel ranks sum what one process sums.
/// </remarks>
internal static unsafe class DirectConv<TDense> where TDense : struct, IFlag
{
    const int MaxChunks = 32;
    const int WeightGradientChunksPerClip = 4;
    const int SlidePositions = 8;

    /// <summary>
    /// target[n, z, y, x, :] = Σ_taps source[...] ⊛ tapMajorWeight, where (forward) target is the output and source
    /// the input, or (toward the input) target is dInput and source dOutput, gathering from every output position
    /// that the input position fed.
    /// </summary>
    public static void Gather(float* target, float* source, float* tapMajorWeight, in ConvGeometry g, bool towardInput)
    {
        var job = new GatherJob(target, source, tapMajorWeight, g, towardInput);
        Simd.Run(ref job, job.TargetChannels);
    }

    /// <summary>tapMajorGradient [taps, S, Cout] (S = Cin dense, 1 depthwise) = Σ dOutput · input, in <see cref="BatchTree"/> order.</summary>
    public static void WeightGradient(float* tapMajorGradient, float* dOutput, float* input, in ConvGeometry g)
    {
        var job = new WeightGradientJob(tapMajorGradient, dOutput, input, g);
        Simd.Run(ref job, g.OutChannels);
    }

    readonly struct GatherJob(float* target, float* source, float* weight, ConvGeometry g, bool towardInput) : ISimdKernel
    {
        public int SourceChannels => TDense.IsOn && towardInput ? g.OutChannels : g.InChannels;
        public int TargetChannels => TDense.IsOn && !towardInput ? g.OutChannels : g.InChannels;
        int TapLength => TDense.IsOn ? g.InChannels * g.OutChannels : g.InChannels;

        public void Run<TSimd, TVector>() where TSimd : struct, ISimd<TVector> where TVector : struct
        {
            var job = this;
            int targetDepth = towardInput ? g.InDepth : g.OutDepth, targetHeight = towardInput ? g.InHeight : g.OutHeight;
            int rows = g.Batch * targetDepth * targetHeight;
            int rowsPerChunk = CpuParallel.ChunkCount(rows, MaxChunks);
            CpuParallel.For(CpuParallel.ChunkCount(rows, rowsPerChunk), chunk =>
            {
                for (int row = chunk * rowsPerChunk; row < Math.Min(rows, (chunk + 1) * rowsPerChunk); row++)
                    job.GatherRow<TSimd, TVector>(AxisTaps.RowAt(row, targetDepth, targetHeight));
            });
        }

        // One target row (n, z, y): for each x, the taps that reach it are the (depth, height) row pairs times the
        // width taps, so no bounds check is left inside the channel loop.
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        void GatherRow<TSimd, TVector>((int N, int Z, int Y) at)
            where TSimd : struct, ISimd<TVector> where TVector : struct
        {
            var (n, z, y) = at;
            int sourceChannels = SourceChannels, targetChannels = TargetChannels, pairCount = 0;
            var (sourceDepth, sourceHeight, sourceWidth) = towardInput ? (g.OutDepth, g.OutHeight, g.OutWidth) : (g.InDepth, g.InHeight, g.InWidth);
            var (targetHeight, targetWidth) = towardInput ? (g.InHeight, g.InWidth) : (g.OutHeight, g.OutWidth);
            float** pairSource = stackalloc float*[g.KernelDepth * g.KernelHeight];
            int* pairTap = stackalloc int[g.KernelDepth * g.KernelHeight];
            AxisTaps zTaps = Taps(z, g.KernelDepth, g.StrideDepth, g.PadDepth, sourceDepth);
            AxisTaps yTaps = Taps(y, g.KernelHeight, g.StrideHeight, g.PadHeight, sourceHeight);
            for (int i = 0; i < zTaps.Count; i++)
                for (int j = 0; j < yTaps.Count; j++)
                {
                    long sourceRow = ((long)n * sourceDepth + zTaps.Source + i * zTaps.SourceStep) * sourceHeight + yTaps.Source + j * yTaps.SourceStep;
                    pairSource[pairCount] = source + sourceRow * sourceWidth * sourceChannels;
                    pairTap[pairCount++] = ((zTaps.First + i * zTaps.KernelStep) * g.KernelHeight + yTaps.First + j * yTaps.KernelStep) * g.KernelWidth;
                }

            float* targetRow = target + (((long)n * (towardInput ? g.InDepth : g.OutDepth) + z) * targetHeight + y) * targetWidth * targetChannels;
            var (slideStart, slideEnd) = SlideRange(sourceWidth, targetWidth);
            // The last block ends at the range's end, recomputing a few positions rather than leaving them to the
            // one-position path.
            for (int x = slideStart; x < slideEnd; x += SlidePositions)
            {
                int block = Math.Min(x, slideEnd - SlidePositions);
                Slide<TSimd, TVector>(targetRow + (long)block * targetChannels, pairSource, pairTap, pairCount, block);
            }

            // Target positions `step` apart with the same width taps read sources `advance` apart: where four of
            // them do, they share each weight load and keep four sums in flight.
            int step = towardInput ? g.StrideWidth : 1;
            long advance = (towardInput ? 1L : g.StrideWidth) * sourceChannels;
            float** tapSource = stackalloc float*[g.KernelVolume];
            float** tapWeight = stackalloc float*[g.KernelVolume];
            for (int phase = 0; phase < step; phase++)
                for (int x = phase; x < targetWidth;)
                {
                    if (x == slideStart && slideEnd > slideStart)
                    {
                        x = slideEnd;
                        continue;
                    }
                    AxisTaps xTaps = Taps(x, g.KernelWidth, g.StrideWidth, g.PadWidth, sourceWidth);
                    int taps = 0;
                    for (int pair = 0; pair < pairCount; pair++)
                        for (int t = 0; t < xTaps.Count; t++, taps++)
                        {
                            tapSource[taps] = pairSource[pair] + (long)(xTaps.Source + t * xTaps.SourceStep) * sourceChannels;
                            tapWeight[taps] = weight + (long)(pairTap[pair] + xTaps.First + t * xTaps.KernelStep) * TapLength;
                        }
                    int fourth = x + 3 * step;
                    float* targetAt = targetRow + (long)x * targetChannels;
                    if (fourth < (x < slideStart ? slideStart : targetWidth) && Taps(fourth, g.KernelWidth, g.StrideWidth, g.PadWidth, sourceWidth).SharesTapsWith(xTaps))
                    {
                        GatherPositions<TSimd, TVector, On>(targetAt, (long)step * targetChannels, tapSource, tapWeight, taps, advance);
                        x += 4 * step;
                    }
                    else
                    {
                        GatherPositions<TSimd, TVector, Off>(targetAt, 0, tapSource, tapWeight, taps, 0);
                        x += step;
                    }
                }
        }

        // Depthwise, width 3, stride 1: the target positions x whose three taps all lie inside the source row read
        // sources x + offset + (0, 1, 2), offset = -pad forward or pad - 2 toward the input (taps reversed). When
        // there are at least SlidePositions of them they go to Slide; the range is empty for every other convolution.
        (int Start, int End) SlideRange(int sourceWidth, int targetWidth)
        {
            if (TDense.IsOn || g.KernelWidth != 3 || g.StrideWidth != 1)
                return (targetWidth, targetWidth);
            int offset = WindowOffset, start = Math.Max(0, -offset), end = Math.Min(targetWidth, sourceWidth - 2 - offset);
            return end - start < SlidePositions ? (targetWidth, targetWidth) : (start, end);
        }

        int WindowOffset => towardInput ? g.PadWidth - 2 : -g.PadWidth;

        // target[x + j] for j < 8 = Σ_pairs Σ_r source[x + offset + j + r] · w[r] (w reversed toward the input): each
        // of the ten source vectors a pair needs is loaded once and meets every tap that reads it.
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        void Slide<TSimd, TVector>(float* target, float** pairSource, int* pairTap, int pairCount, int x)
            where TSimd : struct, ISimd<TVector> where TVector : struct
        {
            nint channels = g.InChannels;
            for (int c0 = 0; c0 < channels; c0 += TSimd.Width)
            {
                nint c = Math.Min(c0, g.InChannels - TSimd.Width);
                TVector a0 = TSimd.Zero, a1 = TSimd.Zero, a2 = TSimd.Zero, a3 = TSimd.Zero, a4 = TSimd.Zero, a5 = TSimd.Zero, a6 = TSimd.Zero, a7 = TSimd.Zero;
                for (int pair = 0; pair < pairCount; pair++)
                {
                    float* s = pairSource[pair] + (x + WindowOffset) * channels + c, w = weight + pairTap[pair] * channels + c;
                    TVector w0 = TSimd.Load(w), w1 = TSimd.Load(w + channels), w2 = TSimd.Load(w + 2 * channels);
                    if (towardInput)
                        (w0, w2) = (w2, w0);
                    TVector s0 = TSimd.Load(s), s1 = TSimd.Load(s + channels), s2 = TSimd.Load(s + 2 * channels);
                    TVector s3 = TSimd.Load(s + 3 * channels), s4 = TSimd.Load(s + 4 * channels), s5 = TSimd.Load(s + 5 * channels);
                    TVector s6 = TSimd.Load(s + 6 * channels), s7 = TSimd.Load(s + 7 * channels), s8 = TSimd.Load(s + 8 * channels);
                    TVector s9 = TSimd.Load(s + 9 * channels);
                    a0 = Taps3<TSimd, TVector>(a0, s0, s1, s2, w0, w1, w2);
                    a1 = Taps3<TSimd, TVector>(a1, s1, s2, s3, w0, w1, w2);
                    a2 = Taps3<TSimd, TVector>(a2, s2, s3, s4, w0, w1, w2);
                    a3 = Taps3<TSimd, TVector>(a3, s3, s4, s5, w0, w1, w2);
                    a4 = Taps3<TSimd, TVector>(a4, s4, s5, s6, w0, w1, w2);
                    a5 = Taps3<TSimd, TVector>(a5, s5, s6, s7, w0, w1, w2);
                    a6 = Taps3<TSimd, TVector>(a6, s6, s7, s8, w0, w1, w2);
                    a7 = Taps3<TSimd, TVector>(a7, s7, s8, s9, w0, w1, w2);
                }
                float* t = target + c;
                TSimd.Store(t, a0);
                TSimd.Store(t + channels, a1);
                TSimd.Store(t + 2 * channels, a2);
                TSimd.Store(t + 3 * channels, a3);
                TSimd.Store(t + 4 * channels, a4);
                TSimd.Store(t + 5 * channels, a5);
                TSimd.Store(t + 6 * channels, a6);
                TSimd.Store(t + 7 * channels, a7);
            }
        }

        // Two channel vectors at a time: eight independent sums hide the multiply-add latency.
        void GatherPositions<TSimd, TVector, TFour>(float* target, long targetAdvance, float** tapSource, float** tapWeight, int taps, long sourceAdvance)
            where TSimd : struct, ISimd<TVector> where TVector : struct where TFour : struct, IFlag
        {
            int targetChannels = TargetChannels;
            for (int c0 = 0; c0 < targetChannels; c0 += 2 * TSimd.Width)
            {
                int c = Math.Min(c0, targetChannels - TSimd.Width), second = Math.Min(c0 + TSimd.Width, targetChannels - TSimd.Width);
                if (second > c)
                    GatherVectors<TSimd, TVector, TFour, On>(target, targetAdvance, tapSource, tapWeight, taps, sourceAdvance, c, second);
                else
                    GatherVectors<TSimd, TVector, TFour, Off>(target, targetAdvance, tapSource, tapWeight, taps, sourceAdvance, c, c);
            }
        }

        // target[b·targetAdvance + c] = Σ_tap source_b · tapWeight[tap] over the channel vector at c (and at second
        // when TTwo is on), for b < 4 when TFour is on, else b = 0; source_b = tapSource[tap] + b·sourceAdvance.
        // Depthwise: source_b[c] · w[c]; dense: Σ_s source_b[s] · w[s·T + c].
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        void GatherVectors<TSimd, TVector, TFour, TTwo>(float* target, long targetAdvance, float** tapSource, float** tapWeight, int taps,
            long sourceAdvance, int c, int second)
            where TSimd : struct, ISimd<TVector> where TVector : struct where TFour : struct, IFlag where TTwo : struct, IFlag
        {
            // Offsets as nint locals, so that the JIT keeps them in registers and folds them into the loads.
            nint targetChannels = TargetChannels, sourceChannels = SourceChannels, channel0 = c, gap = second - c;
            var advance = new Offsets((nint)sourceAdvance);
            TVector a0 = TSimd.Zero, a1 = TSimd.Zero, a2 = TSimd.Zero, a3 = TSimd.Zero;
            TVector b0 = TSimd.Zero, b1 = TSimd.Zero, b2 = TSimd.Zero, b3 = TSimd.Zero;
            for (int tap = 0; tap < taps; tap++)
            {
                float* w = tapWeight[tap] + channel0;
                if (!TDense.IsOn)
                {
                    float* s = tapSource[tap] + channel0;
                    MultiplyAdd<TSimd, TVector, TFour>(s, advance, TSimd.Load(w), ref a0, ref a1, ref a2, ref a3);
                    if (TTwo.IsOn)
                        MultiplyAdd<TSimd, TVector, TFour>(s + gap, advance, TSimd.Load(w + gap), ref b0, ref b1, ref b2, ref b3);
                    continue;
                }
                float* source = tapSource[tap];
                for (nint channel = 0; channel < sourceChannels; channel++, w += targetChannels)
                {
                    MultiplyAdd<TSimd, TVector, TFour>(source + channel, advance, TSimd.Load(w), ref a0, ref a1, ref a2, ref a3);
                    if (TTwo.IsOn)
                        MultiplyAdd<TSimd, TVector, TFour>(source + channel, advance, TSimd.Load(w + gap), ref b0, ref b1, ref b2, ref b3);
                }
            }
            StoreFour<TSimd, TVector, TFour>(target + c, targetAdvance, a0, a1, a2, a3);
            if (TTwo.IsOn)
                StoreFour<TSimd, TVector, TFour>(target + second, targetAdvance, b0, b1, b2, b3);
        }

        AxisTaps Taps(int position, int kernel, int stride, int pad, int sourceLength) => towardInput
            ? AxisTaps.OfInput(position, kernel, stride, pad, sourceLength)
            : AxisTaps.OfOutput(position, kernel, stride, pad, sourceLength);
    }

    // target[b·advance] = sum_b for the positions b < 4 (TFour) or b = 0.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void StoreFour<TSimd, TVector, TFour>(float* target, long advance, TVector sum0, TVector sum1, TVector sum2, TVector sum3)
        where TSimd : struct, ISimd<TVector> where TVector : struct where TFour : struct, IFlag
    {
        TSimd.Store(target, sum0);
        if (!TFour.IsOn)
            return;
        TSimd.Store(target + advance, sum1);
        TSimd.Store(target + 2 * advance, sum2);
        TSimd.Store(target + 3 * advance, sum3);
    }

    /// <summary>One, two and three times the distance between the sources of neighbouring positions, in bytes (the JIT folds byte offsets into the loads' addresses).</summary>
    readonly struct Offsets(nint advance)
    {
        public readonly nint One = advance * sizeof(float), Two = 2 * advance * sizeof(float), Three = 3 * advance * sizeof(float);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static TVector Taps3<TSimd, TVector>(TVector sum, TVector s0, TVector s1, TVector s2, TVector w0, TVector w1, TVector w2)
        where TSimd : struct, ISimd<TVector> where TVector : struct =>
        TSimd.MultiplyAdd(s2, w2, TSimd.MultiplyAdd(s1, w1, TSimd.MultiplyAdd(s0, w0, sum)));

    // sum_b += source_b · weight for the positions b < 4 (TFour) or b = 0, source_b at s + b·advance.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void MultiplyAdd<TSimd, TVector, TFour>(float* s, Offsets advance, TVector weight, ref TVector sum0, ref TVector sum1, ref TVector sum2, ref TVector sum3)
        where TSimd : struct, ISimd<TVector> where TVector : struct where TFour : struct, IFlag
    {
        sum0 = TSimd.MultiplyAdd(Source<TSimd, TVector>(s), weight, sum0);
        if (!TFour.IsOn)
            return;
        sum1 = TSimd.MultiplyAdd(Source<TSimd, TVector>((float*)((byte*)s + advance.One)), weight, sum1);
        sum2 = TSimd.MultiplyAdd(Source<TSimd, TVector>((float*)((byte*)s + advance.Two)), weight, sum2);
        sum3 = TSimd.MultiplyAdd(Source<TSimd, TVector>((float*)((byte*)s + advance.Three)), weight, sum3);
    }

    // Dense convolutions multiply one source channel into every target channel; depthwise ones channel by channel.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static TVector Source<TSimd, TVector>(float* s) where TSimd : struct, ISimd<TVector> where TVector : struct =>
        TDense.IsOn ? TSimd.Broadcast(*s) : TSimd.Load(s);

    readonly struct WeightGradientJob(float* tapMajorGradient, float* dOutput, float* input, ConvGeometry g) : ISimdKernel
    {
        int GroupInputs => TDense.IsOn ? g.InChannels : 1;

        public void Run<TSimd, TVector>() where TSimd : struct, ISimd<TVector> where TVector : struct
        {
            int rowsPerClip = g.OutDepth * g.OutHeight, rowsPerChunk = CpuParallel.ChunkCount(rowsPerClip, WeightGradientChunksPerClip);
            int chunksPerClip = CpuParallel.ChunkCount(rowsPerClip, rowsPerChunk);
            int partialLength = checked(g.KernelVolume * GroupInputs * g.OutChannels);
            float* partials = Scratch.Get(ScratchSlot.CallPartials, (long)g.Batch * chunksPerClip * partialLength);
            var job = this;
            CpuParallel.For(g.Batch * chunksPerClip, chunk =>
            {
                float* partial = partials + (long)chunk * partialLength;
                new Span<float>(partial, partialLength).Clear();
                int first = chunk / chunksPerClip * rowsPerClip + chunk % chunksPerClip * rowsPerChunk;
                int end = Math.Min(chunk / chunksPerClip * rowsPerClip + rowsPerClip, first + rowsPerChunk);
                for (int row = first; row < end; row++)
                    job.AccumulateRow<TSimd, TVector>(partial, row);
            });
            BatchTree.Reduce(partials, partialLength, g.Batch, chunksPerClip);
            Buffer.MemoryCopy(partials, tapMajorGradient, partialLength * sizeof(float), partialLength * sizeof(float));
        }

        // partial [taps, S, Cout] += this output row's contribution. A depthwise width-3 kernel with stride 1 or 2
        // sweeps the columns whose three taps all lie inside the row once per (depth, height) pair (see Slide); the
        // other columns, and every other kernel, take one (tap, source channel, channel vector) sum at a time.
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        void AccumulateRow<TSimd, TVector>(float* partial, int row)
            where TSimd : struct, ISimd<TVector> where TVector : struct
        {
            var (n, z, y) = AxisTaps.RowAt(row, g.OutDepth, g.OutHeight);
            AxisTaps zTaps = AxisTaps.OfOutput(z, g.KernelDepth, g.StrideDepth, g.PadDepth, g.InDepth);
            AxisTaps yTaps = AxisTaps.OfOutput(y, g.KernelHeight, g.StrideHeight, g.PadHeight, g.InHeight);
            float* dOutputRow = dOutput + (((long)n * g.OutDepth + z) * g.OutHeight + y) * g.OutWidth * g.OutChannels;
            bool slides = !TDense.IsOn && g.KernelWidth == 3 && g.StrideWidth <= 2;
            int interiorStart = slides ? (g.PadWidth + g.StrideWidth - 1) / g.StrideWidth : int.MaxValue;
            // A row narrower than the kernel's reach (InWidth - 3 + p < 0) has no interior column.
            int interiorEnd = !slides ? int.MaxValue
                : g.InWidth - 3 + g.PadWidth >= 0 ? Math.Min(g.OutWidth, (g.InWidth - 3 + g.PadWidth) / g.StrideWidth + 1) : 0;
            if (interiorEnd <= interiorStart)
                (interiorStart, interiorEnd) = (int.MaxValue, int.MaxValue);
            for (int i = 0; i < zTaps.Count; i++)
                for (int j = 0; j < yTaps.Count; j++)
                {
                    float* inputRow = input + (((long)n * g.InDepth + zTaps.Source + i) * g.InHeight + yTaps.Source + j) * g.InWidth * g.InChannels;
                    float* partialPair = partial + (long)((zTaps.First + i) * g.KernelHeight + yTaps.First + j) * g.KernelWidth * GroupInputs * g.OutChannels;
                    if (interiorStart < interiorEnd)
                        Slide<TSimd, TVector>(partialPair, dOutputRow, inputRow, interiorStart, interiorEnd);
                    for (int kx = 0; kx < g.KernelWidth; kx++)
                    {
                        // Output columns x whose input column x·s − p + kx lies inside the row.
                        int lastInput = g.InWidth - 1 + g.PadWidth - kx;
                        int xStart = kx >= g.PadWidth ? 0 : (g.PadWidth - kx + g.StrideWidth - 1) / g.StrideWidth;
                        int xEnd = lastInput < 0 ? 0 : Math.Min(g.OutWidth, lastInput / g.StrideWidth + 1);
                        float* partialTap = partialPair + (long)kx * GroupInputs * g.OutChannels;
                        AccumulateTap<TSimd, TVector>(partialTap, dOutputRow, inputRow, kx, xStart, Math.Min(xEnd, interiorStart));
                        AccumulateTap<TSimd, TVector>(partialTap, dOutputRow, inputRow, kx, Math.Max(xStart, interiorEnd), xEnd);
                    }
                }
        }

        // partialTap [S, Cout] += Σ_(x in [x0, x1)) dOutput[x] · input[x·s − p + kx], four interleaved sums at a time.
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        void AccumulateTap<TSimd, TVector>(float* partialTap, float* dOutputRow, float* inputRow, int kx, int x0, int x1)
            where TSimd : struct, ISimd<TVector> where TVector : struct
        {
            if (x0 >= x1)
                return;
            int inChannels = g.InChannels, outChannels = g.OutChannels;
            long inputStep = (long)g.StrideWidth * inChannels;
            float* inputStart = inputRow + ((long)x0 * g.StrideWidth - g.PadWidth + kx) * inChannels;
            for (int s = 0; s < GroupInputs; s++)
                for (int c0 = 0; c0 < outChannels; c0 += TSimd.Width)
                {
                    int c = Math.Min(c0, outChannels - TSimd.Width);
                    TVector sum0 = TSimd.Zero, sum1 = TSimd.Zero, sum2 = TSimd.Zero, sum3 = TSimd.Zero;
                    float* d = dOutputRow + (long)x0 * outChannels + c, source = inputStart + (TDense.IsOn ? s : c);
                    int x = x0;
                    for (; x + 4 <= x1; x += 4, d += 4 * outChannels, source += 4 * inputStep)
                    {
                        sum0 = TSimd.MultiplyAdd(TSimd.Load(d), Source<TSimd, TVector>(source), sum0);
                        sum1 = TSimd.MultiplyAdd(TSimd.Load(d + outChannels), Source<TSimd, TVector>(source + inputStep), sum1);
                        sum2 = TSimd.MultiplyAdd(TSimd.Load(d + 2 * outChannels), Source<TSimd, TVector>(source + 2 * inputStep), sum2);
                        sum3 = TSimd.MultiplyAdd(TSimd.Load(d + 3 * outChannels), Source<TSimd, TVector>(source + 3 * inputStep), sum3);
                    }
                    for (; x < x1; x++, d += outChannels, source += inputStep)
                        sum0 = TSimd.MultiplyAdd(TSimd.Load(d), Source<TSimd, TVector>(source), sum0);
                    Simd.AddLanes<TSimd, TVector>(partialTap + (long)s * outChannels + c, TSimd.Add(TSimd.Add(sum0, sum1), TSimd.Add(sum2, sum3)), c0 - c);
                }
        }

        // Depthwise, width 3, stride 1 or 2, columns [x0, x1) whose three taps are all inside: partialPair [3, C] +=
        // Σ_x dOutput[x] · (input[x·s − p], input[x·s − p + 1], input[x·s − p + 2]). Each input vector is loaded
        // once and meets every tap that reads it; two channel vectors keep six sums in flight.
        void Slide<TSimd, TVector>(float* partialPair, float* dOutputRow, float* inputRow, int x0, int x1)
            where TSimd : struct, ISimd<TVector> where TVector : struct
        {
            int channels = g.InChannels;
            float* d = dOutputRow + (long)x0 * channels, source = inputRow + ((long)x0 * g.StrideWidth - g.PadWidth) * channels;
            for (int c0 = 0; c0 < channels; c0 += 2 * TSimd.Width)
            {
                int c = Math.Min(c0, channels - TSimd.Width), second = Math.Min(c0 + TSimd.Width, channels - TSimd.Width);
                if (second > c)
                    SlideVectors<TSimd, TVector, On>(partialPair, d, source, x1 - x0, c, second, c0 - c, c0 + TSimd.Width - second);
                else
                    SlideVectors<TSimd, TVector, Off>(partialPair, d, source, x1 - x0, c, c, c0 - c, 0);
            }
        }

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        void SlideVectors<TSimd, TVector, TTwo>(float* partialPair, float* d, float* source, int count, int c, int second, int skip, int secondSkip)
            where TSimd : struct, ISimd<TVector> where TVector : struct where TTwo : struct, IFlag
        {
            nint channels = g.InChannels, gap = second - c, advance = g.StrideWidth * channels;
            bool strideTwo = g.StrideWidth == 2;
            d += c;
            source += c;
            TVector a0 = TSimd.Zero, a1 = TSimd.Zero, a2 = TSimd.Zero, b0 = TSimd.Zero, b1 = TSimd.Zero, b2 = TSimd.Zero;
            // The window (p0, p1, p2) holds input[x·s − p + 0, 1, 2]; q is the same for the second channel vector.
            TVector p0 = TSimd.Load(source), q0 = TTwo.IsOn ? TSimd.Load(source + gap) : TSimd.Zero, p1 = TSimd.Zero, q1 = TSimd.Zero;
            if (!strideTwo)
            {
                p1 = TSimd.Load(source + channels);
                q1 = TTwo.IsOn ? TSimd.Load(source + channels + gap) : TSimd.Zero;
            }
            for (int k = 0; k < count; k++, d += channels, source += advance)
            {
                if (strideTwo)
                {
                    p1 = TSimd.Load(source + channels);
                    q1 = TTwo.IsOn ? TSimd.Load(source + channels + gap) : TSimd.Zero;
                }
                TVector p2 = TSimd.Load(source + 2 * channels), dy = TSimd.Load(d);
                a0 = TSimd.MultiplyAdd(dy, p0, a0);
                a1 = TSimd.MultiplyAdd(dy, p1, a1);
                a2 = TSimd.MultiplyAdd(dy, p2, a2);
                if (TTwo.IsOn)
                {
                    TVector q2 = TSimd.Load(source + 2 * channels + gap), dySecond = TSimd.Load(d + gap);
                    b0 = TSimd.MultiplyAdd(dySecond, q0, b0);
                    b1 = TSimd.MultiplyAdd(dySecond, q1, b1);
                    b2 = TSimd.MultiplyAdd(dySecond, q2, b2);
                    (q0, q1) = strideTwo ? (q2, q1) : (q1, q2);
                }
                (p0, p1) = strideTwo ? (p2, p1) : (p1, p2);
            }
            Simd.AddLanes<TSimd, TVector>(partialPair + c, a0, skip);
            Simd.AddLanes<TSimd, TVector>(partialPair + channels + c, a1, skip);
            Simd.AddLanes<TSimd, TVector>(partialPair + 2 * channels + c, a2, skip);
            if (TTwo.IsOn)
            {
                Simd.AddLanes<TSimd, TVector>(partialPair + second, b0, secondSkip);
                Simd.AddLanes<TSimd, TVector>(partialPair + channels + second, b1, secondSkip);
                Simd.AddLanes<TSimd, TVector>(partialPair + 2 * channels + second, b2, secondSkip);
            }
        }
    }
}

/// <summary>Between PyTorch's weight layout [Cout, S, taps] (S = Cin dense, 1 depthwise) and the kernels' tap-major ones.</summary>
internal static unsafe class TapMajor
{
    /// <summary>
    /// tapMajor = torch permuted to [taps, S, Cout] (<paramref name="outputsInner"/>) or to [taps, Cout, S].
    /// </summary>
    public static void FromTorch(float* tapMajor, float* torch, int outChannels, int groupInputs, int taps, bool outputsInner)
    {
        for (int o = 0; o < outChannels; o++)
            for (int s = 0; s < groupInputs; s++)
                for (int tap = 0; tap < taps; tap++)
                {
                    long inner = outputsInner ? ((long)tap * groupInputs + s) * outChannels + o : ((long)tap * outChannels + o) * groupInputs + s;
                    tapMajor[inner] = torch[((long)o * groupInputs + s) * taps + tap];
                }
    }

    /// <summary>torch [Cout, S, taps] += tapMajor [taps, S, Cout].</summary>
    public static void AddToTorch(float* torch, float* tapMajor, int outChannels, int groupInputs, int taps)
    {
        for (int o = 0; o < outChannels; o++)
            for (int s = 0; s < groupInputs; s++)
                for (int tap = 0; tap < taps; tap++)
                    torch[((long)o * groupInputs + s) * taps + tap] += tapMajor[((long)tap * groupInputs + s) * outChannels + o];
    }
}
