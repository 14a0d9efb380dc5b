using System.Text;
using System.Text.Json.Nodes;

namespace ActionKit.Pipeline.Caching;

/// <summary>
/// Everything a stage's result depends on, as hashes and values; its <see cref="Key"/> is the SHA-256 of a canonical
/// text of them (one sorted line each), so it changes exactly when one of them does.
/// </summary>
public sealed record StageFingerprint
{
    public StageFingerprint(
        string stage,
        IReadOnlyDictionary<string, string> upstream,
        IReadOnlyDictionary<string, string> inputs,
        IReadOnlyDictionary<string, JsonNode?> parameters,
        IReadOnlyDictionary<string, string> code,
        IReadOnlyDictionary<string, string> packages)
    {
        Stage = stage;
        Upstream = upstream;
        Inputs = inputs;
        Params = parameters;
        Code = code;
        Packages = packages;
        Key = ComputeKey();
    }

    public string Stage { get; }

    /// <summary>Upstream stage name to its key.</summary>
    public IReadOnlyDictionary<string, string> Upstream { get; }

    /// <summary>Input path (as locks show it) to its content hash.</summary>
    public IReadOnlyDictionary<string, string> Inputs { get; }

    /// <summary>Dotted parameter key to its value.</summary>
    public IReadOnlyDictionary<string, JsonNode?> Params { get; }

    /// <summary>Code unit (<c>ActionKit.Kernels</c>) to the hash of its sources.</summary>
    public IReadOnlyDictionary<string, string> Code { get; }

    /// <summary>NuGet package to its version.</summary>
    public IReadOnlyDictionary<string, string> Packages { get; }

    public string Key { get; }

    /// <summary>Why a run recorded in <paramref name="previous"/> does not match this fingerprint, one line per difference.</summary>
    public IEnumerable<string> DifferencesFrom(StageLock previous)
    {
        foreach (string unit in Changed(previous.Code, Code))
            yield return $"code {unit} changed";
        foreach (string package in Changed(previous.Packages, Packages))
            yield return $"package {package} {previous.Packages.GetValueOrDefault(package, "(none)")} -> {Packages.GetValueOrDefault(package, "(none)")}";
        foreach (string name in Changed(previous.Upstream, Upstream))
            yield return $"upstream stage {name} changed";
        foreach (string path in Changed(previous.Inputs, Inputs))
            yield return $"input {path} changed";
        var before = previous.Params.SelectMany(p => Leaves(p.Key, p.Value)).ToDictionary();
        var now = Params.SelectMany(p => Leaves(p.Key, p.Value)).ToDictionary();
        foreach (string key in Changed(before, now))
            yield return $"param {key}: {before.GetValueOrDefault(key, "(none)")} -> {now.GetValueOrDefault(key, "(none)")}";
    }

    private static IEnumerable<string> Changed(IReadOnlyDictionary<string, string> before, IReadOnlyDictionary<string, string> now) =>
        before.Keys.Union(now.Keys).Order(StringComparer.Ordinal)
            .Where(key => before.GetValueOrDefault(key) != now.GetValueOrDefault(key));

    private static string Canonical(JsonNode? value) => value?.ToJsonString() ?? "null";

    /// <summary>A section's values one by one (<c>synth.seed</c>, ...), so a difference names the key that changed.</summary>
    private static IEnumerable<KeyValuePair<string, string>> Leaves(string key, JsonNode? value) =>
        value is JsonObject section
            ? section.SelectMany(child => Leaves($"{key}.{child.Key}", child.Value))
            : [new(key, Canonical(value))];

    private string ComputeKey()
    {
        var text = new StringBuilder();
        text.Append("stage ").Append(Stage).Append('\n');
        foreach (var (name, key) in Upstream.OrderBy(p => p.Key, StringComparer.Ordinal))
            text.Append("upstream ").Append(name).Append(' ').Append(key).Append('\n');
        foreach (var (path, hash) in Inputs.OrderBy(p => p.Key, StringComparer.Ordinal))
            text.Append("input ").Append(hash).Append(' ').Append(path).Append('\n');
        foreach (var (key, value) in Params.OrderBy(p => p.Key, StringComparer.Ordinal))
            text.Append("param ").Append(key).Append(' ').Append(Canonical(value)).Append('\n');
        foreach (var (unit, hash) in Code.OrderBy(p => p.Key, StringComparer.Ordinal))
            text.Append("code ").Append(hash).Append(' ').Append(unit).Append('\n');
        foreach (var (package, version) in Packages.OrderBy(p => p.Key, StringComparer.Ordinal))
            text.Append("package ").Append(package).Append(' ').Append(version).Append('\n');
        return ContentHasher.HashText(text.ToString());
    }
}
