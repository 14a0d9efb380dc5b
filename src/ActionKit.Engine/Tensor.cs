namespace ActionKit.Engine;

/// <summary>
/// A float32 tensor on a backend: a shape and a window into device memory. Engine tensors are channels-last
/// (N, D, H, W, C). A tensor made by <see cref="IBackend.Allocate"/> owns its memory and must be disposed;
/// views (<see cref="View"/>, <see cref="Reshape"/>) share it and their disposal does nothing.
/// </summary>
public sealed class Tensor : IDisposable
{
    readonly bool ownsMemory;

    internal Tensor(IBackend backend, DeviceMemory memory, long offset, int[] shape, bool ownsMemory)
    {
        Backend = backend;
        Memory = memory;
        Offset = offset;
        Shape = shape;
        Length = ElementCount(shape);
        if (offset < 0 || offset + Length > memory.Length)
            throw new ArgumentOutOfRangeException(nameof(offset), $"View [{offset}, {offset + Length}) exceeds memory of {memory.Length} floats.");
        this.ownsMemory = ownsMemory;
    }

    public IBackend Backend { get; }
    public int[] Shape { get; }
    public long Length { get; }
    internal DeviceMemory Memory { get; }
    internal long Offset { get; }
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

    public void CopyFrom(ReadOnlySpan<float> source)
    {
        if (source.Length != Length)
            throw new ArgumentException($"Source has {source.Length} values, tensor {Describe(Shape)} needs {Length}.");
        Backend.Upload(this, source);
    }

    public void CopyTo(Span<float> destination)
    {
        if (destination.Length != Length)
            throw new ArgumentException($"Destination has {destination.Length} values, tensor {Describe(Shape)} has {Length}.");
        Backend.Download(this, destination);
    }

    public float[] ToArray()
    {
        var values = new float[Length];
        CopyTo(values);
        return values;
    }

    public bool HasShape(params int[] shape) => Shape.AsSpan().SequenceEqual(shape);

    public void Dispose()
    {
        if (ownsMemory)
            Memory.Dispose();
    }

    public override string ToString() => $"Tensor{Describe(Shape)} on {Backend.Name}";

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

/// <summary>A block of device memory holding float32 values; owned by exactly one tensor.</summary>
public abstract class DeviceMemory : IDisposable
{
    protected DeviceMemory(long length) => Length = length;

    public long Length { get; }

    public abstract void Dispose();
}
