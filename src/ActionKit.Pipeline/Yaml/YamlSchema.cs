using System.Collections;
using System.Reflection;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;
using YamlDotNet.Serialization;
using YamlDotNet.Serialization.NamingConventions;

namespace ActionKit.Pipeline.Yaml;

/// <summary>
/// YAML files mapped onto our records: snake_case keys, unknown keys refused with their line, and a
/// deserializer and serializer configured the same way everywhere.
/// </summary>
public static class YamlSchema
{
    public static IDeserializer Deserializer { get; } = new DeserializerBuilder()
        .WithNamingConvention(UnderscoredNamingConvention.Instance)
        .WithEnumNamingConvention(UnderscoredNamingConvention.Instance)
        .Build();

    public static ISerializer Serializer { get; } = new SerializerBuilder()
        .WithNamingConvention(UnderscoredNamingConvention.Instance)
        .WithEnumNamingConvention(UnderscoredNamingConvention.Instance)
        .ConfigureDefaultValuesHandling(DefaultValuesHandling.OmitNull)
        .DisableAliases()
        .Build();

    /// <summary>The snake_case key under which <paramref name="property"/> appears in YAML.</summary>
    public static string KeyOf(PropertyInfo property) => UnderscoredNamingConvention.Instance.Apply(property.Name);

    /// <summary>
    /// Parses <paramref name="text"/> into its top-level mapping (empty when the document is empty).
    /// Throws <see cref="YamlException"/> (with a mark) on a syntax error or a top level that is not a mapping.
    /// </summary>
    public static YamlMappingNode ParseMapping(string text)
    {
        var stream = new YamlStream();
        stream.Load(new StringReader(text));
        if (stream.Documents.Count == 0)
            return [];
        return stream.Documents[0].RootNode as YamlMappingNode
            ?? throw new YamlException(stream.Documents[0].RootNode.Start, stream.Documents[0].RootNode.End, "the top level must be a mapping of keys to values");
    }

    /// <summary>
    /// Checks that every key of <paramref name="node"/> (and of its nested sections) is a property of
    /// <paramref name="type"/>; throws a <see cref="YamlException"/> at the first unknown key, listing the valid ones.
    /// </summary>
    public static void CheckKeys(YamlMappingNode node, Type type, string section = "")
    {
        var properties = type.GetProperties(BindingFlags.Public | BindingFlags.Instance).Where(p => p.CanWrite).ToDictionary(KeyOf);
        foreach (var (keyNode, valueNode) in node.Children)
        {
            string key = ((YamlScalarNode)keyNode).Value ?? "";
            string path = section.Length == 0 ? key : $"{section}.{key}";
            if (!properties.TryGetValue(key, out var property))
            {
                string where = section.Length == 0 ? "at the top level" : $"in {section}";
                throw new YamlException(keyNode.Start, keyNode.End,
                    $"unknown key '{key}' {where}; valid keys: {string.Join(", ", properties.Keys)}");
            }
            if (IsSection(property.PropertyType) && valueNode is YamlMappingNode nested)
                CheckKeys(nested, property.PropertyType, path);
        }
    }

    /// <summary>The node of a dotted key (<c>data.split</c>) in <paramref name="root"/>, or null when absent.</summary>
    public static YamlNode? Find(YamlMappingNode root, string dottedKey)
    {
        YamlNode? node = root;
        foreach (string part in dottedKey.Split('.'))
        {
            if (node is not YamlMappingNode mapping || !mapping.Children.TryGetValue(new YamlScalarNode(part), out node))
                return null;
        }
        return node;
    }

    /// <summary>The innermost message of a deserialization error (YamlDotNet wraps conversion errors).</summary>
    public static string Describe(YamlException error)
    {
        Exception inner = error;
        while (inner.InnerException is not null)
            inner = inner.InnerException;
        return inner is YamlException yaml ? yaml.Message.Split("): ", 2)[^1] : inner.Message;
    }

    private static bool IsSection(Type type) =>
        type.IsClass && type != typeof(string) && !typeof(IEnumerable).IsAssignableFrom(type);
}
