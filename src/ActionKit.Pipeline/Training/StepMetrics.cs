using ActionKit.Engine;
using ActionKit.Engine.Layers;

namespace ActionKit.Pipeline.Training;

/// <summary>
/// The training loss and accuracy of the steps since the last read, kept on the device: each step copies its mean
/// loss and probabilities into a slot (device to device, no wait), and <see cref="Read"/> downloads every slot at
/// once, so the host waits for the device once per logging interval instead of every step.
/// </summary>
sealed class StepMetrics(IBackend backend, int capacity, int batchSize, int classes) : IDisposable
{
    readonly Tensor losses = backend.Allocate(capacity);
    readonly Tensor probabilities = backend.Allocate(capacity * batchSize * classes);
    readonly List<Slot> slots = [];

    public bool Full => slots.Count == capacity;

    /// <summary>Keeps the last step's loss and probabilities; <paramref name="rate"/> is the learning rate that led to it.</summary>
    public void Add(SoftmaxCrossEntropy loss, int[] labels, long step, double rate)
    {
        var p = loss.Probabilities;
        if (Full || p.Dim(0) > batchSize || p.Dim(1) != classes)
            throw new InvalidOperationException($"Step metrics hold {capacity} steps of [{batchSize}, {classes}] probabilities, got {p} with {slots.Count} kept.");
        backend.Copy(losses.View(slots.Count, 1), loss.Loss);
        backend.Copy(probabilities.View((long)slots.Count * batchSize * classes, p.Shape), p);
        slots.Add(new Slot(labels, step, rate));
    }

    /// <summary>
    /// The kept steps' summed loss (each mean weighted by its batch), correct top-1 predictions and clips, and the
    /// first step whose loss is not finite; empties the slots.
    /// </summary>
    public (double LossSum, int Correct, int Seen, (long Step, float Loss, double Rate)? Diverged) Read()
    {
        if (slots.Count == 0)
            return (0, 0, 0, null);
        var lossValues = losses.ToArray();
        var probabilityValues = probabilities.ToArray();
        double lossSum = 0;
        int correct = 0, seen = 0;
        for (int s = 0; s < slots.Count; s++)
        {
            var slot = slots[s];
            if (!float.IsFinite(lossValues[s]))
            {
                slots.Clear();
                return (lossSum, correct, seen, (slot.Step, lossValues[s], slot.Rate));
            }
            lossSum += lossValues[s] * (double)slot.Labels.Length;
            seen += slot.Labels.Length;
            for (int row = 0; row < slot.Labels.Length; row++)
            {
                var p = probabilityValues.AsSpan(((s * batchSize) + row) * classes, classes);
                int best = 0;
                for (int k = 1; k < classes; k++)
                    if (p[k] > p[best])
                        best = k;
                correct += best == slot.Labels[row] ? 1 : 0;
            }
        }
        slots.Clear();
        return (lossSum, correct, seen, null);
    }

    public void Dispose()
    {
        losses.Dispose();
        probabilities.Dispose();
    }

    sealed record Slot(int[] Labels, long Step, double Rate);
}
