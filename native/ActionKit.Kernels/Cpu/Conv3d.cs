using System.Runtime.InteropServices;

namespace ActionKit.Kernels.Cpu;

/// <summary>
/// Dense 3-D convolution (groups 1, no bias) on channels-last tensors, as im2col + GEMM. Weights use PyTorch's layout
/// [Cout, Cin, kD, kH, kW]. X3D uses it once, for the stem's 1x3x3 stride (1,2,2) convolution on RGB input.
/// </summary>
public static unsafe class Conv3d
{
    /// <summary>output [N, oD, oH, oW, Cout] = input [N, D, H, W, Cin] ⊛ weight (overwritten).</summary>
    public static void Forward(float* output, float* input, float* weight, in ConvGeometry g)
    {
        using var columns = new Scratch(RowCount(g) * PatchLength(g));
        using var kernel = new Scratch((long)g.OutChannels * PatchLength(g));
        PermuteWeight(kernel.Pointer, weight, g, toPatchOrder: true);
        ImageToColumns(columns.Pointer, input, g);
        Gemm.Multiply(output, columns.Pointer, kernel.Pointer, checked((int)RowCount(g)), g.OutChannels, PatchLength(g),
            transposeA: false, transposeB: true, accumulate: false);
    }

    /// <summary>dInput = dOutput ⊛ᵀ weight (overwritten).</summary>
    public static void BackwardInput(float* dInput, float* dOutput, float* weight, in ConvGeometry g)
    {
        using var columns = new Scratch(RowCount(g) * PatchLength(g));
        using var kernel = new Scratch((long)g.OutChannels * PatchLength(g));
        PermuteWeight(kernel.Pointer, weight, g, toPatchOrder: true);
        Gemm.Multiply(columns.Pointer, dOutput, kernel.Pointer, checked((int)RowCount(g)), PatchLength(g), g.OutChannels,
            transposeA: false, transposeB: false, accumulate: false);
        ColumnsToImage(dInput, columns.Pointer, g);
    }

    /// <summary>dWeight += Σ dOutput ⊗ input patches (accumulated).</summary>
    public static void BackwardWeight(float* dWeight, float* dOutput, float* input, in ConvGeometry g)
    {
        using var columns = new Scratch(RowCount(g) * PatchLength(g));
        using var kernel = new Scratch((long)g.OutChannels * PatchLength(g));
        ImageToColumns(columns.Pointer, input, g);
        Gemm.Multiply(kernel.Pointer, dOutput, columns.Pointer, g.OutChannels, PatchLength(g), checked((int)RowCount(g)),
            transposeA: true, transposeB: false, accumulate: false);
        PermuteWeight(kernel.Pointer, dWeight, g, toPatchOrder: false);
    }

    static long RowCount(in ConvGeometry g) => (long)g.Batch * g.OutDepth * g.OutHeight * g.OutWidth;

    // A patch is ordered (kd, kh, kw, cin) so that each tap copies Cin contiguous channels.
    static int PatchLength(in ConvGeometry g) => g.KernelVolume * g.InChannels;

    // [Cout, Cin, taps] <-> [Cout, taps, Cin]; the way back accumulates into the PyTorch-layout gradient.
    static void PermuteWeight(float* patchOrder, float* torchOrder, in ConvGeometry g, bool toPatchOrder)
    {
        int taps = g.KernelVolume, cin = g.InChannels;
        for (int o = 0; o < g.OutChannels; o++)
            for (int c = 0; c < cin; c++)
                for (int t = 0; t < taps; t++)
                {
                    long torchIndex = ((long)o * cin + c) * taps + t, patchIndex = ((long)o * taps + t) * cin + c;
                    if (toPatchOrder)
                        patchOrder[patchIndex] = torchOrder[torchIndex];
                    else
                        torchOrder[torchIndex] += patchOrder[patchIndex];
                }
    }

    static void ImageToColumns(float* columns, float* input, ConvGeometry g) =>
        CpuParallel.For(g.Batch * g.OutDepth, plane =>
        {
            int n = plane / g.OutDepth, z = plane % g.OutDepth, channels = g.InChannels;
            for (int y = 0; y < g.OutHeight; y++)
                for (int x = 0; x < g.OutWidth; x++)
                {
                    float* patch = columns + (((long)plane * g.OutHeight + y) * g.OutWidth + x) * PatchLength(g);
                    for (int tap = 0; tap < g.KernelVolume; tap++)
                    {
                        long offset = InputOffset(g, n, z, y, x, tap);
                        var target = new Span<float>(patch + (long)tap * channels, channels);
                        if (offset < 0)
                            target.Clear();
                        else
                            new ReadOnlySpan<float>(input + offset, channels).CopyTo(target);
                    }
                }
        });

    // Overlapping patches of one clip are summed by one thread, so the result is the same for any thread count.
    static void ColumnsToImage(float* dInput, float* columns, ConvGeometry g) =>
        CpuParallel.For(g.Batch, n =>
        {
            long clipLength = (long)g.InDepth * g.InHeight * g.InWidth * g.InChannels;
            new Span<float>(dInput + n * clipLength, checked((int)clipLength)).Clear();
            for (int z = 0; z < g.OutDepth; z++)
                for (int y = 0; y < g.OutHeight; y++)
                    for (int x = 0; x < g.OutWidth; x++)
                    {
                        float* patch = columns + ((((long)n * g.OutDepth + z) * g.OutHeight + y) * g.OutWidth + x) * PatchLength(g);
                        for (int tap = 0; tap < g.KernelVolume; tap++)
                        {
                            long offset = InputOffset(g, n, z, y, x, tap);
                            if (offset >= 0)
                                for (int c = 0; c < g.InChannels; c++)
                                    dInput[offset + c] += patch[(long)tap * g.InChannels + c];
                        }
                    }
        });

    // Offset of the first channel of the input pixel under kernel tap (kz, ky, kx), or -1 in the padding.
    static long InputOffset(in ConvGeometry g, int n, int z, int y, int x, int tap)
    {
        int kx = tap % g.KernelWidth, ky = tap / g.KernelWidth % g.KernelHeight, kz = tap / (g.KernelWidth * g.KernelHeight);
        int iz = z * g.StrideDepth - g.PadDepth + kz;
        int iy = y * g.StrideHeight - g.PadHeight + ky;
        int ix = x * g.StrideWidth - g.PadWidth + kx;
        bool inside = (uint)iz < (uint)g.InDepth && (uint)iy < (uint)g.InHeight && (uint)ix < (uint)g.InWidth;
        return inside ? ((((long)n * g.InDepth + iz) * g.InHeight + iy) * g.InWidth + ix) * g.InChannels : -1;
    }

    /// <summary>A native, 64-byte aligned float buffer for one call's intermediate results.</summary>
    sealed class Scratch(long length) : IDisposable
    {
        public float* Pointer { get; } = (float*)NativeMemory.AlignedAlloc((nuint)(Math.Max(length, 1) * sizeof(float)), 64);

        public void Dispose() => NativeMemory.AlignedFree(Pointer);
    }
}
