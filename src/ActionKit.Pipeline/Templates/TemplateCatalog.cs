using System.Reflection;
using ActionKit.Pipeline.Parameters;
using ActionKit.Pipeline.Yaml;
using YamlDotNet.RepresentationModel;

namespace ActionKit.Pipeline.Templates;

/// <summary>
/// The model templates, found by id (<c>Custom_Action_Classification_X3D_CPU</c>) or by name (<c>X3D-CPU</c>,
/// case-insensitive), with <c>inherits</c> resolved by deep-merging a template over its base, and validated.
/// </summary>
public sealed class TemplateCatalog
{
    private const string EmbeddedPrefix = "ActionKit.Pipeline.Templates.";

    public TemplateCatalog(IEnumerable<TemplateSource> sources)
    {
        Sources = [.. sources];
        if (Sources.GroupBy(s => s.Id, StringComparer.OrdinalIgnoreCase).FirstOrDefault(g => g.Count() > 1) is { } duplicate)
            throw new TemplateException(duplicate.Last().Path, $"id {duplicate.Key} is also used by {duplicate.First().Path}");
    }

    /// <summary>The templates shipped inside ActionKit.Pipeline (src/ActionKit.Pipeline/Templates/*.yaml).</summary>
    public static TemplateCatalog Embedded { get; } = new(ReadEmbedded());

    public IReadOnlyList<TemplateSource> Sources { get; }

    /// <summary>The template with this id or name, inheritance resolved and validated.</summary>
    public ModelTemplate Find(string idOrName) => Resolve(FindSource(idOrName));

    /// <summary>A template file of the user's; it may inherit from a template of this catalog.</summary>
    public ModelTemplate LoadFile(string path)
    {
        if (!File.Exists(path))
            throw new TemplateException(path, "file not found");
        return Resolve(TemplateSource.Parse(path, File.ReadAllText(path)));
    }

    /// <summary>
    /// <paramref name="template"/> with params.yaml's train overrides applied to its hyper_parameters, validated again.
    /// </summary>
    public static ModelTemplate ApplyOverrides(ModelTemplate template, TrainParams train)
    {
        var hp = template.HyperParameters;
        var overridden = template with
        {
            HyperParameters = hp with
            {
                Epochs = train.Epochs ?? hp.Epochs,
                BatchSize = train.BatchSize ?? hp.BatchSize,
                LearningRate = train.LearningRate ?? hp.LearningRate,
            },
            LoadFrom = train.LoadFrom ?? template.LoadFrom,
        };
        ThrowIfInvalid(overridden, $"{template.Id} with params.yaml's train overrides");
        return overridden;
    }

    private TemplateSource FindSource(string idOrName) =>
        Sources.FirstOrDefault(s => s.Id.Equals(idOrName, StringComparison.OrdinalIgnoreCase))
        ?? Sources.FirstOrDefault(s => s.Name.Equals(idOrName, StringComparison.OrdinalIgnoreCase))
        ?? throw new TemplateException(idOrName, $"no such template; known: {string.Join(", ", Sources.Select(s => s.Name))}");

    private ModelTemplate Resolve(TemplateSource source)
    {
        var merged = Merge(source, []);
        var text = new StringWriter();
        new YamlStream(new YamlDocument(merged)).Save(text, assignAnchors: false);
        var template = YamlSchema.Deserializer.Deserialize<ModelTemplate>(text.ToString());
        ThrowIfInvalid(template, source.Path);
        return template;
    }

    private YamlMappingNode Merge(TemplateSource source, List<string> chain)
    {
        chain.Add(source.Id);
        if (source.Inherits is null)
            return source.Mapping;
        var parent = Sources.FirstOrDefault(s => s.Id.Equals(source.Inherits, StringComparison.OrdinalIgnoreCase))
            ?? throw new TemplateException(source.Path, $"inherits unknown template '{source.Inherits}'");
        if (chain.Contains(parent.Id, StringComparer.OrdinalIgnoreCase))
            throw new TemplateException(source.Path, $"inheritance cycle: {string.Join(" -> ", chain)} -> {parent.Id}");
        return DeepMerge(Merge(parent, chain), source.Mapping);
    }

    /// <summary>A new mapping: <paramref name="over"/>'s keys over <paramref name="under"/>'s, mappings merged key by key, anything else replaced.</summary>
    private static YamlMappingNode DeepMerge(YamlMappingNode under, YamlMappingNode over)
    {
        var merged = new YamlMappingNode(under.Children);
        foreach (var (key, value) in over.Children)
        {
            merged.Children[key] = merged.Children.TryGetValue(key, out var existing) && existing is YamlMappingNode a && value is YamlMappingNode b
                ? DeepMerge(a, b)
                : value;
        }
        return merged;
    }

    private static void ThrowIfInvalid(ModelTemplate template, string origin)
    {
        if (TemplateValidation.Problems(template).FirstOrDefault() is ({ } key, { } problem))
            throw new TemplateException(origin, $"{key} {problem}");
    }

    private static IEnumerable<TemplateSource> ReadEmbedded()
    {
        var assembly = Assembly.GetExecutingAssembly();
        foreach (string resource in assembly.GetManifestResourceNames().Where(n => n.StartsWith(EmbeddedPrefix, StringComparison.Ordinal)).Order(StringComparer.Ordinal))
        {
            using var reader = new StreamReader(assembly.GetManifestResourceStream(resource)!);
            yield return TemplateSource.Parse($"src/ActionKit.Pipeline/Templates/{resource[EmbeddedPrefix.Length..]}", reader.ReadToEnd());
        }
    }
}
