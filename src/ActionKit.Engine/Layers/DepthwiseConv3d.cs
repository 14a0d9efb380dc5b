using ActionKit.Kernels;

namespace ActionKit.Engine.Layers;

/// <summary>Depthwise 3-D convolution (groups = channels, no bias): the stem's 5x1x1 and the blocks' 3x3x3.</summary>
public sealed class DepthwiseConv3d : Layer
{
    readonly int channels;
    readonly (int D, int H, int W) kernel, stride, padding;
    Tensor? input, output, inputGradient;

    public DepthwiseConv3d(ParameterStore store, IBackend backend, string name, int channels,
        (int D, int H, int W) kernel, (int D, int H, int W) stride, (int D, int H, int W) padding) : base(backend)
    {
        this.channels = channels;
        this.kernel = kernel;
        this.stride = stride;
        this.padding = padding;
        Weight = store.Add($"{name}.weight", [channels, 1, kernel.D, kernel.H, kernel.W], new Initializer.KaimingNormalFanOut());
    }

    public Parameter Weight { get; }

    ConvGeometry Geometry(Tensor x) => new(x.Dim(0), x.Dim(1), x.Dim(2), x.Dim(3), channels, channels,
        kernel.D, kernel.H, kernel.W, stride.D, stride.H, stride.W, padding.D, padding.H, padding.W);

    /// <summary>x [N, D, H, W, C] to [N, oD, oH, oW, C].</summary>
    public Tensor Forward(Tensor x)
    {
        using var timing = Time("forward");
        RequireChannels(x, 5, channels, nameof(DepthwiseConv3d));
        var g = Geometry(x);
        g.Validate();
        Ensure(ref output, g.Batch, g.OutDepth, g.OutHeight, g.OutWidth, channels);
        Backend.DepthwiseConv3dForward(output!, x, Weight.Value, g);
        input = x;
        return output!;
    }

    public Tensor Backward(Tensor dy)
    {
        using var timing = Time("backward");
        var x = Saved(input, nameof(DepthwiseConv3d));
        var g = Geometry(x);
        Backend.DepthwiseConv3dBackwardWeight(Weight.Gradient, dy, x, g);
        Ensure(ref inputGradient, x.Shape);
        Backend.DepthwiseConv3dBackwardInput(inputGradient!, dy, Weight.Value, g);
        return inputGradient!;
    }
}
