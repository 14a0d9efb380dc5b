namespace ActionKit.Kernels.Cpu;

/// <summary>Parameter updates over flat buffers, as PyTorch's SGD and AdamW define them; vectorized, the last vector masked.</summary>
public static unsafe class Optimizers
{
    /// <summary>
    /// SGD with momentum and (coupled) weight decay: g += wd·p; buf = momentum·buf + g; p -= lr·buf.
    /// </summary>
    public static void Sgd(float* parameters, float* gradients, float* momentumBuffer, long count,
        float learningRate, float momentum, float weightDecay) =>
        VectorMap.Run(new SgdBody(parameters, gradients, momentumBuffer, learningRate, momentum, weightDecay), count);

    /// <summary>
    /// AdamW (decoupled weight decay): p *= 1 - lr·wd; m = β1·m + (1-β1)·g; v = β2·v + (1-β2)·g²;
    /// p -= lr · m̂ / (sqrt(v̂) + ε) with bias corrections for <paramref name="step"/> (1-based).
    /// </summary>
    public static void AdamW(float* parameters, float* gradients, float* firstMoment, float* secondMoment, long count,
        float learningRate, float beta1, float beta2, float epsilon, float weightDecay, long step)
    {
        float correction1 = 1f - MathF.Pow(beta1, step), correction2 = 1f - MathF.Pow(beta2, step);
        var body = new AdamWBody(parameters, gradients, firstMoment, secondMoment, 1f - learningRate * weightDecay,
            beta1, beta2, learningRate / correction1, MathF.Sqrt(correction2), epsilon);
        VectorMap.Run(body, count);
    }

    readonly struct SgdBody(float* parameters, float* gradients, float* momentumBuffer, float learningRate, float momentum, float weightDecay) : IVectorBody
    {
        public void Apply<TSimd, TVector>(long i, int lanes) where TSimd : struct, ISimd<TVector> where TVector : struct
        {
            TVector p = VectorMap.Load<TSimd, TVector>(parameters + i, lanes);
            TVector g = TSimd.Add(VectorMap.Load<TSimd, TVector>(gradients + i, lanes), TSimd.Multiply(TSimd.Broadcast(weightDecay), p));
            TVector buffer = TSimd.Add(TSimd.Multiply(TSimd.Broadcast(momentum), VectorMap.Load<TSimd, TVector>(momentumBuffer + i, lanes)), g);
            VectorMap.Store<TSimd, TVector>(momentumBuffer + i, buffer, lanes);
            VectorMap.Store<TSimd, TVector>(parameters + i, TSimd.Subtract(p, TSimd.Multiply(TSimd.Broadcast(learningRate), buffer)), lanes);
        }
    }

    readonly struct AdamWBody(float* parameters, float* gradients, float* firstMoment, float* secondMoment, float decay,
        float beta1, float beta2, float stepSize, float sqrtCorrection2, float epsilon) : IVectorBody
    {
        public void Apply<TSimd, TVector>(long i, int lanes) where TSimd : struct, ISimd<TVector> where TVector : struct
        {
            TVector g = VectorMap.Load<TSimd, TVector>(gradients + i, lanes);
            TVector p = TSimd.Multiply(VectorMap.Load<TSimd, TVector>(parameters + i, lanes), TSimd.Broadcast(decay));
            TVector m = TSimd.Add(TSimd.Multiply(TSimd.Broadcast(beta1), VectorMap.Load<TSimd, TVector>(firstMoment + i, lanes)),
                TSimd.Multiply(TSimd.Broadcast(1 - beta1), g));
            TVector v = TSimd.Add(TSimd.Multiply(TSimd.Broadcast(beta2), VectorMap.Load<TSimd, TVector>(secondMoment + i, lanes)),
                TSimd.Multiply(TSimd.Multiply(TSimd.Broadcast(1 - beta2), g), g));
            TVector denominator = TSimd.Add(TSimd.Divide(TSimd.Sqrt(v), TSimd.Broadcast(sqrtCorrection2)), TSimd.Broadcast(epsilon));
            p = TSimd.Subtract(p, TSimd.Divide(TSimd.Multiply(TSimd.Broadcast(stepSize), m), denominator));
            VectorMap.Store<TSimd, TVector>(firstMoment + i, m, lanes);
            VectorMap.Store<TSimd, TVector>(secondMoment + i, v, lanes);
            VectorMap.Store<TSimd, TVector>(parameters + i, p, lanes);
        }
    }
}
