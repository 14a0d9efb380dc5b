namespace ActionKit.Engine.Layers;

/// <summary>ReLU: y = max(x, 0).</summary>
public sealed class Relu(IBackend backend) : Layer(backend)
{
    Tensor? output, inputGradient;

    public Tensor Forward(Tensor x)
    {
        using var timing = Time("forward");
        Ensure(ref output, x.Shape);
        Backend.Relu(output!, x);
        return output!;
    }

    public Tensor Backward(Tensor dy)
    {
        using var timing = Time("backward");
        var y = Saved(output, nameof(Relu));
        Ensure(ref inputGradient, y.Shape);
        Backend.ReluBackward(inputGradient!, dy, y);
        return inputGradient!;
    }
}

/// <summary>Sigmoid: y = 1 / (1 + e^-x); backward uses the output.</summary>
public sealed class Sigmoid(IBackend backend) : Layer(backend)
{
    Tensor? output, inputGradient;

    public Tensor Forward(Tensor x)
    {
        using var timing = Time("forward");
        Ensure(ref output, x.Shape);
        Backend.Sigmoid(output!, x);
        return output!;
    }

    public Tensor Backward(Tensor dy)
    {
        using var timing = Time("backward");
        var y = Saved(output, nameof(Sigmoid));
        Ensure(ref inputGradient, y.Shape);
        Backend.SigmoidBackward(inputGradient!, dy, y);
        return inputGradient!;
    }
}
