using System.Runtime.CompilerServices;

namespace ActionKit.Engine;

/// <summary>The element type of a tensor.</summary>
public enum DType
{
    Float32,
    Int32,
    Int8,
    UInt8,
}

/// <summary>Sizes of the element types and the .NET type each one holds.</summary>
public static class DTypes
{
    public static int Size(this DType type) => type switch
    {
        DType.Float32 or DType.Int32 => 4,
        DType.Int8 or DType.UInt8 => 1,
        _ => throw new ArgumentOutOfRangeException(nameof(type), type, "Unknown element type."),
    };

    /// <summary>The element type stored as <typeparamref name="T"/> (float, int, sbyte or byte).</summary>
    public static DType Of<T>() where T : unmanaged =>
        typeof(T) == typeof(float) ? DType.Float32
        : typeof(T) == typeof(int) ? DType.Int32
        : typeof(T) == typeof(sbyte) ? DType.Int8
        : typeof(T) == typeof(byte) ? DType.UInt8
        : throw new ArgumentException($"{typeof(T).Name} is not a tensor element type (float, int, sbyte, byte).");
}

/// <summary>
/// A tensor on a backend: an element type, a shape and a window into device memory. Engine tensors are
/// channels-last (N, D, H, W, C). A tensor made by <see cref="IBackend.Allocate(DType, int[])"/> owns its memory and
/// must be disposed; views (<see cref="View"/>, <see cref="Reshape"/>) share it and their disposal does nothing.
/// A backend maps a tensor to its own memory through <see cref="Memory"/> and <see cref="Offset"/>.
/// </summary>
public sealed class Tensor : IDisposable
{
    readonly bool ownsMemory;

    /// <summary>A tensor over <paramref name="memory"/> starting <paramref name="offset"/> elements in; for backends.</summary>
    public Tensor(IBackend backend, DeviceMemory memory, long offset, int[] shape, bool ownsMemory)
    {
        Backend = backend;
        Memory = memory;
        Offset = offset;
        Shape = shape;
        Length = ElementCount(shape);
        if (offset < 0 || offset + Length > memory.Length)
            throw new ArgumentOutOfRangeException(nameof(offset), $"View [{offset}, {offset + Length}) exceeds memory of {memory.Length} elements.");
        this.ownsMemory = ownsMemory;
    }

    public IBackend Backend { get; }
    public int[] Shape { get; }
    public long Length { get; }
    public DType DType => Memory.DType;

    /// <summary>The backend's memory block this tensor is a window of.</summary>
    public DeviceMemory Memory { get; }

    /// <summary>Where the window starts in <see cref="Memory"/>, in elements.</summary>
    public long Offset { get; }

    public int Rank => Shape.Length;

    /// <summary>Size of dimension <paramref name="axis"/>; negative axes count from the end.</summary>
    public int Dim(int axis) => Shape[axis < 0 ? Shape.Length + axis : axis];

    /// <summary>The same memory seen with another shape of the same element count.</summary>
    public Tensor Reshape(params int[] shape)
    {
        if (ElementCount(shape) != Length)
            throw new ArgumentException($"Cannot reshape {Describe(Shape)} to {Describe(shape)}.");
        return new Tensor(Backend, Memory, Offset, shape, ownsMemory: false);
    }

    /// <summary>A window of this tensor's memory starting <paramref name="offset"/> elements in.</summary>
    public Tensor View(long offset, params int[] shape) => new(Backend, Memory, Offset + offset, shape, ownsMemory: false);

    /// <summary>Uploads float32 values (the common case of <see cref="CopyFrom{T}"/>).</summary>
    public void CopyFrom(ReadOnlySpan<float> source) => CopyFrom<float>(source);

    /// <summary>Uploads values of this tensor's element type.</summary>
    public void CopyFrom<T>(ReadOnlySpan<T> source) where T : unmanaged
    {
        RequireType<T>();
        if (source.Length != Length)
            throw new ArgumentException($"Source has {source.Length} values, tensor {Describe(Shape)} needs {Length}.");
        Backend.Upload(this, source);
    }

    /// <summary>Downloads float32 values (the common case of <see cref="CopyTo{T}"/>).</summary>
    public void CopyTo(Span<float> destination) => CopyTo<float>(destination);

    /// <summary>Downloads the values (waits for the backend's queued work on them).</summary>
    public void CopyTo<T>(Span<T> destination) where T : unmanaged
    {
        RequireType<T>();
        if (destination.Length != Length)
            throw new ArgumentException($"Destination has {destination.Length} values, tensor {Describe(Shape)} has {Length}.");
        Backend.Download(this, destination);
    }

    public float[] ToArray() => ToArray<float>();

    public T[] ToArray<T>() where T : unmanaged
    {
        var values = new T[Length];
        CopyTo<T>(values);
        return values;
    }

    public bool HasShape(params int[] shape) => Shape.AsSpan().SequenceEqual(shape);

    /// <summary>Throws unless this tensor holds <paramref name="type"/> elements; <paramref name="operation"/> names the caller.</summary>
    public void Require(DType type, [CallerMemberName] string operation = "")
    {
        if (DType != type)
            throw new ArgumentException($"{operation}: {this} holds {DType}, expected {type}.");
    }

    void RequireType<T>() where T : unmanaged => Require(DTypes.Of<T>(), typeof(T).Name);

    public void Dispose()
    {
        if (ownsMemory)
            Memory.Dispose();
    }

    public override string ToString() => $"Tensor{Describe(Shape)}{(DType == DType.Float32 ? "" : " " + DType)} on {Backend.Name}";

    public static long ElementCount(IReadOnlyList<int> shape)
    {
        long count = 1;
        foreach (int d in shape)
        {
            if (d < 0)
                throw new ArgumentException($"Negative dimension in shape {Describe(shape)}.");
            count *= d;
        }
        return count;
    }

    public static string Describe(IEnumerable<int> shape) => "[" + string.Join(", ", shape) + "]";
}

/// <summary>A block of device memory holding <see cref="Length"/> elements of one type; owned by exactly one tensor.</summary>
public abstract class DeviceMemory(DType type, long length) : IDisposable
{
    public DType DType { get; } = type;

    /// <summary>Size in elements.</summary>
    public long Length { get; } = length;

    public long Bytes => Length * DType.Size();

    public abstract void Dispose();
}
