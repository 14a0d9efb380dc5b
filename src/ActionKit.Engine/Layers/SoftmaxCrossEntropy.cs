namespace ActionKit.Engine.Layers;

/// <summary>Mean softmax cross-entropy over a batch of logits [N, K], with optional label smoothing.</summary>
public sealed class SoftmaxCrossEntropy(IBackend backend, float labelSmoothing = 0) : Layer(backend)
{
    Tensor? losses, probabilities, logitsGradient;
    int[] labels = [];

    public float LabelSmoothing { get; } = labelSmoothing;

    /// <summary>Softmax probabilities of the last Forward, [N, K].</summary>
    public Tensor Probabilities => Saved(probabilities, nameof(SoftmaxCrossEntropy));

    /// <summary>Returns the mean loss; a non-finite loss is returned as is for the caller to stop on.</summary>
    public double Forward(Tensor logits, ReadOnlySpan<int> targets)
    {
        if (logits.Rank != 2 || targets.Length != logits.Dim(0))
            throw new ArgumentException($"Cross-entropy needs logits [N, K] and N labels, got {Tensor.Describe(logits.Shape)} and {targets.Length}.");
        foreach (int label in targets)
            if ((uint)label >= (uint)logits.Dim(1))
                throw new ArgumentOutOfRangeException(nameof(targets), $"Label {label} is outside [0, {logits.Dim(1)}).");
        Ensure(ref losses, logits.Dim(0));
        Ensure(ref probabilities, logits.Shape);
        labels = targets.ToArray();
        return Backend.CrossEntropyForward(losses!, probabilities!, logits, labels, LabelSmoothing);
    }

    /// <summary>The gradient of the mean loss with respect to the logits.</summary>
    public Tensor Backward()
    {
        var p = Probabilities;
        Ensure(ref logitsGradient, p.Shape);
        Backend.CrossEntropyBackward(logitsGradient!, p, labels, LabelSmoothing);
        return logitsGradient!;
    }
}
