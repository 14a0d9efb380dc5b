using System.Collections.Concurrent;
using System.Reflection;
using ILGPU;
using ILGPU.Runtime;
using ILGPU.Runtime.CPU;

namespace ActionKit.Kernels.Gpu;

/// <summary>
/// The ILGPU kernels of one accelerator: each kernel is compiled and loaded once, on first use, and its launcher
/// cached for the life of this object.
/// </summary>
/// <remarks>
/// The contract every op in <c>ActionKit.Kernels.Gpu</c> keeps:
/// <list type="bullet">
/// <item>One static class per op, named like its twin in <c>ActionKit.Kernels.Cpu</c>, whose host methods take this
/// context first and then the twin's arguments in the twin's order (outputs, then inputs and weights, then sizes,
/// <see cref="ConvGeometry"/> and flags), as <see cref="ArrayView{T}"/> instead of pointers, with the same
/// overwrite/accumulate semantics. Views must hold at least the elements the sizes imply.</item>
/// <item>Launches are asynchronous, in order, on <see cref="Stream"/> (the accelerator's default stream); no method
/// synchronizes with the host unless its documentation says so. Read results back with ILGPU's copy methods, which
/// wait for the stream.</item>
/// <item>Results a CPU twin returns (a mean loss, a sum of squares) are written into a 1-element device view, so a
/// training step never waits for the device.</item>
/// <item>Deterministic: reductions use no floating-point atomics; they sum fixed chunks, then the chunks in order,
/// so two runs on the same device give identical bits.</item>
/// <item>Reductions keep their partial sums in <see cref="Scratch"/>, owned by this object and reused by every call:
/// calls must therefore be made from one host thread at a time, which the single stream implies anyway.</item>
/// <item>Create the ILGPU context with <see cref="CreateContext"/> (it enables ILGPU.Algorithms' math intrinsics,
/// which the kernels use). Without a GPU, <see cref="SimulatorDevice"/> runs every kernel on the CPU.</item>
/// </list>
/// </remarks>
public sealed class GpuKernels(Accelerator accelerator) : IDisposable
{
    /// <summary>Threads per group of the explicitly grouped kernels.</summary>
    public const int GroupSize = 256;

    /// <summary>A CPU "device" whose groups are large enough for every kernel (ILGPU's default has 16 threads).</summary>
    public static CPUDevice SimulatorDevice { get; } = new(numThreadsPerWarp: 32, numWarpsPerMultiprocessor: GroupSize / 32, numMultiprocessors: 1);

    readonly ConcurrentDictionary<MethodInfo, Delegate> launchers = new();
    readonly MemoryBuffer1D<float, Stride1D.Dense>?[] scratch = new MemoryBuffer1D<float, Stride1D.Dense>?[Enum.GetValues<GpuScratch>().Length];

    public Accelerator Accelerator { get; } = accelerator;

    /// <summary>The stream every kernel is launched on.</summary>
    public AcceleratorStream Stream => Accelerator.DefaultStream;

    /// <summary>An ILGPU context for these kernels: <paramref name="devices"/> selects the devices (e.g. b => b.Cuda()).</summary>
    public static Context CreateContext(Action<Context.Builder> devices) =>
        Context.Create(builder =>
        {
            devices(builder);
            builder.EnableAlgorithms().Optimize(OptimizationLevel.O2);
        });

    /// <summary>Waits until every launched kernel has finished (and surfaces a launch error, if any).</summary>
    public void Synchronize() => Accelerator.Synchronize();

    /// <summary>
    /// At least <paramref name="length"/> floats of device memory for <paramref name="use"/>, valid until the next
    /// call for the same use. Growing it waits for the stream first, since earlier launches may still read the old buffer.
    /// </summary>
    internal ArrayView<float> Scratch(GpuScratch use, long length)
    {
        ref var buffer = ref scratch[(int)use];
        if (buffer == null || buffer.Length < length)
        {
            Synchronize();
            buffer?.Dispose();
            buffer = Accelerator.Allocate1D<float>(Math.Max(length, 1024));
        }
        return buffer.View.SubView(0, length);
    }

    public void Dispose()
    {
        foreach (var buffer in scratch)
            buffer?.Dispose();
    }

    TLauncher Launcher<TLauncher>(Delegate kernel, bool grouped) where TLauncher : Delegate =>
        (TLauncher)launchers.GetOrAdd(kernel.Method, static (method, state) => state.grouped
            ? state.accelerator.LoadKernel<TLauncher>(method)
            : state.accelerator.LoadAutoGroupedKernel<TLauncher>(method), (accelerator: Accelerator, grouped));

    /// <summary>Checks that a launch's element count fits ILGPU's 32-bit index.</summary>
    internal static Index1D Extent(long count, string operation) =>
        count is >= 0 and <= int.MaxValue ? (int)count
            : throw new ArgumentOutOfRangeException(nameof(count), $"{operation}: {count} elements do not fit one launch (at most {int.MaxValue}).");

    /// <summary>A launch of <paramref name="groups"/> groups of <see cref="GroupSize"/> threads.</summary>
    internal static KernelConfig Groups(long groups, string operation) =>
        new(Extent(groups, operation), new Index1D(GroupSize));

    // Implicitly grouped kernels (one thread per index, ILGPU picks the group size) and explicitly grouped ones
    // (KernelConfig), by arity; the launcher of each kernel is loaded once.
    internal void Launch<T1>(Action<Index1D, T1> k, Index1D n, T1 a1) where T1 : struct =>
        Launcher<Action<AcceleratorStream, Index1D, T1>>(k, false)(Stream, n, a1);
    internal void Launch<T1, T2>(Action<Index1D, T1, T2> k, Index1D n, T1 a1, T2 a2) where T1 : struct where T2 : struct =>
        Launcher<Action<AcceleratorStream, Index1D, T1, T2>>(k, false)(Stream, n, a1, a2);
    internal void Launch<T1, T2, T3>(Action<Index1D, T1, T2, T3> k, Index1D n, T1 a1, T2 a2, T3 a3)
        where T1 : struct where T2 : struct where T3 : struct =>
        Launcher<Action<AcceleratorStream, Index1D, T1, T2, T3>>(k, false)(Stream, n, a1, a2, a3);
    internal void Launch<T1, T2, T3, T4>(Action<Index1D, T1, T2, T3, T4> k, Index1D n, T1 a1, T2 a2, T3 a3, T4 a4)
        where T1 : struct where T2 : struct where T3 : struct where T4 : struct =>
        Launcher<Action<AcceleratorStream, Index1D, T1, T2, T3, T4>>(k, false)(Stream, n, a1, a2, a3, a4);
    internal void Launch<T1, T2, T3, T4, T5>(Action<Index1D, T1, T2, T3, T4, T5> k, Index1D n, T1 a1, T2 a2, T3 a3, T4 a4, T5 a5)
        where T1 : struct where T2 : struct where T3 : struct where T4 : struct where T5 : struct =>
        Launcher<Action<AcceleratorStream, Index1D, T1, T2, T3, T4, T5>>(k, false)(Stream, n, a1, a2, a3, a4, a5);
    internal void Launch<T1, T2, T3, T4, T5, T6>(Action<Index1D, T1, T2, T3, T4, T5, T6> k, Index1D n, T1 a1, T2 a2, T3 a3, T4 a4, T5 a5, T6 a6)
        where T1 : struct where T2 : struct where T3 : struct where T4 : struct where T5 : struct where T6 : struct =>
        Launcher<Action<AcceleratorStream, Index1D, T1, T2, T3, T4, T5, T6>>(k, false)(Stream, n, a1, a2, a3, a4, a5, a6);
    internal void Launch<T1, T2, T3, T4, T5, T6, T7>(Action<Index1D, T1, T2, T3, T4, T5, T6, T7> k, Index1D n, T1 a1, T2 a2, T3 a3, T4 a4, T5 a5, T6 a6, T7 a7)
        where T1 : struct where T2 : struct where T3 : struct where T4 : struct where T5 : struct where T6 : struct where T7 : struct =>
        Launcher<Action<AcceleratorStream, Index1D, T1, T2, T3, T4, T5, T6, T7>>(k, false)(Stream, n, a1, a2, a3, a4, a5, a6, a7);
    internal void Launch<T1, T2, T3, T4, T5, T6, T7, T8>(Action<Index1D, T1, T2, T3, T4, T5, T6, T7, T8> k, Index1D n, T1 a1, T2 a2, T3 a3, T4 a4, T5 a5, T6 a6, T7 a7, T8 a8)
        where T1 : struct where T2 : struct where T3 : struct where T4 : struct where T5 : struct where T6 : struct where T7 : struct where T8 : struct =>
        Launcher<Action<AcceleratorStream, Index1D, T1, T2, T3, T4, T5, T6, T7, T8>>(k, false)(Stream, n, a1, a2, a3, a4, a5, a6, a7, a8);
    internal void Launch<T1, T2, T3, T4, T5, T6, T7, T8, T9>(Action<Index1D, T1, T2, T3, T4, T5, T6, T7, T8, T9> k, Index1D n, T1 a1, T2 a2, T3 a3, T4 a4, T5 a5, T6 a6, T7 a7, T8 a8, T9 a9)
        where T1 : struct where T2 : struct where T3 : struct where T4 : struct where T5 : struct where T6 : struct where T7 : struct where T8 : struct where T9 : struct =>
        Launcher<Action<AcceleratorStream, Index1D, T1, T2, T3, T4, T5, T6, T7, T8, T9>>(k, false)(Stream, n, a1, a2, a3, a4, a5, a6, a7, a8, a9);
    internal void Launch<T1, T2, T3, T4, T5, T6, T7, T8, T9, T10>(Action<Index1D, T1, T2, T3, T4, T5, T6, T7, T8, T9, T10> k, Index1D n, T1 a1, T2 a2, T3 a3, T4 a4, T5 a5, T6 a6, T7 a7, T8 a8, T9 a9, T10 a10)
        where T1 : struct where T2 : struct where T3 : struct where T4 : struct where T5 : struct where T6 : struct where T7 : struct where T8 : struct where T9 : struct where T10 : struct =>
        Launcher<Action<AcceleratorStream, Index1D, T1, T2, T3, T4, T5, T6, T7, T8, T9, T10>>(k, false)(Stream, n, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10);
    internal void Launch<T1, T2, T3, T4, T5, T6, T7, T8, T9, T10, T11>(Action<Index1D, T1, T2, T3, T4, T5, T6, T7, T8, T9, T10, T11> k, Index1D n, T1 a1, T2 a2, T3 a3, T4 a4, T5 a5, T6 a6, T7 a7, T8 a8, T9 a9, T10 a10, T11 a11)
        where T1 : struct where T2 : struct where T3 : struct where T4 : struct where T5 : struct where T6 : struct where T7 : struct where T8 : struct where T9 : struct where T10 : struct where T11 : struct =>
        Launcher<Action<AcceleratorStream, Index1D, T1, T2, T3, T4, T5, T6, T7, T8, T9, T10, T11>>(k, false)(Stream, n, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11);

    internal void LaunchGrouped<T1, T2, T3>(Action<T1, T2, T3> k, KernelConfig c, T1 a1, T2 a2, T3 a3)
        where T1 : struct where T2 : struct where T3 : struct =>
        Launcher<Action<AcceleratorStream, KernelConfig, T1, T2, T3>>(k, true)(Stream, c, a1, a2, a3);
    internal void LaunchGrouped<T1, T2, T3, T4>(Action<T1, T2, T3, T4> k, KernelConfig c, T1 a1, T2 a2, T3 a3, T4 a4)
        where T1 : struct where T2 : struct where T3 : struct where T4 : struct =>
        Launcher<Action<AcceleratorStream, KernelConfig, T1, T2, T3, T4>>(k, true)(Stream, c, a1, a2, a3, a4);
    internal void LaunchGrouped<T1, T2, T3, T4, T5>(Action<T1, T2, T3, T4, T5> k, KernelConfig c, T1 a1, T2 a2, T3 a3, T4 a4, T5 a5)
        where T1 : struct where T2 : struct where T3 : struct where T4 : struct where T5 : struct =>
        Launcher<Action<AcceleratorStream, KernelConfig, T1, T2, T3, T4, T5>>(k, true)(Stream, c, a1, a2, a3, a4, a5);
    internal void LaunchGrouped<T1, T2, T3, T4, T5, T6>(Action<T1, T2, T3, T4, T5, T6> k, KernelConfig c, T1 a1, T2 a2, T3 a3, T4 a4, T5 a5, T6 a6)
        where T1 : struct where T2 : struct where T3 : struct where T4 : struct where T5 : struct where T6 : struct =>
        Launcher<Action<AcceleratorStream, KernelConfig, T1, T2, T3, T4, T5, T6>>(k, true)(Stream, c, a1, a2, a3, a4, a5, a6);
    internal void LaunchGrouped<T1, T2, T3, T4, T5, T6, T7>(Action<T1, T2, T3, T4, T5, T6, T7> k, KernelConfig c, T1 a1, T2 a2, T3 a3, T4 a4, T5 a5, T6 a6, T7 a7)
        where T1 : struct where T2 : struct where T3 : struct where T4 : struct where T5 : struct where T6 : struct where T7 : struct =>
        Launcher<Action<AcceleratorStream, KernelConfig, T1, T2, T3, T4, T5, T6, T7>>(k, true)(Stream, c, a1, a2, a3, a4, a5, a6, a7);
}

/// <summary>The scratch buffers of <see cref="GpuKernels"/>: one per role, so that a call's buffers never overlap.</summary>
internal enum GpuScratch
{
    /// <summary>Per-chunk partial sums of a reduction.</summary>
    Partials,

    /// <summary>Per-channel coefficients, chunk totals and other small arrays a call derives before its last pass.</summary>
    Coefficients,
}
