using ActionKit.Engine.Checkpoints;
using ActionKit.Engine.Models;
using ActionKit.Engine.Optimization;
using ActionKit.Fuzzing;

namespace ActionKit.Engine.Tests;

/// <summary>The fuzz corpus of the checkpoint readers: weights.safetensors and last.ckpt (safetensors with the
/// optimizer's state), read into a model as Eval and --resume do.</summary>
[Trait("Category", "Fuzz")]
public sealed class CheckpointFuzzTests : IDisposable
{
    readonly string folder = Directory.CreateTempSubdirectory("actionkit-ckpt-fuzz-").FullName;
    readonly CpuBackend backend = new();

    public void Dispose()
    {
        backend.Dispose();
        Directory.Delete(folder, recursive: true);
    }

    byte[] Saved(Action<string> save)
    {
        string path = Path.Combine(folder, $"{Guid.NewGuid():N}.safetensors");
        save(path);
        return File.ReadAllBytes(path);
    }

    [Fact]
    public void WeightsFiles()
    {
        using var model = new X3D(X3DTests.Tiny(), backend, seed: 1);
        new FuzzCorpus<CheckpointFormatException>("weights.safetensors", "weights.safetensors")
        {
            Seeds = [Saved(path => ModelCheckpoint.SaveWeights(path, model, new Dictionary<string, string> { ["template"] = "X3D-CPU" }))],
            Mutations = [.. Mutations.Binary, Mutations.InflateNumber],
            Read = (path, _) =>
            {
                using var loaded = new X3D(ModelCheckpoint.ReadConfig(path), backend, seed: 2);
                ModelCheckpoint.LoadWeights(path, model);
            },
        }.Run(1000);
    }

    [Fact]
    public void TrainingStateFiles()
    {
        using var model = new X3D(X3DTests.Tiny(), backend, seed: 1);
        using var optimizer = new AdamW(model.Parameters);
        byte[] seed = Saved(path => ModelCheckpoint.SaveTrainingState(path, model, optimizer, new Dictionary<string, string> { ["epoch"] = "1" }));
        new FuzzCorpus<CheckpointFormatException>("last.ckpt", "last.ckpt")
        {
            Seeds = [seed],
            Mutations = [.. Mutations.Binary, Mutations.InflateNumber],
            Read = (path, _) => ModelCheckpoint.LoadTrainingState(path, model, optimizer),
        }.Run(1000);
    }
}
