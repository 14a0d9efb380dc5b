namespace ActionKit.Engine.Layers;

/// <summary>
/// 1x1x1 convolution with optional spatial stride (1, s, s): a GEMM over [N*D*H*W, C] in channels-last layout,
/// after sampling every s-th row and column when strided (X3D's shortcut).
/// </summary>
public sealed class PointwiseConv3d : Layer
{
    readonly int stride;
    readonly Linear mix;
    Tensor? input, sampled, inputGradient;

    public PointwiseConv3d(ParameterStore store, IBackend backend, string name, int inChannels, int outChannels,
        int stride = 1, bool bias = false) : base(backend)
    {
        this.stride = stride;
        mix = Child(new Linear(store, backend, name, inChannels, outChannels, bias, [outChannels, inChannels, 1, 1, 1]));
    }

    public Parameter Weight => mix.Weight;

    /// <summary>x [N, D, H, W, Cin] to [N, D, ceil(H/s), ceil(W/s), Cout].</summary>
    public Tensor Forward(Tensor x)
    {
        using var timing = Time("forward");
        if (x.Rank != 5)
            throw new ArgumentException($"{Weight.Name}: expects [N, D, H, W, C], got {Tensor.Describe(x.Shape)}.");
        input = x;
        if (stride == 1)
            return mix.Forward(x);
        Ensure(ref sampled, x.Dim(0), x.Dim(1), (x.Dim(2) + stride - 1) / stride, (x.Dim(3) + stride - 1) / stride, x.Dim(4));
        Backend.SubsampleForward(sampled!, x, stride);
        return mix.Forward(sampled!);
    }

    public Tensor Backward(Tensor dy)
    {
        using var timing = Time("backward");
        var x = Saved(input, Weight.Name);
        var dSampled = mix.Backward(dy);
        if (stride == 1)
            return dSampled;
        Ensure(ref inputGradient, x.Shape);
        Backend.SubsampleBackward(inputGradient!, dSampled, stride);
        return inputGradient!;
    }
}
