using System.Runtime.CompilerServices;

namespace ActionKit.Kernels.Cpu;

/// <summary>
/// Depthwise 3-D convolution (groups = channels, no bias) on channels-last tensors. Weights use PyTorch's layout
/// [C, 1, kD, kH, kW], i.e. [C, taps].
/// </summary>
/// <remarks>
/// Every kernel vectorizes over channels, with the weight transposed once per call to [taps, C] so that the inner
/// loop reads both operands contiguously. When the vector width does not divide C, the last vector overlaps the one
/// before it. Forward and BackwardInput are gathers (each target row is computed whole by one chunk);
/// BackwardWeight sums per-chunk partials in chunk order. Chunk boundaries depend only on the geometry, so results
/// are bit-reproducible.
/// </remarks>
public static unsafe class DepthwiseConv3d
{
    const int MaxChunks = 32;

    /// <summary>output [N, oD, oH, oW, C] = input [N, D, H, W, C] ⊛ weight [C, taps].</summary>
    public static void Forward(float* output, float* input, float* weight, in ConvGeometry g)
    {
        Check(g);
        var job = new GatherJob(output, input, weight, g, towardInput: false);
        Simd.Run(ref job, g.InChannels);
    }

    /// <summary>dInput [N, D, H, W, C] = dOutput ⊛ᵀ weight (overwritten).</summary>
    public static void BackwardInput(float* dInput, float* dOutput, float* weight, in ConvGeometry g)
    {
        Check(g);
        var job = new GatherJob(dInput, dOutput, weight, g, towardInput: true);
        Simd.Run(ref job, g.InChannels);
    }

    /// <summary>dWeight [C, taps] += Σ dOutput · input (accumulated).</summary>
    public static void BackwardWeight(float* dWeight, float* dOutput, float* input, in ConvGeometry g)
    {
        Check(g);
        var job = new WeightGradientJob(dWeight, dOutput, input, g);
        Simd.Run(ref job, g.InChannels);
    }

    static void Check(in ConvGeometry g)
    {
        g.Validate();
        if (g.OutChannels != g.InChannels)
            throw new ArgumentException($"A depthwise convolution keeps its channel count: {g}");
    }

    /// <summary>
    /// target[n, z, y, x, c] = Σ_taps source[...] · weight[c, tap], where (forward) target is the output and source
    /// the input, or (toward the input) target is dInput and source dOutput, gathering from every output position
    /// that the input position fed.
    /// </summary>
    readonly struct GatherJob(float* target, float* source, float* weight, ConvGeometry g, bool towardInput) : ISimdKernel
    {
        public void Run<TSimd, TVector>() where TSimd : struct, ISimd<TVector> where TVector : struct
        {
            float* tapMajorWeight = Scratch.Get(ScratchSlot.CallOperand, (long)g.KernelVolume * g.InChannels);
            TransposeWeight(tapMajorWeight, weight, g);
            var job = this;
            int targetDepth = towardInput ? g.InDepth : g.OutDepth, targetHeight = towardInput ? g.InHeight : g.OutHeight;
            int rows = g.Batch * targetDepth * targetHeight;
            int rowsPerChunk = CpuParallel.ChunkCount(rows, MaxChunks);
            CpuParallel.For(CpuParallel.ChunkCount(rows, rowsPerChunk), chunk =>
            {
                for (int row = chunk * rowsPerChunk; row < Math.Min(rows, (chunk + 1) * rowsPerChunk); row++)
                    job.GatherRow<TSimd, TVector>(tapMajorWeight, RowAt(row, targetDepth, targetHeight));
            });
        }

        // One target row (n, z, y): for each x, the taps that reach it are the (depth, height) row pairs times the
        // width taps, so no bounds check is left inside the channel loop.
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        void GatherRow<TSimd, TVector>(float* tapMajorWeight, (int N, int Z, int Y) at)
            where TSimd : struct, ISimd<TVector> where TVector : struct
        {
            var (n, z, y) = at;
            int channels = g.InChannels, pairCount = 0;
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
                    pairSource[pairCount] = source + sourceRow * sourceWidth * channels;
                    pairTap[pairCount++] = ((zTaps.First + i * zTaps.KernelStep) * g.KernelHeight + yTaps.First + j * yTaps.KernelStep) * g.KernelWidth;
                }

            // Target positions `step` apart with the same width taps read sources `advance` apart: where four of
            // them do, they share each weight load and keep four sums in flight.
            int step = towardInput ? g.StrideWidth : 1;
            long advance = (towardInput ? 1L : g.StrideWidth) * channels;
            float* targetRow = target + (((long)n * (towardInput ? g.InDepth : g.OutDepth) + z) * targetHeight + y) * targetWidth * channels;
            float** tapSource = stackalloc float*[g.KernelVolume];
            float** tapWeight = stackalloc float*[g.KernelVolume];
            for (int phase = 0; phase < step; phase++)
                for (int x = phase; x < targetWidth;)
                {
                    AxisTaps xTaps = Taps(x, g.KernelWidth, g.StrideWidth, g.PadWidth, sourceWidth);
                    int taps = 0;
                    for (int pair = 0; pair < pairCount; pair++)
                        for (int t = 0; t < xTaps.Count; t++, taps++)
                        {
                            tapSource[taps] = pairSource[pair] + (long)(xTaps.Source + t * xTaps.SourceStep) * channels;
                            tapWeight[taps] = tapMajorWeight + (long)(pairTap[pair] + xTaps.First + t * xTaps.KernelStep) * channels;
                        }
                    int fourth = x + 3 * step;
                    float* targetAt = targetRow + (long)x * channels;
                    if (fourth < targetWidth && Taps(fourth, g.KernelWidth, g.StrideWidth, g.PadWidth, sourceWidth).SharesTapsWith(xTaps))
                    {
                        GatherPositions<TSimd, TVector, On>(targetAt, (long)step * channels, tapSource, tapWeight, taps, advance);
                        x += 4 * step;
                    }
                    else
                    {
                        GatherPositions<TSimd, TVector, Off>(targetAt, 0, tapSource, tapWeight, taps, 0);
                        x += step;
                    }
                }
        }

        // target[b·targetAdvance + c] = Σ_tap tapSource[tap][b·sourceAdvance + c] · tapWeight[tap][c], for b < 4
        // when TFour is on, else b = 0.
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        void GatherPositions<TSimd, TVector, TFour>(float* target, long targetAdvance, float** tapSource, float** tapWeight, int taps, long sourceAdvance)
            where TSimd : struct, ISimd<TVector> where TVector : struct where TFour : struct, IFlag
        {
            int channels = g.InChannels;
            for (int c0 = 0; c0 < channels; c0 += TSimd.Width)
            {
                int c = Math.Min(c0, channels - TSimd.Width);
                TVector sum0 = TSimd.Zero, sum1 = TSimd.Zero, sum2 = TSimd.Zero, sum3 = TSimd.Zero;
                for (int tap = 0; tap < taps; tap++)
                {
                    float* s = tapSource[tap] + c;
                    TVector weight = TSimd.Load(tapWeight[tap] + c);
                    sum0 = TSimd.MultiplyAdd(TSimd.Load(s), weight, sum0);
                    if (TFour.IsOn)
                    {
                        sum1 = TSimd.MultiplyAdd(TSimd.Load(s + sourceAdvance), weight, sum1);
                        sum2 = TSimd.MultiplyAdd(TSimd.Load(s + 2 * sourceAdvance), weight, sum2);
                        sum3 = TSimd.MultiplyAdd(TSimd.Load(s + 3 * sourceAdvance), weight, sum3);
                    }
                }
                TSimd.Store(target + c, sum0);
                if (TFour.IsOn)
                {
                    TSimd.Store(target + targetAdvance + c, sum1);
                    TSimd.Store(target + 2 * targetAdvance + c, sum2);
                    TSimd.Store(target + 3 * targetAdvance + c, sum3);
                }
            }
        }

        AxisTaps Taps(int position, int kernel, int stride, int pad, int sourceLength) => towardInput
            ? AxisTaps.OfInput(position, kernel, stride, pad, sourceLength)
            : AxisTaps.OfOutput(position, kernel, stride, pad, sourceLength);
    }

    /// <summary>dWeight [C, taps] += Σ_(n, z, y, x) dOutput[n, z, y, x, c] · input[n, z·s − p + kz, ...].</summary>
    readonly struct WeightGradientJob(float* dWeight, float* dOutput, float* input, ConvGeometry g) : ISimdKernel
    {
        public void Run<TSimd, TVector>() where TSimd : struct, ISimd<TVector> where TVector : struct
        {
            int rows = g.Batch * g.OutDepth * g.OutHeight, rowsPerChunk = CpuParallel.ChunkCount(rows, MaxChunks);
            int chunks = CpuParallel.ChunkCount(rows, rowsPerChunk);
            long partialLength = (long)g.KernelVolume * g.InChannels;
            float* partials = Scratch.Get(ScratchSlot.CallPartials, chunks * partialLength);
            var job = this;
            CpuParallel.For(chunks, chunk =>
            {
                float* partial = partials + chunk * partialLength;
                new Span<float>(partial, checked((int)partialLength)).Clear();
                for (int row = chunk * rowsPerChunk; row < Math.Min(rows, (chunk + 1) * rowsPerChunk); row++)
                    job.AccumulateRow<TSimd, TVector>(partial, row);
            });

            float* total = Scratch.Get(ScratchSlot.CallOperand, partialLength);
            Simd.SumChunks<TSimd, TVector>(total, partials, partialLength, chunks, accumulate: false);
            for (int c = 0; c < g.InChannels; c++)
                for (int tap = 0; tap < g.KernelVolume; tap++)
                    dWeight[(long)c * g.KernelVolume + tap] += total[(long)tap * g.InChannels + c];
        }

        // partial [taps, C] += this output row's contribution, one (tap, channel vector) sum at a time over x.
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        void AccumulateRow<TSimd, TVector>(float* partial, int row)
            where TSimd : struct, ISimd<TVector> where TVector : struct
        {
            int channels = g.InChannels;
            var (n, z, y) = RowAt(row, g.OutDepth, g.OutHeight);
            AxisTaps zTaps = AxisTaps.OfOutput(z, g.KernelDepth, g.StrideDepth, g.PadDepth, g.InDepth);
            AxisTaps yTaps = AxisTaps.OfOutput(y, g.KernelHeight, g.StrideHeight, g.PadHeight, g.InHeight);
            float* dOutputRow = dOutput + (((long)n * g.OutDepth + z) * g.OutHeight + y) * g.OutWidth * channels;
            long inputStep = (long)g.StrideWidth * channels;
            for (int i = 0; i < zTaps.Count; i++)
                for (int j = 0; j < yTaps.Count; j++)
                {
                    long inputRow = ((long)n * g.InDepth + zTaps.Source + i) * g.InHeight + yTaps.Source + j;
                    int tapBase = ((zTaps.First + i) * g.KernelHeight + yTaps.First + j) * g.KernelWidth;
                    for (int kx = 0; kx < g.KernelWidth; kx++)
                    {
                        // Output columns x whose input column x·s − p + kx lies inside the row.
                        int lastInput = g.InWidth - 1 + g.PadWidth - kx;
                        int xStart = kx >= g.PadWidth ? 0 : (g.PadWidth - kx + g.StrideWidth - 1) / g.StrideWidth;
                        int xEnd = lastInput < 0 ? 0 : Math.Min(g.OutWidth, lastInput / g.StrideWidth + 1);
                        if (xStart >= xEnd)
                            continue;
                        float* inputStart = input + (inputRow * g.InWidth + (long)xStart * g.StrideWidth - g.PadWidth + kx) * channels;
                        float* partialTap = partial + (long)(tapBase + kx) * channels;
                        for (int c0 = 0; c0 < channels; c0 += TSimd.Width)
                        {
                            int c = Math.Min(c0, channels - TSimd.Width);
                            // Four sums over interleaved columns, so four multiply-adds are in flight.
                            TVector sum0 = TSimd.Zero, sum1 = TSimd.Zero, sum2 = TSimd.Zero, sum3 = TSimd.Zero;
                            float* d = dOutputRow + (long)xStart * channels + c, s = inputStart + c;
                            int x = xStart;
                            for (; x + 4 <= xEnd; x += 4, d += 4 * channels, s += 4 * inputStep)
                            {
                                sum0 = TSimd.MultiplyAdd(TSimd.Load(d), TSimd.Load(s), sum0);
                                sum1 = TSimd.MultiplyAdd(TSimd.Load(d + channels), TSimd.Load(s + inputStep), sum1);
                                sum2 = TSimd.MultiplyAdd(TSimd.Load(d + 2 * channels), TSimd.Load(s + 2 * inputStep), sum2);
                                sum3 = TSimd.MultiplyAdd(TSimd.Load(d + 3 * channels), TSimd.Load(s + 3 * inputStep), sum3);
                            }
                            for (; x < xEnd; x++, d += channels, s += inputStep)
                                sum0 = TSimd.MultiplyAdd(TSimd.Load(d), TSimd.Load(s), sum0);
                            AddLanes<TSimd, TVector>(partialTap + c, TSimd.Add(TSimd.Add(sum0, sum1), TSimd.Add(sum2, sum3)), c0 - c);
                        }
                    }
                }
        }
    }

    // Rows (n, z, y) are numbered with z fastest: the few depth slices around one y stay in cache while they are
    // reused, instead of whole slices being read again for every z.
    static (int N, int Z, int Y) RowAt(int row, int depth, int height) => (row / (depth * height), row % depth, row / depth % height);

    // destination[lane] += value[lane] for lane >= skip; the skipped lanes overlap the previous vector.
    static void AddLanes<TSimd, TVector>(float* destination, TVector value, int skip)
        where TSimd : struct, ISimd<TVector> where TVector : struct
    {
        if (skip == 0)
        {
            TSimd.Store(destination, TSimd.Add(TSimd.Load(destination), value));
            return;
        }
        float* lanes = stackalloc float[TSimd.Width];
        TSimd.Store(lanes, value);
        for (int lane = skip; lane < TSimd.Width; lane++)
            destination[lane] += lanes[lane];
    }

    // tapMajor [taps, C] = weight [C, taps]ᵀ.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void TransposeWeight(float* tapMajor, float* weight, in ConvGeometry g)
    {
        for (int c = 0; c < g.InChannels; c++)
            for (int tap = 0; tap < g.KernelVolume; tap++)
                tapMajor[(long)tap * g.InChannels + c] = weight[(long)c * g.KernelVolume + tap];
    }

    /// <summary>
    /// The taps of one axis that reach one target position: kernel indices First, First + KernelStep, ... (Count of
    /// them), reading source positions Source, Source + SourceStep, ...
    /// </summary>
    readonly record struct AxisTaps(int First, int Count, int KernelStep, int Source, int SourceStep)
    {
        public bool SharesTapsWith(AxisTaps other) => First == other.First && Count == other.Count;

        // Target: output position o; source: input positions o·stride − pad + index.
        public static AxisTaps OfOutput(int o, int kernel, int stride, int pad, int inputLength)
        {
            int start = o * stride - pad;
            int first = Math.Max(0, -start), end = Math.Min(kernel, inputLength - start);
            return new AxisTaps(first, Math.Max(0, end - first), 1, start + first, 1);
        }

        // Target: input position i; source: the output positions o with o·stride − pad + index = i.
        public static AxisTaps OfInput(int i, int kernel, int stride, int pad, int outputLength)
        {
            int q = i + pad;
            int first = Math.Max(0, q - stride * (outputLength - 1));
            first += (q - first) % stride;
            int last = Math.Min(kernel - 1, q);
            int count = last >= first ? (last - first) / stride + 1 : 0;
            return new AxisTaps(first, count, stride, (q - first) / stride, -1);
        }
    }
}
