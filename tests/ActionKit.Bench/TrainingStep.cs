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
    readonly AdamW optimizer;
    readonly int[] labels;

    readonly Action<ParameterStore>? exchange;

    public TrainingStep(IBackend backend, X3DConfig config, int batch, int frames, int size, Action<ParameterStore>? exchange = null)
    {
        this.exchange = exchange;
        Model = new X3D(config, backend, seed: 1);
        optimizer = new AdamW(Model.Parameters, weightDecay: 1e-4f);
        loss = new SoftmaxCrossEntropy(backend);
        Clips = backend.Allocate(batch, frames, size, size, 3);
        Clips.CopyFrom(Enumerable.Range(0, (int)Clips.Length).Select(i => (float)Math.Sin(i * 0.37)).ToArray());
        labels = [.. Enumerable.Range(0, batch).Select(i => i % config.NumClasses)];
    }

    public X3D Model { get; }

    public Tensor Clips { get; }

    public int Batch => labels.Length;

    public void Run()
    {
        loss.Forward(Model.Forward(Clips, training: true), labels);
        Model.Parameters.ZeroGradients();
        Model.Backward(loss.Backward());
        exchange?.Invoke(Model.Parameters);
        GradientClipping.ClipGlobalNorm(Model.Parameters, 40);
        optimizer.Step(1e-4f);
    }

    public void Dispose()
    {
        Clips.Dispose();
        optimizer.Dispose();
        Model.Dispose();
    }
}
