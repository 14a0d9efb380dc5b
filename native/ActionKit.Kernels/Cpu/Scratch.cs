using System.Runtime.InteropServices;

namespace ActionKit.Kernels.Cpu;

/// <summary>What a scratch buffer holds. Call slots are filled by the calling thread before a parallel loop and read
/// by its chunks; the chunk and window slots belong to one chunk body at a time.</summary>
internal enum ScratchSlot
{
    CallOperand,
    CallPartials,
    Chunk,
    ClipPartials,
    Requantized,
    Window,
}

/// <summary>
/// Growable, 64-byte aligned native float buffers, one per <see cref="ScratchSlot"/> and thread, kept across kernel
/// calls so that hot paths do not allocate. Contents are undefined on return.
/// </summary>
internal sealed unsafe class Scratch
{
    [ThreadStatic] static Scratch?[]? perThread;

    float* data;
    long capacity;

    /// <summary>This thread's buffer for <paramref name="slot"/>, holding at least <paramref name="floats"/> floats.</summary>
    public static float* Get(ScratchSlot slot, long floats)
    {
        perThread ??= new Scratch?[Enum.GetValues<ScratchSlot>().Length];
        var buffer = perThread[(int)slot] ??= new Scratch();
        if (floats > buffer.capacity)
        {
            NativeMemory.AlignedFree(buffer.data);
            buffer.data = null;
            buffer.capacity = 0;
            buffer.data = (float*)NativeMemory.AlignedAlloc((nuint)(floats * sizeof(float)), 64);
            buffer.capacity = floats;
        }
        return buffer.data;
    }

    // The thread that owned this buffer has ended.
    ~Scratch() => NativeMemory.AlignedFree(data);
}
