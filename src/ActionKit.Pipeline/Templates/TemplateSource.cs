using ActionKit.Pipeline.Yaml;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;
using YamlDotNet.Serialization;
using YamlDotNet.Serialization.NamingConventions;

namespace ActionKit.Pipeline.Templates;

/// <summary>One template file as written (before inheritance): its identity and its checked YAML mapping.</summary>
public sealed class TemplateSource
{
    private const string InheritsKey = "inherits";

    // Missing keys are allowed here (a derived template lists only what it changes); unknown keys were refused before.
    private static readonly IDeserializer PartialDeserializer = new DeserializerBuilder()
        .WithNamingConvention(UnderscoredNamingConvention.Instance)
        .IgnoreUnmatchedProperties()
        .Build();

    private TemplateSource(string path, YamlMappingNode mapping, ModelTemplate partial, string? inherits)
    {
        Path = path;
        Mapping = mapping;
        Id = partial.Id;
        Name = partial.Name;
        Inherits = inherits;
    }

    public string Path { get; }
    public string Id { get; }
    public string Name { get; }

    /// <summary>The id of the template this one is merged over, or null for a base template.</summary>
    public string? Inherits { get; }

    /// <summary>The file's keys and values, without <c>inherits</c>.</summary>
    internal YamlMappingNode Mapping { get; }

    /// <summary>
    /// Parses and checks one template file: YAML syntax, known keys, value types, and an id. Throws
    /// <see cref="TemplateException"/> naming <paramref name="path"/> and the line.
    /// </summary>
    public static TemplateSource Parse(string path, string text)
    {
        try
        {
            var mapping = YamlSchema.ParseMapping(text);
            string? inherits = null;
            if (mapping.Children.TryGetValue(new YamlScalarNode(InheritsKey), out var inheritsNode))
            {
                inherits = (inheritsNode as YamlScalarNode)?.Value
                    ?? throw new YamlException(inheritsNode.Start, inheritsNode.End, "inherits must be a template id");
                mapping = new YamlMappingNode(mapping.Children.Where(pair => pair.Key is not YamlScalarNode { Value: InheritsKey }));
            }
            YamlSchema.CheckKeys(mapping, typeof(ModelTemplate));
            var partial = YamlSchema.Deserialize<ModelTemplate>(text, mapping, PartialDeserializer);
            if (string.IsNullOrWhiteSpace(partial.Id))
                throw new YamlException(mapping.Start, mapping.End, "the template has no id");
            return new TemplateSource(path, mapping, partial, inherits);
        }
        catch (YamlException error)
        {
            throw new TemplateException(path, YamlSchema.MessageOf(error), (int)error.Start.Line);
        }
    }
}
