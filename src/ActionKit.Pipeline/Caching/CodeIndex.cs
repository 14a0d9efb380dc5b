using System.Reflection;
using System.Text;

namespace ActionKit.Pipeline.Caching;

/// <summary>
/// The code that stage keys include, as compiled into ActionKit's assemblies (Directory.Build.targets): the hash of
/// each source file (by the ActionKit.CodeHash generator, comments and layout left out) and the version of each NuGet
/// package an assembly references. A code unit is an assembly (<c>ActionKit.Kernels</c>) or a folder or file in its
/// project (<c>ActionKit.Pipeline/Training</c>).
/// </summary>
public sealed class CodeIndex(IReadOnlyDictionary<string, AssemblyCode> assemblies)
{
    // The metadata keys written by CodeHashGenerator.MetadataPrefix and by Directory.Build.targets.
    private const string SourcePrefix = "ActionKit.CodeHash:";
    private const string PackagePrefix = "ActionKit.Package:";

    /// <summary>ActionKit.Pipeline and the ActionKit assemblies it references, directly or not: the code this process runs.</summary>
    public static CodeIndex Loaded { get; } = FromAssemblies(ActionKitAssemblies(typeof(CodeIndex).Assembly));

    /// <summary>Assembly name to its source hashes and package versions.</summary>
    public IReadOnlyDictionary<string, AssemblyCode> Assemblies { get; } = assemblies;

    public static CodeIndex FromAssemblies(IEnumerable<Assembly> assemblies) => new(assemblies.ToDictionary(
        assembly => assembly.GetName().Name!,
        assembly =>
        {
            var metadata = assembly.GetCustomAttributes<AssemblyMetadataAttribute>().ToList();
            return new AssemblyCode(Select(metadata, SourcePrefix), Select(metadata, PackagePrefix));
        }));

    /// <summary>
    /// The hash of a code unit: of the "hash  path" lines of its source files, in path order, as a folder's content
    /// hash is made. Throws <see cref="InvalidOperationException"/> for a unit that names no source file.
    /// </summary>
    public string Hash(string unit)
    {
        int slash = unit.IndexOf('/', StringComparison.Ordinal);
        string assembly = slash < 0 ? unit : unit[..slash];
        string? part = slash < 0 ? null : unit[(slash + 1)..];
        if (!Assemblies.TryGetValue(assembly, out var code) || code.Sources.Count == 0)
            throw new InvalidOperationException($"code {unit}: the assembly {assembly} is not loaded or carries no source hashes");
        var files = code.Sources
            .Where(file => part is null || file.Key == part || file.Key.StartsWith(part + "/", StringComparison.Ordinal))
            .OrderBy(file => file.Key, StringComparer.Ordinal)
            .ToList();
        if (files.Count == 0)
            throw new InvalidOperationException($"code {unit}: {assembly} has no source file {part} or under it");
        var manifest = new StringBuilder();
        foreach (var (path, hash) in files)
            manifest.Append(hash).Append("  ").Append(path).Append('\n');
        return ContentHasher.HashText(manifest.ToString());
    }

    /// <summary>The version of a NuGet package that an ActionKit assembly references; throws <see cref="InvalidOperationException"/> for another.</summary>
    public string PackageVersion(string package) =>
        Assemblies.Values.Select(code => code.Packages.GetValueOrDefault(package)).FirstOrDefault(version => version is not null)
        ?? throw new InvalidOperationException($"package {package}: no ActionKit assembly references it");

    private static Dictionary<string, string> Select(IEnumerable<AssemblyMetadataAttribute> metadata, string prefix) =>
        metadata.Where(item => item.Key.StartsWith(prefix, StringComparison.Ordinal) && item.Value is not null)
            .ToDictionary(item => item.Key[prefix.Length..], item => item.Value!, StringComparer.Ordinal);

    private static List<Assembly> ActionKitAssemblies(Assembly root)
    {
        var found = new Dictionary<string, Assembly>(StringComparer.Ordinal) { [root.GetName().Name!] = root };
        var pending = new Stack<Assembly>([root]);
        while (pending.TryPop(out var assembly))
        {
            foreach (var reference in assembly.GetReferencedAssemblies())
            {
                if (reference.Name is { } name && name.StartsWith("ActionKit.", StringComparison.Ordinal) && !found.ContainsKey(name))
                    pending.Push(found[name] = Assembly.Load(reference));
            }
        }
        return [.. found.Values];
    }
}

/// <summary>What one assembly carries for stage keys: source path (relative to its project) to hash, package to version.</summary>
public sealed record AssemblyCode(IReadOnlyDictionary<string, string> Sources, IReadOnlyDictionary<string, string> Packages);
