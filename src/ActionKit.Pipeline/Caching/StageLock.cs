using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;

namespace ActionKit.Pipeline.Caching;

/// <summary>
/// The record of a stage's last successful run (<c>.locks/NAME.json</c>), like a dvc.lock entry: the key, what went
/// into it, and the hashes of the outputs it produced. Paths are relative to the pipeline root where possible. The
/// ActionKit version and the time are information, not part of the key.
/// </summary>
public sealed record StageLock
{
    private static readonly JsonSerializerOptions Options = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        WriteIndented = true,
        DefaultIgnoreCondition = JsonIgnoreCondition.Never,
    };

    public required string Stage { get; init; }
    public required string Key { get; init; }
    public required string ActionkitVersion { get; init; }
    public required SortedDictionary<string, string> Upstream { get; init; }
    public required SortedDictionary<string, string> Inputs { get; init; }
    public required SortedDictionary<string, JsonNode?> Params { get; init; }

    // Not required: a lock written before code entered the keys still reads, and its stage reruns naming the code.
    public SortedDictionary<string, string> Code { get; init; } = [];
    public SortedDictionary<string, string> Packages { get; init; } = [];

    public required SortedDictionary<string, string> Outputs { get; init; }

    /// <summary>When the run finished; informational, not part of the key.</summary>
    public required DateTimeOffset Created { get; init; }

    /// <summary>The lock at <paramref name="path"/>, or null when there is none or it cannot be read (the stage then runs).</summary>
    public static StageLock? TryRead(string path)
    {
        try
        {
            return File.Exists(path) ? JsonSerializer.Deserialize<StageLock>(File.ReadAllText(path), Options) : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    /// <summary>Writes the lock atomically (temporary file, then rename).</summary>
    public void Write(string path) => AtomicFile.WriteAllText(path, JsonSerializer.Serialize(this, Options) + "\n");
}
