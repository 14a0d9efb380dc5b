namespace ActionKit.Kernels.Cpu;

/// <summary>Softmax cross-entropy over logits [N, K] with integer labels and optional label smoothing.</summary>
public static unsafe class CrossEntropy
{
    /// <summary>
    /// probabilities = softmax(logits); losses[n] = -Σ_k target[n,k]·log p[n,k] with target = (1-ε)·onehot + ε/K.
    /// Returns the mean loss.
    /// </summary>
    public static double Forward(float* losses, float* probabilities, float* logits, int* labels, int batch, int classes, float smoothing)
    {
        double total = 0;
        for (int n = 0; n < batch; n++)
        {
            float* z = logits + (long)n * classes, p = probabilities + (long)n * classes;
            float max = float.NegativeInfinity;
            for (int k = 0; k < classes; k++)
                max = Math.Max(max, z[k]);
            double sum = 0;
            for (int k = 0; k < classes; k++)
                sum += Math.Exp(z[k] - max);
            double logSum = Math.Log(sum) + max, loss = 0;
            for (int k = 0; k < classes; k++)
            {
                double logP = z[k] - logSum;
                p[k] = (float)Math.Exp(logP);
                loss -= Target(k, labels[n], classes, smoothing) * logP;
            }
            losses[n] = (float)loss;
            total += loss;
        }
        return total / batch;
    }

    /// <summary>dLogits = (p - target) / N: the gradient of the mean loss (overwritten).</summary>
    public static void Backward(float* dLogits, float* probabilities, int* labels, int batch, int classes, float smoothing)
    {
        for (int n = 0; n < batch; n++)
            for (int k = 0; k < classes; k++)
            {
                long i = (long)n * classes + k;
                dLogits[i] = (float)((probabilities[i] - Target(k, labels[n], classes, smoothing)) / batch);
            }
    }

    static double Target(int k, int label, int classes, float smoothing) =>
        (k == label ? 1.0 - smoothing : 0.0) + smoothing / classes;
}
