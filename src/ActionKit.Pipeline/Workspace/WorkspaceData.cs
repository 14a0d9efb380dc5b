using ActionKit.Data;
using ActionKit.Pipeline.Caching;
using ActionKit.Pipeline.Yaml;
using YamlDotNet.Core;

namespace ActionKit.Pipeline.Workspace;

/// <summary>
/// A workspace's <c>data.yaml</c> (like the reference's): the train, val and test data roots (CVAT folders, relative to
/// the pipeline root or absolute), how many videos each holds, and the label names in class-id order.
/// </summary>
public sealed record WorkspaceData
{
    public const string FileName = "data.yaml";

    public string Task { get; init; } = "action_classification";
    public DataSubset Train { get; init; } = new();
    public DataSubset Val { get; init; } = new();
    public DataSubset Test { get; init; } = new();

    /// <summary>Label names; a label's index is its class id.</summary>
    public string[] Labels { get; init; } = [];

    /// <summary>Reads a data.yaml; throws <see cref="DatasetFormatException"/> naming the file and line when it is malformed.</summary>
    public static WorkspaceData Load(string path)
    {
        if (!File.Exists(path))
            throw new DatasetFormatException(path, "workspace data file not found (run `actionkit build` first)");
        string text = File.ReadAllText(path);
        try
        {
            var root = YamlSchema.ParseMapping(text);
            YamlSchema.CheckKeys(root, typeof(WorkspaceData));
            return YamlSchema.Deserialize<WorkspaceData>(text, root, YamlSchema.Deserializer);
        }
        catch (YamlException error)
        {
            throw new DatasetFormatException(path, (int)error.Start.Line, YamlSchema.MessageOf(error));
        }
    }

    public void Save(string path) =>
        AtomicFile.WriteAllText(path, "# Data roots of this workspace, written by `actionkit build` (paths relative to the pipeline root).\n"
            + YamlSchema.Serializer.Serialize(this));
}

/// <summary>One data root of a workspace and its number of videos.</summary>
public sealed record DataSubset
{
    public string Root { get; init; } = "";
    public int Videos { get; init; }
}
