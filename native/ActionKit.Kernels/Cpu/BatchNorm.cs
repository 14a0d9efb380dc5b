using System.Runtime.CompilerServices;

namespace ActionKit.Kernels.Cpu;

/// <summary>
/// Batch normalization over channels-last rows: x is [rows, C] with rows = N*D*H*W, statistics per channel, fused
/// with the activation that follows it (X3D: ReLU, or Swish where no squeeze-excitation comes between), so the
/// normalized tensor is never written; backward recomputes the pre-activation from x. Every pass walks rows in
/// fixed chunks within each clip and vectorizes over channels, the last vector masked; sums combine in double, a
/// clip's chunks in order and the clips in <see cref="BatchTree"/> order. With sync_bn a caller passes
/// <c>addReplicas</c>, which replaces the sums [rows, C + C] by their total over the data-parallel ranks (in the same
/// tree), so that N ranks normalize with the bits one process computes.
/// </summary>
public static unsafe class BatchNorm
{
    const int RowsPerChunk = 256;

    [ThreadStatic] static double[]? clipSums;

    /// <summary>
    /// y = act(γ·(x - mean)·invStd + β) with batch statistics over rows = clips · rows per clip (and the other ranks'
    /// rows when <paramref name="addReplicas"/> is given); writes mean and invStd [C] for the backward pass and
    /// updates running statistics as PyTorch does (unbiased variance, running = (1-momentum)·running + momentum·batch).
    /// </summary>
    public static void ForwardTraining(float* y, float* mean, float* invStd, float* runningMean, float* runningVar,
        float* x, float* gamma, float* beta, long rows, int clips, int channels, float momentum, float epsilon, Activation activation,
        Action<double[]>? addReplicas = null)
    {
        var arrays = new ChannelArrays(channels, 2 + clips);
        float* scale = arrays[0], bias = arrays[1], shifts = arrays[2];
        // Each clip's sums are of x - (its first row), which keeps them exact enough in float when |mean| >> std, and
        // depends only on the clip, not on which rank holds it; in double they become raw moments that add up.
        long rowsPerClip = BatchTree.RowsPerClip(rows, clips);
        for (int clip = 0; clip < clips; clip++)
            Buffer.MemoryCopy(x + clip * rowsPerClip * channels, arrays[2 + clip], channels * sizeof(float), channels * sizeof(float));
        var sums = new SumsJob(x, shifts, Padded(channels), null, null, null, rows, clips, channels);
        Activations.Run(sums, Activation.None);
        double[] totals = sums.Totals(addReplicas);
        double allRows = totals[0];
        for (int c = 0; c < channels; c++)
        {
            double average = totals[1 + c] / allRows, variance = Math.Max(0, totals[1 + channels + c] / allRows - average * average);
            mean[c] = (float)average;
            invStd[c] = (float)(1.0 / Math.Sqrt(variance + epsilon));
            double unbiased = allRows > 1 ? variance * allRows / (allRows - 1) : variance;
            runningMean[c] = (1 - momentum) * runningMean[c] + momentum * mean[c];
            runningVar[c] = (float)((1 - momentum) * runningVar[c] + momentum * unbiased);
        }
        NormalizeAsScaleShift(scale, bias, gamma, beta, mean, invStd, channels);
        Activations.Run(new ApplyJob(y, x, scale, bias, null, default, rows, channels), activation);
    }

    /// <summary>y = act(γ·(x - runningMean)/sqrt(runningVar + ε) + β) (evaluation mode).</summary>
    public static void ForwardInference(float* y, float* x, float* gamma, float* beta, float* runningMean,
        float* runningVar, long rows, int channels, float epsilon, Activation activation)
    {
        var arrays = new ChannelArrays(channels, 2);
        float* scale = arrays[0], bias = arrays[1];
        for (int c = 0; c < channels; c++)
        {
            scale[c] = (float)(gamma[c] / Math.Sqrt(runningVar[c] + (double)epsilon));
            bias[c] = beta[c] - runningMean[c] * scale[c];
        }
        Activations.Run(new ApplyJob(y, x, scale, bias, null, default, rows, channels), activation);
    }

    /// <summary>
    /// dx (overwritten), dγ and dβ (accumulated) from dy, the gradient at the activation's output; the activation's
    /// derivative is taken at the pre-activation recomputed from x exactly as the forward pass computed it. With
    /// <paramref name="addReplicas"/> the sums cover every rank's rows, and dγ, dβ get this rank's share of them
    /// (rows / all rows), which the trainer's gradient average over the ranks turns back into the whole.
    /// </summary>
    public static void Backward(float* dx, float* dGamma, float* dBeta, float* dy, float* x, float* gamma, float* beta,
        float* mean, float* invStd, long rows, int clips, int channels, Activation activation, Action<double[]>? addReplicas = null)
    {
        var arrays = new ChannelArrays(channels, 6);
        float* scale = arrays[0], bias = arrays[1], center = arrays[2];
        float* gradientScale = arrays[3], centeredScale = arrays[4], constant = arrays[5];
        NormalizeAsScaleShift(scale, bias, gamma, beta, mean, invStd, channels);
        Buffer.MemoryCopy(mean, center, channels * sizeof(float), channels * sizeof(float));
        // Σg and Σg·(x - mean), with g = act'(pre-activation)·dy.
        var sums = new SumsJob(x, center, 0, dy, scale, bias, rows, clips, channels);
        Activations.Run(sums, activation);
        double[] totals = sums.Totals(addReplicas);
        double allRows = totals[0], share = rows / allRows;
        for (int c = 0; c < channels; c++)
        {
            double sumGradient = totals[1 + c], sumXhat = totals[1 + channels + c] * invStd[c], a = gamma[c] * invStd[c];
            dBeta[c] += (float)(sumGradient * share);
            dGamma[c] += (float)(sumXhat * share);
            // dx = a·(g - (Σg + x̂·Σg·x̂)/N) = a·g + [-a·Σg·x̂·invStd/N]·(x - mean) - a·Σg/N
            gradientScale[c] = (float)a;
            centeredScale[c] = (float)(-a * sumXhat * invStd[c] / allRows);
            constant[c] = (float)(-a * sumGradient / allRows);
        }
        Activations.Run(new ApplyJob(dx, x, scale, bias, dy, new BackwardCoefficients(center, gradientScale, centeredScale, constant), rows, channels), activation);
    }

    // The forward's affine map v = x·scale + bias; the backward pass recomputes it bit for bit from the same floats.
    static void NormalizeAsScaleShift(float* scale, float* bias, float* gamma, float* beta, float* mean, float* invStd, int channels)
    {
        for (int c = 0; c < channels; c++)
        {
            scale[c] = gamma[c] * invStd[c];
            bias[c] = beta[c] - mean[c] * scale[c];
        }
    }

    // Per-channel arrays are padded with zeros to whole vectors of the widest width, so they load without masks.
    static int Padded(int channels) => CpuParallel.ChunkCount(channels, 16) * 16;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static TVector Load<TSimd, TVector>(float* source, int count) where TSimd : struct, ISimd<TVector> where TVector : struct =>
        count == TSimd.Width ? TSimd.Load(source) : TSimd.LoadFirst(source, count);

    /// <summary>Per-channel coefficient arrays in this thread's scratch, each padded with zeros to whole vectors.</summary>
    readonly struct ChannelArrays
    {
        readonly float* data;
        readonly int stride;

        public ChannelArrays(int channels, int count)
        {
            stride = Padded(channels);
            data = Scratch.Get(ScratchSlot.CallOperand, (long)stride * count);
            new Span<float>(data, stride * count).Clear();
        }

        public float* this[int index] => data + (long)index * stride;
    }

    /// <summary>The per-channel terms of dx = gradientScale·g + centeredScale·(x - center) + constant.</summary>
    readonly struct BackwardCoefficients(float* center, float* gradientScale, float* centeredScale, float* constant)
    {
        public readonly float* Center = center, GradientScale = gradientScale, CenteredScale = centeredScale, Constant = constant;
    }

    /// <summary>
    /// Per chunk and channel, with d = x - center (a clip's center at centers + clip · centerStride): without dy,
    /// (Σd, Σd²); with dy, g = act'(x·scale + bias)·dy and (Σg, Σg·d). Chunks never cross a clip; <see cref="Totals"/>
    /// adds them in <see cref="BatchTree"/> order.
    /// </summary>
    readonly struct SumsJob : IActivationKernel
    {
        readonly float* x, centers, dy, scale, bias, partials;
        readonly int centerStride, clips, channels, stride, chunksPerClip;
        readonly long rows, rowsPerClip;

        public SumsJob(float* x, float* centers, int centerStride, float* dy, float* scale, float* bias, long rows, int clips, int channels)
        {
            this.x = x;
            this.centers = centers;
            this.dy = dy;
            this.scale = scale;
            this.bias = bias;
            (this.centerStride, this.rows, this.clips, this.channels) = (centerStride, rows, clips, channels);
            stride = Padded(channels);
            rowsPerClip = BatchTree.RowsPerClip(rows, clips);
            chunksPerClip = CpuParallel.ChunkCount(rowsPerClip, RowsPerChunk);
            partials = Scratch.Get(ScratchSlot.CallPartials, (long)clips * chunksPerClip * 2 * stride);
        }

        public void Run<TActivation, TSimd, TVector>()
            where TActivation : struct, IActivation where TSimd : struct, ISimd<TVector> where TVector : struct
        {
            var job = this;
            CpuParallel.For(clips * chunksPerClip, chunk =>
            {
                if (job.Statistics)
                    job.SumChunk<TActivation, TSimd, TVector, Off>(chunk);
                else
                    job.SumChunk<TActivation, TSimd, TVector, On>(chunk);
            });
        }

        bool Statistics => dy == null;

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        void SumChunk<TActivation, TSimd, TVector, TGradient>(int chunk)
            where TActivation : struct, IActivation where TSimd : struct, ISimd<TVector> where TVector : struct where TGradient : struct, IFlag
        {
            float* first = partials + (long)chunk * 2 * stride, second = first + stride;
            new Span<float>(first, 2 * stride).Clear();
            int clip = chunk / chunksPerClip;
            float* center = centers + (long)clip * centerStride;
            long clipStart = clip * rowsPerClip;
            long start = clipStart + (long)(chunk % chunksPerClip) * RowsPerChunk, end = Math.Min(clipStart + rowsPerClip, start + RowsPerChunk);
            for (long r = start; r < end; r++)
                for (int c = 0; c < channels; c += TSimd.Width)
                {
                    int count = Math.Min(TSimd.Width, channels - c);
                    long o = r * channels + c;
                    TVector xv = Load<TSimd, TVector>(x + o, count), d = TSimd.Subtract(xv, TSimd.Load(center + c)), weight = d;
                    if (TGradient.IsOn)
                        weight = TActivation.Backward<TSimd, TVector>(Load<TSimd, TVector>(dy + o, count),
                            TSimd.MultiplyAdd(xv, TSimd.Load(scale + c), TSimd.Load(bias + c)));
                    // Masked lanes read x = 0 and dy = 0, and the padded center is 0: they add nothing.
                    TSimd.Store(first + c, TSimd.Add(TSimd.Load(first + c), weight));
                    TSimd.Store(second + c, TSimd.MultiplyAdd(weight, d, TSimd.Load(second + c)));
                }
        }

        /// <summary>
        /// [rows, then per channel Σx and Σx² (statistics) or Σg and Σg·d (gradients)] in double: each clip's chunks
        /// in order (statistics: as raw moments, from its sums about its center), the clips in the tree; then, with
        /// <paramref name="addReplicas"/>, totals over every rank (rows too).
        /// </summary>
        public double[] Totals(Action<double[]>? addReplicas)
        {
            int width = 2 * channels;
            // Reused per thread: the BatchNorm layers of a step call this twice each.
            var perClip = clipSums is { } kept && kept.Length >= clips * width ? kept : clipSums = new double[clips * width];
            double* first = stackalloc double[channels], second = stackalloc double[channels];
            for (int clip = 0; clip < clips; clip++)
            {
                new Span<double>(first, channels).Clear();
                new Span<double>(second, channels).Clear();
                for (int chunk = clip * chunksPerClip; chunk < (clip + 1) * chunksPerClip; chunk++)
                    for (int c = 0; c < channels; c++)
                    {
                        first[c] += partials[(long)chunk * 2 * stride + c];
                        second[c] += partials[((long)chunk * 2 + 1) * stride + c];
                    }
                for (int c = 0; c < channels; c++)
                {
                    // Σx = n·s + Σd and Σx² = Σd² + 2·s·Σd + n·s², with d = x - s.
                    double shift = Statistics ? centers[(long)clip * centerStride + c] : 0;
                    perClip[clip * width + c] = first[c] + rowsPerClip * shift;
                    perClip[clip * width + channels + c] = second[c] + (2 * first[c] + rowsPerClip * shift) * shift;
                }
            }
            BatchTree.Sum(perClip.AsSpan(0, clips * width), width, clips);
            var totals = new double[1 + width];
            totals[0] = rows;
            perClip.AsSpan(0, width).CopyTo(totals.AsSpan(1));
            addReplicas?.Invoke(totals);
            return totals;
        }
    }

    /// <summary>
    /// Forward (no dy): output = act(x·scale + bias). Backward: output = dx = a·g + b·(x - center) + k with
    /// g = act'(x·scale + bias)·dy.
    /// </summary>
    readonly struct ApplyJob(float* output, float* x, float* scale, float* bias, float* dy, BackwardCoefficients backward, long rows, int channels) : IActivationKernel
    {
        public void Run<TActivation, TSimd, TVector>()
            where TActivation : struct, IActivation where TSimd : struct, ISimd<TVector> where TVector : struct
        {
            var job = this;
            CpuParallel.For(CpuParallel.ChunkCount(rows, RowsPerChunk), chunk =>
            {
                if (job.Gradient)
                    job.ApplyChunk<TActivation, TSimd, TVector, On>(chunk);
                else if (job.FewChannels<TSimd, TVector>())
                    job.ApplyFewChannels<TActivation, TSimd, TVector>(chunk);
                else
                    job.ApplyChunk<TActivation, TSimd, TVector, Off>(chunk);
            });
        }

        // Fewer channels than lanes (an RGB clip's normalization): the chunk as one flat run whose scale and bias repeat
        // every `channels` values, so a block of `channels` full vectors meets the same `channels` pattern vectors.
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        void ApplyFewChannels<TActivation, TSimd, TVector>(int chunk)
            where TActivation : struct, IActivation where TSimd : struct, ISimd<TVector> where TVector : struct
        {
            int period = channels * TSimd.Width;
            float* scales = stackalloc float[period], biases = stackalloc float[period];
            for (int i = 0; i < period; i++)
                (scales[i], biases[i]) = (scale[i % channels], bias[i % channels]);
            long start = (long)chunk * RowsPerChunk * channels, end = Math.Min(rows, (long)(chunk + 1) * RowsPerChunk) * channels, o = start;
            for (; o + period <= end; o += period)
                for (int j = 0; j < period; j += TSimd.Width)
                    TSimd.Store(output + o + j, TActivation.Forward<TSimd, TVector>(TSimd.MultiplyAdd(TSimd.Load(x + o + j), TSimd.Load(scales + j), TSimd.Load(biases + j))));
            for (; o < end; o += channels)
                for (int c = 0; c < channels; c++)
                    output[o + c] = TActivation.Forward<SimdScalar, float>(MathF.FusedMultiplyAdd(x[o + c], scale[c], bias[c]));
        }

        bool Gradient => dy != null;

        bool FewChannels<TSimd, TVector>() where TSimd : struct, ISimd<TVector> where TVector : struct => channels < TSimd.Width;

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        void ApplyChunk<TActivation, TSimd, TVector, TGradient>(int chunk)
            where TActivation : struct, IActivation where TSimd : struct, ISimd<TVector> where TVector : struct where TGradient : struct, IFlag
        {
            long start = (long)chunk * RowsPerChunk, end = Math.Min(rows, start + RowsPerChunk);
            for (long r = start; r < end; r++)
                for (int c = 0; c < channels; c += TSimd.Width)
                {
                    int count = Math.Min(TSimd.Width, channels - c);
                    long o = r * channels + c;
                    TVector xv = Load<TSimd, TVector>(x + o, count), v = TSimd.MultiplyAdd(xv, TSimd.Load(scale + c), TSimd.Load(bias + c));
                    TVector result;
                    if (TGradient.IsOn)
                    {
                        TVector g = TActivation.Backward<TSimd, TVector>(Load<TSimd, TVector>(dy + o, count), v);
                        TVector centered = TSimd.Subtract(xv, TSimd.Load(backward.Center + c));
                        result = TSimd.MultiplyAdd(TSimd.Load(backward.GradientScale + c), g,
                            TSimd.MultiplyAdd(TSimd.Load(backward.CenteredScale + c), centered, TSimd.Load(backward.Constant + c)));
                    }
                    else
                        result = TActivation.Forward<TSimd, TVector>(v);
                    if (count == TSimd.Width)
                        TSimd.Store(output + o, result);
                    else
                        TSimd.StoreFirst(output + o, result, count);
                }
        }
    }
}
