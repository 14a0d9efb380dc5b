namespace ActionKit.Engine.Layers;

/// <summary>Mean over time and space: [N, D, H, W, C] to [N, C].</summary>
public sealed class GlobalAveragePool(IBackend backend) : Layer(backend)
{
    Tensor? input, output, inputGradient;

    public Tensor Forward(Tensor x)
    {
        using var timing = Time("forward");
        Ensure(ref output, x.Dim(0), x.Dim(-1));
        Backend.GlobalAveragePoolForward(output!, x);
        input = x;
        return output!;
    }

    public Tensor Backward(Tensor dy)
    {
        using var timing = Time("backward");
        var x = Saved(input, nameof(GlobalAveragePool));
        Ensure(ref inputGradient, x.Shape);
        Backend.GlobalAveragePoolBackward(inputGradient!, dy, accumulate: false);
        return inputGradient!;
    }
}
