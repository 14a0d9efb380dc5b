namespace ActionKit.Kernels.Cpu;

/// <summary>
/// Depthwise 3-D convolution (groups = channels, no bias) on channels-last tensors. Weights use PyTorch's layout
/// [C, 1, kD, kH, kW], i.e. [C, taps].
/// </summary>
public static unsafe class DepthwiseConv3d
{
    /// <summary>output [N, oD, oH, oW, C] = input [N, D, H, W, C] ⊛ weight [C, taps].</summary>
    public static void Forward(float* output, float* input, float* weight, in ConvGeometry g)
    {
        int c = g.InChannels, od = g.OutDepth, oh = g.OutHeight, ow = g.OutWidth;
        for (int n = 0; n < g.Batch; n++)
            for (int z = 0; z < od; z++)
                for (int y = 0; y < oh; y++)
                    for (int x = 0; x < ow; x++)
                        for (int ch = 0; ch < c; ch++)
                        {
                            float sum = 0;
                            for (int kz = 0; kz < g.KernelDepth; kz++)
                                for (int ky = 0; ky < g.KernelHeight; ky++)
                                    for (int kx = 0; kx < g.KernelWidth; kx++)
                                    {
                                        int iz = z * g.StrideDepth - g.PadDepth + kz, iy = y * g.StrideHeight - g.PadHeight + ky, ix = x * g.StrideWidth - g.PadWidth + kx;
                                        if ((uint)iz >= (uint)g.InDepth || (uint)iy >= (uint)g.InHeight || (uint)ix >= (uint)g.InWidth)
                                            continue;
                                        int tap = (kz * g.KernelHeight + ky) * g.KernelWidth + kx;
                                        sum += input[((((long)n * g.InDepth + iz) * g.InHeight + iy) * g.InWidth + ix) * c + ch] * weight[(long)ch * g.KernelVolume + tap];
                                    }
                            output[((((long)n * od + z) * oh + y) * ow + x) * c + ch] = sum;
                        }
    }

    /// <summary>dInput [N, D, H, W, C] = dOutput ⊛ᵀ weight (overwritten).</summary>
    public static void BackwardInput(float* dInput, float* dOutput, float* weight, in ConvGeometry g)
    {
        new Span<float>(dInput, checked((int)g.InputLength)).Clear();
        Scatter(dInput, dOutput, weight, g, accumulateWeight: false);
    }

    /// <summary>dWeight [C, taps] += Σ dOutput · input (accumulated).</summary>
    public static void BackwardWeight(float* dWeight, float* dOutput, float* input, in ConvGeometry g) =>
        Scatter(dWeight, dOutput, input, g, accumulateWeight: true);

    static void Scatter(float* target, float* dOutput, float* other, in ConvGeometry g, bool accumulateWeight)
    {
        int c = g.InChannels, od = g.OutDepth, oh = g.OutHeight, ow = g.OutWidth;
        for (int n = 0; n < g.Batch; n++)
            for (int z = 0; z < od; z++)
                for (int y = 0; y < oh; y++)
                    for (int x = 0; x < ow; x++)
                        for (int ch = 0; ch < c; ch++)
                        {
                            float dy = dOutput[((((long)n * od + z) * oh + y) * ow + x) * c + ch];
                            for (int kz = 0; kz < g.KernelDepth; kz++)
                                for (int ky = 0; ky < g.KernelHeight; ky++)
                                    for (int kx = 0; kx < g.KernelWidth; kx++)
                                    {
                                        int iz = z * g.StrideDepth - g.PadDepth + kz, iy = y * g.StrideHeight - g.PadHeight + ky, ix = x * g.StrideWidth - g.PadWidth + kx;
                                        if ((uint)iz >= (uint)g.InDepth || (uint)iy >= (uint)g.InHeight || (uint)ix >= (uint)g.InWidth)
                                            continue;
                                        long inputIndex = ((((long)n * g.InDepth + iz) * g.InHeight + iy) * g.InWidth + ix) * c + ch;
                                        long weightIndex = (long)ch * g.KernelVolume + (kz * g.KernelHeight + ky) * g.KernelWidth + kx;
                                        if (accumulateWeight)
                                            target[weightIndex] += dy * other[inputIndex];
                                        else
                                            target[inputIndex] += dy * other[weightIndex];
                                    }
                        }
    }
}
