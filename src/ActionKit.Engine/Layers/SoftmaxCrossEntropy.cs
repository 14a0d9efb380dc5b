namespace ActionKit.Engine.Layers;

/// <summary>
/// Mean softmax cross-entropy over a batch of logits [N, K] against int32 labels [N] on the device, with optional
/// label smoothing. The loss stays on the device (<see cref="Loss"/>): reading it is the caller's choice of when to
/// synchronize.
/// </summary>
public sealed class SoftmaxCrossEntropy(IBackend backend, float labelSmoothing = 0) : Layer(backend)
{
    Tensor? loss, losses, probabilities, logitsGradient, labels;

    public float LabelSmoothing { get; } = labelSmoothing;

    /// <summary>Softmax probabilities of the last Forward, [N, K].</summary>
    public Tensor Probabilities => Saved(probabilities, nameof(SoftmaxCrossEntropy));

    /// <summary>The mean loss of the last Forward, [1]; non-finite when training diverged.</summary>
    public Tensor Loss => Saved(loss, nameof(SoftmaxCrossEntropy));

    /// <summary>Computes the mean loss into <see cref="Loss"/> and returns it; <paramref name="targets"/> are int32 [N] class ids.</summary>
    public Tensor Forward(Tensor logits, Tensor targets)
    {
        using var timing = Time("forward");
        if (logits.Rank != 2 || targets.DType != DType.Int32 || targets.Length != logits.Dim(0))
            throw new ArgumentException($"Cross-entropy needs logits [N, K] and N int32 labels, got {logits} and {targets}.");
        Ensure(ref loss, 1);
        Ensure(ref losses, logits.Dim(0));
        Ensure(ref probabilities, logits.Shape);
        labels = targets;
        Backend.CrossEntropyForward(loss!, losses!, probabilities!, logits, targets, LabelSmoothing);
        return loss!;
    }

    /// <summary>The gradient of the mean loss with respect to the logits.</summary>
    public Tensor Backward()
    {
        using var timing = Time("backward");
        var p = Probabilities;
        Ensure(ref logitsGradient, p.Shape);
        Backend.CrossEntropyBackward(logitsGradient!, p, Saved(labels, nameof(SoftmaxCrossEntropy)), LabelSmoothing);
        return logitsGradient!;
    }
}
