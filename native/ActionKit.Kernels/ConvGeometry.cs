namespace ActionKit.Kernels;

/// <summary>
/// Sizes of one 3-D convolution over channels-last tensors: input [N, D, H, W, Cin], output
/// [N, OutDepth, OutHeight, OutWidth, Cout]. Padding is symmetric, as in PyTorch's Conv3d.
/// </summary>
public readonly record struct ConvGeometry(
    int Batch, int InDepth, int InHeight, int InWidth, int InChannels, int OutChannels,
    int KernelDepth, int KernelHeight, int KernelWidth,
    int StrideDepth = 1, int StrideHeight = 1, int StrideWidth = 1,
    int PadDepth = 0, int PadHeight = 0, int PadWidth = 0)
{
    public int OutDepth => (InDepth + 2 * PadDepth - KernelDepth) / StrideDepth + 1;
    public int OutHeight => (InHeight + 2 * PadHeight - KernelHeight) / StrideHeight + 1;
    public int OutWidth => (InWidth + 2 * PadWidth - KernelWidth) / StrideWidth + 1;
    public int KernelVolume => KernelDepth * KernelHeight * KernelWidth;
    public long InputLength => (long)Batch * InDepth * InHeight * InWidth * InChannels;
    public long OutputLength => (long)Batch * OutDepth * OutHeight * OutWidth * OutChannels;

    /// <summary>Multiply-adds of the forward pass for a convolution with <paramref name="groups"/> groups.</summary>
    public long MultiplyAdds(int groups) =>
        (long)Batch * OutDepth * OutHeight * OutWidth * OutChannels * KernelVolume * (InChannels / groups);

    /// <summary>Throws when a size is not positive or the kernel does not fit the padded input.</summary>
    public void Validate()
    {
        if (Batch <= 0 || InDepth <= 0 || InHeight <= 0 || InWidth <= 0 || InChannels <= 0 || OutChannels <= 0)
            throw new ArgumentException($"Convolution sizes must be positive: {this}");
        if (KernelDepth <= 0 || KernelHeight <= 0 || KernelWidth <= 0 || StrideDepth <= 0 || StrideHeight <= 0 || StrideWidth <= 0)
            throw new ArgumentException($"Kernel and stride must be positive: {this}");
        if (PadDepth < 0 || PadHeight < 0 || PadWidth < 0 || OutDepth <= 0 || OutHeight <= 0 || OutWidth <= 0)
            throw new ArgumentException($"Kernel does not fit the padded input: {this}");
    }
}
