using ActionKit.Engine;
using ActionKit.Engine.Checkpoints;
using ActionKit.Engine.Models;
using ActionKit.Pipeline.Templates;
using ActionKit.Pipeline.Workspace;

namespace ActionKit.Pipeline.Training;

/// <summary>
/// A trained model as training leaves it in a folder: weights.safetensors, label_schema.json and the template.yaml
/// that produced them (its data section is the preprocessing every runtime must use). Dispose to free the model.
/// </summary>
public sealed class TrainedModel : IDisposable
{
    public const string WeightsFileName = "weights.safetensors";

    TrainedModel(X3D network, LabelSchema labels, ModelTemplate template, string weightsPath)
    {
        Network = network;
        Labels = labels;
        Template = template;
        WeightsPath = weightsPath;
    }

    public X3D Network { get; }
    public LabelSchema Labels { get; }
    public ModelTemplate Template { get; }
    public string WeightsPath { get; }

    /// <summary>Loads the weights at <paramref name="weightsPath"/> and the schema and template beside them.</summary>
    public static TrainedModel Load(string weightsPath, IBackend backend)
    {
        if (!File.Exists(weightsPath))
            throw new TrainingException($"{weightsPath}: weights file not found");
        string folder = Path.GetDirectoryName(Path.GetFullPath(weightsPath))!;
        var labels = LabelSchema.Load(Path.Combine(folder, LabelSchema.FileName));
        string templatePath = Path.Combine(folder, WorkspaceTemplate.FileName);
        if (!File.Exists(templatePath))
            throw new TrainingException($"{templatePath}: the template the weights were trained with is missing (training writes it beside them)");
        var template = WorkspaceTemplate.Load(templatePath);
        var config = ModelCheckpoint.ReadConfig(weightsPath);
        if (config.NumClasses != labels.Labels.Count)
            throw new TrainingException($"{weightsPath}: the network has {config.NumClasses} classes but {LabelSchema.FileName} lists {labels.Labels.Count}");
        var network = new X3D(config, backend, seed: 0);
        try
        {
            ModelCheckpoint.LoadWeights(weightsPath, network);
        }
        catch
        {
            network.Dispose();
            throw;
        }
        return new TrainedModel(network, labels, template, weightsPath);
    }

    /// <summary>Writes the schema and template that <see cref="Load"/> expects beside weights in <paramref name="folder"/>.</summary>
    public static void SaveCompanions(string folder, LabelSchema labels, ModelTemplate template)
    {
        Directory.CreateDirectory(folder);
        labels.Save(Path.Combine(folder, LabelSchema.FileName));
        WorkspaceTemplate.Save(template, Path.Combine(folder, WorkspaceTemplate.FileName));
    }

    public void Dispose() => Network.Dispose();
}
