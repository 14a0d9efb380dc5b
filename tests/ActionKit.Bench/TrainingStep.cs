using ActionKit.Engine;
using ActionKit.Engine.Layers;
using ActionKit.Engine.Models;
using ActionKit.Engine.Optimization;

namespace ActionKit.Bench;

/// <summary>
/// One X3D training step as the trainer takes it (forward, softmax cross-entropy, backward, gradient clipping, AdamW)
/// on fixed clips [batch, frames, size, size, 3], for the benchmarks to time. An exchange, when given, runs between
/// backward and clipping, where the trainer averages gradients over ranks.
/// </summary>
public sealed class TrainingStep : IDisposable
{
    readonly SoftmaxCrossEntropy loss;
    readonly GradientClipping clipping;
    readonly AdamW optimizer;
    readonly Tensor labels;

    readonly Action<ParameterStore>? exchange;

    public TrainingStep(IBackend backend, X3DConfig config, int batch, int frames, int size, Action<ParameterStore>? exchange = null)
    {
        this.exchange = exchange;
        Model = new X3D(config, backend, seed: 1);
        optimizer = new AdamW(Model.Parameters, weightDecay: 1e-4f);
        clipping = new GradientClipping(Model.Parameters, 40);
        loss = new SoftmaxCrossEntropy(backend);
        Clips = backend.Allocate(batch, frames, size, size, 3);
        Clips.CopyFrom(Enumerable.Range(0, (int)Clips.Length).Select(i => (float)Math.Sin(i * 0.37)).ToArray());
        labels = backend.Allocate(DType.Int32, batch);
        labels.CopyFrom<int>([.. Enumerable.Range(0, batch).Select(i => i % config.NumClasses)]);
    }

    public X3D Model { get; }

    public Tensor Clips { get; }

    /// <summary>Times the layers, the clipping and the optimizer (null: no timing).</summary>
    public Profiler? Profiler
    {
        get => Model.Profiler;
        set => Model.Profiler = loss.Profiler = value;
    }

    /// <summary>Queues one step on the backend; the caller synchronizes before reading a clock.</summary>
    public void Run()
    {
        loss.Forward(Model.Forward(Clips, training: true), labels);
        Model.Parameters.ZeroGradients();
        Model.Backward(loss.Backward());
        exchange?.Invoke(Model.Parameters);
        using (Profiler?.Measure(nameof(GradientClipping), "step"))
            clipping.Clip();
        using (Profiler?.Measure(nameof(AdamW), "step"))
            optimizer.Step(1e-4f);
    }

    public void Dispose()
    {
        Clips.Dispose();
        labels.Dispose();
        loss.Dispose();
        clipping.Dispose();
        optimizer.Dispose();
        Model.Dispose();
    }
}
