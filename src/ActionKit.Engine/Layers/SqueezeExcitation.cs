using ActionKit.Kernels;

namespace ActionKit.Engine.Layers;

/// <summary>
/// Squeeze-excitation fused with the activation after it: y = act(x · sigmoid(fc2(relu(fc1(mean_THW(x)))))), with
/// fc1/fc2 1x1x1 convolutions with bias (PyTorch names se.fc1, se.fc2); X3D's blocks apply Swish there.
/// </summary>
public sealed class SqueezeExcitation : Layer
{
    readonly Linear reduce, expand;
    readonly Relu relu;
    readonly Sigmoid gate;
    readonly Activation activation;
    Tensor? input, pooled, scale, output, inputGradient, gateGradient;

    public SqueezeExcitation(ParameterStore store, IBackend backend, string name, int channels, int reduced,
        Activation activation = Activation.None) : base(backend)
    {
        this.activation = activation;
        reduce = Child(new Linear(store, backend, $"{name}.fc1", channels, reduced, bias: true, [reduced, channels, 1, 1, 1]));
        relu = Child(new Relu(backend));
        expand = Child(new Linear(store, backend, $"{name}.fc2", reduced, channels, bias: true, [channels, reduced, 1, 1, 1]));
        gate = Child(new Sigmoid(backend));
    }

    public Tensor Forward(Tensor x)
    {
        using var timing = Time("forward");
        Ensure(ref pooled, x.Dim(0), x.Dim(-1));
        Backend.GlobalAveragePoolForward(pooled!, x);
        scale = gate.Forward(expand.Forward(relu.Forward(reduce.Forward(pooled!))));
        Ensure(ref output, x.Shape);
        Backend.ChannelScaleForward(output!, x, scale, activation);
        input = x;
        return output!;
    }

    /// <summary>With <paramref name="overwriteGradient"/>, dx is written over dy, which the caller no longer needs.</summary>
    public Tensor Backward(Tensor dy, bool overwriteGradient = false)
    {
        using var timing = Time("backward");
        var x = Saved(input, nameof(SqueezeExcitation));
        var s = Saved(scale, nameof(SqueezeExcitation));
        var dx = overwriteGradient ? dy : Ensure(ref inputGradient, x.Shape);
        Ensure(ref gateGradient, s.Shape);
        Backend.ChannelScaleBackward(dx, gateGradient!, dy, x, s, activation);
        var dPooled = reduce.Backward(relu.Backward(expand.Backward(gate.Backward(gateGradient!))));
        // The pooling's gradient, dPooled / S at every position, added straight into dx.
        Backend.GlobalAveragePoolBackward(dx, dPooled, accumulate: true);
        return dx;
    }
}
