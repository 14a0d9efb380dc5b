using System.Collections;
using System.Reflection;
using YamlDotNet.Core;
using YamlDotNet.Core.Events;
using YamlDotNet.RepresentationModel;
using YamlDotNet.Serialization;
using YamlDotNet.Serialization.EventEmitters;
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
        .WithEventEmitter(next => new FlowStyleNumberLists(next))
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
        try
        {
            stream.Load(new StringReader(text));
        }
        catch (InvalidOperationException error)
        {
            // YamlDotNet's scanner fails this way on some malformed plain scalars instead of with a YamlException.
            throw new YamlException(Mark.Empty, Mark.Empty, $"not readable YAML ({error.Message})", error);
        }
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

    /// <summary>
    /// Deserializes <paramref name="text"/>, already parsed as <paramref name="root"/> and key-checked, into
    /// <typeparamref name="T"/>. A value of the wrong kind throws a <see cref="YamlException"/> at its mark whose message
    /// names the dotted key and the kind expected (YamlDotNet's own messages name CLR types).
    /// </summary>
    public static T Deserialize<T>(string text, YamlMappingNode root, IDeserializer deserializer)
        where T : new()
    {
        try
        {
            return deserializer.Deserialize<T?>(text) ?? new T();
        }
        catch (YamlException error) when (FindValue(root, typeof(T), "", error.Start) is var (key, value, property))
        {
            var type = Nullable.GetUnderlyingType(property.PropertyType) ?? property.PropertyType;
            throw new YamlException(error.Start, error.End, $"{key} must be {Expected(type)}, got '{value}'");
        }
    }

    /// <summary>The message of a YAML error without YamlDotNet's position prefix (callers report the line themselves).</summary>
    public static string MessageOf(YamlException error)
    {
        Exception inner = error;
        while (inner.InnerException is YamlException nested)
            inner = nested;
        string message = inner.Message;
        return message.StartsWith("(Line:", StringComparison.Ordinal) ? message.Split("): ", 2)[^1] : message;
    }

    private static (string Key, YamlNode Value, PropertyInfo Property)? FindValue(YamlMappingNode node, Type type, string section, Mark at)
    {
        var properties = type.GetProperties(BindingFlags.Public | BindingFlags.Instance).ToDictionary(KeyOf);
        foreach (var (keyNode, valueNode) in node.Children)
        {
            string key = ((YamlScalarNode)keyNode).Value ?? "";
            if (!properties.TryGetValue(key, out var property))
                continue;
            string path = section.Length == 0 ? key : $"{section}.{key}";
            if (IsSection(property.PropertyType) && valueNode is YamlMappingNode nested && FindValue(nested, property.PropertyType, path, at) is { } inSection)
                return inSection;
            var candidates = valueNode is YamlSequenceNode list ? list.Children.Append(valueNode) : [valueNode];
            if (candidates.FirstOrDefault(n => n.Start.Line == at.Line && n.Start.Column == at.Column) is { } value)
                return (path, value, property);
        }
        return null;
    }

    private static string Expected(Type type) => type switch
    {
        _ when type.IsEnum => "one of " + string.Join(", ", Enum.GetNames(type).Select(UnderscoredNamingConvention.Instance.Apply)),
        _ when type == typeof(int) || type == typeof(long) => "an integer",
        _ when type == typeof(double) => "a number",
        _ when type == typeof(bool) => "true or false",
        _ when type.IsArray => type.GetElementType() == typeof(int) ? "a list of integers" : "a list of numbers",
        _ => "a " + type.Name.ToLowerInvariant(),
    };

    /// <summary>Writes lists of numbers on one line (<c>widths: [24, 48, 96, 192]</c>), as the template files do.</summary>
    private sealed class FlowStyleNumberLists(IEventEmitter next) : ChainedEventEmitter(next)
    {
        public override void Emit(SequenceStartEventInfo eventInfo, IEmitter emitter)
        {
            if (eventInfo.Source.Type.GetElementType() is { IsPrimitive: true })
                eventInfo.Style = SequenceStyle.Flow;
            base.Emit(eventInfo, emitter);
        }
    }

    private static bool IsSection(Type type) =>
        type.IsClass && type != typeof(string) && !typeof(IEnumerable).IsAssignableFrom(type);
}
