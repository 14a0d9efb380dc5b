namespace ActionKit.Kernels.Cpu;

/// <summary>Parameter updates over flat buffers, as PyTorch's SGD and AdamW define them.</summary>
public static unsafe class Optimizers
{
    /// <summary>
    /// SGD with momentum and (coupled) weight decay: g += wd·p; buf = momentum·buf + g; p -= lr·buf.
    /// </summary>
    public static void Sgd(float* parameters, float* gradients, float* momentumBuffer, long count,
        float learningRate, float momentum, float weightDecay) =>
        Elementwise.ForChunks(count, (o, n) =>
        {
            for (long i = o; i < o + n; i++)
            {
                float g = gradients[i] + weightDecay * parameters[i];
                momentumBuffer[i] = momentum * momentumBuffer[i] + g;
                parameters[i] -= learningRate * momentumBuffer[i];
            }
        });

    /// <summary>
    /// AdamW (decoupled weight decay): p *= 1 - lr·wd; m = β1·m + (1-β1)·g; v = β2·v + (1-β2)·g²;
    /// p -= lr · m̂ / (sqrt(v̂) + ε) with bias corrections for <paramref name="step"/> (1-based).
    /// </summary>
    public static void AdamW(float* parameters, float* gradients, float* firstMoment, float* secondMoment, long count,
        float learningRate, float beta1, float beta2, float epsilon, float weightDecay, long step)
    {
        float correction1 = 1f - MathF.Pow(beta1, step), correction2 = 1f - MathF.Pow(beta2, step);
        float stepSize = learningRate / correction1, sqrtCorrection2 = MathF.Sqrt(correction2);
        Elementwise.ForChunks(count, (o, n) =>
        {
            for (long i = o; i < o + n; i++)
            {
                float g = gradients[i];
                parameters[i] *= 1f - learningRate * weightDecay;
                firstMoment[i] = beta1 * firstMoment[i] + (1 - beta1) * g;
                secondMoment[i] = beta2 * secondMoment[i] + (1 - beta2) * g * g;
                parameters[i] -= stepSize * firstMoment[i] / (MathF.Sqrt(secondMoment[i]) / sqrtCorrection2 + epsilon);
            }
        });
    }
}
