namespace ActionKit.Kernels.Cpu;

/// <summary>
/// Depthwise 3-D convolution (groups = channels, no bias) on channels-last tensors. Weights use PyTorch's layout
/// [C, 1, kD, kH, kW], i.e. [C, taps], transposed once per call to [taps, C] so that the inner loops read both
/// operands contiguously (see <see cref="DirectConv{TDense}"/>).
/// </summary>
public static unsafe class DepthwiseConv3d
{
    /// <summary>output [N, oD, oH, oW, C] = input [N, D, H, W, C] ⊛ weight [C, taps].</summary>
    public static void Forward(float* output, float* input, float* weight, in ConvGeometry g) =>
        DirectConv<Off>.Gather(output, input, TapMajorWeight(weight, g), g, towardInput: false);

    /// <summary>dInput [N, D, H, W, C] = dOutput ⊛ᵀ weight (overwritten).</summary>
    public static void BackwardInput(float* dInput, float* dOutput, float* weight, in ConvGeometry g) =>
        DirectConv<Off>.Gather(dInput, dOutput, TapMajorWeight(weight, g), g, towardInput: true);

    /// <summary>dWeight [C, taps] += Σ dOutput · input (accumulated).</summary>
    public static void BackwardWeight(float* dWeight, float* dOutput, float* input, in ConvGeometry g)
    {
        Check(g);
        float* total = Scratch.Get(ScratchSlot.CallOperand, (long)g.KernelVolume * g.InChannels);
        DirectConv<Off>.WeightGradient(total, dOutput, input, g);
        TapMajor.AddToTorch(dWeight, total, g.InChannels, 1, g.KernelVolume);
    }

    static float* TapMajorWeight(float* weight, in ConvGeometry g)
    {
        Check(g);
        float* tapMajor = Scratch.Get(ScratchSlot.CallOperand, (long)g.KernelVolume * g.InChannels);
        TapMajor.FromTorch(tapMajor, weight, g.InChannels, 1, g.KernelVolume, outputsInner: true);
        return tapMajor;
    }

    static void Check(in ConvGeometry g)
    {
        g.Validate();
        if (g.OutChannels != g.InChannels)
            throw new ArgumentException($"A depthwise convolution keeps its channel count: {g}");
    }
}
