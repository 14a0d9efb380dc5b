namespace ActionKit.Engine.Layers;

/// <summary>ReLU: y = max(x, 0).</summary>
public sealed class Relu(IBackend backend) : Layer(backend)
{
    Tensor? output, inputGradient;

    public Tensor Forward(Tensor x)
    {
        Ensure(ref output, x.Shape);
        Backend.Relu(output!, x);
        return output!;
    }

    public Tensor Backward(Tensor dy)
    {
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
        Ensure(ref output, x.Shape);
        Backend.Sigmoid(output!, x);
        return output!;
    }

    public Tensor Backward(Tensor dy)
    {
        var y = Saved(output, nameof(Sigmoid));
        Ensure(ref inputGradient, y.Shape);
        Backend.SigmoidBackward(inputGradient!, dy, y);
        return inputGradient!;
    }
}

/// <summary>Swish (SiLU): y = x · sigmoid(x); backward recomputes the sigmoid from the saved input.</summary>
public sealed class Swish(IBackend backend) : Layer(backend)
{
    Tensor? input, output, inputGradient;

    public Tensor Forward(Tensor x)
    {
        Ensure(ref output, x.Shape);
        Backend.Swish(output!, x);
        input = x;
        return output!;
    }

    public Tensor Backward(Tensor dy)
    {
        var x = Saved(input, nameof(Swish));
        Ensure(ref inputGradient, x.Shape);
        Backend.SwishBackward(inputGradient!, dy, x);
        return inputGradient!;
    }
}
