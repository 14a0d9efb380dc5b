using ActionKit.Kernels;

namespace ActionKit.Engine.Layers;

/// <summary>
/// Squeeze-excitation fused with the activation after it: y = act(x · sigmoid(fc2(relu(fc1(mean_THW(x)))))), with
/// fc1/fc2 1x1x1 convolutions with bias (PyTorch names se.fc1, se.fc2); X3D's blocks apply Swish there.
/// </summary>
public sealed class SqueezeExcitation : Layer
{
    readonly GlobalAveragePool pool;
    readonly Linear reduce, expand;
    readonly Relu relu;
    readonly Sigmoid gate;
    readonly Activation activation;
    Tensor? input, scale, output, inputGradient, gateGradient;

    public SqueezeExcitation(ParameterStore store, IBackend backend, string name, int channels, int reduced,
        Activation activation = Activation.None) : base(backend)
    {
        this.activation = activation;
        pool = new GlobalAveragePool(backend);
        reduce = new Linear(store, backend, $"{name}.fc1", channels, reduced, bias: true, [reduced, channels, 1, 1, 1]);
        relu = new Relu(backend);
        expand = new Linear(store, backend, $"{name}.fc2", reduced, channels, bias: true, [channels, reduced, 1, 1, 1]);
        gate = new Sigmoid(backend);
    }

    public Tensor Forward(Tensor x)
    {
        scale = gate.Forward(expand.Forward(relu.Forward(reduce.Forward(pool.Forward(x)))));
        Ensure(ref output, x.Shape);
        Backend.ChannelScaleForward(output!, x, scale, activation);
        input = x;
        return output!;
    }

    public Tensor Backward(Tensor dy)
    {
        var x = Saved(input, nameof(SqueezeExcitation));
        var s = Saved(scale, nameof(SqueezeExcitation));
        Ensure(ref inputGradient, x.Shape);
        Ensure(ref gateGradient, s.Shape);
        Backend.ChannelScaleBackward(inputGradient!, gateGradient!, dy, x, s, activation);
        var dPooled = reduce.Backward(relu.Backward(expand.Backward(gate.Backward(gateGradient!))));
        Backend.AddInPlace(inputGradient!, pool.Backward(dPooled));
        return inputGradient!;
    }
}
