using System.Collections.Concurrent;
using System.IO.Enumeration;
using System.Security.Cryptography;
using System.Text;

namespace ActionKit.Pipeline.Caching;

/// <summary>
/// SHA-256 content hashes (lower-case hex) of files and folders. A folder's hash covers its files' relative paths and
/// contents (not their times); unchanged files are not read again thanks to a per-folder cache in <c>stateFolder</c>.
/// </summary>
public sealed class ContentHasher(string stateFolder)
{
    /// <summary>The hash of a file or folder, or null when nothing exists at <paramref name="path"/>.</summary>
    public string? TryHash(string path)
    {
        if (File.Exists(path))
            return HashFile(path);
        return Directory.Exists(path) ? HashFolder(Path.TrimEndingDirectorySeparator(Path.GetFullPath(path))) : null;
    }

    /// <summary>The hash of a text's UTF-8 bytes.</summary>
    public static string HashText(string text) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text)));

    private static string HashFile(string path)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.SequentialScan);
        return Convert.ToHexStringLower(SHA256.HashData(stream));
    }

    private string HashFolder(string folder)
    {
        var files = ListFiles(folder);
        var cache = HashCache.Load(CacheFileFor(folder));
        var hashes = new ConcurrentDictionary<string, string>(StringComparer.Ordinal);
        var stale = new List<FileStamp>();
        foreach (var file in files)
        {
            if (cache.Find(file.RelativePath, file.Size, file.MtimeTicks) is { } known)
                hashes[file.RelativePath] = known;
            else
                stale.Add(file);
        }
        Parallel.ForEach(stale, file => hashes[file.RelativePath] = HashFile(Path.Combine(folder, file.RelativePath)));
        foreach (var file in stale)
            cache.Remember(file.RelativePath, file.Size, file.MtimeTicks, hashes[file.RelativePath]);
        cache.Retain(hashes.Keys.ToHashSet(StringComparer.Ordinal));
        if (cache.Changed)
            cache.Save();

        // The folder's hash is that of its manifest: one "hash  path" line per file, in ordinal path order.
        var manifest = new StringBuilder();
        foreach (var file in files)
            manifest.Append(hashes[file.RelativePath]).Append("  ").Append(file.RelativePath).Append('\n');
        return HashText(manifest.ToString());
    }

    private static List<FileStamp> ListFiles(string folder)
    {
        var options = new EnumerationOptions { RecurseSubdirectories = true, AttributesToSkip = 0, IgnoreInaccessible = false };
        var files = new FileSystemEnumerable<FileStamp>(
            folder,
            (ref FileSystemEntry entry) => new FileStamp(
                Path.GetRelativePath(folder, entry.ToFullPath()).Replace('\\', '/'),
                entry.Length,
                entry.LastWriteTimeUtc.UtcTicks),
            options)
        { ShouldIncludePredicate = (ref FileSystemEntry entry) => !entry.IsDirectory };
        return [.. files.OrderBy(file => file.RelativePath, StringComparer.Ordinal)];
    }

    private string CacheFileFor(string folder)
    {
        // One cache per hashed folder, named for humans by the folder's name and made unique by its full path.
        string pathHash = HashText(folder)[..16];
        return Path.Combine(stateFolder, $"{Path.GetFileName(folder)}-{pathHash}.tsv");
    }

    private readonly record struct FileStamp(string RelativePath, long Size, long MtimeTicks);
}
