using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using ActionKit.Pipeline.Yaml;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace ActionKit.Pipeline.Parameters;

/// <summary>
/// Reads params.yaml into <see cref="PipelineParams"/>, applies command-line overrides, and validates the result;
/// every error names the file and line (or the option) that set the value.
/// </summary>
public static class ParamsLoader
{
    public const string FileName = "params.yaml";

    /// <summary>snake_case JSON of the parameters: what stage keys and locks record.</summary>
    public static JsonSerializerOptions JsonOptions { get; } = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.SnakeCaseLower) },
    };

    /// <summary>
    /// Loads <paramref name="path"/> (defaults when the file does not exist), then applies <paramref name="overrides"/>.
    /// Throws <see cref="ParamsException"/> on malformed YAML, an unknown key, a value of the wrong type or out of range.
    /// </summary>
    public static PipelineParams Load(string path, IReadOnlyList<ParamOverride> overrides)
    {
        var (values, root) = File.Exists(path) ? Parse(path) : (new PipelineParams(), []);
        values = Apply(values, overrides);
        if (ParamsValidation.Problems(values).FirstOrDefault() is ({ } key, { } problem))
        {
            if (overrides.LastOrDefault(o => o.Key == key) is { } option)
                throw new ParamsException(option.Option, null, $"{key} {problem}");
            int? line = YamlSchema.Find(root, key) is { } node ? (int)node.Start.Line : null;
            throw new ParamsException(path, line, $"{key} {problem}");
        }
        return values;
    }

    /// <summary>The value of a dotted key (<c>data.split</c>) or a whole section (<c>synth</c>) as JSON.</summary>
    public static JsonNode? Select(PipelineParams values, string dottedKey)
    {
        JsonNode? node = JsonSerializer.SerializeToNode(values, JsonOptions);
        foreach (string part in dottedKey.Split('.'))
            node = node is JsonObject section && section.ContainsKey(part)
                ? section[part]
                : throw new ArgumentException($"'{dottedKey}' is not a parameter", nameof(dottedKey));
        return node?.DeepClone();
    }

    private static (PipelineParams Values, YamlMappingNode Root) Parse(string path)
    {
        string text = File.ReadAllText(path);
        try
        {
            var root = YamlSchema.ParseMapping(text);
            YamlSchema.CheckKeys(root, typeof(PipelineParams));
            var values = YamlSchema.Deserialize<PipelineParams>(text, root, YamlSchema.Deserializer);
            // A bare "train:" reads as a null section, not as its defaults.
            (string Key, object? Section)[] sections =
                [("synth", values.Synth), ("data", values.Data), ("train", values.Train), ("eval", values.Eval), ("optimize", values.Optimize)];
            if (sections.FirstOrDefault(section => section.Section is null).Key is { } empty)
                throw new ParamsException(path, YamlSchema.Find(root, empty) is { } node ? (int)node.Start.Line : null,
                    $"{empty} is empty; give its keys or leave it out");
            return (values, root);
        }
        catch (YamlException error)
        {
            throw new ParamsException(path, (int)error.Start.Line, YamlSchema.MessageOf(error));
        }
    }

    private static PipelineParams Apply(PipelineParams values, IReadOnlyList<ParamOverride> overrides)
    {
        if (overrides.Count == 0)
            return values;
        var tree = JsonSerializer.SerializeToNode(values, JsonOptions)!.AsObject();
        foreach (var entry in overrides)
        {
            string[] parts = entry.Key.Split('.');
            var section = parts[..^1].Aggregate(tree, (node, part) => node[part]?.AsObject()
                ?? throw new ArgumentException($"'{entry.Key}' is not a parameter", nameof(overrides)));
            if (!section.ContainsKey(parts[^1]))
                throw new ArgumentException($"'{entry.Key}' is not a parameter", nameof(overrides));
            section[parts[^1]] = JsonSerializer.SerializeToNode(entry.Value, JsonOptions);
        }
        return tree.Deserialize<PipelineParams>(JsonOptions)!;
    }
}
