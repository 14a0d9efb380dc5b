using System.Text.Json;
using ActionKit.Engine.Models;
using ActionKit.Engine.Optimization;

namespace ActionKit.Engine.Checkpoints;

/// <summary>
/// X3D weights as safetensors with PyTorch state_dict names and layouts (conv weights [Cout, Cin/g, kD, kH, kW],
/// num_batches_tracked as I64), so they move to and from PyTorch. The header's metadata carries the architecture
/// (key "x3d_config", JSON) so a weights file alone rebuilds its model. A training state adds the optimizer's
/// buffers ("optimizer.&lt;name&gt;") and the caller's metadata, for exact resumption.
/// </summary>
public static class ModelCheckpoint
{
    public const string ConfigKey = "x3d_config";
    const string OptimizerPrefix = "optimizer.";

    public static void SaveWeights(string path, X3D model, IReadOnlyDictionary<string, string>? metadata = null) =>
        SafeTensors.Write(path, ModelTensors(model), WithConfig(model, metadata));

    /// <summary>Loads weights into <paramref name="model"/> after checking every name, shape and dtype; returns the file's metadata.</summary>
    public static IReadOnlyDictionary<string, string> LoadWeights(string path, X3D model)
    {
        var (tensors, metadata) = SafeTensors.Read(path);
        Restore(path, model, tensors.Where(t => !t.Name.StartsWith(OptimizerPrefix, StringComparison.Ordinal)).ToList());
        return metadata;
    }

    /// <summary>The architecture a weights file was saved with.</summary>
    public static X3DConfig ReadConfig(string path)
    {
        var (tensors, metadata) = SafeTensors.Read(path);
        if (!metadata.TryGetValue(ConfigKey, out var json))
            throw new CheckpointFormatException(path, $"no \"{ConfigKey}\" in the metadata: not an ActionKit X3D checkpoint.");
        X3DConfig config;
        try
        {
            config = JsonSerializer.Deserialize<X3DConfig>(json) ?? throw new JsonException("null");
            config.Validate();
        }
        catch (Exception e) when (e is JsonException or ArgumentException)
        {
            throw new CheckpointFormatException(path, $"the \"{ConfigKey}\" metadata is not a valid X3D configuration: {e.Message}");
        }
        // A network is built from the configuration before the weights are checked against it: one far larger than
        // the file (a corrupt width) would allocate gigabytes first.
        double fileValues = tensors.Sum(t => (double)t.Data.Length) / sizeof(float);
        if (LeastParameters(config) > fileValues)
            throw new CheckpointFormatException(path, $"the \"{ConfigKey}\" metadata describes a network of at least {LeastParameters(config):G3} parameters, the file holds {fileValues:G3} values.");
        return config;
    }

    // A lower bound on a configuration's parameter count: each block's last pointwise convolution, and the head.
    static double LeastParameters(X3DConfig config) =>
        config.Widths.Select((width, stage) => (double)config.Depths[stage] * config.BottleneckFactor * width * width).Sum()
        + (double)config.HeadWidth * config.HeadHidden + (double)config.HeadHidden * config.NumClasses;

    public static void SaveTrainingState(string path, X3D model, IOptimizer optimizer, IReadOnlyDictionary<string, string> metadata)
    {
        var tensors = ModelTensors(model);
        foreach (var (name, state) in optimizer.State)
            tensors.Add(SafeTensor.FromFloats(OptimizerPrefix + name, state.Shape, state.ToArray()));
        tensors.Add(SafeTensor.FromInt64(OptimizerPrefix + "step", optimizer.StepCount));
        SafeTensors.Write(path, tensors, WithConfig(model, metadata));
    }

    /// <summary>Restores weights and optimizer state saved by <see cref="SaveTrainingState"/>; returns the metadata.</summary>
    public static IReadOnlyDictionary<string, string> LoadTrainingState(string path, X3D model, IOptimizer optimizer)
    {
        var (tensors, metadata) = SafeTensors.Read(path);
        var byName = tensors.ToDictionary(t => t.Name);
        Restore(path, model, tensors.Where(t => !t.Name.StartsWith(OptimizerPrefix, StringComparison.Ordinal)).ToList());
        foreach (var (name, state) in optimizer.State)
        {
            if (!byName.TryGetValue(OptimizerPrefix + name, out var saved) || saved.Type != SafeTensorType.F32 || !state.HasShape(saved.Shape))
                throw new CheckpointFormatException(path, $"optimizer state {name} is missing or has the wrong shape (a different optimizer or model?).");
            state.CopyFrom(saved.ToFloats());
        }
        if (!byName.TryGetValue(OptimizerPrefix + "step", out var step))
            throw new CheckpointFormatException(path, "optimizer step count is missing.");
        optimizer.StepCount = step.ToInt64();
        return metadata;
    }

    static List<SafeTensor> ModelTensors(X3D model)
    {
        var tensors = model.Parameters.Parameters.Select(p => SafeTensor.FromFloats(p.Name, p.Shape, p.Value.ToArray())).ToList();
        tensors.AddRange(model.Parameters.Counters.Select(c => SafeTensor.FromInt64(c.Name, c.Value)));
        return tensors;
    }

    static Dictionary<string, string> WithConfig(X3D model, IReadOnlyDictionary<string, string>? metadata)
    {
        var all = metadata?.ToDictionary() ?? [];
        all[ConfigKey] = JsonSerializer.Serialize(model.Config);
        return all;
    }

    static void Restore(string path, X3D model, IReadOnlyList<SafeTensor> tensors)
    {
        var byName = tensors.ToDictionary(t => t.Name);
        var problems = new List<string>();
        foreach (var p in model.Parameters.Parameters)
        {
            if (!byName.TryGetValue(p.Name, out var t))
                problems.Add($"missing {p.Name} {Tensor.Describe(p.Shape)}");
            else if (t.Type != SafeTensorType.F32 || !t.Shape.AsSpan().SequenceEqual(p.Shape))
                problems.Add($"{p.Name}: file has {t.Type} {Tensor.Describe(t.Shape)}, model needs F32 {Tensor.Describe(p.Shape)}");
        }
        foreach (var c in model.Parameters.Counters)
            if (!byName.TryGetValue(c.Name, out var t) || t.Type != SafeTensorType.I64 || t.Shape.Length != 0)
                problems.Add($"{c.Name}: missing or not an I64 scalar");
        var known = model.Parameters.Parameters.Select(p => p.Name).Concat(model.Parameters.Counters.Select(c => c.Name)).ToHashSet();
        problems.AddRange(byName.Keys.Where(n => !known.Contains(n)).Select(n => $"unexpected {n}"));
        if (problems.Count > 0)
            throw new CheckpointFormatException(path, $"does not fit the model ({problems.Count} differences): " + string.Join("; ", problems.Take(8))
                + (problems.Count > 8 ? "; ..." : ""));
        foreach (var p in model.Parameters.Parameters)
            p.Value.CopyFrom(byName[p.Name].ToFloats());
        foreach (var c in model.Parameters.Counters)
            c.Value = byName[c.Name].ToInt64();
    }
}
