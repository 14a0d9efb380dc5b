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
                    job.GatherRow<TSimd, TVector>(tapMajorWeight, row / (targetDepth * targetHeight), row / targetHeight % targetDepth, row % targetHeight);
            });
        }

        // One target row (n, z, y): for each x, the taps that reach it are the (depth, height) row pairs times the
        // width taps, so no bounds check is left inside the channel loop.
        void GatherRow<TSimd, TVector>(float* tapMajorWeight, int n, int z, int y)
            where TSimd : struct, ISimd<TVector> where TVector : struct
        {
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

            float* targetRow = target + (((long)n * (towardInput ? g.InDepth : g.OutDepth) + z) * targetHeight + y) * targetWidth * channels;
            for (int x = 0; x < targetWidth; x++)
            {
                AxisTaps xTaps = Taps(x, g.KernelWidth, g.StrideWidth, g.PadWidth, sourceWidth);
                long sourceStep = (long)xTaps.SourceStep * channels, weightStep = (long)xTaps.KernelStep * channels;
                for (int c0 = 0; c0 < channels; c0 += TSimd.Width)
                {
                    int c = Math.Min(c0, channels - TSimd.Width);
                    TVector sum = TSimd.Zero;
                    for (int pair = 0; pair < pairCount; pair++)
                    {
                        float* s = pairSource[pair] + (long)xTaps.Source * channels + c;
                        float* w = tapMajorWeight + (long)(pairTap[pair] + xTaps.First) * channels + c;
                        for (int t = 0; t < xTaps.Count; t++, s += sourceStep, w += weightStep)
                            sum = TSimd.MultiplyAdd(TSimd.Load(s), TSimd.Load(w), sum);
                    }
                    TSimd.Store(targetRow + (long)x * channels + c, sum);
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
        void AccumulateRow<TSimd, TVector>(float* partial, int row)
            where TSimd : struct, ISimd<TVector> where TVector : struct
        {
            int channels = g.InChannels, n = row / (g.OutDepth * g.OutHeight), z = row / g.OutHeight % g.OutDepth, y = row % g.OutHeight;
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
                            TVector sum = TSimd.Zero;
                            float* d = dOutputRow + (long)xStart * channels + c, s = inputStart + c;
                            for (int x = xStart; x < xEnd; x++, d += channels, s += inputStep)
                                sum = TSimd.MultiplyAdd(TSimd.Load(d), TSimd.Load(s), sum);
                            AddLanes<TSimd, TVector>(partialTap + c, sum, c0 - c);
                        }
                    }
                }
        }
    }

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
