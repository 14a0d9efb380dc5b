using System.Text.Json;
using ActionKit.Pipeline.Caching;

namespace ActionKit.Pipeline.Training;

/// <summary>One class of a trained model: its id (the logit's index) and name.</summary>
public sealed record LabelEntry(int Id, string Name);

/// <summary>
/// A model's classes (the reference's label_schema.json): written beside the weights, checked against a dataset
/// before evaluation so that ids mean the same classes.
/// </summary>
public sealed record LabelSchema(string Task, IReadOnlyList<LabelEntry> Labels)
{
    public const string FileName = "label_schema.json";
    static readonly JsonSerializerOptions Json = new() { WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };

    public IReadOnlyList<string> Names => [.. Labels.OrderBy(l => l.Id).Select(l => l.Name)];

    public static LabelSchema FromNames(IReadOnlyList<string> names) =>
        new("action_classification", [.. names.Select((name, id) => new LabelEntry(id, name))]);

    public void Save(string path) => AtomicFile.WriteAllText(path, JsonSerializer.Serialize(this, Json) + "\n");

    public static LabelSchema Load(string path)
    {
        if (!File.Exists(path))
            throw new TrainingException($"{path}: label schema not found (it is written beside the weights by training)");
        try
        {
            var schema = JsonSerializer.Deserialize<LabelSchema>(File.ReadAllText(path), Json)
                ?? throw new JsonException("empty document");
            if (schema.Labels.Count == 0 || !schema.Labels.Select(l => l.Id).Order().SequenceEqual(Enumerable.Range(0, schema.Labels.Count)))
                throw new JsonException("labels must have the ids 0..N-1, each once");
            return schema;
        }
        catch (JsonException e)
        {
            throw new TrainingException($"{path}: not a valid label schema: {e.Message}");
        }
    }
}

/// <summary>Training or evaluation cannot go on: a diverged loss, a model that does not fit the data, a missing file.</summary>
public sealed class TrainingException(string message) : Exception(message);
