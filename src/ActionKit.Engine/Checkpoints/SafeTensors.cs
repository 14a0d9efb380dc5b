using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Unicode;

namespace ActionKit.Engine.Checkpoints;

/// <summary>A checkpoint file that is missing, truncated, corrupt, or does not fit the model; names the file.</summary>
public sealed class CheckpointFormatException(string filePath, string message)
    : Exception($"{filePath}: {message}")
{
    public string FilePath { get; } = filePath;
}

/// <summary>Element types ActionKit reads and writes in safetensors files.</summary>
public enum SafeTensorType
{
    F32,
    I64,
}

/// <summary>One named tensor of a safetensors file, with its raw little-endian bytes.</summary>
public sealed record SafeTensor(string Name, SafeTensorType Type, int[] Shape, byte[] Data)
{
    public static SafeTensor FromFloats(string name, int[] shape, ReadOnlySpan<float> values) =>
        new(name, SafeTensorType.F32, shape, MemoryMarshal.AsBytes(values).ToArray());

    public static SafeTensor FromInt64(string name, long value) =>
        new(name, SafeTensorType.I64, [], BitConverter.GetBytes(value));

    public float[] ToFloats() => MemoryMarshal.Cast<byte, float>(Data).ToArray();

    public long ToInt64() => BinaryPrimitives.ReadInt64LittleEndian(Data);
}

/// <summary>
/// The safetensors format (Hugging Face): an 8-byte little-endian header length, a JSON header mapping each name to
/// {dtype, shape, data_offsets} plus optional "__metadata__" strings, then the tensors' bytes back to back.
/// </summary>
public static class SafeTensors
{
    const long MaxHeaderBytes = 100 << 20;

    /// <summary>Writes atomically: a temporary file beside <paramref name="path"/>, then a rename.</summary>
    public static void Write(string path, IReadOnlyList<SafeTensor> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        var header = new JsonObject();
        if (metadata is { Count: > 0 })
            header["__metadata__"] = new JsonObject(metadata.Select(kv => KeyValuePair.Create(kv.Key, (JsonNode?)kv.Value)));
        long offset = 0;
        foreach (var t in tensors)
        {
            header[t.Name] = new JsonObject
            {
                ["dtype"] = t.Type.ToString(),
                ["shape"] = new JsonArray(t.Shape.Select(d => (JsonNode?)d).ToArray()),
                ["data_offsets"] = new JsonArray(offset, offset + t.Data.Length),
            };
            offset += t.Data.Length;
        }
        var json = Encoding.UTF8.GetBytes(header.ToJsonString());
        int padded = (json.Length + 7) / 8 * 8;
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        string temporary = path + ".tmp";
        using (var stream = File.Create(temporary))
        {
            Span<byte> length = stackalloc byte[8];
            BinaryPrimitives.WriteUInt64LittleEndian(length, (ulong)padded);
            stream.Write(length);
            stream.Write(json);
            for (int i = json.Length; i < padded; i++)
                stream.WriteByte((byte)' ');
            foreach (var t in tensors)
                stream.Write(t.Data);
        }
        File.Move(temporary, path, overwrite: true);
    }

    /// <summary>Reads and validates a whole file; every inconsistency is a <see cref="CheckpointFormatException"/>.</summary>
    public static (IReadOnlyList<SafeTensor> Tensors, IReadOnlyDictionary<string, string> Metadata) Read(string path)
    {
        if (!File.Exists(path))
            throw new CheckpointFormatException(path, "file not found.");
        var bytes = File.ReadAllBytes(path);
        if (bytes.Length < 8)
            throw new CheckpointFormatException(path, $"truncated: {bytes.Length} bytes, not even the 8-byte header length.");
        ulong headerLength = BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        if (headerLength > MaxHeaderBytes || (long)headerLength > bytes.Length - 8)
            throw new CheckpointFormatException(path, $"header length {headerLength} does not fit a file of {bytes.Length} bytes (truncated or not safetensors).");
        // JsonNode decodes names and strings lazily: invalid UTF-8 would surface later, outside this file's checks.
        if (!Utf8.IsValid(bytes.AsSpan(8, (int)headerLength)))
            throw new CheckpointFormatException(path, "header is not valid UTF-8 (corrupt file).");
        JsonObject header;
        try
        {
            header = JsonNode.Parse(bytes.AsSpan(8, (int)headerLength))?.AsObject()
                ?? throw new CheckpointFormatException(path, "header is not a JSON object.");
            _ = header.Count; // builds the object's dictionary now, which refuses a name given twice
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException or ArgumentException)
        {
            throw new CheckpointFormatException(path, $"header is not valid JSON: {e.Message}");
        }
        long dataStart = 8 + (long)headerLength, dataLength = bytes.Length - dataStart;
        var metadata = new Dictionary<string, string>();
        var tensors = new List<(SafeTensor Tensor, long Start, long End)>();
        foreach (var (name, node) in header)
        {
            if (name == "__metadata__")
            {
                ReadMetadata(path, node, metadata);
                continue;
            }
            tensors.Add(ReadEntry(path, name, node, bytes, dataStart, dataLength));
        }
        var byStart = tensors.OrderBy(t => t.Start).ToList();
        for (int i = 1; i < byStart.Count; i++)
            if (byStart[i].Start < byStart[i - 1].End)
                throw new CheckpointFormatException(path, $"tensors {byStart[i - 1].Tensor.Name} and {byStart[i].Tensor.Name} overlap.");
        return (tensors.Select(t => t.Tensor).ToList(), metadata);
    }

    static void ReadMetadata(string path, JsonNode? node, Dictionary<string, string> metadata)
    {
        try
        {
            foreach (var (key, value) in node?.AsObject() ?? [])
                metadata[key] = value?.GetValue<string>() ?? "";
        }
        catch (InvalidOperationException e)
        {
            throw new CheckpointFormatException(path, $"__metadata__ is not an object of strings ({e.Message}).");
        }
    }

    static (SafeTensor Tensor, long Start, long End) ReadEntry(string path, string name, JsonNode? node, byte[] bytes, long dataStart, long dataLength)
    {
        try
        {
            var entry = node!.AsObject();
            string dtype = entry["dtype"]!.GetValue<string>();
            if (!Enum.TryParse<SafeTensorType>(dtype, out var type))
                throw new CheckpointFormatException(path, $"tensor {name} has dtype {dtype}; ActionKit reads F32 and I64.");
            int[] shape = entry["shape"]!.AsArray().Select(d => d!.GetValue<int>()).ToArray();
            var offsets = entry["data_offsets"]!.AsArray().Select(o => o!.GetValue<long>()).ToArray();
            long elementBytes = type == SafeTensorType.F32 ? 4 : 8;
            if (shape.Any(d => d < 0) || offsets.Length != 2 || offsets[0] < 0 || offsets[1] < offsets[0])
                throw new CheckpointFormatException(path, $"tensor {name} has an invalid shape or offsets.");
            if (offsets[1] > dataLength)
                throw new CheckpointFormatException(path, $"tensor {name} ends at byte {offsets[1]} but the data section has {dataLength} bytes (truncated file).");
            if (offsets[1] - offsets[0] != Tensor.ElementCount(shape) * elementBytes)
                throw new CheckpointFormatException(path, $"tensor {name} holds {offsets[1] - offsets[0]} bytes, its shape {Tensor.Describe(shape)} needs {Tensor.ElementCount(shape) * elementBytes}.");
            var data = bytes.AsSpan((int)(dataStart + offsets[0]), (int)(offsets[1] - offsets[0])).ToArray();
            return (new SafeTensor(name, type, shape, data), offsets[0], offsets[1]);
        }
        catch (Exception e) when (e is NullReferenceException or InvalidOperationException or FormatException)
        {
            throw new CheckpointFormatException(path, $"tensor {name} has a malformed header entry ({e.Message}).");
        }
    }
}
