using System.Buffers.Binary;
using System.Collections;
using System.IO.Compression;
using System.Numerics;

namespace ActionKit.Engine.Checkpoints;

/// <summary>One tensor of a PyTorch state dict, contiguous in row-major order; integer tensors also keep their exact values.</summary>
public sealed record TorchTensor(string Name, TorchDType Type, int[] Shape, float[] Values, long[]? Integers)
{
    public bool IsFloatingPoint => Type is TorchDType.Float32 or TorchDType.Float16 or TorchDType.BFloat16 or TorchDType.Float64;
}

/// <summary>A state dict read from a PyTorch checkpoint: its tensors by name, the file format and where the dict was found.</summary>
public sealed record PyTorchStateDict(string Path, string Format, string Location, IReadOnlyDictionary<string, TorchTensor> Tensors);

/// <summary>
/// Reads PyTorch checkpoints (.pth, .pt, .pyth) without Python: the zip format of torch.save since 1.6
/// (<c>&lt;name&gt;/data.pkl</c>, <c>&lt;name&gt;/byteorder</c>, one <c>&lt;name&gt;/data/&lt;key&gt;</c> entry per
/// storage) and the legacy format (pickled magic number, protocol version and system info, the pickled object, the
/// pickled storage keys, then each storage as an 8-byte element count and its raw bytes). The pickles are read as
/// <c>torch.load(weights_only=True)</c> reads them (<see cref="TorchPickle"/>). Tensors may be float32, float16,
/// bfloat16 or float64 (integers for counters), with any storage offset and strides, and may share storages. The
/// state dict is the top-level dict or the one under <c>state_dict</c>, <c>model_state</c> or <c>model</c>.
/// </summary>
public static class PyTorchCheckpoint
{
    static readonly BigInteger LegacyMagic = BigInteger.Parse("01950a86a20f9469cfc6c", System.Globalization.NumberStyles.HexNumber, System.Globalization.CultureInfo.InvariantCulture);
    const int LegacyProtocolVersion = 1001;
    static readonly string[] NestedKeys = ["state_dict", "model_state", "model"];

    public static PyTorchStateDict Read(string path)
    {
        if (!File.Exists(path))
            throw new CheckpointFormatException(path, "file not found.");
        var bytes = File.ReadAllBytes(path);
        if (bytes.Length >= 4 && bytes[0] == 'P' && bytes[1] == 'K' && bytes[2] == 3 && bytes[3] == 4)
            return ReadZip(path, bytes);
        if (bytes.Length >= 2 && bytes[0] == 0x80)
            return ReadLegacy(path, bytes);
        throw new CheckpointFormatException(path, "not a PyTorch checkpoint: neither a zip archive (torch.save since 1.6) nor the legacy pickle format.");
    }

    static PyTorchStateDict ReadZip(string path, byte[] bytes)
    {
        try
        {
            using var archive = new ZipArchive(new MemoryStream(bytes, writable: false), ZipArchiveMode.Read);
            var pickleEntry = archive.Entries.FirstOrDefault(e => e.FullName.EndsWith("/data.pkl", StringComparison.Ordinal) && e.FullName.Count(c => c == '/') == 1)
                ?? throw new CheckpointFormatException(path, "zip archive without <name>/data.pkl: not a PyTorch checkpoint.");
            string prefix = pickleEntry.FullName[..^"data.pkl".Length];
            // An archive without one (older PyTorch) is read as little-endian.
            string byteOrder = archive.GetEntry(prefix + "byteorder") is { } order ? System.Text.Encoding.ASCII.GetString(ReadEntry(path, order, 16)).Trim() : "little";
            if (byteOrder != "little")
                throw new CheckpointFormatException(path, $"{prefix}byteorder says {byteOrder}; ActionKit reads little-endian checkpoints.");
            var storages = new Dictionary<string, TorchStorageRef>();
            var pickle = ReadEntry(path, pickleEntry, bytes.Length * 4L);
            var (root, end) = TorchPickle.Load(path, pickle, 0, pickleEntry.FullName, storages);
            if (end != pickle.Length)
                throw new CheckpointFormatException(path, $"{pickleEntry.FullName} has {pickle.Length - end} bytes after its pickle.");
            var data = new Dictionary<string, byte[]>();
            foreach (var storage in storages.Values)
            {
                string name = prefix + "data/" + storage.Key;
                var entry = archive.GetEntry(name) ?? throw new CheckpointFormatException(path, $"storage {name} is missing from the archive.");
                data[storage.Key] = ReadEntry(path, entry, bytes.Length);
            }
            return Build(path, "zip", root, storages, data);
        }
        catch (InvalidDataException e)
        {
            throw new CheckpointFormatException(path, $"corrupt or truncated zip archive: {e.Message}");
        }
    }

    static byte[] ReadEntry(string path, ZipArchiveEntry entry, long limit)
    {
        if (entry.Length > limit)
            throw new CheckpointFormatException(path, $"zip entry {entry.FullName} claims {entry.Length} bytes, more than the file could hold.");
        using var stream = entry.Open();
        var buffer = new byte[entry.Length];
        stream.ReadExactly(buffer);
        return buffer;
    }

    static PyTorchStateDict ReadLegacy(string path, byte[] bytes)
    {
        var storages = new Dictionary<string, TorchStorageRef>();
        var (magic, position) = TorchPickle.Load(path, bytes, 0, "magic number", storages);
        if (magic is not BigInteger number || number != LegacyMagic)
            throw new CheckpointFormatException(path, "a pickle without PyTorch's magic number: not a PyTorch checkpoint (only state dicts saved by torch.save are read).");
        (var protocol, position) = TorchPickle.Load(path, bytes, position, "protocol version", storages);
        if (protocol is not int version || version != LegacyProtocolVersion)
            throw new CheckpointFormatException(path, $"legacy protocol version {protocol}, expected {LegacyProtocolVersion}.");
        (var systemInfo, position) = TorchPickle.Load(path, bytes, position, "system info", storages);
        if (systemInfo is Hashtable info && info["little_endian"] is false)
            throw new CheckpointFormatException(path, "saved on a big-endian machine; ActionKit reads little-endian checkpoints.");
        (var root, position) = TorchPickle.Load(path, bytes, position, "object record", storages);
        (var keys, position) = TorchPickle.Load(path, bytes, position, "storage keys", storages);
        if (keys is not ArrayList keyList || keyList.Cast<object>().Any(k => k is not string))
            throw new CheckpointFormatException(path, "the storage key list is not a list of strings.");
        var data = new Dictionary<string, byte[]>();
        foreach (string key in keyList)
        {
            if (!storages.TryGetValue(key, out var storage))
                throw new CheckpointFormatException(path, $"storage {key} is listed but no tensor refers to it.");
            if (position + 8L > bytes.Length)
                throw new CheckpointFormatException(path, $"storage {key}: truncated file (no element count at byte {position}).");
            long count = BinaryPrimitives.ReadInt64LittleEndian(bytes.AsSpan(position));
            position += 8;
            long length = count * TorchPickle.ElementSize(storage.Type);
            if (count < 0 || position + length > bytes.Length)
                throw new CheckpointFormatException(path, $"storage {key}: {count} elements of {storage.Type} do not fit in the rest of the file ({bytes.Length - position} bytes; truncated).");
            data[key] = bytes.AsSpan(position, (int)length).ToArray();
            position += (int)length;
        }
        return Build(path, "legacy", root, storages, data);
    }

    static PyTorchStateDict Build(string path, string format, object? root, Dictionary<string, TorchStorageRef> storages, Dictionary<string, byte[]> data)
    {
        if (root is not Hashtable top)
            throw new CheckpointFormatException(path, $"the checkpoint holds a {root?.GetType().Name ?? "None"}, not a dict (state dict).");
        var (dict, location) = NestedKeys.Select(key => (Dict: top[key] as Hashtable, Key: key)).FirstOrDefault(n => n.Dict is not null && HasTensors(n.Dict));
        if (dict is null)
        {
            if (!HasTensors(top))
                throw new CheckpointFormatException(path, $"no state dict: no tensors at the top level nor under {string.Join(", ", NestedKeys)}.");
            (dict, location) = (top, "top level");
        }
        var tensors = new Dictionary<string, TorchTensor>(StringComparer.Ordinal);
        foreach (DictionaryEntry entry in dict)
            if (entry.Key is string name && entry.Value is TorchTensorRef tensor)
                tensors[name] = Materialize(path, name, tensor, data);
        // DataParallel and DistributedDataParallel save every key under "module.".
        if (tensors.Count > 0 && tensors.Keys.All(k => k.StartsWith("module.", StringComparison.Ordinal)))
            tensors = tensors.ToDictionary(kv => kv.Key["module.".Length..], kv => kv.Value with { Name = kv.Key["module.".Length..] }, StringComparer.Ordinal);
        foreach (var storage in storages.Values)
            if (data.TryGetValue(storage.Key, out var bytes) && bytes.Length != storage.Count * TorchPickle.ElementSize(storage.Type))
                throw new CheckpointFormatException(path, $"storage {storage.Key} holds {bytes.Length} bytes, but the pickle says {storage.Count} elements of {storage.Type}.");
        return new PyTorchStateDict(path, format, location ?? "top level", tensors);
    }

    static bool HasTensors(Hashtable dict) => dict.Values.Cast<object?>().Any(v => v is TorchTensorRef);

    static TorchTensor Materialize(string path, string name, TorchTensorRef tensor, Dictionary<string, byte[]> data)
    {
        var storage = tensor.Storage;
        if (!data.TryGetValue(storage.Key, out var bytes))
            throw new CheckpointFormatException(path, $"{name}: its storage {storage.Key} is not in the file.");
        if (tensor.Shape.Any(d => d < 0 || d > int.MaxValue) || tensor.Strides.Any(s => s < 0) || tensor.Offset < 0)
            throw new CheckpointFormatException(path, $"{name}: invalid size, stride or offset.");
        int[] shape = [.. tensor.Shape.Select(d => (int)d)];
        long count = Tensor.ElementCount(shape);
        int elementSize = TorchPickle.ElementSize(storage.Type);
        long available = bytes.Length / elementSize;
        if (count > 0)
        {
            long last = tensor.Offset + tensor.Shape.Zip(tensor.Strides, (d, s) => (d - 1) * s).Sum();
            if (last >= available)
                throw new CheckpointFormatException(path, $"{name}: the tensor {Tensor.Describe(shape)} at offset {tensor.Offset} reaches element {last} "
                    + $"of storage {storage.Key}, which holds {available} (storage shorter than its tensor).");
        }
        var values = new float[count];
        long[]? integers = storage.Type is TorchDType.Float32 or TorchDType.Float16 or TorchDType.BFloat16 or TorchDType.Float64 ? null : new long[count];
        var index = new long[shape.Length];
        for (long i = 0; i < count; i++)
        {
            long element = tensor.Offset;
            for (int d = 0; d < shape.Length; d++)
                element += index[d] * tensor.Strides[d];
            var source = bytes.AsSpan((int)(element * elementSize), elementSize);
            switch (storage.Type)
            {
                case TorchDType.Float32: values[i] = BinaryPrimitives.ReadSingleLittleEndian(source); break;
                case TorchDType.Float16: values[i] = (float)BinaryPrimitives.ReadHalfLittleEndian(source); break;
                case TorchDType.BFloat16: values[i] = BitConverter.Int32BitsToSingle(BinaryPrimitives.ReadUInt16LittleEndian(source) << 16); break;
                case TorchDType.Float64: values[i] = (float)BinaryPrimitives.ReadDoubleLittleEndian(source); break;
                default:
                    long integer = storage.Type switch
                    {
                        TorchDType.Int64 => BinaryPrimitives.ReadInt64LittleEndian(source),
                        TorchDType.Int32 => BinaryPrimitives.ReadInt32LittleEndian(source),
                        TorchDType.Int16 => BinaryPrimitives.ReadInt16LittleEndian(source),
                        TorchDType.Int8 => (sbyte)source[0],
                        _ => source[0],
                    };
                    integers![i] = integer;
                    values[i] = integer;
                    break;
            }
            for (int d = shape.Length - 1; d >= 0; d--)
            {
                if (++index[d] < shape[d])
                    break;
                index[d] = 0;
            }
        }
        return new TorchTensor(name, storage.Type, shape, values, integers);
    }
}
