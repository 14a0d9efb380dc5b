namespace ActionKit.Engine.Layers;

/// <summary>
/// Base of the engine's layers. Each layer has Forward then Backward side by side; Forward keeps what Backward
/// needs, and every buffer a layer writes is allocated once per input shape and reused on later calls. A layer owns
/// its buffers and the layers it is built from: disposing it frees them (device memory on a GPU).
/// </summary>
public abstract class Layer(IBackend backend) : IDisposable
{
    readonly List<Tensor> buffers = [];
    readonly List<Layer> children = [];
    Profiler? profiler;

    /// <summary>The backend this layer's buffers and parameters live on.</summary>
    public IBackend Backend { get; } = backend;

    /// <summary>Times every Forward and Backward of this layer and the layers inside it (null: no timing).</summary>
    public Profiler? Profiler
    {
        get => profiler;
        set
        {
            profiler = value;
            foreach (var child in children)
                child.Profiler = value;
        }
    }

    /// <summary>Registers <paramref name="layer"/> as part of this one (disposed and profiled with it).</summary>
    protected T Child<T>(T layer) where T : Layer
    {
        children.Add(layer);
        return layer;
    }

    /// <summary>Starts timing this layer's <paramref name="phase"/> when a profiler is attached; dispose to stop.</summary>
    protected Profiler.Scope Time(string phase) => profiler is null ? default : profiler.Measure(GetType().Name, phase);

    /// <summary>Returns <paramref name="buffer"/> when it already has <paramref name="shape"/>, else replaces it.</summary>
    protected Tensor Ensure(ref Tensor? buffer, params int[] shape)
    {
        if (buffer is not null && buffer.HasShape(shape))
            return buffer;
        if (buffer is not null)
        {
            buffers.Remove(buffer);
            buffer.Dispose();
        }
        buffer = Backend.Allocate(shape);
        buffers.Add(buffer);
        return buffer;
    }

    /// <summary>Throws a clear error when <paramref name="x"/> is not channels-last with <paramref name="channels"/> channels.</summary>
    protected static void RequireChannels(Tensor x, int rank, int channels, string layer)
    {
        if (x.Rank != rank || x.Dim(-1) != channels)
            throw new ArgumentException($"{layer} expects a rank-{rank} channels-last input with {channels} channels, got {Tensor.Describe(x.Shape)}.");
    }

    protected static Tensor Saved(Tensor? tensor, string layer) =>
        tensor ?? throw new InvalidOperationException($"{layer}: Backward called before Forward.");

    /// <summary>Frees this layer's buffers and its children's; the layer is not used afterwards.</summary>
    public virtual void Dispose()
    {
        foreach (var child in children)
            child.Dispose();
        foreach (var buffer in buffers)
            buffer.Dispose();
        buffers.Clear();
        GC.SuppressFinalize(this);
    }
}
