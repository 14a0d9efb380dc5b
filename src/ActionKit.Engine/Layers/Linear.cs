namespace ActionKit.Engine.Layers;

/// <summary>
/// y = x·Wᵀ (+ b) over the last dimension of x [..., in]: a fully connected layer, and also every 1x1x1 convolution
/// in channels-last layout (then the weight has PyTorch's conv shape [out, in, 1, 1, 1], the same memory).
/// </summary>
public sealed class Linear : Layer
{
    readonly int inFeatures, outFeatures;
    Tensor? input, output, inputGradient;

    public Linear(ParameterStore store, IBackend backend, string name, int inFeatures, int outFeatures, bool bias,
        int[]? weightShape = null, Initializer? initializer = null) : base(backend)
    {
        this.inFeatures = inFeatures;
        this.outFeatures = outFeatures;
        weightShape ??= [outFeatures, inFeatures];
        if (Tensor.ElementCount(weightShape) != (long)inFeatures * outFeatures)
            throw new ArgumentException($"{name}: weight shape {Tensor.Describe(weightShape)} is not {outFeatures}x{inFeatures}.");
        Weight = store.Add($"{name}.weight", weightShape, initializer ?? new Initializer.KaimingNormalFanOut());
        Bias = bias ? store.Add($"{name}.bias", [outFeatures], new Initializer.Constant(0)) : null;
    }

    public Parameter Weight { get; }
    public Parameter? Bias { get; }

    public Tensor Forward(Tensor x)
    {
        using var timing = Time("forward");
        if (x.Dim(-1) != inFeatures)
            throw new ArgumentException($"{Weight.Name}: expects {inFeatures} input features, got {Tensor.Describe(x.Shape)}.");
        int rows = checked((int)(x.Length / inFeatures));
        var shape = (int[])x.Shape.Clone();
        shape[^1] = outFeatures;
        Ensure(ref output, shape);
        Backend.MatMul(output!, x, Weight.Value, rows, outFeatures, inFeatures, transposeA: false, transposeB: true, accumulate: false);
        if (Bias is not null)
            Backend.BiasForward(output!, Bias.Value);
        input = x;
        return output!;
    }

    public Tensor Backward(Tensor dy)
    {
        using var timing = Time("backward");
        var x = Saved(input, Weight.Name);
        int rows = checked((int)(x.Length / inFeatures));
        Backend.LinearWeightGradient(Weight.Gradient, dy, x, outFeatures, inFeatures);
        if (Bias is not null)
            Backend.BiasBackward(Bias.Gradient, dy);
        Ensure(ref inputGradient, x.Shape);
        Backend.MatMul(inputGradient!, dy, Weight.Value, rows, inFeatures, outFeatures, transposeA: false, transposeB: false, accumulate: false);
        return inputGradient!;
    }
}
