using System.Buffers.Binary;
using System.Collections;
using System.Text;
using Razorvine.Pickle;
using Razorvine.Pickle.Objects;

namespace ActionKit.Engine.Checkpoints;

/// <summary>A PyTorch storage type (torch.FloatStorage, ...): the element type of the storages a pickle refers to.</summary>
public enum TorchDType
{
    Float32,
    Float16,
    BFloat16,
    Float64,
    Int64,
    Int32,
    Int16,
    Int8,
    UInt8,
    Bool,
}

/// <summary>A storage a pickle refers to by persistent id: its key in the file, element type and element count.</summary>
sealed record TorchStorageRef(string Key, TorchDType Type, long Count);

/// <summary>What torch._utils._rebuild_tensor_v2 receives: a view (offset, sizes, strides, in elements) of a storage.</summary>
sealed record TorchTensorRef(TorchStorageRef Storage, long Offset, long[] Shape, long[] Strides);

/// <summary>
/// Unpickles the object records of a PyTorch checkpoint with the semantics of <c>torch.load(weights_only=True)</c>:
/// before anything is constructed, every opcode of the pickle is walked and every global it names is checked against
/// a short allow-list (OrderedDict, the tensor and parameter rebuilders, the storage types, _codecs.encode); any other
/// global, and the opcodes that instantiate classes without one (INST, OBJ, extensions, out-of-band buffers), refuse
/// the whole file by name. Only then does Razorvine.Pickle build the objects, from constructors ActionKit registers
/// for exactly those names, so nothing named in the file is ever executed.
/// </summary>
static class TorchPickle
{
    static readonly Dictionary<string, TorchDType> StorageTypes = new()
    {
        ["FloatStorage"] = TorchDType.Float32,
        ["HalfStorage"] = TorchDType.Float16,
        ["BFloat16Storage"] = TorchDType.BFloat16,
        ["DoubleStorage"] = TorchDType.Float64,
        ["LongStorage"] = TorchDType.Int64,
        ["IntStorage"] = TorchDType.Int32,
        ["ShortStorage"] = TorchDType.Int16,
        ["CharStorage"] = TorchDType.Int8,
        ["ByteStorage"] = TorchDType.UInt8,
        ["BoolStorage"] = TorchDType.Bool,
    };

    static readonly Dictionary<string, IObjectConstructor> Allowed = BuildAllowList();

    static TorchPickle()
    {
        // Razorvine looks constructors up in one process-wide table; ours replace any default for these names, and
        // the scan guarantees no other name reaches the table's fall-backs.
        foreach (var (fullName, constructor) in Allowed)
        {
            int dot = fullName.LastIndexOf('.');
            Unpickler.registerConstructor(fullName[..dot], fullName[(dot + 1)..], constructor);
        }
    }

    static Dictionary<string, IObjectConstructor> BuildAllowList()
    {
        var allowed = new Dictionary<string, IObjectConstructor>(StringComparer.Ordinal)
        {
            ["collections.OrderedDict"] = new OrderedDictConstructor(),
            ["torch._utils._rebuild_tensor_v2"] = new RebuildTensorConstructor(),
            ["torch._utils._rebuild_parameter"] = new RebuildParameterConstructor(),
            ["_codecs.encode"] = new ByteArrayConstructor(),
        };
        foreach (var (name, type) in StorageTypes)
            allowed["torch." + name] = new StorageTypeMarker(type);
        return allowed;
    }

    public static int ElementSize(TorchDType type) => type switch
    {
        TorchDType.Float64 or TorchDType.Int64 => 8,
        TorchDType.Float32 or TorchDType.Int32 => 4,
        TorchDType.Float16 or TorchDType.BFloat16 or TorchDType.Int16 => 2,
        _ => 1,
    };

    /// <summary>
    /// Checks the pickle starting at <paramref name="start"/> and unpickles it; <paramref name="storages"/> receives
    /// every storage it refers to. Returns the object and the offset just past its STOP opcode.
    /// </summary>
    public static (object? Value, int End) Load(string file, byte[] data, int start, string what, Dictionary<string, TorchStorageRef> storages)
    {
        int end = Scan(file, data, start, what);
        using var unpickler = new StorageUnpickler(file, what, storages);
        try
        {
            // A copy: Razorvine's loads(ReadOnlyMemory) reads an array-backed memory from the array's start.
            return (unpickler.loads(data.AsSpan(start, end - start).ToArray()), end);
        }
        catch (Exception e) when (e is PickleException or InvalidCastException or ArgumentException or IndexOutOfRangeException
            or NullReferenceException or FormatException or OverflowException or InvalidOperationException)
        {
            throw new CheckpointFormatException(file, $"{what} is not a valid PyTorch pickle: {e.Message}");
        }
    }

    /// <summary>Walks every opcode to the STOP; refuses forbidden globals and opcodes. Returns the offset after STOP.</summary>
    static int Scan(string file, byte[] data, int start, string what)
    {
        int position = start;
        // The last two values pushed, where they are string literals: STACK_GLOBAL takes its module and name from them.
        string? below = null, top = null;
        var memo = new Dictionary<long, string?>();
        CheckpointFormatException Corrupt(string message) => new(file, $"{what}: {message} at byte {position}.");
        ReadOnlySpan<byte> Take(int count)
        {
            if (count < 0 || position + (long)count > data.Length)
                throw Corrupt("truncated pickle");
            var span = data.AsSpan(position, count);
            position += count;
            return span;
        }
        string Line()
        {
            int newline = Array.IndexOf(data, (byte)'\n', position);
            if (newline < 0)
                throw Corrupt("truncated pickle (no end of line)");
            string text = Encoding.UTF8.GetString(data, position, newline - position);
            position = newline + 1;
            return text;
        }
        void Push(string? value)
        {
            below = top;
            top = value;
        }
        void CheckGlobal(string module, string name)
        {
            string fullName = module + "." + name;
            if (!Allowed.ContainsKey(fullName))
                throw new CheckpointFormatException(file, $"{what} names the global {fullName}, which a weights-only load refuses "
                    + $"(allowed: {string.Join(", ", Allowed.Keys.Order(StringComparer.Ordinal))}). Nothing from the file was run; "
                    + "save the bare state dict in PyTorch: torch.save(model.state_dict(), path).");
        }
        int Length(int size) => size switch
        {
            1 => Take(1)[0],
            4 => checked((int)BinaryPrimitives.ReadUInt32LittleEndian(Take(4))),
            _ => checked((int)BinaryPrimitives.ReadUInt64LittleEndian(Take(8))),
        };
        while (true)
        {
            if (position >= data.Length)
                throw Corrupt("truncated pickle (no STOP opcode)");
            byte opcode = data[position++];
            switch (opcode)
            {
                case (byte)'.': // STOP
                    return position;
                case 0x80: // PROTO
                    Take(1);
                    break;
                case 0x95: // FRAME
                    Take(8);
                    break;
                case (byte)'X': // BINUNICODE
                    Push(Encoding.UTF8.GetString(Take(Length(4))));
                    break;
                case 0x8c: // SHORT_BINUNICODE
                    Push(Encoding.UTF8.GetString(Take(Length(1))));
                    break;
                case 0x8d: // BINUNICODE8
                    Push(Encoding.UTF8.GetString(Take(Length(8))));
                    break;
                case (byte)'T': // BINSTRING
                    Push(Encoding.Latin1.GetString(Take(Length(4))));
                    break;
                case (byte)'U': // SHORT_BINSTRING
                    Push(Encoding.Latin1.GetString(Take(Length(1))));
                    break;
                case (byte)'B': // BINBYTES
                    Take(Length(4));
                    Push(null);
                    break;
                case (byte)'C': // SHORT_BINBYTES
                    Take(Length(1));
                    Push(null);
                    break;
                case 0x8e or 0x96: // BINBYTES8, BYTEARRAY8
                    Take(Length(8));
                    Push(null);
                    break;
                case (byte)'J': // BININT
                    Take(4);
                    Push(null);
                    break;
                case (byte)'K': // BININT1
                    Take(1);
                    Push(null);
                    break;
                case (byte)'M': // BININT2
                    Take(2);
                    Push(null);
                    break;
                case 0x8a: // LONG1
                    Take(Length(1));
                    Push(null);
                    break;
                case 0x8b: // LONG4
                    Take(Length(4));
                    Push(null);
                    break;
                case (byte)'G': // BINFLOAT
                    Take(8);
                    Push(null);
                    break;
                case (byte)'I' or (byte)'L' or (byte)'F' or (byte)'S' or (byte)'V': // INT, LONG, FLOAT, STRING, UNICODE
                    Line();
                    Push(null);
                    break;
                case (byte)'q': // BINPUT
                    memo[Take(1)[0]] = top;
                    break;
                case (byte)'r': // LONG_BINPUT
                    memo[BinaryPrimitives.ReadUInt32LittleEndian(Take(4))] = top;
                    break;
                case (byte)'p': // PUT
                    memo[long.TryParse(Line(), out var putKey) ? putKey : -1] = top;
                    break;
                case 0x94: // MEMOIZE
                    memo[memo.Count] = top;
                    break;
                case (byte)'h': // BINGET
                    Push(memo.GetValueOrDefault(Take(1)[0]));
                    break;
                case (byte)'j': // LONG_BINGET
                    Push(memo.GetValueOrDefault(BinaryPrimitives.ReadUInt32LittleEndian(Take(4))));
                    break;
                case (byte)'g': // GET
                    Push(memo.GetValueOrDefault(long.TryParse(Line(), out var getKey) ? getKey : -1));
                    break;
                case (byte)'c': // GLOBAL: the module, then the name, each on its own line
                    CheckGlobal(Line(), Line());
                    Push(null);
                    break;
                case 0x93: // STACK_GLOBAL
                    if (below is null || top is null)
                        throw new CheckpointFormatException(file, $"{what} builds a global's name at run time (STACK_GLOBAL without literal strings); refused.");
                    CheckGlobal(below, top);
                    below = top = null;
                    break;
                case (byte)'(' or (byte)'0' or (byte)'1' or (byte)'2' or (byte)'N' or (byte)'Q' or (byte)'R' or (byte)'a'
                    or (byte)'b' or (byte)'d' or (byte)'}' or (byte)'e' or (byte)'l' or (byte)']' or (byte)'s' or (byte)'t'
                    or (byte)')' or (byte)'u' or 0x81 or 0x85 or 0x86 or 0x87 or 0x88 or 0x89 or 0x8f or 0x90 or 0x91 or 0x92 or 0x98:
                    // MARK, POP, POP_MARK, DUP, NONE, BINPERSID, REDUCE, APPEND, BUILD, DICT, EMPTY_DICT, APPENDS, LIST,
                    // EMPTY_LIST, SETITEM, TUPLE, EMPTY_TUPLE, SETITEMS, NEWOBJ, TUPLE1-3, NEWTRUE, NEWFALSE, EMPTY_SET,
                    // ADDITEMS, FROZENSET, NEWOBJ_EX, READONLY_BUFFER: no argument, and no name to check
                    Push(null);
                    break;
                case (byte)'i' or (byte)'o' or 0x82 or 0x83 or 0x84 or 0x97 or (byte)'P':
                    throw new CheckpointFormatException(file, $"{what} uses the pickle opcode 0x{opcode:x2} "
                        + $"({OpcodeName(opcode)}), which a weights-only load refuses.");
                default:
                    throw Corrupt($"unknown pickle opcode 0x{opcode:x2}");
            }
        }
    }

    static string OpcodeName(byte opcode) => opcode switch
    {
        (byte)'i' => "INST",
        (byte)'o' => "OBJ",
        (byte)'P' => "PERSID",
        0x97 => "NEXT_BUFFER",
        _ => "EXT",
    };

    static long ToLong(object? value) => value switch
    {
        int i => i,
        long l => l,
        System.Numerics.BigInteger b => (long)b,
        _ => throw new InvalidCastException($"expected an integer, found {value?.GetType().Name ?? "None"}"),
    };

    static long[] ToLongs(object? tuple) => tuple is object[] items
        ? [.. items.Select(ToLong)]
        : throw new InvalidCastException($"expected a tuple of integers, found {tuple?.GetType().Name ?? "None"}");

    /// <summary>A dict whose pickle may carry instance state (a state dict's _metadata), which a state dict does not need.</summary>
    sealed class TorchOrderedDict : Hashtable
    {
        // Razorvine's BUILD opcode calls __setstate__ by name.
        public void __setstate__(Hashtable state)
        {
        }
    }

    sealed class OrderedDictConstructor : IObjectConstructor
    {
        public object construct(object[] args)
        {
            var dict = new TorchOrderedDict();
            if (args.Length > 0 && args[0] is IEnumerable pairs)
                foreach (var pair in pairs)
                    if (pair is object[] { Length: 2 } tuple)
                        dict[tuple[0]] = tuple[1];
                    else if (pair is ArrayList { Count: 2 } list)
                        dict[list[0]!] = list[1];
            return dict;
        }
    }

    sealed class RebuildTensorConstructor : IObjectConstructor
    {
        public object construct(object[] args)
        {
            if (args.Length < 4 || args[0] is not TorchStorageRef storage)
                throw new PickleException("_rebuild_tensor_v2 expects (storage, offset, size, stride, ...)");
            var shape = ToLongs(args[2]);
            var strides = ToLongs(args[3]);
            if (shape.Length != strides.Length)
                throw new PickleException($"_rebuild_tensor_v2 got {shape.Length} sizes but {strides.Length} strides");
            return new TorchTensorRef(storage, ToLong(args[1]), shape, strides);
        }
    }

    sealed class RebuildParameterConstructor : IObjectConstructor
    {
        public object construct(object[] args) => args.Length > 0 && args[0] is TorchTensorRef tensor
            ? tensor
            : throw new PickleException("_rebuild_parameter expects a tensor");
    }

    /// <summary>A storage type named in a persistent id; it is a name, never called.</summary>
    sealed class StorageTypeMarker(TorchDType type) : IObjectConstructor
    {
        public TorchDType Type { get; } = type;

        public object construct(object[] args) => throw new PickleException($"storage type {Type} cannot be called");
    }

    /// <summary>Resolves persistent ids ('storage', type, key, location, count[, view]) to storage references.</summary>
    sealed class StorageUnpickler(string file, string what, Dictionary<string, TorchStorageRef> storages) : Unpickler
    {
        protected override object persistentLoad(object pid)
        {
            if (pid is not object[] { Length: >= 5 } id || id[0] is not "storage" || id[1] is not StorageTypeMarker type || id[2] is not string key)
                throw new CheckpointFormatException(file, $"{what} has a persistent id that is not a storage reference.");
            if (id.Length > 5 && id[5] is not null)
                throw new CheckpointFormatException(file, $"{what}: storage {key} is a view of another storage (pre-1.0 PyTorch), which ActionKit does not read.");
            var storage = new TorchStorageRef(key, type.Type, ToLong(id[4]));
            if (storages.TryGetValue(key, out var known) && known != storage)
                throw new CheckpointFormatException(file, $"{what}: storage {key} is referred to as both {known.Type} x {known.Count} and {storage.Type} x {storage.Count}.");
            storages[key] = storage;
            return storage;
        }
    }
}
