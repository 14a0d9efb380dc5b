namespace ActionKit.Engine.Layers;

/// <summary>
/// Base of the engine's layers. Each layer has Forward then Backward side by side; Forward keeps what Backward
/// needs, and every buffer a layer writes is allocated once per input shape and reused on later calls.
/// </summary>
public abstract class Layer(IBackend backend)
{
    protected IBackend Backend { get; } = backend;

    /// <summary>Returns <paramref name="buffer"/> when it already has <paramref name="shape"/>, else replaces it.</summary>
    protected Tensor Ensure(ref Tensor? buffer, params int[] shape)
    {
        if (buffer is not null && buffer.HasShape(shape))
            return buffer;
        buffer?.Dispose();
        buffer = Backend.Allocate(shape);
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
}
