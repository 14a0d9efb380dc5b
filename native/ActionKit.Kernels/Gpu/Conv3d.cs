using ILGPU;

namespace ActionKit.Kernels.Gpu;

/// <summary>
/// Dense 3-D convolution (groups 1, no bias) on channels-last tensors, the twin of <see cref="Cpu.Conv3d"/>; weights
/// in PyTorch's layout [Cout, Cin, kD, kH, kW]. X3D uses it once, for the stem's 1x3x3 stride (1,2,2) convolution on
/// RGB input: three input channels, so one thread per output (or input) element summing taps x channels directly
/// is as fast as anything more elaborate, and the weight gradient is a fixed-chunk reduction over positions.
/// </summary>
public static class Conv3d
{
    /// <summary>Output positions summed by one thread of the weight gradient's first pass.</summary>
    const int PositionsPerChunk = 1024;

    /// <summary>output [N, oD, oH, oW, Cout] = input [N, D, H, W, Cin] ⊛ weight (overwritten).</summary>
    public static void Forward(GpuKernels gpu, ArrayView<float> output, ArrayView<float> input, ArrayView<float> weight, in ConvGeometry g)
    {
        g.Validate();
        gpu.Launch(ForwardKernel, GpuKernels.Extent(g.OutputLength, "Conv3d.Forward"), output, input, weight, g);
    }

    /// <summary>dInput = dOutput ⊛ᵀ weight (overwritten).</summary>
    public static void BackwardInput(GpuKernels gpu, ArrayView<float> dInput, ArrayView<float> dOutput, ArrayView<float> weight, in ConvGeometry g)
    {
        g.Validate();
        gpu.Launch(BackwardInputKernel, GpuKernels.Extent(g.InputLength, "Conv3d.BackwardInput"), dInput, dOutput, weight, g);
    }

    /// <summary>dWeight += Σ dOutput ⊗ input patches (accumulated): fixed chunks of positions, then the chunks in order.</summary>
    public static void BackwardWeight(GpuKernels gpu, ArrayView<float> dWeight, ArrayView<float> dOutput, ArrayView<float> input, in ConvGeometry g)
    {
        g.Validate();
        long positions = g.OutputLength / g.OutChannels, weights = (long)g.OutChannels * g.InChannels * g.KernelVolume;
        int chunks = (int)((positions + PositionsPerChunk - 1) / PositionsPerChunk);
        var partials = gpu.Scratch(GpuScratch.Partials, chunks * weights);
        gpu.Launch(WeightPartialsKernel, GpuKernels.Extent(chunks * weights, "Conv3d.BackwardWeight"), partials, dOutput, input, g, positions);
        gpu.Launch(WeightSumKernel, GpuKernels.Extent(weights, "Conv3d.BackwardWeight"), dWeight, partials, weights, chunks);
    }

    static void ForwardKernel(Index1D index, ArrayView<float> output, ArrayView<float> input, ArrayView<float> weight, ConvGeometry g)
    {
        int co = index % g.OutChannels;
        var o = ConvPosition.OfOutput(index / g.OutChannels, g);
        float sum = 0;
        for (int kd = 0; kd < g.KernelDepth; kd++)
            for (int kh = 0; kh < g.KernelHeight; kh++)
                for (int kw = 0; kw < g.KernelWidth; kw++)
                {
                    long at = o.InputOffset(kd, kh, kw, g);
                    if (at < 0)
                        continue;
                    int tap = (kd * g.KernelHeight + kh) * g.KernelWidth + kw;
                    for (int ci = 0; ci < g.InChannels; ci++)
                        sum += input[at * g.InChannels + ci] * weight[((long)co * g.InChannels + ci) * g.KernelVolume + tap];
                }
        output[index] = sum;
    }

    static void BackwardInputKernel(Index1D index, ArrayView<float> dInput, ArrayView<float> dOutput, ArrayView<float> weight, ConvGeometry g)
    {
        int ci = index % g.InChannels;
        var i = ConvPosition.OfInput(index / g.InChannels, g);
        float sum = 0;
        for (int kd = 0; kd < g.KernelDepth; kd++)
            for (int kh = 0; kh < g.KernelHeight; kh++)
                for (int kw = 0; kw < g.KernelWidth; kw++)
                {
                    long at = i.OutputOffset(kd, kh, kw, g);
                    if (at < 0)
                        continue;
                    int tap = (kd * g.KernelHeight + kh) * g.KernelWidth + kw;
                    for (int co = 0; co < g.OutChannels; co++)
                        sum += dOutput[at * g.OutChannels + co] * weight[((long)co * g.InChannels + ci) * g.KernelVolume + tap];
                }
        dInput[index] = sum;
    }

    // partials [chunk, weight]: one thread per (chunk, weight element) sums its chunk's positions in order.
    static void WeightPartialsKernel(Index1D index, ArrayView<float> partials, ArrayView<float> dOutput, ArrayView<float> input, ConvGeometry g, long positions)
    {
        int weights = g.OutChannels * g.InChannels * g.KernelVolume;
        int chunk = index / weights, w = index % weights;
        int tap = w % g.KernelVolume, ci = w / g.KernelVolume % g.InChannels, co = w / (g.KernelVolume * g.InChannels);
        int kw = tap % g.KernelWidth, kh = tap / g.KernelWidth % g.KernelHeight, kd = tap / (g.KernelWidth * g.KernelHeight);
        long start = (long)chunk * PositionsPerChunk, end = Math.Min(positions, start + PositionsPerChunk);
        float sum = 0;
        var o = ConvPosition.OfOutput(start, g);
        for (long position = start; position < end; position++, o = o.NextOutput(g))
        {
            long at = o.InputOffset(kd, kh, kw, g);
            if (at >= 0)
                sum += dOutput[position * g.OutChannels + co] * input[at * g.InChannels + ci];
        }
        partials[index] = sum;
    }

    static void WeightSumKernel(Index1D w, ArrayView<float> dWeight, ArrayView<float> partials, long weights, int chunks)
    {
        double sum = 0;
        for (int chunk = 0; chunk < chunks; chunk++)
            sum += partials[chunk * weights + w];
        dWeight[w] += (float)sum;
    }
}

/// <summary>
/// A position (n, z, y, x) of a convolution's output or input, and the offsets (in positions, not elements) of the
/// positions a tap links it to on the other side, or -1 where the tap falls into the padding or between strides.
/// </summary>
internal readonly struct ConvPosition(int n, int z, int y, int x)
{
    readonly int n = n, z = z, y = y, x = x;

    public static ConvPosition OfOutput(long position, in ConvGeometry g)
    {
        int ow = (int)(position % g.OutWidth), oh = (int)(position / g.OutWidth % g.OutHeight);
        int od = (int)(position / ((long)g.OutWidth * g.OutHeight) % g.OutDepth), n = (int)(position / ((long)g.OutWidth * g.OutHeight * g.OutDepth));
        return new ConvPosition(n, od, oh, ow);
    }

    public static ConvPosition OfInput(long position, in ConvGeometry g)
    {
        int iw = (int)(position % g.InWidth), ih = (int)(position / g.InWidth % g.InHeight);
        int id = (int)(position / ((long)g.InWidth * g.InHeight) % g.InDepth), n = (int)(position / ((long)g.InWidth * g.InHeight * g.InDepth));
        return new ConvPosition(n, id, ih, iw);
    }

    /// <summary>The output position after this one (x fastest): a walk over positions without a division per step.</summary>
    public ConvPosition NextOutput(in ConvGeometry g)
    {
        if (x + 1 < g.OutWidth)
            return new ConvPosition(n, z, y, x + 1);
        if (y + 1 < g.OutHeight)
            return new ConvPosition(n, z, y + 1, 0);
        return z + 1 < g.OutDepth ? new ConvPosition(n, z + 1, 0, 0) : new ConvPosition(n + 1, 0, 0, 0);
    }

    /// <summary>From an output position: the input position tap (kd, kh, kw) reads.</summary>
    public long InputOffset(int kd, int kh, int kw, in ConvGeometry g)
    {
        int id = z * g.StrideDepth - g.PadDepth + kd, ih = y * g.StrideHeight - g.PadHeight + kh, iw = x * g.StrideWidth - g.PadWidth + kw;
        if (id < 0 || id >= g.InDepth || ih < 0 || ih >= g.InHeight || iw < 0 || iw >= g.InWidth)
            return -1;
        return (((long)n * g.InDepth + id) * g.InHeight + ih) * g.InWidth + iw;
    }

    /// <summary>From an input position: the output position whose tap (kd, kh, kw) reads it.</summary>
    public long OutputOffset(int kd, int kh, int kw, in ConvGeometry g)
    {
        int od = OutputAt(z + g.PadDepth - kd, g.StrideDepth, g.OutDepth), oh = OutputAt(y + g.PadHeight - kh, g.StrideHeight, g.OutHeight);
        int ow = OutputAt(x + g.PadWidth - kw, g.StrideWidth, g.OutWidth);
        if (od < 0 || oh < 0 || ow < 0)
            return -1;
        return (((long)n * g.OutDepth + od) * g.OutHeight + oh) * g.OutWidth + ow;
    }

    // o with o·stride = t, or -1 when t is negative, not a multiple of the stride, or past the output.
    static int OutputAt(int t, int stride, int length) => t < 0 || t % stride != 0 || t / stride >= length ? -1 : t / stride;
}
