using ActionKit.Engine.Models;

namespace ActionKit.Engine.Checkpoints;

/// <summary>One checkpoint tensor copied into the model: the checkpoint's name and ActionKit's.</summary>
public sealed record MappedTensor(string From, string To);

/// <summary>A model tensor left at its initial values although the checkpoint has it, and why.</summary>
public sealed record ReinitializedTensor(string Key, string Reason);

/// <summary>
/// What an import did (models/import.json): the source file, its format (zip or legacy) and where its state dict was,
/// the implementation its names come from, the tensors mapped, those re-initialized (a classifier for another class
/// count), the model tensors the checkpoint lacks (kept at their initial values) and the checkpoint's unused keys.
/// </summary>
public sealed record ImportReport(
    string Source,
    string Format,
    string StateDict,
    UpstreamNames Names,
    IReadOnlyList<MappedTensor> Mapped,
    IReadOnlyList<ReinitializedTensor> Reinitialized,
    IReadOnlyList<string> Missing,
    IReadOnlyList<string> Unexpected,
    IReadOnlyList<string> Notes);

/// <summary>Loads an upstream X3D state dict into an ActionKit X3D, and writes an ActionKit X3D's weights under upstream names.</summary>
public static class PretrainedWeights
{
    /// <summary>
    /// Copies <paramref name="state"/> into <paramref name="model"/> (built from <see cref="UpstreamX3D.InferConfig"/>,
    /// with the class count it is to have). Every backbone tensor must be there with its shape; a classifier of another
    /// class count keeps the model's initial values and is reported, as are head tensors the checkpoint lacks; a
    /// network tensor the model has no place for is refused.
    /// </summary>
    public static ImportReport Load(PyTorchStateDict state, UpstreamNames names, X3D model)
    {
        var mapped = new List<MappedTensor>();
        var reinitialized = new List<ReinitializedTensor>();
        var missing = new List<string>();
        var used = new HashSet<string>(StringComparer.Ordinal);
        foreach (var parameter in model.Parameters.Parameters)
        {
            string theirs = UpstreamX3D.UpstreamName(names, model.Config, parameter.Name);
            if (!state.Tensors.TryGetValue(theirs, out var tensor))
            {
                if (!UpstreamX3D.IsHead(parameter.Name))
                    throw new CheckpointFormatException(state.Path, $"{theirs} is missing: the checkpoint does not fit the X3D its other tensors describe.");
                missing.Add(theirs);
                continue;
            }
            used.Add(theirs);
            bool fits = tensor.IsFloatingPoint && SameShape(tensor.Shape, parameter.Shape);
            if (!fits && UpstreamX3D.IsClassifier(parameter.Name) && tensor.IsFloatingPoint)
            {
                reinitialized.Add(new ReinitializedTensor(theirs, $"the checkpoint's classifier has {tensor.Shape[0]} classes, this model {parameter.Shape[0]}"));
                continue;
            }
            if (!fits)
                throw new CheckpointFormatException(state.Path, $"{theirs} is {tensor.Type} {Tensor.Describe(tensor.Shape)}, "
                    + $"but the model's {parameter.Name} needs float {Tensor.Describe(parameter.Shape)}.");
            parameter.Value.CopyFrom(tensor.Values);
            mapped.Add(new MappedTensor(theirs, parameter.Name));
        }
        foreach (var counter in model.Parameters.Counters)
        {
            string theirs = UpstreamX3D.UpstreamName(names, model.Config, counter.Name);
            if (state.Tensors.TryGetValue(theirs, out var tensor) && tensor.Integers is [var count])
            {
                used.Add(theirs);
                counter.Value = count;
                mapped.Add(new MappedTensor(theirs, counter.Name));
            }
            else
                missing.Add(theirs);
        }
        // A network tensor the model has no place for means another X3D variant (say a stem with its own BN): refused,
        // where the reference's strict=False load would drop it silently.
        string network = names == UpstreamNames.MMAction2 ? "backbone." : "blocks.";
        var unexpected = state.Tensors.Keys.Where(k => !used.Contains(k)).Order(StringComparer.Ordinal).ToList();
        if (unexpected.FirstOrDefault(k => k.StartsWith(network, StringComparison.Ordinal)) is { } extra)
            throw new CheckpointFormatException(state.Path, $"{extra} has no place in the X3D the checkpoint's other tensors describe "
                + $"({unexpected.Count(k => k.StartsWith(network, StringComparison.Ordinal))} such tensors): another X3D variant.");
        var notes = new List<string>();
        if (names == UpstreamNames.PyTorchVideo)
            notes.Add("PyTorchVideo's head pools with an AvgPool3d of a fixed kernel before post_conv; ActionKit pools globally, "
                + "which is the same at the input size the checkpoint was built for (X3D-XS/S 160, X3D-M 224).");
        return new ImportReport(state.Path, state.Format, state.Location, names, mapped, reinitialized, missing, unexpected, notes);
    }

    /// <summary>
    /// The weights of <paramref name="model"/> as the upstream implementation names and shapes them (num_batches_tracked
    /// as int64), for <c>model.load_state_dict(safetensors.torch.load_file(...), strict=True)</c> there. Errors name
    /// <paramref name="source"/>, the file the model was loaded from.
    /// </summary>
    public static IReadOnlyList<SafeTensor> Export(X3D model, UpstreamNames names, string source)
    {
        var config = model.Config;
        bool hasStrideOnlyShortcut = config.StemWidth == config.Widths[0];
        if (hasStrideOnlyShortcut && config.StrideOnlyShortcutWithoutNorm != (names == UpstreamNames.PyTorchVideo))
            throw new CheckpointFormatException(source, names == UpstreamNames.PyTorchVideo
                ? "this model has a BatchNorm on its first block's stride-only shortcut (blocks.0.short.1), which PyTorchVideo's X3D does not have; "
                    + "export it under mmaction2 names."
                : "this model has no BatchNorm on its first block's stride-only shortcut (imported from PyTorchVideo), which mmaction2's X3D has; "
                    + "export it under pytorchvideo names.");
        var tensors = new List<SafeTensor>();
        foreach (var parameter in model.Parameters.Parameters)
        {
            string theirs = UpstreamX3D.UpstreamName(names, config, parameter.Name);
            // PyTorchVideo's hidden layer is the 1x1x1 post_conv: the same memory as a Linear weight, in a conv's shape.
            int[] shape = names == UpstreamNames.PyTorchVideo && parameter.Name == "fc1.weight" ? [.. parameter.Shape, 1, 1, 1] : parameter.Shape;
            tensors.Add(SafeTensor.FromFloats(theirs, shape, parameter.Value.ToArray()));
        }
        foreach (var counter in model.Parameters.Counters)
            tensors.Add(SafeTensor.FromInt64(UpstreamX3D.UpstreamName(names, config, counter.Name), counter.Value));
        return tensors;
    }

    /// <summary>Equal shapes, ignoring trailing 1s (a Linear weight [o, i] is a 1x1x1 conv weight [o, i, 1, 1, 1]).</summary>
    static bool SameShape(int[] a, int[] b)
    {
        static int[] Trim(int[] shape)
        {
            int length = shape.Length;
            while (length > 2 && shape[length - 1] == 1)
                length--;
            return shape[..length];
        }
        return Trim(a).SequenceEqual(Trim(b));
    }
}
