namespace ActionKit.Engine.Optimization;

/// <summary>
/// An optimizer over a <see cref="ParameterStore"/>'s flat buffers: one kernel call updates every parameter.
/// Its state tensors are named so checkpoints can save and restore them.
/// </summary>
public interface IOptimizer : IDisposable
{
    /// <summary>Number of steps taken (AdamW's bias correction uses it).</summary>
    long StepCount { get; set; }

    /// <summary>The optimizer's state buffers by name, each as long as the trainable parameters.</summary>
    IReadOnlyDictionary<string, Tensor> State { get; }

    /// <summary>Updates every trainable parameter from its accumulated gradient.</summary>
    void Step(float learningRate);
}

/// <summary>SGD with momentum and coupled weight decay, as torch.optim.SGD (dampening 0, no Nesterov).</summary>
public sealed class Sgd(ParameterStore store, float momentum = 0.9f, float weightDecay = 0) : IOptimizer
{
    readonly Tensor momentumBuffer = store.Gradients.Backend.Allocate((int)store.TrainableCount);

    public long StepCount { get; set; }
    public IReadOnlyDictionary<string, Tensor> State => new Dictionary<string, Tensor> { ["momentum_buffer"] = momentumBuffer };

    public void Step(float learningRate)
    {
        StepCount++;
        store.Gradients.Backend.SgdStep(store.TrainableValues, store.Gradients, momentumBuffer, learningRate, momentum, weightDecay);
    }

    public void Dispose() => momentumBuffer.Dispose();
}

/// <summary>AdamW (Loshchilov and Hutter) as torch.optim.AdamW: decoupled weight decay, bias-corrected moments.</summary>
public sealed class AdamW(ParameterStore store, float weightDecay = 1e-2f, float beta1 = 0.9f, float beta2 = 0.999f, float epsilon = 1e-8f) : IOptimizer
{
    readonly Tensor firstMoment = store.Gradients.Backend.Allocate((int)store.TrainableCount);
    readonly Tensor secondMoment = store.Gradients.Backend.Allocate((int)store.TrainableCount);

    public long StepCount { get; set; }
    public IReadOnlyDictionary<string, Tensor> State => new Dictionary<string, Tensor> { ["exp_avg"] = firstMoment, ["exp_avg_sq"] = secondMoment };

    public void Step(float learningRate)
    {
        StepCount++;
        store.Gradients.Backend.AdamWStep(store.TrainableValues, store.Gradients, firstMoment, secondMoment,
            learningRate, beta1, beta2, epsilon, weightDecay, StepCount);
    }

    public void Dispose()
    {
        firstMoment.Dispose();
        secondMoment.Dispose();
    }
}

/// <summary>
/// Global gradient-norm clipping, as torch.nn.utils.clip_grad_norm_, done on the device: the norm and the scale
/// never travel to the host. A max norm of 0 or less only measures.
/// </summary>
public sealed class GradientClipping(ParameterStore store, float maxNorm) : IDisposable
{
    readonly Tensor sumOfSquares = store.Gradients.Backend.Allocate(1);

    /// <summary>Σ g² over all gradients before the last <see cref="Clip"/>, [1] on the device.</summary>
    public Tensor SumOfSquares => sumOfSquares;

    /// <summary>Scales all gradients by maxNorm / (norm + 1e-6) when their global L2 norm exceeds maxNorm.</summary>
    public void Clip()
    {
        var gradients = store.Gradients;
        gradients.Backend.SumOfSquares(sumOfSquares, gradients);
        if (maxNorm > 0)
            gradients.Backend.ClipByNorm(gradients, sumOfSquares, maxNorm);
    }

    public void Dispose() => sumOfSquares.Dispose();
}
