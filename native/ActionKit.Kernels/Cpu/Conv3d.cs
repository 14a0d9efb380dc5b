namespace ActionKit.Kernels.Cpu;

/// <summary>
/// Dense 3-D convolution (groups 1, no bias) on channels-last tensors, computed directly (no im2col buffer). Weights
/// use PyTorch's layout [Cout, Cin, kD, kH, kW], permuted once per call to [taps, Cin, Cout] (or [taps, Cout, Cin]
/// toward the input) for <see cref="DirectConv{TDense}"/>. X3D uses it once, for the stem's 1x3x3 stride (1,2,2)
/// convolution on RGB input.
/// </summary>
public static unsafe class Conv3d
{
    /// <summary>output [N, oD, oH, oW, Cout] = input [N, D, H, W, Cin] ⊛ weight (overwritten).</summary>
    public static void Forward(float* output, float* input, float* weight, in ConvGeometry g) =>
        DirectConv<On>.Gather(output, input, TapMajorWeight(weight, g, outputsInner: true), g, towardInput: false);

    /// <summary>dInput = dOutput ⊛ᵀ weight (overwritten).</summary>
    public static void BackwardInput(float* dInput, float* dOutput, float* weight, in ConvGeometry g) =>
        DirectConv<On>.Gather(dInput, dOutput, TapMajorWeight(weight, g, outputsInner: false), g, towardInput: true);

    /// <summary>dWeight += Σ dOutput ⊗ input patches (accumulated).</summary>
    public static void BackwardWeight(float* dWeight, float* dOutput, float* input, in ConvGeometry g)
    {
        g.Validate();
        float* total = Scratch.Get(ScratchSlot.CallOperand, WeightLength(g));
        DirectConv<On>.WeightGradient(total, dOutput, input, g);
        TapMajor.AddToTorch(dWeight, total, g.OutChannels, g.InChannels, g.KernelVolume);
    }

    static long WeightLength(in ConvGeometry g) => (long)g.OutChannels * g.InChannels * g.KernelVolume;

    static float* TapMajorWeight(float* weight, in ConvGeometry g, bool outputsInner)
    {
        g.Validate();
        float* tapMajor = Scratch.Get(ScratchSlot.CallOperand, WeightLength(g));
        TapMajor.FromTorch(tapMajor, weight, g.OutChannels, g.InChannels, g.KernelVolume, outputsInner);
        return tapMajor;
    }
}
