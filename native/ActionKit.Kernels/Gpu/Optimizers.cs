using ILGPU;

namespace ActionKit.Kernels.Gpu;

/// <summary>Parameter updates over flat buffers, the twins of <see cref="Cpu.Optimizers"/> (PyTorch's SGD and AdamW).</summary>
public static class Optimizers
{
    /// <summary>SGD with momentum and (coupled) weight decay: g += wd·p; buf = momentum·buf + g; p -= lr·buf.</summary>
    public static void Sgd(GpuKernels gpu, ArrayView<float> parameters, ArrayView<float> gradients, ArrayView<float> momentumBuffer, long count,
        float learningRate, float momentum, float weightDecay) =>
        gpu.Launch(SgdKernel, GpuKernels.Extent(count, "Optimizers.Sgd"), parameters, gradients, momentumBuffer, learningRate, momentum, weightDecay);

    /// <summary>
    /// AdamW (decoupled weight decay): p *= 1 - lr·wd; m = β1·m + (1-β1)·g; v = β2·v + (1-β2)·g²;
    /// p -= lr · m̂ / (sqrt(v̂) + ε) with bias corrections for <paramref name="step"/> (1-based).
    /// </summary>
    public static void AdamW(GpuKernels gpu, ArrayView<float> parameters, ArrayView<float> gradients, ArrayView<float> firstMoment,
        ArrayView<float> secondMoment, long count, float learningRate, float beta1, float beta2, float epsilon, float weightDecay, long step)
    {
        float correction1 = 1f - MathF.Pow(beta1, step), correction2 = 1f - MathF.Pow(beta2, step);
        var rule = new AdamWRule(1f - learningRate * weightDecay, beta1, beta2, learningRate / correction1, MathF.Sqrt(correction2), epsilon);
        gpu.Launch(AdamWKernel, GpuKernels.Extent(count, "Optimizers.AdamW"), parameters, gradients, firstMoment, secondMoment, rule);
    }

    static void SgdKernel(Index1D i, ArrayView<float> parameters, ArrayView<float> gradients, ArrayView<float> momentumBuffer,
        float learningRate, float momentum, float weightDecay)
    {
        float p = parameters[i], g = gradients[i] + weightDecay * p;
        float buffer = momentum * momentumBuffer[i] + g;
        momentumBuffer[i] = buffer;
        parameters[i] = p - learningRate * buffer;
    }

    static void AdamWKernel(Index1D i, ArrayView<float> parameters, ArrayView<float> gradients, ArrayView<float> firstMoment,
        ArrayView<float> secondMoment, AdamWRule rule)
    {
        float g = gradients[i], p = parameters[i] * rule.Decay;
        float m = rule.Beta1 * firstMoment[i] + (1 - rule.Beta1) * g;
        float v = rule.Beta2 * secondMoment[i] + (1 - rule.Beta2) * g * g;
        float denominator = ILGPU.Algorithms.XMath.Sqrt(v) / rule.SqrtCorrection2 + rule.Epsilon;
        firstMoment[i] = m;
        secondMoment[i] = v;
        parameters[i] = p - rule.StepSize * m / denominator;
    }
}

/// <summary>One AdamW step's constants, bias corrections included (computed on the host from the step number).</summary>
internal readonly struct AdamWRule(float decay, float beta1, float beta2, float stepSize, float sqrtCorrection2, float epsilon)
{
    public readonly float Decay = decay, Beta1 = beta1, Beta2 = beta2, StepSize = stepSize, SqrtCorrection2 = sqrtCorrection2, Epsilon = epsilon;
}
