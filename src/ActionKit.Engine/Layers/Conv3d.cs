using ActionKit.Kernels;

namespace ActionKit.Engine.Layers;

/// <summary>Dense 3-D convolution without bias (groups 1): the X3D stem's 1x3x3, stride (1,2,2) convolution on RGB.</summary>
public sealed class Conv3d : Layer
{
    readonly int inChannels, outChannels;
    readonly (int D, int H, int W) kernel, stride, padding;
    Tensor? input, output, inputGradient;

    public Conv3d(ParameterStore store, IBackend backend, string name, int inChannels, int outChannels,
        (int D, int H, int W) kernel, (int D, int H, int W) stride, (int D, int H, int W) padding) : base(backend)
    {
        this.inChannels = inChannels;
        this.outChannels = outChannels;
        this.kernel = kernel;
        this.stride = stride;
        this.padding = padding;
        Weight = store.Add($"{name}.weight", [outChannels, inChannels, kernel.D, kernel.H, kernel.W], new Initializer.KaimingNormalFanOut());
    }

    public Parameter Weight { get; }

    ConvGeometry Geometry(Tensor x) => new(x.Dim(0), x.Dim(1), x.Dim(2), x.Dim(3), inChannels, outChannels,
        kernel.D, kernel.H, kernel.W, stride.D, stride.H, stride.W, padding.D, padding.H, padding.W);

    /// <summary>x [N, D, H, W, Cin] to [N, oD, oH, oW, Cout].</summary>
    public Tensor Forward(Tensor x)
    {
        using var timing = Time("forward");
        RequireChannels(x, 5, inChannels, nameof(Conv3d));
        var g = Geometry(x);
        g.Validate();
        Ensure(ref output, g.Batch, g.OutDepth, g.OutHeight, g.OutWidth, outChannels);
        Backend.Conv3dForward(output!, x, Weight.Value, g);
        input = x;
        return output!;
    }

    /// <summary>Accumulates the weight gradient; returns dx, or null when the input (e.g. the data) needs none.</summary>
    public Tensor? Backward(Tensor dy, bool needInputGradient)
    {
        using var timing = Time("backward");
        var x = Saved(input, nameof(Conv3d));
        var g = Geometry(x);
        Backend.Conv3dBackwardWeight(Weight.Gradient, dy, x, g);
        if (!needInputGradient)
            return null;
        Ensure(ref inputGradient, x.Shape);
        Backend.Conv3dBackwardInput(inputGradient!, dy, Weight.Value, g);
        return inputGradient;
    }
}
