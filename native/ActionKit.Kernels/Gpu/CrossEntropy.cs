using ILGPU;
using ILGPU.Algorithms;

namespace ActionKit.Kernels.Gpu;

/// <summary>
/// Softmax cross-entropy over logits [N, K] with integer labels and label smoothing, the twin of
/// <see cref="Cpu.CrossEntropy"/>; labels live on the device and the mean loss is written there too, so a training
/// step needs no host synchronization.
/// </summary>
public static class CrossEntropy
{
    /// <summary>
    /// probabilities = softmax(logits); losses[n] = -Σ_k target[n,k]·log p[n,k] with target = (1-ε)·onehot + ε/K;
    /// meanLoss[0] = the mean of losses (summed in sample order).
    /// </summary>
    public static void Forward(GpuKernels gpu, ArrayView<float> meanLoss, ArrayView<float> losses, ArrayView<float> probabilities,
        ArrayView<float> logits, ArrayView<int> labels, int batch, int classes, float smoothing)
    {
        gpu.Launch(ForwardKernel, batch, losses, probabilities, logits, labels, classes, smoothing);
        gpu.Launch(MeanKernel, 1, meanLoss, losses, batch);
    }

    /// <summary>dLogits = (p - target) / N: the gradient of the mean loss (overwritten).</summary>
    public static void Backward(GpuKernels gpu, ArrayView<float> dLogits, ArrayView<float> probabilities, ArrayView<int> labels,
        int batch, int classes, float smoothing) =>
        gpu.Launch(BackwardKernel, GpuKernels.Extent((long)batch * classes, "CrossEntropy.Backward"), dLogits, probabilities, labels, batch, classes, smoothing);

    // One thread per sample: the batch is small and the classes few, and each sample's sums then run in class order.
    static void ForwardKernel(Index1D n, ArrayView<float> losses, ArrayView<float> probabilities, ArrayView<float> logits,
        ArrayView<int> labels, int classes, float smoothing)
    {
        long row = (long)n.X * classes;
        float max = float.NegativeInfinity;
        for (int k = 0; k < classes; k++)
            max = Math.Max(max, logits[row + k]);
        double sum = 0;
        for (int k = 0; k < classes; k++)
            sum += XMath.Exp((double)(logits[row + k] - max));
        double logSum = XMath.Log(sum) + max, loss = 0;
        for (int k = 0; k < classes; k++)
        {
            double logP = logits[row + k] - logSum;
            probabilities[row + k] = (float)XMath.Exp(logP);
            loss -= Target(k, labels[n], classes, smoothing) * logP;
        }
        losses[n] = (float)loss;
    }

    static void MeanKernel(Index1D index, ArrayView<float> meanLoss, ArrayView<float> losses, int batch)
    {
        double total = 0;
        for (int n = 0; n < batch; n++)
            total += losses[n];
        meanLoss[0] = (float)(total / batch);
    }

    static void BackwardKernel(Index1D i, ArrayView<float> dLogits, ArrayView<float> probabilities, ArrayView<int> labels, int batch, int classes, float smoothing) =>
        dLogits[i] = (float)((probabilities[i] - Target(i % classes, labels[i / classes], classes, smoothing)) / batch);

    static double Target(int k, int label, int classes, float smoothing) =>
        (k == label ? 1.0 - smoothing : 0.0) + smoothing / classes;
}
