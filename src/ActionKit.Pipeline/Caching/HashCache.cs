using System.Globalization;
using System.Text;

namespace ActionKit.Pipeline.Caching;

/// <summary>
/// Remembered content hashes of one folder's files, keyed by (relative path, size, mtime) like DVC's state database,
/// so that hashing an unchanged folder again only reads its directory entries.
/// </summary>
internal sealed class HashCache
{
    private readonly string cacheFile;
    private readonly Dictionary<string, Entry> entries;

    private HashCache(string cacheFile, Dictionary<string, Entry> entries)
    {
        this.cacheFile = cacheFile;
        this.entries = entries;
    }

    /// <summary>True when a hash was added or replaced since loading.</summary>
    public bool Changed { get; private set; }

    public static HashCache Load(string cacheFile)
    {
        var entries = new Dictionary<string, Entry>(StringComparer.Ordinal);
        if (File.Exists(cacheFile))
        {
            // Lines: size, mtime ticks, sha256, relative path. A line that does not parse is dropped: the cache is only a shortcut.
            foreach (string line in File.ReadLines(cacheFile))
            {
                string[] fields = line.Split('\t', 4);
                if (fields.Length == 4
                    && long.TryParse(fields[0], CultureInfo.InvariantCulture, out long size)
                    && long.TryParse(fields[1], CultureInfo.InvariantCulture, out long ticks))
                    entries[fields[3]] = new Entry(size, ticks, fields[2]);
            }
        }
        return new HashCache(cacheFile, entries);
    }

    public string? Find(string relativePath, long size, long mtimeTicks) =>
        entries.TryGetValue(relativePath, out var entry) && entry.Size == size && entry.MtimeTicks == mtimeTicks
            ? entry.Sha256
            : null;

    public void Remember(string relativePath, long size, long mtimeTicks, string sha256)
    {
        entries[relativePath] = new Entry(size, mtimeTicks, sha256);
        Changed = true;
    }

    /// <summary>Keeps only the given paths (files deleted since are forgotten).</summary>
    public void Retain(IReadOnlySet<string> relativePaths)
    {
        int removed = entries.Keys.Where(path => !relativePaths.Contains(path)).ToList().Count(entries.Remove);
        Changed |= removed > 0;
    }

    public void Save()
    {
        var text = new StringBuilder();
        foreach (var (path, entry) in entries.OrderBy(pair => pair.Key, StringComparer.Ordinal))
            text.Append(CultureInfo.InvariantCulture, $"{entry.Size}\t{entry.MtimeTicks}\t{entry.Sha256}\t{path}\n");
        AtomicFile.WriteAllText(cacheFile, text.ToString());
        Changed = false;
    }

    private readonly record struct Entry(long Size, long MtimeTicks, string Sha256);
}
