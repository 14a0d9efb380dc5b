namespace ActionKit.Engine.Layers;

/// <summary>Inverted dropout; the identity in evaluation. The mask is drawn from the seed given to each call.</summary>
public sealed class Dropout(IBackend backend, float probability) : Layer(backend)
{
    Tensor? output, mask, inputGradient;
    bool active;

    public float Probability { get; } = probability is >= 0 and < 1
        ? probability
        : throw new ArgumentOutOfRangeException(nameof(probability), "Dropout probability must be in [0, 1).");

    public Tensor Forward(Tensor x, bool training, ulong seed)
    {
        using var timing = Time("forward");
        active = training && Probability > 0;
        if (!active)
            return x;
        Ensure(ref output, x.Shape);
        Ensure(ref mask, x.Shape);
        Backend.DropoutForward(output!, mask!, x, Probability, seed);
        return output!;
    }

    public Tensor Backward(Tensor dy)
    {
        using var timing = Time("backward");
        if (!active)
            return dy;
        Ensure(ref inputGradient, dy.Shape);
        Backend.DropoutBackward(inputGradient!, dy, Saved(mask, nameof(Dropout)));
        return inputGradient!;
    }
}
